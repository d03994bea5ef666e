"""One pipeline, any cloud: the code below never names AWS, GCP or Azure.

The provider comes from the environment (``Provider.from_env()``: ``GLACIER_PROVIDER`` plus the
cloud's usual variables, see ``glacier.config.env``), and every resource uses a *portable*
config (``ServerlessConfig``, ``ClusterConfig``, ``BucketConfig``), which each cloud maps to its
own service: Lambda / Cloud Functions / Azure Functions, EMR / Dataproc / Databricks, S3 / GCS /
Blob Storage. Switching clouds changes the environment, not this file::

    python examples/cloud_agnostic_pipeline.py                      # local: runs and prints
    python examples/cloud_agnostic_pipeline.py --provider aws       # needs AWS_REGION: prints
                                                                    # the plan for AWS
    glacier run examples/cloud_agnostic_pipeline.py -p min_amount=10
    GLACIER_PROVIDER=gcp GOOGLE_CLOUD_PROJECT=my-project \\
        glacier inspect examples/cloud_agnostic_pipeline.py

Local data lives under ``$GLACIER_BASE_PATH`` (default ``./data``).
"""

from __future__ import annotations

import argparse
import os

import polars as pl

from glacier import Bucket, Provider, pipeline
from glacier.config import BucketConfig, ClusterConfig, ServerlessConfig

if __name__ == "__main__":
    # The script's own switch; `glacier run` and imports read GLACIER_PROVIDER instead.
    _parser = argparse.ArgumentParser(description="One pipeline, any cloud.")
    _parser.add_argument("--provider", choices=["local", "aws", "gcp", "azure"])
    _provider_name = _parser.parse_args().provider
    if _provider_name:
        os.environ["GLACIER_PROVIDER"] = _provider_name

provider = Provider.from_env()
sales = provider.bucket(bucket="raw", path="sales/*.parquet")
store_report = provider.bucket(
    bucket="curated",
    path="store_revenue.parquet",
    config=BucketConfig(versioning=True, expire_noncurrent_after_days=30),
)

local = provider.local()
functions = provider.serverless(config=ServerlessConfig(memory=1024, timeout=120))
cluster = provider.cluster(config=ClusterConfig(workers=2))


@local.task()
def load(source: Bucket) -> pl.LazyFrame:
    return source.scan()


@functions.task(retries=2)
def clean(df: pl.LazyFrame, min_amount: float) -> pl.LazyFrame:
    """Keep sales above ``min_amount`` (refunds and missing amounts never are)."""
    return df.filter(pl.col("amount") > min_amount)


@cluster.task()
def revenue_by_store(df: pl.LazyFrame) -> pl.LazyFrame:
    # Spark has no unsigned integers, so the u32 count is widened to Int64 on a cluster anyway.
    return (
        df.group_by("store")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len().cast(pl.Int64))
        .sort("store")
    )


@pipeline(name="store_revenue")
def store_revenue(min_amount: float = 0.0) -> pl.LazyFrame:
    out = revenue_by_store(clean(load(sales), min_amount))
    store_report.write(out)
    return out


if __name__ == "__main__":
    if provider.cloud.value == "local":
        from generate_sample_data import ensure_sample_data

        ensure_sample_data()
        result = store_revenue.run()
        print(result.table())
        print(result.output)
    else:
        print(f"Pipeline {store_revenue.name!r} on {provider.cloud.value}:")
        print(store_revenue.graph())
        print("This version of Glacier runs pipelines on this machine; unset --provider to run.")
