"""Cluster executors in cloud mode: one Spark job per attempt, its event and outcome in staging.

A Spark job cannot answer a request, so the JSON invocation (:mod:`glacier.runtime.wire`)
travels through the staging bucket: the transport writes the event to
``<staging>/runs/<run_id>/jobs/<unit>-<attempt>.event.json``, starts a job on the platform
whose entry point is the package's ``glacier_job.py`` with the event's URI as its argument,
polls the job, and reads the ``.outcome.json`` the job wrote next to the event. The job
(:func:`glacier.deployed.run_job`) runs the unit with the Spark step runner of local mode on
the platform's own session, its provider built from the job's environment.

What differs per platform (EMR Serverless, Dataproc, Databricks) is only how a job starts,
ends and fails: a :class:`JobPlatform`, chosen by the ``type`` of the executor's entry in the
Terraform output ``clusters`` (registry ``glacier.clouds.CLUSTER_PLATFORMS``). How a
platform's transport waits is shared here: :func:`polls` paces the polling of a job until it
ends, and :func:`call_json` asks a REST API again while it is busy.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from glacier import clouds
from glacier.core.dag import TaskNode
from glacier.errors import DeploymentError, TaskCrashed
from glacier.provider import Provider
from glacier.runtime.staging import RUNS_PREFIX, Staging, safe_name, staging_bucket
from glacier.runtime.transport import Target
from glacier.runtime.wire import BadEvent

EVENT_SUFFIX = ".event.json"
OUTCOME_SUFFIX = ".outcome.json"
POLL_FIRST = 0.2
POLL_MAX = 10.0
"""Seconds between two reads of a job's state: from the first, growing by half up to the last
(a busy API's retries start there too, doubling)."""
BUSY_TRIES = 5
"""Calls answered 429 or 5xx (the service busy or restarting) are tried this many times."""
HTTP_TIMEOUT = 30.0


class JobPlatform(Protocol):
    """Starts and watches Spark jobs of one deployed cluster executor."""

    @property
    def where(self) -> str:
        """The cluster, for progress and reports (``emr-serverless 00f...``)."""
        ...

    def start(self, event_uri: str, name: str) -> str:
        """Start a job running the package's entry point on ``event_uri``; its id."""
        ...

    def wait(self, job_id: str) -> None:
        """Return once the job succeeded; raise :class:`~glacier.errors.TaskOutOfMemory`,
        :class:`~glacier.errors.TaskTimeout` or :class:`~glacier.errors.TaskCrashed` as the
        platform reports its end, :class:`~glacier.errors.DeploymentError` when refused."""
        ...

    def cancel(self, job_id: str) -> None: ...

    def close(self) -> None: ...


class HttpRefused(Exception):
    """A REST call answered with an HTTP error other than busy (or busy on its last try)."""

    def __init__(self, error: urllib.error.HTTPError) -> None:
        super().__init__(f"HTTP {error.code}")
        self.status = error.code
        self.error = error


def polls(closed: threading.Event, where: str, what: str) -> Iterator[None]:
    """One step per read of a job's state, paced with backoff; raises
    :class:`~glacier.errors.TaskCrashed` once ``closed`` is set (the run stopped waiting)."""
    pause = POLL_FIRST
    while True:
        yield
        if closed.wait(pause):
            raise TaskCrashed(f"{where}: the run stopped waiting for {what}.")
        pause = min(POLL_MAX, pause * 1.5)


def http_opener(emulated: bool) -> urllib.request.OpenerDirector:
    """The opener of a REST transport; an emulator's, on 127.0.0.1, never goes through a proxy."""
    return urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if emulated else []))


def call_json(
    opener: urllib.request.OpenerDirector,
    method: str,
    url: str,
    body: Mapping[str, Any] | None,
    token: Callable[[], str],
) -> dict[str, Any]:
    """The JSON answer of one REST call with a bearer ``token`` (asked for on each try, so a
    renewed one is sent), sent again with backoff while it is answered 429 or 5xx.

    Raises :class:`HttpRefused` for any other HTTP error and :class:`OSError` when the
    service cannot be reached: the platform's transport says what either means."""
    data = json.dumps(body).encode() if body is not None else None
    pause, tries = POLL_FIRST, 1
    while True:
        try:
            request = urllib.request.Request(url, data=data, method=method)
            request.add_header("Authorization", f"Bearer {token()}")
            request.add_header("Content-Type", "application/json")
            with opener.open(request, timeout=HTTP_TIMEOUT) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as exc:
            if (exc.code != 429 and exc.code < 500) or tries == BUSY_TRIES:
                raise HttpRefused(exc) from None
            exc.close()
        time.sleep(pause)
        pause, tries = min(POLL_MAX, pause * 2), tries + 1


def event_key(run_id: str, unit: str, attempt: int) -> str:
    return f"{RUNS_PREFIX}/{run_id}/jobs/{safe_name(unit)}-{attempt}{EVENT_SUFFIX}"


def outcome_key(event: str) -> str:
    return event.removesuffix(EVENT_SUFFIX) + OUTCOME_SUFFIX


def split_uri(uri: str) -> tuple[str, str]:
    """``scheme://bucket/key`` -> (bucket, key)."""
    _, sep, rest = uri.partition("://")
    bucket, _, key = rest.partition("/")
    if not sep or not bucket or not key:
        raise BadEvent(f"{uri!r} is not the URI of a Glacier job event (scheme://bucket/key).")
    return bucket, key


class ClusterJobTransport:
    """Cloud mode's transport for a cluster executor: an event in, a job, an outcome out."""

    def __init__(self, target: Target, platform: JobPlatform) -> None:
        self.target = target
        self.platform = platform
        self.provider = Provider(target.provider)
        self.bucket = staging_bucket(self.provider)

    @property
    def where(self) -> str:
        return self.platform.where

    def invoke(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        store = self.provider.store
        key = event_key(str(event["run_id"]), str(event["unit"]), int(event["attempt"]))
        store.put_bytes(self.bucket, key, json.dumps(event).encode())
        job = self.platform.start(
            store.uri(self.bucket, key), f"{event['unit']}-{event['attempt']}"
        )
        try:
            self.platform.wait(job)
        except BaseException:  # a platform error, or the runner stopping: the job is not wanted
            self.platform.cancel(job)
            raise
        reply = store.get_bytes(self.bucket, outcome_key(key))
        if reply is None:
            raise TaskCrashed(
                f"Cluster executor {self.target.executor!r} ({self.where}): job {job} ended "
                f"without writing its outcome ({store.uri(self.bucket, outcome_key(key))}). Its "
                f"entry point is not Glacier's job: redeploy (`glacier package`, then "
                f"`terraform apply`)."
            )
        outcome: Mapping[str, Any] = json.loads(reply)
        return outcome

    def close(self) -> None:
        self.platform.close()


def open_transport(target: Target) -> ClusterJobTransport:
    """The transport of the cluster platform the executor's output entry names (``type``)."""
    kind = str(target.entry.get("type", ""))
    ref = clouds.CLUSTER_PLATFORMS.get(kind)
    if ref is None:
        known = ", ".join(sorted(clouds.CLUSTER_PLATFORMS))
        raise DeploymentError(
            f"Cluster executor {target.executor!r} is deployed as {kind or 'an unknown type'!r}, "
            f"which cloud mode cannot run jobs on yet (it runs: {known}). Run this executor in "
            f"local mode, or deploy it on one of those."
        )
    platform: JobPlatform = clouds.load(ref)(target)
    return ClusterJobTransport(target, platform)


# --- the job's side ---------------------------------------------------------------------------


def run_job(
    event_uri: str, provider: Provider, execute: Callable[[Mapping[str, Any]], dict[str, Any]]
) -> int:
    """Read the event at ``event_uri``, ``execute`` it, write its outcome next to it; 0 once
    the outcome is written (a task's failure is an outcome too)."""
    bucket, key = split_uri(event_uri)
    if not key.endswith(EVENT_SUFFIX):
        raise BadEvent(f"{event_uri!r} is not a Glacier job event (*{EVENT_SUFFIX}).")
    data = provider.store.get_bytes(bucket, key)
    if data is None:
        raise BadEvent(f"The job's event {event_uri} does not exist (or the job cannot read it).")
    outcome = execute(json.loads(data))
    provider.store.put_bytes(bucket, outcome_key(key), json.dumps(outcome).encode())
    return 0


def spark_runner(pipeline: Any, executor: str, provider: Provider, run_id: str) -> Any:
    """Local mode's Spark step runner on the session the platform started for this job."""
    from glacier.runtime.backends.spark import OnSpark  # noqa: PLC0415 - pyspark: jobs only

    tasks = {n.id: n.task for n in pipeline.dag.nodes.values() if isinstance(n, TaskNode)}
    return OnSpark(job_session, Staging(provider, run_id), tasks, executor)


def job_session() -> Any:
    """The session ``spark-submit`` set up (the platform's master), with Glacier's settings
    for types (UTC, Parquet timestamps, Arrow) as local mode's session has them."""
    from pyspark.sql import SparkSession  # noqa: PLC0415 - pyspark is on the cluster only

    from glacier.spark.session import SparkSettings, build_conf  # noqa: PLC0415 - as above

    builder = SparkSession.builder
    for key, value in build_conf(SparkSettings(master="spark-submit")).items():
        if key not in ("spark.master", "spark.app.name"):
            builder = builder.config(key, value)
    return builder.getOrCreate()
