"""Serverless functions emulated by isolated worker processes, with their memory and time caps.

Each invocation runs in a worker process (a fresh interpreter started with ``subprocess``, so
the user's ``__main__`` script is never re-imported). Workers are reused like warm function
containers, across runs in this process by every executor of the same kind (see
:mod:`~glacier.runtime.backends.warm`); starting one is the cold start and is measured.

Memory: ``RLIMIT_AS`` does not emulate a function's memory limit faithfully, because Polars
(jemalloc, one thread pool per process) reserves far more address space than it touches:
measured here, importing Polars and running one small query reserves ~890 MB of virtual memory
for 64 MB resident, and a 1024 MB address-space cap already fails a 100 MB allocation. Cloud
functions limit resident memory (a cgroup), so the backend samples the resident set of the
worker and every process its task started (about 0.1 ms per sample, measured) every few
milliseconds and kills them once over the limit, reporting the peak it saw. cgroups would be
exact but need root and cgroup v2 delegation, which a laptop run cannot assume.

Time: the config's timeout is enforced here (kill); a task's own ``timeout=`` is enforced by
the scheduler, which calls :meth:`ProcessBackend.cancel` (kill) when it expires. A kill is
always of the worker's whole process group, so a task's subprocesses die with it.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from typing import IO

from glacier.config.compute import ServerlessConfig
from glacier.errors import TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.resources.executor import Executor
from glacier.runtime.backends import warm
from glacier.runtime.backends.base import Backend, Done, Job, RunServices, deliver
from glacier.runtime.backends.memory import exited, tree_rss
from glacier.runtime.backends.process_main import HEADER, PARENT_FD, READY, write_frame
from glacier.runtime.invocation import decode_outcome, describe, encode
from glacier.runtime.worker import Outcome

POLL_SECONDS = 0.005
MB = 1024 * 1024


class WorkerDied(Exception):
    """The worker process ended before it answered."""


class Worker:
    """One worker process: a warm container serving one invocation at a time.

    It leads its own process group (so a terminal's Ctrl-C reaches only the runner, which
    then kills it), and holds the read end of a pipe whose write end only this process keeps:
    when this process dies, the worker kills its group (see ``process_main``).
    """

    def __init__(self, environment: dict[str, str]) -> None:
        started = time.perf_counter()
        lifeline, self.lifeline = os.pipe()
        self._closing = threading.Lock()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "glacier.runtime.backends.process_main"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                cwd=os.getcwd(),
                env={**os.environ, **environment, PARENT_FD: str(lifeline)},
                pass_fds=(lifeline,),
                process_group=0,
            )
        except BaseException:
            os.close(self.lifeline)
            raise
        finally:
            os.close(lifeline)
        assert self.process.stdin is not None and self.process.stdout is not None
        self.stdin: IO[bytes] = self.process.stdin
        self.stdout_fd = self.process.stdout.fileno()
        self.killed = False
        self.peak = 0
        try:
            if self.receive(None, None) != READY:
                raise WorkerDied("the worker did not start")
        except WorkerDied:
            self.kill()  # reaps it and closes the lifeline
            raise
        self.cold_start = time.perf_counter() - started

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        """Whether the worker still runs: neither reaped nor exiting (killed while idle)."""
        return self.process.poll() is None and not exited(self.pid)

    def call(self, payload: bytes, limit: int | None, deadline: float | None) -> bytes:
        """Send one invocation and wait for its outcome, enforcing memory and time."""
        self.peak = 0
        try:
            write_frame(self.stdin, payload)
        except (BrokenPipeError, OSError) as exc:
            raise WorkerDied(str(exc)) from None
        return self.receive(limit, deadline)

    def receive(self, limit: int | None, deadline: float | None) -> bytes:
        """Read one frame, sampling resident memory while waiting.

        Raises ``MemoryError`` over ``limit`` bytes, ``TimeoutError`` past ``deadline``
        (monotonic) and :class:`WorkerDied` if the process ends; the first two kill it.
        """
        buffer = bytearray()
        size: int | None = None
        while size is None or len(buffer) < HEADER.size + size:
            readable, _, _ = select.select([self.stdout_fd], [], [], POLL_SECONDS)
            if readable:
                chunk = os.read(self.stdout_fd, 1 << 20)
                if not chunk:
                    raise WorkerDied(self.exit_reason())
                buffer += chunk
                if size is None and len(buffer) >= HEADER.size:
                    (size,) = HEADER.unpack_from(buffer)
                continue
            resident = tree_rss(self.pid) or 0
            self.peak = max(self.peak, resident)
            if limit is not None and resident > limit:
                self.kill()
                raise MemoryError(resident)
            if deadline is not None and time.monotonic() > deadline:
                self.kill()
                raise TimeoutError
        return bytes(buffer[HEADER.size :])

    def exit_reason(self) -> str:
        code = self.process.wait()
        if code < 0:
            return f"killed by {signal.Signals(-code).name}"
        return f"exited with code {code}"

    def kill(self) -> None:
        """Kill the worker and whatever its task started (the whole process group)."""
        self.killed = True
        self._kill_group()
        self.process.wait()
        self._close_lifeline()

    def stop(self) -> None:
        """Let an idle worker exit on end of input, then kill what it left behind; kill it if
        it lingers."""
        try:
            self.stdin.close()
            self.process.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()
        self._kill_group()
        self._close_lifeline()
        if self.process.stdout is not None:
            self.process.stdout.close()

    def _kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
            os.killpg(self.pid, signal.SIGKILL)

    def _close_lifeline(self) -> None:
        # the run's close and the attempt's own thread may both kill a busy worker
        with self._closing:
            fd, self.lifeline = self.lifeline, -1
        if fd >= 0:
            os.close(fd)


class WorkerPool:
    """The idle workers of one kind of serverless executor, kept warm across runs (see
    :mod:`~glacier.runtime.backends.warm`): every worker it started is stopped when it closes."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.idle: list[Worker] = []
        self.started: dict[int, Worker] = {}
        self.lock = threading.Lock()

    def alive(self) -> bool:
        return True  # each worker is checked as it is taken, and replaced if it died

    def take(self) -> Worker | None:
        """A live idle worker, or None: the caller starts one with :meth:`start`."""
        with self.lock:
            while self.idle:
                worker = self.idle.pop()
                if worker.running():
                    return worker
                self.started.pop(worker.pid, None)
                worker.kill()  # reaps it and closes its lifeline
        return None

    def start(self) -> Worker:
        worker = Worker(self.environment)
        with self.lock:
            self.started[worker.pid] = worker
        return worker

    def give_back(self, worker: Worker) -> None:
        """Keep a worker that finished cleanly for the next invocation; kill any other."""
        with self.lock:
            keep = not worker.killed and worker.process.poll() is None
            if keep:
                self.idle.append(worker)
            else:
                self.started.pop(worker.pid, None)
        if not keep:
            worker.kill()

    def close(self) -> None:
        with self.lock:
            idle, busy = self.idle, [w for w in self.started.values() if w not in self.idle]
            self.idle, self.started = [], {}
        for worker in busy:
            worker.kill()
        for worker in idle:
            worker.stop()


class ProcessBackend(Backend):
    """Serverless executors in local mode: a pool of worker processes per kind of executor,
    warm across runs; a worker killed (memory, timeout, cancel) or dead is never reused."""

    name = "process"
    shares_process = False
    ships_invocations = True

    def __init__(self, executor: Executor, services: RunServices) -> None:
        super().__init__(executor, services)
        config = executor.config
        memory = config.memory if isinstance(config, ServerlessConfig) else None
        timeout = config.timeout if isinstance(config, ServerlessConfig) else None
        self.memory_mb: int | None = memory
        self.timeout_s: float | None = timeout
        # Like a cloud runtime handing a function its role's credentials: through the environment
        # of the worker process, never inside the invocation.
        self.pool = warm.acquire(
            warm.pool_key(executor),
            WorkerPool,
            lambda: WorkerPool(executor.provider.store.worker_environment()),
        )
        self.busy: dict[int, Worker] = {}
        self.lock = threading.Lock()
        self.closed = False

    def submit(self, job: Job, done: Done) -> object:
        payload = encode(describe(job, self.services.run_id))
        call = _Call()
        threading.Thread(
            target=self._run, args=(job, payload, call, done), daemon=True, name="glacier-fn"
        ).start()
        return call

    def cancel(self, handle: object) -> None:
        assert isinstance(handle, _Call)
        with self.lock:
            handle.cancelled = True
            worker = handle.worker
        if worker is not None:
            worker.kill()

    def close(self) -> None:
        """Kill what this run still runs (abandoned attempts); idle workers stay warm."""
        with self.lock:
            self.closed = True
            busy, self.busy = list(self.busy.values()), {}
        for worker in busy:
            worker.kill()

    # --- one invocation -----------------------------------------------------------------------

    def _run(self, job: Job, payload: bytes, call: _Call, done: Done) -> None:
        what = f"serverless executor {self.executor.name!r}"
        deliver(job, done, what, lambda: self._attempt(job, payload, call))

    def _attempt(self, job: Job, payload: bytes, call: _Call) -> Outcome:
        root = job.unit.root.id
        try:
            worker, cold = self._acquire(call)
        except (WorkerDied, OSError) as exc:
            return Outcome.failure(root, TaskCrashed(self._crash_message(job, str(exc))))
        limit = self.memory_mb * MB if self.memory_mb else None
        deadline = time.monotonic() + self.timeout_s if self.timeout_s else None
        try:
            outcome = decode_outcome(worker.call(payload, limit, deadline), job.target.provider)
        except MemoryError:
            outcome = Outcome.failure(root, TaskOutOfMemory(self._oom_message(job, worker.peak)))
        except TimeoutError:
            outcome = Outcome.failure(root, TaskTimeout(self._timeout_message(job)))
        except WorkerDied as exc:
            outcome = Outcome.failure(root, TaskCrashed(self._crash_message(job, str(exc))))
        finally:
            self._release(worker)
        peak = max(outcome.peak_memory or 0, worker.peak) or None
        return replace(outcome, peak_memory=peak, cold_start=cold)

    def _acquire(self, call: _Call) -> tuple[Worker, float | None]:
        worker = self.pool.take()
        cold = None
        if worker is None:
            worker = self.pool.start()
            cold = worker.cold_start
        with self.lock:
            self.busy[worker.pid] = worker
            call.worker = worker
            if call.cancelled or self.closed:
                worker.kill()
        return worker, cold

    def _release(self, worker: Worker) -> None:
        with self.lock:
            self.busy.pop(worker.pid, None)
        self.pool.give_back(worker)

    # --- errors -------------------------------------------------------------------------------

    def _what(self, job: Job) -> str:
        names = [n.id for n in job.unit.nodes]
        fused = f" (fused with {', '.join(repr(n) for n in names[:-1])})" if len(names) > 1 else ""
        return f"Task {names[-1]!r}{fused} on serverless executor {self.executor.name!r}"

    def _oom_message(self, job: Job, peak: int) -> str:
        return (
            f"{self._what(job)} used {peak / MB:.0f} MB, over its memory limit of "
            f"{self.memory_mb} MB ({type(self.executor.config).__name__}.memory); the worker was "
            f"killed as the cloud would. Raise memory= or process less data per task."
        )

    def _timeout_message(self, job: Job) -> str:
        return (
            f"{self._what(job)} ran past the function timeout of {self.timeout_s:g} s "
            f"({type(self.executor.config).__name__}.timeout); the worker was killed. Raise "
            f"timeout= in the config or make the task faster."
        )

    def _crash_message(self, job: Job, reason: str) -> str:
        return (
            f"{self._what(job)}: the worker process died without a result ({reason}). This is "
            f"a crash in native code or an external kill; the attempt is retried if the task "
            f"has retries."
        )


class _Call:
    """The handle of one submitted invocation: which worker runs it, and whether to stop it."""

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.cancelled = False
