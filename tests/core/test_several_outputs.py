"""Tracing a task with several outputs: unpacking, indexing and fields in the body."""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import polars as pl
import pytest

from glacier import PipelineDefinitionError, Provider, pipeline
from glacier.core.dag import Ref


class Halves(NamedTuple):
    low: pl.LazyFrame
    high: pl.LazyFrame


@dataclasses.dataclass
class Parts:
    head: pl.LazyFrame
    rest: pl.LazyFrame


def _frame() -> pl.LazyFrame:
    return pl.LazyFrame({"a": [1, 2, 3]})


def test_unpacking_indexing_and_fields_name_one_output_each(provider: Provider, name: str) -> None:
    ex = provider.local()

    @ex.task()
    def split() -> tuple[pl.LazyFrame, pl.LazyFrame]:
        return _frame().head(1), _frame().tail(2)

    @ex.task()
    def halves() -> Halves:
        return Halves(_frame().head(1), _frame().tail(2))

    @ex.task()
    def parts() -> Parts:
        return Parts(_frame().head(1), _frame().tail(2))

    @ex.task()
    def use(*frames: pl.LazyFrame) -> pl.LazyFrame:
        return pl.concat(frames)

    @pipeline(name=name)
    def flow() -> object:
        a, b = split()
        h, p = halves(), parts()
        return use(a, b, split()[-1], h.low, h[1], h["high"], p.head, p.rest)

    node = flow.dag["use"]
    assert node.args == (  # type: ignore[union-attr]
        Ref("split", 0),
        Ref("split", 1),
        Ref("split_2", 1),
        Ref("halves", "low"),
        Ref("halves", "high"),
        Ref("halves", "high"),
        Ref("parts", "head"),
        Ref("parts", "rest"),
    )
    assert flow.run().output["a"].to_list() == [1, 2, 3, 2, 3, 1, 2, 3, 2, 3, 1, 2, 3]


@pytest.mark.parametrize("use", [tuple, lambda p: p[0]])
def test_unannotated_unpacking_is_refused_with_how_to_annotate(
    provider: Provider, name: str, use: Any
) -> None:
    @provider.local().task()
    def split():  # type: ignore[no-untyped-def]  # no annotation: one output
        return _frame(), _frame()

    with pytest.raises(PipelineDefinitionError, match=r"output of task 'split'") as err:
        pipeline(name=name)(lambda: use(split()))
    assert "-> tuple[pl.LazyFrame, pl.LazyFrame]" in str(err.value)


@pytest.mark.parametrize(("key", "shown"), [(2, "2"), ("middle", "'middle'")])
def test_an_output_the_task_does_not_declare_is_refused(
    provider: Provider, name: str, key: object, shown: str
) -> None:
    @provider.local().task()
    def halves() -> Halves:
        return Halves(_frame(), _frame())

    with pytest.raises(
        PipelineDefinitionError, match=rf"no output {shown}.*0-1 or the fields low, high"
    ):
        pipeline(name=name)(lambda: halves()[key])  # type: ignore[index]
