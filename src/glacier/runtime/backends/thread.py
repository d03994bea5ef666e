"""Run units on the run's thread pool, in this process. Polars releases the GIL while it works.

Timeouts here are soft: the scheduler stops waiting and fails the attempt, but a thread cannot
be killed, so the abandoned attempt finishes in the background and its result is dropped.
"""

from __future__ import annotations

from concurrent.futures import Future

from glacier.runtime.backends.base import Backend, Done, Job, deliver_future
from glacier.runtime.worker import Outcome, run_unit, steps_of


class ThreadBackend(Backend):
    name = "thread"
    shares_process = True

    def submit(self, job: Job, done: Done) -> object:
        future = self.services.threads.submit(self.run_here, job)
        deliver_future(job, done, f"local executor {self.executor.name!r}", future)
        return future

    def run_here(self, job: Job) -> Outcome:
        return run_unit(steps_of(job.unit), job.handoff, job.inputs, job.params, job.target)

    def cancel(self, handle: object) -> None:
        assert isinstance(handle, Future)
        handle.cancel()
