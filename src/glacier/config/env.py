"""Build a provider config from environment variables (``Provider.from_env``).

``GLACIER_PROVIDER`` picks the cloud (``local`` when unset); the cloud's ``env`` part in the
registry then says which of its usual variables fill which field (each cloud's
``glacier/clouds/<cloud>/config.py`` lists them; local reads ``GLACIER_BASE_PATH``). Every cloud
also reads ``GLACIER_STAGING_BUCKET`` and ``GLACIER_BUCKETS`` (a JSON object: pipeline bucket
name -> real name), which the generated Terraform sets on every deployed executor.
"""

from __future__ import annotations

import json
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
    if environ.get("GLACIER_BUCKETS"):
        kwargs["bucket_names"] = bucket_names(environ["GLACIER_BUCKETS"])
    return cls(**kwargs)


def bucket_names(text: str) -> dict[str, str]:
    """``GLACIER_BUCKETS``: a JSON object from each pipeline bucket name to its real name."""
    try:
        names = json.loads(text)
    except json.JSONDecodeError as exc:
        names = exc
    if not isinstance(names, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in names.items()
    ):
        raise ConfigError(
            f"GLACIER_BUCKETS must be a JSON object from pipeline bucket names to real bucket "
            f'names, such as {{"raw": "sales-1a2b3c4d-raw"}}; got {text[:200]!r}. Set it '
            f"from the Terraform output `buckets`."
        )
    return names
