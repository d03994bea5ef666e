"""Cluster executors on Dataproc: one PySpark job per attempt, through the REST API v1.

``POST .../projects/{project}/regions/{region}/jobs:submit`` places a ``pysparkJob`` on the
executor's cluster (output ``clusters``: ``id``, the cluster's name; ``project``, ``region``;
``main_python_file_uri``, the package's job entry point on the nodes; ``python_file_uris``,
optional zips for the Python path) with the staged event's URI as its one argument.
``GET .../jobs/{jobId}`` is polled with backoff until ``status.state`` is ``DONE``, ``ERROR``
or ``CANCELLED``; an ``ERROR`` is mapped to Glacier's errors from ``status.details``: a driver
out of memory (``OutOfMemoryError``, exit code 137) -> :class:`~glacier.errors.
TaskOutOfMemory`, a timeout -> :class:`~glacier.errors.TaskTimeout`, anything else (and a
``CANCELLED`` job) -> :class:`~glacier.errors.TaskCrashed`, retried by the scheduler. A
Dataproc job has no timeout of its own, so past the executor's ``timeout`` the transport
cancels it (``jobs/{jobId}:cancel``) and raises TaskTimeout. A refused call (401, 403, 404: a
cluster that does not exist) is a :class:`~glacier.errors.DeploymentError`.

Auth is an OAuth access token from google-auth (imported on first use): the provider's
service-account key, else Application Default Credentials. An endpoint on
``http://127.0.0.1`` is ``glacier emulate``'s and gets the fixed emulator token, as Cloud
Functions' transport does. Standard-library HTTP only.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.error
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from glacier.clouds.gcp.config import GcpConfig
from glacier.clouds.gcp.transport import EMULATOR_PREFIX, EMULATOR_TOKEN
from glacier.errors import DeploymentError, GlacierError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.cluster_job import HttpRefused, call_json, http_opener, polls
from glacier.runtime.transport import Target

if TYPE_CHECKING:
    from glacier.clouds.gcp.id_tokens import AccessTokens

SERVICE = "dataproc"
"""The ``emulator.endpoints`` key of an emulated Dataproc."""
API = "https://dataproc.googleapis.com"
ENDED = frozenset({"DONE", "ERROR", "CANCELLED"})
OUT_OF_MEMORY = ("outofmemory", "out of memory", "exit code 137", "exit code is 137")
TIMED_OUT = ("timed out", "timeout")
REFUSED = frozenset({401, 403, 404})


def jobs_path(project: str, region: str) -> str:
    """The jobs collection of a project's region, as the API and its emulator name it."""
    return f"/v1/projects/{project}/regions/{region}/jobs"


class DataprocJobs:
    """PySpark jobs on one Dataproc cluster (a :class:`~glacier.runtime.cluster_job.
    JobPlatform`)."""

    def __init__(self, target: Target) -> None:
        entry, config = target.entry, target.provider
        if not isinstance(config, GcpConfig):
            raise DeploymentError(
                f"Executor {target.executor!r} runs on Dataproc but the provider is "
                f"{type(config).__name__}, not GcpConfig: run with the GCP provider it was "
                f"deployed with."
            )
        missing = [k for k in ("id", "main_python_file_uri") if not entry.get(k)]
        if missing:
            raise DeploymentError(
                f"Cluster executor {target.executor!r}: its Dataproc entry in the output "
                f"`clusters` lacks {', '.join(missing)}. Redeploy: `glacier package`, then "
                f"`terraform apply`, so the job's package and entry point are on the cluster."
            )
        self.target = target
        self.cluster = str(entry["id"])
        self.project = str(entry.get("project") or config.project_id)
        self.region = str(entry.get("region") or config.region)
        self.main = str(entry["main_python_file_uri"])
        self.python_files = [str(uri) for uri in entry.get("python_file_uris") or []]
        endpoint = (target.endpoints.get(SERVICE) or API).rstrip("/")
        self.base = endpoint + jobs_path(self.project, self.region)
        emulated = endpoint.startswith(EMULATOR_PREFIX)  # never through a proxy, fixed token
        self.opener = http_opener(emulated)
        self.tokens: AccessTokens | None = None if emulated else _access_tokens(config)
        self._closed = threading.Event()

    @property
    def where(self) -> str:
        return f"dataproc cluster {self.cluster}"

    def start(self, event_uri: str, name: str) -> str:
        pyspark: dict[str, Any] = {"mainPythonFileUri": self.main, "args": [event_uri]}
        if self.python_files:
            pyspark["pythonFileUris"] = self.python_files
        job = {
            "placement": {"clusterName": self.cluster},
            "pysparkJob": pyspark,
            "labels": {"glacier-unit": _label(name)},
        }
        submitted = self._call("POST", ":submit", {"job": job}, "submit a job")
        return str(submitted["reference"]["jobId"])

    def wait(self, job_id: str) -> None:
        deadline = time.monotonic() + self.target.timeout if self.target.timeout else None
        for _ in polls(self._closed, self.where, f"job {job_id}"):
            job = self._call("GET", f"/{job_id}", None, f"read job {job_id}")
            status = job.get("status") or {}
            state = str(status.get("state"))
            if state == "DONE":
                return
            if state in ENDED:
                raise self._ended(job_id, state, str(status.get("details") or ""))
            if deadline is not None and time.monotonic() > deadline:
                raise TaskTimeout(
                    f"{self._what(job_id)} ran past its timeout of {self.target.timeout:g} s "
                    f"(state {state}); it is cancelled. Raise the executor's timeout, or split "
                    f"the task."
                )

    def cancel(self, job_id: str) -> None:
        with contextlib.suppress(GlacierError):  # ended already, or refused: nothing to stop
            self._call("POST", f"/{job_id}:cancel", {}, f"cancel job {job_id}")

    def close(self) -> None:
        self._closed.set()

    def _token(self) -> str:
        return EMULATOR_TOKEN if self.tokens is None else self.tokens.get(self.where)

    def _what(self, job_id: str) -> str:
        return (
            f"Cluster executor {self.target.executor!r}: Dataproc job {job_id} on cluster "
            f"{self.cluster} ({self.project}, {self.region})"
        )

    def _ended(self, job_id: str, state: str, details: str) -> GlacierError:
        what = f"{self._what(job_id)} ended {state}"
        lowered = details.lower()
        if state == "ERROR" and any(mark in lowered for mark in OUT_OF_MEMORY):
            memory = f" of its {self.target.memory} MB" if self.target.memory else ""
            return TaskOutOfMemory(
                f"{what}, out of memory{memory} ({details}). Give the cluster larger machines "
                f"or more workers, or run the task partitioned=True / by=[...]."
            )
        if state == "ERROR" and any(mark in lowered for mark in TIMED_OUT):
            return TaskTimeout(
                f"{what}: past its timeout ({details}). Raise the executor's timeout, or split "
                f"the task."
            )
        return TaskCrashed(f"{what} ({details or 'no details'}).")

    def _call(
        self, method: str, path: str, body: Mapping[str, Any] | None, action: str
    ) -> dict[str, Any]:
        """One API call, retried while Dataproc is busy; its JSON answer."""
        try:
            return call_json(self.opener, method, self.base + path, body, self._token)
        except HttpRefused as exc:
            status, reply = exc.status, _error_of(exc.error)
        except OSError as exc:  # Dataproc unreachable: the job may go on regardless
            raise TaskCrashed(
                f"Cluster executor {self.target.executor!r}: cannot {action} on "
                f"{self.where} at {self.base}: {exc}."
            ) from None
        text = f"Cluster executor {self.target.executor!r}: cannot {action} on {self.where}"
        text += f" at {self.base}: HTTP {status} {reply}"
        if status in REFUSED:
            raise DeploymentError(
                f"{text}. Check that the cluster is deployed (`terraform apply`) in project "
                f"{self.project}, region {self.region}, and that your credentials "
                f"(credentials_path or GOOGLE_APPLICATION_CREDENTIALS) may submit Dataproc jobs "
                f"(roles/dataproc.editor)."
            )
        raise TaskCrashed(f"{text}.")


def _access_tokens(config: GcpConfig) -> AccessTokens:
    """Access tokens from google-auth, imported here: only a real Dataproc needs it."""
    from glacier.clouds.gcp.id_tokens import AccessTokens  # noqa: PLC0415 - google-auth, lazily

    return AccessTokens(config)


def _label(name: str) -> str:
    """A job label value: lowercase letters, digits, ``_`` and ``-``, at most 63."""
    cleaned = "".join(c if c.isalnum() or c in "_-" else "-" for c in name.lower())
    return cleaned[:63]


def _error_of(exc: urllib.error.HTTPError) -> str:
    """``STATUS: message`` of a Google API error answer (or its raw text)."""
    raw = exc.read().decode(errors="replace")
    try:
        error = json.loads(raw).get("error")
    except (json.JSONDecodeError, AttributeError):
        return raw[:300] or str(exc.reason)
    if not isinstance(error, Mapping):
        return raw[:300]
    return f"{error.get('status', '')}: {error.get('message', '')}"
