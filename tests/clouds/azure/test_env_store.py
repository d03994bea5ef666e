"""Which standard Azure variables the store reads, and which of them it treats as secrets."""

from __future__ import annotations

import pytest

from glacier import Provider
from glacier.clouds.azure.store import connection_string_parts
from glacier.config import AzureConfig
from glacier.errors import ConfigError

AZURE = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg"}
SAS = "sv=2024-01-01&sig=c2VjcmV0c2lnbmF0dXJl%3D"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AZURE_STORAGE_ACCOUNT",
        "AZURE_STORAGE_ACCOUNT_NAME",
        "AZURE_STORAGE_ACCOUNT_KEY",
        "AZURE_STORAGE_KEY",
        "AZURE_STORAGE_SAS_KEY",
        "AZURE_STORAGE_CONNECTION_STRING",
        "AZURE_STORAGE_USE_EMULATOR",
    ):
        monkeypatch.delenv(name, raising=False)


def test_a_connection_string_keeps_the_padding_of_its_key() -> None:
    parts = connection_string_parts("AccountName=acct;AccountKey=a2V5==;EndpointSuffix=core")
    assert parts == {"AccountName": "acct", "AccountKey": "a2V5==", "EndpointSuffix": "core"}


def test_a_sas_connection_string_signs_and_stays_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    text = f"BlobEndpoint=https://acct.blob.core.windows.net/;SharedAccessSignature={SAS}"
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", f"AccountName=acct;{text}")
    store = Provider(config=AzureConfig(**AZURE)).store
    options = store.storage_options()
    assert options["azure_storage_account_name"] == "acct"
    assert options["azure_storage_sas_key"] == SAS
    assert options["azure_storage_endpoint"] == "https://acct.blob.core.windows.net/"
    assert SAS in store.secrets()
    assert store.worker_environment() == {"AZURE_STORAGE_SAS_KEY": SAS}
    assert SAS not in repr(store)


def test_the_config_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", "fromenv")
    monkeypatch.setenv("AZURE_STORAGE_KEY", "ZW52a2V5")
    store = Provider(
        config=AzureConfig(**AZURE, storage_account="fromconfig", account_key="Y29uZmln")
    ).store
    options = store.storage_options()
    assert options["azure_storage_account_name"] == "fromconfig"
    assert options["azure_storage_account_key"] == "Y29uZmln"


def test_no_account_anywhere_names_the_variables() -> None:
    with pytest.raises(ConfigError, match="AZURE_STORAGE_ACCOUNT_NAME"):
        _ = Provider(config=AzureConfig(**AZURE)).store
