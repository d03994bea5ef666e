"""The report's JSON: written by hand for speed, it must parse back to exactly what json.dumps of
each record would have given."""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from glacier.runtime.events import Status
from glacier.runtime.report import REPORT_VERSION, _task_json, _Times, report_json
from glacier.runtime.result import RunResult, TaskRun


def _reference(record: TaskRun) -> str:
    return json.dumps(record.to_dict(), separators=(",", ":"), default=str)


def _every_field_set() -> TaskRun:
    return TaskRun(
        name='odd "name" \\ é \n',
        kind="task",
        executor="ex\t1",
        executor_kind="serverless",
        backend="process",
        status=Status.FAILED,
        attempts=3,
        seconds=0.1 + 0.2,
        rows=7,
        bytes=1234,
        peak_memory=1 << 40,
        cold_start=1e-7,
        ran_on='lambda fn-"quoted"',
        handoff="staged",
        outputs={"split[0]": 2, "split.high": None},
        cache_hit=True,
        error='ValueError: "bad" \u2013 ünïcode \x00',
        inputs=("a", "b[0]", 'q"'),
        started=0.000001,
        ended=12.5,
    )


def test_every_field_of_a_record_is_written_and_parses_back_equal() -> None:
    record = _every_field_set()
    defaults = TaskRun(name="x", kind="sink", executor="e", executor_kind="local", backend="thread")
    differs = {f.name for f in dataclasses.fields(TaskRun)} - {
        k for k, v in record.to_dict().items() if v == defaults.to_dict()[k]
    }
    assert differs == {f.name for f in dataclasses.fields(TaskRun)}  # the test sets them all
    written = json.loads(_task_json(record, _Times()))
    assert written == json.loads(_reference(record))
    assert list(written) == list(record.to_dict())  # the same order, for people reading it


def test_a_fresh_record_parses_back_equal() -> None:
    record = TaskRun(name="t", kind="sink", executor="e", executor_kind="local", backend="thread")
    assert json.loads(_task_json(record, _Times())) == json.loads(_reference(record))


def test_values_the_fast_path_cannot_write_are_left_to_json() -> None:
    record = _every_field_set()
    cases: list[dict[str, Any]] = [
        {"seconds": math.inf},  # not finite
        {"rows": 5.0},  # a count that is not an int
        {"seconds": 2},  # a time that is not a float
        {"started": 2},
        {"name": 3},  # not a string
    ]
    for change in cases:
        changed = dataclasses.replace(record, **change)
        assert json.loads(_task_json(changed, _Times())) == json.loads(_reference(changed)), change


@given(
    name=st.text(),
    error=st.none() | st.text(),
    seconds=st.floats(allow_nan=False, allow_infinity=False),
    started=st.none() | st.floats(min_value=0, max_value=1e9),
    rows=st.none() | st.integers(min_value=0, max_value=1 << 62),
    inputs=st.lists(st.text(max_size=5), max_size=3).map(tuple),
    outputs=st.none() | st.dictionaries(st.text(max_size=5), st.none() | st.integers(0, 99)),
    status=st.sampled_from(Status),
)
def test_any_record_parses_back_equal(
    name: str,
    error: str | None,
    seconds: float,
    started: float | None,
    rows: int | None,
    inputs: tuple[str, ...],
    outputs: dict[str, int | None] | None,
    status: Status,
) -> None:
    record = TaskRun(
        name=name,
        kind="task",
        executor="e",
        executor_kind="local",
        backend="thread",
        status=status,
        seconds=seconds,
        rows=rows,
        error=error,
        inputs=inputs,
        outputs=outputs,
        started=started,
        ended=started,
    )
    assert json.loads(_task_json(record, _Times())) == json.loads(_reference(record))


def test_the_report_holds_the_run_and_each_task_in_order() -> None:
    tasks = {
        "a": TaskRun(name="a", kind="task", executor="e", executor_kind="local", backend="thread"),
        "b": _every_field_set(),
        "c": dataclasses.replace(_every_field_set(), name="c", ended=99.0),  # b's start time
    }
    result = RunResult(
        pipeline="p", run_id="r1", ok=False, output=None, tasks=tasks, seconds=1.23456789
    )
    report = json.loads(report_json(result, "2026-01-01T00:00:00+00:00", "boom"))
    assert report == {
        "version": REPORT_VERSION,
        "pipeline": "p",
        "run_id": "r1",
        "ok": False,
        "started": "2026-01-01T00:00:00+00:00",
        "seconds": 1.234568,
        "error": "boom",
        "staging": [],
        "tasks": [json.loads(_reference(t)) for t in tasks.values()],
    }
