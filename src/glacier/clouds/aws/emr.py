"""Cluster executors on EMR Serverless: one job run per attempt, through boto3's client.

``StartJobRun`` on the executor's application (output ``clusters``: ``id``,
``execution_role_arn``) runs the package's entry point (``entry_point``, the S3 URI of its
``glacier_job.py``) with the staged event's URI as its one argument, and
``spark_submit_parameters`` (the deployed environment, as ``driverEnv``/``executorEnv``
settings); ``GetJobRun`` is polled with backoff until the run ends, and a run that ended badly
is mapped to Glacier's errors from its ``state`` and ``stateDetails``: an executor's or
driver's ``OutOfMemoryError`` (or a container killed for memory) ->
:class:`~glacier.errors.TaskOutOfMemory`, a run past ``executionTimeoutMinutes`` (set from
the executor's ``timeout``) -> :class:`~glacier.errors.TaskTimeout`, any other failure ->
:class:`~glacier.errors.TaskCrashed` (retried by the scheduler).

Python 3.11, Polars, obstore, Glacier and the pipeline are in the application's custom image
(:mod:`glacier.clouds.aws.emr_image`): the EMR images' own Python is 3.9.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Mapping
from typing import Any

from glacier.clouds.aws.config import AwsConfig
from glacier.clouds.aws.store import session_credentials
from glacier.errors import (
    DeploymentError,
    GlacierError,
    TaskCrashed,
    TaskOutOfMemory,
    TaskTimeout,
)
from glacier.runtime.cluster_job import polls
from glacier.runtime.transport import Target

SERVICE = "emr-serverless"
ENDED = frozenset({"SUCCESS", "FAILED", "CANCELLED"})
OUT_OF_MEMORY = ("outofmemory", "out of memory", "exit code 137", "memory limit")
TIMED_OUT = ("timeout", "timed out")
REFUSED = frozenset({"AccessDeniedException", "ResourceNotFoundException", "ValidationException"})


class EmrServerless:
    """Job runs of one EMR Serverless application (a :class:`~glacier.runtime.cluster_job.
    JobPlatform`)."""

    def __init__(self, target: Target) -> None:
        entry = target.entry
        missing = [k for k in ("id", "execution_role_arn", "entry_point") if not entry.get(k)]
        if missing:
            raise DeploymentError(
                f"Cluster executor {target.executor!r}: its EMR Serverless entry in the output "
                f"`clusters` lacks {', '.join(missing)}. Redeploy: `glacier package`, then "
                f"`terraform apply`, so the job's package and entry point are uploaded."
            )
        self.target = target
        self.application = str(entry["id"])
        self.role = str(entry["execution_role_arn"])
        self.entry_point = str(entry["entry_point"])
        self.parameters = str(entry.get("spark_submit_parameters") or "")
        self.client, self.errors = _client(target)
        self.timeout_minutes = math.ceil(target.timeout / 60) if target.timeout else None
        self._closed = threading.Event()

    @property
    def where(self) -> str:
        return f"emr-serverless {self.application}"

    def start(self, event_uri: str, name: str) -> str:
        request: dict[str, Any] = {
            "applicationId": self.application,
            "executionRoleArn": self.role,
            "name": name[:256],
            "jobDriver": {
                "sparkSubmit": {
                    "entryPoint": self.entry_point,
                    "entryPointArguments": [event_uri],
                    **({"sparkSubmitParameters": self.parameters} if self.parameters else {}),
                }
            },
        }
        if self.timeout_minutes:
            request["executionTimeoutMinutes"] = self.timeout_minutes
        try:
            started = self.client.start_job_run(**request)
        except self.errors.ClientError as exc:
            raise self._refused(exc, "start a job run") from None
        return str(started["jobRunId"])

    def wait(self, job_id: str) -> None:
        for _ in polls(self._closed, self.where, f"job {job_id}"):
            try:
                run = self.client.get_job_run(applicationId=self.application, jobRunId=job_id)
            except self.errors.ClientError as exc:
                raise self._refused(exc, f"read job run {job_id}") from None
            job = run["jobRun"]
            state = str(job.get("state"))
            if state == "SUCCESS":
                return
            if state in ENDED:
                raise self._ended(job_id, state, str(job.get("stateDetails") or ""))

    def cancel(self, job_id: str) -> None:
        with contextlib.suppress(self.errors.ClientError):  # ended already: nothing to cancel
            self.client.cancel_job_run(applicationId=self.application, jobRunId=job_id)

    def close(self) -> None:
        self._closed.set()

    def _ended(self, job_id: str, state: str, details: str) -> GlacierError:
        what = f"Cluster executor {self.target.executor!r}: EMR Serverless job run {job_id} on "
        what += f"application {self.application} ended {state}"
        lowered = details.lower()
        if any(mark in lowered for mark in OUT_OF_MEMORY):
            memory = f" of its {self.target.memory} MB" if self.target.memory else ""
            return TaskOutOfMemory(
                f"{what}, out of memory{memory} ({details}). Give the executor more memory or "
                f"workers, or run the task partitioned=True / by=[...]."
            )
        if any(mark in lowered for mark in TIMED_OUT):
            return TaskTimeout(
                f"{what}: past its timeout of {self.timeout_minutes} min ({details}). Raise the "
                f"executor's timeout, or split the task."
            )
        return TaskCrashed(f"{what} ({details or 'no details'}).")

    def _refused(self, exc: Exception, action: str) -> GlacierError:
        response: Mapping[str, Any] = getattr(exc, "response", {})
        code = str(response.get("Error", {}).get("Code", ""))
        message = str(response.get("Error", {}).get("Message", "") or exc)
        text = f"Cluster executor {self.target.executor!r}: cannot {action} on {self.where}"
        if code in REFUSED:
            return DeploymentError(
                f"{text}: {code}: {message}. Check that the application is deployed "
                f"(`terraform apply`) and that your credentials may call {SERVICE}."
            )
        return TaskCrashed(f"{text}: {code or type(exc).__name__}: {message}.")


def _client(target: Target) -> tuple[Any, Any]:
    """An ``emr-serverless`` client in the provider's region, with its credentials (a profile
    or an assumed role as the S3 store resolves them; an emulated endpoint takes any keys)."""
    config = target.provider
    if not isinstance(config, AwsConfig):
        raise DeploymentError(
            f"Executor {target.executor!r} runs on EMR Serverless but the provider is "
            f"{type(config).__name__}, not AwsConfig: run with the AWS provider it was deployed "
            f"with."
        )
    try:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy: the optional [aws] extra
        import botocore.exceptions  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy, as boto3
    except ImportError:
        raise DeploymentError(
            "Cloud mode on EMR Serverless needs boto3: pip install 'glacier-pipelines[aws]'."
        ) from None
    endpoint = target.endpoints.get(SERVICE)
    keys: dict[str, str] = {}
    if config.profile or config.assume_role_arn:
        keys = session_credentials(config)
    elif endpoint and not os.environ.get("AWS_ACCESS_KEY_ID"):
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    session = boto3.session.Session()
    client = session.client(SERVICE, region_name=config.region, endpoint_url=endpoint, **keys)
    return client, botocore.exceptions
