"""Configs: each real service's limits, cloud matching, env loading and the dict view."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacier import ConfigError, Provider
from glacier.config import (
    AwsConfig,
    AzureBlobConfig,
    AzureConfig,
    AzureFunctionConfig,
    AzureVmConfig,
    BucketConfig,
    CloudFunctionConfig,
    ClusterConfig,
    ComputeEngineConfig,
    DatabricksConfig,
    EC2Config,
    GcpConfig,
    GcsConfig,
    LambdaConfig,
    LocalConfig,
    S3Config,
    ServerlessConfig,
    SparkConfig,
    VmConfig,
)

AWS = AwsConfig(region="eu-west-1")
GCP = GcpConfig(project_id="my-project-123")
AZURE = AzureConfig(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg")


# --- limits -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LambdaConfig(memory=True), r"LambdaConfig\.memory: True"),
        (lambda: LambdaConfig(memory=1024.5), r"LambdaConfig\.memory: 1024\.5"),
        (lambda: LambdaConfig(layers=("x",) * 6), r"at most 5 layers"),
        (lambda: LambdaConfig(architecture="sparc"), r"LambdaConfig\.architecture: 'sparc'"),
        (lambda: LambdaConfig(ephemeral_storage=100), r"ephemeral_storage: 100"),
        (lambda: ServerlessConfig(memory=64), r"ServerlessConfig\.memory: 64"),
        (lambda: CloudFunctionConfig(timeout=3601), r"CloudFunctionConfig\.timeout: 3601"),
        (lambda: AzureFunctionConfig(memory=1024), r"Flex Consumption size.*512, 2048 or 4096"),
        (lambda: ClusterConfig(workers=-1), r"ClusterConfig\.workers: -1"),
        (lambda: SparkConfig(master="yarnish"), r"SparkConfig\.master: 'yarnish'.*local\[2\]"),
        (lambda: SparkConfig(workers=3, num_executors=5), r"num_executors: 5 disagrees"),
        (lambda: DatabricksConfig(cluster_id="abc"), r"DatabricksConfig\.cluster_id: 'abc'"),
        (lambda: VmConfig(cpus=0), r"VmConfig\.cpus: 0"),
        (lambda: EC2Config(ami="ami-nope"), r"EC2Config\.ami: 'ami-nope'"),
        (lambda: ComputeEngineConfig(zone="nowhere"), r"ComputeEngineConfig\.zone"),
        (lambda: AzureVmConfig(size="Huge"), r"AzureVmConfig\.size: 'Huge'"),
        (lambda: S3Config(storage_class="COLD"), r"S3Config\.storage_class: 'COLD'"),
        (lambda: GcsConfig(storage_class="HOT"), r"GcsConfig\.storage_class: 'HOT'"),
        (lambda: AzureBlobConfig(access_tier="Warm"), r"AzureBlobConfig\.access_tier"),
        (lambda: BucketConfig(expire_noncurrent_after_days=0), r"expire_noncurrent_after_days"),
        (lambda: AwsConfig(region="mars-1"), r"AwsConfig\.region: 'mars-1'.*us-east-1"),
        (lambda: AwsConfig(account_id="123"), r"AwsConfig\.account_id"),
        (lambda: AwsConfig(session_duration=60), r"session_duration: 60 is outside 900\.\.43200"),
        (lambda: GcpConfig(project_id="X"), r"GcpConfig\.project_id: 'X'"),
        (lambda: AzureConfig(subscription_id="nope", resource_group="rg"), r"subscription_id"),
    ],
)
def test_invalid_values_name_class_field_and_fix(make: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        make()  # type: ignore[operator]


def test_cluster_aliases_agree_with_workers() -> None:
    assert SparkConfig(num_executors=4).workers == 4
    assert SparkConfig(workers=3).num_executors == 3
    assert DatabricksConfig(num_workers=8).workers == 8


def test_configs_are_frozen() -> None:
    config = LambdaConfig()
    with pytest.raises(AttributeError):
        config.memory = 2048  # type: ignore[misc]


# --- bucket names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "name", "ok"),
    [
        (AWS, "my.bucket-1", True),
        (AWS, "ab", False),
        (AWS, "My-Bucket", False),
        (AWS, "a..b", False),
        (AWS, "xn--bucket", False),
        (AWS, "data-s3alias", False),
        (AWS, "192.168.1.1", False),
        (GCP, "my_bucket.v1", True),
        (GCP, "goog-data", False),
        (GCP, "my-google-data", False),
        (AZURE, "my-container", True),
        (AZURE, "my--container", False),
        (AZURE, "my.container", False),
        (AZURE, "my_container", False),
    ],
)
def test_bucket_names_per_cloud(config: object, name: str, ok: bool) -> None:
    provider = Provider(config=config)  # type: ignore[arg-type]
    if ok:
        assert provider.bucket(bucket=name, path="x.parquet").bucket == name
    else:
        with pytest.raises(ConfigError, match=rf"Bucket name '{name}' is not valid on"):
            provider.bucket(bucket=name, path="x.parquet")


@pytest.mark.parametrize("name", ["my.bucket", "my_bucket", "a--b", "ab", "Raw", "-raw"])
def test_local_bucket_names_follow_the_portable_rule(tmp_path: Path, name: str) -> None:
    """Names some cloud refuses are refused locally too, so a local pipeline deploys anywhere."""
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    with pytest.raises(ConfigError, match=r"not valid on local: .*every cloud accepts"):
        provider.bucket(bucket=name, path="x.parquet")


# --- configs must fit the provider's cloud ----------------------------------------------------


@pytest.mark.parametrize(
    ("provider_config", "factory", "config", "names"),
    [
        (
            GCP,
            "serverless",
            LambdaConfig(),
            ["LambdaConfig", "aws", "GcpConfig", "gcp", "ServerlessConfig", "CloudFunctionConfig"],
        ),
        (
            AWS,
            "serverless",
            AzureFunctionConfig(),
            ["AzureFunctionConfig", "azure", "AwsConfig", "ServerlessConfig", "LambdaConfig"],
        ),
        (
            AZURE,
            "vm",
            EC2Config(),
            ["EC2Config", "aws", "AzureConfig", "VmConfig", "AzureVmConfig"],
        ),
        (
            AWS,
            "vm",
            ComputeEngineConfig(),
            ["ComputeEngineConfig", "gcp", "AwsConfig", "VmConfig", "EC2Config"],
        ),
        (AWS, "bucket", GcsConfig(), ["GcsConfig", "gcp", "AwsConfig", "BucketConfig", "S3Config"]),
        (
            GCP,
            "bucket",
            AzureBlobConfig(),
            ["AzureBlobConfig", "azure", "GcpConfig", "BucketConfig", "GcsConfig"],
        ),
    ],
)
def test_config_for_another_cloud_names_both_and_the_portable_one(
    provider_config: object, factory: str, config: object, names: list[str]
) -> None:
    provider = Provider(config=provider_config)  # type: ignore[arg-type]
    with pytest.raises(ConfigError) as err:
        if factory == "bucket":
            provider.bucket(bucket="data-1", path="x.parquet", config=config)  # type: ignore[arg-type]
        else:
            getattr(provider, factory)(config=config)
    message = str(err.value)
    for name in names:
        assert name in message
    assert "Use the portable" in message


def test_portable_and_cross_cloud_configs_work_on_every_cloud() -> None:
    for provider_config in (AWS, GCP, AZURE):
        provider = Provider(config=provider_config)
        provider.serverless(config=ServerlessConfig(memory=2048))
        provider.cluster(config=DatabricksConfig(num_workers=2))
        provider.cluster(config=SparkConfig())
        provider.vm(config=VmConfig(cpus=4))
        provider.bucket(bucket="data-1", path="x.parquet", config=BucketConfig(versioning=True))


def test_local_provider_accepts_every_config(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    for config in (
        LambdaConfig(),
        CloudFunctionConfig(),
        AzureFunctionConfig(),
        ServerlessConfig(),
    ):
        provider.serverless(config=config)
    for cluster in (SparkConfig(), DatabricksConfig(), ClusterConfig()):
        provider.cluster(config=cluster)
    for vm in (EC2Config(), ComputeEngineConfig(), AzureVmConfig(), VmConfig()):
        provider.vm(config=vm)
    for storage in (S3Config(), GcsConfig(), AzureBlobConfig(), BucketConfig()):
        provider.bucket(bucket="raw", path="x.parquet", config=storage)
    assert len(provider.executors) == 11
    assert len(provider.buckets) == 4


def test_wrong_kind_of_config_for_a_factory(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    with pytest.raises(
        ConfigError, match=r"provider\.vm\(config=\.\.\.\) takes a VmConfig.*got LambdaConfig"
    ):
        provider.vm(config=LambdaConfig())  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"Provider\(config=\.\.\.\) takes AwsConfig.*got LambdaConfig"
    ):
        Provider(config=LambdaConfig())  # type: ignore[arg-type]


def test_executor_names_are_unique(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    assert [provider.local().name, provider.local().name] == ["local", "local-2"]
    provider.serverless(name="fn")
    with pytest.raises(ConfigError, match=r"already has an executor named 'fn'"):
        provider.vm(name="fn")


# --- from_env ---------------------------------------------------------------------------------


def test_from_env_local_default(tmp_path: Path) -> None:
    assert Provider.from_env({}).config == LocalConfig()
    provider = Provider.from_env({"GLACIER_BASE_PATH": str(tmp_path)})
    assert provider.config == LocalConfig(base_path=str(tmp_path))


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"GLACIER_PROVIDER": "aws"},
            r"needs AWS_REGION or AWS_DEFAULT_REGION for AwsConfig\.region",
        ),
        ({"GLACIER_PROVIDER": "gcp"}, r"needs GOOGLE_CLOUD_PROJECT or GCLOUD_PROJECT"),
        (
            {"GLACIER_PROVIDER": "azure", "AZURE_SUBSCRIPTION_ID": AZURE.subscription_id},
            r"needs AZURE_RESOURCE_GROUP for AzureConfig\.resource_group",
        ),
        (
            {"GLACIER_PROVIDER": "oracle"},
            r"GLACIER_PROVIDER='oracle' is not a provider.*local, aws",
        ),
        ({"GLACIER_PROVIDER": "aws", "AWS_REGION": "moon"}, r"AwsConfig\.region: 'moon'"),
    ],
)
def test_from_env_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Provider.from_env(env)


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLACIER_PROVIDER", "gcp")
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-project-1")
    assert Provider.from_env().config == GcpConfig(project_id="env-project-1")


# --- to_dict ----------------------------------------------------------------------------------


def test_to_dict_is_plain_and_names_the_class() -> None:
    assert LambdaConfig(
        memory=2048, layers=("arn:aws:lambda:us-east-1:123456789012:layer:p:3",)
    ).to_dict() == {
        "type": "LambdaConfig",
        "memory": 2048,
        "timeout": 300,
        "runtime": "python3.12",
        "layers": ["arn:aws:lambda:us-east-1:123456789012:layer:p:3"],
        "ephemeral_storage": 512,
        "architecture": "arm64",
    }
    assert AwsConfig(tags={"b": "2", "a": "1"}).to_dict()["tags"] == {"a": "1", "b": "2"}
    assert SparkConfig(conf={"spark.x": "1"}).to_dict()["conf"] == {"spark.x": "1"}
    assert S3Config(versioning=True).to_dict()["type"] == "S3Config"


def test_portable_base_of_each_config() -> None:
    assert LambdaConfig.portable_base() is ServerlessConfig
    assert EC2Config.portable_base() is VmConfig
    assert S3Config.portable_base() is BucketConfig
    assert DatabricksConfig.portable_base() is DatabricksConfig
