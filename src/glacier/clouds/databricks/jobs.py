"""Cluster executors on Databricks (any cloud): one Jobs API run per attempt, over HTTPS.

``POST /api/2.1/jobs/runs/submit`` starts a one-time run of a ``spark_python_task`` on the
executor's cluster (output ``clusters``: ``id``, the all-purpose cluster; ``host``, the
workspace URL; ``python_file``, the package's ``glacier_job.py`` in the workspace or a Volume;
``libraries``, the package's wheel as Databricks names libraries) with the staged event's URI
as its one parameter. ``GET /api/2.1/jobs/runs/get`` is polled with backoff until the run's
``life_cycle_state`` is terminal, and an end other than ``SUCCESS`` is mapped to Glacier's
errors from ``result_state`` and ``state_message``: a driver out of memory (an
``OutOfMemoryError``, an OOM kill, "Driver is up but is not responsive, likely due to GC") ->
:class:`~glacier.errors.TaskOutOfMemory`; ``TIMEDOUT`` (``timeout_seconds``, from the
executor's ``timeout``) -> :class:`~glacier.errors.TaskTimeout`; ``FAILED``, ``CANCELED``,
``INTERNAL_ERROR`` -> :class:`~glacier.errors.TaskCrashed` (retried by the scheduler). A
refused call (401, 403, 404, a cluster that does not exist) is a
:class:`~glacier.errors.DeploymentError`.

Auth is a bearer token: the deployment's own (``function_keys``, as ``glacier emulate``
writes it), else ``DATABRICKS_TOKEN``, else OAuth machine-to-machine client credentials
(``DATABRICKS_CLIENT_ID`` / ``DATABRICKS_CLIENT_SECRET`` against ``<host>/oidc/v1/token``).
Standard-library HTTP only: no SDK to install for the runner.
"""

from __future__ import annotations

import base64
import contextlib
import json
import math
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

from glacier.errors import DeploymentError, GlacierError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.cluster_job import (
    HTTP_TIMEOUT,
    HttpRefused,
    call_json,
    http_opener,
    polls,
)
from glacier.runtime.transport import Target

SERVICE = "databricks"
"""The ``emulator.endpoints`` key of an emulated workspace."""
SUBMIT = "/api/2.1/jobs/runs/submit"
GET = "/api/2.1/jobs/runs/get"
CANCEL = "/api/2.1/jobs/runs/cancel"
TOKEN = "/oidc/v1/token"
ENDED = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
OUT_OF_MEMORY = ("outofmemory", "out of memory", "oom error", "likely due to gc")
REFUSED = frozenset({401, 403, 404})
MISSING = ("RESOURCE_DOES_NOT_EXIST", "does not exist")


class DatabricksJobs:
    """One-time runs on one Databricks cluster (a :class:`~glacier.runtime.cluster_job.
    JobPlatform`)."""

    def __init__(self, target: Target) -> None:
        entry = target.entry
        self.target = target
        self.host = (
            target.endpoints.get(SERVICE)
            or str(entry.get("host") or "")
            or os.environ.get("DATABRICKS_HOST", "")
        ).rstrip("/")
        missing = [k for k in ("id", "python_file") if not entry.get(k)]
        if not self.host:
            missing.append("host")
        if missing:
            raise DeploymentError(
                f"Cluster executor {target.executor!r}: its Databricks entry in the output "
                f"`clusters` lacks {', '.join(missing)} (or set DATABRICKS_HOST for the host). "
                f"Redeploy: `glacier package`, then `terraform apply`, so the job's package and "
                f"entry point are uploaded."
            )
        self.cluster = str(entry["id"])
        self.python_file = str(entry["python_file"])
        self.libraries = list(entry.get("libraries") or [])
        self.timeout = math.ceil(target.timeout) if target.timeout else None
        emulated = SERVICE in target.endpoints  # on 127.0.0.1: never through a proxy
        self.opener = http_opener(emulated)
        self.auth = _Auth(self.host, target.secret, self.opener)
        self._closed = threading.Event()

    @property
    def where(self) -> str:
        return f"databricks cluster {self.cluster}"

    def start(self, event_uri: str, name: str) -> str:
        task: dict[str, Any] = {
            "task_key": "glacier",
            "existing_cluster_id": self.cluster,
            "spark_python_task": {"python_file": self.python_file, "parameters": [event_uri]},
        }
        if self.libraries:
            task["libraries"] = self.libraries
        request: dict[str, Any] = {"run_name": name[:4096], "tasks": [task]}
        if self.timeout:
            request["timeout_seconds"] = task["timeout_seconds"] = self.timeout
        started = self._call("POST", SUBMIT, request, "submit a run")
        return str(started["run_id"])

    def wait(self, job_id: str) -> None:
        for _ in polls(self._closed, self.where, f"run {job_id}"):
            run = self._call("GET", f"{GET}?run_id={job_id}", None, f"read run {job_id}")
            state = run.get("state") or {}
            if str(state.get("life_cycle_state")) in ENDED:
                if state.get("result_state") == "SUCCESS":
                    return
                raise self._ended(job_id, state)

    def cancel(self, job_id: str) -> None:
        with contextlib.suppress(GlacierError):  # ended already, or refused: nothing to stop
            self._call("POST", CANCEL, {"run_id": int(job_id)}, f"cancel run {job_id}")

    def close(self) -> None:
        self._closed.set()

    def _ended(self, job_id: str, state: Mapping[str, Any]) -> GlacierError:
        life, result = state.get("life_cycle_state"), state.get("result_state")
        message = str(state.get("state_message") or "no message")
        what = (
            f"Cluster executor {self.target.executor!r}: Databricks run {job_id} on cluster "
            f"{self.cluster} ended {result or life}"
        )
        if any(mark in message.lower() for mark in OUT_OF_MEMORY):
            memory = f" of its {self.target.memory} MB" if self.target.memory else ""
            return TaskOutOfMemory(
                f"{what}, out of memory{memory} ({message}). Give the cluster larger nodes or "
                f"more workers, or run the task partitioned=True / by=[...]."
            )
        if result == "TIMEDOUT":
            return TaskTimeout(
                f"{what}: past its timeout of {self.timeout} s ({message}). Raise the "
                f"executor's timeout, or split the task."
            )
        return TaskCrashed(f"{what} ({message}).")

    def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None, action: str
    ) -> dict[str, Any]:
        """One API call, retried while the workspace is busy; its JSON answer."""
        try:
            return call_json(self.opener, method, self.host + path, body, self.auth.token)
        except HttpRefused as exc:
            status, reply = exc.status, _error_of(exc.error)
        except OSError as exc:  # the workspace unreachable: the run may go on elsewhere
            raise TaskCrashed(
                f"Cluster executor {self.target.executor!r}: cannot {action} on "
                f"{self.where} at {self.host}: {exc}."
            ) from None
        text = f"Cluster executor {self.target.executor!r}: cannot {action} on {self.where}"
        text += f" at {self.host}: HTTP {status} {reply}"
        if status in REFUSED or any(mark in reply for mark in MISSING):
            raise DeploymentError(
                f"{text}. Check that the cluster is deployed (`terraform apply`) and that your "
                f"token (DATABRICKS_TOKEN, or DATABRICKS_CLIENT_ID / DATABRICKS_CLIENT_SECRET) "
                f"may run jobs on it."
            )
        raise TaskCrashed(f"{text}.")


class _Auth:
    """The bearer token calls send: the deployment's, a personal access token, or an OAuth
    machine-to-machine token fetched (and fetched again before it expires) for the host."""

    def __init__(
        self, host: str, secret: str | None, opener: urllib.request.OpenerDirector
    ) -> None:
        self.host = host
        self.opener = opener
        self._fixed = secret or os.environ.get("DATABRICKS_TOKEN")
        self._client = (
            os.environ.get("DATABRICKS_CLIENT_ID", ""),
            os.environ.get("DATABRICKS_CLIENT_SECRET", ""),
        )
        if not self._fixed and not all(self._client):
            raise DeploymentError(
                f"Cloud mode on Databricks ({host}) needs a token: set DATABRICKS_TOKEN (a "
                f"personal access token), or DATABRICKS_CLIENT_ID and DATABRICKS_CLIENT_SECRET "
                f"(a service principal's OAuth secret)."
            )
        self._token = ""
        self._expires = 0.0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"_Auth(host={self.host!r})"

    def token(self) -> str:
        if self._fixed:
            return self._fixed
        with self._lock:
            if time.monotonic() >= self._expires:
                self._token, lifetime = self._fetch()
                self._expires = time.monotonic() + max(0.0, lifetime - 60)
            return self._token

    def _fetch(self) -> tuple[str, float]:
        client, secret = self._client
        basic = base64.b64encode(f"{client}:{secret}".encode()).decode()
        form = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": "all-apis"})
        request = urllib.request.Request(self.host + TOKEN, data=form.encode(), method="POST")
        request.add_header("Authorization", f"Basic {basic}")
        request.add_header("Content-Type", "application/x-www-form-urlencoded")
        try:
            with self.opener.open(request, timeout=HTTP_TIMEOUT) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise DeploymentError(
                f"Databricks ({self.host}) refused the OAuth client credentials of "
                f"DATABRICKS_CLIENT_ID {client!r}: HTTP {exc.code} {_error_of(exc)}. Check the "
                f"service principal's secret and that it belongs to this workspace."
            ) from None
        except OSError as exc:
            raise TaskCrashed(
                f"Cannot reach Databricks ({self.host}) for a token: {exc}."
            ) from None
        return str(answer["access_token"]), float(answer.get("expires_in", 3600))


def _error_of(exc: urllib.error.HTTPError) -> str:
    """``ERROR_CODE: message`` of a Databricks error answer (or its raw text)."""
    raw = exc.read().decode(errors="replace")
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        return raw[:300] or str(exc.reason)
    if not isinstance(body, Mapping):
        return raw[:300]
    code = body.get("error_code") or body.get("error") or ""
    message = body.get("message") or body.get("error_description") or ""
    return f"{code}: {message}" if code else str(message or raw[:300])
