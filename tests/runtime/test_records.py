"""A run's records: node statuses and events from unit outcomes, the result, the report."""

from __future__ import annotations

from typing import Any

import pytest

from glacier import Pipeline, Provider, RunEvent, RunResult, Status, pipeline
from glacier.runtime.plan import plan_for
from glacier.runtime.records import RunRecords
from glacier.runtime.report import load_report
from glacier.runtime.staging import StagedFrame
from glacier.runtime.units import Unit
from glacier.runtime.worker import NodeStats, Outcome


def _chain(provider: Provider, name: str) -> Pipeline:
    """``first -> middle -> last`` on one local executor: one fused unit; ``side`` is another."""
    ex = provider.local(name="here")
    first = ex.task(name="first")(lambda: 1)
    middle = ex.task(name="middle")(lambda x: x)
    last = ex.task(name="last")(lambda x: x)
    side = ex.task(name="side")(lambda: 2)

    @pipeline(name=name)
    def chain() -> Any:
        return last(middle(first())), side()

    return chain


def _unit(p: Pipeline, uid: str) -> Unit:
    return plan_for(p).units[uid]


def _records(p: Pipeline, events: list[RunEvent] | None = None) -> RunRecords:
    on_event = events.append if events is not None else None
    return RunRecords(p.name, p.dag, plan_for(p), "run-1", on_event)


def test_records_start_pending_in_dag_order_with_where_each_node_runs(
    provider: Provider, name: str
) -> None:
    p = _chain(provider, name)
    records = _records(p)
    assert list(records.tasks) == list(p.dag.topological_order())
    assert {t.name: (t.status, t.where, t.handoff) for t in records.tasks.values()} == {
        "first": (Status.PENDING, "local 'here' via thread", "memory"),
        "middle": (Status.PENDING, "local 'here' via thread", "memory"),
        "last": (Status.PENDING, "local 'here' via thread", "collect"),
        "side": (Status.PENDING, "local 'here' via thread", "collect"),
    }


def test_a_unit_failing_midway_fails_only_its_failing_node(provider: Provider, name: str) -> None:
    p = _chain(provider, name)
    events: list[RunEvent] = []
    records = _records(p, events)
    unit = _unit(p, "last")
    outcome = Outcome.failure("middle", ValueError("bad"), stats={"first": NodeStats(0.5, 3)})
    records.emit(unit, Status.RUNNING, 2)
    records.emit(unit, Status.FAILED, 2, outcome, "ValueError: bad")
    tasks = records.tasks
    assert [tasks[n].status for n in ("first", "middle", "last")] == [
        Status.SUCCEEDED,
        Status.FAILED,
        Status.SKIPPED,
    ]
    assert (tasks["first"].seconds, tasks["first"].rows, tasks["first"].error) == (0.5, 3, None)
    assert tasks["middle"].error == "ValueError: bad" and tasks["last"].error is None
    assert all(tasks[n].attempts == 2 for n in ("first", "middle", "last"))
    assert [(e.node, e.status, e.attempt, e.executor) for e in events[3:]] == [
        ("first", Status.SUCCEEDED, 2, "here"),
        ("middle", Status.FAILED, 2, "here"),
        ("last", Status.SKIPPED, 2, "here"),
    ]
    assert [e.status for e in events[:3]] == [Status.RUNNING] * 3


def test_a_cached_unit_is_marked_and_announced(provider: Provider, name: str) -> None:
    p = _chain(provider, name)
    events: list[RunEvent] = []
    records = _records(p, events)
    hit = StagedFrame("file:///cache/x.parquet", rows=7, provider=provider, bytes=512)
    records.cached(_unit(p, "last"), hit)
    tasks = records.tasks
    assert {n: t.cache_hit for n, t in tasks.items()} == {
        "first": True,
        "middle": True,
        "last": True,
        "side": False,
    }
    assert (tasks["last"].rows, tasks["last"].bytes) == (7, 512)
    assert [(e.node, e.status, e.attempt, e.rows) for e in events] == [
        ("first", Status.CACHED, 0, None),
        ("middle", Status.CACHED, 0, None),
        ("last", Status.CACHED, 0, 7),
    ]


def test_success_skips_what_never_ran_and_writes_the_report(provider: Provider, name: str) -> None:
    p = _chain(provider, name)
    records = _records(p)
    records.emit(_unit(p, "side"), Status.SUCCEEDED, 1, Outcome(ok=True))
    result = records.succeeded(output=(1, 2), seconds=1.5, staging=["file:///s"])
    assert isinstance(result, RunResult)
    assert (result.ok, result.output, result.run_id, result.staging) == (
        True,
        (1, 2),
        "run-1",
        ["file:///s"],
    )
    statuses = {n: t.status for n, t in result.tasks.items()}
    assert statuses == {
        "first": Status.SKIPPED,
        "middle": Status.SKIPPED,
        "last": Status.SKIPPED,
        "side": Status.SUCCEEDED,
    }
    report = load_report(provider, "run-1")
    assert (report["ok"], report["error"], report["seconds"]) == (True, None, 1.5)
    assert {t["name"]: t["status"] for t in report["tasks"]} == statuses


def test_failure_names_the_task_and_carries_the_partial_result(
    provider: Provider, name: str
) -> None:
    p = _chain(provider, name)
    records = _records(p)
    unit = _unit(p, "last")
    outcome = Outcome.failure("middle", ValueError("bad\nsecond line"), trace="the traceback")
    records.emit(unit, Status.FAILED, 3, outcome, "ValueError: bad")
    error = records.failed(unit, outcome, attempts=3, seconds=0.5, staging=[])
    assert (error.pipeline, error.task, error.executor, error.attempts) == (
        name,
        "middle",
        "here",
        3,
    )
    assert str(error) == (
        f"Pipeline {name!r}: task 'middle' failed on executor here (local) after 3 attempts: "
        "ValueError: bad\n\nOriginal traceback:\nthe traceback"
    )
    assert isinstance(error.result, RunResult) and not error.result.ok
    assert error.result.tasks["side"].status is Status.SKIPPED
    assert load_report(provider, "run-1")["error"] == "ValueError: bad"


@pytest.mark.parametrize(("attempts", "tries"), [(1, "1 attempt"), (2, "2 attempts")])
def test_failure_counts_attempts(provider: Provider, name: str, attempts: int, tries: str) -> None:
    p = _chain(provider, name)
    unit = _unit(p, "side")
    error = _records(p).failed(unit, Outcome.failure("side", KeyError("k")), attempts, 0.1, [])
    assert f"after {tries}: KeyError: 'k'" in str(error)
