"""Credentials: rejected keys and missing permissions, and secrets that never leak."""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle

import polars as pl
import pytest
from azure.storage.blob import ContainerSasPermissions, generate_container_sas

from glacier import Provider, StorageError
from glacier.config import AzureConfig
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import AzureServer
from tests.storage.backends import config_for

pytestmark = pytest.mark.cloud

WRONG_KEY = "QUJD" + AzureServer.key[4:]  # well-formed base64, not the account's key


def _azure(server: AzureServer, **secrets: str) -> tuple[Provider, str]:
    name = unique_bucket_name("creds")
    server.create_bucket(name)
    base = config_for(server)
    assert isinstance(base, AzureConfig)
    return Provider(config=dataclasses.replace(base, **secrets)), name


def test_bad_credentials_are_named_without_the_secret(azure_server: AzureServer) -> None:
    provider, name = _azure(azure_server, account_key=WRONG_KEY)
    target = provider.bucket(bucket=name, path="t.parquet")
    for action in (target.read, lambda: target.write(pl.DataFrame({"a": [1]}))):
        with pytest.raises(StorageError, match="credentials were rejected") as info:
            action()
        message = str(info.value)
        assert target.uri in message
        assert "AzureConfig.account_key" in message  # where the credentials came from
        assert WRONG_KEY not in message
        assert WRONG_KEY not in repr(info.value.__cause__ or "")


def test_access_denied_names_the_bucket_and_the_fix(azure_server: AzureServer) -> None:
    name = unique_bucket_name("creds")
    azure_server.create_bucket(name)
    read_only = generate_container_sas(
        azure_server.account,
        name,
        account_key=azure_server.key,
        permission=ContainerSasPermissions(read=True, list=True),
        expiry=dt.datetime.now(dt.UTC) + dt.timedelta(hours=1),
    )
    writer = Provider(config=config_for(azure_server)).bucket(bucket=name, path="t.parquet")
    writer.write(pl.DataFrame({"a": [1, 2]}))
    base = config_for(azure_server)
    assert isinstance(base, AzureConfig)
    reader = Provider(config=dataclasses.replace(base, account_key=None, sas_token=read_only))
    target = reader.bucket(bucket=name, path="t.parquet")
    assert target.read()["a"].to_list() == [1, 2]  # the SAS may read...
    with pytest.raises(StorageError, match="Access denied") as info:  # ...but not write
        target.write(pl.DataFrame({"a": [3]}))
    message = str(info.value)
    assert target.uri in message
    assert f"Grant that identity access to bucket {name!r}" in message
    assert read_only not in message
    assert target.read()["a"].to_list() == [1, 2]


def test_secrets_stay_out_of_repr_dicts_and_pickles(azure_server: AzureServer) -> None:
    provider, name = _azure(azure_server)
    key = azure_server.key
    bucket = provider.bucket(bucket=name, path="t.parquet")
    bucket.write(pl.DataFrame({"a": [1]}))  # opens the store, resolving credentials
    assert key not in repr(provider)
    assert key not in repr(provider.store)
    assert key not in str(provider.config.to_dict())
    assert key not in str(bucket.to_dict())
    shipped = pickle.dumps(provider)
    assert key.encode() not in shipped
    again = pickle.loads(shipped)
    assert again.config.account_key is None  # a worker uses its own identity
    assert again.config.storage_account == provider.config.storage_account
