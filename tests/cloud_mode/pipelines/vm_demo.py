"""A pipeline with a task on a VM, run in cloud mode on the emulated Dask scheduler."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import polars as pl

from glacier import Bucket, Provider, pipeline
from glacier.config import VmConfig

provider = Provider.from_env()
numbers = provider.bucket(bucket="raw", path="numbers.parquet")
doubled = provider.bucket(bucket="curated", path="doubled.parquet")
here = provider.local()
vm = provider.vm(config=VmConfig(cpus=1, memory=1024))


@here.task()
def load(source: Bucket) -> pl.LazyFrame:
    return source.scan()


@vm.task(retries=1)
def double(df: pl.LazyFrame, factor: int, marker: str) -> pl.LazyFrame:
    if marker and not Path(marker).exists():
        Path(marker).write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)  # the VM's worker dies mid-task
    return df.with_columns(y=pl.col("x") * factor, pid=pl.lit(os.getpid()))


@pipeline(name="vm_demo")
def vm_demo(factor: int = 2, marker: str = "") -> pl.LazyFrame:
    out = double(load(numbers), factor, marker)
    doubled.write(out)
    return out
