"""The inventory reads buckets, executors and access off the DAG, for one target cloud."""

from __future__ import annotations

import json

import polars as pl
import pytest

from glacier import Provider, pipeline
from glacier.config import (
    AzureFunctionConfig,
    BucketConfig,
    CloudFunctionConfig,
    EC2Config,
    LambdaConfig,
    LocalConfig,
    S3Config,
    ServerlessConfig,
)
from glacier.errors import ConfigError
from glacier.infra.inventory import build_inventory
from tests.infra.pipelines import PROVIDERS, heterogeneous, portable, simple


def test_reads_writes_and_staging_come_from_the_dag() -> None:
    inv = build_inventory(portable(PROVIDERS["aws"]))
    access = {e.name: (e.reads, e.writes) for e in inv.executors}
    staging = "glacier-staging"
    assert access["parse"] == (("glacier-staging", "orders"), (staging,))
    assert access["join"] == (("customers", staging), (staging, "warehouse"))
    assert access["box"] == ((staging,), (staging, "reports"))
    warehouse = inv.bucket("warehouse")
    assert warehouse.writers == ("join",) and warehouse.readers == ()
    assert inv.bucket(staging).staging and set(inv.bucket(staging).writers) == {
        "box",
        "join",
        "parse",
    }


def test_local_executors_are_listed_but_not_deployed() -> None:
    inv = build_inventory(simple(PROVIDERS["gcp"]))
    local = next(e for e in inv.executors if e.kind.value == "local")
    assert not local.deployed and local.reads == ("raw-sales",) and local.writes == ()
    assert [e.name for e in inv.deployed] == ["serverless"]
    assert isinstance(inv.deployed[0].config, CloudFunctionConfig)


def test_plan_is_json_and_deterministic() -> None:
    first = build_inventory(heterogeneous("aws")).to_json()
    second = build_inventory(heterogeneous("aws")).to_json()
    assert first == second
    plan = json.loads(first)
    assert plan["cloud"] == "aws" and plan["staging_bucket"] == "glacier-staging"
    kinds = {e["name"]: e["kind"] for e in plan["executors"]}
    assert kinds == {
        "dbx": "cluster",
        "ingest": "serverless",
        "local": "local",
        "spark": "cluster",
        "worker": "vm",
    }
    assert (
        next(e for e in plan["executors"] if e["name"] == "worker")["config"]["type"] == "EC2Config"
    )


def test_portable_configs_map_to_the_target_cloud() -> None:
    p = portable(PROVIDERS["aws"])
    configs = {e.name: e.config for e in build_inventory(p, "azure").executors}
    assert configs["parse"] == AzureFunctionConfig(memory=512, timeout=60)
    assert configs["join"] == AzureFunctionConfig(memory=2048, timeout=600)  # rounded up to a size
    assert isinstance(build_inventory(p, "aws").bucket("warehouse").config, S3Config)
    assert isinstance(build_inventory(p).executors[0].config, EC2Config)


def test_cloud_specific_configs_of_another_cloud_are_named() -> None:
    with pytest.raises(ConfigError) as info:
        build_inventory(heterogeneous("aws"), "gcp")
    message = str(info.value)
    assert "executor 'ingest' uses LambdaConfig" in message
    assert "executor 'worker' uses EC2Config" in message
    assert "bucket 'events/raw/*.ndjson' uses S3Config" in message


def test_limits_of_the_target_cloud_apply() -> None:
    provider = Provider(config=LocalConfig(base_path="/tmp/unused"))
    fn = provider.serverless(config=ServerlessConfig(memory=16384, timeout=60))
    src = provider.bucket(bucket="raw", path="a.parquet")

    @fn.task()
    def big(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @pipeline(name="big")
    def big_pipeline() -> object:
        return big(src)

    with pytest.raises(ConfigError, match="does not fit LambdaConfig on aws"):
        build_inventory(big_pipeline, "aws")
    assert build_inventory(big_pipeline, "gcp").deployed[0].config == CloudFunctionConfig(
        memory=16384, timeout=60
    )
    with pytest.raises(ConfigError, match="Pass --provider aws\\|gcp\\|azure"):
        build_inventory(big_pipeline)


def test_local_provider_takes_the_cloud_of_its_specific_configs() -> None:
    provider = Provider(config=LocalConfig(base_path="/tmp/unused"))
    fn = provider.serverless(config=LambdaConfig(memory=512))
    src = provider.bucket(bucket="raw", path="a.parquet")
    other = provider.bucket(bucket="raw", path="b.parquet", config=BucketConfig(versioning=True))

    @fn.task()
    def both(a: pl.LazyFrame, b: pl.LazyFrame) -> pl.LazyFrame:
        return a

    @pipeline(name="local_lambda")
    def local_lambda() -> object:
        return both(src, other)

    inv = build_inventory(local_lambda)
    assert inv.cloud.value == "aws" and inv.provider is None
    assert inv.bucket("raw").paths == ("a.parquet", "b.parquet")
    assert inv.bucket("raw").config == S3Config(versioning=True)


def test_one_bucket_with_two_configs_is_an_error() -> None:
    provider = Provider(config=PROVIDERS["aws"])
    a = provider.bucket(bucket="raw", path="a.parquet", config=BucketConfig(versioning=True))
    b = provider.bucket(bucket="raw", path="b.parquet", config=BucketConfig())
    fn = provider.serverless()

    @fn.task()
    def both(x: pl.LazyFrame, y: pl.LazyFrame) -> pl.LazyFrame:
        return x

    @pipeline(name="conflict")
    def conflict() -> object:
        return both(a, b)

    with pytest.raises(ConfigError, match="Bucket 'raw' is given different configs"):
        build_inventory(conflict)
