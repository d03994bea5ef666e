"""AWS Lambda on 127.0.0.1: the Invoke API in front of warm function containers.

Each function's built zip is unzipped once (:class:`~glacier.runtime.function_process.Unpacked`)
and served by containers: fresh Python processes running :mod:`.lambda_runtime`, which imports
the package's ``glacier_handler`` and answers one invocation at a time. As on Lambda, a container
that answered stays warm for the next call, a concurrent call starts another one, and one that
timed out, ran out of memory or died is discarded (the next call is a cold start).

Replies are Lambda's own, so boto3 and :mod:`.transport` see what they would see from AWS:
a handler's exception is a 200 with ``X-Amz-Function-Error: Unhandled`` and the runtime's error
body; a timeout is ``Sandbox.Timedout`` ("Task timed out after 1.00 seconds"), a memory kill
``Runtime.OutOfMemory`` and any other death ``Runtime.ExitError`` ("Runtime exited with error:
signal: killed"); an unknown function is a 404 ``ResourceNotFoundException`` and a call over the
concurrency limit a 429 ``TooManyRequestsException``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from glacier.clouds.aws import lambda_runtime
from glacier.infra.artifacts import HANDLER_MODULE
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import FunctionProcess, Unpacked

ACCOUNT = "000000000000"
DEFAULT_REGION = "us-east-1"
MAX_MEMORY = 10240
"""MB reported to a function given no memory limit (Lambda's largest); nothing is enforced."""
MAX_TIMEOUT = 900.0
"""Seconds a function given no timeout may run (Lambda's longest)."""
MAX_PAYLOAD = 6 * 1024 * 1024
"""Bytes of a synchronous invocation's request, and of its response (Lambda's quota)."""
INIT_SECONDS = 10.0
"""Lambda's limit on the init phase (importing the handler). An on-demand function whose init
runs longer is initialised again within its first invocation, under the function's timeout,
so a slow cold start (many at once on a small machine) waits up to that instead."""
_PATH = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")
_BOOT = "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
"""Runs the runtime loop by path: ``sys.path[0]`` is then the task root (the cwd), as on Lambda,
and the loop's own folder is never put on the path."""


def start(
    functions: Sequence[EmulatedFunction], *, concurrency: int | None = None
) -> LambdaEmulator:
    """Serve ``functions`` behind the Lambda Invoke API; ``concurrency`` caps each function's
    simultaneous invocations (reserved concurrency), answering 429 beyond it."""
    return LambdaEmulator(functions, concurrency)


class LambdaEmulator:
    """Running emulated Lambda functions (see :class:`glacier.runtime.emulator.Emulated`)."""

    def __init__(self, functions: Sequence[EmulatedFunction], concurrency: int | None) -> None:
        self._functions: dict[str, _Function] = {}
        try:
            for spec in functions:
                self._functions[spec.name] = _Function(spec, concurrency)
        except BaseException:
            self._close_functions()
            raise
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.emulated = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, daemon=True, name="glacier-emu-lambda"
        )
        self._thread.start()

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        return {
            f.spec.executor: {"name": f.spec.name, "arn": f.arn} for f in self._functions.values()
        }

    @property
    def endpoints(self) -> Mapping[str, str]:
        host, port = self._server.server_address[:2]
        return {"lambda": f"http://{host!s}:{port}"}

    @property
    def secrets(self) -> Mapping[str, str]:
        return {}

    def find(self, name_or_arn: str) -> _Function | None:
        """The function a FunctionName names: its name, ARN or partial ARN, with or without the
        ``$LATEST`` qualifier."""
        parts = name_or_arn.split(":")
        if len(parts) >= 3 and "function" in parts:  # arn:aws:lambda:r:acct:function:name[:q]
            parts = parts[parts.index("function") + 1 :]
        name = parts[0]
        if len(parts) > 2 or (len(parts) == 2 and parts[1] != "$LATEST"):
            return None
        return self._functions.get(name)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._close_functions()

    def _close_functions(self) -> None:
        for function in self._functions.values():
            function.close()


class _Function:
    """One function: its unzipped package, its exact environment and its containers."""

    def __init__(self, spec: EmulatedFunction, concurrency: int | None) -> None:
        self.spec = spec
        self.region = spec.environment.get("AWS_REGION") or os.environ.get(
            "AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", DEFAULT_REGION)
        )
        self.arn = f"arn:aws:lambda:{self.region}:{ACCOUNT}:function:{spec.name}"
        self.timeout = spec.timeout or MAX_TIMEOUT
        self.concurrency = concurrency
        self.unpacked = Unpacked(spec)
        self.environment = self.unpacked.environment(spec, self._platform_environment())
        self.idle: list[_Container] = []
        self.busy: set[_Container] = set()
        self.lock = threading.Lock()
        self.closed = False

    def _platform_environment(self) -> dict[str, str]:
        """What Lambda sets itself (the function's own variables come after, so its region wins)."""
        name = self.spec.name
        return {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(self.spec.memory or MAX_MEMORY),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"emulated/{name}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python{}.{}".format(*sys.version_info[:2]),
            "LAMBDA_TASK_ROOT": str(self.unpacked.code),
            "LAMBDA_RUNTIME_DIR": str(Path(lambda_runtime.__file__).parent),
            "_HANDLER": f"{HANDLER_MODULE}.handler",
            "TZ": ":UTC",
        }

    def invoke(self, event: Any, request_id: str) -> tuple[int, dict[str, str], bytes]:
        """Run one invocation: (HTTP status, headers, body) as Lambda answers it."""
        container = self._take()
        if container is None:
            return _throttled(request_id)
        try:
            error, body = container.invoke(self, request_id, event)
        finally:
            self._give_back(container)
        if not error and len(body) > MAX_PAYLOAD:
            quota = f"maximum allowed payload size ({MAX_PAYLOAD} bytes)"
            message = f"Response payload size exceeded {quota}."
            error, body = True, _platform_error("Function.ResponseSizeTooLarge", message)
        headers = {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": request_id}
        if error:
            headers["X-Amz-Function-Error"] = "Unhandled"
        return 200, headers, body

    def _take(self) -> _Container | None:
        with self.lock:
            if self.closed or (self.concurrency is not None and len(self.busy) >= self.concurrency):
                return None
            while self.idle:
                container = self.idle.pop()
                if container.process.alive():
                    self.busy.add(container)
                    return container
                container.process.kill()
            container = _Container(self)  # the cold start: a new process, importing the handler
            self.busy.add(container)
            return container

    def _give_back(self, container: _Container) -> None:
        with self.lock:
            self.busy.discard(container)
            if container.warm and container.process.alive() and not self.closed:
                self.idle.append(container)
                return
        if not container.process.killed:  # it timed out, ran out of memory, died, or is closing
            container.process.kill()

    def close(self) -> None:
        with self.lock:
            self.closed = True
            idle, busy = self.idle, list(self.busy)
            self.idle, self.busy = [], set()
        for container in busy:
            container.process.kill()
        for container in idle:
            container.stop()
        self.unpacked.remove()


class _Container:
    """One warm execution environment: a process running the runtime loop."""

    def __init__(self, function: _Function) -> None:
        runtime = Path(lambda_runtime.__file__)
        self.process = FunctionProcess(
            [sys.executable, "-c", _BOOT, str(runtime)],
            function.environment,
            function.unpacked.code,
            function.spec.memory,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert self.process.process.stdin is not None and self.process.process.stdout is not None
        self.stdin = self.process.process.stdin
        self.stdout = self.process.process.stdout.fileno()
        self.initialized = False
        self.warm = False
        """Whether it answered its last invocation and may serve the next one."""

    def invoke(self, function: _Function, request_id: str, event: Any) -> tuple[bool, bytes]:
        """(function error?, body) of one invocation in this container."""
        self.warm = False
        started = time.monotonic()
        request = {
            "event": event,
            "request_id": request_id,
            "arn": function.arn,
            "deadline_ms": int((time.time() + function.timeout) * 1000),
        }
        try:
            if not self.initialized:
                ready = self._receive(started + max(INIT_SECONDS, function.timeout))
                if ready is not None and "init_error" in ready:
                    return True, ready["init_error"].encode()
                self.initialized = ready is not None
                started = time.monotonic()  # on-demand Lambda times the init phase apart
            reply = self._send(request, started + function.timeout) if self.initialized else None
        except _Late:
            self.process.kill()
            seconds = time.monotonic() - started
            message = f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds"
            return True, _platform_error("Sandbox.Timedout", message)
        if reply is None:
            return True, self._death(request_id)
        self.warm = True
        if "error" in reply:
            return True, reply["error"].encode()
        return False, reply["result"].encode()

    def _send(self, request: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """The runtime's reply to ``request``; None if it ended."""
        try:
            lambda_runtime.write_frame(self.stdin, json.dumps(request).encode())
        except OSError:  # it died while idle
            return None
        return self._receive(deadline)

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        """The next frame from the runtime; None if it ended; :class:`_Late` past ``deadline``."""
        buffer = bytearray()
        size: int | None = None
        header = lambda_runtime.HEADER.size
        while size is None or len(buffer) < header + size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Late
            readable, _, _ = select.select([self.stdout], [], [], remaining)
            if not readable:
                continue
            chunk = os.read(self.stdout, 1 << 20)
            if not chunk:
                return None
            buffer += chunk
            if size is None and len(buffer) >= header:
                (size,) = lambda_runtime.HEADER.unpack_from(buffer)
        result: dict[str, Any] = json.loads(buffer[header:])
        return result

    def _death(self, request_id: str) -> bytes:
        """The body Lambda answers when the runtime exits mid-invocation."""
        code = self.process.process.wait()
        reason = f"signal: {_signal_name(-code)}" if code < 0 else f"exit status {code}"
        message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        kind = "Runtime.OutOfMemory" if self.process.out_of_memory else "Runtime.ExitError"
        return _platform_error(kind, message)

    def stop(self) -> None:
        """End an idle container: close its input (the loop returns), then stop the group."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        self.process.stop()


class _Late(Exception):
    """The runtime did not answer in time (not ``TimeoutError``: that is an ``OSError``, as a
    dead runtime's broken pipe is)."""


def _signal_name(number: int) -> str:
    """Go's name of a signal, as Lambda's runtime reports it (``killed``, ``aborted``...)."""
    names = {
        signal.SIGKILL: "killed",
        signal.SIGABRT: "aborted",
        signal.SIGSEGV: "segmentation fault",
    }
    try:
        return names.get(signal.Signals(number), signal.Signals(number).name.lower())
    except ValueError:
        return str(number)


def _platform_error(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _throttled(request_id: str) -> tuple[int, dict[str, str], bytes]:
    body = {
        "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        "Type": "User",
        "message": "Rate Exceeded.",
    }
    return _service_error(429, "TooManyRequestsException", body, request_id)


def _service_error(
    status: int, code: str, body: Mapping[str, Any], request_id: str
) -> tuple[int, dict[str, str], bytes]:
    """An error of the Lambda service itself, as boto3 parses it (``x-amzn-ErrorType``)."""
    headers = {"x-amzn-ErrorType": code, "x-amzn-RequestId": request_id}
    return status, headers, json.dumps(body).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as boto3's connection pool expects
    disable_nagle_algorithm = True  # headers and body go out apart: Nagle would hold the body
    # until the client's delayed ACK, 40 ms per invocation (measured)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length)
        emulated: LambdaEmulator = self.server.emulated  # type: ignore[attr-defined]
        request_id = str(uuid.uuid4())
        match = _PATH.fullmatch(urllib.parse.urlsplit(self.path).path)
        function = emulated.find(urllib.parse.unquote(match["name"])) if match else None
        if match is None:
            self._answer(
                *_service_error(
                    404, "UnknownOperationException", {"message": "Unknown operation"}, request_id
                )
            )
            return
        if function is None:
            name = urllib.parse.unquote(match["name"])
            message = f"Function not found: {name}"
            self._answer(
                *_service_error(
                    404,
                    "ResourceNotFoundException",
                    {"Type": "User", "Message": message},
                    request_id,
                )
            )
            return
        if len(payload) > MAX_PAYLOAD:
            message = f"Request must be smaller than {MAX_PAYLOAD} bytes for the Invoke operation"
            body = {"Type": "User", "message": message}
            self._answer(*_service_error(413, "RequestTooLargeException", body, request_id))
            return
        invocation = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
        if invocation == "DryRun":
            self._answer(204, {"x-amzn-RequestId": request_id}, b"")
            return
        if invocation != "RequestResponse":
            message = f"InvocationType {invocation} is not emulated; use RequestResponse."
            self._answer(
                *_service_error(
                    400,
                    "InvalidParameterValueException",
                    {"Type": "User", "message": message},
                    request_id,
                )
            )
            return
        try:
            event = json.loads(payload) if payload.strip() else {}
        except ValueError as exc:
            message = f"Could not parse request body into json: {exc}"
            self._answer(
                *_service_error(
                    400,
                    "InvalidRequestContentException",
                    {"Type": "User", "message": message},
                    request_id,
                )
            )
            return
        self._answer(*function.invoke(event, request_id))

    def _answer(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a test or ``glacier emulate`` reads results, not an access log."""
