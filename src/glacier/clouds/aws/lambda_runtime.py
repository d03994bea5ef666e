"""The runtime loop inside one emulated Lambda container (the emulator's stand-in for the
Python runtime interface client in ``/var/runtime``).

It imports the function's handler once (Lambda's init phase), then serves invocations one at
a time until its stdin closes: length-prefixed JSON frames in on stdin, out on a private copy
of stdout. The handler's own prints go to stderr, as they go to CloudWatch on Lambda, so they
cannot corrupt the protocol.

This file runs by path (``runpy``) in a process whose ``glacier`` is the *package's* copy, or
none at all, so it imports only the standard library. Errors are shaped as the Python runtime
shapes them (``errorMessage``, ``errorType``, ``requestId``, ``stackTrace``), because that is
the body a Lambda client gets back.
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any

HEADER = struct.Struct(">Q")


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return stream.read(size)


class Context:
    """The ``context`` Lambda hands a Python handler (the attributes Glacier's handler and most
    user code read)."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.memory_limit_in_mb = os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.invoked_function_arn: str = request["arn"]
        self.aws_request_id: str = request["request_id"]
        self._deadline_ms: int = request["deadline_ms"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def error_body(exc: BaseException, request_id: str | None, error_type: str | None = None) -> bytes:
    """The JSON body of a failed invocation, as the Python runtime reports it."""
    frames = traceback.extract_tb(exc.__traceback__)
    body: dict[str, Any] = {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }
    if request_id is not None:
        body["requestId"] = request_id
    return json.dumps(body).encode()


def load_handler() -> Callable[[Any, Context], Any]:
    """Import ``_HANDLER`` (``module.function``) as the runtime's init phase does."""
    module_name, _, function = os.environ["_HANDLER"].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise _InitError(
            "Runtime.ImportModuleError", f"Unable to import module {module_name!r}: {exc}"
        ) from exc
    handler = getattr(module, function, None)
    if not callable(handler):
        raise _InitError(
            "Runtime.HandlerNotFound", f"Handler {function!r} missing on module {module_name!r}"
        )
    return handler  # type: ignore[no-any-return]


class _InitError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def serve(handler: Callable[[Any, Context], Any], requests: IO[bytes], replies: IO[bytes]) -> None:
    """Answer invocations until ``requests`` ends: ``{"result": json}`` or ``{"error": json}``."""
    while (frame := read_frame(requests)) is not None:
        request = json.loads(frame)
        request_id = request["request_id"]
        try:
            result = handler(request["event"], Context(request))
        except Exception as exc:
            reply = {"error": error_body(exc, request_id).decode()}
        else:
            try:
                reply = {"result": json.dumps(result)}
            except (TypeError, ValueError) as exc:
                message = f"Unable to marshal response: {exc}"
                reply = {
                    "error": error_body(
                        ValueError(message), request_id, "Runtime.MarshalError"
                    ).decode()
                }
        write_frame(replies, json.dumps(reply).encode())


def main() -> None:
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # the handler's prints go to the log (stderr), never into the protocol
    try:
        handler = load_handler()
    except _InitError as exc:
        write_frame(
            replies,
            json.dumps({"init_error": error_body(exc, None, exc.error_type).decode()}).encode(),
        )
        return
    write_frame(replies, json.dumps({"ready": True}).encode())
    serve(handler, sys.stdin.buffer, replies)


if __name__ == "__main__":
    main()
