"""The DESIGN.md pipeline on this machine: load raw sales, drop bad rows, sum revenue per day.

Run it either way (data goes under ``$GLACIER_BASE_PATH``, default ``./data``)::

    python examples/simple_pipeline.py            # makes sample data if missing, runs, prints
    glacier run examples/simple_pipeline.py       # same run with live progress (needs the data:
                                                  # python examples/generate_sample_data.py)
"""

from __future__ import annotations

import polars as pl

from glacier import Bucket, Provider, pipeline

# This machine unless GLACIER_PROVIDER names a cloud: what `glacier terraform --provider X`
# deploys is what the pipeline then runs on.
provider = Provider.from_env()
sales = provider.bucket(bucket="raw", path="sales/*.parquet")
daily_out = provider.bucket(bucket="curated", path="daily_revenue.parquet")

local = provider.local()


@local.task()
def load(source: Bucket) -> pl.LazyFrame:
    return source.scan()


@local.task()
def clean(df: pl.LazyFrame) -> pl.LazyFrame:
    """Refunds (negative amounts) and missing amounts are not revenue."""
    return df.filter(pl.col("amount") > 0)


@local.task()
def daily(df: pl.LazyFrame) -> pl.LazyFrame:
    return (
        df.group_by("day").agg(revenue=pl.col("amount").sum().round(2), sales=pl.len()).sort("day")
    )


@pipeline(name="daily_revenue")
def daily_revenue() -> pl.LazyFrame:
    out = daily(clean(load(sales)))
    daily_out.write(out)
    return out


if __name__ == "__main__":
    from generate_sample_data import ensure_sample_data

    ensure_sample_data()
    result = daily_revenue.run()
    print(result.table())
    print(result.output)
