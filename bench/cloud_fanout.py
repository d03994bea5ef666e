"""The pipeline ``bench/cloud.py`` fans out on emulated functions: 20 independent serverless
tasks that each wait ``seconds`` and return a one-row frame, joined by a local task."""

from __future__ import annotations

import time

import polars as pl

from glacier import Bucket, Provider, pipeline
from glacier.config import ServerlessConfig

WIDTH = 20

provider = Provider.from_env()
seed = provider.bucket(bucket="raw", path="seed.parquet")
here = provider.local()
functions = provider.serverless(config=ServerlessConfig(memory=512, timeout=60))


@here.task()
def load(source: Bucket) -> pl.LazyFrame:
    return source.scan()


@functions.task()
def work(df: pl.LazyFrame, i: int, seconds: float) -> pl.LazyFrame:
    time.sleep(seconds)
    return df.select(i=pl.lit(i), rows=pl.len())


@here.task()
def gather(parts: list[pl.LazyFrame]) -> pl.LazyFrame:
    return pl.concat([p if isinstance(p, pl.LazyFrame) else p.lazy() for p in parts]).sort("i")


@pipeline(name="cloud_fanout")
def cloud_fanout(seconds: float = 0.5) -> pl.LazyFrame:
    source = load(seed)
    return gather([work(source, i, seconds) for i in range(WIDTH)])
