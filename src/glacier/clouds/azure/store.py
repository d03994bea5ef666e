"""Azure Blob Storage (and Azurite) for an :class:`AzureConfig`.

Credentials: ``account_key`` or ``sas_token`` when set, else the standard variables
(``AZURE_STORAGE_ACCOUNT_KEY`` or ``AZURE_STORAGE_KEY``, ``AZURE_STORAGE_SAS_KEY``, the parts of
``AZURE_STORAGE_CONNECTION_STRING``), else object_store's chain: a service principal
(``AZURE_CLIENT_ID`` / ``AZURE_CLIENT_SECRET`` / ``AZURE_TENANT_ID``), workload identity and
managed identity, the same sources DefaultAzureCredential tries.

What the config leaves unset, the environment fills as the Azure CLI reads it: the account from
``AZURE_STORAGE_ACCOUNT_NAME`` / ``AZURE_STORAGE_ACCOUNT`` or the connection string (Azurite's
carries ``BlobEndpoint`` too); ``AZURE_STORAGE_USE_EMULATOR`` (or ``UseDevelopmentStorage=true``)
means Azurite's well-known account, at ``AZURITE_BLOB_STORAGE_URL`` or 127.0.0.1:10000.
"""

from __future__ import annotations

from glacier.clouds.azure.config import AzureConfig
from glacier.errors import ConfigError
from glacier.storage.cloud import (
    Access,
    CloudStore,
    endpoint_options,
    environment_secrets,
    first_variable,
)

HINT = (
    "Glacier signs Azure requests with AzureConfig.account_key or sas_token when set, else "
    "AZURE_STORAGE_ACCOUNT_KEY (or AZURE_STORAGE_KEY, AZURE_STORAGE_CONNECTION_STRING), a "
    "service principal (AZURE_CLIENT_ID/SECRET/TENANT_ID), or workload/managed identity. Check "
    "the key or SAS is current and for this storage account."
)
EMULATOR_ACCOUNT = "devstoreaccount1"
"""Azurite's built-in account (its key is public, in Azure's documentation)."""
_TRUE = {"1", "true", "yes"}


def open_store(config: AzureConfig) -> CloudStore:
    connection = connection_string_parts(first_variable("AZURE_STORAGE_CONNECTION_STRING"))
    emulator = (
        first_variable("AZURE_STORAGE_USE_EMULATOR") or ""
    ).lower() in _TRUE or connection.get("UseDevelopmentStorage", "").lower() == "true"
    account = (
        config.storage_account
        or first_variable("AZURE_STORAGE_ACCOUNT_NAME", "AZURE_STORAGE_ACCOUNT")
        or connection.get("AccountName")
        or (EMULATOR_ACCOUNT if emulator else None)
    )
    if not account:
        raise ConfigError(
            "AzureConfig.storage_account is not set: blob containers live in a storage "
            "account. Set storage_account='...' (or AZURE_STORAGE_ACCOUNT_NAME, or "
            "AZURE_STORAGE_CONNECTION_STRING)."
        )
    endpoint = config.endpoint_url or connection.get("BlobEndpoint")
    options = {
        "azure_storage_account_name": account,
        **endpoint_options(endpoint, "azure_storage_endpoint"),
    }
    if emulator and not endpoint:
        options["azure_storage_use_emulator"] = "true"  # object_store knows Azurite's address
    secrets = environment_secrets("AZURE_CLIENT_SECRET", "AZURE_STORAGE_CONNECTION_STRING")
    environment: dict[str, str] = {}
    # (object_store option, the variable that carries it to worker processes, config value)
    for option, variable, given in (
        (
            "azure_storage_account_key",
            "AZURE_STORAGE_ACCOUNT_KEY",
            config.account_key
            or first_variable("AZURE_STORAGE_ACCOUNT_KEY", "AZURE_STORAGE_KEY")
            or connection.get("AccountKey"),
        ),
        (
            "azure_storage_sas_key",
            "AZURE_STORAGE_SAS_KEY",
            config.sas_token
            or first_variable("AZURE_STORAGE_SAS_KEY")
            or connection.get("SharedAccessSignature"),
        ),
    ):
        value = (given or "").lstrip("?")
        if value:
            options[option] = environment[variable] = value
            secrets += (value,)
    return CloudStore(config, "AzureStore", Access(options, secrets, HINT, endpoint, environment))


def connection_string_parts(text: str | None) -> dict[str, str]:
    """``Key=value;...`` as a dict (an account key may itself end in ``=``)."""
    parts = (item.partition("=") for item in (text or "").split(";") if "=" in item)
    return {key.strip(): value.strip() for key, _, value in parts}
