"""The backend interface: how units of one executor kind are run.

The scheduler only calls :meth:`Backend.submit`, :meth:`Backend.cancel` and
:meth:`Backend.close`, so a backend that runs units in worker processes, on Dask or on Spark
plugs in without changing it.
"""

from __future__ import annotations

import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from glacier.errors import TaskCrashed
from glacier.provider import Provider
from glacier.resources.executor import Executor
from glacier.runtime.backends.thread_pool import RunThreads
from glacier.runtime.staging import OutputTarget, Staging
from glacier.runtime.units import Handoff, Unit
from glacier.runtime.worker import Outcome

if TYPE_CHECKING:
    from glacier.runtime.deployment import CloudRun


@dataclass
class Job:
    """One attempt of one unit, with everything the worker needs to run it."""

    unit: Unit
    handoff: Handoff
    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    target: OutputTarget
    attempt: int


Done = Callable[[Outcome], None]
"""How a backend reports an attempt's outcome to the scheduler; called exactly once."""


def deliver(job: Job, done: Done, what: str, produce: Callable[[], Outcome]) -> None:
    """Call ``done`` with ``produce()``, or with a failed outcome if producing it fails.

    The one guard every backend reports through: a failure in a backend's own plumbing (an
    outcome that does not unpickle, a lost transport, a ``BaseException`` from a task thread)
    must fail the attempt, because a ``done`` never called leaves the run waiting forever.
    ``what`` says where the unit ran, for the message.
    """
    try:
        outcome = produce()
    except BaseException as exc:  # any failure here is the attempt's failure
        root = job.unit.root.id
        error = TaskCrashed(
            f"Task {root!r} on {what}: its outcome could not be received "
            f"({type(exc).__name__}: {exc}). If the task raised an exception, make it "
            f"picklable (an __init__ that takes just the message), or raise a built-in one."
        )
        trace = "".join(traceback.format_exception(exc))
        outcome = Outcome.failure(root, error, trace=trace)
    done(outcome)


def deliver_future(job: Job, done: Done, what: str, future: Future[Outcome]) -> None:
    """Report a pool future's outcome through :func:`deliver` once it finishes (unless
    cancelled)."""

    def finished(f: Future[Outcome]) -> None:
        if not f.cancelled():
            deliver(job, done, what, f.result)

    future.add_done_callback(finished)


class RunServices:
    """What backends of one run share: the run id, a thread pool for in-process work (on
    threads kept between runs), and the run's staging area on each provider."""

    def __init__(self, run_id: str, threads: int, cloud: CloudRun | None = None) -> None:
        self.run_id = run_id
        self.cloud = cloud
        """In cloud mode: the deployment and the code it must be running."""
        self.threads = RunThreads(threads)
        self._stagings: dict[int, Staging] = {}

    def staging(self, provider: Provider) -> Staging:
        """The run's staging area on ``provider``; the run's result lists every one asked for."""
        key = id(provider)
        if key not in self._stagings:
            self._stagings[key] = Staging(provider, self.run_id)
        return self._stagings[key]

    @property
    def staging_uris(self) -> list[str]:
        return [s.uri for s in self._stagings.values()]

    def close(self) -> None:
        # Abandoned attempts (timed out in a thread) cannot be stopped; do not wait for them.
        self.threads.close()


class Backend(ABC):
    """Runs units for one executor during one run, on workers that may outlive it."""

    name: ClassVar[str]
    shares_process: ClassVar[bool]
    """True when units run in this process, so MEMORY hand-offs may cross units."""
    ships_invocations: ClassVar[bool] = False
    """True when units travel pickled, as invocation bytes, so they must pickle."""

    def __init__(self, executor: Executor, services: RunServices) -> None:
        self.executor = executor
        self.services = services

    @classmethod  # noqa: B027 - optional hook
    def check_run(cls, executors: Sequence[Executor]) -> None:
        """Refuse, before anything runs, executors of this backend that cannot share a run."""

    @abstractmethod
    def submit(self, job: Job, done: Done) -> object:
        """Start ``job``; call ``done`` exactly once with its outcome (through
        :func:`deliver`). Returns a handle."""

    def prepare(self) -> None:  # noqa: B027 - optional hook
        """Start, in the background, what is slow to start, as the run begins: it is then ready
        (or nearly) when this executor's first unit is submitted."""

    def run_here(self, job: Job) -> Outcome | None:
        """Run ``job`` on the calling thread if this backend can; None if it cannot.

        The scheduler does so when nothing else could run meanwhile, which saves a sequential
        pipeline two thread switches per unit.
        """
        return None

    def cancel(self, handle: object) -> None:  # noqa: B027 - optional hook
        """Stop an attempt the scheduler gave up on (timeout); best effort."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Stop what the run still runs, at its end; warm workers stay for the next run (see
        :mod:`~glacier.runtime.backends.warm`)."""
