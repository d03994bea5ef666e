"""Cluster executors in local mode: tasks run on a real Spark session.

``local[N]`` starts an in-process session, ``sc://host:port`` reaches a Spark Connect server.
Spark reads each task's input Parquet itself (staged files, or a bucket's files) and writes the
output to the run's staging area, so frames never pass through this process on the way.

A task runs in one of three ways (see :mod:`glacier.spark.modes`): ``partitioned=True`` per
partition with ``mapInArrow``, ``by=[...]`` per group with ``applyInArrow``, or by default on
the driver over the whole frame, under a size guard. Every frame argument, a bucket included,
reaches the function as a LazyFrame over its rows. Outputs written by Spark are directories,
so they are handed on but not kept in the cache.

The session is shared by the run's cluster executors and stopped at the end of the run,
unless it was already running when the run started (a notebook's, a test fixture's).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any

from glacier.config.compute import SparkConfig
from glacier.core.dag import ParamRef, Ref, SinkNode
from glacier.core.trace import iter_refs, resolve
from glacier.errors import ConfigError
from glacier.resources.bucket import Bucket
from glacier.runtime.backends.base import Backend, Job, RunServices
from glacier.runtime.staging import StagedFrame, Staging, safe_name
from glacier.runtime.worker import NodeStats, Outcome
from glacier.storage.formats import Format

if TYPE_CHECKING:
    from glacier.resources.executor import Executor
    from glacier.resources.graph import TaskCall, WorkNode
    from glacier.spark._worker import BoundTask
    from glacier.spark.session import SparkSettings

_SESSION_LOCK = threading.Lock()


def settings_for(executor: Executor) -> SparkSettings:
    """``SparkConfig.master`` as given; every other cluster config emulated by ``local[2]``."""
    from glacier.spark.session import SparkSettings

    config = executor.config
    if isinstance(config, SparkConfig):
        return SparkSettings(master=config.master, conf=dict(config.conf))
    return SparkSettings(master="local[2]")


class SparkBackend(Backend):
    name = "spark"
    shares_process = False

    def __init__(self, executor: Executor, services: RunServices) -> None:
        super().__init__(executor, services)
        self.settings = settings_for(executor)
        self._owns_session = False

    def submit(self, job: Job, done: Callable[[Outcome], None]) -> object:
        future = self.services.threads.submit(self._run, job)

        def finished(f: Future[Outcome]) -> None:
            if not f.cancelled():
                done(f.result())

        future.add_done_callback(finished)
        return future

    def close(self) -> None:
        if self._owns_session:
            from glacier.spark.session import stop_session

            stop_session()

    def _session(self) -> Any:
        from glacier.spark import session

        with _SESSION_LOCK:
            if not session.is_active(self.settings):
                self._owns_session = True
            return session.get_session(self.settings)

    def _run(self, job: Job) -> Outcome:
        """Run the unit's nodes in order; like :func:`~glacier.runtime.worker.run_unit`."""
        staging = job.staging()
        values: dict[str, Any] = {}
        outcome = Outcome(ok=True)
        node: WorkNode | None = None
        try:
            for node in job.unit.nodes:
                start = time.perf_counter()
                if isinstance(node, SinkNode):
                    frame = _frame(values, job, node.args[0]).scan()
                    rows = node.bucket.write(frame, **node.kwargs)
                    values[node.id] = None
                else:
                    values[node.id] = self._task(node, values, job, staging)
                    rows = values[node.id].rows
                outcome.stats[node.id] = NodeStats(time.perf_counter() - start, rows)
        except Exception as exc:
            assert node is not None
            return outcome.failed(node.id, exc)
        outcome.value = values[job.unit.root.id]
        return outcome

    def _task(
        self,
        node: TaskCall,
        values: dict[str, Any],
        job: Job,
        staging: Staging,
    ) -> StagedFrame:
        from glacier.spark.modes import run_spark_task

        task = node.task
        frames = [
            ref
            for ref in iter_refs((node.args, node.kwargs))
            if isinstance(ref, Ref) and isinstance(_value(values, job, ref), (StagedFrame, Bucket))
        ]
        if len(frames) != 1:
            raise ConfigError(
                f"Task {node.id!r} runs on cluster executor {self.executor.name!r}, which spreads "
                f"one frame over Spark, but it takes {len(frames)} frame arguments. Join or "
                f"union the frames in a task on another executor first."
            )
        bound = _bind(node, frames[0], lambda ref: _value(values, job, ref), job.params)
        store = staging.provider.store
        out_dir = store.uri(staging.bucket, f"{staging.prefix}/{safe_name(node.id)}.spark")
        rows = run_spark_task(
            self._session(),
            bound,
            _uris(_value(values, job, frames[0])),
            out_dir,
            partitioned=task.options.partitioned,
            by=task.options.by,
        )
        return StagedFrame(uri=f"{out_dir}/*.parquet", rows=rows, provider=staging.provider)


def _bind(
    node: TaskCall,
    frame: Ref,
    value: Callable[[Ref], Any],
    params: Mapping[str, Any],
) -> BoundTask:
    """The task with its other arguments resolved now: only plain data travels to Spark."""
    from glacier.spark._worker import BoundTask

    def lookup(ref: Ref | ParamRef) -> Any:
        return params[ref.name] if isinstance(ref, ParamRef) else value(ref)

    positions = [i for i, arg in enumerate(node.args) if arg == frame]
    names = [k for k, arg in node.kwargs.items() if arg == frame]
    if len(positions) + len(names) != 1:
        raise ConfigError(
            f"Task {node.id!r}: pass its frame as an argument of its own, not inside a list or "
            f"dict, so Spark can hand each partition to it."
        )
    at: int | str = positions[0] if positions else names[0]
    args = tuple(resolve(a, lookup) for i, a in enumerate(node.args) if i != at)
    kwargs = {k: resolve(v, lookup) for k, v in node.kwargs.items() if k != at}
    return BoundTask(node.task.fn, args, kwargs, at)


def _value(values: dict[str, Any], job: Job, ref: Ref) -> Any:
    return values[ref.node] if ref.node in values else job.inputs[ref.node]


def _frame(values: dict[str, Any], job: Job, ref: Any) -> StagedFrame | Bucket:
    value = _value(values, job, ref)
    if not isinstance(value, (StagedFrame, Bucket)):
        raise ConfigError(f"Expected a frame from {ref.node!r}, got {type(value).__name__}.")
    return value


def _uris(value: StagedFrame | Bucket) -> list[str]:
    """What Spark reads: a staged file (or directory glob), or every file a bucket names."""
    if isinstance(value, StagedFrame):
        return [value.uri]
    if value.format is not Format.PARQUET:
        raise ConfigError(
            f"Bucket {value.address} is {value.format.value}; Spark tasks read Parquet. Convert "
            f"it in a task on another executor, or store the data as Parquet."
        )
    return [value.provider.store.uri(value.bucket, o.key) for o in value.objects()]
