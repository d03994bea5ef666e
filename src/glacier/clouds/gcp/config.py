"""GCP configs: the provider (``GcpConfig``), Cloud Functions, Compute Engine and GCS.

``Provider.from_env`` reads ``GOOGLE_CLOUD_PROJECT`` or ``GCLOUD_PROJECT`` (required),
``GOOGLE_CLOUD_REGION``, ``GOOGLE_APPLICATION_CREDENTIALS`` and ``STORAGE_EMULATOR_HOST``.
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
    native_config,
)
from glacier.config.compute import ServerlessConfig, VmConfig
from glacier.config.provider import EnvFields, ProviderConfig
from glacier.config.storage import BucketConfig, looks_like_ip

_REGION = r"[a-z]+-[a-z]+\d"
_ONLY_GCP = frozenset({Cloud.GCP})
_NAME = re.compile(r"(?!goog)[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GcpConfig(ProviderConfig):
    """Google Cloud. Credentials from ``credentials_path`` or Application Default Credentials."""

    cloud: ClassVar[Cloud] = Cloud.GCP
    project_id: str
    """Required: 6-30 characters (``GOOGLE_CLOUD_PROJECT`` or ``GCLOUD_PROJECT``)."""
    region: str = "us-central1"
    """Region of every resource, e.g. ``europe-west1`` (``GOOGLE_CLOUD_REGION``)."""
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Labels on every resource besides ``glacier-pipeline``; keys ``[a-z][a-z0-9_-]``, 1-63."""
    credentials_path: str | None = None
    """Service-account JSON file; else ``GOOGLE_APPLICATION_CREDENTIALS`` or the metadata server."""
    service_account_key: str | None = dataclasses.field(default=None, repr=False)
    """The service-account JSON itself (a secret: never shown, logged or sent to workers)."""
    endpoint_url: str | None = None
    """A GCS emulator such as fake-gcs-server; requests to it are not signed."""

    def validate(self) -> None:
        check_pattern(
            self, "project_id", self.project_id, r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "my-project-123"
        )
        check_pattern(self, "region", self.region, _REGION, "europe-west1")
        check_labels(self, "labels", self.labels)
        check_pattern(self, "endpoint_url", self.endpoint_url, URL_PATTERN, "http://127.0.0.1:4443")
        for key in self.labels:
            check_pattern(self, "labels", key, r"[a-z][a-z0-9_-]{0,62}", "team")


ENV: EnvFields = {
    "project_id": (("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"), True),
    "region": (("GOOGLE_CLOUD_REGION",), False),
    "credentials_path": (("GOOGLE_APPLICATION_CREDENTIALS",), False),
    "endpoint_url": (("STORAGE_EMULATOR_HOST",), False),
}
ROLE_ENV: tuple[str, ...] = ("GOOGLE_SERVICE_ACCOUNT_KEY", "GOOGLE_APPLICATION_CREDENTIALS")
"""Variables that carry credentials to a worker as a deployed executor's role would: what
``glacier emulate`` passes from its own environment to the functions it serves."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class CloudFunctionConfig(ServerlessConfig):
    """Google Cloud Functions (2nd gen): 128 MB-32 GB, at most 3600 s."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_GCP
    runtime: str = "python312"
    """Python runtime: ``python311``, ``python312`` or ``python313``."""
    max_instances: int = 100
    """Most instances serving at once, 1-1000."""

    def validate(self) -> None:
        super().validate()
        check_choice(self, "runtime", self.runtime, {"python311", "python312", "python313"})
        check_range(self, "max_instances", self.max_instances, 1, 1000, "instances")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComputeEngineConfig(VmConfig):
    """Google Compute Engine; ``machine_type`` (e.g. ``e2-standard-2``) overrides cpus/memory."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_GCP
    machine_type: str | None = None
    """Machine type, e.g. ``e2-standard-2``; None: the smallest ``e2-highcpu``, ``e2-standard``
    or ``e2-highmem`` with ``cpus`` and ``memory``.
    """
    zone: str | None = None
    """Zone, e.g. ``europe-west1-b``; None: the region's ``-b`` zone."""
    image: str = "debian-cloud/debian-12"
    """Boot disk image: ``project/family`` or an image's full path."""

    def validate(self) -> None:
        super().validate()
        check_pattern(
            self, "machine_type", self.machine_type, r"[a-z0-9]+-[a-z0-9-]+", "e2-standard-2"
        )
        check_pattern(self, "zone", self.zone, r"[a-z]+-[a-z]+\d-[a-z]", "europe-west1-b")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GcsConfig(BucketConfig):
    """Google Cloud Storage: storage class, location and an optional customer-managed key."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_GCP
    storage_class: str = "STANDARD"
    """Default storage class: ``STANDARD``, ``NEARLINE``, ``COLDLINE`` or ``ARCHIVE``."""
    location: str | None = None
    """A region, dual- or multi-region (e.g. ``EU``); None: the provider's ``region``."""
    kms_key_name: str | None = None
    """Cloud KMS key (``projects/.../cryptoKeys/...``); None: Google-managed keys."""

    def validate(self) -> None:
        super().validate()
        check_choice(
            self,
            "storage_class",
            self.storage_class,
            {"STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"},
        )


_NATIVE: dict[type[Config], type[Config]] = {
    ServerlessConfig: CloudFunctionConfig,
    VmConfig: ComputeEngineConfig,
    BucketConfig: GcsConfig,
}


def from_portable(config: Config) -> Config:
    """The GCP config for a portable one (``ServerlessConfig`` -> ``CloudFunctionConfig``...)."""
    return native_config(config, _NATIVE, Cloud.GCP)


def bucket_name_problem(name: str) -> str | None:
    """Why GCS would refuse ``name`` (None: it would not)."""
    if not _NAME.fullmatch(name):
        return (
            "GCS bucket names are 3-63 characters of a-z, 0-9, '-', '_' and '.', starting "
            "and ending with a letter or digit, not starting with 'goog'"
        )
    if "google" in name:
        return "GCS bucket names may not contain 'google'"
    if looks_like_ip(name):
        return "bucket names may not look like an IP address"
    return None
