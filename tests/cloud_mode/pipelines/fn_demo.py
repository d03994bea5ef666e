"""A pipeline of a local task and fused serverless tasks, run in cloud mode by the tests.

``behaviour`` makes the serverless task fail in each way a deployed function can: raise, run
out of memory, run past its timeout, or die once (killed mid-task, then retried).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import polars as pl

from glacier import Bucket, Provider, pipeline
from glacier.config import ServerlessConfig

provider = Provider.from_env()
sales = provider.bucket(bucket="raw", path="sales/*.parquet")
report = provider.bucket(bucket="curated", path="by_store.parquet")
here = provider.local()
functions = provider.serverless(config=ServerlessConfig(memory=256, timeout=4))


@here.task()
def load(source: Bucket) -> pl.LazyFrame:
    return source.scan()


@functions.task(retries=1)
def clean(df: pl.LazyFrame, min_amount: float, behaviour: str, marker: str) -> pl.LazyFrame:
    if behaviour == "raise":
        raise ValueError(f"bad rows above {min_amount}")
    if behaviour == "oom":
        hog = bytearray(600 * 1024 * 1024)
        hog[::4096] = b"x" * len(hog[::4096])
        time.sleep(5)
    if behaviour == "timeout":
        time.sleep(30)
    if behaviour == "die_once" and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return df.filter(pl.col("amount") > min_amount).with_columns(pid=pl.lit(os.getpid()))


@functions.task(retries=1)  # a platform failure of the fused unit is its root's (by_store)
def by_store(df: pl.LazyFrame) -> pl.LazyFrame:
    return (
        df.group_by("store")
        .agg(
            revenue=pl.col("amount").sum().round(2),
            sales=pl.len().cast(pl.Int64),
            pid=pl.col("pid").first(),
        )
        .sort("store")
    )


@pipeline(name="fn_demo")
def fn_demo(
    min_amount: float = 0.0, behaviour: str = "ok", marker: str = "/nonexistent"
) -> pl.LazyFrame:
    stores = by_store(clean(load(sales), min_amount, behaviour, marker))
    report.write(stores)
    return stores
