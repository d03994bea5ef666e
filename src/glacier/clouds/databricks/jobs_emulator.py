"""A Databricks workspace on 127.0.0.1: the Jobs API 2.1 one-time runs (``runs/submit``,
``runs/get``, ``runs/cancel``) and the OAuth token endpoint, each run a fresh process on
local Spark.

One all-purpose cluster per cluster executor. A run executes the ``spark_python_task``'s
``python_file`` from the package (unpacked once, :class:`~glacier.runtime.function_process.
Unpacked`) with its ``parameters`` and only the executor's environment plus what Databricks
sets itself (``DATABRICKS_RUNTIME_VERSION``; a ``local[2]`` master standing in for the
cluster), its memory watched on the process tree, and past its timeout killed. Its
``libraries`` must be the package the workspace holds, as a real run's libraries must exist.

Every call needs ``Authorization: Bearer <token>``: the workspace's token (``secrets``, which
``glacier emulate`` writes as ``function_keys``) or one the token endpoint issued for its
service principal (:attr:`JobsEmulator.client_id` / :attr:`~JobsEmulator.client_secret`);
anything else is answered 401. Runs answer as Databricks does: ``PENDING`` then ``RUNNING``,
then ``TERMINATED`` with ``result_state`` ``SUCCESS``; ``FAILED`` with the Python process's
"exit code 137 ... OOM error" message for a memory kill, "The spark driver has stopped
unexpectedly" for a killed driver, the exit code otherwise; ``TIMEDOUT`` past
``timeout_seconds`` (or the executor's own timeout, in seconds); ``CANCELED`` after
``runs/cancel``; ``INTERNAL_ERROR`` when the ``python_file`` is not in the package. What a run
prints goes to ``log`` in its cluster's unpacked folder. The server, the clusters and the run's
process are :class:`~glacier.runtime.job_emulator.EmulatedJobPlatform`'s; this module keeps
the workspace's routes, auth, replies and states.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import urllib.parse
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from glacier.clouds.databricks.jobs import CANCEL, GET, SERVICE, SUBMIT, TOKEN
from glacier.infra import artifacts
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import LOCAL_SPARK_ENV, FunctionProcess
from glacier.runtime.job_emulator import (
    EmulatedCluster,
    EmulatedJobPlatform,
    End,
    JsonHandler,
)

RUNTIME = "15.4"
PLATFORM_ENV = {**LOCAL_SPARK_ENV, "DATABRICKS_RUNTIME_VERSION": RUNTIME}
"""What Databricks sets in a run's driver environment, with local Spark for the cluster."""
VOLUME = "/Volumes/glacier/emulated/packages"
"""Where the emulated workspace says a cluster's package is (its wheel and entry point)."""
TOKEN_SECONDS = 3600


@dataclass
class Run:
    """One run and its process."""

    id: int
    cluster: str
    name: str
    task: Mapping[str, Any]
    timeout: float | None
    life_cycle_state: str = "PENDING"
    result_state: str | None = None
    state_message: str = "Waiting for cluster"
    started: int = field(default_factory=lambda: int(time.time() * 1000))
    ended: int = 0
    process: FunctionProcess | None = None
    cancelled: bool = False

    @property
    def done(self) -> bool:
        return self.result_state is not None

    def end(self, life: str, result: str, message: str) -> None:
        self.life_cycle_state, self.result_state, self.state_message = life, result, message
        self.ended = int(time.time() * 1000)

    def describe(self) -> dict[str, Any]:
        state: dict[str, Any] = {
            "life_cycle_state": self.life_cycle_state,
            "state_message": self.state_message,
            "user_cancelled_or_timedout": self.result_state in ("CANCELED", "TIMEDOUT"),
        }
        if self.result_state is not None:
            state["result_state"] = self.result_state
        return {
            "run_id": self.id,
            "run_name": self.name,
            "run_type": "SUBMIT_RUN",
            "state": state,
            "start_time": self.started,
            "end_time": self.ended,
            "cluster_instance": {"cluster_id": self.cluster},
            "tasks": [{**self.task, "run_id": self.id + 1, "state": state}],
        }


@dataclass
class Cluster(EmulatedCluster):
    id: str = field(
        default_factory=lambda: (
            f"{time.strftime('%m%d')}-{secrets.randbelow(10**6):06d}-{secrets.token_hex(4)}"
        )
    )

    @property
    def package(self) -> str:
        return f"{VOLUME}/{self.function.package.name}"


class JobsEmulator(EmulatedJobPlatform[Cluster, Run]):
    """The running workspace of ``glacier emulate``'s Databricks cluster executors;
    :meth:`close` stops every run and the server."""

    service = SERVICE
    cluster_type = Cluster
    platform_env = PLATFORM_ENV

    def __init__(self, clusters: Sequence[EmulatedFunction]) -> None:
        self.token = secrets.token_urlsafe(24)
        self.client_id = f"glacier-{secrets.token_hex(8)}"
        self.client_secret = secrets.token_urlsafe(24)
        self._issued: dict[str, float] = {}
        super().__init__(clusters)

    def key(self, cluster: Cluster) -> Hashable:
        return cluster.id

    def handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        """Executor -> its entry in the shape of the Terraform output ``clusters``."""
        return {
            executor: {
                "type": "databricks",
                "id": cluster.id,
                "host": self.url,
                "python_file": f"{VOLUME}/{artifacts.JOB_SCRIPT}",
                "libraries": [{"whl": cluster.package}],
            }
            for executor, cluster in self.by_executor.items()
        }

    @property
    def secrets(self) -> Mapping[str, str]:
        return dict.fromkeys(self.by_executor, self.token)

    # -- the API -----------------------------------------------------------------------------

    def authorized(self, header: str) -> bool:
        scheme, _, token = header.partition(" ")
        if scheme != "Bearer" or not token:
            return False
        if secrets.compare_digest(token, self.token):
            return True
        return self._issued.get(token, 0.0) > time.monotonic()

    def issue(self, header: str, form: Mapping[str, list[str]]) -> dict[str, Any] | None:
        """An OAuth access token for the service principal's client credentials, or None."""
        scheme, _, encoded = header.partition(" ")
        try:
            client, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return None
        if scheme != "Basic" or form.get("grant_type") != ["client_credentials"]:
            return None
        if client != self.client_id or not secrets.compare_digest(secret, self.client_secret):
            return None
        token = secrets.token_urlsafe(24)
        self._issued[token] = time.monotonic() + TOKEN_SECONDS
        return {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_SECONDS}

    def submit(self, request: Mapping[str, Any]) -> tuple[int, dict[str, Any]]:
        """(status, answer) of ``runs/submit``: a started run, or Databricks' refusal."""
        tasks = request.get("tasks") or []
        if len(tasks) != 1 or "spark_python_task" not in tasks[0]:
            return 400, _error(
                "INVALID_PARAMETER_VALUE", "The emulator runs one spark_python_task per run."
            )
        task = tasks[0]
        cluster = self.clusters.get(str(task.get("existing_cluster_id")))
        if cluster is None:
            return 400, _error(
                "INVALID_PARAMETER_VALUE",
                f"Cluster {task.get('existing_cluster_id')} does not exist",
            )
        timeouts = [cluster.function.timeout, task.get("timeout_seconds")]
        timeouts.append(request.get("timeout_seconds"))
        with self.lock:
            run = Run(
                id=len(self.jobs) * 2 + 1,  # task runs take the even ids after their run's
                cluster=cluster.id,
                name=str(request.get("run_name", "")),
                task=task,
                timeout=min((float(t) for t in timeouts if t), default=None),
            )
            self.jobs[run.id] = run
        self.launch(cluster, run)
        return 200, {"run_id": run.id}

    def script(self, cluster: Cluster, job: Run) -> tuple[Path, Sequence[Any]] | None:
        spark = job.task["spark_python_task"]
        wanted = [lib.get("whl") for lib in job.task.get("libraries") or []]
        if any(whl != cluster.package for whl in wanted):
            job.end("INTERNAL_ERROR", "FAILED", f"Library installation failed: {wanted}.")
            return None
        script = cluster.script(str(spark.get("python_file", "")))
        if not spark.get("python_file") or script is None:
            job.end(
                "INTERNAL_ERROR", "FAILED", f"File {spark.get('python_file')!r} does not exist."
            )
            return None
        return script, spark.get("parameters") or []

    def starting(self, job: Run) -> None:
        job.life_cycle_state, job.state_message = "RUNNING", "In run"

    def finish(self, job: Run, end: End, code: int | None) -> None:
        if end is End.SUCCEEDED:
            job.end("TERMINATED", "SUCCESS", "")
        elif end is End.OUT_OF_MEMORY:
            job.end(
                "TERMINATED",
                "FAILED",
                "The Python process exited with exit code 137 (SIGKILL: Killed). This may have "
                "been caused by an OOM error. Check your command's memory usage.",
            )
        elif end is End.TIMED_OUT:
            job.end("TERMINATED", "TIMEDOUT", f"Run timed out after {job.timeout:g} seconds.")
        elif end is End.CANCELLED:
            job.end("TERMINATED", "CANCELED", "Run cancelled.")
        elif end is End.KILLED:
            job.end(
                "TERMINATED",
                "FAILED",
                "The spark driver has stopped unexpectedly and is restarting.",
            )
        else:
            job.end("TERMINATED", "FAILED", f"The Python process exited with exit code {code}.")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error_code": code, "message": message}


def _handler(emulator: JobsEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_POST(self) -> None:
            body = self.read_body()
            path = urllib.parse.urlsplit(self.path).path
            if path == TOKEN:
                form = urllib.parse.parse_qs(body.decode())
                issued = emulator.issue(self.headers.get("Authorization", ""), form)
                if issued is None:
                    self.reply(401, {"error": "invalid_client", "error_description": "Bad"})
                else:
                    self.reply(200, issued)
                return
            if not self._authorized():
                return
            request = json.loads(body or b"{}")
            if path == SUBMIT:
                self.reply(*emulator.submit(request))
            elif path == CANCEL:
                run = self._run(request.get("run_id"))
                if run is not None:
                    emulator.cancel(run)
                    self.reply(200, {})
            else:
                self.reply(404, _error("ENDPOINT_NOT_FOUND", f"No API found for {path}"))

        def do_GET(self) -> None:
            if not self._authorized():
                return
            url = urllib.parse.urlsplit(self.path)
            if url.path != GET:
                self.reply(404, _error("ENDPOINT_NOT_FOUND", f"No API found for {url.path}"))
                return
            run = self._run(urllib.parse.parse_qs(url.query).get("run_id", [""])[0])
            if run is not None:
                self.reply(200, run.describe())

        def _authorized(self) -> bool:
            if emulator.authorized(self.headers.get("Authorization", "")):
                return True
            self.reply(401, _error("UNAUTHENTICATED", "Invalid access token."))
            return False

        def _run(self, run_id: Any) -> Run | None:
            try:
                run = emulator.jobs.get(int(run_id))
            except (TypeError, ValueError):
                run = None
            if run is None:
                self.reply(404, _error("RESOURCE_DOES_NOT_EXIST", f"Run {run_id} does not exist."))
            return run

    return Handler


def start(clusters: Sequence[EmulatedFunction]) -> JobsEmulator:
    """Serve every cluster executor as a cluster of one Databricks workspace on 127.0.0.1."""
    return JobsEmulator(clusters)
