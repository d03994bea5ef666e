"""Each cloud's standard variables, as its CLI and SDKs read them, against the local servers.

Every provider here is built with no endpoint or credential in its config: the environment
alone (as LocalStack, MinIO, fake-gcs-server and Azurite users set it) must reach the server on
every path: Polars writes and reads, obstore lists and checks existence. The secrets taken from
the environment must show in no repr and no error.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Bucket, Provider, StorageError, pipeline
from glacier.config import AwsConfig, AzureConfig, GcpConfig, ProviderConfig
from glacier.errors import TaskFailed
from glacier.storage.failures import storage_error
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import AzureServer, GCSServer, S3Server

pytestmark = pytest.mark.cloud

SECRET = "env-secret-4f7b2c9e1d"
"""moto takes any key: a recognisable one, to look for in reprs and errors."""
STANDARD = (
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "AZURE_STORAGE_ACCOUNT",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_SAS_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_USE_EMULATOR",
    "AZURITE_BLOB_STORAGE_URL",
)
AZURE = {"subscription_id": "00000000-0000-0000-0000-000000000000", "resource_group": "rg"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in STANDARD:
        monkeypatch.delenv(name, raising=False)


def round_trip(config: ProviderConfig, bucket: str) -> Provider:
    """Write, list, check, read and scan through a provider: each must reach the server."""
    provider = Provider(config=config)
    df = pl.DataFrame({"id": range(100), "g": [i % 4 for i in range(100)]})
    one = provider.bucket(bucket=bucket, path="t/one.parquet")
    assert not one.exists()
    assert one.write(df) == 100
    assert one.exists()
    assert_frame_equal(one.read(), df)
    for part in range(2):
        provider.bucket(bucket=bucket, path=f"parts/p{part}.parquet").write(df.head(10))
    parts = provider.bucket(bucket=bucket, path="parts/*.parquet")
    assert parts.metadata().files == 2
    assert parts.scan().filter(pl.col("g") == 1).collect().height == 2 * 3
    return provider


def assert_no_secret(provider: Provider, secret: str, bucket: str) -> None:
    missing = provider.bucket(bucket=f"{bucket}-gone", path="x.parquet")
    with pytest.raises(StorageError) as caught:
        missing.read()
    for text in (repr(provider), repr(provider.store), repr(provider.config), str(caught.value)):
        assert secret not in text


# -- AWS --------------------------------------------------------------------------------------


def aws_environment(
    monkeypatch: pytest.MonkeyPatch, endpoint_variable: str, server: S3Server
) -> None:
    monkeypatch.setenv(endpoint_variable, server.endpoint)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-key-id")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)


@pytest.mark.parametrize("variable", ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"])
def test_aws_endpoint_from_the_environment(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    aws_environment(monkeypatch, variable, s3_server)
    bucket = unique_bucket_name("env")
    s3_server.create_bucket(bucket)
    provider = round_trip(AwsConfig(), bucket)
    assert s3_server.endpoint in repr(provider.store)
    assert_no_secret(provider, SECRET, bucket)


def test_aws_region_and_allow_http_from_the_environment(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_environment(monkeypatch, "AWS_ENDPOINT_URL", s3_server)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    options = Provider(config=AwsConfig()).store.storage_options()
    assert options["aws_region"] == "eu-west-1"
    given = Provider(config=AwsConfig(region="us-west-2")).store.storage_options()
    assert given["aws_region"] == "us-west-2"  # the config's own region wins
    monkeypatch.setenv("AWS_ALLOW_HTTP", "false")  # the user's choice beats the http:// guess
    provider = Provider(config=AwsConfig())
    assert provider.store.storage_options()["allow_http"] == "false"
    with pytest.raises(StorageError):
        provider.bucket(bucket="any-bucket", path="x.parquet").exists()


def test_aws_run_stages_through_the_environment_endpoint(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A hand-off between executors goes to the staging bucket by the same environment."""
    aws_environment(monkeypatch, "AWS_ENDPOINT_URL", s3_server)
    raw, staging = unique_bucket_name("raw"), unique_bucket_name("staging")
    s3_server.create_bucket(raw)
    s3_server.create_bucket(staging)
    provider = Provider(config=AwsConfig(staging_bucket=staging))
    provider.bucket(bucket=raw, path="in.parquet").write(pl.DataFrame({"a": [1, 2, 3]}))
    source = provider.bucket(bucket=raw, path="in.parquet")
    here, function = provider.local(), provider.serverless()

    @here.task()
    def load(src: Bucket) -> pl.LazyFrame:
        return src.scan()

    @function.task()
    def total(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.select(pl.col("a").sum())

    @pipeline(name="env_staging")
    def etl() -> pl.LazyFrame:
        return total(load(source))

    result = etl.run(cache=False, keep_handoffs=True)
    assert result.ok
    assert result.output.to_dict(as_series=False) == {"a": [6]}
    assert result.tasks["load"].handoff == "staged"
    staged = provider.store.list(staging, f"runs/{result.run_id}/load.parquet")
    assert staged[0].size > 0


# -- GCS --------------------------------------------------------------------------------------


def test_gcs_emulator_host_from_the_environment(
    gcs_server: GCSServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint.removeprefix("http://"))
    bucket = unique_bucket_name("env")
    gcs_server.create_bucket(bucket)
    provider = round_trip(GcpConfig(project_id="glacier-test"), bucket)
    assert gcs_server.endpoint in repr(provider.store)


def test_gcs_application_credentials_from_the_environment(
    gcs_server: GCSServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The key file reaches Polars and obstore alike; an emulator, when named, goes unsigned.

    (object_store signs with a key file even when it names an emulator, so a real signed round
    trip needs real GCS: here both paths must fail on the file, not on a missing credential.)
    """
    key = tmp_path / "key.json"
    fake = {"type": "service_account", **json.loads(gcs_server.service_account_key())}
    key.write_text(json.dumps(fake))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    bucket = unique_bucket_name("env")
    gcs_server.create_bucket(bucket)
    provider = Provider(config=GcpConfig(project_id="glacier-test"))
    assert provider.store.storage_options() == {"google_application_credentials": str(key)}
    target = provider.bucket(bucket=bucket, path="t.parquet")
    with pytest.raises(StorageError, match="pem"):
        target.exists()
    with pytest.raises(StorageError, match="pem"):
        target.write(pl.DataFrame({"a": [1]}))
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_server.endpoint)
    round_trip(GcpConfig(project_id="glacier-test"), bucket)


# -- Azure ------------------------------------------------------------------------------------


def test_azure_account_and_key_from_the_environment(
    azure_server: AzureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", azure_server.account)
    monkeypatch.setenv("AZURE_STORAGE_KEY", azure_server.key)
    bucket = unique_bucket_name("env")
    azure_server.create_bucket(bucket)
    provider = round_trip(AzureConfig(**AZURE, endpoint_url=azure_server.endpoint), bucket)
    assert_no_secret(provider, azure_server.key, bucket)


def test_azure_connection_string_from_the_environment(
    azure_server: AzureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Azurite's connection string carries the account, its key and the endpoint."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azure_server.connection_string())
    bucket = unique_bucket_name("env")
    azure_server.create_bucket(bucket)
    provider = round_trip(AzureConfig(**AZURE), bucket)
    assert azure_server.endpoint in repr(provider.store)
    assert_no_secret(provider, azure_server.key, bucket)


def test_azure_use_emulator_from_the_environment(
    azure_server: AzureServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The emulator flag means Azurite's well-known account, at AZURITE_BLOB_STORAGE_URL."""
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", azure_server.endpoint.rsplit("/", 1)[0])
    bucket = unique_bucket_name("env")
    azure_server.create_bucket(bucket)
    round_trip(AzureConfig(**AZURE), bucket)


# -- the staging bucket -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Run .* cleaning the staging area")  # it is missing, too
def test_missing_staging_bucket_says_how_to_create_it(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    aws_environment(monkeypatch, "AWS_ENDPOINT_URL", s3_server)
    raw, staging = unique_bucket_name("raw"), unique_bucket_name("nostaging")
    s3_server.create_bucket(raw)
    provider = Provider(config=AwsConfig(staging_bucket=staging))
    provider.bucket(bucket=raw, path="in.parquet").write(pl.DataFrame({"a": [1]}))
    source = provider.bucket(bucket=raw, path="in.parquet")
    here, function = provider.local(), provider.serverless()

    @here.task()
    def load(src: Bucket) -> pl.LazyFrame:
        return src.scan()

    @function.task()
    def count(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.select(pl.len())

    @pipeline(name="no_staging")
    def etl() -> pl.LazyFrame:
        return count(load(source))

    with pytest.raises(TaskFailed) as caught:
        etl.run(cache=False)
    message = str(caught.value)
    assert "staging bucket" in message
    assert f"aws s3 mb s3://{staging}" in message
    assert "terraform apply" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    ("uri", "command"),
    [
        ("gs://lake-staging/runs/x.parquet", "gcloud storage buckets create gs://lake-staging"),
        ("az://lake-staging/runs/x.parquet", "az storage container create -n lake-staging"),
    ],
)
def test_a_missing_bucket_names_its_clouds_create_command(uri: str, command: str) -> None:
    error = storage_error(RuntimeError("ContainerNotFound"), uri, "staging", "write")
    assert command in str(error)
    assert "terraform apply" in str(error)
