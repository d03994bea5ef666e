"""AWS configs: Lambda's limits, and what Provider.from_env reads on AWS."""

from __future__ import annotations

import pytest

from glacier import ConfigError, Provider
from glacier.config import AwsConfig, LambdaConfig, ServerlessConfig


@pytest.mark.parametrize("memory", [128, 1024, 10240])
def test_lambda_memory_in_range(memory: int) -> None:
    assert LambdaConfig(memory=memory).memory == memory


@pytest.mark.parametrize("memory", [127, 10241, 0, -1])
def test_lambda_memory_out_of_range(memory: int) -> None:
    with pytest.raises(
        ConfigError, match=rf"LambdaConfig\.memory: {memory} is outside 128\.\.10240"
    ):
        LambdaConfig(memory=memory)


def test_lambda_timeout_limit() -> None:
    assert LambdaConfig(timeout=900).timeout == 900
    with pytest.raises(
        ConfigError, match=r"LambdaConfig\.timeout: 901 is outside 1\.\.900 seconds"
    ):
        LambdaConfig(timeout=901)
    # the portable config allows what some cloud allows (Cloud Functions: 3600 s)
    assert ServerlessConfig(timeout=3600).timeout == 3600


def test_from_env_aws() -> None:
    provider = Provider.from_env(
        {
            "GLACIER_PROVIDER": "AWS",
            "AWS_DEFAULT_REGION": "eu-central-1",
            "AWS_PROFILE": "dev",
            "GLACIER_STAGING_BUCKET": "my-staging",
        }
    )
    assert provider.config == AwsConfig(
        region="eu-central-1", profile="dev", staging_bucket="my-staging"
    )
    assert provider.staging_bucket == "my-staging"
    # AWS_REGION wins over AWS_DEFAULT_REGION
    env = {"GLACIER_PROVIDER": "aws", "AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "eu-west-1"}
    assert Provider.from_env(env).config == AwsConfig(region="us-west-2")


def test_from_env_reads_the_real_bucket_names() -> None:
    env = {
        "GLACIER_PROVIDER": "aws",
        "AWS_REGION": "us-west-2",
        "GLACIER_BUCKETS": '{"raw": "sales-1a2b3c4d-raw"}',
    }
    provider = Provider.from_env(env)
    assert provider.config.bucket_names == {"raw": "sales-1a2b3c4d-raw"}
    assert provider.store.uri("raw", "a.parquet") == "s3://sales-1a2b3c4d-raw/a.parquet"
    assert provider.store.uri("other", "a.parquet") == "s3://other/a.parquet"


@pytest.mark.parametrize("value", ["raw", '["raw"]', '{"raw": 3}', '{"raw": ""}'])
def test_from_env_refuses_a_malformed_bucket_map(value: str) -> None:
    env = {"GLACIER_PROVIDER": "aws", "AWS_REGION": "us-west-2", "GLACIER_BUCKETS": value}
    with pytest.raises(ConfigError, match="GLACIER_BUCKETS must be a JSON object"):
        Provider.from_env(env)
