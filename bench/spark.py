"""Benchmark Glacier's partitioned Spark mode.

Compares, on the same generated Parquet data (median of N runs after one warm-up):

* ``glacier pipeline``: a pipeline whose one ``@cluster.task(partitioned=True)`` reads the
  bucket's files with Spark (what a user writes; adds tracing, scheduling and staging);
* ``glacier run_partitioned``: the Spark mode alone (reads, infers the output schema on an
  empty frame, ``mapInArrow``, writes, counts the rows written);
* ``hand-written mapInArrow``: the same job written directly in PySpark with a hand-made
  schema (read, ``mapInArrow``, write);
* ``plain polars``: ``scan_parquet -> task -> sink_parquet`` on one machine, for reference.

Run:  python bench/spark.py [--rows 3000000] [--repeat 3] [--master local[2]]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from glacier import Provider, pipeline
from glacier.config import LocalConfig, SparkConfig


def task(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.filter(pl.col("x") > 0.25).with_columns(
        y=pl.col("x") * 2 + pl.col("k"),
        s2=pl.col("s").str.to_uppercase(),
        day=pl.col("ts").dt.date(),
    )


def generate(directory: Path, rows: int, files: int) -> list[Path]:
    per_file = rows // files
    paths = []
    for i in range(files):
        start = i * per_file
        idx = pl.int_range(start, start + per_file, eager=True)
        df = pl.DataFrame(
            {
                "id": idx,
                "k": (idx % 1000).cast(pl.Int32),
                "x": ((idx * 7919) % 10_000).cast(pl.Float64) / 10_000,
                "s": pl.Series("s", [f"name-{v}" for v in range(1000)]).gather(idx % 1000),
                # one second apart from 2024-01-01, in microseconds
                "ts": ((idx % 1_000_000) * 1_000_000 + 1_704_067_200_000_000).cast(
                    pl.Datetime("us")
                ),
            }
        )
        path = directory / f"part-{i}.parquet"
        df.write_parquet(path)
        paths.append(path)
    return paths


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    fn()  # warm-up: starts Python workers, JIT, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), min(times)


def hand_written(spark: Any, inputs: list[str], output: str) -> None:
    from pyspark.sql.types import (  # noqa: PLC0415 - pyspark is optional: --help works without it
        DateType,
        DoubleType,
        IntegerType,
        LongType,
        StringType,
        StructField,
        StructType,
        TimestampNTZType,
    )

    schema = StructType(
        [
            StructField("id", LongType()),
            StructField("k", IntegerType()),
            StructField("x", DoubleType()),
            StructField("s", StringType()),
            StructField("ts", TimestampNTZType()),
            StructField("y", DoubleType()),
            StructField("s2", StringType()),
            StructField("day", DateType()),
        ]
    )
    target = pa.schema(
        [
            ("id", pa.int64()),
            ("k", pa.int32()),
            ("x", pa.float64()),
            ("s", pa.string()),
            ("ts", pa.timestamp("us")),
            ("y", pa.float64()),
            ("s2", pa.string()),
            ("day", pa.date32()),
        ]
    )

    def fn(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for rb in batches:
            out = task(pl.from_arrow(rb).lazy()).collect()  # type: ignore[union-attr]
            yield from out.to_arrow().cast(target).to_batches()

    df = spark.read.parquet(*inputs).mapInArrow(fn, schema)
    df.write.mode("overwrite").parquet(output)


def glacier_pipeline(root: Path, master: str) -> Callable[[], Any]:
    """``run`` of a one-task pipeline over the generated files in ``root/raw``."""

    provider = Provider(config=LocalConfig(base_path=root))
    parts = provider.bucket("raw", "part-*.parquet")
    spread = provider.cluster(config=SparkConfig(master=master)).task(partitioned=True)(task)

    @pipeline(name="bench_spark")
    def bench() -> None:
        spread(parts)  # no consumer: Spark writes the output to staging, nothing is collected

    return lambda: bench.run(cache=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)

    from glacier.spark.modes import run_partitioned  # noqa: PLC0415 - pyspark is optional: --help works without it
    from glacier.spark.session import SparkSettings, get_session, stop_session  # noqa: PLC0415 - pyspark is optional: --help works without it

    with tempfile.TemporaryDirectory(prefix="glacier-bench-spark-") as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        (root / "raw").mkdir()
        paths = generate(root / "raw", args.rows, args.files)
        gen_s = time.perf_counter() - started
        size_mb = sum(p.stat().st_size for p in paths) / 1e6
        inputs = [str(p) for p in paths]

        started = time.perf_counter()
        # The settings a cluster executor uses, so the pipeline reuses this session.
        spark = get_session(SparkSettings(master=args.master))
        spark.range(1).count()
        start_s = time.perf_counter() - started

        written = run_partitioned(spark, task, inputs, root / "glacier")
        expected = task(pl.scan_parquet(inputs)).select(pl.len()).collect().item()
        assert written == expected, (written, expected)

        results = {
            "glacier pipeline": timed(glacier_pipeline(root, args.master), args.repeat),
            "glacier run_partitioned": timed(
                lambda: run_partitioned(spark, task, inputs, root / "glacier"), args.repeat
            ),
            "hand-written mapInArrow": timed(
                lambda: hand_written(spark, inputs, str(root / "hand")), args.repeat
            ),
            "plain polars": timed(
                lambda: task(pl.scan_parquet(inputs)).sink_parquet(root / "polars.parquet"),
                args.repeat,
            ),
        }
        stop_session()

    hand = results["hand-written mapInArrow"][0]
    print(
        f"\n{args.rows:,} rows in {args.files} files ({size_mb:.0f} MB parquet, generated in "
        f"{gen_s:.1f} s); {written:,} rows out; master {args.master}; "
        f"session start + first job {start_s:.1f} s; median of {args.repeat} after a warm-up\n"
    )
    print(f"| {'job':<26} | {'median s':>8} | {'min s':>6} | {'vs hand':>7} |")
    print(f"|{'-' * 28}|{'-' * 10}|{'-' * 8}|{'-' * 9}|")
    for name, (median, best) in results.items():
        print(f"| {name:<26} | {median:>8.2f} | {best:>6.2f} | {median / hand:>6.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
