"""Cloud Functions (2nd gen) on 127.0.0.1: each built package served by Google's
``functions-framework``, behind a front server that plays Cloud Run's part.

A 2nd-gen function is a Cloud Run service: Cloud Run authenticates the caller, routes each
request to an instance that is free (concurrency 1, the Cloud Functions default), starts another
instance when all are busy (up to ``max_instances``), keeps idle ones warm, and kills requests
and instances that break the service's limits. The front server (one per function, its URL is
the function's URL) does exactly that; each instance is ``python -m functions_framework`` over
the unzipped package, in a fresh process with only the function's environment and what Cloud
Run sets (``K_SERVICE``, ``K_REVISION``, ``K_CONFIGURATION``, ``PORT``, ``FUNCTION_TARGET``,
``FUNCTION_SIGNATURE_TYPE``).

An instance is the framework's app (``functions_framework.create_app``) served in one process,
not by ``python -m functions_framework``, whose gunicorn runs a master and a worker: their
resident memory, summed over the tree, counts the pages they share twice (105 MB for 52 MB
really used, with Polars imported), where the instance's cgroup counts them once.

What the front server answers, as Cloud Run does:

- no ``Authorization`` header: 403; not a bearer token: 401. Cloud Run verifies a Google ID
  token whose audience is the URL; here any non-empty bearer token is accepted.
- past ``timeout``: 504 with body ``upstream request timeout``, and the instance is replaced.
- over ``memory`` (the instance's process tree, sampled): the instance is killed and the request
  answered 500 with body ``Memory limit of N MiB exceeded with M MiB used.`` Cloud Run answers
  a generic 500 and writes that sentence only to the service's log; the emulator puts it in the
  body so a client can tell an out-of-memory kill from a crash, which on Google Cloud only the
  log can (the transport's crash message says so).
- an instance that dies mid-request, or cannot start: 503 with what is known.
- every instance busy and ``max_instances`` reached for ``queue_seconds``: 429, as Cloud Run
  answers when no instance becomes available.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from glacier.runtime.emulator import EmulatedFunction
from glacier.runtime.function_process import MB, FunctionProcess, Unpacked

TARGET = "handler"
"""The entry point of the generated ``main.py`` (``glacier.clouds.gcp.package.HANDLER``)."""
SERVE = (
    "import os, functions_framework as ff; "
    "ff.create_app(os.environ['FUNCTION_TARGET'], 'main.py', "
    "os.environ['FUNCTION_SIGNATURE_TYPE']).run('127.0.0.1', int(os.environ['PORT']))"
)
"""An instance: the framework's app for ``main.py`` in one process (see the module docstring)."""
TIMEOUT_BODY = b"upstream request timeout"
MEMORY_BODY = "Memory limit of {limit} MiB exceeded with {used:.0f} MiB used."
STARTUP_SECONDS = 60.0
"""How long an instance may take to listen (Cloud Run's default startup probe waits 240 s)."""
DEFAULT_TIMEOUT = 60.0
"""Cloud Functions' default timeout, for a function without one."""
MAX_INSTANCES = 8
QUEUE_SECONDS = 10.0


@dataclass(eq=False)
class _Instance:
    process: FunctionProcess
    port: int


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


class _Service:
    """One function: its unpacked package and its instances."""

    def __init__(
        self, function: EmulatedFunction, max_instances: int, queue_seconds: float
    ) -> None:
        self.function = function
        self.unpacked = Unpacked(function)
        self.max_instances = max_instances
        self.queue_seconds = queue_seconds
        self.timeout = function.timeout or DEFAULT_TIMEOUT
        self._lock = threading.Condition()
        self._idle: list[_Instance] = []
        self._all: set[_Instance] = set()
        self._starting = 0
        self._started = 0
        self._closed = False

    def _instance_count(self) -> int:
        return len(self._all) + self._starting

    def acquire(self) -> _Instance | None:
        """A free instance, started if every one is busy; None after ``queue_seconds`` at max."""
        deadline = time.monotonic() + self.queue_seconds
        with self._lock:
            while True:
                while self._idle and not self._idle[-1].process.alive():
                    self._all.discard(self._idle.pop())  # died while idle
                if self._idle or self._instance_count() < self.max_instances:
                    break
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    return None
                self._lock.wait(left)
            if self._idle:
                return self._idle.pop()
            self._starting += 1
            self._started += 1
            number = self._started
        try:
            instance = self._start(number)
        except BaseException:
            with self._lock:
                self._starting -= 1
                self._lock.notify()
            raise
        with self._lock:
            self._starting -= 1
            if not self._closed:
                self._all.add(instance)
                return instance
        instance.process.kill()  # the emulator closed while it started
        return None

    def _start(self, number: int) -> _Instance:
        port = _free_port()
        name = self.function.name
        env = self.unpacked.environment(
            self.function,
            {
                "K_SERVICE": name,
                "K_REVISION": f"{name}-00001-emu",
                "K_CONFIGURATION": name,
                "PORT": str(port),
                "FUNCTION_TARGET": TARGET,
                "FUNCTION_SIGNATURE_TYPE": "http",
            },
        )
        log = self.unpacked.root / f"instance-{number}.log"
        argv = [sys.executable, "-c", SERVE]
        with log.open("wb") as out:
            process = FunctionProcess(
                argv,
                env,
                self.unpacked.code,
                self.function.memory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
        instance = _Instance(process, port)
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _listening(port):
            if not process.alive() or time.monotonic() > deadline:
                process.kill()
                raise _StartFailed(self._memory_exceeded(process) or _tail(log))
            time.sleep(0.02)
        return instance

    def release(self, instance: _Instance) -> None:
        """Return a healthy instance to the idle pool (keeps it warm)."""
        with self._lock:
            if self._closed:
                return
            self._idle.append(instance)
            self._lock.notify()

    def discard(self, instance: _Instance) -> None:
        """Kill an instance and forget it (Cloud Run replaces it on the next request)."""
        instance.process.kill()
        with self._lock:
            self._all.discard(instance)
            self._lock.notify()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            instances = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._lock.notify_all()
        for instance in instances:
            instance.process.kill()
        self.unpacked.remove()

    def call(self, method: str, path: str, body: bytes, content_type: str) -> _Reply:
        """Route one authenticated request to an instance and answer as Cloud Run would."""
        try:
            instance = self.acquire()
        except _StartFailed as exc:
            return _Reply(503, f"The instance failed to start:\n{exc}".encode())
        if instance is None:
            return _Reply(
                429,
                b"Rejected: the request was aborted because there was no available instance.",
            )
        conn = http.client.HTTPConnection("127.0.0.1", instance.port, timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": content_type})
            response = conn.getresponse()
            reply = _Reply(
                response.status,
                response.read(),
                response.getheader("Content-Type", "application/octet-stream"),
            )
        except TimeoutError:
            self.discard(instance)
            return _Reply(504, TIMEOUT_BODY)
        except (OSError, http.client.HTTPException) as exc:
            return self._died(instance, exc)
        finally:
            conn.close()
        self.release(instance)
        return reply

    def _died(self, instance: _Instance, exc: BaseException) -> _Reply:
        """An instance that broke the connection is gone or going: Cloud Run replaces it."""
        self.discard(instance)
        memory = self._memory_exceeded(instance.process)
        if memory:
            return _Reply(500, memory.encode())
        return _Reply(503, f"The instance died while handling the request ({exc!r}).".encode())

    def _memory_exceeded(self, process: FunctionProcess) -> str | None:
        """What Cloud Run logs when it killed an instance over its memory, if that happened."""
        if not process.out_of_memory:
            return None
        return MEMORY_BODY.format(limit=self.function.memory, used=process.peak / MB)


class _StartFailed(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _tail(log: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    return ""


def _front(service: _Service) -> ThreadingHTTPServer:
    """The function's URL: checks the bearer token, then hands the request to ``service``."""

    class Front(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            auth = self.headers.get("Authorization")
            if auth is None:
                reply = _Reply(403, b"Error: Forbidden. Your client does not have permission.")
            elif not auth.startswith("Bearer ") or not auth[len("Bearer ") :].strip():
                reply = _Reply(401, b"Error: Unauthorized. The request has no valid ID token.")
            else:
                content_type = self.headers.get("Content-Type", "application/octet-stream")
                reply = service.call(self.command, self.path, body, content_type)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # the emulator is quiet, as the platform's front end is

    server = ThreadingHTTPServer(("127.0.0.1", 0), Front)
    server.daemon_threads = True
    return server


class EmulatedFunctions:
    """Every function's front server and instances; :meth:`close` stops them all."""

    def __init__(
        self, functions: Sequence[EmulatedFunction], max_instances: int, queue_seconds: float
    ) -> None:
        self._running: list[tuple[EmulatedFunction, _Service, ThreadingHTTPServer]] = []
        try:
            for function in functions:
                service = _Service(function, max_instances, queue_seconds)
                server = _front(service)
                self._running.append((function, service, server))
                name = f"glacier-gcf-{function.name}"
                threading.Thread(target=server.serve_forever, daemon=True, name=name).start()
        except BaseException:
            self.close()
            raise

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        return {
            f.executor: {"name": f.name, "url": f"http://127.0.0.1:{server.server_address[1]}"}
            for f, _, server in self._running
        }

    @property
    def endpoints(self) -> Mapping[str, str]:
        return {}

    @property
    def secrets(self) -> Mapping[str, str]:
        return {}

    def close(self) -> None:
        for _, service, server in self._running:
            server.shutdown()
            server.server_close()
            service.close()
        self._running = []


def start(
    functions: Sequence[EmulatedFunction],
    *,
    max_instances: int = MAX_INSTANCES,
    queue_seconds: float = QUEUE_SECONDS,
) -> EmulatedFunctions:
    """Serve ``functions`` on 127.0.0.1 as Cloud Functions (2nd gen) would."""
    return EmulatedFunctions(functions, max_instances, queue_seconds)
