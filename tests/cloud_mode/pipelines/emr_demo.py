"""A pipeline of a local task and two fused cluster tasks, run in cloud mode on EMR Serverless.

The cluster tasks say where they ran (``ran_on``: the executor a deployed job's environment
names, else ``here``), so a test can tell the emulated job from local Spark. ``behaviour``
makes the cluster task raise.
"""

from __future__ import annotations

import os

import polars as pl

from glacier import Bucket, Provider, pipeline

provider = Provider.from_env()
sales = provider.bucket(bucket="raw", path="sales/*.parquet")
report = provider.bucket(bucket="curated", path="by_store.parquet")
here = provider.local()
spark = provider.cluster()


@here.task()
def load(source: Bucket) -> pl.LazyFrame:
    return source.scan()


@spark.task(partitioned=True, retries=1)
def clean(df: pl.LazyFrame, min_amount: float, behaviour: str) -> pl.LazyFrame:
    if behaviour == "raise":
        raise ValueError(f"bad rows above {min_amount}")
    return df.filter(pl.col("amount") > min_amount).with_columns(
        ran_on=pl.lit(os.environ.get("GLACIER_EXECUTOR", "here"))
    )


@spark.task(retries=1)
def by_store(df: pl.LazyFrame) -> pl.LazyFrame:
    return (
        df.group_by("store")
        .agg(
            revenue=pl.col("amount").sum().round(2),
            sales=pl.len().cast(pl.Int64),
            ran_on=pl.col("ran_on").first(),
        )
        .sort("store")
    )


@here.task()
def ranked(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.with_columns(rank=pl.col("revenue").rank("ordinal", descending=True))


@pipeline(name="emr_demo")
def emr_demo(min_amount: float = 0.0, behaviour: str = "ok") -> pl.LazyFrame:
    stores = by_store(clean(load(sales), min_amount, behaviour))
    report.write(stores)
    return ranked(stores)
