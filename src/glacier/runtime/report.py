"""Run reports: one JSON file per run in the staging area, listed and shown by the CLI.

``runs/<run_id>/report.json`` in the staging bucket of the pipeline's provider (locally
``<base_path>/.glacier/runs/<run_id>/report.json``). ``glacier runs`` calls :func:`list_runs`
and :func:`format_runs`; ``glacier report RUN_ID`` calls :func:`load_report` and
:func:`format_report`.
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from json.encoder import encode_basestring_ascii as _str  # how json.dumps writes a str
from typing import TYPE_CHECKING, Any

from glacier.errors import GlacierError
from glacier.runtime.staging import RUNS_PREFIX, staging_bucket
from glacier.runtime.table import task_table, text_table

if TYPE_CHECKING:
    from glacier.provider import Provider
    from glacier.runtime.result import RunResult, TaskRun

REPORT_NAME = "report.json"
REPORT_VERSION = 1
REPORT_COLUMNS = (
    "task",
    "executor",
    "backend",
    "status",
    "attempts",
    "seconds",
    "rows",
    "bytes",
    "peak MB",
    "cache",
    "error",
)
"""The task columns of :func:`format_report`."""


RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
"""What a run id may look like (``20240131T120000.000000-ab12cd``): one path segment, no ``..``."""


class ReportNotFound(GlacierError):
    """No report for the run id asked for."""


class CorruptReport(GlacierError):
    """A report file that is not a report: it cannot be shown."""


class CorruptReportWarning(UserWarning):
    """A report skipped while listing runs because it is not a readable report."""


def report_json(result: RunResult, started: str, error: str | None) -> str:
    """The run's report as the JSON text :func:`load_report` reads.

    Compact: json's C encoder does not indent (``glacier report --json`` pretty-prints). The
    tasks are encoded by :func:`_task_json`, the header by json itself.
    """
    header = {
        "version": REPORT_VERSION,
        "pipeline": result.pipeline,
        "run_id": result.run_id,
        "ok": result.ok,
        "started": started,
        "seconds": round(result.seconds, 6),
        "error": error,
        "staging": result.staging,
    }
    head = json.dumps(header, separators=(",", ":"), default=str)
    times = _Times()
    tasks = ",".join([_task_json(t, times) for t in result.tasks.values()])
    return f'{head[:-1]},"tasks":[{tasks}]}}'  # the header's closing brace moves to the end


def _task_json(t: TaskRun, times: _Times) -> str:
    """``json.dumps(t.to_dict())``, compact, at half its cost: a run of trivial tasks spends
    more on its report than on the rest of its orchestration (see ``bench/overhead.py``).

    Strings go through json's own encoder; the floats are measured times, finite (checked at
    once), whose ``repr`` is what json writes; counts are ints. Any other type is left to json
    itself. ``tests/runtime/test_report.py`` checks that every field of :class:`TaskRun` is here
    and parses back equal. ``times`` writes the start and end times, which the records of a
    fused unit share.
    """
    if not math.isfinite(t.seconds + (t.cold_start or 0.0) + (t.started or 0.0) + (t.ended or 0.0)):
        return _slow(t)
    try:
        return _fast(t, times)
    except (ValueError, TypeError):  # a count that is not an int, a time that is not a float
        return _slow(t)


def _slow(t: TaskRun) -> str:
    return json.dumps(t.to_dict(), separators=(",", ":"), default=str)


def _fast(t: TaskRun, times: _Times) -> str:
    head, middle, tail = _fixed(
        t.name, t.kind, t.executor, t.executor_kind, t.backend, t.handoff, t.inputs
    )
    return (
        f'{head}{_str(t.status)},"attempts":{t.attempts:d},"seconds":{_repr(t.seconds)},'
        f'"rows":{_int(t.rows)},"bytes":{_int(t.bytes)},"peak_memory":{_int(t.peak_memory)},'
        f'"cold_start":{_float(t.cold_start)},"ran_on":{_text(t.ran_on)}'
        f"{middle}{_json(t.outputs)},"
        f'"cache_hit":{"true" if t.cache_hit else "false"},"error":{_text(t.error)}'
        f"{tail}{'null' if t.started is None else times[t.started]},"
        f'"ended":{"null" if t.ended is None else times[t.ended]}}}'
    )


@functools.lru_cache(maxsize=1 << 14)  # a few MB at most
def _fixed(
    name: str,
    kind: str,
    executor: str,
    executor_kind: str,
    backend: str,
    handoff: str,
    inputs: tuple[str, ...],
) -> tuple[str, str, str]:
    """The text around a record's changing fields, from the fields every run of a pipeline
    records the same (a pipeline run on a schedule encodes them once)."""
    head = (
        f'{{"name":{_str(name)},"kind":{_str(kind)},"executor":{_str(executor)},'
        f'"executor_kind":{_str(executor_kind)},"backend":{_str(backend)},"status":'
    )
    middle = f',"handoff":{_str(handoff)},"outputs":'
    tail = f',"inputs":[{",".join(map(_str, inputs))}],"started":'
    return head, middle, tail


def _int(value: int | None) -> str:
    return "null" if value is None else f"{value:d}"


def _float(value: float | None) -> str:
    return "null" if value is None else _repr(value)


_repr = float.__repr__  # what json writes a finite float as; anything but a float raises


class _Times(dict[float, str]):
    """Times as json writes them, each worked out once: a float's repr costs more than the
    rest of a record, and every record of a fused unit starts and ends at the same time."""

    def __missing__(self, time: float) -> str:
        self[time] = text = _repr(time)
        return text


def _text(value: str | None) -> str:
    return "null" if value is None else _str(value)


def _json(value: object) -> str:
    return "null" if value is None else json.dumps(value, separators=(",", ":"))


def write_report(provider: Provider, run_id: str, text: str) -> str:
    """Commit run ``run_id``'s report (:func:`report_json`) atomically; returns where it is."""
    store = provider.store
    bucket = staging_bucket(provider)
    key = f"{RUNS_PREFIX}/{run_id}/{REPORT_NAME}"
    store.put_bytes(bucket, key, text.encode())
    return store.uri(bucket, key)


def list_runs(provider: Provider, limit: int = 20) -> list[dict[str, Any]]:
    """The most recent runs first (run ids start with their UTC start time)."""
    store = provider.store
    bucket = staging_bucket(provider)
    objects = store.list(bucket, f"{RUNS_PREFIX}/*/{REPORT_NAME}")
    objects.sort(key=lambda o: o.key, reverse=True)
    reports = []
    for obj in objects[:limit]:
        raw = store.get_bytes(bucket, obj.key)
        if raw is None:
            continue  # removed since it was listed
        data = _parse(raw)
        if data is None:
            warnings.warn(
                f"Skipped {store.uri(bucket, obj.key)}: not a readable run report.",
                CorruptReportWarning,
                stacklevel=2,
            )
            continue
        reports.append(data)
    return reports


def load_report(provider: Provider, run_id: str) -> dict[str, Any]:
    if not RUN_ID.fullmatch(run_id) or ".." in run_id:
        raise ReportNotFound(
            f"{run_id!r} is not a run id: ids look like 20240131T120000.000000-ab12cd, with no "
            f"'/' or '..'. List runs with `glacier runs`."
        )
    store = provider.store
    bucket = staging_bucket(provider)
    key = f"{RUNS_PREFIX}/{run_id}/{REPORT_NAME}"
    raw = store.get_bytes(bucket, key)
    if raw is None:
        raise ReportNotFound(
            f"No report for run {run_id!r} at {store.uri(bucket, key)}. List runs with "
            f"`glacier runs`, and run from the folder (or with the provider) the pipeline ran with."
        )
    data = _parse(raw)
    if data is None:
        raise CorruptReport(
            f"The report of run {run_id!r} at {store.uri(bucket, key)} is not a readable run "
            f"report (damaged or edited). Delete it; the run's outputs are unaffected."
        )
    return data


def _parse(raw: bytes) -> dict[str, Any] | None:
    """The report in ``raw``, or None unless it is one that both tables can show."""
    try:
        data = json.loads(raw)
        if isinstance(data, dict):
            _run_row(data)
            format_report(data)
            return data
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def format_runs(reports: list[dict[str, Any]]) -> str:
    """One line per run: id, pipeline, state, seconds, tasks run / reused."""
    header = ("run", "pipeline", "status", "seconds", "tasks", "cached")
    rows = [_run_row(r) for r in reports]
    return text_table(header, rows) if reports else "No runs recorded yet."


def _run_row(r: dict[str, Any]) -> tuple[str, ...]:
    return (
        str(r["run_id"]),
        str(r["pipeline"]),
        "ok" if r["ok"] else "failed",
        f"{r['seconds']:.2f}",
        str(len(r["tasks"])),
        str(sum(1 for t in r["tasks"] if t["cache_hit"])),
    )


def format_report(report: dict[str, Any]) -> str:
    """The run's header and a table of its tasks."""
    state = "ok" if report["ok"] else "failed"
    lines = [
        f"Run {report['run_id']} of pipeline {report['pipeline']!r}: {state} in "
        f"{report['seconds']:.2f} s (started {report['started']})",
        task_table(report["tasks"], REPORT_COLUMNS),
    ]
    if report.get("error"):
        lines.append(f"\nError: {report['error']}")
    return "\n".join(lines)
