"""One instance of an emulated Azure function app: the Python worker the Functions host starts.

The emulator (:mod:`glacier.clouds.azure.emulator`) runs this file as a script
(``python -P function_host.py FD``) with ``PYTHONPATH`` set to the unzipped package, so it may
import only the standard library and what the package and the interpreter provide
(``azure.functions``): Glacier itself, if the function uses it, must come from the package, as
on Azure, where the worker is the platform's and not the app's. ``FD`` is a listening socket
on 127.0.0.1 the emulator bound and handed over, so it knows the instance's port before it runs.

Like the real worker, it indexes ``function_app.py`` through the ``azure.functions`` library
(``FunctionApp.get_functions()``; each HTTP trigger's route, methods and auth level), answers
``GET /admin/functions`` with that index, and serves ``/api/<route>``: a real
``func.HttpRequest`` in, the user function's ``func.HttpResponse`` out. One request at a time,
as Flex Consumption's default HTTP concurrency for Python is one per instance; the emulator
checks keys, scales and enforces memory and time, as the host does around its workers.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import socket
import sys
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import azure.functions as func

SCRIPT = "function_app"
"""The module the Python v2 programming model loads from the script root."""


def index() -> dict[str, Any]:
    """Route -> the HTTP function serving it, from the app's own function registry."""
    module = importlib.import_module(SCRIPT)
    apps = [v for v in vars(module).values() if isinstance(v, func.FunctionRegister)]
    if not apps:
        raise RuntimeError(f"{SCRIPT}.py defines no FunctionApp: nothing to serve")
    routes: dict[str, Any] = {}
    for app in apps:
        for function in app.get_functions():
            trigger = function.get_trigger()
            if not function.is_http_function() or trigger is None:
                continue
            route = getattr(trigger, "route", None) or function.get_function_name() or ""
            routes[route.strip("/")] = function
    return routes


def describe(routes: dict[str, Any]) -> list[dict[str, Any]]:
    """The index as plain JSON, for the emulator (what the host learns when it indexes)."""
    described = []
    for route, function in routes.items():
        trigger = function.get_trigger()
        methods = getattr(trigger, "methods", None) or []
        level = getattr(trigger, "auth_level", None)
        described.append(
            {
                "name": function.get_function_name(),
                "route": route,
                "methods": [str(getattr(m, "value", m)).upper() for m in methods],
                "auth_level": str(getattr(level, "value", level or "function")).lower(),
            }
        )
    return described


def call(function: Any, request: func.HttpRequest) -> func.HttpResponse:
    """Run the user function on ``request``, passing it as the trigger's parameter."""
    user = function.get_user_function()
    result = user(**{function.get_trigger().name: request})
    if inspect.isawaitable(result):
        result = asyncio.run(_awaited(result))
    if isinstance(result, func.HttpResponse):
        return result
    if result is None:
        return func.HttpResponse(status_code=204)
    return func.HttpResponse(result if isinstance(result, str | bytes) else str(result))


async def _awaited(result: Any) -> Any:
    return await result


class Handler(BaseHTTPRequestHandler):
    """Serves the index and the app's routes; the server holds ``routes``."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path == "/admin/functions":
            self._answer(200, json.dumps(describe(self.server.routes)).encode(), "application/json")  # type: ignore[attr-defined]
        else:
            self._invoke()

    def do_POST(self) -> None:
        self._invoke()

    def _invoke(self) -> None:
        parts = urlsplit(self.path)
        route = parts.path.removeprefix("/api/").strip("/")
        function = self.server.routes.get(route)  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if function is None:
            self._answer(404, b"", "text/plain")
            return
        request = func.HttpRequest(
            method=self.command,
            url=f"http://{self.headers.get('Host', '127.0.0.1')}{self.path}",
            headers=dict(self.headers.items()),
            params=dict(parse_qsl(parts.query)),
            route_params={},
            body=body,
        )
        try:
            response = call(function, request)
        except Exception as exc:  # the host answers 500 for a function that raised
            traceback.print_exc()
            name = function.get_function_name()
            detail = f"Exception while executing function: Functions.{name} ---> {exc!r}"
            self._answer(500, detail.encode(), "text/plain")
            return
        self._answer(
            response.status_code,
            response.get_body(),
            response.mimetype or "text/plain",
            response.headers,
        )

    def _answer(self, status: int, body: bytes, mimetype: str, headers: Any | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            if key.lower() not in ("content-length", "content-type"):
                self.send_header(key, value)
        self.send_header("Content-Type", mimetype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """No access log: the emulator in front of it logs nothing with keys either."""


def main(fd: int) -> None:
    routes = index()
    listener = socket.socket(fileno=fd)
    server = HTTPServer(listener.getsockname(), Handler, bind_and_activate=False)
    server.socket.close()
    server.socket = listener
    server.routes = routes  # type: ignore[attr-defined]
    server.serve_forever()


if __name__ == "__main__":
    main(int(sys.argv[1]))
