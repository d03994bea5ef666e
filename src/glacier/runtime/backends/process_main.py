"""The loop of one serverless worker process (``python -m glacier.runtime.backends.process_main``).

Like a warm function container it serves invocations one at a time until its stdin closes. The
protocol is length-prefixed frames: invocation bytes in on stdin, outcome bytes out on a private
copy of stdout; the task's own prints go to stderr so they cannot corrupt the protocol.
"""

from __future__ import annotations

import os
import struct
import sys
from typing import IO

HEADER = struct.Struct(">Q")
READY = b"ready"


def write_frame(stream: IO[bytes], data: bytes) -> None:
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> bytes | None:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    return stream.read(size)


def main() -> None:
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
