"""Resident memory of a process and its descendants, and whether it exited, from ``/proc``
(Linux).

A task's own subprocesses count against its memory limit as they would in a function's
cgroup: the worker makes itself their subreaper (see ``process_main``), so even a grandchild
whose parent exited stays in the tree walked here. Elsewhere the serverless memory cap is not
enforced while a task runs.
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


def exited(pid: int) -> bool:
    """Whether ``pid`` has exited or is exiting (a zombie), even before its parent can reap it:
    a multithreaded process is a zombie while its other threads still exit."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b") ")[2][:1] in (b"Z", b"X")
    except OSError:  # gone (reaped already) where /proc exists; no /proc: running, as far as known
        return os.path.isdir("/proc/self")


def tree_rss(pid: int) -> int | None:
    """Resident bytes of ``pid`` and every descendant; None if ``pid`` is unknown or gone."""
    total = rss(pid)
    if total is None:
        return None
    for child in children(pid):
        total += tree_rss(child) or 0
    return total


def children(pid: int) -> list[int]:
    """The child processes of ``pid`` (of any of its threads)."""
    found: list[int] = []
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                found += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            continue
    return found


def reset_peak() -> None:
    """Start this process's peak resident memory afresh, so a warm worker reports each
    attempt's own peak (Linux: ``clear_refs``); ``ru_maxrss`` would be the worker's lifetime."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass  # not Linux: no per-attempt peak; the backend's own sampling stands


def peak_since_reset() -> int | None:
    """Peak resident bytes since :func:`reset_peak` (``VmHWM``); None where unknown."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None
