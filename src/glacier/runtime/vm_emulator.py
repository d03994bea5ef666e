"""The VMs of ``glacier emulate``: a Dask scheduler and one worker per VM executor, over TLS.

As on the deployed VMs, the scheduler and workers run from the VM package alone (its ``src/``
on the path, its certificates), each worker named after its executor and given that
executor's environment, so the runner reaches them exactly as it reaches the deployed ones
(:mod:`glacier.clouds.dask.transport`). Dask itself comes from this interpreter. A worker that
dies (killed, out of memory) is started again, as the VMs' ``Restart=always`` unit does; what
the processes print goes to ``log`` in each unpacked package.
"""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from glacier.errors import DeploymentError
from glacier.identifiers import slug
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import FunctionProcess, Unpacked

HOST = "127.0.0.1"
READY_SECONDS = 60.0
RESTART_SECONDS = 0.5


class EmulatedVms:
    """A running scheduler and workers; :meth:`close` stops them all."""

    def __init__(self, vms: Sequence[EmulatedFunction]) -> None:
        self.processes: list[FunctionProcess] = []
        self.unpacked: list[Unpacked] = []
        self.entries: dict[str, dict[str, Any]] = {}
        self.workers: dict[str, tuple[list[str], dict[str, str], Unpacked, int | None]] = {}
        self._stopping = threading.Event()
        try:
            self._start(vms)
        except BaseException:
            self.close()
            raise
        self._supervisor = threading.Thread(target=self._supervise, daemon=True)
        self._supervisor.start()

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
        self._spawn(scheduler, env, scheduler_package, None)
        _wait_listening(port, self.processes[0])
        for vm in vms:
            package = Unpacked(vm, importable="src")
            self.unpacked.append(package)
            worker = [sys.executable, "-m", "distributed.cli.dask_worker", self.address]
            worker += ["--name", slug(vm.executor), "--no-nanny", "--nthreads", "2"]
            worker += ["--memory-limit", "0", "--no-dashboard", *tls]
            env = package.environment(vm, {})
            process = self._spawn(worker, env, package, vm.memory)
            self.workers[vm.executor] = (worker, env, package, vm.memory)
            self.entries[vm.executor] = {"id": f"emulated-{process.pid}", "private_ip": HOST}

    def _spawn(
        self, argv: list[str], env: Mapping[str, str], package: Unpacked, memory: int | None
    ) -> FunctionProcess:
        with open(package.root / "log", "ab") as log:
            process = FunctionProcess(argv, env, package.code, memory, stdout=log, stderr=log)
        self.processes.append(process)
        return process

    def _supervise(self) -> None:
        """Start a worker again once it died, as systemd does on the deployed VMs."""
        while not self._stopping.wait(RESTART_SECONDS):
            running = {p.pid: p for p in self.processes}
            for executor, (argv, env, package, memory) in self.workers.items():
                pid = int(self.entries[executor]["id"].removeprefix("emulated-"))
                process = running.get(pid)
                if process is not None and process.process.poll() is None:
                    continue
                if self._stopping.is_set():
                    return
                restarted = self._spawn(argv, env, package, memory)
                self.entries[executor]["id"] = f"emulated-{restarted.pid}"

    def close(self) -> None:
        self._stopping.set()
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
