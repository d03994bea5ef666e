"""Storage configs and each cloud's bucket naming rules."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from typing import ClassVar

from glacier.config.base import Cloud, Config, check_choice, check_range
from glacier.errors import ConfigError


@dataclasses.dataclass(frozen=True, kw_only=True)
class BucketConfig(Config):
    """Portable bucket settings. Buckets are always private and encrypted; these add to that."""

    versioning: bool = False
    expire_noncurrent_after_days: int | None = None

    def validate(self) -> None:
        if self.expire_noncurrent_after_days is not None:
            check_range(
                self,
                "expire_noncurrent_after_days",
                self.expire_noncurrent_after_days,
                1,
                36500,
                "days",
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class S3Config(BucketConfig):
    """Amazon S3: storage class and server-side encryption (KMS by default)."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.AWS})
    storage_class: str = "STANDARD"
    encryption: str = "aws:kms"
    kms_key_arn: str | None = None

    def validate(self) -> None:
        super().validate()
        check_choice(
            self,
            "storage_class",
            self.storage_class,
            {
                "STANDARD",
                "INTELLIGENT_TIERING",
                "STANDARD_IA",
                "ONEZONE_IA",
                "GLACIER_IR",
                "GLACIER",
                "DEEP_ARCHIVE",
            },
        )
        check_choice(self, "encryption", self.encryption, {"aws:kms", "aws:kms:dsse", "AES256"})


@dataclasses.dataclass(frozen=True, kw_only=True)
class GcsConfig(BucketConfig):
    """Google Cloud Storage: storage class, location and an optional customer-managed key."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.GCP})
    storage_class: str = "STANDARD"
    location: str | None = None
    kms_key_name: str | None = None

    def validate(self) -> None:
        super().validate()
        check_choice(
            self,
            "storage_class",
            self.storage_class,
            {"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"},
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureBlobConfig(BucketConfig):
    """Azure Blob Storage container: access tier and the account's replication."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.AZURE})
    access_tier: str = "Hot"
    replication: str = "ZRS"

    def validate(self) -> None:
        super().validate()
        check_choice(self, "access_tier", self.access_tier, {"Hot", "Cool", "Cold"})
        check_choice(
            self, "replication", self.replication, {"LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"}
        )


# --- naming rules -----------------------------------------------------------------------------

_RULES: dict[Cloud, tuple[str, str]] = {
    # cloud: (regex, human description)
    Cloud.AWS: (
        r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "S3 bucket names are 3-63 characters of a-z, 0-9, '.' and '-', starting and "
        "ending with a letter or digit",
    ),
    Cloud.GCP: (
        r"(?!goog)[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]",
        "GCS bucket names are 3-63 characters of a-z, 0-9, '-', '_' and '.', starting "
        "and ending with a letter or digit, not starting with 'goog'",
    ),
    Cloud.AZURE: (
        r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]",
        "Azure container names are 3-63 characters of a-z, 0-9 and single '-', "
        "starting and ending with a letter or digit",
    ),
    Cloud.LOCAL: (
        r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]",
        "local bucket names follow the rule every cloud accepts, so the pipeline "
        "stays portable: 3-63 characters of a-z, 0-9 and single '-', starting and "
        "ending with a letter or digit",
    ),
}


def validate_bucket_name(cloud: Cloud, name: str) -> None:
    """Reject a bucket name the cloud would refuse, at definition time rather than deploy time."""
    pattern, rule = _RULES[cloud]
    problem = None
    if not isinstance(name, str) or not re.fullmatch(pattern, name):
        problem = rule
    elif cloud is Cloud.AWS and (".." in name or name.endswith(("-s3alias", "--ol-s3"))):
        problem = "S3 bucket names may not contain '..' or end in '-s3alias' or '--ol-s3'"
    elif cloud is Cloud.GCP and "google" in name:
        problem = "GCS bucket names may not contain 'google'"
    elif cloud in (Cloud.AWS, Cloud.GCP) and _is_ip(name):
        problem = "bucket names may not look like an IP address"
    if problem:
        raise ConfigError(
            f"Bucket name {name!r} is not valid on {cloud.value}: {problem}. Rename the bucket."
        )


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
