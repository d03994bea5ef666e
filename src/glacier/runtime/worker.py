"""Run one unit: call each step with its inputs, then hand the root's output on.

Every backend ends here, in this process or another (see :mod:`glacier.runtime.invocation`
for the serializable form other processes and the cloud receive), so a task behaves the same
wherever it is placed. A backend varies only how a task step runs and how the root's output is
handed on (a :class:`StepRunner`); the order of steps, sinks, stats and failure capture are
:func:`run_unit`'s.
"""

from __future__ import annotations

import dataclasses
import time
import traceback
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import polars as pl

from glacier.core.dag import ParamRef, Ref, SinkNode, TaskNode
from glacier.core.task import Reading
from glacier.core.trace import output_label, resolve
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


def steps_of(unit: Unit) -> tuple[Step, ...]:
    """The unit's steps, built on first use: a unit is fixed once planned, and its plan is
    kept for every run of the pipeline (see :func:`glacier.runtime.plan.plan_for`)."""
    steps = _STEPS.get(unit)
    if steps is None:
        steps = _STEPS[unit] = _build_steps(unit)
    return steps


_STEPS: weakref.WeakKeyDictionary[Unit, tuple[Step, ...]] = weakref.WeakKeyDictionary()


def _build_steps(unit: Unit) -> tuple[Step, ...]:
    return tuple(
        Step(
            node=n.id,
            fn=n.task.fn if isinstance(n, TaskNode) else None,
            sink=n.bucket if isinstance(n, SinkNode) else None,
            args=n.args,
            kwargs=n.kwargs,
            readings=n.task.readings_for(len(n.args), n.kwargs) if isinstance(n, TaskNode) else {},
        )
        for n in unit.nodes
    )


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
    outputs: dict[str, int | None] | None = None
    """Rows of each output of a task with several, by label (see :func:`outputs_rows`)."""


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
    ran_on: str | None = None
    """The deployed resource that ran the attempt (cloud mode), e.g. ``lambda fn-clean``."""

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
        value = self.values[ref.node] if ref.node in self.values else self.inputs[ref.node]
        return value if ref.output is None else pick(value, ref.output)

    def arg(self, ref: Ref | ParamRef) -> Any:
        """An argument as a Polars task receives it: a staged frame is scanned."""
        if isinstance(ref, ParamRef):
            return self.params[ref.name]
        # value() inlined: this runs for every argument of every step
        node, values = ref.node, self.values
        value = values[node] if node in values else self.inputs[node]
        if ref.output is not None:
            value = pick(value, ref.output)
        elif is_outputs(value):
            return map_outputs(value, _scan)
        return value.scan() if isinstance(value, StagedFrame) else value


def pick(value: Any, output: int | str) -> Any:
    """One output of a task with several: a position of its tuple, or a field."""
    return value[output] if isinstance(output, int) else getattr(value, output)


def is_outputs(value: Any) -> bool:
    """Whether ``value`` holds several outputs: a tuple, a NamedTuple or an instance of a
    user's dataclass (Glacier's own, such as :class:`StagedFrame`, are single values)."""
    cls = type(value)
    if cls in _SINGLE:  # this runs for every step and argument: the usual values first
        return False
    if isinstance(value, tuple):
        return True
    return dataclasses.is_dataclass(cls) and not cls.__module__.startswith("glacier.")


_SINGLE = frozenset({pl.DataFrame, pl.LazyFrame, StagedFrame, int, float, str, bool, type(None)})
"""Types whose values are one output each (exactly these types: a subclass is looked at)."""


def names_of(value: Any) -> list[int | str]:
    """The names of the elements of ``value`` (see :func:`is_outputs`): positions or fields."""
    if isinstance(value, tuple):
        return list(getattr(value, "_fields", range(len(value))))
    return [f.name for f in dataclasses.fields(value)]


def elements_of(value: Any) -> list[Any]:
    """The elements of ``value`` (see :func:`is_outputs`), in order."""
    return (
        list(value)
        if isinstance(value, tuple)
        else [getattr(value, str(n)) for n in names_of(value)]
    )


def outputs_rows(node: str, value: Any) -> dict[str, int | None] | None:
    """Rows of each output of a value handed on with several (``{"split[0]": 2, ...}``), for
    the report; None for any other value."""
    if not is_outputs(value):
        return None
    return {
        output_label(Ref(node, name)): size_of(element, None, None)[0]
        for name, element in zip(names_of(value), elements_of(value), strict=True)
    }


def on_each(value: Any, fn: Callable[[Any], Any]) -> Any:
    """``fn(value)``, or ``fn`` applied to each element when ``value`` holds several outputs:
    how staged frames are turned into wire form and back."""
    return map_outputs(value, lambda _, v: fn(v)) if is_outputs(value) else fn(value)


def map_outputs(value: Any, fn: Callable[[int | str, Any], Any]) -> Any:
    """``value`` (see :func:`is_outputs`) with ``fn(name, element)`` for each of its elements,
    in a container of the same type; the name is the element's position or field."""
    names = names_of(value)
    if not isinstance(value, tuple):
        return dataclasses.replace(value, **{str(n): fn(n, getattr(value, str(n))) for n in names})
    elements = [fn(n, v) for n, v in zip(names, value, strict=True)]
    return type(value)(*elements) if hasattr(value, "_fields") else tuple(elements)


def collected(value: Any) -> Any:
    """``value`` with every LazyFrame nested in it collected: a plan must not leave the worker
    that built it, or it would run again where it is received (on the wrong executor)."""
    if isinstance(value, pl.LazyFrame):
        return value.collect()
    if is_outputs(value):
        return map_outputs(value, lambda _, v: collected(v))
    if isinstance(value, list):
        return [collected(v) for v in value]
    if isinstance(value, dict):
        return {k: collected(v) for k, v in value.items()}
    return value


def in_memory(value: Any) -> Any:
    """A returned output as the caller receives it: a frame, read or collected."""
    if isinstance(value, StagedFrame):
        return value.read()
    return value.collect() if isinstance(value, pl.LazyFrame) else value


def _scan(_: int | str, value: Any) -> Any:
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
        # an argument is most often a whole reference: skip the walk into containers for it
        args = [arg(a) if type(a) is Ref else resolve(a, arg) for a in step.args]
        if not step.kwargs:  # the common case, and a step's cost is mostly this call
            return step.fn(*args)
        return step.fn(*args, **resolve(step.kwargs, arg))

    def hand_on(
        self, value: Any, handoff: Handoff, target: OutputTarget
    ) -> tuple[Any, StagedFrame | None]:
        if handoff is Handoff.MEMORY:
            return value, None
        if is_outputs(value):
            return self._hand_on_each(value, handoff, target), None
        if handoff is Handoff.COLLECT and isinstance(value, pl.LazyFrame):
            value = value.collect()
        if handoff is Handoff.STAGED and isinstance(value, Frame):
            staged = target.put(value)
            return staged, staged
        keep = handoff is Handoff.COLLECT and target.keep_collected
        if keep and isinstance(value, pl.DataFrame):
            return value, target.put(value)
        return collected(value), None

    def _hand_on_each(self, value: Any, handoff: Handoff, target: OutputTarget) -> Any:
        """Several outputs: each frame staged as its own file (or collected), nothing else
        leaving as a plan."""

        def one(name: int | str, element: Any) -> Any:
            if handoff is Handoff.STAGED and isinstance(element, Frame):
                return target._replace(key=element_key(target.key, name)).put(element)
            return collected(element)

        return map_outputs(value, one)


def element_key(key: str, name: int | str) -> str:
    """The file of one output of a task with several, beside the task's own ``key``."""
    stem, dot, ext = key.rpartition(".")  # "[0]" would be a glob pattern to a scan
    return f"{stem}.{name}.{ext}" if dot else f"{key}.{name}"


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
                rows, size = size_of(value, kept, rows)
            elif type(value) is StagedFrame:  # a cluster stages every step
                rows, size = value.rows, value.bytes
            values[step.node] = value
            seconds = time.perf_counter() - start
            stats[step.node] = NodeStats(seconds, rows, size, outputs_rows(step.node, value))
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


def size_of(
    value: Any, kept: StagedFrame | None, rows: int | None
) -> tuple[int | None, int | None]:
    """Rows and bytes of a step's output, where known without reading it; else ``rows`` (what a
    sink wrote)."""
    staged = kept if kept is not None else value
    if is_outputs(value):  # several outputs: their total, where every one is known
        sizes = [size_of(v, None, None) for v in elements_of(value)]
        if all(r is not None for r, _ in sizes):
            return sum(r or 0 for r, _ in sizes), sum(b or 0 for _, b in sizes)
        return rows, None
    if isinstance(staged, StagedFrame):
        return staged.rows, staged.bytes
    if isinstance(value, pl.DataFrame):
        return value.height, None
    return rows, None
