"""Build a provider config from environment variables (``Provider.from_env``).

``GLACIER_PROVIDER`` picks the cloud (``local`` when unset); each cloud then reads its usual
variables:

============  ==================================================================================
local         ``GLACIER_BASE_PATH`` (default ``./data``)
aws           ``AWS_REGION`` or ``AWS_DEFAULT_REGION`` (required), ``AWS_PROFILE``,
              ``AWS_ACCOUNT_ID``, ``GLACIER_AWS_ROLE_ARN``, ``AWS_ENDPOINT_URL``
gcp           ``GOOGLE_CLOUD_PROJECT`` or ``GCLOUD_PROJECT`` (required), ``GOOGLE_CLOUD_REGION``,
              ``GOOGLE_APPLICATION_CREDENTIALS``, ``STORAGE_EMULATOR_HOST``
azure         ``AZURE_SUBSCRIPTION_ID`` and ``AZURE_RESOURCE_GROUP`` (required),
              ``AZURE_LOCATION``, ``AZURE_STORAGE_ACCOUNT``
all           ``GLACIER_STAGING_BUCKET``
============  ==================================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glacier.config.base import Cloud
from glacier.config.provider import AwsConfig, AzureConfig, GcpConfig, LocalConfig, ProviderConfig
from glacier.errors import ConfigError

# cloud -> (config class, {field: (variable names, first one set wins), required?})
_ENV: dict[Cloud, tuple[type[ProviderConfig], dict[str, tuple[tuple[str, ...], bool]]]] = {
    Cloud.LOCAL: (LocalConfig, {"base_path": (("GLACIER_BASE_PATH",), False)}),
    Cloud.AWS: (
        AwsConfig,
        {
            "region": (("AWS_REGION", "AWS_DEFAULT_REGION"), True),
            "profile": (("AWS_PROFILE",), False),
            "account_id": (("AWS_ACCOUNT_ID",), False),
            "assume_role_arn": (("GLACIER_AWS_ROLE_ARN",), False),
            "endpoint_url": (("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"), False),
        },
    ),
    Cloud.GCP: (
        GcpConfig,
        {
            "project_id": (("GOOGLE_CLOUD_PROJECT", "GCLOUD_PROJECT"), True),
            "region": (("GOOGLE_CLOUD_REGION",), False),
            "credentials_path": (("GOOGLE_APPLICATION_CREDENTIALS",), False),
            "endpoint_url": (("STORAGE_EMULATOR_HOST",), False),
        },
    ),
    Cloud.AZURE: (
        AzureConfig,
        {
            "subscription_id": (("AZURE_SUBSCRIPTION_ID",), True),
            "resource_group": (("AZURE_RESOURCE_GROUP",), True),
            "location": (("AZURE_LOCATION",), False),
            "storage_account": (("AZURE_STORAGE_ACCOUNT",), False),
        },
    ),
}


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
    cls, fields = _ENV[cloud]
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
