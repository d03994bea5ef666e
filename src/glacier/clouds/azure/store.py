"""Azure Blob Storage (and Azurite) for an :class:`AzureConfig`.

Credentials: ``account_key`` or ``sas_token`` when set, else object_store's chain: the
``AZURE_STORAGE_ACCOUNT_KEY`` / ``AZURE_STORAGE_SAS_KEY`` variables, a service principal
(``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` / ``AZURE_TENANT_ID``), workload identity and
managed identity, the same sources DefaultAzureCredential tries.
"""

from __future__ import annotations

import os

from glacier.clouds.azure.config import AzureConfig
from glacier.errors import ConfigError
from glacier.storage.cloud import Access, CloudStore, endpoint_options, environment_secrets

HINT = (
    "Glacier signs Azure requests with AzureConfig.account_key or sas_token when set, else "
    "AZURE_STORAGE_ACCOUNT_KEY, a service principal (AZURE_CLIENT_ID/SECRET/TENANT_ID), or "
    "workload/managed identity. Check the key or SAS is current and for this storage account."
)


def open_store(config: AzureConfig) -> CloudStore:
    if not config.storage_account:
        raise ConfigError(
            "AzureConfig.storage_account is not set: blob containers live in a storage "
            "account. Set storage_account='...' (or AZURE_STORAGE_ACCOUNT)."
        )
    options = {
        "azure_storage_account_name": config.storage_account,
        **endpoint_options(config.endpoint_url, "azure_storage_endpoint"),
    }
    secrets = environment_secrets("AZURE_CLIENT_SECRET")
    environment: dict[str, str] = {}
    # (object_store option, the variable that carries it to worker processes, config value)
    for option, variable, given in (
        ("azure_storage_account_key", "AZURE_STORAGE_ACCOUNT_KEY", config.account_key),
        ("azure_storage_sas_key", "AZURE_STORAGE_SAS_KEY", (config.sas_token or "").lstrip("?")),
    ):
        value = given or os.environ.get(variable)
        if value:
            options[option] = environment[variable] = value
            secrets += (value,)
    return CloudStore(
        config, "AzureStore", Access(options, secrets, HINT, config.endpoint_url, environment)
    )
