"""Process liveness from /proc: a process that is gone has exited."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from glacier.runtime.backends.memory import exited


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="no /proc on this system")
def test_a_reaped_process_has_exited_and_a_running_one_has_not() -> None:
    done = subprocess.run([sys.executable, "-c", "pass"], check=True)
    assert done.returncode == 0
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not exited(running.pid)
    finally:
        running.kill()
        running.wait()
    # reaped: its /proc entry is gone, which must not read as "still running" (a warm Dask
    # cluster whose scheduler was reaped was once reused, and the next run waited forever)
    assert exited(running.pid)
