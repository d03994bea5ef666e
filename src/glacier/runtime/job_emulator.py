"""What the emulated cluster platforms (EMR Serverless, Databricks, Dataproc) share: a REST
server on 127.0.0.1, one cluster per executor with its package unpacked once, and each job a
fresh process on local Spark, watched to its end.

:class:`EmulatedJobPlatform` holds all of that; a platform's emulator
(``glacier/clouds/<cloud>/*_emulator.py``) keeps only its routes, its reply formats and the
names of its states: it says how a job is refused before it starts (:meth:`~EmulatedJobPlatform.
script`), how it is seen to start, and how each way a job can end (an :class:`End`) reads on
that platform (:meth:`~EmulatedJobPlatform.finish`). A job's process is a
:class:`~glacier.runtime.function_process.FunctionProcess` (only the executor's environment
plus what the platform sets, its memory watched, its output appended to ``log`` in its
cluster's unpacked folder), killed past the job's timeout.
"""

from __future__ import annotations

import enum
import json
import subprocess
import sys
import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import LOCAL_SPARK_ENV, FunctionProcess, Unpacked

HOST = "127.0.0.1"


class End(enum.Enum):
    """How an emulated job's process ended, before a platform names it."""

    SUCCEEDED = "succeeded"
    OUT_OF_MEMORY = "out of memory"
    TIMED_OUT = "timed out"
    CANCELLED = "cancelled"
    KILLED = "killed by a signal"
    FAILED = "exited with an error"


@dataclass
class EmulatedCluster:
    """One cluster executor's cluster: its function and its package, unpacked once."""

    function: EmulatedFunction
    unpacked: Unpacked

    def script(self, uri: str) -> Path | None:
        """The file of the package a job names by ``uri`` (a path or URI ending in its name),
        or None when the package has no such file."""
        name = PurePosixPath(uri).name
        path = self.unpacked.code / name
        return path if name and path.is_file() else None


class EmulatedJob(Protocol):
    """What the job loop needs of a platform's job record."""

    process: FunctionProcess | None
    cancelled: bool

    @property
    def timeout(self) -> float | None: ...

    @property
    def done(self) -> bool: ...


ClusterT = TypeVar("ClusterT", bound=EmulatedCluster)
JobT = TypeVar("JobT", bound=EmulatedJob)


class JsonHandler(BaseHTTPRequestHandler):
    """An emulated platform's HTTP side: JSON in and out, nothing logged."""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def read_json(self) -> Any:
        return json.loads(self.read_body() or b"{}")

    def reply(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class EmulatedJobPlatform(Generic[ClusterT, JobT]):
    """A platform's clusters and jobs on 127.0.0.1, serving ``handler``; :meth:`close` stops
    every job and the server and removes the unpacked packages."""

    service: ClassVar[str]
    """The platform's key in ``endpoints`` (and ``glacier.clouds.CLUSTER_EMULATORS``)."""
    cluster_type: type[ClusterT]
    platform_env: ClassVar[Mapping[str, str]] = LOCAL_SPARK_ENV
    """What the platform sets in a job's driver environment (local Spark for its cluster)."""

    def __init__(self, functions: Sequence[EmulatedFunction]) -> None:
        self.clusters: dict[Hashable, ClusterT] = {}
        self.by_executor: dict[str, ClusterT] = {}
        self.jobs: dict[Hashable, JobT] = {}
        self.lock = threading.Lock()
        try:
            for function in functions:
                cluster = self.cluster_type(function, Unpacked(function))
                self.clusters[self.key(cluster)] = cluster
                self.by_executor[function.executor] = cluster
        except BaseException:
            self.close()
            raise
        self.server = ThreadingHTTPServer((HOST, 0), self.handler())
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # -- what each platform says -------------------------------------------------------------

    def key(self, cluster: ClusterT) -> Hashable:
        """How requests name the cluster (its id)."""
        raise NotImplementedError

    def handler(self) -> type[BaseHTTPRequestHandler]:
        """The request handler of the platform's API (a :class:`JsonHandler`)."""
        raise NotImplementedError

    def script(self, cluster: ClusterT, job: JobT) -> tuple[Path, Sequence[Any]] | None:
        """The job's entry point in the package and its arguments; None once the job has
        been ended as the platform refuses what it asked for."""
        raise NotImplementedError

    def starting(self, job: JobT) -> None:
        """The job's state while its process is being started."""
        raise NotImplementedError

    def started(self, job: JobT) -> None:
        """The job's state once its process runs (as while starting, unless the platform
        tells the two apart)."""

    def finish(self, job: JobT, end: End, code: int | None) -> None:
        """Give the job the final state the platform reports for ``end`` (``code``: the
        process's exit code, None if it never ran or outlived its timeout)."""
        raise NotImplementedError

    # -- the Emulated protocol ---------------------------------------------------------------

    @property
    def endpoints(self) -> Mapping[str, str]:
        return {self.service: self.url}

    @property
    def secrets(self) -> Mapping[str, str]:
        return {}

    def close(self) -> None:
        server = getattr(self, "server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
        with self.lock:
            jobs = list(self.jobs.values())
        for job in jobs:
            if job.process is not None:
                job.process.kill()
        for cluster in self.clusters.values():
            cluster.unpacked.remove()

    # -- jobs --------------------------------------------------------------------------------

    def launch(self, cluster: ClusterT, job: JobT) -> None:
        """Run the job (already in :attr:`jobs`) in the background."""
        threading.Thread(target=self._run, args=(cluster, job), daemon=True).start()

    def cancel(self, job: JobT) -> None:
        job.cancelled = True
        if job.process is not None:
            job.process.kill()
        elif not job.done:
            self.finish(job, End.CANCELLED, None)

    def _run(self, cluster: ClusterT, job: JobT) -> None:
        command = self.script(cluster, job)
        if command is None:
            return
        script, arguments = command
        argv = [sys.executable, str(script), *map(str, arguments)]
        env = cluster.unpacked.environment(cluster.function, self.platform_env)
        self.starting(job)
        with open(cluster.unpacked.root / "log", "ab") as log:
            process = FunctionProcess(
                argv, env, cluster.unpacked.code, cluster.function.memory, stdout=log, stderr=log
            )
        job.process = process
        self.started(job)
        if job.cancelled:
            process.kill()
        try:
            code = process.process.wait(timeout=job.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            self.finish(job, End.TIMED_OUT, None)
            return
        process.stop(grace=0)
        if code == 0:
            end = End.SUCCEEDED
        elif process.out_of_memory:
            end = End.OUT_OF_MEMORY
        elif job.cancelled:
            end = End.CANCELLED
        elif code < 0:
            end = End.KILLED
        else:
            end = End.FAILED
        self.finish(job, end, code)
