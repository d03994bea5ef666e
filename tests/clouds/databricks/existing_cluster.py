"""A pipeline on an existing Databricks cluster, at module level: a deployed job imports its
module by name (``GLACIER_MODULE``) and finds the pipeline in it."""

from __future__ import annotations

import polars as pl

from glacier import Provider, pipeline
from glacier.config import AwsConfig, DatabricksConfig

provider = Provider(config=AwsConfig(region="eu-west-1"))
raw = provider.bucket(bucket="raw", path="in.parquet")
dbx = provider.cluster(
    config=DatabricksConfig(cluster_id="0123-456789-abcdefgh", host="https://dbc.example"),
    name="dbx",
)


@dbx.task()
def passthrough(df: pl.LazyFrame) -> pl.LazyFrame:
    return df


@pipeline(name="existing")
def existing() -> pl.LazyFrame:
    return passthrough(raw)
