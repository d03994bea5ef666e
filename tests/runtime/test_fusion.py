"""Hand-offs: a same-executor chain is one Polars query; a shared input is materialized once."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import polars as pl

from glacier import Provider, pipeline


class Counter:
    """A Python UDF for query plans that counts how often the plan is executed."""

    def __init__(self) -> None:
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, s: pl.Series) -> pl.Series:
        with self._lock:
            self.calls += 1
        return s


def _source(provider: Provider) -> Any:
    bucket = provider.bucket(bucket="raw", path="events.parquet")
    bucket.write(pl.DataFrame({"k": [1, 2, 3, 1, 2, 3], "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]}))
    return bucket


def _staged_files(tmp_path: Path) -> list[Path]:
    return sorted((tmp_path / ".glacier").rglob("*.parquet"))


def test_same_executor_chain_is_collected_once(
    provider: Provider, tmp_path: Path, name: str
) -> None:
    src = _source(provider)
    ex = provider.local()
    counter = Counter()
    received: dict[str, Any] = {}

    @ex.task()
    def load(source: Any) -> pl.LazyFrame:
        return source.scan().with_columns(pl.col("x").map_batches(counter, return_dtype=pl.Float64))

    @ex.task()
    def keep(df: pl.LazyFrame) -> pl.LazyFrame:
        received["keep"] = df
        return df.filter(pl.col("x") > 1.5)

    @ex.task()
    def total(df: pl.LazyFrame) -> pl.LazyFrame:
        received["total"] = df
        return df.group_by("k").agg(pl.col("x").sum()).sort("k")

    @pipeline(name=name)
    def chain() -> Any:
        return total(keep(load(src)))

    result = chain.run(cache=False)  # the cache would keep a copy of the output
    assert counter.calls == 1
    assert result.output.to_dicts() == [
        {"k": 1, "x": 4.0},
        {"k": 2, "x": 7.0},
        {"k": 3, "x": 9.0},
    ]
    assert {n: t.handoff for n, t in result.tasks.items()} == {
        "load": "memory",
        "keep": "memory",
        "total": "collect",
    }
    # the LazyFrame itself was passed on: the last task's input still plans the source scan and
    # the filter, so Polars optimizes and runs the three tasks as one query; nothing was staged
    assert isinstance(received["total"], pl.LazyFrame)
    plan = received["total"].explain()
    assert "events.parquet" in plan and "FILTER" in plan
    assert _staged_files(tmp_path) == []
    assert result.tasks["total"].rows == 3


def test_fan_out_materializes_the_shared_input_once(
    provider: Provider, tmp_path: Path, name: str
) -> None:
    src = _source(provider)
    ex = provider.local()
    counter = Counter()

    @ex.task()
    def load(source: Any) -> pl.LazyFrame:
        return source.scan().with_columns(pl.col("x").map_batches(counter, return_dtype=pl.Float64))

    @ex.task()
    def small(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.filter(pl.col("x") < 3)

    @ex.task()
    def large(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.filter(pl.col("x") >= 3)

    @ex.task()
    def count(df: pl.LazyFrame) -> int:
        return df.select(pl.len()).collect().item()

    @pipeline(name=name)
    def fan() -> Any:
        data = load(src)
        return small(data), large(data), count(data)

    result = fan.run(cache=False, keep_handoffs=True)
    assert counter.calls == 1
    small_df, large_df, rows = result.output
    assert small_df["x"].to_list() == [1.0, 2.0]
    assert large_df["x"].to_list() == [3.0, 4.0, 5.0, 6.0]
    assert rows == 6
    assert {n: t.handoff for n, t in result.tasks.items()} == {
        "load": "staged",
        "small": "collect",
        "large": "collect",
        "count": "collect",
    }
    assert result.tasks["load"].rows == 6
    staged = _staged_files(tmp_path)
    assert [p.name for p in staged] == ["load.parquet"]
    assert result.staging == [str(staged[0].parent)]


def test_other_executor_gets_a_staged_copy(provider: Provider, tmp_path: Path, name: str) -> None:
    src = _source(provider)
    a, b = provider.local(name="a"), provider.local(name="b")
    counter = Counter()

    @a.task()
    def load(source: Any) -> pl.LazyFrame:
        return source.scan().with_columns(pl.col("x").map_batches(counter, return_dtype=pl.Float64))

    @b.task()
    def total(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.select(pl.col("x").sum())

    @pipeline(name=name)
    def across() -> Any:
        return total(load(src))

    result = across.run(cache=False, keep_handoffs=True)
    assert counter.calls == 1
    assert result.output.item() == 21.0
    assert [t.handoff for t in result.tasks.values()] == ["staged", "collect"]
    assert [p.name for p in _staged_files(tmp_path)] == ["load.parquet"]
