"""Progress events a run emits, for the CLI's live display or any other observer."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Status(StrEnum):
    """Where a task or sink is in a run; the value is what reports and events carry."""

    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CACHED = "cached"
    """Not run: its output (or everything downstream of it) was reused from the cache."""


@dataclass(frozen=True)
class RunEvent:
    """Node ``node`` of run ``run_id`` entered ``status`` on its ``attempt``-th attempt."""

    run_id: str
    node: str
    status: Status
    attempt: int
    executor: str
    seconds: float | None = None
    rows: int | None = None
    error: str | None = None
    ran_on: str | None = None
    """The deployed resource it ran on, in cloud mode (a function, a VM worker, a job)."""
