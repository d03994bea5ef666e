"""A task on a cluster executor gives the frame it gives on a local one, dtypes included."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Provider, pipeline
from glacier.config import LocalConfig, SparkConfig
from glacier.spark.modes import run_spark_task

pytestmark = pytest.mark.spark

SOURCE = pl.DataFrame(
    {
        "k": [1, 2, 1, 3, 2, 1],
        "s": ["a", "b", "a", "c", "b", "a"],
        "x": [1.5, 2.0, 3.5, 4.0, 5.0, 6.5],
        "d": [dt.date(2024, 1, i) for i in range(1, 7)],
    }
)


def typed(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Row-local: the types Spark cannot keep as they are (small ints are fine)."""
    return lf.select(
        "k",
        u8=pl.col("k").cast(pl.UInt8),
        u32=pl.col("k").cast(pl.UInt32),
        u64=pl.col("k").cast(pl.UInt64),
        i8=pl.col("k").cast(pl.Int8),
        cat=pl.col("s").cast(pl.Categorical),
        enum=pl.col("s").cast(pl.Enum(["a", "b", "c"])),
        dur=pl.duration(days=pl.col("k"), time_unit="ms"),
        ts=pl.col("d").cast(pl.Datetime("ns", "Europe/Paris")),
        lst=pl.concat_list(pl.col("k").cast(pl.UInt16), pl.lit(7, dtype=pl.UInt16)),
        arr=pl.concat_list("x", "x").list.to_array(2),
        st=pl.struct(a=pl.col("k").cast(pl.UInt32), e=pl.col("s").cast(pl.Categorical)),
        f32=pl.col("x").cast(pl.Float32),
    )


def counted(lf: pl.LazyFrame) -> pl.LazyFrame:
    """Group-local, like TPC-H q1: ``pl.len()`` is ``u32``."""
    return lf.group_by("k").agg(
        count_order=pl.len(), total=pl.col("x").sum(), ss=pl.col("s").cast(pl.Categorical).first()
    )


@pytest.mark.parametrize(
    ("mode", "fn"),
    [("whole", typed), ("partitioned", typed), ("grouped", counted), ("whole", counted)],
)
def test_cluster_equals_local(spark: Any, tmp_path: Path, mode: str, fn: Any) -> None:
    (tmp_path / "raw").mkdir()
    SOURCE.write_parquet(tmp_path / "raw" / "in.parquet")
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    source = provider.bucket("raw", "in.parquet")
    here = provider.local()
    cluster = provider.cluster(config=SparkConfig(master="local[2]"))

    @here.task()
    def load(src: Any) -> pl.LazyFrame:
        return src.scan()

    on_cluster = cluster.task(
        partitioned=mode == "partitioned", by=["k"] if mode == "grouped" else None
    )(fn)
    on_local = here.task(name=f"{fn.__name__}_local")(fn)

    @pipeline(name="same_dtypes")
    def both() -> dict[str, Any]:
        frame = load(source)
        return {"cluster": on_cluster(frame), "local": on_local(frame)}

    out = both.run(cache=False).output
    local, cluster_out = out["local"], out["cluster"]
    assert cluster_out.schema == local.schema
    assert_frame_equal(cluster_out.sort("k"), local.sort("k"), check_row_order=False)


@pytest.mark.parametrize("mode", ["partitioned", "grouped"])
def test_types_that_depend_on_the_data_are_refused(spark: Any, tmp_path: Path, mode: str) -> None:
    """Spark is told the types of the task's output on an empty frame; other types on real
    rows would come back differently from a local run, so the worker refuses them."""

    def shifty(lf: pl.LazyFrame) -> pl.DataFrame:
        df = lf.collect()
        return df.select("k", v=pl.col("x").cast(pl.Float32 if df.height else pl.Float64))

    SOURCE.write_parquet(tmp_path / "in.parquet")
    with pytest.raises(Exception, match=r"'v': Float32 \(declared Float64\).*pass schema="):
        run_spark_task(
            spark,
            shifty,
            tmp_path / "in.parquet",
            tmp_path / "out",
            partitioned=mode == "partitioned",
            by=["k"] if mode == "grouped" else None,
        )


def seen(lf: pl.LazyFrame) -> pl.LazyFrame:
    """The rows the function was given, each with the types it was given them with."""
    return lf.with_columns(schema=pl.lit(repr(list(lf.collect_schema().items()))))


def seen_two(a: pl.LazyFrame, b: pl.LazyFrame) -> pl.LazyFrame:
    return seen(a).join(seen(b), on="u32", suffix="_b")


def staged_typed(lf: pl.LazyFrame) -> pl.LazyFrame:
    """``typed`` as a Polars task hands it to Spark: Spark cannot read nanosecond times."""
    return typed(lf).with_columns(pl.col("ts").dt.cast_time_unit("us"))


def assert_same(cluster: pl.DataFrame, local: pl.DataFrame) -> None:
    assert_frame_equal(cluster.sort("k"), local.sort("k"), check_row_order=False)


@pytest.mark.parametrize("mode", ["whole", "partitioned", "grouped"])
def test_the_function_gets_the_input_types_it_gets_locally(
    spark: Any, tmp_path: Path, mode: str
) -> None:
    """Spark reads a ``u8`` column as ``i16``, a categorical as a string...: the function is
    given its input with the Polars types the upstream produced, whether a Polars task (staged
    as Parquet) or a Spark task (whose output recorded them)."""
    (tmp_path / "raw").mkdir()
    SOURCE.write_parquet(tmp_path / "raw" / "in.parquet")
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    source = provider.bucket("raw", "in.parquet")
    here = provider.local()
    cluster = provider.cluster(config=SparkConfig(master="local[2]"))
    spread = {"partitioned": mode == "partitioned", "by": ["k"] if mode == "grouped" else None}

    @here.task()
    def load(src: Any) -> pl.LazyFrame:
        return staged_typed(src.scan())

    on_cluster = cluster.task(**spread)(seen)
    after_spark = cluster.task(name="seen_after_spark", **spread)(seen)
    typed_on_spark = cluster.task(name="typed_on_spark", partitioned=True)(staged_typed)
    on_local = here.task(name="seen_local")(seen)

    @pipeline(name="input_dtypes")
    def both() -> dict[str, Any]:
        frame = load(source)
        return {
            "local": on_local(frame),
            "cluster": on_cluster(frame),
            "after_spark": after_spark(typed_on_spark(source)),
        }

    out = both.run(cache=False).output
    local = out["local"]
    assert "UInt8" in local["schema"][0] and "Categorical" in local["schema"][0]
    assert_same(out["cluster"], local)
    assert_same(out["after_spark"], local)


def test_each_frame_of_a_several_frame_task_gets_its_types(spark: Any, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    SOURCE.write_parquet(tmp_path / "raw" / "in.parquet")
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    here = provider.local()
    cluster = provider.cluster(config=SparkConfig(master="local[2]"))

    @here.task()
    def load(src: Any) -> pl.LazyFrame:
        return staged_typed(src.scan())

    @here.task()
    def narrow(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.select("u32", "enum", "dur").unique("u32")

    on_cluster = cluster.task()(seen_two)
    on_local = here.task(name="seen_two_local")(seen_two)

    @pipeline(name="input_dtypes_two")
    def both() -> dict[str, Any]:
        frame = load(provider.bucket("raw", "in.parquet"))
        small = narrow(frame)
        return {"local": on_local(frame, small), "cluster": on_cluster(frame, small)}

    out = both.run(cache=False).output
    assert "UInt32" in out["local"]["schema_b"][0]
    assert_same(out["cluster"], out["local"])
