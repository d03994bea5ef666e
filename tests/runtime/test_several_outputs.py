"""A task with several outputs: each element handed on by itself, none shipped as a plan."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl
import pytest

from glacier import Provider, pipeline


class Halves(NamedTuple):
    low: pl.LazyFrame
    high: pl.LazyFrame


@dataclasses.dataclass(frozen=True)
class Parts:
    low: pl.LazyFrame
    high: pl.LazyFrame


def _frame() -> pl.LazyFrame:
    return pl.LazyFrame({"a": [1, 2, 3, 4, 5]})


def _with_pid(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The pid of the process that runs the plan, as a column: where the frame was computed."""
    return frame.with_columns(
        pid=pl.col("a").map_elements(lambda _: os.getpid(), return_dtype=pl.Int64)
    )


@pytest.mark.parametrize("kind", ["local", "serverless"])
def test_unpacked_outputs_are_staged_one_file_each(
    provider: Provider, name: str, kind: str
) -> None:
    split_on = provider.local() if kind == "local" else provider.serverless(name="split")
    other = provider.local(name="other")

    @split_on.task()
    def split() -> tuple[pl.LazyFrame, pl.LazyFrame]:
        frame = _with_pid(_frame())
        return frame.filter(pl.col("a") <= 2), frame.filter(pl.col("a") > 2)

    @other.task()
    def count(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.select(n=pl.len(), pid=pl.col("pid").first())

    @other.task()
    def total(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.select(pl.col("a").sum(), pid=pl.col("pid").first())

    @pipeline(name=name)
    def flow() -> object:
        low, high = split()
        return count(low), total(high), count(split_out := split()[1]), split_out

    result = flow.run()
    n_low, sum_high, n_high, high = result.output
    assert n_low["n"].to_list() == [2] and sum_high["a"].to_list() == [12]
    assert n_high["n"].to_list() == [3]
    assert high["a"].to_list() == [3, 4, 5]
    if kind == "serverless":  # computed in the worker process, not in the consumer's
        assert n_low["pid"].to_list() != [os.getpid()]
        assert sum_high["pid"].to_list() != [os.getpid()]
    cache = Path(provider.config.base_path) / ".glacier" / "cache"  # type: ignore[attr-defined]
    files = {p.name.split(".", 1)[1] for p in cache.glob("*.parquet")}
    assert {"0.parquet", "1.parquet"} <= files, "each output in a file of its own"
    assert pl.read_parquet(next(cache.glob("*.1.parquet")))["a"].to_list() == [3, 4, 5]
    assert result.tasks["split"].rows == 5
    assert result.tasks["split"].outputs == {"split[0]": 2, "split[1]": 3}
    assert result.tasks["split"].handoff == "staged"
    report = json.loads(next(Path(provider.config.base_path).rglob("report.json")).read_text())  # type: ignore[attr-defined]
    [entry] = [t for t in report["tasks"] if t["name"] == "split"]
    assert entry["outputs"] == {"split[0]": 2, "split[1]": 3}

    again = flow.run()
    assert again.tasks["split"].cache_hit and again.tasks["split"].rows == 5
    assert again.tasks["split"].outputs == {"split[0]": 2, "split[1]": 3}
    assert [f.to_dicts() for f in again.output] == [f.to_dicts() for f in result.output]


def test_namedtuple_fields_and_dataclass_fields_are_outputs(provider: Provider, name: str) -> None:
    here, there = provider.local(), provider.serverless(name="fn")

    @there.task()
    def halves() -> Halves:
        frame = _frame()
        return Halves(frame.filter(pl.col("a") <= 2), frame.filter(pl.col("a") > 2))

    @there.task()
    def parts() -> Parts:
        frame = _frame()
        return Parts(low=frame.head(1), high=frame.tail(1))

    @here.task()
    def ends(low: pl.LazyFrame, high: pl.LazyFrame) -> pl.LazyFrame:
        return pl.concat([low, high])

    @pipeline(name=name)
    def flow() -> object:
        h = halves()
        p = parts()
        return ends(h.low, h["high"]), ends(p.low, p.high)

    by_namedtuple, by_dataclass = flow.run().output
    assert by_namedtuple["a"].to_list() == [1, 2, 3, 4, 5]
    assert by_dataclass["a"].to_list() == [1, 5]
    again = flow.run()  # each output was cached on its own, and the whole is rebuilt from them
    assert again.tasks["halves"].cache_hit and again.tasks["parts"].cache_hit
    assert again.tasks["halves"].outputs == {"halves.low": 2, "halves.high": 3}
    assert [f["a"].to_list() for f in again.output] == [[1, 2, 3, 4, 5], [1, 5]]


def test_the_whole_value_of_a_cached_namedtuple_keeps_its_type(
    provider: Provider, name: str
) -> None:
    @provider.serverless(name="fn").task()
    def halves() -> Halves:
        return Halves(_frame().head(2), _frame().tail(3))

    @provider.local().task(cache=False)  # runs again, on the cached halves
    def both(h: Halves) -> pl.LazyFrame:
        return pl.concat([h.high, h.low])

    @pipeline(name=name)
    def flow() -> object:
        return both(halves())

    assert flow.run().output["a"].to_list() == [3, 4, 5, 1, 2]
    again = flow.run()
    assert again.tasks["halves"].cache_hit and not again.tasks["both"].cache_hit
    assert again.output["a"].to_list() == [3, 4, 5, 1, 2]


@pytest.mark.parametrize("kind", ["local", "serverless"])
def test_a_frame_in_a_returned_dict_is_collected_where_it_was_computed(
    provider: Provider, name: str, kind: str
) -> None:
    producer = provider.local() if kind == "local" else provider.serverless(name="make")
    consumer = provider.local(name="use")

    @producer.task()
    def make() -> dict[str, Any]:
        return {"frame": _with_pid(_frame()), "note": "x"}

    @consumer.task()
    def use(found: dict[str, Any]) -> pl.DataFrame:
        frame = found["frame"]
        assert isinstance(frame, pl.DataFrame), "a plan must not be shipped"
        return frame

    @pipeline(name=name)
    def flow() -> object:
        return use(make())

    out = flow.run().output
    assert out["a"].to_list() == [1, 2, 3, 4, 5]
    if kind == "serverless":
        assert set(out["pid"].to_list()) != {os.getpid()}


@pytest.mark.parametrize("kind", ["local", "serverless"])
def test_a_sink_writes_the_one_output_it_was_given(
    provider: Provider, name: str, kind: str, tmp_path: Path
) -> None:
    ex = provider.local() if kind == "local" else provider.serverless(name="split")
    out = provider.bucket(bucket="out", path="high.parquet")

    @ex.task()
    def split() -> tuple[pl.LazyFrame, pl.LazyFrame]:
        return _frame().filter(pl.col("a") <= 2), _frame().filter(pl.col("a") > 2)

    @pipeline(name=name)
    def flow() -> object:
        low, high = split()
        out.write(high)
        return low

    assert flow.run().output["a"].to_list() == [1, 2]
    assert out.read()["a"].to_list() == [3, 4, 5]
