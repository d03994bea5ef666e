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
application's unpacked folder. The server, the applications and the job's process are
:class:`~glacier.runtime.job_emulator.EmulatedJobPlatform`'s; this module keeps EMR's routes,
replies and states.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from glacier.infra import artifacts
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import FunctionProcess
from glacier.runtime.job_emulator import (
    EmulatedCluster,
    EmulatedJobPlatform,
    End,
    JsonHandler,
)

ACCOUNT = "000000000000"
RELEASE = "emr-7.5.0"
_RUNS = re.compile(r"^/applications/(?P<app>[^/]+)/jobruns(?:/(?P<run>[^/?]+))?/?(?:\?.*)?$")
ENDED = ("SUCCESS", "FAILED", "CANCELLED")


@dataclass
class JobRun:
    """One job run and its process."""

    id: str
    application: str
    name: str
    driver: Mapping[str, Any]
    state: str = "SUBMITTED"
    details: str = ""
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    timeout: float | None = None
    process: FunctionProcess | None = None
    cancelled: bool = False

    @property
    def done(self) -> bool:
        return self.state in ENDED

    def end(self, state: str, details: str) -> None:
        self.state, self.details, self.updated = state, details, time.time()

    def describe(self) -> dict[str, Any]:
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
            "jobDriver": dict(self.driver),
        }


@dataclass
class Application(EmulatedCluster):
    id: str = field(default_factory=lambda: "00" + uuid.uuid4().hex[:14])


class EmrEmulator(EmulatedJobPlatform[Application, JobRun]):
    """Running applications of ``glacier emulate``'s cluster executors; :meth:`close` stops
    every job and the server."""

    service = "emr-serverless"
    cluster_type = Application

    def key(self, cluster: Application) -> Hashable:
        return cluster.id

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        """Executor -> its entry in the shape of the Terraform output ``clusters``."""
        return {
            executor: {
                "type": self.service,
                "id": app.id,
                "execution_role_arn": f"arn:aws:iam::{ACCOUNT}:role/glacier-emulated",
                "entry_point": str(app.unpacked.code / artifacts.JOB_SCRIPT),
            }
            for executor, app in self.by_executor.items()
        }

    # -- the API -----------------------------------------------------------------------------

    def start_job_run(self, app: Application, request: Mapping[str, Any]) -> JobRun:
        timeouts = [app.function.timeout]
        if request.get("executionTimeoutMinutes"):
            timeouts.append(float(request["executionTimeoutMinutes"]) * 60)
        run = JobRun(
            id=uuid.uuid4().hex[:16],
            application=app.id,
            name=str(request.get("name", "")),
            driver=request.get("jobDriver", {}),
            timeout=min((t for t in timeouts if t), default=None),
        )
        with self.lock:
            self.jobs[run.id] = run
        self.launch(app, run)
        return run

    def script(self, cluster: Application, job: JobRun) -> tuple[Path, Sequence[Any]] | None:
        driver = job.driver.get("sparkSubmit", {})
        script = cluster.script(str(driver.get("entryPoint", "")))
        if script is None:
            job.end("FAILED", f"Job failed: entry point {driver.get('entryPoint')!r} not found.")
            return None
        return script, driver.get("entryPointArguments", [])

    def starting(self, job: JobRun) -> None:
        job.state = "RUNNING"

    def finish(self, job: JobRun, end: End, code: int | None) -> None:
        if end is End.SUCCEEDED:
            job.end("SUCCESS", "")
        elif end is End.OUT_OF_MEMORY:
            memory = self.clusters[job.application].function.memory
            job.end(
                "FAILED",
                f"Job failed, Driver OutOfMemoryError: the job used more than {memory} MB.",
            )
        elif end is End.TIMED_OUT:
            job.end("CANCELLED", f"Job run timed out after {job.timeout:.0f} seconds.")
        elif end is End.CANCELLED:
            job.end("CANCELLED", "Job run cancelled by user.")
        else:
            job.end("FAILED", f"Job failed, the driver exited with code {code}. See the logs.")


def _handler(emulator: EmrEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            self._route("POST")

        def do_GET(self) -> None:
            self._route("GET")

        def do_DELETE(self) -> None:
            self._route("DELETE")

        def _route(self, method: str) -> None:
            match = _RUNS.match(self.path)
            app = emulator.clusters.get(match["app"]) if match else None
            if match is None or app is None:
                self._error(404, "ResourceNotFoundException", f"Application not found: {self.path}")
                return
            run_id = match["run"]
            if method == "POST" and run_id is None:
                run = emulator.start_job_run(app, self.read_json())
                self.reply(200, {"applicationId": app.id, "jobRunId": run.id, "arn": ""})
                return
            found = emulator.jobs.get(run_id or "")
            if found is None or found.application != app.id:
                self._error(404, "ResourceNotFoundException", f"Job run {run_id} not found.")
            elif method == "GET":
                self.reply(200, {"jobRun": found.describe()})
            elif method == "DELETE":
                emulator.cancel(found)
                self.reply(200, {"applicationId": app.id, "jobRunId": found.id})
            else:
                self._error(400, "ValidationException", f"{method} {self.path} is not an API.")

        def _error(self, status: int, code: str, message: str) -> None:
            self.reply(status, {"message": message}, {"x-amzn-ErrorType": code})

    return Handler


def start(clusters: Sequence[EmulatedFunction]) -> EmrEmulator:
    """Serve every cluster executor as an EMR Serverless application on 127.0.0.1."""
    return EmrEmulator(clusters)
