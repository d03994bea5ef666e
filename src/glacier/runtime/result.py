"""What a run returns: the pipeline's output and a record per task and sink."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from glacier.runtime.events import Status
from glacier.runtime.table import task_table

SUMMARY_COLUMNS = (
    "task",
    "executor",
    "backend",
    "status",
    "attempts",
    "seconds",
    "rows",
    "handoff",
    "cache",
)
"""The columns of :meth:`RunResult.table`."""


@dataclass(slots=True)  # a record per node: no __dict__ each (less to allocate and collect)
class TaskRun:
    """One task or sink in a run: where it ran, how it went, what it handed on."""

    name: str
    kind: str
    executor: str
    executor_kind: str
    backend: str
    status: Status = Status.PENDING
    attempts: int = 0
    seconds: float = 0.0
    rows: int | None = None
    bytes: int | None = None
    """Size of the output it handed on through staging (or wrote to the cache)."""
    peak_memory: int | None = None
    """Peak resident bytes of its worker process, where the backend measures it."""
    cold_start: float | None = None
    ran_on: str | None = None
    """The deployed resource that ran it in cloud mode (``lambda fn-clean``, ``dask worker
    vm``); None in local mode."""
    handoff: str = ""
    outputs: dict[str, int | None] | None = None
    """Rows of each output of a task with several (``{"split[0]": 2, "split[1]": 3}``)."""
    cache_hit: bool = False
    error: str | None = None
    inputs: tuple[str, ...] = ()
    """The nodes it reads (an id that has no record in the run is a source bucket)."""
    started: float | None = None
    """Seconds after the run started that its unit was first submitted; None if it never ran."""
    ended: float | None = None
    """Seconds after the run started that its unit's final outcome arrived."""

    @property
    def where(self) -> str:
        """E.g. ``serverless 'fn' via thread``: the executor and the backend that ran it (and in
        cloud mode the deployed resource: ``serverless 'fn' on lambda fn-clean``)."""
        if self.ran_on:
            return f"{self.executor_kind} {self.executor!r} on {self.ran_on}"
        return f"{self.executor_kind} {self.executor!r} via {self.backend}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (``status`` as its value): a task's entry in the run report."""
        # Every field is a scalar (``outputs`` a flat dict, never changed once set), so a shallow
        # copy does; asdict's deep copy costs more than the rest of a trivial task's orchestration.
        record = {k: getattr(self, k) for k in _TASK_FIELDS}
        record["status"] = str(self.status)
        return record


_TASK_FIELDS = tuple(f.name for f in fields(TaskRun))


@dataclass
class RunResult:
    """``output`` mirrors the pipeline's return value with every frame collected."""

    pipeline: str
    run_id: str
    ok: bool
    output: Any
    tasks: dict[str, TaskRun]
    seconds: float
    staging: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        state = "ok" if self.ok else "failed"
        return f"<RunResult {self.pipeline!r} {self.run_id} {state}: {len(self.tasks)} tasks>"

    def table(self) -> str:
        """A plain-text table of the task records, for logs and terminals."""
        return task_table((t.to_dict() for t in self.tasks.values()), SUMMARY_COLUMNS)
