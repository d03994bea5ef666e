"""Cloud mode: each unit is sent, by name, to its executor's deployed resource.

To the scheduler this is one more backend. It holds one transport per deployed executor (from
the cloud's ``glacier/clouds/<cloud>/transport.py``), bounds how many invocations of it run at
once, turns the unit's attempt into a JSON event (:mod:`glacier.runtime.wire`) and the reply
back into an outcome. Hand-offs are staged in the deployment's staging bucket by whichever side
produced them, so the scheduler, cache and reports work as in local mode.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import ClassVar

from glacier import clouds
from glacier.errors import DeploymentError, TaskCrashed, TaskError
from glacier.resources.executor import Executor
from glacier.runtime.backends.base import Backend, Done, Job, RunServices, deliver_future
from glacier.runtime.transport import Transport
from glacier.runtime.wire import Code, NotPortable, event_for, outcome_from
from glacier.runtime.worker import Outcome

CONCURRENCY = 16
"""Invocations of one deployed executor in flight at once, unless its config says otherwise."""


class RemoteBackend(Backend):
    """Units of one deployed executor, invoked through its cloud's transport."""

    name = "cloud"
    shares_process = False
    ships_invocations: ClassVar[bool] = False

    def __init__(self, executor: Executor, services: RunServices) -> None:
        super().__init__(executor, services)
        cloud = services.cloud
        if cloud is None:
            raise DeploymentError(
                f"Executor {executor.name!r}: cloud mode needs a deployment "
                f"(run(mode='cloud', deployment=PATH))."
            )
        self.code: Code = cloud.code
        self.target = cloud.deployment.target(executor)
        opener = (
            clouds.KINDS[executor.kind].transport or clouds.CLOUDS[cloud.deployment.cloud].transport
        )
        if opener is None:
            raise DeploymentError(f"Cloud {cloud.deployment.cloud.value} has no transport.")
        self.transport: Transport = clouds.load(opener)(self.target)
        limit = getattr(executor.config, "max_concurrency", None) or CONCURRENCY
        self.pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="glacier-cloud")
        self.where = self.transport.where
        self._closed = threading.Event()

    def submit(self, job: Job, done: Done) -> object:
        try:
            event = event_for(job, self.services.run_id, self.code)
        except NotPortable as exc:
            future = self.pool.submit(Outcome.failure, job.unit.root.id, exc)
        else:
            future = self.pool.submit(self._invoke, job, event)
        deliver_future(job, done, f"{self.executor.kind.value} {self.where}", future)
        return future

    def _invoke(self, job: Job, event: dict[str, object]) -> Outcome:
        root = job.unit.root.id
        try:
            reply = self.transport.invoke(event)
        except (TaskError, DeploymentError) as exc:
            return replace(Outcome.failure(root, exc), ran_on=self.where)
        except Exception as exc:  # a client library's own error: the invocation is lost
            return Outcome.failure(
                root,
                TaskCrashed(
                    f"Task {root!r} on {self.where}: the invocation failed "
                    f"({type(exc).__name__}: {exc})."
                ),
            )
        outcome = outcome_from(reply, job.target.provider, self.code.module)
        return replace(outcome, ran_on=self.where)

    def close(self) -> None:
        """Stop waiting for what this run still has in flight; the cloud finishes it alone."""
        if not self._closed.is_set():
            self._closed.set()
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.transport.close()
