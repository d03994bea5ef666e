"""Telling the user's Ctrl-C from a task that raises ``KeyboardInterrupt`` itself.

A task's own ``BaseException`` (``SystemExit``, ``KeyboardInterrupt``, ``CancelledError``) is
that task's failure and is reported as one; a Ctrl-C of the runner must stop the run. While a
run is in progress on the main thread, :func:`watch_sigint` marks a real SIGINT, and
:func:`by_user` tells the worker loop which kind it is looking at.

After a Ctrl-C the run kills its worker processes and returns at once, but a local task in a
thread cannot be stopped: it finishes in the background, and interpreter exit does not wait for
it (the run's threads are daemons, see :mod:`~glacier.runtime.backends.thread_pool`).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

_interrupted = threading.Event()


@contextmanager
def watch_sigint() -> Iterator[None]:
    """Mark SIGINT while the block runs, then raise ``KeyboardInterrupt`` as Python would.

    Only the main thread may install a handler; elsewhere the block runs unwatched (a
    ``KeyboardInterrupt`` raised by a task is then always the task's own).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:
        yield  # the caller handles SIGINT its own way (ignored, or a handler of its own)
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        _interrupted.set()
        raise KeyboardInterrupt

    _interrupted.clear()
    signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def by_user(exc: BaseException) -> bool:
    """True when ``exc`` is the runner's Ctrl-C rather than something a task raised."""
    return isinstance(exc, KeyboardInterrupt) and _interrupted.is_set()
