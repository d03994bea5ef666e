"""Cluster executors in local mode: tasks run on a real Spark session.

``local[N]`` starts an in-process session, ``sc://host:port`` reaches a Spark Connect server.
Spark reads each task's input Parquet itself (staged files, or a bucket's files) and writes the
output to the run's staging area, so frames never pass through this process on the way.

A task runs in one of three ways (see :mod:`glacier.spark.modes`): ``partitioned=True`` per
partition with ``mapInArrow``, ``by=[...]`` on batches of whole groups, or by default on
the driver over the whole frame, under a size guard; a task of several frames gets each whole.
A frame argument reaches the function as its parameter's annotation asks, as on every
executor: a LazyFrame (a staged frame, or a bucket to ``pl.LazyFrame``), a DataFrame (a bucket
to ``pl.DataFrame``), or for a bucket to any other parameter an object whose ``scan()`` and
``read()`` give the rows Spark read. Whichever way, the frame has the Polars types the function
gets on any other executor (:func:`polars_types`), not those Spark read. Outputs written by Spark
are directories, so they are handed on but not kept in the cache.

The session is shared by the run's cluster executors and kept for the next run in this process
(stopped at exit, see :mod:`glacier.spark.session`). It starts in the background as the run
begins (:meth:`SparkBackend.prepare`), so the JVM boots while the run's other tasks work.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import polars as pl

from glacier.config.compute import SparkConfig
from glacier.core.dag import Ref, TaskNode
from glacier.core.trace import iter_refs, resolve
from glacier.errors import ConfigError
from glacier.resources.bucket import Bucket
from glacier.resources.executor import Executor
from glacier.runtime.backends.base import Backend, Done, Job, RunServices, deliver_future
from glacier.runtime.staging import OutputTarget, StagedFrame, Staging, safe_name
from glacier.runtime.units import Handoff
from glacier.runtime.worker import Outcome, Scope, Step, run_unit, steps_of
from glacier.spark import session
from glacier.spark.session import SparkSettings, is_connect_master, is_local_master
from glacier.storage.formats import Format

if TYPE_CHECKING:
    from glacier.core.task import Task
    from glacier.spark._worker import BoundTask

log = logging.getLogger(__name__)


def settings_for(executor: Executor) -> SparkSettings:
    """``SparkConfig.master`` as given; every other cluster config emulated by ``local[2]``.

    ``num_executors`` and ``executor_memory`` reach a cluster master (``spark://``, ``yarn``,
    ``k8s://``); a ``local`` master has no executors (its driver runs every task), so there
    they mean nothing and are left out.
    """
    config = executor.config
    if not isinstance(config, SparkConfig):
        return SparkSettings(master="local[2]")
    settings = SparkSettings(master=config.master, conf=dict(config.conf))
    if is_local_master(config.master) or is_connect_master(config.master):
        return settings
    return replace(
        settings, num_executors=config.num_executors, executor_memory=config.executor_memory
    )


class SparkBackend(Backend):
    name = "spark"
    shares_process = False

    def __init__(self, executor: Executor, services: RunServices) -> None:
        super().__init__(executor, services)
        self.settings = settings_for(executor)

    @classmethod
    def check_run(cls, executors: Sequence[Executor]) -> None:
        """One process holds one Spark session, so the cluster executors of a run must agree on
        it; two that do not would stop each other's session mid-run."""
        first, *others = executors
        wanted = settings_for(first)
        for other in others:
            if (theirs := settings_for(other)) != wanted:
                raise ConfigError(
                    f"Cluster executors {first.name!r} ({_session(wanted)}) and {other.name!r} "
                    f"({_session(theirs)}) need different Spark sessions, but a local run has "
                    f"one Spark session per process. Give both the same SparkConfig (master, "
                    f"conf, num_executors, executor_memory), or run them in separate runs."
                )

    def submit(self, job: Job, done: Done) -> object:
        future = self.services.threads.submit(self._run, job)
        deliver_future(job, done, f"cluster executor {self.executor.name!r}", future)
        return future

    def prepare(self) -> None:
        if not session.is_active(self.settings):
            session.start_in_background(self.settings)

    def spark_session(self) -> Any:
        return session.get_session(self.settings)

    def _run(self, job: Job) -> Outcome:
        runner = OnSpark(
            self.spark_session,
            self.services.staging(job.target.provider),
            {n.id: n.task for n in job.unit.nodes if isinstance(n, TaskNode)},
            self.executor.name,
        )
        return run_unit(steps_of(job.unit), job.handoff, job.inputs, job.params, job.target, runner)


def _session(settings: SparkSettings) -> str:
    """Settings as an error names them: conf by its keys, whose values may be secrets."""
    sized = f", {settings.num_executors} executors of {settings.executor_memory}"
    conf = f", conf keys {sorted(settings.conf)}" if settings.conf else ""
    return f"master {settings.master!r}{sized if settings.num_executors else ''}{conf}"


class OnSpark:
    """How a unit's task steps run on Spark: each reads its frame and writes its output under
    the run's staging area itself, so the root's output is already staged when it is handed on.

    Local mode's backend and a deployed cluster job (:func:`glacier.deployed.run_job`, on the
    platform's session) both run their steps with it. URIs the session cannot read itself go
    through Polars (:mod:`glacier.spark.store_access`), with their provider's credentials.
    """

    def __init__(
        self,
        spark_session: Callable[[], Any],
        staging: Staging,
        tasks: Mapping[str, Task[..., Any]],
        executor: str,
    ) -> None:
        """``tasks``: node id -> task, of (at least) the nodes the runner's steps run."""
        self.spark_session = spark_session
        self.staging = staging
        self.tasks = tasks
        self.executor = executor

    def call(self, step: Step, scope: Scope) -> StagedFrame:
        # pyarrow and the Polars-Spark type layer load only once a task runs on Spark
        from glacier.spark.modes import run_spark_task, run_whole_frames  # noqa: PLC0415
        from glacier.spark.store_access import access_for  # noqa: PLC0415 - as above

        frames = _frames(step, scope)
        if not frames:
            raise ConfigError(
                f"Task {step.node!r} runs on cluster executor {self.executor!r}, "
                f"which runs a task over frames Spark reads, but it is given no frame (a task's "
                f"output or a bucket). Run it on another executor, or pass it its input."
            )
        task = self.tasks[step.node]
        staging = self.staging
        out_dir = staging.provider.store.uri(
            staging.bucket, f"{staging.prefix}/{safe_name(step.node)}.spark"
        )
        bound = _bind(step, frames, scope)
        values = [scope.value(ref) for ref in frames.values()]
        inputs = [_uris(value) for value in values]
        given = [polars_types(value) for value in values]
        spark = self.spark_session()
        options = _options_by_bucket([*values, staging])
        access = access_for(spark, [out_dir, *(u for uris in inputs for u in uris)], options)
        if len(inputs) == 1:
            written = run_spark_task(
                spark,
                bound,
                inputs[0],
                out_dir,
                partitioned=task.options.partitioned,
                by=task.options.by,
                access=access,
                given=given[0],
            )
        else:  # several frames: each whole (partitioned/by were refused at definition)
            written = run_whole_frames(spark, bound, inputs, out_dir, access=access, given=given)
        return StagedFrame(
            uri=f"{out_dir}/*.parquet",
            rows=written.rows,
            provider=staging.provider,
            schema=written.schema,  # Spark changed some types; scan() restores the task's
        )

    def hand_on(
        self, value: Any, handoff: Handoff, target: OutputTarget
    ) -> tuple[Any, StagedFrame | None]:
        return value, None  # staged by Spark; a directory, so not kept in the cache


def _options_by_bucket(
    holders: Sequence[StagedFrame | Bucket | Staging],
) -> Callable[[str], Mapping[str, Any] | None]:
    """URI -> the storage options of the provider whose bucket holds it (inputs may come from
    buckets of several providers, the output goes to the run's staging)."""
    found: dict[str, Mapping[str, Any] | None] = {}
    for holder in holders:
        if isinstance(holder, StagedFrame):
            where = holder.uri
        else:
            where = holder.provider.store.uri(holder.bucket, "")
        found.setdefault(_bucket_of(where), holder.provider.store.storage_options())
    return lambda uri: found.get(_bucket_of(uri))


def _bucket_of(uri: str) -> str:
    scheme, _, rest = uri.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _frames(step: Step, scope: Scope) -> dict[int | str, Ref]:
    """The step's frame arguments (staged frames and buckets) by position or keyword, in call
    order; one inside a list or dict is refused, as Spark hands each frame to its own
    parameter."""

    def is_frame(ref: object) -> bool:
        return isinstance(ref, Ref) and isinstance(scope.value(ref), (StagedFrame, Bucket))

    placed: list[tuple[int | str, object]] = [*enumerate(step.args), *step.kwargs.items()]
    frames = {at: arg for at, arg in placed if isinstance(arg, Ref) and is_frame(arg)}
    if any(is_frame(ref) for at, arg in placed if at not in frames for ref in iter_refs(arg)):
        raise ConfigError(
            f"Task {step.node!r}: pass each frame as an argument of its own, not inside a list "
            f"or dict, so Spark can read it and hand it to the function."
        )
    return frames


def _bind(step: Step, frames: dict[int | str, Ref], scope: Scope) -> BoundTask:
    """The task with its other arguments resolved now: only plain data travels to Spark. Each
    frame reaches the function as its parameter's annotation asks, as on other executors: a
    staged frame or a bucket given to a frame parameter as that frame, a bucket given to any
    other parameter as a :class:`~glacier.spark._worker.SparkRead` of what Spark read."""
    from glacier.spark._worker import BoundTask, FrameSlot  # noqa: PLC0415 - pyarrow, as above

    assert step.fn is not None
    slots = []
    for at, ref in frames.items():
        value = scope.value(ref)
        reading = step.readings.get(at)
        form = "scan" if isinstance(value, StagedFrame) and reading is None else reading
        slots.append(FrameSlot(at, form or value.address))
    args = tuple(resolve(a, scope.value) for i, a in enumerate(step.args) if i not in frames)
    kwargs = {k: resolve(v, scope.value) for k, v in step.kwargs.items() if k not in frames}
    return BoundTask(step.fn, args, kwargs, slots)


def polars_types(value: StagedFrame | Bucket) -> pl.Schema | None:
    """The Polars schema a function gets from ``value`` on any other executor: what the Spark
    task upstream returned (its output records it), else what Polars reads from the files (a
    footer read, no rows). None, and Spark's types, if Polars cannot read them here."""
    if isinstance(value, StagedFrame) and value.schema is not None:
        return value.schema
    try:
        return value.scan().collect_schema()
    except Exception as exc:  # any store's failure: the task still runs, on Spark's types
        log.warning(
            "Cannot read the Polars schema of %s here (%s: %s): the Spark task gets it with "
            "the types Spark read (a u8 column as i16...).",
            value.uri if isinstance(value, StagedFrame) else value.address,
            type(exc).__name__,
            exc,
        )
        return None


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
