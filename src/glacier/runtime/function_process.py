"""The process of one emulated function: its package unzipped, exactly its environment, its
memory cap, killed as a whole process group.

Each cloud's emulator (``glacier/clouds/<cloud>/emulator.py``) runs functions in these and
speaks its platform's protocol around them; what it means to *be* a deployed function here is
in this one place. Memory is watched as local emulation watches it (resident memory of the
process tree, see :mod:`glacier.runtime.backends.memory`), because that is what a function's
cgroup limits.
"""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glacier.runtime.backends.memory import tree_rss
from glacier.runtime.emulator import EmulatedFunction

SAMPLE_SECONDS = 0.005
MB = 1024 * 1024
LOCAL_SPARK_ENV = {
    "SPARK_LOCAL_IP": "127.0.0.1",
    "PYSPARK_PYTHON": sys.executable,
    "PYSPARK_SUBMIT_ARGS": " ".join(
        [
            "--master local[2]",
            "--conf spark.driver.host=127.0.0.1",
            "--conf spark.driver.bindAddress=127.0.0.1",
            "--conf spark.ui.enabled=false",
            "--conf spark.ui.showConsoleProgress=false",
            "pyspark-shell",
        ]
    ),
}
"""What an emulated cluster platform (EMR Serverless, Databricks) sets in a Spark job's driver
environment: local Spark, two cores standing in for the cluster, bound to 127.0.0.1."""
_MACHINES = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


class Unpacked:
    """A function's package (and the layers built for this CPU) unzipped once, removed on
    :meth:`remove`."""

    def __init__(self, function: EmulatedFunction, importable: str = "") -> None:
        """``importable``: the folder of the package that goes on the path (a VM's ``src``)."""
        self.root = Path(tempfile.mkdtemp(prefix=f"glacier-emulate-{function.executor}-"))
        self.code = self.root / "code"
        _unzip(function.package, self.code)
        self.paths = [self.code / importable if importable else self.code]
        machine = _MACHINES.get(platform.machine().lower())
        for layer in function.layers:
            if machine is None or machine not in layer.name:
                continue  # a layer for another CPU cannot load here: the interpreter's own stand in
            target = self.root / layer.stem
            _unzip(layer, target)
            self.paths.append(target / "python" if (target / "python").is_dir() else target)

    def environment(
        self, function: EmulatedFunction, platform_env: Mapping[str, str]
    ) -> dict[str, str]:
        """Only what the function gets: its own variables, the platform's, the package path."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "HOME": str(self.root),
            "TMPDIR": tempfile.gettempdir(),
            **platform_env,
            **function.environment,
            "PYTHONPATH": os.pathsep.join(str(p) for p in self.paths),
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _unzip(archive: Path, target: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(target)


class FunctionProcess:
    """One process of a function, leading its own process group, with its memory watched.

    When the tree's resident memory passes ``memory`` MB the group is killed and
    :attr:`out_of_memory` set, as a function's cgroup would; :attr:`peak` is the highest
    resident memory seen.
    """

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        cwd: Path,
        memory: int | None,
        **popen: Any,
    ) -> None:
        self.process = subprocess.Popen(
            list(argv), env=dict(env), cwd=cwd, process_group=0, **popen
        )
        self.limit = memory * MB if memory else None
        self.peak = 0
        self.out_of_memory = False
        self.killed = False
        self._stop = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True, name="glacier-emu-mem")
        self._watcher.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None and not self.killed

    def _watch(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            resident = tree_rss(self.pid)
            if resident is None:
                return
            self.peak = max(self.peak, resident)
            if self.limit is not None and resident > self.limit:
                self.out_of_memory = True
                self.kill()
                return

    def kill(self) -> None:
        """Kill the process and everything it started."""
        self.killed = True
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()
        self._stop.set()

    def stop(self, grace: float = 2.0) -> None:
        """Ask it to end (SIGTERM), then kill what is left."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=grace)
        self.kill()
