"""A run's thread pool: its limit, its cancellation, and threads reused by the next run."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError
from typing import Any

import pytest

from glacier import Provider, pipeline
from glacier.runtime.backends import thread_pool
from glacier.runtime.backends.thread_pool import RunThreads


def test_at_most_limit_calls_run_at_once_and_the_rest_follow() -> None:
    pool = RunThreads(2)
    gate = threading.Event()
    lock = threading.Lock()
    running, peak = 0, 0

    def call(i: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        gate.wait(10)
        with lock:
            running -= 1
        return i * i

    futures = [pool.submit(call, i) for i in range(6)]
    deadline = time.monotonic() + 10
    while running < 2 and time.monotonic() < deadline:
        time.sleep(0.001)
    time.sleep(0.05)  # room for a third call to start, were the limit not kept
    assert (running, peak) == (2, 2)
    gate.set()
    assert [f.result(10) for f in futures] == [i * i for i in range(6)]
    assert peak == 2


def test_a_call_s_exception_even_a_base_exception_is_its_future_s() -> None:
    pool = RunThreads(1)

    def stop() -> None:
        raise KeyboardInterrupt("the task's own")

    with pytest.raises(KeyboardInterrupt, match="the task's own"):
        pool.submit(stop).result(10)
    assert pool.submit(int, "7").result(10) == 7  # the thread survived it


def test_close_cancels_what_has_not_started_and_refuses_more() -> None:
    pool = RunThreads(1)
    gate = threading.Event()
    first = pool.submit(gate.wait, 10)
    queued = pool.submit(int, "1")
    pool.close()
    assert queued.cancelled()
    gate.set()
    assert first.result(10) is True  # a running call finishes
    with pytest.raises(CancelledError):
        queued.result(0)
    with pytest.raises(RuntimeError, match="after close"):
        pool.submit(int, "2")


def test_the_next_run_reuses_the_threads_of_the_last(provider: Provider, name: str) -> None:
    """Starting threads on every run was most of a warm run's fixed cost (bench/tpch.py)."""
    ex = provider.local()
    barrier = threading.Barrier(2, timeout=10)

    @ex.task()
    def branch(tag: str) -> threading.Thread:
        barrier.wait()  # both branches run at once, so each run needs two pool threads
        return threading.current_thread()  # the object: a new thread may get an old one's id

    @ex.task()
    def join(a: threading.Thread, b: threading.Thread) -> tuple[threading.Thread, ...]:
        return a, b

    @pipeline(name=name)
    def both() -> Any:
        return join(branch("a"), branch("b"))

    first = set(both.run(cache=False).output)
    assert threading.current_thread() not in first  # they ran on the pool
    deadline = time.monotonic() + 10
    while len(thread_pool._idle) < 2 and time.monotonic() < deadline:
        time.sleep(0.001)  # a thread goes idle just after handing its result over
    later = set(both.run(cache=False).output)
    assert len(first) == len(later) == 2
    assert first == later
