"""Run one unit: call each step with its inputs, then hand the root's output on.

Every backend ends here, in this process or another (see :mod:`glacier.runtime.invocation`
for the serializable form other processes and the cloud receive), so a task behaves the same
wherever it is placed. A backend varies only how a task step runs and how the root's output is
handed on (a :class:`StepRunner`); the order of steps, sinks, stats and failure capture are
:func:`run_unit`'s.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from glacier.core.dag import ParamRef, Ref, SinkNode, TaskNode
from glacier.core.task import Reading
from glacier.core.trace import resolve
from glacier.resources.bucket import Bucket
from glacier.runtime.interrupt import by_user
from glacier.runtime.staging import OutputTarget, StagedFrame
from glacier.runtime.units import Handoff, Unit

Frame = pl.DataFrame | pl.LazyFrame


@dataclass(frozen=True)
class Step:
    """One node as a worker sees it: a task function, or a sink's bucket, and its arguments."""

    node: str
    fn: Callable[..., Any] | None = None
    sink: Bucket | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    readings: Mapping[int | str, Reading] = field(default_factory=dict)
    """Arguments (by position or keyword) whose parameter is annotated as a frame: a bucket
    given there is scanned or read for the function (``Task.readings``)."""


def steps_of(unit: Unit) -> list[Step]:
    return [
        Step(
            node=n.id,
            fn=n.task.fn if isinstance(n, TaskNode) else None,
            sink=n.bucket if isinstance(n, SinkNode) else None,
            args=n.args,
            kwargs=n.kwargs,
            readings=n.task.readings_for(len(n.args), n.kwargs) if isinstance(n, TaskNode) else {},
        )
        for n in unit.nodes
    ]


def as_annotated(value: Any, reading: Reading | None) -> Any:
    """A bucket as a parameter annotated ``reading`` takes it; anything else as it is."""
    if reading is None or not isinstance(value, Bucket):
        return value
    return value.scan() if reading == "scan" else value.read()


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

    @classmethod
    def failure(
        cls,
        node: str,
        error: BaseException,
        *,
        stats: dict[str, NodeStats] | None = None,
        trace: str | None = None,
    ) -> Outcome:
        """An attempt that failed at ``node``, with the stats of the steps that finished.

        ``trace`` is the traceback a user sees; it defaults to the error's own line, which is
        all there is for what a backend notices from outside the task (a timeout, a kill, a
        crash, a missing engine).
        """
        if trace is None:
            trace = "".join(traceback.format_exception_only(error)).rstrip("\n")
        return cls(ok=False, stats=stats or {}, failed_node=node, error=error, traceback=trace)


class Scope:
    """What a unit's steps see: the outputs of the steps so far, the unit's inputs and the run's
    parameters."""

    __slots__ = ("inputs", "params", "values")

    def __init__(self, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> None:
        self.inputs = inputs
        self.params = params
        self.values: dict[str, Any] = {}

    def value(self, ref: Ref | ParamRef) -> Any:
        """An argument as it was handed on: a staged frame or a bucket stays a reference."""
        if isinstance(ref, ParamRef):
            return self.params[ref.name]
        return self.values[ref.node] if ref.node in self.values else self.inputs[ref.node]

    def arg(self, ref: Ref | ParamRef) -> Any:
        """An argument as a Polars task receives it: a staged frame is scanned."""
        if isinstance(ref, ParamRef):
            return self.params[ref.name]
        # value() inlined: this runs for every argument of every step
        node, values = ref.node, self.values
        value = values[node] if node in values else self.inputs[node]
        return value.scan() if isinstance(value, StagedFrame) else value


class StepRunner(Protocol):
    """What a backend supplies to :func:`run_unit`: how a task step runs, how the root's output
    is handed on."""

    def call(self, step: Step, scope: Scope) -> Any:
        """Run task step ``step``; return its output."""
        ...

    def hand_on(
        self, value: Any, handoff: Handoff, target: OutputTarget
    ) -> tuple[Any, StagedFrame | None]:
        """The root's output as ``handoff`` requires it, and the Parquet file written for it
        (at ``target``, if anywhere)."""
        ...


class InProcess:
    """Steps are calls in this process; the root's output is written to its target when its
    hand-off is staged, or when the cache keeps a collected one."""

    def call(self, step: Step, scope: Scope) -> Any:
        assert step.fn is not None
        arg = scope.arg
        if step.readings:
            reads = step.readings.get
            args = [as_annotated(resolve(a, arg), reads(i)) for i, a in enumerate(step.args)]
            kwargs = {k: as_annotated(resolve(v, arg), reads(k)) for k, v in step.kwargs.items()}
            return step.fn(*args, **kwargs)
        if not step.kwargs:  # the common case, and a step's cost is mostly this call
            return step.fn(*resolve(step.args, arg))
        return step.fn(*resolve(step.args, arg), **resolve(step.kwargs, arg))

    def hand_on(
        self, value: Any, handoff: Handoff, target: OutputTarget
    ) -> tuple[Any, StagedFrame | None]:
        if handoff is Handoff.COLLECT and isinstance(value, pl.LazyFrame):
            value = value.collect()
        if handoff is Handoff.STAGED and isinstance(value, Frame):
            staged = target.put(value)
            return staged, staged
        keep = handoff is Handoff.COLLECT and target.keep_collected
        if keep and isinstance(value, pl.DataFrame):
            return value, target.put(value)
        return value, None


IN_PROCESS = InProcess()


def run_unit(
    steps: Sequence[Step],
    handoff: Handoff,
    inputs: Mapping[str, Any],
    params: Mapping[str, Any],
    target: OutputTarget,
    runner: StepRunner = IN_PROCESS,
) -> Outcome:
    """Run ``steps`` in order with ``runner``, the root's output going to ``target``; never
    raises but for the user's Ctrl-C: failures come back in the outcome."""
    scope = Scope(inputs, params)
    values = scope.values
    stats: dict[str, NodeStats] = {}
    kept: StagedFrame | None = None
    root = steps[-1]
    call = runner.call  # bound once: the loop is per step, and steps are often trivial
    step: Step | None = None
    try:
        for step in steps:
            start = time.perf_counter()
            rows = size = None
            if step.sink is not None:
                rows = step.sink.write_for(target.token, scope.arg(step.args[0]), **step.kwargs)
                value = None
            else:
                value = call(step, scope)
            if step is root:
                value, kept = runner.hand_on(value, handoff, target)
                rows, size = _size(value, kept, rows)
            elif type(value) is StagedFrame:  # a cluster stages every step
                rows, size = value.rows, value.bytes
            values[step.node] = value
            stats[step.node] = NodeStats(time.perf_counter() - start, rows, size)
    except BaseException as exc:  # a task's SystemExit or CancelledError is its failure too
        if by_user(exc):
            raise
        assert step is not None
        trace = "".join(traceback.format_exception(exc))
        node = _first_broken(steps, values, exc) or step.node
        return Outcome.failure(node, exc, stats=stats, trace=trace)
    return Outcome(ok=True, value=values[root.node], stats=stats, kept=kept)


def _first_broken(
    steps: Sequence[Step], values: Mapping[str, Any], exc: BaseException
) -> str | None:
    """In a fused chain a LazyFrame's error surfaces where the plan is run, downstream of the
    step whose expression is wrong: blame the first step whose own plan does not resolve."""
    if not isinstance(exc, pl.exceptions.PolarsError):
        return None
    for step in steps:
        value = values.get(step.node)
        if isinstance(value, pl.LazyFrame):
            try:
                value.collect_schema()
            except pl.exceptions.PolarsError:
                return step.node
    return None


def _size(value: Any, kept: StagedFrame | None, rows: int | None) -> tuple[int | None, int | None]:
    """Rows and bytes of a step's output, where known without reading it; else ``rows`` (what a
    sink wrote)."""
    staged = kept if kept is not None else value
    if isinstance(staged, StagedFrame):
        return staged.rows, staged.bytes
    if isinstance(value, pl.DataFrame):
        return value.height, None
    return rows, None
