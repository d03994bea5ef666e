"""Run one unit: call each step with its inputs, then hand the root's output on.

Every backend ends here, in this process or another (see :mod:`glacier.runtime.invocation`
for the serializable form other processes and the cloud receive), so a task behaves the same
wherever it is placed.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from glacier.core.dag import ParamRef, Ref, SinkNode, TaskNode
from glacier.core.trace import resolve
from glacier.runtime.staging import StagedFrame
from glacier.runtime.units import Handoff, Unit

if TYPE_CHECKING:
    from glacier.resources.bucket import Bucket

Frame = pl.DataFrame | pl.LazyFrame
Put = Callable[[Frame], StagedFrame]
"""Writes the root's output where the scheduler asked (run staging or the cache)."""


@dataclass(frozen=True)
class Step:
    """One node as a worker sees it: a task function, or a sink's bucket, and its arguments."""

    node: str
    fn: Callable[..., Any] | None = None
    sink: Bucket | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


def steps_of(unit: Unit) -> list[Step]:
    return [
        Step(
            node=n.id,
            fn=n.task.fn if isinstance(n, TaskNode) else None,
            sink=n.bucket if isinstance(n, SinkNode) else None,
            args=n.args,
            kwargs=n.kwargs,
        )
        for n in unit.nodes
    ]


@dataclass
class NodeStats:
    seconds: float
    rows: int | None = None
    bytes: int | None = None


@dataclass
class Outcome:
    """What one attempt of a unit produced: the root's handed-on value, or the error."""

    ok: bool
    value: Any = None
    stats: dict[str, NodeStats] = field(default_factory=dict)
    failed_node: str | None = None
    error: BaseException | None = None
    traceback: str | None = None
    peak_memory: int | None = None
    """Peak resident memory of the worker during the attempt, in bytes, where measured."""
    kept: StagedFrame | None = None
    """The Parquet file the root's output was written to, if any (for the cache)."""
    cold_start: float | None = None
    """Seconds spent starting a fresh worker for this attempt; None when one was warm."""

    def failed(self, node: str, error: Exception) -> Outcome:
        """This attempt, failed at ``node``: the stats so far, the error and its traceback."""
        return Outcome(
            ok=False,
            stats=self.stats,
            failed_node=node,
            error=error,
            traceback="".join(traceback.format_exception(error)),
        )


def run_unit(
    steps: Sequence[Step],
    handoff: Handoff,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any],
    put: Put,
    keep_collected: bool = False,
) -> Outcome:
    """Run ``steps`` in order; never raises, failures come back in the outcome.

    ``keep_collected`` also writes a collected (returned) frame through ``put``, for the cache.
    """
    values: dict[str, Any] = {}
    outcome = Outcome(ok=True)

    def lookup(ref: Ref | ParamRef) -> Any:
        if isinstance(ref, ParamRef):
            return params[ref.name]
        value = values[ref.node] if ref.node in values else inputs[ref.node]
        return value.scan() if isinstance(value, StagedFrame) else value

    root = steps[-1]
    step: Step | None = None
    try:
        for step in steps:
            start = time.perf_counter()
            rows = size = None
            if step.sink is not None:
                rows = step.sink.write(lookup(step.args[0]), **step.kwargs)
                values[step.node] = None
            else:
                assert step.fn is not None
                values[step.node] = step.fn(
                    *resolve(step.args, lookup), **resolve(step.kwargs, lookup)
                )
            if step is root:
                values[step.node], outcome.kept = _hand_on(
                    values[step.node], handoff, put, keep_collected
                )
                root_rows, size = _size(values[step.node], outcome.kept)
                rows = rows if root_rows is None else root_rows
            outcome.stats[step.node] = NodeStats(time.perf_counter() - start, rows, size)
    except Exception as exc:
        assert step is not None
        return outcome.failed(step.node, exc)
    outcome.value = values[root.node]
    return outcome


def _hand_on(
    value: Any, handoff: Handoff, put: Put, keep_collected: bool
) -> tuple[Any, StagedFrame | None]:
    """Materialize the root's output as its hand-off requires; returns (value, file written)."""
    if handoff is Handoff.COLLECT and isinstance(value, pl.LazyFrame):
        value = value.collect()
    if handoff is Handoff.STAGED and isinstance(value, Frame):
        staged = put(value)
        return staged, staged
    if handoff is Handoff.COLLECT and keep_collected and isinstance(value, pl.DataFrame):
        return value, put(value)
    return value, None


def _size(value: Any, kept: StagedFrame | None) -> tuple[int | None, int | None]:
    """Rows and bytes of a handed-on output, where known without reading it."""
    if kept is not None:
        return kept.rows, kept.bytes
    return (value.height if isinstance(value, pl.DataFrame) else None), None
