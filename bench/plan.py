"""Benchmark: trace + inventory + Terraform for generated pipelines of 1,000 and 10,000 tasks.

Target: <= 2 s for 10,000 tasks, near-linear growth. Prints a table; asserts nothing.

    python bench/plan.py [--sizes 1000 10000] [--cloud aws]
"""

from __future__ import annotations

import argparse
import time

import polars as pl

from glacier import Pipeline, Provider, pipeline
from glacier.config import AwsConfig, ServerlessConfig, VmConfig
from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import render


def make_pipeline(tasks: int, executors: int = 20, buckets: int = 50) -> Pipeline:
    """``tasks`` tasks in chains over ``executors`` executors, reading and writing ``buckets``."""
    provider = Provider(config=AwsConfig(region="eu-west-1"))
    sources = [provider.bucket(bucket=f"in-{i}", path="data/*.parquet") for i in range(buckets)]
    sinks = [provider.bucket(bucket=f"out-{i}", path="result.parquet") for i in range(buckets)]
    pool = [
        provider.serverless(config=ServerlessConfig(memory=512), name=f"fn-{i}")
        if i % 4
        else provider.vm(config=VmConfig(cpus=2), name=f"vm-{i}")
        for i in range(executors)
    ]

    def step(df: pl.LazyFrame) -> pl.LazyFrame:
        return df

    task_fns = [ex.task(name=f"step{i}")(step) for i, ex in enumerate(pool)]

    @pipeline(name=f"bench_{tasks}")
    def body() -> None:
        per_chain = max(1, tasks // buckets)
        done = 0
        for chain in range(buckets):
            value = sources[chain]
            for _ in range(per_chain if chain < buckets - 1 else tasks - done):
                value = task_fns[done % len(task_fns)](value)
                done += 1
            sinks[chain].write(value)

    return body


def measure(tasks: int, cloud: str, executors: int) -> tuple[float, float, float, int]:
    start = time.perf_counter()
    p = make_pipeline(tasks, executors)
    traced = time.perf_counter()
    inv = build_inventory(p, cloud)
    inventoried = time.perf_counter()
    files = render(inv)
    rendered = time.perf_counter()
    size = sum(len(t) for t in files.values())
    return traced - start, inventoried - traced, rendered - inventoried, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--cloud", default="aws", choices=["aws", "gcp", "azure"])
    args = parser.parse_args()
    measure(100, args.cloud, 20)  # warm imports
    print(f"cloud: {args.cloud}")
    print(
        f"{'tasks':>7} {'executors':>9} {'trace s':>8} {'inventory s':>12} {'terraform s':>12} "
        f"{'total s':>8} {'bytes':>10}"
    )
    for n in args.sizes:
        for executors in (20, n // 10):  # few executors; one executor per ten tasks
            trace, inventory, terraform, size = measure(n, args.cloud, executors)
            total = trace + inventory + terraform
            print(
                f"{n:>7} {executors:>9} {trace:>8.3f} {inventory:>12.3f} {terraform:>12.3f} "
                f"{total:>8.3f} {size:>10}"
            )


if __name__ == "__main__":
    main()
