"""What the Azure Functions host answers when a function gives no answer of its own, shared by
the emulator (which writes these replies) and the transport (which reads them).

On Azure, an HTTP-triggered Python function that runs past the app's ``functionTimeout`` fails
with ``FunctionTimeoutException`` ("Timeout value of 00:05:00 exceeded by function
'Functions.run'"), and one whose worker is killed, by the instance's memory limit or anything
else, with ``WorkerProcessExitException`` ("python exited with code 137"); in both cases the
caller gets **HTTP 500**, with an empty body in production: the reason is only in the app's logs
(Application Insights). A host that is not running answers 503 "Function host is not running.".
The emulator answers the same statuses and puts the host's log line in the body, so a caller
can tell the three apart; against real Azure the transport tells a timeout by the time the call
took and reports any other 500 as a crash whose message names memory as a likely cause.
"""

from __future__ import annotations

from typing import Literal

ERROR_STATUS = 500
"""What the host answers for a failed invocation: timeout, worker exit, or an exception."""
NOT_RUNNING_STATUS = 503
THROTTLED_STATUS = 429
"""What Flex Consumption answers when every instance is busy and the app is at its maximum
instance count: the caller retries."""
NOT_RUNNING = "Function host is not running."
TIMEOUT_MARK = "Timeout value of"
OUT_OF_MEMORY_MARK = "out of memory"


def timeout_reply(function: str, seconds: float) -> str:
    """The host's line for an invocation cancelled at ``functionTimeout``."""
    hours, rest = divmod(int(seconds), 3600)
    clock = f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{TIMEOUT_MARK} {clock} exceeded by function 'Functions.{function}'."


def exit_reply(function: str, code: int, memory: tuple[float, int] | None = None) -> str:
    """The host's line for a worker that exited mid-invocation; ``memory`` = (peak MB, limit
    MB) when the emulator killed it for its memory, as the instance's cgroup would."""
    line = (
        f"Exception while executing function: Functions.{function} ---> "
        f"WorkerProcessExitException : python exited with code {code}"
    )
    if memory is not None:
        line += f" ({OUT_OF_MEMORY_MARK}: {memory[0]:.0f} MB resident, limit {memory[1]} MB)"
    return line


def failure(body: str) -> Literal["timeout", "memory", "crash"]:
    """Which failure a 5xx reply's body describes (``crash`` when it says nothing)."""
    if TIMEOUT_MARK in body:
        return "timeout"
    if OUT_OF_MEMORY_MARK in body:
        return "memory"
    return "crash"
