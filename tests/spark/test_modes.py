"""The three Spark modes give exactly what the same task gives in plain Polars."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier.spark import FrameTooLargeError, SparkTaskError
from glacier.spark.modes import (
    driver_memory,
    estimate_row_bytes,
    run_grouped,
    run_partitioned,
    run_spark_task,
    run_whole_frame,
    ship_by_value,
)
from glacier.spark.types import restore_polars_types

pytestmark = pytest.mark.spark

N_ROWS = 20_000


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pl.DataFrame]:
    """Two Parquet files; read back through Spark the unsigned column is widened."""
    n = N_ROWS
    df = pl.DataFrame(
        {
            "id": pl.int_range(n, eager=True),
            "k": (pl.int_range(n, eager=True) % 13).cast(pl.UInt8),
            "x": (pl.int_range(n, eager=True) * 7919 % 1000).cast(pl.Float64) / 10,
            "s": [f"name-{i % 101}" for i in range(n)],
        }
    )
    d = tmp_path_factory.mktemp("src")
    df.head(n // 2).write_parquet(d / "part-0.parquet")
    df.tail(n - n // 2).write_parquet(d / "part-1.parquet")
    return d, df


def read_output(path: Path) -> pl.DataFrame:
    return pl.read_parquet(path / "*.parquet")


def assert_same_rows(actual: pl.DataFrame, expected: pl.DataFrame) -> None:
    actual = restore_polars_types(actual, expected.schema)
    cols = expected.columns
    assert_frame_equal(actual.select(cols).sort(cols), expected.sort(cols))


def row_task(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Module-level task: the module is not importable on the workers."""
    return lf.filter(pl.col("x") > 25).with_columns(
        y=pl.col("x") * 2 + pl.col("id"),
        tag=pl.col("s").str.to_uppercase().cast(pl.Categorical),
        k_plus=pl.col("k") + 1,
    )


def test_partitioned_matches_polars(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, df = source
    written = run_partitioned(
        spark, row_task, [src / "part-0.parquet", src / "part-1.parquet"], out_dir
    )
    expected = row_task(df.lazy()).collect()
    assert written.rows == expected.height
    assert_same_rows(read_output(out_dir), expected)


def test_partitioned_closure_and_overwrite(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, df = source
    for threshold in (90.0, 50.0):  # the second run overwrites the first

        def closure_task(lf: pl.LazyFrame, t: float = threshold) -> pl.DataFrame:
            return lf.filter(pl.col("x") >= t).select("id", "x", n=pl.len()).collect()

        written = run_partitioned(
            spark, lambda lf: closure_task(lf).lazy().select("id", "x"), str(src), out_dir
        )
    expected = df.filter(pl.col("x") >= 50.0).select("id", "x")
    assert written.rows == expected.height
    assert_same_rows(read_output(out_dir), expected)


def group_task(lf: pl.LazyFrame) -> pl.LazyFrame:
    return lf.group_by("k").agg(
        n=pl.len(),  # UInt32: widened to Int64 on the way to Spark
        total=pl.col("x").sum(),
        first_s=pl.col("s").sort().first(),
        ids=pl.col("id").sort().head(3),
    )


def test_grouped_matches_polars(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, df = source
    written = run_grouped(spark, group_task, src, out_dir, by=["k"])
    expected = group_task(df.lazy()).collect().with_columns(pl.col("k").cast(pl.Int16))
    assert written.rows == 13
    actual = read_output(out_dir)
    assert actual.schema["n"] == pl.Int64
    assert_same_rows(actual, expected.with_columns(pl.col("total").round(6)))


def whole_task(lf: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lf.sort("id")
        .with_columns(running=pl.col("x").cum_sum(), rank=pl.col("x").rank("dense"))
        .filter(pl.col("id") % 5 == 0)
    )


def test_whole_frame_matches_polars(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, df = source
    written = run_spark_task(spark, whole_task, src, out_dir)
    expected = whole_task(df.lazy()).collect().with_columns(pl.col("k").cast(pl.Int16))
    assert written.rows == expected.height
    assert_same_rows(read_output(out_dir), expected)


def test_whole_frame_size_guard_rows(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, _ = source
    with pytest.raises(FrameTooLargeError) as info:
        run_whole_frame(spark, whole_task, src, out_dir, max_rows=1000)
    message = str(info.value)
    assert f"{N_ROWS:,} rows" in message
    assert "partitioned=True" in message
    assert "by=[...]" in message
    assert not out_dir.exists()


def test_whole_frame_size_guard_bytes(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, _ = source
    with pytest.raises(FrameTooLargeError, match=r"max_bytes=.*partitioned=True"):
        run_spark_task(spark, whole_task, src, out_dir, max_rows=None, max_bytes=10_000)


def test_estimate_row_bytes() -> None:
    schema = pl.Schema(
        [("a", pl.Int64()), ("b", pl.Boolean()), ("s", pl.String()), ("l", pl.List(pl.Int32))]
    )
    assert estimate_row_bytes(schema) == 8 + 1 + 32 + (8 + 4 * 4)


def test_mode_argument_errors(spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path) -> None:
    src, _ = source
    with pytest.raises(SparkTaskError, match="not both"):
        run_spark_task(spark, row_task, src, out_dir, partitioned=True, by=["k"])
    with pytest.raises(SparkTaskError, match="nope"):
        run_grouped(spark, group_task, src, out_dir, by=["nope"])
    with pytest.raises(SparkTaskError, match="no input"):
        run_partitioned(spark, row_task, [], out_dir)


def test_bad_output_type_fails_on_driver(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, _ = source

    def int128_task(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.select(big=pl.col("id").cast(pl.Int128))

    with pytest.raises(SparkTaskError, match=r"'big'.*Int128"):
        run_partitioned(spark, int128_task, src, out_dir)


def test_task_pickled_by_value(tmp_path: Path) -> None:
    """The mapper unpickles in a process that can import neither glacier nor this module."""
    pytest.importorskip("pyspark")
    import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]  # noqa: PLC0415
    from pyspark import cloudpickle as spark_cloudpickle  # noqa: PLC0415 - after the check that pyspark exists

    from glacier.spark._worker import make_batch_mapper  # noqa: PLC0415 - after the check that pyspark exists

    target = pa.schema(
        [
            ("id", pa.int64()),
            ("k", pa.int16()),
            ("x", pa.float64()),
            ("s", pa.string()),
            ("y", pa.float64()),
            ("tag", pa.string()),
            ("k_plus", pa.int16()),
        ]
    )
    spark_pickle: Any = spark_cloudpickle
    ship_by_value(row_task)
    blob = tmp_path / "mapper.pkl"
    spark_input = {"id": pl.Int64, "k": pl.Int16, "x": pl.Float64, "s": pl.String}
    declared = row_task(pl.LazyFrame(schema=spark_input)).collect_schema()
    blob.write_bytes(spark_pickle.dumps(make_batch_mapper(row_task, declared, target)))
    script = f"""
import sys, pickle
import pyarrow as pa
sys.modules["glacier"] = None          # importing glacier now fails
sys.modules[{__name__!r}] = None       # and so does this test module
fn = pickle.loads(open({str(blob)!r}, "rb").read())
batch = pa.record_batch({{"id": [1, 2], "k": pa.array([3, 4], pa.int16()),
                         "x": [10.0, 30.0], "s": ["a", "b"]}})
out = pa.Table.from_batches(list(fn(iter([batch]))))
assert out.num_rows == 1 and out.schema.field("tag").type == pa.string(), out
print("ok")
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_explicit_schema_when_inference_fails(
    spark: Any, source: tuple[Path, pl.DataFrame], out_dir: Path
) -> None:
    src, df = source

    def picky(lf: pl.LazyFrame) -> pl.DataFrame:
        out = lf.filter(pl.col("id") < 10).collect()
        if out.is_empty() and lf.collect().is_empty():
            raise ValueError("needs data")
        return out.select("id", half=pl.col("x") / 2)

    with pytest.raises(SparkTaskError, match=r"needs data.*pass schema="):
        run_partitioned(spark, picky, src, out_dir)
    schema = {"id": pl.Int64, "half": pl.Float64}
    assert run_partitioned(spark, picky, src, out_dir, schema=schema).rows == 10
    expected = df.filter(pl.col("id") < 10).select("id", half=pl.col("x") / 2)
    assert_same_rows(read_output(out_dir), expected)


def test_whole_frame_over_the_driver_s_memory_is_refused_with_the_setting_to_raise(
    spark: Any, tmp_path: Path, out_dir: Path
) -> None:
    """Under max_rows and max_bytes, but about 550 MiB for a 1g driver: collecting it would
    kill the driver (Py4JNetworkError), so it is refused up front, naming the frame's size."""
    rows = 9_000_000
    wide = pl.DataFrame(
        {"s": pl.repeat("x", rows, eager=True), "t": pl.repeat("y", rows, eager=True)}
    )
    src = tmp_path / "wide.parquet"
    wide.write_parquet(src)
    assert driver_memory(spark) == 1024**3  # Spark's default, which the shared session keeps
    with pytest.raises(FrameTooLargeError) as info:
        run_spark_task(spark, whole_task, src, out_dir)
    message = str(info.value)
    assert "549.3 MiB" in message and f"{rows:,} rows" in message
    assert "spark.driver.memory" in message and "1,024.0 MiB" in message
    assert not out_dir.exists()
