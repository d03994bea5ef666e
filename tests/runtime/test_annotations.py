"""A bucket argument reaches a task as its parameter's annotation asks, on every executor kind:
``pl.LazyFrame`` scanned, ``pl.DataFrame`` read, ``Bucket`` or none as a bucket whose
``scan()``/``read()`` give its rows (on a cluster, the rows Spark read)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Bucket, Provider, pipeline
from glacier.config import LocalConfig, SparkConfig, VmConfig
from glacier.resources.executor import Executor
from tests.spark.conftest import spark

if TYPE_CHECKING:
    from glacier import NoSuchType  # type: ignore[attr-defined]  # never resolves at run time

__all__ = ["spark"]

ROWS = pl.DataFrame({"a": [3, 1, 2]})


def _received(lazy: pl.LazyFrame, eager: pl.DataFrame, typed: Bucket, bare: Any) -> pl.DataFrame:
    """What each parameter got: its type, and the rows it gives."""
    return pl.DataFrame(
        {
            "lazy": [type(lazy).__name__],
            "eager": [type(eager).__name__],
            "typed": [type(typed).__name__],
            "bare": [type(bare).__name__],
            "lazy_sum": [lazy.select(pl.col("a").sum()).collect().item()],
            "eager_sum": [eager["a"].sum()],
            "typed_sum": [typed.scan().select(pl.col("a").sum()).collect().item()],
            "bare_sum": [bare.read()["a"].sum()],
        }
    )


EXECUTORS: dict[str, Callable[[Provider], Executor]] = {
    "local": lambda p: p.local(),
    "serverless": lambda p: p.serverless(),
    "vm": lambda p: p.vm(config=VmConfig(cpus=1, memory=1024)),
    "cluster": lambda p: p.cluster(config=SparkConfig(master="local[2]")),
}
BUCKET_TYPE = {"local": "Bucket", "serverless": "Bucket", "vm": "Bucket", "cluster": "SparkRead"}


@pytest.fixture
def rows(tmp_path: Path) -> Provider:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    (tmp_path / "raw").mkdir()
    ROWS.write_parquet(tmp_path / "raw" / "a.parquet")
    return provider


@pytest.mark.parametrize("kind", list(EXECUTORS))
def test_a_bucket_arrives_as_the_parameter_is_annotated(
    kind: str, rows: Provider, request: pytest.FixtureRequest
) -> None:
    if kind == "vm":
        pytest.importorskip("distributed", reason="pip install 'glacier-pipelines[vm]'")
    if kind == "cluster":
        request.getfixturevalue("spark")
    source = rows.bucket("raw", "a.parquet")
    received = EXECUTORS[kind](rows).task(cache=False)(_received)

    @pipeline(name=f"annotations_{kind}")
    def each() -> pl.LazyFrame:
        return received(source, eager=source, typed=source, bare=source)

    got = each.run().output
    expected = pl.DataFrame(
        {
            "lazy": ["LazyFrame"],
            "eager": ["DataFrame"],
            "typed": [BUCKET_TYPE[kind]],
            "bare": [BUCKET_TYPE[kind]],
            "lazy_sum": [6],
            "eager_sum": [6],
            "typed_sum": [6],
            "bare_sum": [6],
        }
    )
    assert_frame_equal(got, expected, check_dtypes=False)


def test_annotations_are_resolved_once_and_tolerate_names_that_do_not_resolve(
    rows: Provider,
) -> None:
    def odd(df: pl.DataFrame, other: NoSuchType, last: pl.LazyFrame) -> pl.DataFrame:
        return df

    def fine(df: pl.DataFrame, later: pl.LazyFrame, n: int) -> pl.DataFrame:
        return df

    assert rows.local().task()(odd).readings == {"df": "read", "last": "scan"}
    task = rows.local().task()(fine)
    assert task.readings == {"df": "read", "later": "scan"}
    assert task.readings_for(1, {"later": None}) == {0: "read", "later": "scan"}
