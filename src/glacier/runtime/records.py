"""What one run records: a :class:`TaskRun` per node, the events, the result and the report.

The scheduler tells the records what happened to each unit (:meth:`RunRecords.emit`); the
records turn that into node statuses, progress events, the :class:`RunResult` (or the
:class:`TaskFailed` that carries it) and the run's ``report.json``.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from glacier.core.dag import SourceNode
from glacier.errors import TaskFailed
from glacier.resources.graph import Graph
from glacier.runtime.backends import backend_class
from glacier.runtime.events import RunEvent, Status
from glacier.runtime.plan import Plan
from glacier.runtime.report import report_json, write_report
from glacier.runtime.result import RunResult, TaskRun
from glacier.runtime.units import Unit
from glacier.runtime.worker import Outcome, outputs_rows, size_of

INTERRUPTED = "KeyboardInterrupt: the run was interrupted (Ctrl-C); its workers were stopped"
"""The error a report records for a run its user interrupted."""

_FINAL = frozenset({Status.SUCCEEDED, Status.FAILED})
"""Statuses that end a unit's attempts: its records' bars end there."""

log = logging.getLogger(__name__)


class RunRecords:
    """The records of run ``run_id`` of pipeline ``pipeline``, in the DAG's order."""

    def __init__(
        self,
        pipeline: str,
        dag: Graph,
        plan: Plan,
        run_id: str,
        on_event: Callable[[RunEvent], None] | None = None,
        mode: str = "local",
    ) -> None:
        self.pipeline = pipeline
        self.plan = plan
        self.run_id = run_id
        self.on_event = on_event
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self._clock = time.perf_counter()  # what each record's started/ended count from
        fixed = _fixed(dag, plan, mode)
        self.tasks = {node_id: TaskRun(**fields) for node_id, fields in fixed.items()}

    def emit(
        self,
        unit: Unit,
        status: Status,
        attempt: int,
        outcome: Outcome | None = None,
        error: str | None = None,
    ) -> None:
        """``unit`` entered ``status`` on its ``attempt``-th attempt: update and announce its
        nodes."""
        now = round(time.perf_counter() - self._clock, 6)
        tasks, on_event = self.tasks, self.on_event
        starts, ends = status is Status.RUNNING, status in _FINAL
        stats = outcome.stats if outcome is not None else {}
        peak = outcome.peak_memory if outcome is not None else None
        cold = outcome.cold_start if outcome is not None else None
        ran_on = outcome.ran_on if outcome is not None else None
        blamed = outcome.failed_node if outcome is not None else None
        for node in unit.nodes:  # loop invariants above: a fused unit has a node per task
            node_id = node.id
            record = tasks[node_id]
            if starts:
                if record.started is None:
                    record.started = now  # the first attempt: a bar spans the retries too
            elif ends and record.started is not None:
                record.ended = now
            record.status = (
                status if status is not Status.FAILED else _node_status(node_id, unit, outcome)
            )
            record.attempts = max(record.attempts, attempt)
            if (node_stats := stats.get(node_id)) is not None:
                record.seconds, record.rows = node_stats.seconds, node_stats.rows
                record.bytes, record.outputs = node_stats.bytes, node_stats.outputs
            if peak is not None:
                record.peak_memory = peak
            if cold is not None:
                record.cold_start = cold
            if ran_on is not None:
                record.ran_on = ran_on
            if error is not None and blamed in (None, node_id):
                record.error = error
            if on_event is not None:  # an event is built only for someone listening
                on_event(
                    RunEvent(
                        self.run_id,
                        node_id,
                        record.status,
                        attempt,
                        record.executor,
                        record.seconds,
                        record.rows,
                        record.error,
                        record.ran_on,
                    )
                )

    def cached(self, unit: Unit, hit: Any) -> None:
        """``unit`` does not run: its output, ``hit`` when it has one (a staged frame, or one
        per output), comes from the cache."""
        for node in unit.nodes:
            self.tasks[node.id].cache_hit = True
        if hit is not None:
            record = self.tasks[unit.root.id]
            record.rows, record.bytes = size_of(hit, None, None)
            record.outputs = outputs_rows(unit.root.id, hit)
        self.emit(unit, Status.CACHED, 0)

    def succeeded(self, output: Any, seconds: float, staging: list[str]) -> RunResult:
        """The run's result, once every unit ran or was reused; its report is written."""
        result = self._result(ok=True, output=output, seconds=seconds, staging=staging)
        self._report(result, None)
        return result

    def failed(
        self, unit: Unit, outcome: Outcome, attempts: int, seconds: float, staging: list[str]
    ) -> TaskFailed:
        """The error the run raises once ``unit`` failed for good: it carries the partial
        result, whose report is written."""
        node_id = outcome.failed_node or unit.root.id
        executor = unit.executor
        result = self._result(ok=False, output=None, seconds=seconds, staging=staging)
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        line = one_line(outcome)
        message = (
            f"Pipeline {self.pipeline!r}: task {node_id!r} failed on executor "
            f"{executor.label} after {tries}: {line}\n\n"
            f"Original traceback:\n{outcome.traceback or ''}"
        )
        self._report(result, line)
        return TaskFailed(
            message,
            pipeline=self.pipeline,
            task=node_id,
            executor=executor.name,
            attempts=attempts,
            traceback=outcome.traceback or "",
            result=result,
        )

    def interrupted(self, seconds: float, staging: list[str]) -> None:
        """The user stopped the run: what was running is failed, the rest skipped, and the
        report says so."""
        for record in self.tasks.values():
            if record.status is Status.RUNNING:
                record.status, record.error = Status.FAILED, INTERRUPTED
        result = self._result(ok=False, output=None, seconds=seconds, staging=staging)
        self._report(result, INTERRUPTED)

    def _result(self, ok: bool, output: Any, seconds: float, staging: list[str]) -> RunResult:
        for record in self.tasks.values():  # what never got to run was skipped
            if record.status in (Status.PENDING, Status.RETRYING):
                record.status = Status.SKIPPED
        return RunResult(
            pipeline=self.pipeline,
            run_id=self.run_id,
            ok=ok,
            output=output,
            tasks=self.tasks,
            seconds=seconds,
            staging=staging,
        )

    def _report(self, result: RunResult, error: str | None) -> None:
        """Write the run's ``report.json`` to the staging area of the first unit's provider.

        Best effort: a full or read-only disk loses the report, never the run's own result or
        error (a fully cached run on a read-only base path still succeeds).
        """
        provider = next(iter(self.plan.units.values())).executor.provider
        try:
            write_report(provider, self.run_id, report_json(result, self.started, error))
        except Exception as exc:  # any store's failure; the run's outcome stands
            log.warning(
                "Run %s of pipeline %r: its report could not be written (%s: %s); the run "
                "itself is unaffected.",
                self.run_id,
                self.pipeline,
                type(exc).__name__,
                exc,
            )


def _fixed(dag: Graph, plan: Plan, mode: str) -> dict[str, dict[str, Any]]:
    """What every run of ``plan`` (a plan is of one mode) records the same about each task and
    sink, in the DAG's order (a source is read, never run); worked out on the plan's first run."""
    fixed = _FIXED.get(plan)
    if fixed is None:
        fixed = _FIXED[plan] = {
            node_id: {
                "name": node_id,
                "kind": node.kind.value,
                "executor": node.executor.name,
                "executor_kind": node.executor.kind.value,
                "backend": backend_class(node.executor, mode).name,
                "handoff": plan.handoff[node_id].value,
                "inputs": tuple(dag.predecessors(node_id)),
            }
            for node_id in dag.topological_order()
            if not isinstance(node := dag[node_id], SourceNode)
        }
    return fixed


_FIXED: weakref.WeakKeyDictionary[Plan, dict[str, dict[str, Any]]] = weakref.WeakKeyDictionary()


def one_line(outcome: Outcome) -> str:
    """The failure of ``outcome`` as ``Type: first line of the message``."""
    error = outcome.error
    if error is None:
        return "unknown error"
    return f"{type(error).__name__}: {error}".splitlines()[0]


def _node_status(node_id: str, unit: Unit, outcome: Outcome | None) -> Status:
    """A unit's final failure fails only its failing node: members before it finished, members
    after it never ran."""
    failed = outcome.failed_node if outcome is not None else None
    if failed in (None, node_id):
        return Status.FAILED
    assert outcome is not None
    ids = [n.id for n in unit.nodes]
    if ids.index(node_id) > ids.index(failed):
        return Status.SKIPPED
    return Status.SUCCEEDED if node_id in outcome.stats else Status.FAILED
