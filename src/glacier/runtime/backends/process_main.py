"""The loop of one serverless worker process (``python -m glacier.runtime.backends.process_main``).

Like a warm function container it serves invocations one at a time until its stdin closes. The
protocol is length-prefixed frames: invocation bytes in on stdin, outcome bytes out on a private
copy of stdout; the task's own prints go to stderr so they cannot corrupt the protocol.

The worker leads its own process group, which the backend kills as a whole, and never outlives
the run: a thread waits on a pipe only the parent holds open, and when the parent dies (even by
``kill -9``) it kills the group, the task's own subprocesses with it. On Linux the worker is also
the subreaper of its descendants, so the backend's memory sampling still sees a grandchild whose
parent exited.
"""

from __future__ import annotations

import ctypes
import os
import signal
import struct
import sys
import threading
from typing import IO

HEADER = struct.Struct(">Q")
READY = b"ready"
PARENT_FD = "GLACIER_PARENT_FD"
"""The environment variable naming the read end of the pipe whose closing means the parent
died."""
_PR_SET_CHILD_SUBREAPER = 36


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return stream.read(size)


def watch_parent(fd: int) -> None:
    """Kill this worker's process group once ``fd`` reads end of file: the parent is gone."""

    def wait() -> None:
        while os.read(fd, 1):
            pass
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=wait, daemon=True, name="glacier-parent").start()


def adopt_descendants() -> None:
    """Become the subreaper of this worker's descendants, where Linux offers it."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def main() -> None:
    if PARENT_FD in os.environ:
        watch_parent(int(os.environ.pop(PARENT_FD)))
    adopt_descendants()
    protocol = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    # imported only now, after stdout is redirected, so nothing printed on import corrupts the
    # protocol; this import (polars) is most of the cold start
    from glacier.runtime.invocation import invoke  # noqa: PLC0415

    write_frame(protocol, READY)
    while (payload := read_frame(sys.stdin.buffer)) is not None:
        write_frame(protocol, invoke(payload))


if __name__ == "__main__":
    main()
