"""The backend interface: how units of one executor kind are run.

The scheduler only calls :meth:`Backend.submit`, :meth:`Backend.cancel` and
:meth:`Backend.close`, so a backend that runs units in worker processes, on Dask or on Spark
plugs in without changing it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, ClassVar

from glacier.provider import Provider
from glacier.resources.executor import Executor
from glacier.runtime.staging import OutputTarget, Staging
from glacier.runtime.units import Handoff, Unit
from glacier.runtime.worker import Outcome


@dataclass
class Job:
    """One attempt of one unit, with everything the worker needs to run it."""

    unit: Unit
    handoff: Handoff
    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    target: OutputTarget
    attempt: int


class RunServices:
    """What backends of one run share: the run id, a thread pool for in-process work, and the
    run's staging area on each provider."""

    def __init__(self, run_id: str, threads: int) -> None:
        self.run_id = run_id
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="glacier")
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
        self.threads.shutdown(wait=False, cancel_futures=True)


class Backend(ABC):
    """Runs units for one executor during one run."""

    name: ClassVar[str]
    shares_process: ClassVar[bool]
    """True when units run in this process, so MEMORY hand-offs may cross units."""

    def __init__(self, executor: Executor, services: RunServices) -> None:
        self.executor = executor
        self.services = services

    @abstractmethod
    def submit(self, job: Job, done: Callable[[Outcome], None]) -> object:
        """Start ``job``; call ``done`` exactly once with its outcome. Returns a handle."""

    def run_here(self, job: Job) -> Outcome | None:
        """Run ``job`` on the calling thread if this backend can; None if it cannot.

        The scheduler does so when nothing else could run meanwhile, which saves a sequential
        pipeline two thread switches per unit.
        """
        return None

    def cancel(self, handle: object) -> None:  # noqa: B027 - optional hook
        """Stop an attempt the scheduler gave up on (timeout); best effort."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release workers at the end of the run."""
