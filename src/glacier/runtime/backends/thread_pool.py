"""A run's thread pool, on threads that outlive the run.

``Thread.start`` waits until the new thread runs: 0.1 ms on an idle machine, over 1 ms on a
loaded one (measured with ``bench/tpch.py``). A fresh ``ThreadPoolExecutor`` per run started
two to five threads in every run of a TPC-H query whose filters run side by side, which was
most of such a run's fixed cost. So a run gets a :class:`RunThreads`, which bounds how many of
its calls run at once as its own pool did, and runs them on the process's idle threads, starting
one only when none is idle. A thread goes back to idle when its run has nothing more for it.

The threads are daemons: a thread blocked waiting for work must not hold up interpreter exit.
The only calls that can still be running at exit are attempts a run gave up on (a timeout, a
Ctrl-C); their commit right is revoked (see :mod:`glacier.storage.commit`), so they publish
nothing, and what they leave half-written is a temporary file the clean-up removes.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

KEEP_IDLE = 32
"""Idle threads kept at most; a thread finding this many idle ends instead."""

_Call = tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]
_Work = tuple["RunThreads", _Call]

_idle: list[queue.SimpleQueue[_Work]] = []
"""The inbox of every idle thread, the most recently idle last."""
_idle_lock = threading.Lock()


class RunThreads:
    """At most ``limit`` calls of one run at a time, on the process's threads."""

    def __init__(self, limit: int, name: str = "glacier") -> None:
        self._limit = limit
        self._name = name
        self._lock = threading.Lock()
        self._queued: deque[_Call] = deque()
        self._busy = 0
        self._closed = False

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on a thread now, or once one of this run's calls ends."""
        future: Future[T] = Future()
        call: _Call = (future, fn, args)
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._name}: submit after close")
            if self._busy >= self._limit:
                self._queued.append(call)
                return future
            self._busy += 1
        _hand((self, call))
        return future

    def close(self) -> None:
        """Cancel the calls not started; those running finish on their threads, unwaited."""
        with self._lock:
            self._closed = True
            queued, self._queued = self._queued, deque()
        for future, _, _ in queued:
            future.cancel()

    def _next(self) -> _Call | None:
        """The run's next queued call for a thread that finished one, or None: it is free."""
        with self._lock:
            if self._queued:
                return self._queued.popleft()
            self._busy -= 1
            return None


def _hand(work: _Work) -> None:
    """Give ``work`` to the most recently idle thread (its stack is warmest), or a new one."""
    with _idle_lock:
        inbox = _idle.pop() if _idle else None
    if inbox is None:
        inbox = queue.SimpleQueue()
        name = f"{work[0]._name}-{next(_numbers)}"
        threading.Thread(target=_serve, args=(inbox,), name=name, daemon=True).start()
    inbox.put(work)


_numbers = itertools.count(1)


def _serve(inbox: queue.SimpleQueue[_Work]) -> None:
    """A thread's life: take a run's call, run that run's calls while it has any, go idle."""
    while True:
        pool, call = inbox.get()
        next_call: _Call | None = call
        while next_call is not None:
            _run(*next_call)
            next_call = pool._next()
        del pool, call  # an idle thread keeps nothing of the run alive
        with _idle_lock:
            if len(_idle) >= KEEP_IDLE:
                return
            _idle.append(inbox)


def _run(future: Future[Any], fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    """What ``ThreadPoolExecutor`` does with a call: nothing if cancelled, else its result or
    its exception (any ``BaseException``: the call's own failure) into ``future``."""
    if not future.set_running_or_notify_cancel():
        return
    try:
        result = fn(*args)
    except BaseException as exc:  # the caller's failure, delivered, never this thread's
        future.set_exception(exc)
    else:
        future.set_result(result)
