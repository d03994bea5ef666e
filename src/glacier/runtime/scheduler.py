"""Run a traced pipeline: ready units run concurrently, each on its executor's backend.

The loop lives in one thread. Backends report outcomes through a queue; timers for retries
(exponential backoff with jitter) and timeouts are kept in a heap, so waiting costs nothing.
What the run reports is kept by :class:`~glacier.runtime.records.RunRecords`, what it reuses
and keeps by :class:`~glacier.runtime.run_cache.RunCache`.
"""

from __future__ import annotations

import functools
import heapq
import os
import queue
import random
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from glacier.core.dag import ParamRef, Ref, SourceNode
from glacier.core.trace import iter_refs, resolve
from glacier.errors import ConfigError, TaskFailed, TaskTimeout
from glacier.resources.executor import Executor
from glacier.runtime.backends import Backend, Job, RunServices, backend_class
from glacier.runtime.cache import node_keys
from glacier.runtime.events import RunEvent, Status
from glacier.runtime.gc import Retention, after_run
from glacier.runtime.interrupt import watch_sigint
from glacier.runtime.invocation import check_portable
from glacier.runtime.plan import Plan, plan_for
from glacier.runtime.records import RunRecords, one_line
from glacier.runtime.result import RunResult
from glacier.runtime.run_cache import RunCache
from glacier.runtime.units import Unit
from glacier.runtime.worker import Outcome, in_memory, on_each, pick
from glacier.storage.commit import CommitToken

if TYPE_CHECKING:
    from glacier.resources.graph import BoundPipeline as Pipeline
    from glacier.runtime.deployment import CloudRun

MODES = ("local", "cloud")

Running = dict[str, tuple[int, object, Backend]]
"""Unit id -> (attempt, backend handle, backend) of every unit in flight."""
Timers = list[tuple[float, str, str, int]]
"""A heap of (when, "retry" | "timeout", unit id, attempt)."""


def new_run_id() -> str:
    """Start time to the microsecond first, so run ids sort in the order runs started."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S.%f}-{secrets.token_hex(3)}"


def run_pipeline(
    pipeline: Pipeline,
    *,
    mode: str,
    cache: bool,
    on_event: Callable[[RunEvent], None] | None,
    params: Mapping[str, Any],
    keep_handoffs: bool = False,
    retention: Retention | None = None,
    cloud: CloudRun | None = None,
) -> RunResult:
    if mode not in MODES:
        raise ConfigError(
            f"Pipeline {pipeline.name!r}: mode={mode!r} is not a mode. Use one of {list(MODES)}."
        )
    if (mode == "cloud") != (cloud is not None):
        raise ConfigError(
            f"Pipeline {pipeline.name!r}: mode={mode!r} "
            + ("needs a deployment." if cloud is None else "takes no deployment.")
        )
    bound = pipeline.bind_params(dict(params))
    run = _Run(pipeline, bound, on_event, cache, cloud)
    providers = {id(u.executor.provider): u.executor.provider for u in run.plan.units.values()}
    tidy = functools.partial(
        after_run,
        providers.values(),
        run.run_id,
        keep_handoffs=keep_handoffs,
        retention=retention,
    )
    try:
        result = run.execute()
    except TaskFailed:
        tidy(succeeded=False)
        raise
    tidy(succeeded=True)
    return result


class _Run:
    def __init__(
        self,
        pipeline: Pipeline,
        params: dict[str, Any],
        on_event: Callable[[RunEvent], None] | None,
        cache: bool,
        cloud: CloudRun | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.params = params
        self.run_id = new_run_id()
        self.mode = "local" if cloud is None else "cloud"
        self.plan: Plan = plan_for(pipeline, self.mode)
        self.records = RunRecords(
            pipeline.name, pipeline.dag, self.plan, self.run_id, on_event, self.mode
        )
        self.cache = RunCache(self.plan, node_keys(pipeline.dag, params) if cache else {})
        self.services = RunServices(
            self.run_id, threads=min(32, (os.cpu_count() or 1) + 4), cloud=cloud
        )
        self.backends: dict[int, Backend] = {}
        self.values: dict[str, Any] = {
            n.id: n.bucket for n in pipeline.dag if isinstance(n, SourceNode)
        }
        self.events: queue.SimpleQueue[tuple[str, int, Outcome]] = queue.SimpleQueue()
        self.failure: tuple[Unit, Outcome, int] | None = None
        self.retries_due = 0
        self.tokens: dict[str, CommitToken] = {}
        """Unit id -> the commit right of its latest attempt, for units with a timeout."""
        self._check()

    def _check(self) -> None:
        """What can be refused before anything runs: executors that cannot share the run, and
        units that must be pickled but cannot be."""
        kinds: dict[type[Backend], dict[int, Executor]] = {}
        for unit in self.plan.units.values():
            backend = backend_class(unit.executor, self.mode)
            kinds.setdefault(backend, {})[id(unit.executor)] = unit.executor
            if backend.ships_invocations:
                check_portable(unit, self.params, f"executor {unit.executor.label}")
        for backend, executors in kinds.items():
            backend.check_run(list(executors.values()))

    def _backend(self, executor: Executor) -> Backend:
        key = id(executor)
        if key not in self.backends:
            self.backends[key] = backend_class(executor, self.mode)(executor, self.services)
        return self.backends[key]

    def _max_attempts(self, node_id: str | None) -> int:
        task = self.plan.policy.get(node_id or "")
        return task.retries + 1 if task else 1

    def _retry_delay(self, node_id: str | None, attempt: int) -> float:
        task = self.plan.policy.get(node_id or "")
        base = task.retry_delay if task else 0.0
        return float(base * 2 ** (attempt - 1) * random.uniform(0.75, 1.25))

    # --- the loop -----------------------------------------------------------------------------

    def execute(self) -> RunResult:
        started = time.perf_counter()
        plan, records = self.plan, self.records
        needed = self._reuse_cached()
        waiting = {uid: plan.units[uid].deps & needed for uid in needed}
        ready = [uid for uid, deps in waiting.items() if not deps]
        running: Running = {}
        timers: Timers = []
        try:
            with watch_sigint():
                self._prepare(needed)
                self._loop(ready, waiting, running, timers)
        except KeyboardInterrupt:
            self._close()
            records.interrupted(time.perf_counter() - started, self.services.staging_uris)
            raise
        finally:
            self._close()
        seconds = time.perf_counter() - started
        staging = self.services.staging_uris
        if self.failure is not None:
            raise records.failed(*self.failure, seconds=seconds, staging=staging)
        return records.succeeded(self._output(), seconds, staging)

    def _prepare(self, needed: set[str]) -> None:
        """Let the backends of the units to run start their slow parts (Spark) right away."""
        executors = {id(u.executor): u.executor for u in map(self.plan.units.__getitem__, needed)}
        for executor in executors.values():
            self._backend(executor).prepare()

    def _close(self) -> None:
        """Stop what every backend still runs (warm workers stay for the next run) and the run's
        threads; a second call does nothing."""
        backends, self.backends = list(self.backends.values()), {}
        for backend in backends:
            backend.close()
        self.services.close()

    def _loop(
        self, ready: list[str], waiting: dict[str, set[str]], running: Running, timers: Timers
    ) -> None:
        plan, records = self.plan, self.records
        while True:
            while ready and self.failure is None:
                unit = plan.units[ready.pop()]
                # alone and without a deadline to watch: this thread may run it itself
                alone = not running and not ready and not self.retries_due
                self._submit(unit, 1, running, timers, here=alone and unit.timeout is None)
            if not running and (self.failure is not None or not self.retries_due):
                break
            uid, attempt, outcome = self._next_event(timers, running)
            if uid == "" or running.get(uid, (None,))[0] != attempt:
                continue  # timer for something already finished, or a stale late result
            del running[uid]
            unit = plan.units[uid]
            if outcome.ok:
                self.values[unit.root.id] = outcome.value
                self.cache.keep(unit, outcome)
                records.emit(unit, Status.SUCCEEDED, attempt, outcome)
                for dep in plan.dependents[uid]:
                    if dep not in waiting:
                        continue
                    waiting[dep].discard(uid)
                    if not waiting[dep]:
                        ready.append(dep)
            elif attempt < self._max_attempts(outcome.failed_node) and self.failure is None:
                records.emit(unit, Status.RETRYING, attempt, outcome, one_line(outcome))
                when = time.monotonic() + self._retry_delay(outcome.failed_node, attempt)
                heapq.heappush(timers, (when, "retry", uid, attempt))
                self.retries_due += 1
            else:
                records.emit(unit, Status.FAILED, attempt, outcome, one_line(outcome))
                self.failure = self.failure or (unit, outcome, attempt)

    def _reuse_cached(self) -> set[str]:
        """Bind every reusable output from the cache; return the units that must still run."""
        returned = {r.node for r in iter_refs(self.pipeline.output) if isinstance(r, Ref)}
        needed, hits = self.cache.reuse(returned)
        self.values.update(hits)
        for uid, unit in self.plan.units.items():
            if uid not in needed:
                self.records.cached(unit, hits.get(unit.root.id))
        return needed

    def _submit(
        self, unit: Unit, attempt: int, running: Running, timers: Timers, here: bool = False
    ) -> None:
        backend = self._backend(unit.executor)
        inputs = {p: self.values[p] for p in self.plan.reads[unit.id]}
        staging = self.services.staging(unit.executor.provider)
        target = self.cache.target(unit, staging)
        if unit.timeout is not None:  # an attempt given up on must publish nothing
            token = staging.token_for(unit.id, attempt)
            target = target._replace(token=token)
            self.tokens[unit.id] = token
        job = Job(
            unit=unit,
            handoff=self.plan.handoff[unit.root.id],
            inputs=inputs,
            params=self.params,
            target=target,
            attempt=attempt,
        )
        self.records.emit(unit, Status.RUNNING, attempt)
        if here and (outcome := backend.run_here(job)) is not None:
            running[unit.id] = (attempt, None, backend)
            self.events.put((unit.id, attempt, outcome))
            return
        handle = backend.submit(job, lambda o: self.events.put((unit.id, attempt, o)))
        running[unit.id] = (attempt, handle, backend)
        if unit.timeout is not None:
            heapq.heappush(timers, (time.monotonic() + unit.timeout, "timeout", unit.id, attempt))

    def _next_event(self, timers: Timers, running: Running) -> tuple[str, int, Outcome]:
        """The next backend outcome, or a due timer turned into one (retry or timeout)."""
        while True:
            wait = max(0.0, timers[0][0] - time.monotonic()) if timers else None
            try:
                return self.events.get(timeout=wait)
            except queue.Empty:
                pass
            _, kind, uid, attempt = heapq.heappop(timers)
            if kind == "retry":
                self.retries_due -= 1
                if self.failure is None:
                    self._submit(self.plan.units[uid], attempt + 1, running, timers)
                return "", 0, _NOTHING
            if running.get(uid, (None,))[0] == attempt:
                unit = self.plan.units[uid]
                _, handle, backend = running[uid]
                self.tokens[uid].revoke()
                backend.cancel(handle)
                error = TaskTimeout(
                    f"Task {unit.root.id!r} exceeded its timeout of {unit.timeout:g} s on "
                    f"executor {unit.executor.name!r} (attempt {attempt}). Raise timeout= or make "
                    f"the task faster."
                )
                return uid, attempt, Outcome.failure(unit.root.id, error)

    def _output(self) -> Any:
        def lookup(ref: Ref | ParamRef) -> Any:
            if isinstance(ref, ParamRef):
                return self.params[ref.name]
            value = self.values[ref.node]
            if ref.output is not None:
                value = pick(value, ref.output)
            return on_each(value, in_memory)

        return resolve(self.pipeline.output, lookup)


_NOTHING = Outcome(ok=True)
"""What a retry timer returns to the loop: no unit finished."""
