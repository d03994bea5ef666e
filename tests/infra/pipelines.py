"""Small pipelines used by the infra tests: the same three shapes on every cloud.

- simple: a local task feeding a serverless one, two buckets;
- portable: only portable configs, several buckets, two functions and a VM;
- heterogeneous: local + serverless + two clusters (Spark, Databricks) + a VM, with each
  cloud's own configs.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from glacier import Pipeline, Provider, pipeline
from glacier.config import (
    AwsConfig,
    AzureBlobConfig,
    AzureConfig,
    AzureFunctionConfig,
    AzureVmConfig,
    BucketConfig,
    CloudFunctionConfig,
    ComputeEngineConfig,
    DatabricksConfig,
    EC2Config,
    GcpConfig,
    GcsConfig,
    LambdaConfig,
    ProviderConfig,
    S3Config,
    ServerlessConfig,
    SparkConfig,
    VmConfig,
)
from glacier.config.base import Config

PROVIDERS: dict[str, ProviderConfig] = {
    "aws": AwsConfig(region="eu-west-1", tags={"team": "data"}),
    "gcp": GcpConfig(project_id="glacier-test-1", region="europe-west1"),
    "azure": AzureConfig(
        subscription_id="00000000-0000-0000-0000-000000000000",
        resource_group="glacier-rg",
        location="westeurope",
    ),
}


def simple(config: ProviderConfig) -> Pipeline:
    provider = Provider(config=config)
    raw = provider.bucket(bucket="raw-sales", path="sales/*.parquet")
    out = provider.bucket(
        bucket="curated", path="daily.parquet", config=BucketConfig(versioning=True)
    )
    here = provider.local()
    fn = provider.serverless(config=ServerlessConfig(memory=1024, timeout=120))

    @here.task()
    def load(source: pl.LazyFrame) -> pl.LazyFrame:
        return source

    @fn.task(retries=2)
    def clean(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.filter(pl.col("amount") > 0)

    @pipeline(name="simple")
    def simple_pipeline() -> object:
        cleaned = clean(load(raw))
        out.write(cleaned)
        return cleaned

    return simple_pipeline


def portable(config: ProviderConfig) -> Pipeline:
    provider = Provider(config=config)
    orders = provider.bucket(bucket="orders", path="2024/*.csv")
    customers = provider.bucket(bucket="customers", path="all.parquet")
    joined_out = provider.bucket(
        bucket="warehouse",
        path="joined.parquet",
        config=BucketConfig(expire_noncurrent_after_days=14),
    )
    report_out = provider.bucket(bucket="reports", path="summary.parquet")
    parse_fn = provider.serverless(config=ServerlessConfig(memory=512, timeout=60), name="parse")
    join_fn = provider.serverless(config=ServerlessConfig(memory=2048, timeout=600), name="join")
    box = provider.vm(config=VmConfig(cpus=4, memory=16384), name="box")

    @parse_fn.task()
    def parse(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @join_fn.task()
    def join(left: pl.LazyFrame, right: pl.LazyFrame) -> pl.LazyFrame:
        return left.join(right, on="customer")

    @box.task()
    def summarize(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.group_by("customer").agg(pl.len())

    @pipeline(name="portable")
    def portable_pipeline() -> object:
        joined = join(parse(orders), customers)
        joined_out.write(joined)
        summary = summarize(joined)
        report_out.write(summary)
        return summary

    return portable_pipeline


# cloud -> (serverless, vm, bucket) configs of that cloud
NATIVE: dict[str, tuple[Config, Config, Config]] = {
    "aws": (
        LambdaConfig(memory=2048, timeout=300, ephemeral_storage=2048),
        EC2Config(instance_type="m7g.large"),
        S3Config(versioning=True, storage_class="INTELLIGENT_TIERING"),
    ),
    "gcp": (
        CloudFunctionConfig(memory=2048, timeout=300, max_instances=20),
        ComputeEngineConfig(machine_type="e2-standard-4", zone="europe-west1-b"),
        GcsConfig(versioning=True, storage_class="NEARLINE"),
    ),
    "azure": (
        AzureFunctionConfig(memory=2048, timeout=300),
        AzureVmConfig(size="Standard_D4s_v5"),
        AzureBlobConfig(versioning=True),
    ),
}


def heterogeneous(cloud: str) -> Pipeline:
    serverless_config, vm_config, bucket_config = NATIVE[cloud]
    provider = Provider(config=PROVIDERS[cloud])
    events = provider.bucket(bucket="events", path="raw/*.ndjson", config=bucket_config)
    features = provider.bucket(bucket="features", path="features.parquet", config=bucket_config)
    here = provider.local()
    fn = provider.serverless(config=serverless_config, name="ingest")  # type: ignore[arg-type]
    spark = provider.cluster(
        config=SparkConfig(num_executors=3, executor_memory="4g"), name="spark"
    )
    dbx = provider.cluster(
        config=DatabricksConfig(num_workers=2, host="https://dbc-1234.cloud.databricks.com"),
        name="dbx",
    )
    worker = provider.vm(config=vm_config, name="worker")  # type: ignore[arg-type]

    @here.task()
    def start(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @fn.task()
    def ingest(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @spark.task()
    def sessionize(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @dbx.task()
    def aggregate(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @worker.task()
    def score(df: pl.LazyFrame, other: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @pipeline(name="heterogeneous")
    def heterogeneous_pipeline() -> object:
        sessions = sessionize(ingest(start(events)))
        scored = score(aggregate(sessions), sessions)
        features.write(scored)
        return scored

    return heterogeneous_pipeline


def two_architectures() -> Pipeline:
    """Dask workers on Graviton and on Intel EC2: two VM packages (``vm-arm64.zip``,
    ``vm-x86_64.zip``) in one cluster."""
    provider = Provider(config=PROVIDERS["aws"])
    raw = provider.bucket(bucket="raw", path="in.parquet")
    out = provider.bucket(bucket="out", path="out.parquet")
    arm = provider.vm(config=EC2Config(instance_type="m7g.large"), name="arm")
    intel = provider.vm(config=EC2Config(instance_type="m7i.large"), name="intel")

    @arm.task()
    def first(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @intel.task()
    def second(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    @pipeline(name="two-architectures")
    def two_architectures_pipeline() -> object:
        result = second(first(raw))
        out.write(result)
        return result

    return two_architectures_pipeline


CLOUDS = ("aws", "gcp", "azure")
SHAPES: dict[str, Callable[[str], Pipeline]] = {
    "simple": lambda cloud: simple(PROVIDERS[cloud]),
    "portable": lambda cloud: portable(PROVIDERS[cloud]),
    "heterogeneous": heterogeneous,
}
