"""Azure configs: the provider (``AzureConfig``), Functions, VMs and Blob Storage.

``Provider.from_env`` reads ``AZURE_SUBSCRIPTION_ID`` and ``AZURE_RESOURCE_GROUP`` (required),
``AZURE_LOCATION`` and ``AZURE_STORAGE_ACCOUNT``.
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
from glacier.config.storage import PORTABLE_NAME, BucketConfig

_GUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ONLY_AZURE = frozenset({Cloud.AZURE})
FLEX_SIZES = (512, 2048, 4096)
"""Instance memory sizes (MB) of the Flex Consumption plan."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureConfig(ProviderConfig):
    """Microsoft Azure. Blobs live in ``storage_account``; credentials from Azure's chain."""

    cloud: ClassVar[Cloud] = Cloud.AZURE
    subscription_id: str
    """Required: the subscription's GUID (``AZURE_SUBSCRIPTION_ID``)."""
    resource_group: str
    """Required: the group Terraform creates for everything (``AZURE_RESOURCE_GROUP``)."""
    location: str = "eastus"
    """Region of every resource, e.g. ``westeurope`` (``AZURE_LOCATION``)."""
    storage_account: str | None = None
    """Storage account of the data (``AZURE_STORAGE_ACCOUNT_NAME``, ``AZURE_STORAGE_ACCOUNT``),
    3-24 of a-z and 0-9. Runs need it; ``glacier terraform`` derives one from the pipeline's name
    when it is unset.
    """
    tags: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Tags on every generated resource, besides ``glacier-pipeline``: str to str."""
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
            self,
            "endpoint_url",
            self.endpoint_url,
            URL_PATTERN,
            "http://127.0.0.1:10000/devstoreaccount1",
        )


ENV: EnvFields = {
    "subscription_id": (("AZURE_SUBSCRIPTION_ID",), True),
    "resource_group": (("AZURE_RESOURCE_GROUP",), True),
    "location": (("AZURE_LOCATION",), False),
    "storage_account": (("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT"), False),
}
ROLE_ENV: tuple[str, ...] = (
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_USE_EMULATOR",
)
"""Variables that carry credentials to a worker as a deployed executor's role would: what
``glacier emulate`` passes from its own environment to the functions it serves."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureFunctionConfig(ServerlessConfig):
    """Azure Functions on the Flex Consumption plan: instances of 512, 2048 or 4096 MB."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_AZURE
    memory: int = 2048
    """Instance memory in MB: 512, 2048 or 4096 (Flex Consumption sizes). A portable
    ``ServerlessConfig`` rounds up to one of them.
    """
    runtime_version: str = "3.12"
    """Python version: ``3.11`` or ``3.12``."""
    max_instances: int = 100
    """Most instances serving at once, 40-1000."""

    def validate(self) -> None:
        super().validate()
        if self.memory not in FLEX_SIZES:
            raise fail(
                self,
                "memory",
                f"{self.memory} MB is not a Flex Consumption size",
                "Use 512, 2048 or 4096.",
            )
        check_choice(self, "runtime_version", self.runtime_version, {"3.11", "3.12"})
        check_range(self, "max_instances", self.max_instances, 40, 1000, "instances")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureVmConfig(VmConfig):
    """Azure Linux virtual machine; ``size`` (e.g. ``Standard_D2s_v5``) overrides cpus/memory."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_AZURE
    size: str | None = None
    """VM size, e.g. ``Standard_D2s_v5``; None: the smallest ``Standard_F{n}s_v2``, ``D{n}s_v5``
    or ``E{n}s_v5`` with ``cpus`` and ``memory``.
    """
    admin_username: str = "glacier"
    """The VM's admin login (Terraform asks for its SSH public key), ``[a-z_][a-z0-9_-]``, 1-64."""

    def validate(self) -> None:
        super().validate()
        check_pattern(self, "size", self.size, r"(Standard|Basic)_\w+", "Standard_D2s_v5")
        check_pattern(
            self, "admin_username", self.admin_username, r"[a-z_][a-z0-9_-]{0,63}", "glacier"
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureBlobConfig(BucketConfig):
    """Azure Blob Storage container: access tier and the account's replication."""

    clouds: ClassVar[frozenset[Cloud]] = _ONLY_AZURE
    access_tier: str = "Hot"
    """``Hot``, ``Cool`` or ``Cold``: a setting of the storage account, so every bucket of a
    pipeline must give the same.
    """
    replication: str = "ZRS"
    """``LRS``, ``ZRS``, ``GRS``, ``RAGRS``, ``GZRS`` or ``RAGZRS``: a setting of the storage
    account, so every bucket of a pipeline must give the same.
    """

    def validate(self) -> None:
        super().validate()
        check_choice(self, "access_tier", self.access_tier, {"Hot", "Cool", "Cold"})
        check_choice(
            self, "replication", self.replication, {"LRS", "ZRS", "GRS", "RAGRS", "GZRS", "RAGZRS"}
        )


_NATIVE: dict[type[Config], type[Config]] = {
    ServerlessConfig: AzureFunctionConfig,
    VmConfig: AzureVmConfig,
    BucketConfig: AzureBlobConfig,
}


def from_portable(config: Config) -> Config:
    """The Azure config for a portable one; a function's memory rounds up to a Flex size."""
    overrides = {}
    if type(config) is ServerlessConfig:
        fitting = [size for size in FLEX_SIZES if size >= config.memory]
        overrides["memory"] = fitting[0] if fitting else config.memory
    return native_config(config, _NATIVE, Cloud.AZURE, **overrides)


def bucket_name_problem(name: str) -> str | None:
    """Why Azure would refuse ``name`` as a container (None: it would not)."""
    if not re.fullmatch(PORTABLE_NAME, name):
        return (
            "Azure container names are 3-63 characters of a-z, 0-9 and single '-', "
            "starting and ending with a letter or digit"
        )
    return None
