"""Cloud mode on Azure Functions: an HTTPS POST of the JSON event to the function's URL.

The caller proves itself with the function key from the Terraform output ``function_keys``
(header ``x-functions-key``) when the deployment has one; otherwise with a Microsoft Entra ID
bearer token from ``azure.identity.DefaultAzureCredential`` (environment, workload or managed
identity, Azure CLI...), for an app whose App Service authentication is on. The token's scope is
the app registration's *Application ID URI* followed by ``/.default``; Glacier cannot know that
URI from the outputs, so it is, in order: the ``scope`` of the executor's entry in the outputs,
the environment variable ``GLACIER_AZURE_FUNCTIONS_SCOPE``, else ``api://<function name>/.default``
(the URI to set on the registration to need neither).

How the host's replies map to Glacier's errors is in :mod:`glacier.clouds.azure.host_replies`:
500 after the function's timeout -> TaskTimeout, 500 naming memory -> TaskOutOfMemory, other 5xx
and lost connections -> TaskCrashed, 429 retried with jittered exponential backoff, 401, 403
and 404 -> DeploymentError.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from http.client import HTTPException
from typing import TYPE_CHECKING, Any

from glacier.clouds.azure import host_replies
from glacier.errors import DeploymentError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.transport import Target

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

SCOPE_VARIABLE = "GLACIER_AZURE_FUNCTIONS_SCOPE"
KEY_HEADER = "x-functions-key"
HTTP_LIMIT = 230.0
"""Seconds Azure lets an HTTP-triggered function answer in, whatever its ``functionTimeout``."""
READ_MARGIN = 15.0
"""Seconds the client waits past the function's timeout, for the host's own reply to arrive."""
THROTTLE_RETRIES = 6
THROTTLE_BASE = 0.5
THROTTLE_CAP = 20.0


class FunctionTransport:
    """Invokes one deployed Azure function; every call opens its own connection, so it is safe
    from several threads."""

    def __init__(self, target: Target, scope: str | None = None) -> None:
        self.target = target
        self.name = str(target.entry.get("name") or target.executor)
        self.url = str(target.entry["url"])
        self.scope = (
            scope
            or target.entry.get("scope")
            or os.environ.get(SCOPE_VARIABLE)
            or f"api://{self.name}/.default"
        )
        self.read_timeout = (target.timeout or HTTP_LIMIT) + READ_MARGIN
        self._credential: TokenCredential | None = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"azure function {self.name}"

    def __repr__(self) -> str:
        return f"FunctionTransport({self.name!r}, {self.url!r})"

    def invoke(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        body = json.dumps(event).encode()
        for attempt in range(THROTTLE_RETRIES + 1):
            started = time.monotonic()
            try:
                with urllib.request.urlopen(
                    self._request(body), timeout=self.read_timeout
                ) as response:
                    return self._decode(response.read())
            except urllib.error.HTTPError as exc:
                reply = exc.read().decode(errors="replace")
                if exc.code != host_replies.THROTTLED_STATUS:
                    raise self._error(exc.code, reply, time.monotonic() - started) from None
                if attempt < THROTTLE_RETRIES:
                    time.sleep(_backoff(attempt, exc.headers.get("Retry-After")))
            except TimeoutError:
                raise TaskTimeout(self._timeout_message()) from None
            except (urllib.error.URLError, HTTPException, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise TaskCrashed(
                    f"{self._what()}: the call to {self.url} failed ({reason}) before the function "
                    f"answered; the attempt is retried if the task has retries."
                ) from None
        raise TaskCrashed(
            f"{self._what()} was still throttled (429) after {THROTTLE_RETRIES} retries: raise "
            f"its max_instances or lower the pipeline's concurrency."
        )

    def close(self) -> None:
        with self._lock:
            credential, self._credential = self._credential, None
        closer = getattr(credential, "close", None)
        if closer is not None:
            closer()

    # --- one request --------------------------------------------------------------------------

    def _request(self, body: bytes) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.target.secret:
            headers[KEY_HEADER] = self.target.secret
        else:
            headers["Authorization"] = f"Bearer {self._token()}"
        return urllib.request.Request(self.url, data=body, headers=headers, method="POST")

    def _token(self) -> str:
        with self._lock:
            if self._credential is None:
                from azure.identity import (  # noqa: PLC0415 - the SDK loads only when used
                    DefaultAzureCredential,
                )

                self._credential = DefaultAzureCredential()
            credential = self._credential
        try:
            return credential.get_token(self.scope).token
        except Exception as exc:  # azure-identity raises several kinds; all mean "no token"
            reason = next(iter(str(exc).splitlines()), "")  # the first of the SDK's many lines
            raise DeploymentError(
                f"{self._what()}: no Entra ID token for scope {self.scope!r} "
                f"({type(exc).__name__}: {reason}). Sign in (`az login`, a managed identity, or "
                f"AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), or call with the "
                f"function key from output `function_keys`."
            ) from None

    def _decode(self, raw: bytes) -> Mapping[str, Any]:
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = None
        if not isinstance(reply, dict):
            raise TaskCrashed(
                f"{self._what()} answered something other than a JSON object "
                f"({raw[:200]!r}); its function_app.py is not Glacier's: rebuild the package with "
                f"`glacier package` and redeploy."
            )
        return reply

    # --- errors -------------------------------------------------------------------------------

    def _what(self) -> str:
        return f"Azure function {self.name!r} (executor {self.target.executor!r})"

    def _error(self, status: int, reply: str, seconds: float) -> Exception:
        if status in (401, 403):
            how = (
                "the function key from output `function_keys` was refused: read it again "
                "(`terraform output -json function_keys`, or the file `glacier emulate` wrote)"
                if self.target.secret
                else f"the Entra ID token for scope {self.scope!r} was refused: give the "
                f"caller's identity access to the app, or set {SCOPE_VARIABLE} to the app "
                f"registration's Application ID URI + '/.default'"
            )
            return DeploymentError(f"{self._what()} answered {status}: {how}.")
        if status == 404:
            return DeploymentError(
                f"{self._what()} is not deployed at {self.url} (404): redeploy: `glacier package` "
                f"then `terraform apply`, and read the outputs again."
            )
        kind = host_replies.failure(reply)
        timed_out = seconds >= min(self.target.timeout or HTTP_LIMIT, HTTP_LIMIT)
        if status >= 500 and (kind == "timeout" or timed_out):
            return TaskTimeout(self._timeout_message())
        if status >= 500 and kind == "memory":
            return TaskOutOfMemory(
                f"{self._what()} ran out of its {self._memory()} and was killed "
                f"({reply.strip()}). Raise memory= (Flex Consumption instances: 512, 2048 or "
                f"4096 MB) or process less data per task."
            )
        detail = f": {reply.strip()[:500]}" if reply.strip() else ""
        return TaskCrashed(
            f"{self._what()} failed with HTTP {status}{detail}. If its logs (Application "
            f"Insights) say 'python exited with code 137', it ran out of its {self._memory()}: "
            f"raise memory=; the attempt is retried if the task has retries."
        )

    def _memory(self) -> str:
        return f"{self.target.memory} MB" if self.target.memory else "instance memory"

    def _timeout_message(self) -> str:
        limit = f"{self.target.timeout:g} s" if self.target.timeout else f"{HTTP_LIMIT:g} s"
        return (
            f"{self._what()} ran past its timeout of {limit}; the Functions host cancelled it. "
            f"Raise timeout= in the config (HTTP-triggered functions answer within "
            f"{HTTP_LIMIT:g} s at most) or make the task faster."
        )


def _backoff(attempt: int, retry_after: str | None) -> float:
    """Full-jitter exponential backoff, at least the server's ``Retry-After``, bounded."""
    wait = random.uniform(0, min(THROTTLE_CAP, THROTTLE_BASE * 2**attempt))
    if retry_after and retry_after.isdigit():
        wait = max(wait, float(retry_after))
    return min(wait, THROTTLE_CAP)


def open_transport(target: Target) -> FunctionTransport:
    """The registry's ``transport`` part for Azure."""
    return FunctionTransport(target)
