"""Grouped mode calls the task on batches of whole groups: never part of a group, many at once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pytest
from polars.testing import assert_frame_equal

from glacier.spark._worker import make_group_mapper, split_last_group
from glacier.spark.modes import run_grouped
from glacier.spark.types import arrow_schema_for_spark

pytestmark = pytest.mark.spark

BATCH_ROWS = 100


@pytest.fixture
def small_batches(spark: Any) -> Iterator[None]:
    """Arrow batches of 100 rows, so the workers join many batches into one call."""
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    before = spark.conf.get(key)
    spark.conf.set(key, str(BATCH_ROWS))
    yield
    spark.conf.set(key, before)


def per_call(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Each group's size, and how many groups the call that saw it saw."""
    return (
        lf.group_by("a", "b")
        .agg(n=pl.len(), total=pl.col("v").sum())
        .with_columns(groups_in_call=pl.len())
    )


def test_each_group_whole_in_one_call(spark: Any, small_batches: None, tmp_path: Path) -> None:
    # 200 groups of 25 rows, 50 with null keys, one group of 1,000 rows (ten batches)
    n = 6_000
    big = pl.col("i") >= n - 1_000
    df = pl.DataFrame({"i": range(n)}).select(
        a=pl.when(big).then(7).when(pl.col("i") < 1_000).then(None).otherwise(pl.col("i") % 40),
        b=pl.when(big).then(pl.lit("big")).otherwise((pl.col("i") % 50).cast(pl.String)),
        v=pl.col("i"),
    )
    df.sample(fraction=1.0, shuffle=True, seed=1).write_parquet(tmp_path / "in.parquet")

    written = run_grouped(spark, per_call, tmp_path / "in.parquet", tmp_path / "out", by=["a", "b"])

    got = pl.read_parquet(tmp_path / "out" / "*.parquet")
    expected = df.group_by("a", "b").agg(n=pl.len(), total=pl.col("v").sum())
    assert written.rows == expected.height == got.height  # no group split over two calls
    keys = ["a", "b"]
    assert_frame_equal(
        got.drop("groups_in_call").sort(keys, nulls_last=True),
        expected.sort(keys, nulls_last=True),
        check_dtypes=False,
    )
    assert got["groups_in_call"].max() > 50  # many groups per call, not one call per group
    assert written.schema["n"] == pl.UInt32  # what the task returned, to restore


def test_split_last_group_keeps_nulls_together() -> None:
    df = pl.DataFrame({"k": [1, 1, 2, None, None], "j": ["x", "x", "y", None, None]})
    whole, rest = split_last_group(df, ["k", "j"])
    assert whole["k"].to_list() == [1, 1, 2]
    assert rest.height == 2
    whole, rest = split_last_group(df.head(2), ["k"])
    assert whole.is_empty() and rest.height == 2  # one group so far: wait for more rows


def test_groups_straddling_chunks_stay_whole() -> None:
    """Chunks of 100 rows over sorted batches: a group of 250 rows spans three chunks and
    still reaches the task in one call, after the groups before it."""
    sizes = {1: 30, 2: 250, 3: 5, 4: 120}
    df = pl.DataFrame({"k": [k for k, n in sizes.items() for _ in range(n)]})
    df = df.with_columns(v=pl.int_range(pl.len()))

    def calls(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.group_by("k").agg(n=pl.len()).with_columns(call=pl.col("k").min())

    declared = calls(df.lazy().head(0)).collect_schema()
    mapper = make_group_mapper(calls, ["k"], declared, arrow_schema_for_spark(declared), 100)
    batches = df.to_arrow().to_batches(max_chunksize=40)
    got = pl.from_arrow(pa.Table.from_batches(list(mapper(iter(batches)))))
    assert isinstance(got, pl.DataFrame)
    assert dict(zip(got["k"], got["n"], strict=True)) == sizes
    assert got.group_by("call").len().height < len(sizes)  # several groups share a call
