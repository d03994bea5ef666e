"""Benchmark Glacier's partitioned and grouped Spark modes.

Partitioned, on the same generated Parquet data (median of N runs after one warm-up):

* ``glacier pipeline``: a pipeline whose one ``@cluster.task(partitioned=True)`` reads the
  bucket's files with Spark (what a user writes; adds tracing, scheduling and staging);
* ``glacier run_partitioned``: the Spark mode alone (reads, infers the output schema on an
  empty frame, ``mapInArrow``, writes, counts the rows written);
* ``hand-written mapInArrow``: the same job written directly in PySpark with a hand-made
  schema (read, ``mapInArrow``, write);
* ``plain polars``: ``scan_parquet -> task -> sink_parquet`` on one machine, for reference;
* where the time goes: ``spark read+write`` (the Parquet read and write, no Python),
  ``mapInArrow identity`` (plus the Arrow hand-off to Python workers, no Polars), and
  ``run_partitioned`` with Arrow batches of 100,000 rows instead of Spark's 10,000
  (``spark.sql.execution.arrow.maxRecordsPerBatch``).

Grouped, a TPC-H q18-like aggregation per ``l_orderkey`` on a lineitem-like frame (about 4
rows per order):

* ``glacier run_grouped``: shuffle and sort by the key, the task on batches of whole groups;
* ``hand-written applyInArrow``: ``groupBy(key).applyInArrow``, the function once per group.
  At about a millisecond per group it would run for half an hour on TPC-H's 1.5 M orders, so
  above ``--hand-groups`` groups (default 50,000) both jobs are also timed on a file of that
  many groups, side by side, and the hand-written job's time at the full count is that time
  scaled by the group count (its cost is per group), marked as an estimate.

Run:  python bench/spark.py [--rows 3000000] [--orders 20000] [--hand-groups 50000] [--repeat 3]
[--master local[2]]
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


def q18(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Group-local: quantity and line count per order (TPC-H q18's inner aggregation)."""
    return lf.group_by("l_orderkey").agg(sum_qty=pl.col("l_quantity").sum(), lines=pl.len())


def generate_lineitem(path: Path, orders: int) -> int:
    """A lineitem-like file: 1-7 lines per order, shuffled so Spark must group."""
    per_order = (pl.int_range(orders, eager=True) * 7919 % 7 + 1).cast(pl.Int64)
    keys = pl.int_range(orders, eager=True).repeat_by(per_order).explode()
    n = keys.len()
    idx = pl.int_range(n, eager=True)
    df = pl.DataFrame(
        {
            "l_orderkey": keys,
            "l_quantity": ((idx * 31) % 50 + 1).cast(pl.Float64),
            "l_comment": pl.Series([f"comment {v}" for v in range(100)]).gather(idx % 100),
        }
    ).sample(fraction=1.0, shuffle=True, seed=0)
    df.write_parquet(path)
    return n


def hand_grouped(spark: Any, source: str, output: str) -> None:
    from pyspark.sql.types import (  # noqa: PLC0415 - pyspark is optional: --help works without it
        DoubleType,
        LongType,
        StructField,
        StructType,
    )

    schema = StructType(
        [
            StructField("l_orderkey", LongType()),
            StructField("sum_qty", DoubleType()),
            StructField("lines", LongType()),
        ]
    )
    target = pa.schema(
        [("l_orderkey", pa.int64()), ("sum_qty", pa.float64()), ("lines", pa.int64())]
    )

    def fn(table: pa.Table) -> pa.Table:
        out = q18(pl.from_arrow(table).lazy()).collect()  # type: ignore[union-attr]
        return out.to_arrow().cast(target)

    grouped = spark.read.parquet(source).groupBy("l_orderkey").applyInArrow(fn, schema)
    grouped.write.mode("overwrite").parquet(output)


def spark_copy(spark: Any, inputs: list[str], output: str) -> None:
    spark.read.parquet(*inputs).write.mode("overwrite").parquet(output)


def arrow_identity(spark: Any, inputs: list[str], output: str) -> None:
    def fn(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        yield from batches

    sdf = spark.read.parquet(*inputs)
    sdf.mapInArrow(fn, sdf.schema).write.mode("overwrite").parquet(output)


def with_batch_rows(spark: Any, rows: int, fn: Callable[[], Any]) -> Callable[[], Any]:
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"

    def run() -> Any:
        before = spark.conf.get(key)
        spark.conf.set(key, str(rows))
        try:
            return fn()
        finally:
            spark.conf.set(key, before)

    return run


def timed(label: str, fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and best of ``repeat`` runs after a warm-up, also printed as soon as known: a
    slow case later in the bench (the hand-written grouped job) must not hide the others."""
    fn()  # warm-up: starts Python workers, JIT, caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    median, best = statistics.median(times), min(times)
    print(f"  {label}: median {median:.2f} s, best {best:.2f} s", file=sys.stderr, flush=True)
    return median, best


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


def grouped_cases(
    spark: Any, root: Path, lineitem: str, args: argparse.Namespace
) -> tuple[dict[str, tuple[float, float]], str]:
    """Both grouped jobs on ``lineitem``, or, above ``--hand-groups`` groups, Glacier's on it and
    both on a file of that many groups, with the hand-written job's estimate at full size; and
    the case the others are compared with."""
    from glacier.spark.modes import run_grouped  # noqa: PLC0415 - pyspark is optional: --help works without it

    def case(name: str, job: Callable[[], Any]) -> tuple[str, tuple[float, float]]:
        return name, timed(name, job, args.repeat)

    def glacier(source: str, label: str) -> tuple[str, tuple[float, float]]:
        return case(
            f"glacier run_grouped{label}",
            lambda: run_grouped(spark, q18, source, root / "grouped", by=["l_orderkey"]),
        )

    def hand(source: str, label: str) -> tuple[str, tuple[float, float]]:
        return case(
            f"hand-written applyInArrow{label}",
            lambda: hand_grouped(spark, source, str(root / "hand_grouped")),
        )

    if args.orders <= args.hand_groups:
        return dict([glacier(lineitem, ""), hand(lineitem, "")]), "hand-written applyInArrow"
    sample = root / "lineitem_sample.parquet"
    generate_lineitem(sample, args.hand_groups)
    label = f" ({args.hand_groups:,} groups)"
    results = dict([glacier(lineitem, ""), glacier(str(sample), label), hand(str(sample), label)])
    against = f"hand-written applyInArrow{label}"
    median, best = results[against]
    scale = args.orders / args.hand_groups
    results["hand-written applyInArrow (estimate)"] = (median * scale, best * scale)
    return results, against


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--orders", type=int, default=20_000, help="groups of the grouped case")
    parser.add_argument(
        "--hand-groups",
        type=int,
        default=50_000,
        help="most groups the hand-written applyInArrow job runs on (estimated beyond)",
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args(argv)

    from glacier.spark.modes import run_grouped, run_partitioned  # noqa: PLC0415 - pyspark is optional: --help works without it
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

        written = run_partitioned(spark, task, inputs, root / "glacier").rows
        expected = task(pl.scan_parquet(inputs)).select(pl.len()).collect().item()
        assert written == expected, (written, expected)
        lineitem = str(root / "lineitem.parquet")
        lines = generate_lineitem(root / "lineitem.parquet", args.orders)
        grouped = run_grouped(spark, q18, lineitem, root / "grouped", by=["l_orderkey"])
        assert grouped.rows == args.orders, grouped

        def partitioned() -> Any:
            return run_partitioned(spark, task, inputs, root / "glacier")

        results = {
            "glacier pipeline": timed(
                "glacier pipeline", glacier_pipeline(root, args.master), args.repeat
            ),
            "glacier run_partitioned": timed("glacier run_partitioned", partitioned, args.repeat),
            "hand-written mapInArrow": timed(
                "hand-written mapInArrow",
                lambda: hand_written(spark, inputs, str(root / "hand")),
                args.repeat,
            ),
            "plain polars": timed(
                "plain polars",
                lambda: task(pl.scan_parquet(inputs)).sink_parquet(root / "polars.parquet"),
                args.repeat,
            ),
            "spark read+write": timed(
                "spark read+write",
                lambda: spark_copy(spark, inputs, str(root / "copy")),
                args.repeat,
            ),
            "mapInArrow identity": timed(
                "mapInArrow identity",
                lambda: arrow_identity(spark, inputs, str(root / "same")),
                args.repeat,
            ),
            "run_partitioned, 100k/batch": timed(
                "run_partitioned, 100k/batch",
                with_batch_rows(spark, 100_000, partitioned),
                args.repeat,
            ),
        }

        grouped_results, against = grouped_cases(spark, root, lineitem, args)
        stop_session()

    print(
        f"\n{args.rows:,} rows in {args.files} files ({size_mb:.0f} MB parquet, generated in "
        f"{gen_s:.1f} s); {written:,} rows out; master {args.master}; "
        f"session start + first job {start_s:.1f} s; median of {args.repeat} after a warm-up\n"
    )
    table(results, "hand-written mapInArrow")
    print(f"\ngrouped: {lines:,} lines, {args.orders:,} orders (groups)\n")
    table(grouped_results, against)
    if args.orders > args.hand_groups:
        print(
            f"(estimate: the {args.hand_groups:,}-group time x {args.orders / args.hand_groups:.1f}"
            ", the group count's ratio; the hand-written job calls its function once per group)"
        )
    return 0


def table(results: dict[str, tuple[float, float]], against: str) -> None:
    hand = results[against][0]
    width = max(len(name) for name in results)
    print(f"| {'job':<{width}} | {'median s':>8} | {'min s':>6} | {'vs hand':>7} |")
    print(f"|{'-' * (width + 2)}|{'-' * 10}|{'-' * 8}|{'-' * 9}|")
    for name, (median, best) in results.items():
        print(f"| {name:<{width}} | {median:>8.2f} | {best:>6.2f} | {median / hand:>6.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
