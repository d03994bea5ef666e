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
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from glacier.runtime.staging import StagedFrame, Staging
from glacier.runtime.units import Handoff, Unit
from glacier.runtime.worker import Outcome

if TYPE_CHECKING:
    from glacier.resources.executor import Executor


@dataclass
class Job:
    """One attempt of one unit, with everything the worker needs to run it."""

    unit: Unit
    handoff: Handoff
    inputs: Mapping[str, Any]
    params: Mapping[str, Any]
    staging: Callable[[], Staging]
    attempt: int
    output_key: str
    """Key in the staging bucket for the root's Parquet output (run staging or cache)."""
    keep_collected: bool = False
    """Also write a collected (returned) output there, so a later run can reuse it."""

    def put(self, frame: pl.DataFrame | pl.LazyFrame) -> StagedFrame:
        return self.staging().put(self.output_key, frame)


class RunServices:
    """What backends of one run share: the run id and a thread pool for in-process work."""

    def __init__(self, run_id: str, threads: int) -> None:
        self.run_id = run_id
        self.threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="glacier")

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
