"""Cloud mode on AWS: invoke a deployed Lambda function with boto3, map Lambda's replies to
Glacier's errors.

One boto3 client per function (boto3 clients are thread-safe), calling ``Invoke`` with
``RequestResponse``. The client's own retries are off: an invocation is not idempotent in
general, and the scheduler owns retries of failed attempts. Only a throttled call (429, the
function's or the account's concurrency is used up: the function never ran) is retried here,
with exponential backoff and jitter.

Credentials: ``AwsConfig.profile`` / ``assume_role_arn`` are resolved as the S3 store resolves
them (:func:`glacier.clouds.aws.store.session_credentials`); else boto3's default chain. An
emulated endpoint (``glacier emulate``) takes any keys, so there the placeholder ``testing`` is
used when the environment holds none.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Mapping
from typing import Any

from glacier.clouds.aws.config import AwsConfig
from glacier.clouds.aws.store import session_credentials
from glacier.errors import (
    DeploymentError,
    GlacierError,
    TaskCrashed,
    TaskError,
    TaskOutOfMemory,
    TaskTimeout,
)
from glacier.runtime.transport import Target

TRIES = 6
"""Attempts of a throttled invocation before it counts as a crash."""
BACKOFF_SECONDS = 0.1
"""First wait after a throttled call; doubled each time, half of it random (equal jitter)."""
BACKOFF_CAP = 5.0
READ_MARGIN = 10.0
"""Seconds the client waits for a reply beyond the function's own timeout."""
MAX_TIMEOUT = 900.0
"""Lambda's longest timeout, waited for when the target does not say its own."""
POOL = 64
"""Connections kept to the endpoint: the cloud backend may run this many invocations at once."""
_THROTTLED = frozenset({"TooManyRequestsException", "ThrottlingException", "Throttling"})
_NOT_FOUND = frozenset({"ResourceNotFoundException", "ResourceNotReadyException"})
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "KMSAccessDeniedException",
    }
)
REDEPLOY = "redeploy (`glacier package` then `terraform apply`) or check the deployment file"


def open_transport(target: Target) -> LambdaTransport:
    return LambdaTransport(target)


class LambdaTransport:
    """Invokes one deployed Lambda function (see :class:`glacier.runtime.transport.Transport`)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.name = str(target.entry.get("name") or "")
        self.function = str(target.entry.get("arn") or self.name)
        if not self.function:
            raise DeploymentError(
                f"Executor {target.executor!r} has no Lambda function in the deployment (its "
                f"entry {dict(target.entry)!r} names none): {REDEPLOY}."
            )
        self.name = self.name or self.function.rpartition(":")[2]
        self._client, self._errors = _client(target)

    @property
    def where(self) -> str:
        return f"lambda {self.name}"

    def invoke(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        payload = json.dumps(event).encode()
        for attempt in range(1, TRIES + 1):
            try:
                reply = self._client.invoke(
                    FunctionName=self.function, InvocationType="RequestResponse", Payload=payload
                )
            except self._errors.ClientError as exc:
                code = str(exc.response.get("Error", {}).get("Code", ""))
                if code in _THROTTLED and attempt < TRIES:
                    time.sleep(_backoff(attempt))
                    continue
                raise self._refused(code, exc, attempt) from None
            except self._errors.NoCredentialsError:
                raise DeploymentError(
                    f"No AWS credentials to invoke {self._what()}: set AwsConfig.profile, or the "
                    f"standard AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or run where a role "
                    f"applies."
                ) from None
            except self._errors.BotoCoreError as exc:
                raise TaskCrashed(
                    f"{self._what()} could not be reached or did not answer ({exc}). The "
                    f"attempt is retried if the task has retries."
                ) from None
            body = reply["Payload"].read()
            if reply.get("FunctionError"):
                raise self._function_error(body)
            return self._parse(body)
        raise AssertionError("unreachable: the last attempt returns or raises")

    def close(self) -> None:
        self._client.close()

    # --- errors -------------------------------------------------------------------------------

    def _what(self) -> str:
        return f"Lambda function {self.name!r} (executor {self.target.executor!r})"

    def _parse(self, body: bytes) -> Mapping[str, Any]:
        try:
            reply = json.loads(body)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise TaskCrashed(
                f"{self._what()} answered {body[:200]!r}, not a JSON object: its handler is not "
                f"Glacier's. {REDEPLOY.capitalize()}."
            )
        return reply

    def _function_error(self, body: bytes) -> TaskError:
        try:
            error = json.loads(body)
        except ValueError:
            error = {}
        if not isinstance(error, dict):
            error = {}
        kind = str(error.get("errorType", ""))
        message = str(error.get("errorMessage", body[:500].decode(errors="replace")))
        if kind == "Sandbox.Timedout" or "Task timed out after" in message:
            timeout = f"{self.target.timeout:g} s" if self.target.timeout else "its timeout"
            return TaskTimeout(
                f"{self._what()} ran past its timeout of {timeout} (LambdaConfig.timeout) and was "
                f"stopped by Lambda: {message}. Raise timeout= in the config (Lambda allows at "
                f"most 900 s) or make the task faster."
            )
        if kind == "Runtime.OutOfMemory":
            memory = f"{self.target.memory} MB" if self.target.memory else "its memory"
            return TaskOutOfMemory(
                f"{self._what()} used more than its {memory} (LambdaConfig.memory) and was "
                f"killed by Lambda: {message}. Raise memory= (Lambda allows up to 10240 MB) or "
                f"process less data per task."
            )
        stack = "".join(str(line) for line in error.get("stackTrace", []) or [])
        trace = f"\n{stack}" if stack else ""
        return TaskCrashed(
            f"{self._what()} failed without a result: {kind or 'error'}: {message}. A crash of "
            f"the function itself (not of the task, whose errors come back as its outcome); the "
            f"attempt is retried if the task has retries.{trace}"
        )

    def _refused(self, code: str, exc: Exception, attempts: int) -> GlacierError:
        message = _message(exc)
        if code in _THROTTLED:
            return TaskCrashed(
                f"{self._what()} was throttled by Lambda {attempts} times in a row ({code}: "
                f"{message}): its reserved or the account's concurrency is used up. Lower the "
                f"run's concurrency or raise the function's; the attempt is retried if the task "
                f"has retries."
            )
        if code in _NOT_FOUND:
            return DeploymentError(
                f"{self._what()} is not deployed where the deployment says ({self.function}: "
                f"{code}: {message}): {REDEPLOY}."
            )
        if code in _DENIED:
            return DeploymentError(
                f"Invoking {self._what()} was refused ({code}: {message}): the credentials need "
                f"lambda:InvokeFunction on {self.function}. Check AwsConfig.profile / "
                f"assume_role_arn and the deployment."
            )
        return TaskCrashed(
            f"Lambda refused to invoke {self._what()} ({code}: {message}). The attempt is "
            f"retried if the task has retries."
        )


def _backoff(attempt: int) -> float:
    """Exponential backoff with equal jitter: never shorter than half the exponential step."""
    step = min(BACKOFF_CAP, BACKOFF_SECONDS * 2.0 ** (attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


def _message(exc: Exception) -> str:
    response: Mapping[str, Any] = getattr(exc, "response", {})
    return str(response.get("Error", {}).get("Message", "") or exc)


def _client(target: Target) -> tuple[Any, Any]:
    """A Lambda client for ``target`` (its region and credentials, retries off, a read timeout
    past the function's own) and ``botocore.exceptions``."""
    config = target.provider
    if not isinstance(config, AwsConfig):
        raise DeploymentError(
            f"Executor {target.executor!r} is a Lambda function but the provider is "
            f"{type(config).__name__}, not AwsConfig: run with the AWS provider it was deployed "
            f"with."
        )
    try:
        import boto3  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy: the optional [aws] extra
        import botocore.exceptions  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy, as boto3
        from botocore.config import Config  # type: ignore[import-untyped]  # noqa: PLC0415 - lazy
    except ImportError:
        raise DeploymentError(
            "Cloud mode on AWS invokes Lambda with boto3. Install it with "
            "pip install 'glacier-pipelines[aws]'."
        ) from None
    endpoint = target.endpoints.get("lambda")
    keys: dict[str, str] = {}
    if config.profile or config.assume_role_arn:
        try:
            keys = session_credentials(config)
        except GlacierError as exc:
            raise DeploymentError(f"Cannot invoke executor {target.executor!r}: {exc}") from None
    elif endpoint and not os.environ.get("AWS_ACCESS_KEY_ID"):
        keys = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    settings = Config(
        region_name=config.region,
        read_timeout=(target.timeout or MAX_TIMEOUT) + READ_MARGIN,
        connect_timeout=10,
        retries={"total_max_attempts": 1},
        max_pool_connections=POOL,
    )
    session = boto3.session.Session()
    client = session.client("lambda", endpoint_url=endpoint, config=settings, **keys)
    return client, botocore.exceptions
