"""Dataproc on 127.0.0.1: the REST API v1's ``jobs:submit``, ``jobs.get`` and ``jobs:cancel``,
each job a fresh process on local Spark.

One cluster per cluster executor, in the project and region of its environment
(``GOOGLE_CLOUD_PROJECT``, ``GOOGLE_CLOUD_REGION``). A job runs the ``pysparkJob``'s
``mainPythonFileUri`` from the package (unpacked once, :class:`~glacier.runtime.
function_process.Unpacked`) with its ``args`` and only the executor's environment plus what
Dataproc sets (``DATAPROC_IMAGE_VERSION``; a ``local[2]`` master standing in for the cluster),
its memory watched on the process tree. Its ``pythonFileUris`` must be the cluster's package,
as a real job's must exist. Every call needs a bearer token (any: the transport sends a fixed
one to 127.0.0.1), else 401.

Jobs answer as Dataproc does: ``PENDING``, ``SETUP_DONE``, ``RUNNING``, then ``DONE``;
``ERROR`` with "Driver received SIGKILL ... exit code 137 (OutOfMemory)" for a memory kill,
the driver's signal or exit code otherwise, and "not found" for a main file not in the package;
``CANCELLED`` after ``jobs:cancel``. A Dataproc job has no timeout, so none is enforced here
either (the transport cancels it). A cluster that does not exist is 404 ``NOT_FOUND``. What a
job prints goes to ``log`` in its cluster's unpacked folder. The server, the clusters and the
job's process are :class:`~glacier.runtime.job_emulator.EmulatedJobPlatform`'s; this module
keeps Dataproc's routes, replies and states.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from glacier.clouds.gcp.dataproc import SERVICE
from glacier.infra import artifacts
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import LOCAL_SPARK_ENV, FunctionProcess
from glacier.runtime.job_emulator import (
    EmulatedCluster,
    EmulatedJobPlatform,
    End,
    JsonHandler,
)

IMAGE = "2.2-debian12"
PLATFORM_ENV = {**LOCAL_SPARK_ENV, "DATAPROC_IMAGE_VERSION": IMAGE.partition("-")[0]}
"""What Dataproc sets in a job's driver environment, with local Spark for the cluster."""
DEFAULT_PROJECT = "glacier-emulated"
DEFAULT_REGION = "us-central1"
_JOBS = re.compile(
    r"^/v1/projects/(?P<project>[^/]+)/regions/(?P<region>[^/]+)/jobs"
    r"(?::submit|/(?P<job>[^/:?]+)(?P<cancel>:cancel)?)$"
)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Job:
    """One job and its process."""

    id: str
    project: str
    region: str
    cluster: str
    labels: Mapping[str, str]
    pyspark: Mapping[str, Any]
    state: str = "PENDING"
    details: str = ""
    history: list[dict[str, str]] = field(default_factory=list)
    changed: str = field(default_factory=_now)
    job_uuid: str = field(default_factory=lambda: str(uuid.uuid4()))
    process: FunctionProcess | None = None
    cancelled: bool = False

    @property
    def timeout(self) -> None:
        """A Dataproc job has none: it runs until it ends or is cancelled."""

    @property
    def done(self) -> bool:
        return self.state in ("DONE", "ERROR", "CANCELLED")

    def move(self, state: str, details: str = "") -> None:
        self.history.append({"state": self.state, "stateStartTime": self.changed})
        self.state, self.details, self.changed = state, details, _now()

    def describe(self) -> dict[str, Any]:
        status: dict[str, Any] = {"state": self.state, "stateStartTime": self.changed}
        if self.details:
            status["details"] = self.details
        return {
            "reference": {"projectId": self.project, "jobId": self.id},
            "placement": {"clusterName": self.cluster, "clusterUuid": self.cluster + "-uuid"},
            "pysparkJob": dict(self.pyspark),
            "labels": dict(self.labels),
            "status": status,
            "statusHistory": list(self.history),
            "driverControlFilesUri": f"gs://dataproc-staging/{self.cluster}/jobs/{self.id}/",
            "jobUuid": self.job_uuid,
            "done": self.done,
        }


@dataclass
class Cluster(EmulatedCluster):
    @property
    def project(self) -> str:
        return self.function.environment.get("GOOGLE_CLOUD_PROJECT") or DEFAULT_PROJECT

    @property
    def region(self) -> str:
        return self.function.environment.get("GOOGLE_CLOUD_REGION") or DEFAULT_REGION

    @property
    def name(self) -> str:
        return self.function.name[:51]

    @property
    def package(self) -> str:
        return f"file://{self.function.package}"


class DataprocEmulator(EmulatedJobPlatform[Cluster, Job]):
    """The running clusters of ``glacier emulate``'s Dataproc cluster executors; :meth:`close`
    stops every job and the server."""

    service = SERVICE
    cluster_type = Cluster
    platform_env = PLATFORM_ENV

    def key(self, cluster: Cluster) -> Hashable:
        return cluster.project, cluster.region, cluster.name

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        """Executor -> its entry in the shape of the Terraform output ``clusters``."""
        return {
            executor: {
                "type": SERVICE,
                "id": cluster.name,
                "project": cluster.project,
                "region": cluster.region,
                "main_python_file_uri": f"file://{cluster.unpacked.code / artifacts.JOB_SCRIPT}",
                "python_file_uris": [cluster.package],
            }
            for executor, cluster in self.by_executor.items()
        }

    # -- the API -----------------------------------------------------------------------------

    def submit(self, project: str, region: str, request: Mapping[str, Any]) -> tuple[int, Any]:
        """(status, answer) of ``jobs:submit``: the submitted job, or Dataproc's refusal."""
        job = request.get("job") or {}
        name = str((job.get("placement") or {}).get("clusterName", ""))
        cluster = self.clusters.get((project, region, name))
        if cluster is None:
            return 404, _error(
                404,
                "NOT_FOUND",
                f"Not found: Cluster projects/{project}/regions/{region}/clusters/{name}",
            )
        if "pysparkJob" not in job:
            return 400, _error(400, "INVALID_ARGUMENT", "The emulator runs pysparkJob jobs only.")
        given = str((job.get("reference") or {}).get("jobId") or "")
        with self.lock:
            if given in self.jobs:
                return 409, _error(409, "ALREADY_EXISTS", f"Already exists: Job {given}")
            made = Job(
                id=given or uuid.uuid4().hex,
                project=project,
                region=region,
                cluster=name,
                labels=job.get("labels") or {},
                pyspark=job["pysparkJob"],
            )
            self.jobs[made.id] = made
        self.launch(cluster, made)
        return 200, made.describe()

    def script(self, cluster: Cluster, job: Job) -> tuple[Path, Sequence[Any]] | None:
        pyspark = job.pyspark
        main = str(pyspark.get("mainPythonFileUri", ""))
        wanted = [str(uri) for uri in pyspark.get("pythonFileUris") or []]
        if any(uri != cluster.package for uri in wanted):
            job.move(
                "ERROR", f"Google Cloud Dataproc Agent reports job failure: {wanted} not found."
            )
            return None
        script = cluster.script(main)
        if not main or script is None:
            job.move("ERROR", f"File not found: {main!r}.")
            return None
        return script, pyspark.get("args") or []

    def starting(self, job: Job) -> None:
        job.move("SETUP_DONE")

    def started(self, job: Job) -> None:
        job.move("RUNNING")

    def finish(self, job: Job, end: End, code: int | None) -> None:
        if end is End.SUCCEEDED:
            job.move("DONE")
        elif end is End.OUT_OF_MEMORY:
            memory = self.clusters[job.project, job.region, job.cluster].function.memory
            job.move(
                "ERROR",
                "Job failed with message [Driver received SIGKILL and exited with exit code "
                f"137 (OutOfMemory: the driver used more than {memory} MB)].",
            )
        elif end is End.CANCELLED:
            job.move("CANCELLED")
        elif end is End.KILLED and code is not None:
            job.move("ERROR", f"Job failed with message [Driver was killed by signal {-code}].")
        else:
            job.move("ERROR", f"Job failed with message [Driver exited with code {code}].")


def _error(code: int, status: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "status": status}}


def _handler(emulator: DataprocEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            self._route("POST", self.read_json())

        def do_GET(self) -> None:
            self._route("GET", {})

        def _route(self, method: str, body: Mapping[str, Any]) -> None:
            scheme, _, token = self.headers.get("Authorization", "").partition(" ")
            if scheme != "Bearer" or not token:
                self.reply(401, _error(401, "UNAUTHENTICATED", "Missing credentials."))
                return
            match = _JOBS.match(self.path)
            if match is None:
                self.reply(404, _error(404, "NOT_FOUND", f"No API at {self.path}"))
                return
            project, region, job_id = match["project"], match["region"], match["job"]
            if job_id is None:
                if method == "POST":
                    self.reply(*emulator.submit(project, region, body))
                else:
                    self.reply(405, _error(405, "INVALID_ARGUMENT", "jobs:submit is POST."))
                return
            job = emulator.jobs.get(job_id)
            if job is None or (job.project, job.region) != (project, region):
                self.reply(404, _error(404, "NOT_FOUND", f"Not found: Job {job_id}"))
            elif match["cancel"] and method == "POST":
                if job.done:
                    self.reply(
                        400,
                        _error(400, "FAILED_PRECONDITION", f"Job {job_id} is in state {job.state}"),
                    )
                else:
                    emulator.cancel(job)
                    self.reply(200, job.describe())
            elif not match["cancel"] and method == "GET":
                self.reply(200, job.describe())
            else:
                self.reply(404, _error(404, "NOT_FOUND", f"No API {method} {self.path}"))

    return Handler


def start(clusters: Sequence[EmulatedFunction]) -> DataprocEmulator:
    """Serve every cluster executor as a Dataproc cluster on 127.0.0.1."""
    return DataprocEmulator(clusters)
