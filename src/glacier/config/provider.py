"""Provider configs: which cloud (or the local emulation) a :class:`~glacier.Provider` targets."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar

from glacier.config.base import Cloud, Config, check_labels, check_pattern, check_range

_AWS_REGION = r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d"
_GCP_REGION = r"[a-z]+-[a-z]+\d"
_URL = r"https?://[^\s/?#]+(/[^\s?#]*)?"
_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ProviderConfig(Config):
    """A config that selects a cloud; exactly one per :class:`~glacier.Provider`."""

    cloud: ClassVar[Cloud]
    staging_bucket: str | None = None
    """Bucket (container on Azure) for hand-offs between executors; default ``glacier-staging``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class LocalConfig(ProviderConfig):
    """This machine: buckets are folders under ``base_path``; executors are emulated."""

    cloud: ClassVar[Cloud] = Cloud.LOCAL
    base_path: str | Path = "./data"


@dataclasses.dataclass(frozen=True, kw_only=True)
class AwsConfig(ProviderConfig):
    """Amazon Web Services. Credentials come from the standard chain (profile, role, env)."""

    cloud: ClassVar[Cloud] = Cloud.AWS
    region: str = "us-east-1"
    profile: str | None = None
    account_id: str | None = None
    assume_role_arn: str | None = None
    session_duration: int = 3600
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    endpoint_url: str | None = None
    """For S3-compatible stores (MinIO, R2, Ceph) and emulators."""

    def validate(self) -> None:
        check_pattern(self, "region", self.region, _AWS_REGION, "us-east-1")
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
        check_pattern(self, "endpoint_url", self.endpoint_url, _URL, "http://127.0.0.1:9000")


@dataclasses.dataclass(frozen=True, kw_only=True)
class GcpConfig(ProviderConfig):
    """Google Cloud. Credentials from ``credentials_path`` or Application Default Credentials."""

    cloud: ClassVar[Cloud] = Cloud.GCP
    project_id: str
    region: str = "us-central1"
    labels: Mapping[str, str] = dataclasses.field(default_factory=dict)
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
        check_pattern(self, "region", self.region, _GCP_REGION, "europe-west1")
        check_labels(self, "labels", self.labels)
        check_pattern(self, "endpoint_url", self.endpoint_url, _URL, "http://127.0.0.1:4443")
        for key in self.labels:
            check_pattern(self, "labels", key, r"[a-z][a-z0-9_-]{0,62}", "team")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureConfig(ProviderConfig):
    """Microsoft Azure. Blobs live in ``storage_account``; credentials from Azure's chain."""

    cloud: ClassVar[Cloud] = Cloud.AZURE
    subscription_id: str
    resource_group: str
    location: str = "eastus"
    storage_account: str | None = None
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    account_key: str | None = dataclasses.field(default=None, repr=False)
    """Storage account key (a secret). Without it or ``sas_token``: env, managed identity, CLI."""
    sas_token: str | None = dataclasses.field(default=None, repr=False)
    """A shared access signature for the account or container (a secret)."""
    endpoint_url: str | None = None
    """Blob endpoint override, e.g. Azurite ``http://127.0.0.1:10000/devstoreaccount1``."""

    def validate(self) -> None:
        check_pattern(
            self,
            "subscription_id",
            self.subscription_id,
            _GUID,
            "00000000-0000-0000-0000-000000000000",
        )
        check_pattern(
            self, "resource_group", self.resource_group, r"[\w().-]{0,89}[\w()-]", "glacier-rg"
        )
        check_pattern(self, "location", self.location, r"[a-z0-9]+", "westeurope")
        check_pattern(
            self, "storage_account", self.storage_account, r"[a-z0-9]{3,24}", "glacierdata"
        )
        check_labels(self, "tags", self.tags)
        check_pattern(
            self, "endpoint_url", self.endpoint_url, _URL, "http://127.0.0.1:10000/devstoreaccount1"
        )
