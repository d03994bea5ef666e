"""Plain-text tables of runs and their tasks, for logs, pipes and ``glacier runs``/``report``.

Task columns read a task record as a mapping (``TaskRun.to_dict()``, or a task entry of a run
report loaded from JSON), so a live result and a stored report print the same cells.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

TASK_CELLS: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "task": lambda t: t["name"],
    "executor": lambda t: f"{t['executor']} ({t['executor_kind']})",
    "backend": lambda t: t["backend"],
    "status": lambda t: str(t["status"]),
    "attempts": lambda t: str(t["attempts"]),
    "seconds": lambda t: f"{t['seconds']:.3f}",
    "rows": lambda t: _optional(t["rows"]),
    "bytes": lambda t: _optional(t["bytes"]),
    "peak MB": lambda t: "" if t["peak_memory"] is None else f"{t['peak_memory'] / 2**20:.0f}",
    "handoff": lambda t: t["handoff"],
    "cache": lambda t: "hit" if t["cache_hit"] else "",
    "error": lambda t: (t["error"] or "")[:80],
}
"""Column name -> the cell it shows for one task record."""


def task_table(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A table of task records with the named :data:`TASK_CELLS` columns."""
    return text_table(columns, [tuple(TASK_CELLS[c](r) for c in columns) for r in records])


def text_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, as wide as their widest cell; no trailing blanks."""
    lines = [tuple(header), *(tuple(r) for r in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def _optional(value: object) -> str:
    return "" if value is None else str(value)
