"""Run one unit: call each task with its inputs, then hand the root's output on.

This is the entry point every backend runs, in this process or another, so a task behaves the
same wherever it is placed.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from glacier.core.dag import Node, NodeKind, ParamRef, Ref
from glacier.core.trace import resolve
from glacier.runtime.plan import Handoff, Unit
from glacier.runtime.staging import StagedFrame, Staging


@dataclass
class NodeStats:
    seconds: float
    rows: int | None = None


@dataclass
class Outcome:
    """What one attempt of a unit produced: the root's handed-on value, or the error."""

    ok: bool
    value: Any = None
    stats: dict[str, NodeStats] = field(default_factory=dict)
    failed_node: str | None = None
    error: BaseException | None = None
    traceback: str | None = None


def run_unit(
    unit: Unit,
    handoff: Handoff,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any],
    staging: Callable[[], Staging],
) -> Outcome:
    """Run ``unit``'s nodes in order; never raises, failures come back in the outcome."""
    values: dict[str, Any] = {}
    outcome = Outcome(ok=True)

    def lookup(ref: Ref | ParamRef) -> Any:
        if isinstance(ref, ParamRef):
            return params[ref.name]
        value = values[ref.node] if ref.node in values else inputs[ref.node]
        return value.scan() if isinstance(value, StagedFrame) else value

    node: Node | None = None
    try:
        for node in unit.nodes:
            start = time.perf_counter()
            rows = None
            if node.kind is NodeKind.SINK:
                assert node.bucket is not None
                rows = node.bucket.write(lookup(node.args[0]))
                values[node.id] = None
            else:
                assert node.task is not None
                values[node.id] = node.task.fn(
                    *resolve(node.args, lookup), **resolve(node.kwargs, lookup)
                )
            if node is unit.root:
                values[node.id], root_rows = _hand_on(node.id, values[node.id], handoff, staging)
                rows = rows if root_rows is None else root_rows
            outcome.stats[node.id] = NodeStats(time.perf_counter() - start, rows)
    except Exception as exc:
        assert node is not None
        return Outcome(
            ok=False,
            stats=outcome.stats,
            failed_node=node.id,
            error=exc,
            traceback="".join(traceback.format_exception(exc)),
        )
    outcome.value = values[unit.root.id]
    return outcome


def _hand_on(
    node_id: str, value: Any, handoff: Handoff, staging: Callable[[], Staging]
) -> tuple[Any, int | None]:
    """Materialize the root's output as its hand-off requires; returns (value, rows)."""
    if handoff is Handoff.COLLECT and isinstance(value, pl.LazyFrame):
        value = value.collect()
    if handoff is Handoff.STAGED and isinstance(value, (pl.DataFrame, pl.LazyFrame)):
        staged = staging().put(node_id, value)
        return staged, staged.rows
    return value, value.height if isinstance(value, pl.DataFrame) else None
