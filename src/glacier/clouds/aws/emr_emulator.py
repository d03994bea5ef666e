"""EMR Serverless on 127.0.0.1: ``StartJobRun``, ``GetJobRun`` and ``CancelJobRun`` (REST
paths of botocore's ``emr-serverless`` model), each job run a fresh process on local Spark.

One application per cluster executor. A job run unzips nothing again (the package is unpacked
once, :class:`~glacier.runtime.function_process.Unpacked`), runs the entry point the request
names from the package (``python glacier_job.py EVENT_URI``) with only the executor's
environment plus what EMR itself sets (a ``local[2]`` master standing in for the
application's capacity), its memory watched on the process tree, and past its timeout killed.
Its end is reported as EMR reports it, so :mod:`.emr` maps the same states and details:
``SUCCESS``; ``FAILED`` with "OutOfMemoryError" for a memory kill, with the exit code
otherwise; ``CANCELLED`` "timed out" past ``executionTimeoutMinutes`` (or the executor's own
timeout, in seconds, which the emulator honours too so tests need not wait minutes) and
"cancelled by user" after ``CancelJobRun``. What a job prints goes to ``log`` in its
application's unpacked folder.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import PurePosixPath
from typing import Any

from glacier.infra import artifacts
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import LOCAL_SPARK_ENV, FunctionProcess, Unpacked

HOST = "127.0.0.1"
ACCOUNT = "000000000000"
RELEASE = "emr-7.5.0"
_RUNS = re.compile(r"^/applications/(?P<app>[^/]+)/jobruns(?:/(?P<run>[^/?]+))?/?(?:\?.*)?$")
PLATFORM_ENV = LOCAL_SPARK_ENV
"""What EMR sets in a job's driver environment: local Spark standing in for its capacity."""


@dataclass
class JobRun:
    """One job run and its process."""

    id: str
    application: str
    name: str
    state: str = "SUBMITTED"
    details: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    timeout: float | None = None
    process: FunctionProcess | None = None
    cancelled: bool = False

    def end(self, state: str, details: str) -> None:
        self.state, self.details, self.updated = state, details, time.time()

    def describe(self, driver: Mapping[str, Any]) -> dict[str, Any]:
        return {
            "applicationId": self.application,
            "jobRunId": self.id,
            "name": self.name,
            "arn": f"arn:aws:emr-serverless:us-east-1:{ACCOUNT}:/applications/"
            f"{self.application}/jobruns/{self.id}",
            "createdBy": f"arn:aws:iam::{ACCOUNT}:user/glacier",
            "createdAt": self.created,
            "updatedAt": self.updated,
            "executionRole": f"arn:aws:iam::{ACCOUNT}:role/glacier-emulated",
            "state": self.state,
            "stateDetails": self.details,
            "releaseLabel": RELEASE,
            "jobDriver": dict(driver),
        }


@dataclass
class Application:
    function: EmulatedFunction
    unpacked: Unpacked
    id: str = field(default_factory=lambda: "00" + uuid.uuid4().hex[:14])


class EmrEmulator:
    """Running applications of ``glacier emulate``'s cluster executors; :meth:`close` stops
    every job and the server."""

    def __init__(self, clusters: Sequence[EmulatedFunction]) -> None:
        self.applications: dict[str, Application] = {}
        self.by_executor: dict[str, Application] = {}
        self.runs: dict[str, JobRun] = {}
        self._drivers: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()
        try:
            for cluster in clusters:
                app = Application(cluster, Unpacked(cluster))
                self.applications[app.id] = app
                self.by_executor[cluster.executor] = app
        except BaseException:
            self.close()
            raise
        self.server = ThreadingHTTPServer((HOST, 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://{HOST}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    # -- the Emulated protocol ---------------------------------------------------------------

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        """Executor -> its entry in the shape of the Terraform output ``clusters``."""
        return {
            executor: {
                "type": "emr-serverless",
                "id": app.id,
                "execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/glacier-emulated",
                "entry_point": str(app.unpacked.code / artifacts.JOB_SCRIPT),
            }
            for executor, app in self.by_executor.items()
        }

    @property
    def endpoints(self) -> Mapping[str, str]:
        return {"emr-serverless": self.url}

    @property
    def secrets(self) -> Mapping[str, str]:
        return {}

    def close(self) -> None:
        server = getattr(self, "server", None)
        if server is not None:
            server.shutdown()
            server.server_close()
        with self._lock:
            runs = list(self.runs.values())
        for run in runs:
            if run.process is not None:
                run.process.kill()
        for app in self.applications.values():
            app.unpacked.remove()

    # -- the API -----------------------------------------------------------------------------

    def start_job_run(self, app: Application, request: Mapping[str, Any]) -> JobRun:
        driver = request.get("jobDriver", {}).get("sparkSubmit", {})
        timeouts = [app.function.timeout]
        if request.get("executionTimeoutMinutes"):
            timeouts.append(float(request["executionTimeoutMinutes"]) * 60)
        run = JobRun(
            id=uuid.uuid4().hex[:16],
            application=app.id,
            name=str(request.get("name", "")),
            timeout=min((t for t in timeouts if t), default=None),
        )
        with self._lock:
            self.runs[run.id] = run
            self._drivers[run.id] = request.get("jobDriver", {})
        threading.Thread(target=self._run, args=(app, run, driver), daemon=True).start()
        return run

    def describe(self, run: JobRun) -> dict[str, Any]:
        return run.describe(self._drivers.get(run.id, {}))

    def cancel(self, run: JobRun) -> None:
        run.cancelled = True
        if run.process is not None:
            run.process.kill()
        elif run.state not in ("SUCCESS", "FAILED", "CANCELLED"):
            run.end("CANCELLED", "Job run cancelled by user.")

    def _run(self, app: Application, run: JobRun, driver: Mapping[str, Any]) -> None:
        entry = PurePosixPath(str(driver.get("entryPoint", ""))).name
        script = app.unpacked.code / entry
        if not entry or not script.is_file():
            run.end("FAILED", f"Job failed: entry point {driver.get('entryPoint')!r} not found.")
            return
        argv = [sys.executable, str(script), *map(str, driver.get("entryPointArguments", []))]
        env = app.unpacked.environment(app.function, PLATFORM_ENV)
        run.state = "RUNNING"
        with open(app.unpacked.root / "log", "ab") as log:
            process = FunctionProcess(
                argv, env, app.unpacked.code, app.function.memory, stdout=log, stderr=log
            )
        run.process = process
        if run.cancelled:
            process.kill()
        try:
            code = process.process.wait(timeout=run.timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            run.end("CANCELLED", f"Job run timed out after {run.timeout:.0f} seconds.")
            return
        process.stop(grace=0)
        if code == 0:
            run.end("SUCCESS", "")
        elif process.out_of_memory:
            run.end(
                "FAILED",
                f"Job failed, Driver OutOfMemoryError: the job used more than "
                f"{app.function.memory} MB.",
            )
        elif run.cancelled:
            run.end("CANCELLED", "Job run cancelled by user.")
        else:
            run.end("FAILED", f"Job failed, the driver exited with code {code}. See the logs.")


def _handler(emulator: EmrEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self._route("POST")

        def do_GET(self) -> None:
            self._route("GET")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def _route(self, method: str) -> None:
            match = _RUNS.match(self.path)
            app = emulator.applications.get(match["app"]) if match else None
            if match is None or app is None:
                self._error(404, "ResourceNotFoundException", f"Application not found: {self.path}")
                return
            run_id = match["run"]
            if method == "POST" and run_id is None:
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                run = emulator.start_job_run(app, request)
                self._reply({"applicationId": app.id, "jobRunId": run.id, "arn": ""})
                return
            found = emulator.runs.get(run_id or "")
            if found is None or found.application != app.id:
                self._error(404, "ResourceNotFoundException", f"Job run {run_id} not found.")
            elif method == "GET":
                self._reply({"jobRun": emulator.describe(found)})
            elif method == "DELETE":
                emulator.cancel(found)
                self._reply({"applicationId": app.id, "jobRunId": found.id})
            else:
                self._error(400, "ValidationException", f"{method} {self.path} is not an API.")

        def _reply(self, body: Mapping[str, Any], status: int = 200) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, code: str, message: str) -> None:
            data = json.dumps({"message": message}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("x-amzn-ErrorType", code)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def start(clusters: Sequence[EmulatedFunction]) -> EmrEmulator:
    """Serve every cluster executor as an EMR Serverless application on 127.0.0.1."""
    return EmrEmulator(clusters)
