"""Azure Blob Storage (and Azurite) for an :class:`AzureConfig`.

Credentials: ``account_key`` or ``sas_token`` when set, else object_store's chain: the
``AZURE_STORAGE_ACCOUNT_KEY`` / ``AZURE_STORAGE_SAS_KEY`` variables, a service principal
(``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` / ``AZURE_TENANT_ID``), workload identity and
managed identity, the same sources DefaultAzureCredential tries.
"""

from __future__ import annotations

from glacier.config.provider import AzureConfig
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
    secrets = environment_secrets(
        "AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_SAS_KEY", "AZURE_CLIENT_SECRET"
    )
    if config.account_key:
        options["azure_storage_account_key"] = config.account_key
        secrets += (config.account_key,)
    if config.sas_token:
        options["azure_storage_sas_key"] = config.sas_token.lstrip("?")
        secrets += (config.sas_token.lstrip("?"),)
    return CloudStore(config, "AzureStore", Access(options, secrets, HINT, config.endpoint_url))
