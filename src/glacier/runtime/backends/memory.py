"""Resident memory of another process, read from ``/proc`` (Linux).

Elsewhere the serverless memory cap is not enforced while a task runs; the worker still
reports its peak (``ru_maxrss``) afterwards.
"""

from __future__ import annotations

import os

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss(pid: int) -> int | None:
    """Resident set size of ``pid`` in bytes; None if unknown or the process is gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None
