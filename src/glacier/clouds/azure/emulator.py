"""Azure Functions on 127.0.0.1: a small Functions host in front of the built ``function_app``.

The real host (``azure-functions-core-tools``) downloads its binaries when it installs, so it
cannot run here; this module plays its part. Each function app (one per serverless executor, as
Terraform deploys them) gets its own port, serves ``/api/<route>`` for the HTTP functions its
package declares, and checks the function key of ``AuthLevel.FUNCTION`` routes (header
``x-functions-key`` or query ``code=``; 401 without it, as the host answers). Behind it, each
*instance* is a fresh Python process running :mod:`glacier.clouds.azure.function_host` with only
the function's environment plus what the host sets, its package (then the vendored
``.python_packages/lib/site-packages``) on ``PYTHONPATH``. An instance serves one request at a
time (Flex Consumption's default HTTP concurrency for Python); when all are busy another starts,
up to the app's maximum instance count (then 429, as Flex Consumption answers), and idle ones
stay warm until :meth:`AzureFunctionsEmulator.close`.

An invocation past the function's ``timeout`` is cancelled and its instance killed; an
instance over its ``memory`` is killed (its process tree's resident memory, as its cgroup would);
an instance that dies mid-invocation is a crash. All three answer HTTP 500, as the host does
(see :mod:`glacier.clouds.azure.host_replies` for the bodies); an instance that cannot start
answers 503. Every instance started is killed on close.
"""

from __future__ import annotations

import contextlib
import hmac
import http.client
import json
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from glacier.clouds.azure import host_replies
from glacier.errors import DeploymentError
from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import MB, FunctionProcess, Unpacked

HOST = Path(__file__).with_name("function_host.py")
"""The worker each instance runs, as a script (``-P``: its folder stays off ``sys.path``)."""
VENDORED = Path(".python_packages", "lib", "site-packages")
"""Where a package's dependencies are vendored; the host puts it on the path."""
HTTP_LIMIT = 230.0
"""Seconds an HTTP-triggered function may take on Azure whatever its ``functionTimeout`` (the
front end's idle timeout): the limit of a function configured without a timeout."""
START_SECONDS = 120.0
"""How long an instance may take to start and index its functions."""
KEY_HEADER = "x-functions-key"
MAX_INSTANCES = 100
"""Flex Consumption's default maximum instance count (``AzureFunctionConfig.max_instances``)."""


class _Instance:
    """One worker process of an app and the port it serves on."""

    def __init__(self, process: FunctionProcess, port: int) -> None:
        self.process = process
        self.port = port

    def request(
        self, method: str, path: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body, {**headers, "Connection": "close"})
            response = connection.getresponse()
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def exit_code(self) -> int:
        """The worker's exit status as the host reports it (128 + signal when killed)."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.process.wait(timeout=5)
        code = self.process.process.returncode
        if code is None:
            self.process.kill()
            return 128 + signal.SIGKILL
        return 128 - code if code < 0 else code


class _App:
    """One emulated function app: its front end, its key, its instances."""

    def __init__(self, function: EmulatedFunction, max_instances: int) -> None:
        self.function = function
        self.max_instances = max_instances
        self.key = secrets.token_urlsafe(32)
        self.timeout = function.timeout or HTTP_LIMIT
        self.lock = threading.Lock()
        self.idle: list[_Instance] = []
        self.started: list[_Instance] = []
        self.starting = 0
        self.closed = False
        self.unpacked = Unpacked(function)
        try:
            if (self.unpacked.code / VENDORED).is_dir():
                self.unpacked.paths.append(self.unpacked.code / VENDORED)
            self.server = _Server(self)
            self.port = self.server.server_address[1]
            self.routes = {r["route"]: r for r in self._start_first()}
        except BaseException:
            self.close()
            raise
        self.thread = threading.Thread(
            target=self.server.serve_forever, daemon=True, name=f"glacier-azure-{function.name}"
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/{next(iter(self.routes))}"

    def _start_first(self) -> list[dict[str, Any]]:
        """Start one instance and index the app, as the host does when it starts."""
        try:
            instance, functions = self._start()
        except OSError as exc:
            raise DeploymentError(
                f"Azure function {self.function.name!r} (executor {self.function.executor!r}) "
                f"did not start: {exc}. Its traceback is on stderr above; fix the package's "
                f"function_app.py or rebuild it with `glacier package`."
            ) from None
        if not functions:
            raise DeploymentError(
                f"Azure function {self.function.name!r}: its function_app.py declares no HTTP "
                f"function. Rebuild the package with `glacier package`."
            )
        self._give_back(instance)
        return functions

    def _start(self) -> tuple[_Instance, list[dict[str, Any]]]:
        """A new instance, ready: it answered the host's index request."""
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen(16)
            port = listener.getsockname()[1]
            env = self.unpacked.environment(self.function, self._platform_env())
            process = FunctionProcess(
                [sys.executable, "-P", str(HOST), str(listener.fileno())],
                env,
                self.unpacked.code,
                self.function.memory,
                pass_fds=(listener.fileno(),),
            )
        instance = _Instance(process, port)
        with self.lock:
            self.started.append(instance)
            closed = self.closed
        if closed:
            self._discard(instance)
            raise OSError("the emulator is closing")
        try:
            status, _, body = instance.request("GET", "/admin/functions", b"", {}, START_SECONDS)
        except (OSError, http.client.HTTPException) as exc:
            code = instance.exit_code()
            self._discard(instance)
            raise OSError(f"its worker exited with code {code}") from exc
        if status != 200:
            self._discard(instance)
            raise OSError(f"its worker answered {status} to the index request")
        functions: list[dict[str, Any]] = json.loads(body)
        return instance, functions

    def _platform_env(self) -> dict[str, str]:
        """What the Functions host sets for its Python worker."""
        return {
            "FUNCTIONS_WORKER_RUNTIME": "python",
            "FUNCTIONS_WORKER_RUNTIME_VERSION": f"{sys.version_info[0]}.{sys.version_info[1]}",
            "FUNCTIONS_EXTENSION_VERSION": "~4",
            "WEBSITE_SITE_NAME": self.function.name,
            "WEBSITE_HOSTNAME": f"127.0.0.1:{self.port}",
            "WEBSITE_INSTANCE_ID": secrets.token_hex(32),
            "AzureWebJobsScriptRoot": str(self.unpacked.code),
        }

    def _take(self) -> _Instance | None:
        """An idle instance, else a new one; None when the app is at its instance limit."""
        with self.lock:
            while self.idle:
                instance = self.idle.pop()
                if instance.process.alive():
                    return instance
                self.started.remove(instance)
            if len(self.started) + self.starting >= self.max_instances:
                return None
            self.starting += 1
        try:
            return self._start()[0]
        finally:
            with self.lock:
                self.starting -= 1

    def _give_back(self, instance: _Instance) -> None:
        """Keep a live instance warm; discard any other."""
        with self.lock:
            if instance.process.alive() and not self.closed:
                self.idle.append(instance)
                return
        self._discard(instance)

    def _discard(self, instance: _Instance) -> None:
        """Kill an instance and forget it."""
        with self.lock:
            if instance in self.started:
                self.started.remove(instance)
        instance.process.kill()

    def authorized(self, level: str, header: str | None, query: str) -> bool:
        """Whether the caller gave the key (header, then ``code=``) a non-anonymous route needs."""
        if level == "anonymous":
            return True
        given = header or dict(parse_qsl(query)).get("code") or ""
        return hmac.compare_digest(given.encode(), self.key.encode())

    def invoke(
        self, name: str, method: str, path: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        """Run one invocation of function ``name`` on a free instance, answering as the
        platform does when it cannot: 429 at the instance limit, 503 when no instance starts,
        500 when the invocation fails."""
        try:
            instance = self._take()
        except (OSError, http.client.HTTPException):
            return host_replies.NOT_RUNNING_STATUS, [], host_replies.NOT_RUNNING.encode()
        if instance is None:
            return host_replies.THROTTLED_STATUS, [], b""
        try:
            reply = instance.request(method, path, body, headers, self.timeout)
        except TimeoutError:
            instance.process.kill()  # the host restarts a worker whose invocation timed out
            reply = _failed(host_replies.timeout_reply(name, self.timeout))
        except (OSError, http.client.HTTPException):
            code = instance.exit_code()
            process = instance.process
            memory = (process.peak / MB, self.function.memory or 0)
            oom = memory if process.out_of_memory else None
            reply = _failed(host_replies.exit_reply(name, code, oom))
        self._give_back(instance)
        return reply

    def close(self) -> None:
        with self.lock:
            self.closed = True
            instances, self.idle, self.started = self.started, [], []
        server = getattr(self, "server", None)
        if server is not None:
            if getattr(self, "thread", None) is not None:
                server.shutdown()
            server.server_close()
        for instance in instances:
            instance.process.kill()
        self.unpacked.remove()


def _failed(line: str) -> tuple[int, list[tuple[str, str]], bytes]:
    return host_replies.ERROR_STATUS, [("Content-Type", "text/plain")], line.encode()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, app: _App) -> None:
        super().__init__(("127.0.0.1", 0), _FrontEnd)
        self.app = app


_NOT_FORWARDED = {KEY_HEADER, "connection", "keep-alive", "transfer-encoding"}


class _FrontEnd(BaseHTTPRequestHandler):
    """The host's HTTP front end of one app: routes, keys, then an instance."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def _serve(self) -> None:
        app = self.server.app
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        route = (
            parts.path.removeprefix("/api/").strip("/") if parts.path.startswith("/api/") else ""
        )
        function = app.routes.get(route)
        if function is None or (function["methods"] and self.command not in function["methods"]):
            self._answer(404, [], b"")
            return
        if not app.authorized(function["auth_level"], self.headers.get(KEY_HEADER), parts.query):
            self._answer(401, [], b"")
            return
        query = "&".join(f"{k}={v}" for k, v in parse_qsl(parts.query) if k != "code")
        path = parts.path + (f"?{query}" if query else "")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_FORWARDED}
        self._answer(*app.invoke(function["name"], self.command, path, body, headers))

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            if key.lower() not in ("content-length", "connection", "transfer-encoding", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(OSError):  # the caller gave up
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: a request line may carry the key (``?code=``)."""


class AzureFunctionsEmulator:
    """The running function apps of one ``glacier emulate``; the keys stay out of its repr."""

    def __init__(self, apps: Mapping[str, _App]) -> None:
        self._apps = dict(apps)

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        return {ex: {"name": app.function.name, "url": app.url} for ex, app in self._apps.items()}

    @property
    def endpoints(self) -> Mapping[str, str]:
        return {}

    @property
    def secrets(self) -> Mapping[str, str]:
        return {ex: app.key for ex, app in self._apps.items()}

    def pids(self) -> list[int]:
        """Every instance process started so far, for tests and diagnostics."""
        return [i.process.pid for app in self._apps.values() for i in app.started]

    def close(self) -> None:
        for app in self._apps.values():
            app.close()

    def __repr__(self) -> str:
        return f"AzureFunctionsEmulator({', '.join(sorted(self._apps))})"


def start(
    functions: Sequence[EmulatedFunction], max_instances: int = MAX_INSTANCES
) -> AzureFunctionsEmulator:
    """Serve each function's package as its own function app on 127.0.0.1, each scaling out to
    ``max_instances`` instances (then answering 429, as Flex Consumption does)."""
    apps: dict[str, _App] = {}
    try:
        for function in functions:
            apps[function.executor] = _App(function, max_instances)
    except BaseException:
        for app in apps.values():
            app.close()
        raise
    return AzureFunctionsEmulator(apps)
