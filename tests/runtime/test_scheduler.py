"""Running: independent branches overlap; failures, retries, timeouts and skips are reported."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from glacier import Provider, RunEvent, Status, TaskFailed, pipeline


def test_independent_branches_run_concurrently(provider: Provider, name: str) -> None:
    ex = provider.local()
    barrier = threading.Barrier(2, timeout=10)

    @ex.task()
    def branch(tag: str) -> str:
        barrier.wait()  # breaks (and the run fails) unless the other branch runs at the same time
        return tag

    @ex.task()
    def join(a: str, b: str) -> str:
        return a + b

    @pipeline(name=name)
    def both() -> Any:
        return join(branch("a"), branch("b"))

    result = both.run()
    assert result.output == "ab"
    assert [t.status for t in result.tasks.values()] == [Status.SUCCEEDED] * 3


def test_failure_names_everything_and_keeps_the_traceback(provider: Provider, name: str) -> None:
    ex = provider.local(name="worker")

    @ex.task()
    def ok() -> int:
        return 1

    @ex.task()
    def broken(x: int) -> int:
        raise ValueError(f"bad input {x}")

    @ex.task()
    def after(x: int) -> int:
        return x

    @pipeline(name=name)
    def p() -> Any:
        return after(broken(ok()))  # one fused unit: ok -> broken -> after

    with pytest.raises(TaskFailed) as err:
        p.run()
    exc = err.value
    assert (exc.pipeline, exc.task, exc.executor, exc.attempts) == (name, "broken", "worker", 1)
    message = str(exc)
    assert message.startswith(
        f"Pipeline {name!r}: task 'broken' failed on executor worker (local) after 1 attempt: "
        "ValueError: bad input 1"
    )
    assert "Original traceback:" in message
    assert 'raise ValueError(f"bad input {x}")' in exc.traceback
    assert "in broken" in exc.traceback
    assert exc.traceback in message
    result = exc.result
    assert result is not None and not result.ok
    assert result.tasks["ok"].status is Status.SUCCEEDED
    assert result.tasks["broken"].status is Status.FAILED
    assert result.tasks["broken"].error == "ValueError: bad input 1"
    assert result.tasks["after"].status is Status.SKIPPED
    assert result.tasks["ok"].error is None and result.tasks["after"].error is None


def test_failure_waits_for_running_siblings_and_skips_downstream(
    provider: Provider, name: str
) -> None:
    ex, other = provider.local(), provider.local(name="other")
    slow_started = threading.Event()
    finished: list[str] = []

    @ex.task()
    def slow() -> int:
        slow_started.set()
        time.sleep(0.5)
        finished.append("slow")
        return 1

    @ex.task()
    def fail() -> int:
        slow_started.wait(10)
        raise RuntimeError("boom")

    @other.task()  # another executor: a unit of its own, due only after the failure
    def after_slow(x: int) -> int:
        finished.append("after_slow")
        return x

    @ex.task()
    def after_fail(x: int) -> int:
        finished.append("after_fail")
        return x

    @pipeline(name=name)
    def p() -> Any:
        return after_slow(slow()), after_fail(fail())

    with pytest.raises(TaskFailed) as err:
        p.run()
    assert finished == ["slow"]  # the run ended only after the running sibling finished
    tasks = err.value.result.tasks  # type: ignore[attr-defined]
    assert {n: t.status for n, t in tasks.items()} == {
        "slow": Status.SUCCEEDED,
        "fail": Status.FAILED,
        "after_slow": Status.SKIPPED,
        "after_fail": Status.SKIPPED,
    }


def test_retries_are_honoured(provider: Provider, name: str) -> None:
    ex = provider.local()
    calls: list[int] = []
    events: list[RunEvent] = []

    @ex.task(retries=2, retry_delay=0)
    def flaky() -> str:
        calls.append(len(calls) + 1)
        if len(calls) < 3:
            raise ConnectionError(f"try {len(calls)} failed")
        return "done"

    @pipeline(name=name)
    def p() -> Any:
        return flaky()

    result = p.run(on_event=events.append)
    assert result.output == "done"
    assert calls == [1, 2, 3]
    record = result.tasks["flaky"]
    assert (record.status, record.attempts) == (Status.SUCCEEDED, 3)
    assert [(e.status, e.attempt) for e in events] == [
        (Status.RUNNING, 1),
        (Status.RETRYING, 1),
        (Status.RUNNING, 2),
        (Status.RETRYING, 2),
        (Status.RUNNING, 3),
        (Status.SUCCEEDED, 3),
    ]
    assert events[1].error == "ConnectionError: try 1 failed"


def test_retries_run_out(provider: Provider, name: str) -> None:
    ex = provider.local()
    calls: list[int] = []

    @ex.task(retries=1, retry_delay=0)
    def always() -> int:
        calls.append(1)
        raise OSError("still down")

    @pipeline(name=name)
    def p() -> Any:
        return always()

    with pytest.raises(TaskFailed, match=r"after 2 attempts: OSError: still down") as err:
        p.run()
    assert len(calls) == 2
    assert err.value.attempts == 2


def test_timeout_on_a_thread_task(provider: Provider, name: str) -> None:
    ex = provider.local()

    @ex.task(timeout=0.2)
    def sleepy() -> int:
        time.sleep(1.0)
        return 1

    @pipeline(name=name)
    def p() -> Any:
        return sleepy()

    with pytest.raises(TaskFailed) as err:
        p.run()
    message = str(err.value)
    assert "TaskTimeout" in message
    assert "exceeded its timeout of 0.2 s" in message
    assert err.value.task == "sleepy"
    assert err.value.result.tasks["sleepy"].status is Status.FAILED  # type: ignore[attr-defined]


def test_task_options_are_validated(provider: Provider) -> None:
    ex = provider.local()
    for options, message in [
        ({"retries": -1}, r"retries=-1 must be a whole number"),
        ({"retry_delay": -1}, r"retry_delay=-1 must be >= 0"),
        ({"timeout": 0}, r"timeout=0 must be > 0"),
    ]:
        with pytest.raises(Exception, match=message):
            ex.task(**options)(lambda: 1)  # type: ignore[call-overload]
