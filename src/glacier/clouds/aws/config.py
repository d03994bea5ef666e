"""AWS configs: the provider (``AwsConfig``), Lambda, EC2 and S3, their limits and names.

``Provider.from_env`` reads ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` (required), ``AWS_PROFILE``,
``AWS_ACCOUNT_ID``, ``GLACIER_AWS_ROLE_ARN`` and ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import ClassVar

from glacier.clouds import Cloud
from glacier.config.base import (
    URL_PATTERN,
    Config,
    check_choice,
    check_labels,
    check_pattern,
    check_range,
    fail,
    native_config,
)
from glacier.config.compute import ServerlessConfig, VmConfig
from glacier.config.provider import EnvFields, ProviderConfig
from glacier.config.storage import BucketConfig, looks_like_ip

_REGION = r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d"
_ONLY_AWS = frozenset({Cloud.AWS})
_NAME = re.compile(r"(?!xn--|sthree-|amzn-s3-demo-)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AwsConfig(ProviderConfig):
    """Amazon Web Services. Credentials come from the standard chain (profile, role, env)."""

    cloud: ClassVar[Cloud] = Cloud.AWS
    region: str = "us-east-1"
    """Region of every resource, e.g. ``eu-west-1`` (``AWS_REGION``, ``AWS_DEFAULT_REGION``)."""
    profile: str | None = None
    """Named profile of the AWS config files (``AWS_PROFILE``); needs boto3 (``[aws]``)."""
    account_id: str | None = None
    """The 12-digit account ID (``AWS_ACCOUNT_ID``), checked when given; the generated Terraform
    uses the account of the credentials that apply it.
    """
    assume_role_arn: str | None = None
    """IAM role that storage access assumes (``GLACIER_AWS_ROLE_ARN``), starting from ``profile``
    or the default credentials; needs boto3 (``glacier-pipelines[aws]``).
    """
    session_duration: int = 3600
    """Seconds the assumed role's session lasts, 900-43200."""
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Tags on every generated resource, besides ``glacier-pipeline``: str to str."""
    endpoint_url: str | None = None
    """For S3-compatible stores (MinIO, R2, Ceph) and emulators."""

    def validate(self) -> None:
        check_pattern(self, "region", self.region, _REGION, "us-east-1")
        check_pattern(self, "account_id", self.account_id, r"\d{12}", "123456789012")
        check_pattern(
            self,
            "assume_role_arn",
            self.assume_role_arn,
            r"arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]+",
            "arn:aws:iam::123456789012:role/glacier",
        )
        check_range(self, "session_duration", self.session_duration, 900, 43200, "seconds")
        check_labels(self, "tags", self.tags)
        check_pattern(self, "endpoint_url", self.endpoint_url, URL_PATTERN, "http://127.0.0.1:9000")


ENV: EnvFields = {
    "region": (("AWS_REGION", "AWS_DEFAULT_REGION"), True),
    "profile": (("AWS_PROFILE",), False),
    "account_id": (("AWS_ACCOUNT_ID",), False),
    "assume_role_arn": (("GLACIER_AWS_ROLE_ARN",), False),
    "endpoint_url": (("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), False),
}
ROLE_ENV: tuple[str, ...] = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ALLOW_HTTP",
)
"""Variables that carry credentials to a worker as a deployed executor's role would: what
``glacier emulate`` passes from its own environment to the functions it serves."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class LambdaConfig(ServerlessConfig):
    """AWS Lambda: 128-10240 MB, at most 900 s, at most 5 layers, 512-10240 MB of /tmp."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_AWS
    runtime: str = "python3.12"
    """Python runtime: ``python3.11``, ``python3.12`` or ``python3.13``."""
    layers: tuple[str, ...] = ()
    """Layer ARNs, at most 4 when deployed: Glacier adds its Polars layer (Lambda allows 5)."""
    ephemeral_storage: int = 512
    """``/tmp`` size in MB, 512-10240."""
    architecture: str = "arm64"
    """``arm64`` (Graviton) or ``x86_64``; ``glacier package`` builds for it."""

    def validate(self) -> None:
        check_range(self, "memory", self.memory, 128, 10240, "MB")
        check_range(self, "timeout", self.timeout, 1, 900, "seconds")
        check_range(self, "ephemeral_storage", self.ephemeral_storage, 512, 10240, "MB")
        check_choice(self, "runtime", self.runtime, {"python3.11", "python3.12", "python3.13"})
        check_choice(self, "architecture", self.architecture, {"arm64", "x86_64"})
        if len(self.layers) > 5:
            raise fail(
                self,
                "layers",
                f"{len(self.layers)} layers given",
                "Lambda allows at most 5 layers per function.",
            )
        for arn in self.layers:
            check_pattern(
                self,
                "layers",
                arn,
                r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:"
                r"[\w-]+:\d+",
                "arn:aws:lambda:us-east-1:123456789012:layer:polars:3",
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class EC2Config(VmConfig):
    """Amazon EC2; ``instance_type`` (e.g. ``m7g.large``) overrides the size derived from cpus."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_AWS
    instance_type: str | None = None
    """Instance type, e.g. ``m7g.large``; None: the smallest Graviton ``c7g``, ``m7g`` or ``r7g``
    with ``cpus`` and ``memory``.
    """
    ami: str | None = None
    """Image ID (``ami-...``); None: the latest Amazon Linux 2023 for the instance type."""
    security_group: str | None = None
    """An existing security group (``sg-...``); None: a new one for Dask traffic and HTTPS out."""

    def validate(self) -> None:
        super().validate()
        check_pattern(
            self, "instance_type", self.instance_type, r"[a-z][a-z0-9-]*\.[a-z0-9]+", "m7g.large"
        )
        check_pattern(self, "ami", self.ami, r"ami-[0-9a-f]{8,17}", "ami-0abcdef1234567890")
        check_pattern(
            self,
            "security_group",
            self.security_group,
            r"sg-[0-9a-f]{8,17}",
            "sg-0abcdef1234567890",
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class S3Config(BucketConfig):
    """Amazon S3: storage class and server-side encryption (KMS by default)."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_AWS
    storage_class: str = "STANDARD"
    """Where objects move: ``STANDARD_IA`` or ``ONEZONE_IA`` after 30 days; ``INTELLIGENT_TIERING``,
    ``GLACIER_IR``, ``GLACIER`` or ``DEEP_ARCHIVE`` at once; ``STANDARD`` stays.
    """
    encryption: str = "aws:kms"
    """``aws:kms`` (the pipeline's key), ``aws:kms:dsse`` or ``AES256`` (S3-managed keys)."""
    kms_key_arn: str | None = None
    """Your own KMS key for ``aws:kms``/``aws:kms:dsse``; None: the key Glacier creates."""

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


_NATIVE: dict[type[Config], type[Config]] = {
    ServerlessConfig: LambdaConfig,
    VmConfig: EC2Config,
    BucketConfig: S3Config,
}


def from_portable(config: Config) -> Config:
    """The AWS config for a portable one (``ServerlessConfig`` -> ``LambdaConfig``...)."""
    return native_config(config, _NATIVE, Cloud.AWS)


def bucket_name_problem(name: str) -> str | None:
    """Why S3 would refuse ``name`` (None: it would not)."""
    if not _NAME.fullmatch(name):
        return (
            "S3 bucket names are 3-63 characters of a-z, 0-9, '.' and '-', starting and "
            "ending with a letter or digit"
        )
    if ".." in name or name.endswith(("-s3alias", "--ol-s3")):
        return "S3 bucket names may not contain '..' or end in '-s3alias' or '--ol-s3'"
    if looks_like_ip(name):
        return "bucket names may not look like an IP address"
    return None
