"""Outcomes in transit: the wire form round trip, and what comes back when it cannot be sent."""

from __future__ import annotations

import importlib
import json
import sys
import threading
from pathlib import Path

import cloudpickle  # type: ignore[import-untyped]
import polars as pl
import pytest

from glacier import Provider
from glacier.errors import TaskError
from glacier.runtime.invocation import WireOutcome, decode_outcome, encode, invoke
from glacier.runtime.staging import OutputTarget, StagedFrame, staging_bucket
from glacier.runtime.worker import NodeStats, Outcome, Step
from tests.runtime.invocations import invocation


class Unpicklable(Exception):
    """An exception that holds a lock, so it cannot leave the worker."""

    def __init__(self) -> None:
        super().__init__("holds a lock")
        self.lock = threading.Lock()


def raises_unpicklable() -> pl.DataFrame:
    raise Unpicklable


def returns_a_lock() -> object:
    return threading.Lock()


def test_an_outcome_crosses_as_a_wire_outcome_and_comes_back_equal(provider: Provider) -> None:
    target = OutputTarget(provider, staging_bucket(provider), "runs/wire/out.parquet")
    staged = target.put(pl.DataFrame({"x": [1, 2, 3]}))
    outcome = Outcome(
        ok=True,
        value=staged,
        stats={"make": NodeStats(0.25), "out": NodeStats(0.5, 3, staged.bytes)},
        peak_memory=123,
        kept=staged,
    )
    wire = WireOutcome.of(outcome)
    assert json.loads(json.dumps(wire.stats)) == {
        "make": {"seconds": 0.25, "rows": None, "bytes": None, "outputs": None},
        "out": {"seconds": 0.5, "rows": 3, "bytes": staged.bytes, "outputs": None},
    }
    back = cloudpickle.loads(cloudpickle.dumps(wire)).open(provider)
    assert back == outcome
    assert back.value.provider is provider and back.value.read()["x"].to_list() == [1, 2, 3]
    assert outcome.value is staged and outcome.kept is staged  # nothing changed in transit


def test_a_failed_outcome_crosses_with_its_error_and_traceback(provider: Provider) -> None:
    outcome = Outcome.failure("bad", KeyError("y"), stats={"ok": NodeStats(1.0)}, trace="tb")
    back = WireOutcome.of(outcome, peak_memory=7).open(provider)
    assert (back.ok, back.failed_node, back.traceback, back.peak_memory) == (
        False,
        "bad",
        "tb",
        7,
    )
    assert isinstance(back.error, KeyError) and back.stats == {"ok": NodeStats(1.0)}


def test_a_plain_value_crosses_as_it_is(provider: Provider) -> None:
    step = Step(node="answer", fn=lambda: {"n": 42})
    outcome = decode_outcome(
        invoke(encode(invocation(provider, step, "runs/x/a.parquet"))), provider
    )
    assert outcome.ok and outcome.value == {"n": 42} and outcome.kept is None
    assert outcome.peak_memory is not None and outcome.peak_memory > 0


@pytest.mark.parametrize(
    ("fn", "traceback_has"),
    [(raises_unpicklable, "raise Unpicklable"), (returns_a_lock, "cannot pickle")],
    ids=["exception", "value"],
)
def test_what_does_not_pickle_comes_back_as_a_task_error(
    provider: Provider, fn: object, traceback_has: str
) -> None:
    step = Step(node="stuck", fn=fn)  # type: ignore[arg-type]
    payload = encode(invocation(provider, step, "runs/x/stuck.parquet"))
    outcome = decode_outcome(invoke(payload), provider)
    assert not outcome.ok and outcome.failed_node == "stuck"
    assert isinstance(outcome.error, TaskError)
    assert str(outcome.error).startswith(
        "Task 'stuck': its result cannot be sent back from the worker process"
    )
    assert traceback_has in (outcome.traceback or "")


def test_a_task_the_worker_cannot_import_comes_back_as_a_task_error(
    provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = tmp_path / "vanishing_tasks.py"
    module.write_text("def task():\n    return 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    task = importlib.import_module("vanishing_tasks").task
    payload = encode(invocation(provider, Step(node="gone", fn=task), "runs/x/gone.parquet"))
    module.unlink()  # pickled by reference: the worker must import the module, which is gone
    monkeypatch.delitem(sys.modules, "vanishing_tasks")
    importlib.invalidate_caches()
    outcome = decode_outcome(invoke(payload), provider)
    assert not outcome.ok and outcome.failed_node == "gone"
    assert isinstance(outcome.error, TaskError)
    assert "the worker could not load the task (ModuleNotFoundError" in str(outcome.error)
    assert "ModuleNotFoundError" in (outcome.traceback or "")


def test_a_staged_output_comes_back_bound_to_the_callers_provider(provider: Provider) -> None:
    step = Step(node="rows", fn=lambda: pl.DataFrame({"x": [1, 2]}))
    wire = cloudpickle.loads(invoke(encode(invocation(provider, step, "runs/x/rows.parquet"))))
    assert isinstance(wire, WireOutcome)
    assert wire.value == wire.kept and not isinstance(wire.value, StagedFrame)
    outcome = wire.open(provider)
    assert isinstance(outcome.value, StagedFrame) and outcome.value.provider is provider
    assert outcome.value.read()["x"].to_list() == [1, 2]
    assert outcome.stats["rows"].rows == 2
