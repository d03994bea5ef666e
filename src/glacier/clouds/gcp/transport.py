"""Invoke a deployed Cloud Function (2nd gen): an HTTPS POST of the JSON event to its URL with a
Google ID token whose audience is that URL.

The token comes from google-auth (imported on first use, so ``import glacier`` stays free of
it): from the service-account key the provider names (``credentials_path`` or
``service_account_key``), else ``GOOGLE_APPLICATION_CREDENTIALS`` or the metadata server. It is
kept until google-auth deems it about to expire (a few minutes before its one hour is up).

A URL on ``http://127.0.0.1`` is one ``glacier emulate`` serves (a deployed function's URL is
always ``https://``): it gets the fixed token :data:`EMULATOR_TOKEN`, since the emulator
checks only that a bearer token is there.

Replies mapped to Glacier's errors (Cloud Run's, see :mod:`glacier.clouds.gcp.emulator`):
504/408 -> TaskTimeout; a 500 naming the memory limit -> TaskOutOfMemory; other 5xx and broken
connections -> TaskCrashed; 429 (no instance free) retried with jittered exponential backoff,
then TaskCrashed; 401/403/404 -> DeploymentError.
"""

from __future__ import annotations

import json
import random
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from glacier.errors import DeploymentError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.transport import Target

if TYPE_CHECKING:
    from glacier.clouds.gcp.id_tokens import IdTokens

EMULATOR_PREFIX = "http://127.0.0.1"
EMULATOR_TOKEN = "glacier-emulator"
READ_MARGIN = 30.0
"""Seconds past the function's timeout the transport waits, so the platform's 504 arrives first."""
DEFAULT_TIMEOUT = 60.0
"""Cloud Functions' default timeout, for a target that names none."""
THROTTLE_TRIES = 8
THROTTLE_BASE = 0.25
THROTTLE_CAP = 10.0
MEMORY_MARK = "Memory limit of"
_BODY_SHOWN = 500


class FunctionTransport:
    """POSTs events to one Cloud Function; safe to share between threads."""

    def __init__(self, target: Target) -> None:
        self.url = str(target.entry["url"])
        self.name = str(target.entry.get("name") or target.executor)
        self.target = target
        self.read_timeout = (target.timeout or DEFAULT_TIMEOUT) + READ_MARGIN
        self._tokens: IdTokens | None = None
        self._opener = urllib.request.build_opener()
        if self.url.startswith(EMULATOR_PREFIX):
            # straight to the emulator, even when the environment names an HTTP proxy
            self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        else:
            from glacier.clouds.gcp.id_tokens import IdTokens  # noqa: PLC0415 - google-auth only when a real function is called

            self._tokens = IdTokens(self.url, target.provider)

    @property
    def where(self) -> str:
        return f"cloud function {self.name}"

    def invoke(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        body = json.dumps(event).encode()
        for attempt in range(THROTTLE_TRIES):
            status, reply = self._post(body)
            if status != 429:
                return self._result(status, reply)
            time.sleep(random.uniform(0, min(THROTTLE_CAP, THROTTLE_BASE * 2**attempt)))
        raise TaskCrashed(
            f"{self._what()} answered 429 (no instance available) {THROTTLE_TRIES} times: it "
            f"is at its max_instances. Raise CloudFunctionConfig.max_instances or lower the "
            f"pipeline's concurrency for this executor."
        )

    def _post(self, body: bytes) -> tuple[int, bytes]:
        token = EMULATOR_TOKEN if self._tokens is None else self._tokens.get(self._what())
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        )
        try:
            with self._opener.open(request, timeout=self.read_timeout) as response:
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except TimeoutError as exc:
            raise TaskTimeout(
                self._timeout_message(f"no reply in {self.read_timeout:g} s")
            ) from exc
        except (OSError, HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise TaskCrashed(
                f"{self._what()} could not be reached at {self.url} ({reason}). The attempt is "
                f"retried if the task has retries."
            ) from exc

    def _result(self, status: int, body: bytes) -> Mapping[str, Any]:
        text = _shown(body)
        if status in (200, 201):
            try:
                reply = json.loads(body)
            except ValueError:
                reply = None
            if isinstance(reply, dict):
                return reply
            raise TaskCrashed(f"{self._what()} answered something not a JSON object: {text!r}")
        if status in (504, 408):
            raise TaskTimeout(self._timeout_message(f"HTTP {status}: {text}"))
        if status == 500 and MEMORY_MARK in text:
            raise TaskOutOfMemory(
                f"{self._what()} exceeded its memory limit ({text}); the platform killed "
                f"the instance. Raise memory= (CloudFunctionConfig.memory) or process less data "
                f"per task."
            )
        if status in (401, 403):
            raise DeploymentError(
                f"{self._what()} refused the caller (HTTP {status}: {text}). The runner's "
                f"identity needs roles/run.invoker on the function's Cloud Run service, and its "
                f"ID token must be for the audience {self.url}: check credentials_path or "
                f"GOOGLE_APPLICATION_CREDENTIALS, or redeploy (`terraform apply`) to grant it."
            )
        if status == 404:
            raise DeploymentError(
                f"{self._what()} was not found at {self.url}: it is not deployed (or the "
                f"deployment file is stale). Redeploy: `glacier package` then `terraform apply`."
            )
        raise TaskCrashed(
            f"{self._what()} failed without a result (HTTP {status}: {text}). The "
            f"instance crashed or the platform failed; on Google Cloud an out-of-memory kill is "
            f"also a bare 500, named only in the function's log. The attempt is retried if the "
            f"task has retries."
        )

    def _what(self) -> str:
        limits = []
        if self.target.memory:
            limits.append(f"memory {self.target.memory} MB")
        if self.target.timeout:
            limits.append(f"timeout {self.target.timeout:g} s")
        return f"{self.where}" + (f" ({', '.join(limits)})" if limits else "")

    def _timeout_message(self, reply: str) -> str:
        return (
            f"{self._what()} ran past its timeout ({reply}); the platform stopped the request "
            f"and restarted the instance. Raise timeout= (CloudFunctionConfig.timeout) or make "
            f"the task faster."
        )

    def close(self) -> None:
        """Nothing held open: each call is its own HTTPS request."""


def _shown(body: bytes) -> str:
    """A reply's body for a message: its end when long (where a traceback names the error)."""
    text = body.decode(errors="replace").strip()
    return text if len(text) <= _BODY_SHOWN else "..." + text[-_BODY_SHOWN:]


def open_transport(target: Target) -> FunctionTransport:
    """The registry's ``transport`` part for GCP serverless executors."""
    return FunctionTransport(target)
