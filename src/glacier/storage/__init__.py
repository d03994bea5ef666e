"""Object stores per cloud, created through one dispatch table so SDKs load only when used."""

from __future__ import annotations

import importlib

from glacier.config.base import Cloud
from glacier.config.provider import ProviderConfig
from glacier.errors import ConfigError
from glacier.storage.base import ObjectInfo, ObjectStore, fingerprint

# cloud -> module with ``open_store(provider_config) -> ObjectStore``.
_STORES: dict[Cloud, str] = {
    Cloud.LOCAL: "glacier.storage.local",
}


def store_for(config: ProviderConfig) -> ObjectStore:
    """The object store behind a provider's buckets."""
    module = _STORES.get(config.cloud)
    if module is None:
        raise ConfigError(
            f"Buckets on {config.cloud.value} are not supported by this version of "
            f"Glacier. Use LocalConfig to run the pipeline on local folders."
        )
    store: ObjectStore = importlib.import_module(module).open_store(config)
    return store


__all__ = ["ObjectInfo", "ObjectStore", "fingerprint", "store_for"]
