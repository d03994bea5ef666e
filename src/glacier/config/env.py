"""Build a provider config from environment variables (``Provider.from_env``).

``GLACIER_PROVIDER`` picks the cloud (``local`` when unset); the cloud's ``env`` part in the
registry then says which of its usual variables fill which field (each cloud's
``glacier/clouds/<cloud>/config.py`` lists them; local reads ``GLACIER_BASE_PATH``). Every cloud
also reads ``GLACIER_STAGING_BUCKET``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glacier import clouds
from glacier.clouds import Cloud
from glacier.config.provider import EnvFields, ProviderConfig
from glacier.errors import ConfigError


def provider_config_class(cloud: Cloud) -> type[ProviderConfig]:
    """The config class that selects ``cloud``, loaded on first use."""
    cls: type[ProviderConfig] = clouds.part(cloud, "provider_config")
    return cls


def provider_config_from_env(environ: Mapping[str, str]) -> ProviderConfig:
    """Read ``GLACIER_PROVIDER`` and the chosen cloud's variables from ``environ``."""
    name = environ.get("GLACIER_PROVIDER", "local").strip().lower()
    try:
        cloud = Cloud(name)
    except ValueError:
        choices = ", ".join(c.value for c in Cloud)
        raise ConfigError(
            f"GLACIER_PROVIDER={name!r} is not a provider. Set it to one of: {choices}."
        ) from None
    cls = provider_config_class(cloud)
    fields: EnvFields = clouds.part(cloud, "env")
    kwargs: dict[str, Any] = {}
    for field, (variables, required) in fields.items():
        value = next((environ[v] for v in variables if environ.get(v)), None)
        if value is not None:
            kwargs[field] = value
        elif required:
            raise ConfigError(
                f"GLACIER_PROVIDER={cloud.value} needs {' or '.join(variables)} "
                f"for {cls.__name__}.{field}. Export it and retry."
            )
    if environ.get("GLACIER_STAGING_BUCKET"):
        kwargs["staging_bucket"] = environ["GLACIER_STAGING_BUCKET"]
    return cls(**kwargs)
