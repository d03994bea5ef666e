"""What ``glacier run`` shows: live progress, the per-task summary and an output preview.

On a terminal progress is a live table redrawn as events arrive; anywhere else (CI logs, pipes)
each event is one plain line, so logs stay readable and greppable.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any

import polars as pl
from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from glacier.core.dag import SourceNode
from glacier.runtime.events import RunEvent, Status
from glacier.runtime.result import SUMMARY_COLUMNS, RunResult
from glacier.runtime.table import TASK_CELLS

if TYPE_CHECKING:
    from glacier.pipelines import Pipeline

STATUS_STYLE = {
    Status.PENDING: "dim",
    Status.RUNNING: "yellow",
    Status.RETRYING: "magenta",
    Status.SUCCEEDED: "green",
    Status.FAILED: "bold red",
    Status.SKIPPED: "dim",
    Status.CACHED: "cyan",
}
PREVIEW_ROWS = 5


@dataclass
class _NodeState:
    executor: str
    status: Status = Status.PENDING
    attempt: int = 0
    started: float = 0.0
    seconds: float | None = None
    rows: int | None = None
    error: str | None = None


class Progress:
    """Feeds on ``RunEvent``s (pass :meth:`on_event` to ``Pipeline.run``); use as a context."""

    def __init__(self, console: Console, pipeline: Pipeline) -> None:
        self.console = console
        self.started = time.monotonic()
        self.nodes = {
            node.id: _NodeState(node.executor.name)
            for node in (pipeline.dag[n] for n in pipeline.dag.topological_order())
            if not isinstance(node, SourceNode)
        }
        self._live: Live | None = None
        if console.is_terminal:
            self._live = Live(self, console=console, transient=True, refresh_per_second=8)

    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.stop()

    def on_event(self, event: RunEvent) -> None:
        state = self.nodes.setdefault(event.node, _NodeState(event.executor))
        state.status, state.attempt = event.status, event.attempt
        state.rows, state.error = event.rows, event.error
        if event.ran_on:
            state.executor = f"{event.executor} ({event.ran_on})"
        if event.status is Status.RUNNING:
            state.started, state.seconds = time.monotonic(), None
        else:
            state.seconds = event.seconds
        if self._live is not None:
            self._live.refresh()
        else:
            self.console.print(self._line(event), markup=False, highlight=False, soft_wrap=True)

    def _line(self, event: RunEvent) -> str:
        parts = [
            f"[{time.monotonic() - self.started:7.2f}s]",
            event.node,
            event.status.value,
            f"executor={event.executor}",
            f"attempt={event.attempt}",
        ]
        if event.ran_on:
            parts.append(f"on={event.ran_on}")
        if event.status is not Status.RUNNING and event.seconds is not None:
            parts.append(f"seconds={event.seconds:.3f}")
        if event.rows is not None:
            parts.append(f"rows={event.rows}")
        if event.error:
            parts.append(f"error={event.error}")
        return "  ".join(parts)

    def __rich__(self) -> Table:
        """Redrawn on every refresh, so running tasks show their elapsed time."""
        table = Table(title="glacier run", title_justify="left")
        for column in ("task", "executor", "status", "attempt", "seconds", "rows", "error"):
            table.add_column(column, justify="right" if column in {"seconds", "rows"} else "left")
        now = time.monotonic()
        for node, s in self.nodes.items():
            seconds = now - s.started if s.status is Status.RUNNING else s.seconds
            table.add_row(
                Text(node),
                Text(s.executor),
                status_text(s.status),
                str(s.attempt or ""),
                "" if seconds is None else f"{seconds:.2f}",
                "" if s.rows is None else str(s.rows),
                Text(s.error or ""),
            )
        return table


def status_text(status: Status) -> Text:
    return Text(status.value, style=STATUS_STYLE[status])


def print_summary(console: Console, result: RunResult) -> None:
    """The per-task table, then the run id, outcome and total time."""
    if console.is_terminal:
        table = Table(title=f"pipeline {result.pipeline}", title_justify="left")
        columns = [c for c in SUMMARY_COLUMNS if c != "cache"]
        for column in columns:
            table.add_column(column, justify="right" if column in {"seconds", "rows"} else "left")
        for t in result.tasks.values():
            record = t.to_dict()
            table.add_row(
                *(
                    status_text(t.status) if c == "status" else Text(TASK_CELLS[c](record))
                    for c in columns
                )
            )
        console.print(table)
    else:
        console.print(result.table(), markup=False, highlight=False, soft_wrap=True)
    state = "ok" if result.ok else "failed"
    console.print(
        f"run {result.run_id} {state} in {result.seconds:.3f} s", markup=False, highlight=False
    )


def print_output(console: Console, output: Any) -> None:
    """Shape and first rows of every frame in the pipeline's return value; others by repr."""
    for label, value in _leaves(output, "output"):
        if isinstance(value, pl.DataFrame):
            console.print(
                f"{label}: {value.height} rows x {value.width} columns",
                markup=False,
                highlight=False,
            )
            with pl.Config(tbl_width_chars=console.width):  # Polars may misjudge the width
                text = str(value.head(PREVIEW_ROWS))
        else:
            text = f"{label}: {value!r}"
        console.print(text, markup=False, highlight=False, soft_wrap=True)


def _leaves(value: Any, label: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{label}[{key!r}]")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{label}[{i}]")
    elif value is not None:
        yield label, value
