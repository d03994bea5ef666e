"""Cluster executors run their tasks on the real Spark session, and give plain Polars' results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import ConfigError, Provider, TaskFailed, pipeline
from glacier.config import DatabricksConfig, LocalConfig, SparkConfig

pytestmark = pytest.mark.spark

SALES = pl.DataFrame(
    {
        "day": [1, 1, 2, 2, 3, 3, 3],
        "store": ["a", "b", "a", "b", "a", "b", "a"],
        "amount": [10.0, -2.0, 5.5, 7.0, 0.0, 3.25, 8.0],
    }
)


def clean(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.filter(pl.col("amount") > 0).with_columns(cents=(pl.col("amount") * 100).cast(int))


def per_store(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.group_by("store").agg(total=pl.col("amount").sum(), n=pl.len().cast(pl.Int64))


def top_day(df: pl.LazyFrame, limit: int) -> pl.LazyFrame:
    return df.sort("amount", descending=True).head(limit)


@pytest.fixture
def provider(tmp_path: Path, spark: Any) -> Provider:
    """A local provider with sales data; ``spark`` keeps one session for the whole test run."""
    (tmp_path / "raw").mkdir()
    SALES.write_parquet(tmp_path / "raw" / "sales.parquet")
    return Provider(config=LocalConfig(base_path=tmp_path))


def sorted_frame(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(df.columns)


def test_local_cluster_local_pipeline_equals_plain_polars(provider: Provider) -> None:
    sales = provider.bucket("raw", "sales.parquet")
    out = provider.bucket("curated", "per-store.parquet")
    here = provider.local()
    cluster = provider.cluster(config=SparkConfig(master="local[2]"))

    @here.task()
    def load(src: Any) -> pl.LazyFrame:
        return src.scan()

    spread = cluster.task(partitioned=True)(clean)
    grouped = cluster.task(by=["store"])(per_store)
    whole = cluster.task()(top_day)

    @here.task()
    def label(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.with_columns(label=pl.lit("spark"))

    @pipeline(name="spark_mixed")
    def mixed(limit: int = 3) -> dict[str, Any]:
        cleaned = spread(load(sales))
        totals = grouped(cleaned)
        out.write(totals)
        return {"totals": label(totals), "top": whole(cleaned, limit)}

    result = mixed.run()

    expected_clean = clean(SALES.lazy())
    expected_totals = per_store(expected_clean).collect()
    assert_frame_equal(
        sorted_frame(result.output["totals"]),
        sorted_frame(expected_totals.with_columns(label=pl.lit("spark"))),
    )
    assert_frame_equal(
        result.output["top"], top_day(expected_clean, 3).collect(), check_row_order=False
    )
    assert_frame_equal(sorted_frame(out.read()), sorted_frame(expected_totals))
    for name in ("clean", "per_store", "top_day"):
        record = result.tasks[name]
        assert (record.backend, record.executor_kind, record.status) == (
            "spark",
            "cluster",
            "succeeded",
        )
    assert result.tasks["clean"].rows == expected_clean.collect().height
    assert result.tasks["per_store"].rows == 2
    assert result.tasks["label"].backend == "thread"


def test_cluster_reads_a_bucket_itself_and_emulates_databricks(provider: Provider) -> None:
    sales = provider.bucket("raw", "sales.parquet")
    databricks = provider.cluster(config=DatabricksConfig(num_workers=2))

    @databricks.task(partitioned=True)
    def positive(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.filter(pl.col("amount") > 0)

    @pipeline(name="spark_bucket")
    def from_bucket() -> pl.LazyFrame:
        return positive(sales)

    result = from_bucket.run()
    assert_frame_equal(
        sorted_frame(result.output), sorted_frame(SALES.filter(pl.col("amount") > 0))
    )
    assert result.tasks["positive"].backend == "spark"


def test_a_failing_spark_task_names_task_and_executor(provider: Provider) -> None:
    sales = provider.bucket("raw", "sales.parquet")
    cluster = provider.cluster()

    @cluster.task()
    def broken(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.select(pl.col("no_such_column"))

    @pipeline(name="spark_broken")
    def fails() -> pl.LazyFrame:
        return broken(sales)

    with pytest.raises(TaskFailed, match=r"task 'broken' failed on executor cluster") as info:
        fails.run()
    assert "no_such_column" in str(info.value)


def test_partitioned_and_by_belong_to_cluster_tasks(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    with pytest.raises(ConfigError, match=r"executor 'local' is local"):
        provider.local().task(partitioned=True)(clean)
    with pytest.raises(ConfigError, match=r"not both"):
        provider.cluster().task(partitioned=True, by=["store"])(clean)
    with pytest.raises(ConfigError, match=r"non-empty list of column names"):
        provider.cluster().task(by="store")(clean)
