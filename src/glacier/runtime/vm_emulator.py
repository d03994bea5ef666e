"""The VMs of ``glacier emulate``: a Dask scheduler and one worker per VM executor, over TLS.

As on the deployed VMs, the scheduler and workers run from the VM package alone (its ``src/``
on the path, its certificates), each worker named after its executor and given that
executor's environment, so the runner reaches them exactly as it reaches the deployed ones
(:mod:`glacier.runtime.vm_transport`). Dask itself comes from this interpreter.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from glacier.errors import DeploymentError
from glacier.identifiers import slug
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import FunctionProcess, Unpacked

HOST = "127.0.0.1"
READY_SECONDS = 60.0


class EmulatedVms:
    """A running scheduler and workers; :meth:`close` stops them all."""

    def __init__(self, vms: Sequence[EmulatedFunction]) -> None:
        self.processes: list[FunctionProcess] = []
        self.unpacked: list[Unpacked] = []
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            self._start(vms)
        except BaseException:
            self.close()
            raise

    def _start(self, vms: Sequence[EmulatedFunction]) -> None:
        scheduler_package = Unpacked(vms[0], importable="src")
        self.unpacked.append(scheduler_package)
        tls_dir = scheduler_package.code / "tls"
        self.tls = {
            "ca": str(tls_dir / "ca.pem"),
            "cert": str(tls_dir / "node.pem"),
            "key": str(tls_dir / "node.key"),
        }
        tls = ["--tls-ca-file", self.tls["ca"], "--tls-cert", self.tls["cert"]]
        tls += ["--tls-key", self.tls["key"]]
        port = _free_port()
        self.address = f"tls://{HOST}:{port}"
        scheduler = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", HOST]
        scheduler += ["--port", str(port), "--protocol", "tls", "--no-dashboard", *tls]
        env = scheduler_package.environment(vms[0], {})
        self._spawn(scheduler, env, scheduler_package.code, None)
        _wait_listening(port, self.processes[0])
        for vm in vms:
            package = Unpacked(vm, importable="src")
            self.unpacked.append(package)
            worker = [sys.executable, "-m", "distributed.cli.dask_worker", self.address]
            worker += ["--name", slug(vm.executor), "--no-nanny", "--nthreads", "2"]
            worker += ["--memory-limit", "0", "--no-dashboard", *tls]
            process = self._spawn(worker, package.environment(vm, {}), package.code, vm.memory)
            self.entries[vm.executor] = {"id": f"emulated-{process.pid}", "private_ip": HOST}

    def _spawn(
        self, argv: list[str], env: Mapping[str, str], cwd: Path, memory: int | None
    ) -> FunctionProcess:
        process = FunctionProcess(argv, env, cwd, memory)
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in reversed(self.processes):
            process.stop()
        for package in self.unpacked:
            package.remove()
        self.processes, self.unpacked = [], []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _wait_listening(port: int, process: FunctionProcess) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if not process.alive():
            raise DeploymentError("The emulated Dask scheduler exited while starting.")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.05)
    raise DeploymentError(f"The emulated Dask scheduler did not listen within {READY_SECONDS} s.")
