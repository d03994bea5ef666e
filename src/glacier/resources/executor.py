"""Execution resources: where tasks run. ``@executor.task()`` binds a function to one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar, overload

from glacier.config.base import Config
from glacier.core.kinds import ExecutorKind
from glacier.core.task import Task, TaskOptions
from glacier.errors import ConfigError

if TYPE_CHECKING:
    from glacier.provider import Provider

P = ParamSpec("P")
R = TypeVar("R")


class TaskDecorator(Protocol):
    """What ``executor.task(...)`` returns: turns a function into a :class:`Task`."""

    def __call__(self, fn: Callable[P, R], /) -> Task[P, R]: ...


class Executor:
    """A compute resource of one kind (local, serverless, cluster, vm) with its config."""

    def __init__(
        self, provider: Provider, kind: ExecutorKind, config: Config | None, name: str
    ) -> None:
        self.provider = provider
        self.kind = kind
        self.config = config
        self.name = name

    def __repr__(self) -> str:
        config = type(self.config).__name__ if self.config is not None else "no config"
        return f"<Executor {self.name!r}: {self.kind.value}, {config}>"

    @property
    def label(self) -> str:
        """How pictures and reports name this executor: ``fn (serverless, LambdaConfig)``."""
        if self.config is None:
            return f"{self.name} ({self.kind.value})"
        return f"{self.name} ({self.kind.value}, {type(self.config).__name__})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind.value,
            "cloud": self.provider.cloud.value,
            "config": self.config.to_dict() if self.config is not None else None,
        }

    @overload
    def task(self, fn: Callable[P, R], /) -> Task[P, R]: ...
    @overload
    def task(
        self,
        fn: None = None,
        /,
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        timeout: float | None = None,
        cache: bool = True,
        partitioned: bool = False,
        by: Sequence[str] | None = None,
    ) -> TaskDecorator: ...
    def task(
        self,
        fn: Callable[..., Any] | None = None,
        /,
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        timeout: float | None = None,
        cache: bool = True,
        partitioned: bool = False,
        by: Sequence[str] | None = None,
    ) -> Task[..., Any] | TaskDecorator:
        """Bind a function to this executor: ``@executor.task()`` or ``@executor.task``.

        ``retries`` extra attempts wait ``retry_delay`` seconds, doubling each time (with
        jitter); ``timeout`` bounds one attempt in seconds. On a cluster, ``partitioned=True``
        runs a row-local function per partition and ``by=[...]`` a group-local one on whole
        groups: each call sees every row of its groups, usually several groups at once, so
        write it per group (``group_by(by).agg``, ``.over(by)``); by default the function sees
        each of its frames whole on the driver (several for a join). Both spread one frame, so a
        call that gives such a task two frames is a ``PipelineDefinitionError`` when the
        pipeline is defined.

        Args:
            fn: The function, when the decorator is used bare (``@executor.task``).
            name: The task's name in graphs, reports and errors; default: the function's name.
            retries: Extra attempts after a failed one, a whole number >= 0. Retry ``n`` waits
                ``retry_delay * 2 ** (n - 1)`` seconds, give or take 25 % (jitter).
            retry_delay: Seconds before the first retry, >= 0.
            timeout: Seconds one attempt may run, > 0; past it the attempt fails with
                :class:`~glacier.TaskTimeout` (and is retried if ``retries`` allow). None: no
                limit but the executor's own (``ServerlessConfig.timeout``). Tasks fused into
                one query share the smallest timeout among them.
            cache: Reuse the output of an earlier run while the function's code, closure
                values, executor config, arguments and input data are unchanged. False: always
                run it.
            partitioned: Cluster executors only: run the function once per Spark partition
                (``mapInArrow``), for functions whose every output row depends on one input
                row. Not together with ``by``.
            by: Cluster executors only: column names; run the function on whole groups of rows
                that share their values, several groups per call (shuffled and sorted by the
                keys, streamed through ``mapInArrow``). A non-empty list, not one string.

        Returns:
            The :class:`~glacier.Task` (used bare), or a decorator that makes one.

        Raises:
            ConfigError: An option is out of range, or ``partitioned``/``by`` is given to an
                executor that is not a cluster (checked when the task is defined).
        """

        def decorate(f: Callable[P, R]) -> Task[P, R]:
            task = Task(
                f,
                self,
                name=name,
                retries=retries,
                retry_delay=retry_delay,
                timeout=timeout,
                cache=cache,
                options=TaskOptions(partitioned=partitioned, by=tuple(by) if by else None),
            )
            self._check_options(task.name, partitioned, by)
            return task

        return decorate(fn) if fn is not None else decorate

    def _check_options(self, task: str, partitioned: bool, by: Sequence[str] | None) -> None:
        """``partitioned``/``by`` say how a task spreads over a cluster; no other kind has them.

        Checked on the values as given, so ``by="day"`` is refused rather than split into letters.
        """
        if not partitioned and not by:
            return
        if self.kind is not ExecutorKind.CLUSTER:
            raise ConfigError(
                f"Task {task!r}: partitioned= and by= spread a task over a Spark cluster, but "
                f"executor {self.name!r} is {self.kind.value}. Drop them, or bind the task "
                f"to provider.cluster()."
            )
        if partitioned and by:
            raise ConfigError(
                f"Task {task!r}: give partitioned=True (a row-local function, run per partition) "
                f"or by=[...] (a group-local function, run per group), not both."
            )
        if by is not None and (
            isinstance(by, str) or not by or not all(isinstance(c, str) and c for c in by)
        ):
            raise ConfigError(
                f"Task {task!r}: by={by!r} must be a non-empty list of column names, "
                f"e.g. by=['day']."
            )
