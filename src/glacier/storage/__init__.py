"""Object stores per cloud, opened through the registry so SDKs load only when used."""

from __future__ import annotations

from glacier import clouds
from glacier.config.provider import ProviderConfig
from glacier.errors import ConfigError
from glacier.storage.base import ObjectInfo, ObjectStore, fingerprint


def store_for(config: ProviderConfig) -> ObjectStore:
    """The object store behind a provider's buckets."""
    try:
        opener = clouds.part(config.cloud, "store")
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
