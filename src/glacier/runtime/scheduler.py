"""Run a traced pipeline: ready units run concurrently, each on its executor's backend.

The loop lives in one thread. Backends report outcomes through a queue; timers for retries
(exponential backoff with jitter) and timeouts are kept in a heap, so waiting costs nothing.
"""

from __future__ import annotations

import heapq
import os
import queue
import random
import secrets
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from glacier.core.dag import ParamRef, Ref, SinkNode, SourceNode, TaskNode
from glacier.core.trace import iter_refs, resolve
from glacier.errors import ConfigError, TaskFailed, TaskTimeout
from glacier.runtime.backends import Backend, Job, RunServices, backend_class
from glacier.runtime.cache import Cache, node_keys
from glacier.runtime.events import RunEvent, Status
from glacier.runtime.plan import Handoff, Plan, Unit, plan_for
from glacier.runtime.report import build_report, write_report
from glacier.runtime.result import RunResult, TaskRun
from glacier.runtime.staging import StagedFrame, Staging
from glacier.runtime.worker import Outcome

if TYPE_CHECKING:
    from glacier.provider import Provider
    from glacier.resources.executor import Executor
    from glacier.resources.graph import BoundPipeline as Pipeline
    from glacier.resources.graph import WorkNode

MODES = ("local",)


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
) -> RunResult:
    if mode not in MODES:
        raise ConfigError(
            f"Pipeline {pipeline.name!r}: mode={mode!r} is not available in this "
            f"version of Glacier. Use one of {list(MODES)}."
        )
    bound = pipeline.bind_params(dict(params))
    return _Run(pipeline, bound, on_event, cache).execute()


class _Run:
    def __init__(
        self,
        pipeline: Pipeline,
        params: dict[str, Any],
        on_event: Callable[[RunEvent], None] | None,
        cache: bool,
    ) -> None:
        self.pipeline = pipeline
        self.params = params
        self.on_event = on_event
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.run_id = new_run_id()
        self.keys = node_keys(pipeline.dag, params) if cache else {}
        self.caches: dict[int, Cache] = {}
        self.services = RunServices(self.run_id, threads=min(32, (os.cpu_count() or 1) + 4))
        self.backends: dict[int, Backend] = {}
        self.stagings: dict[int, Staging] = {}
        self.plan: Plan = plan_for(pipeline)
        self.values: dict[str, Any] = {
            n.id: n.bucket for n in pipeline.dag if isinstance(n, SourceNode)
        }
        self.records = {
            nid: self._record(node)
            for nid in pipeline.dag.topological_order()
            if isinstance(node := pipeline.dag[nid], (TaskNode, SinkNode))
        }
        self.events: queue.SimpleQueue[tuple[str, int, Outcome]] = queue.SimpleQueue()
        self.failure: tuple[Unit, Outcome, int] | None = None
        self.retries_due = 0

    # --- helpers ------------------------------------------------------------------------------

    def _record(self, node: WorkNode) -> TaskRun:
        return TaskRun(
            name=node.id,
            kind=node.kind.value,
            executor=node.executor.name,
            executor_kind=node.executor.kind.value,
            backend=backend_class(node.executor).name,
            handoff=self.plan.handoff[node.id].value,
        )

    def _backend(self, executor: Executor) -> Backend:
        key = id(executor)
        if key not in self.backends:
            self.backends[key] = backend_class(executor)(executor, self.services)
        return self.backends[key]

    def _staging(self, provider: Provider) -> Staging:
        key = id(provider)
        if key not in self.stagings:
            self.stagings[key] = Staging(provider, self.run_id)
        return self.stagings[key]

    def _cache(self, provider: Provider) -> Cache:
        key = id(provider)
        if key not in self.caches:
            self.caches[key] = Cache(provider)
        return self.caches[key]

    def _emit(
        self,
        unit: Unit,
        status: Status,
        attempt: int,
        outcome: Outcome | None = None,
        error: str | None = None,
    ) -> None:
        for node in unit.nodes:
            record = self.records[node.id]
            record.status = _node_status(status, node.id, unit, outcome)
            record.attempts = max(record.attempts, attempt)
            stats = outcome.stats.get(node.id) if outcome else None
            if stats is not None:
                record.seconds, record.rows, record.bytes = stats.seconds, stats.rows, stats.bytes
            if outcome is not None and outcome.peak_memory is not None:
                record.peak_memory = outcome.peak_memory
            if outcome is not None and outcome.cold_start is not None:
                record.cold_start = outcome.cold_start
            if error is not None and (outcome is None or outcome.failed_node in (None, node.id)):
                record.error = error
            if self.on_event is not None:
                self.on_event(
                    RunEvent(
                        self.run_id,
                        node.id,
                        record.status,
                        attempt,
                        node.executor.name,
                        record.seconds,
                        record.rows,
                        record.error,
                    )
                )

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
        plan = self.plan
        needed = self._reuse_cached()
        waiting = {uid: plan.units[uid].deps & needed for uid in needed}
        ready = [uid for uid, deps in waiting.items() if not deps]
        running: dict[str, tuple[int, object, Backend]] = {}
        timers: list[tuple[float, str, str, int]] = []  # (when, "retry"|"timeout", unit, attempt)
        try:
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
                    self._keep(unit, outcome)
                    self._emit(unit, Status.SUCCEEDED, attempt, outcome)
                    for dep in plan.dependents[uid]:
                        if dep not in waiting:
                            continue
                        waiting[dep].discard(uid)
                        if not waiting[dep]:
                            ready.append(dep)
                elif attempt < self._max_attempts(outcome.failed_node) and self.failure is None:
                    self._emit(unit, Status.RETRYING, attempt, outcome, _one_line(outcome))
                    when = time.monotonic() + self._retry_delay(outcome.failed_node, attempt)
                    heapq.heappush(timers, (when, "retry", uid, attempt))
                    self.retries_due += 1
                else:
                    self._emit(unit, Status.FAILED, attempt, outcome, _one_line(outcome))
                    self.failure = self.failure or (unit, outcome, attempt)
        finally:
            for backend in self.backends.values():
                backend.close()
            self.services.close()
        seconds = time.perf_counter() - started
        for record in self.records.values():
            if record.status in (Status.PENDING, Status.RETRYING):
                record.status = Status.SKIPPED
        if self.failure is not None:
            failed = self._failed(*self.failure, seconds=seconds)
            self._report(failed.result, _one_line(self.failure[1]))
            raise failed
        result = self._result(ok=True, output=self._output(), seconds=seconds)
        self._report(result, None)
        return result

    # --- cache --------------------------------------------------------------------------------

    def _reuse_cached(self) -> set[str]:
        """Take every reusable output from the cache; return the units that must still run.

        A unit runs if it has no reusable output and its output is returned, it has no
        dependents (a sink), or a dependent runs. The rest are reported as cached.
        """
        plan = self.plan
        returned = {r.node for r in iter_refs(self.pipeline.output) if isinstance(r, Ref)}
        needed: set[str] = set()
        for uid in reversed(list(plan.units)):  # units are in topological order
            unit = plan.units[uid]
            if self._lookup(unit):
                continue
            dependents = plan.dependents[uid]
            if unit.root.id in returned or not dependents or needed.intersection(dependents):
                needed.add(uid)
        for uid, unit in plan.units.items():
            if uid not in needed:
                for node in unit.nodes:
                    self.records[node.id].cache_hit = True
                self._emit(unit, Status.CACHED, 0)
        return needed

    def _lookup(self, unit: Unit) -> bool:
        """Whether ``unit``'s output is in the cache (and intact); binds it as its value."""
        key = self.keys.get(unit.root.id)
        if key is None:
            return False
        cache = self._cache(unit.executor.provider)
        root = unit.root
        if isinstance(root, SinkNode):
            if not cache.sink_done(key, root.bucket):
                return False
            self.values[root.id] = None
            return True
        if self.plan.handoff[root.id] not in (Handoff.STAGED, Handoff.COLLECT):
            return False
        staged = cache.lookup(key)
        if staged is None:
            return False
        self.values[root.id] = staged
        record = self.records[root.id]
        record.rows, record.bytes = staged.rows, staged.bytes
        return True

    def _output_key(self, unit: Unit) -> tuple[str, bool]:
        """Where the root's output goes (cache when keyed) and whether a collect is kept."""
        key = self.keys.get(unit.root.id)
        if key is None:
            return self._staging(unit.executor.provider).key_for(unit.root.id), False
        keep = self.plan.handoff[unit.root.id] is Handoff.COLLECT
        return self._cache(unit.executor.provider).output_key(key), keep

    def _keep(self, unit: Unit, outcome: Outcome) -> None:
        """Record a finished unit's output in the cache, after its file is committed."""
        key = self.keys.get(unit.root.id)
        if key is None:
            return
        cache = self._cache(unit.executor.provider)
        root = unit.root
        if isinstance(root, SinkNode):
            cache.commit_sink(key, root.id, root.bucket)
        elif outcome.kept is not None:
            cache.commit(key, root.id, outcome.kept)

    def _report(self, result: object, error: str | None) -> None:
        assert isinstance(result, RunResult)
        provider = self.plan.units[next(iter(self.plan.units))].executor.provider
        write_report(provider, build_report(result, self.started, error))

    def _submit(
        self,
        unit: Unit,
        attempt: int,
        running: dict[str, tuple[int, object, Backend]],
        timers: list[tuple[float, str, str, int]],
        here: bool = False,
    ) -> None:
        backend = self._backend(unit.executor)
        members = {n.id for n in unit.nodes}
        inputs = {
            p: self.values[p]
            for n in unit.nodes
            for p in self.pipeline.dag.predecessors(n.id)
            if p not in members
        }
        provider = unit.executor.provider
        output_key, keep_collected = self._output_key(unit)
        job = Job(
            unit=unit,
            handoff=self.plan.handoff[unit.root.id],
            inputs=inputs,
            params=self.params,
            staging=lambda: self._staging(provider),
            attempt=attempt,
            output_key=output_key,
            keep_collected=keep_collected,
        )
        self._emit(unit, Status.RUNNING, attempt)
        if here and (outcome := backend.run_here(job)) is not None:
            running[unit.id] = (attempt, None, backend)
            self.events.put((unit.id, attempt, outcome))
            return
        handle = backend.submit(job, lambda o: self.events.put((unit.id, attempt, o)))
        running[unit.id] = (attempt, handle, backend)
        if unit.timeout is not None:
            heapq.heappush(timers, (time.monotonic() + unit.timeout, "timeout", unit.id, attempt))

    def _next_event(
        self,
        timers: list[tuple[float, str, str, int]],
        running: dict[str, tuple[int, object, Backend]],
    ) -> tuple[str, int, Outcome]:
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
                return "", 0, Outcome(ok=True)
            if running.get(uid, (None,))[0] == attempt:
                unit = self.plan.units[uid]
                _, handle, backend = running[uid]
                backend.cancel(handle)
                error = TaskTimeout(
                    f"Task {unit.root.id!r} exceeded its timeout of {unit.timeout:g} s on "
                    f"executor {unit.executor.name!r} (attempt {attempt}). Raise timeout= or make "
                    f"the task faster."
                )
                return (
                    uid,
                    attempt,
                    Outcome(
                        ok=False,
                        failed_node=unit.root.id,
                        error=error,
                        traceback=f"glacier.errors.TaskTimeout: {error}",
                    ),
                )

    def _failed(self, unit: Unit, outcome: Outcome, attempts: int, seconds: float) -> TaskFailed:
        node_id = outcome.failed_node or unit.root.id
        executor = unit.executor
        result = self._result(ok=False, output=None, seconds=seconds)
        tries = "1 attempt" if attempts == 1 else f"{attempts} attempts"
        message = (
            f"Pipeline {self.pipeline.name!r}: task {node_id!r} failed on executor "
            f"{executor.label} after {tries}: {_one_line(outcome)}\n\n"
            f"Original traceback:\n{outcome.traceback or ''}"
        )
        return TaskFailed(
            message,
            pipeline=self.pipeline.name,
            task=node_id,
            executor=executor.name,
            attempts=attempts,
            traceback=outcome.traceback or "",
            result=result,
        )

    def _result(self, ok: bool, output: Any, seconds: float) -> RunResult:
        return RunResult(
            pipeline=self.pipeline.name,
            run_id=self.run_id,
            ok=ok,
            output=output,
            tasks=self.records,
            seconds=seconds,
            staging=[s.uri for s in self.stagings.values()],
        )

    def _output(self) -> Any:
        def lookup(ref: Ref | ParamRef) -> Any:
            if isinstance(ref, ParamRef):
                return self.params[ref.name]
            value = self.values[ref.node]
            if isinstance(value, StagedFrame):
                return value.read()
            return value.collect() if isinstance(value, pl.LazyFrame) else value

        return resolve(self.pipeline.output, lookup)


def _node_status(status: Status, node_id: str, unit: Unit, outcome: Outcome | None) -> Status:
    """A unit's final failure fails only its failing node: members before it finished, members
    after it never ran."""
    failed = outcome.failed_node if outcome is not None else None
    if status is not Status.FAILED or failed in (None, node_id):
        return status
    assert outcome is not None
    ids = [n.id for n in unit.nodes]
    if ids.index(node_id) > ids.index(failed):
        return Status.SKIPPED
    return Status.SUCCEEDED if node_id in outcome.stats else status


def _one_line(outcome: Outcome) -> str:
    error = outcome.error
    if error is None:
        return "unknown error"
    return f"{type(error).__name__}: {error}".splitlines()[0]
