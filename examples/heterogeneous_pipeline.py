"""Four kinds of compute in one pipeline, with a fan-out and a fan-in.

``load`` runs here (local), ``clean`` on a serverless function, ``by_store`` on a cluster,
``by_product`` on a VM, and ``summary`` back here. ``clean`` feeds two executors, and
``summary`` reads from two, so those hand-offs are staged as Parquet in the run's staging area
instead of passed in memory; ``glacier run`` shows each task's hand-off::

    python examples/heterogeneous_pipeline.py        # makes sample data if missing, runs, prints
    glacier run examples/heterogeneous_pipeline.py   # live progress per task and executor
    glacier graph examples/heterogeneous_pipeline.py # Mermaid: one group per executor

Data lives under ``$GLACIER_BASE_PATH`` (default ``./data``); ``GLACIER_PROVIDER`` and the cloud's
usual variables pick a cloud instead (``Provider.from_env()``).
"""

from __future__ import annotations

import polars as pl

from glacier import Bucket, Provider, pipeline
from glacier.config import ClusterConfig, ServerlessConfig, VmConfig

# This machine unless GLACIER_PROVIDER names a cloud: what `glacier terraform --provider X`
# deploys is what the pipeline then runs on.
provider = Provider.from_env()
sales = provider.bucket(bucket="raw", path="sales/*.parquet")
store_out = provider.bucket(bucket="curated", path="revenue_by_store.parquet")
summary_out = provider.bucket(bucket="curated", path="revenue_summary.parquet")

here = provider.local()
functions = provider.serverless(config=ServerlessConfig(memory=512, timeout=60))
cluster = provider.cluster(config=ClusterConfig(workers=2))
vm = provider.vm(config=VmConfig(cpus=2, memory=4096))


@here.task()
def load(source: Bucket) -> pl.LazyFrame:
    return source.scan()


@functions.task(retries=2, timeout=60)
def clean(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.filter(pl.col("amount") > 0)


@cluster.task()
def by_store(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.group_by("store").agg(revenue=pl.col("amount").sum().round(2)).sort("store")


@vm.task()
def by_product(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.group_by("product").agg(revenue=pl.col("amount").sum().round(2)).sort("product")


@here.task()
def summary(stores: pl.LazyFrame, products: pl.LazyFrame) -> pl.LazyFrame:
    """One long table: the revenue of every store and every product, best first in each."""
    return pl.concat(
        [
            stores.select(dimension=pl.lit("store"), key=pl.col("store"), revenue="revenue"),
            products.select(dimension=pl.lit("product"), key=pl.col("product"), revenue="revenue"),
        ]
    ).sort(["dimension", "revenue"], descending=[False, True])


@pipeline(name="revenue_summary")
def revenue_summary() -> pl.LazyFrame:
    cleaned = clean(load(sales))
    stores = by_store(cleaned)
    store_out.write(stores)
    out = summary(stores, by_product(cleaned))
    summary_out.write(out)
    return out


if __name__ == "__main__":
    from generate_sample_data import ensure_sample_data

    ensure_sample_data()
    result = revenue_summary.run()
    print(result.table())
    print(result.output)
