"""A serverless worker and everything its task starts live and die together, and count together
against the memory limit; nothing outlives the run, not even a ``kill -9`` of the runner."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import polars as pl
import pytest

from glacier import Provider, pipeline
from glacier.config import LambdaConfig, LocalConfig
from glacier.errors import TaskFailed

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(config=LocalConfig(base_path=str(tmp_path / "data")))


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def gone_within(pids: list[int], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


def wait_for(path: Path, seconds: float = 60) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and (text := path.read_text()).endswith("\n"):
            return text
        time.sleep(0.05)
    raise AssertionError(f"{path} was never written")


def test_timed_out_worker_takes_its_task_s_children_with_it(
    provider: Provider, tmp_path: Path
) -> None:
    pids = tmp_path / "pids"

    @provider.serverless().task(timeout=2)
    def spawns() -> int:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        pids.write_text(f"{os.getpid()} {child.pid}\n")
        time.sleep(120)
        return 1

    @pipeline(name="spawns_and_times_out")
    def flow() -> object:
        return spawns()

    with pytest.raises(TaskFailed, match="exceeded its timeout"):
        flow.run(cache=False)
    worker, child = (int(p) for p in pids.read_text().split())
    assert gone_within([worker, child], 10), "the task's child outlived its killed worker"


def test_memory_limit_counts_the_task_s_subprocesses(provider: Provider) -> None:
    fn = provider.serverless(config=LambdaConfig(memory=256, timeout=60), name="small")

    @fn.task()
    def delegates() -> pl.DataFrame:
        hog = "b = b'x' * (700 * 2**20); import time; time.sleep(20)"
        subprocess.run([sys.executable, "-c", hog], check=True)
        return pl.DataFrame({"ok": [True]})

    @pipeline(name="child_over_limit")
    def flow() -> object:
        return delegates()

    with pytest.raises(TaskFailed, match=r"TaskOutOfMemory: .*'delegates'.*256 MB"):
        flow.run(cache=False)


def test_warm_worker_reports_each_attempt_s_own_peak(provider: Provider) -> None:
    fn = provider.serverless()

    @fn.task()
    def big() -> int:
        block = bytearray(400 * 2**20)
        block[::4096] = b"x" * len(block[::4096])  # touch every page
        return len(block)

    @provider.local().task()
    def between(n: int) -> int:
        return n

    @fn.task()
    def small(n: int) -> int:
        return n // 2

    @pipeline(name="peaks")
    def flow() -> object:
        return small(between(big()))

    result = flow.run(cache=False)
    assert result.tasks["small"].cold_start is None  # ran on big's warm worker
    big_peak, small_peak = result.tasks["big"].peak_memory, result.tasks["small"].peak_memory
    assert big_peak is not None and small_peak is not None
    assert big_peak > 400 * 2**20
    assert small_peak < 300 * 2**20, f"small's peak {small_peak / 2**20:.0f} MB is big's"


RUNNER = """
import os, subprocess, sys, time
from glacier import Provider, pipeline
from glacier.config import LocalConfig

provider = Provider(config=LocalConfig(base_path={base!r}))

@provider.serverless().task()
def spawns() -> int:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open({pids!r}, "w") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}\\n")
    time.sleep(120)
    return 1

@pipeline(name="orphans")
def flow() -> object:
    return spawns()

flow.run(cache=False)
"""


def test_kill_9_of_the_runner_leaves_no_worker_behind(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = tmp_path / "runner.py"
    script.write_text(textwrap.dedent(RUNNER.format(base=str(tmp_path / "data"), pids=str(pids))))
    runner = subprocess.Popen([sys.executable, str(script)], env=os.environ.copy())
    try:
        worker, child = (int(p) for p in wait_for(pids).split())
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
        assert gone_within([worker, child], 10), "the runner's workers outlived it"
    finally:
        runner.kill()
        runner.wait()
