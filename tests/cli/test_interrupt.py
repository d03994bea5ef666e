"""Ctrl-C of a real ``glacier run``: it stops at once, kills its workers, reports the run as
interrupted and exits 130; ``Pipeline.run`` raises ``KeyboardInterrupt`` after the same
cleanup."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests._cli_support import glacier_command
from tests.runtime.backends.test_process_tree import gone_within, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")

PIPELINE = """
import os, subprocess, sys, time
from glacier import Provider, pipeline
from glacier.config import LocalConfig

provider = Provider(config=LocalConfig(base_path=os.environ["GLACIER_BASE_PATH"]))

@provider.serverless().task()
def remote() -> int:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open({pids!r}, "w") as f:
        f.write(f"{{os.getpid()}} {{child.pid}}\\n")
    time.sleep(120)
    return 1

@provider.local().task()
def here() -> int:
    time.sleep(120)
    return 2

@pipeline(name="interrupted")
def flow() -> object:
    return remote(), here()
"""

API_CALL = """

try:
    flow.run(cache=False)
except KeyboardInterrupt:
    print("KeyboardInterrupt reached the caller", flush=True)
    os._exit(7)
"""


def start(tmp_path: Path, command: list[str], script: Path) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLACIER_")}
    env["GLACIER_BASE_PATH"] = str(tmp_path / "data")
    return subprocess.Popen(
        [*command, str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupt(tmp_path: Path, command: list[str], extra: str = "") -> tuple[int, str]:
    """Start the pipeline, Ctrl-C it once its tasks run; its exit code, output and how long
    it took to stop. Asserts the serverless worker and its child are gone."""
    pids = tmp_path / "pids"
    script = tmp_path / "flow.py"
    script.write_text(textwrap.dedent(PIPELINE.format(pids=str(pids))) + extra)
    process = start(tmp_path, command, script)
    try:
        worker, child = (int(p) for p in wait_for(pids).split())
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=60)  # < the tasks' 120 s: a wait times out
        assert gone_within([worker, child], 10), "a worker outlived the interrupted run"
    finally:
        process.kill()
        process.wait()
    return process.returncode, out + err


def test_ctrl_c_stops_glacier_run_at_once_and_exits_130(tmp_path: Path) -> None:
    code, output = interrupt(tmp_path, [*glacier_command(), "run"])
    assert code == 130, output
    assert "Interrupted" in output
    reports = list((tmp_path / "data" / ".glacier" / "runs").glob("*/report.json"))
    assert len(reports) == 1
    report = json.loads(reports[0].read_text())
    assert report["ok"] is False and "interrupted" in report["error"]
    status = {t["name"]: t["status"] for t in report["tasks"]}
    assert status == {"remote": "failed", "here": "failed"}


def test_ctrl_c_raises_keyboard_interrupt_from_run_after_cleanup(tmp_path: Path) -> None:
    code, output = interrupt(tmp_path, [sys.executable], API_CALL)
    assert code == 7, output
    assert "KeyboardInterrupt reached the caller" in output
