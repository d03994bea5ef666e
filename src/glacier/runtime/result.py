"""What a run returns: the pipeline's output and a record per task and sink."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from glacier.runtime.events import Status


@dataclass
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
    handoff: str = ""
    cache_hit: bool = False
    error: str | None = None

    @property
    def where(self) -> str:
        """E.g. ``serverless 'fn' via thread``: the executor and the backend that ran it."""
        return f"{self.executor_kind} {self.executor!r} via {self.backend}"


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
        header = ("task", "executor", "backend", "status", "attempts", "seconds", "rows", "handoff")
        rows = [header] + [
            (
                t.name,
                f"{t.executor} ({t.executor_kind})",
                t.backend,
                t.status.value,
                str(t.attempts),
                f"{t.seconds:.3f}",
                "" if t.rows is None else str(t.rows),
                t.handoff,
            )
            for t in self.tasks.values()
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        )
