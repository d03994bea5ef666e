"""The slow path of Spark over object stores: Polars on the driver vs Spark's own reads.

A local session has no S3 connector, so a cluster task over ``s3://`` goes through Polars on
the driver (:mod:`glacier.spark.store_access`). This measures one partitioned task (a filter
and a column) over the same Parquet:

* ``spark, local files``: Spark reads and writes the files itself (the fast path, as a
  platform's connector would on a real cluster);
* ``polars path, local files``: the same files forced through the slow path
  (``spark.glacier.storeAccess=polars``), so the difference is the path alone;
* ``polars path, moto S3``: the slow path against the moto S3 server (what ``glacier emulate``
  and local mode over S3 do), including moto's own cost.

Each cell is the median of ``--repeat`` runs after one warm-up.

    python bench/spark_store.py [--rows 500000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import STARTERS, S3Server

from glacier.spark.modes import run_partitioned
from glacier.spark.session import SparkSettings, get_session, stop_session
from glacier.spark.store_access import StoreAccess


def task(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.filter(pl.col("amount") > 0).with_columns(cents=(pl.col("amount") * 100).cast(int))


def frame(rows: int) -> pl.DataFrame:
    ids = pl.int_range(rows, eager=True)
    return pl.DataFrame(
        {"id": ids, "store": (ids % 97).cast(pl.String), "amount": (ids % 1000 - 100) * 1.0}
    )


def median(fn: Callable[[], int], repeat: int) -> tuple[float, int]:
    rows = fn()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        rows = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    data = frame(args.rows)
    spark = get_session(SparkSettings(master="local[2]"))
    server = STARTERS["s3"]()
    assert isinstance(server, S3Server)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "in.parquet"
            data.write_parquet(local)
            bucket = unique_bucket_name("bench")
            server.create_bucket(bucket)
            options = server.storage_options()
            data.write_parquet(f"s3://{bucket}/in.parquet", storage_options=options)
            size = local.stat().st_size
            polars_local = StoreAccess(lambda uri: None)
            polars_s3 = StoreAccess(lambda uri: options)
            counter = iter(range(10_000))

            def run(inputs: str, out: str, access: Any) -> Callable[[], int]:
                return lambda: (
                    run_partitioned(
                        spark, task, inputs, f"{out}/{next(counter)}", access=access
                    ).rows
                )

            cells = {
                "spark, local files": run(str(local), f"{tmp}/out", None),
                "polars path, local files": run(str(local), f"{tmp}/out", polars_local),
                "polars path, moto S3": run(
                    f"s3://{bucket}/in.parquet", f"s3://{bucket}/out", polars_s3
                ),
            }
            print(f"{args.rows:,} rows, {size / 1e6:.1f} MB of Parquet, median of {args.repeat}")
            print(f"| {'path':<26} | {'seconds':>8} | {'rows out':>10} |")
            print(f"|{'-' * 28}|{'-' * 10}|{'-' * 12}|")
            for name, fn in cells.items():
                seconds, rows = median(fn, args.repeat)
                print(f"| {name:<26} | {seconds:8.2f} | {rows:>10,} |")
    finally:
        server.stop()
        stop_session()


if __name__ == "__main__":
    main()
