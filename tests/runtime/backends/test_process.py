"""Serverless executors in local mode: real worker processes, real memory and time limits."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from glacier import Provider, pipeline
from glacier.config import LambdaConfig, LocalConfig, ServerlessConfig
from glacier.errors import TaskFailed


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(config=LocalConfig(base_path=str(tmp_path / "data")))


def test_task_over_its_memory_cap_fails_with_out_of_memory(provider: Provider) -> None:
    fn = provider.serverless(config=LambdaConfig(memory=256, timeout=60), name="small")

    @fn.task()
    def hog() -> pl.DataFrame:
        block = b"x" * (600 * 2**20)  # touches every page
        time.sleep(2)
        return pl.DataFrame({"n": [len(block)]})

    @pipeline(name="oom")
    def oom() -> object:
        return hog()

    with pytest.raises(TaskFailed) as info:
        oom.run(cache=False)
    message = str(info.value)
    assert "TaskOutOfMemory" in message
    assert "'hog'" in message and "256 MB" in message and "'small'" in message
    record = info.value.result.tasks["hog"]  # type: ignore[attr-defined]
    assert record.peak_memory is not None and record.peak_memory > 256 * 2**20


def test_task_past_the_function_timeout_is_killed(provider: Provider) -> None:
    fn = provider.serverless(config=ServerlessConfig(memory=512, timeout=1))

    @fn.task()
    def sleepy() -> int:
        time.sleep(30)
        return 1

    @pipeline(name="too_slow")
    def too_slow() -> object:
        return sleepy()

    started = time.monotonic()
    with pytest.raises(TaskFailed, match=r"TaskTimeout: .*function timeout of 1 s"):
        too_slow.run(cache=False)
    assert time.monotonic() - started < 20


def test_task_timeout_kills_the_worker(provider: Provider, tmp_path: Path) -> None:
    fn = provider.serverless()
    pid_file = tmp_path / "pid"

    @fn.task(timeout=1)
    def sleepy() -> int:
        pid_file.write_text(str(os.getpid()))
        time.sleep(30)
        return 1

    @pipeline(name="task_timeout")
    def task_timeout() -> object:
        return sleepy()

    with pytest.raises(TaskFailed, match="exceeded its timeout of 1 s"):
        task_timeout.run(cache=False)
    pid = int(pid_file.read_text())
    assert not _alive(pid)


def test_killed_worker_is_a_crash_and_the_retry_succeeds(
    provider: Provider, tmp_path: Path
) -> None:
    fn = provider.serverless()
    pid_file = tmp_path / "pid"

    @fn.task(retries=1, retry_delay=0)
    def victim() -> pl.DataFrame:
        if not pid_file.exists():
            pid_file.write_text(str(os.getpid()))
            time.sleep(60)
        return pl.DataFrame({"ok": [True]})

    @pipeline(name="crash")
    def crash() -> object:
        return victim()

    def kill_when_started() -> None:
        while not pid_file.exists() or not pid_file.read_text():
            time.sleep(0.02)
        os.kill(int(pid_file.read_text()), signal.SIGKILL)

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    events: list[str] = []
    result = crash.run(cache=False, on_event=lambda e: events.append(e.error or ""))
    killer.join()
    assert result.output.to_dict(as_series=False) == {"ok": [True]}
    assert result.tasks["victim"].attempts == 2
    assert any("TaskCrashed" in e and "SIGKILL" in e for e in events)


def test_retries_exhausted_names_task_attempts_and_cause(provider: Provider) -> None:
    fn = provider.serverless(name="fn")

    @fn.task(retries=2, retry_delay=0)
    def broken() -> int:
        raise ValueError("boom")

    @pipeline(name="exhausted")
    def exhausted() -> object:
        return broken()

    with pytest.raises(TaskFailed) as info:
        exhausted.run(cache=False)
    assert info.value.attempts == 3
    assert str(info.value).startswith(
        "Pipeline 'exhausted': task 'broken' failed on executor fn (serverless, "
        "ServerlessConfig) after 3 attempts: ValueError: boom"
    )
    assert "in broken" in info.value.traceback


def test_warm_workers_are_reused_within_a_run(provider: Provider) -> None:
    fn = provider.serverless()

    @fn.task()
    def first() -> int:
        return os.getpid()

    @provider.local().task()
    def between(pid: int) -> int:
        return pid

    @fn.task()
    def second(previous: int) -> tuple[int, int]:
        return previous, os.getpid()

    @pipeline(name="warm")
    def warm() -> object:
        return second(between(first()))  # two invocations of fn, one after the other

    result = warm.run(cache=False)
    before, after = result.output
    assert before == after
    assert result.tasks["first"].cold_start is not None
    assert result.tasks["second"].cold_start is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return "zombie"
