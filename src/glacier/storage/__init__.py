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
    Cloud.AWS: "glacier.storage.s3",
    Cloud.GCP: "glacier.storage.gcs",
    Cloud.AZURE: "glacier.storage.azure",
}


def store_for(config: ProviderConfig) -> ObjectStore:
    """The object store behind a provider's buckets."""
    try:
        opener = importlib.import_module(_STORES[config.cloud]).open_store
    except ModuleNotFoundError as exc:
        if exc.name != "obstore":
            raise
        raise ConfigError(
            f"Buckets on {config.cloud.value} need obstore. Install it with "
            f"pip install 'glacier-pipelines[{config.cloud.value}]'."
        ) from None
    store: ObjectStore = opener(config)
    return store


__all__ = ["ObjectInfo", "ObjectStore", "fingerprint", "store_for"]
