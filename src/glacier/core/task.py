"""Tasks: plain functions bound to an executor, recorded as nodes when called in a pipeline."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Generic, ParamSpec, TypeVar

from glacier.core.trace import current_tracer
from glacier.errors import ConfigError

if TYPE_CHECKING:
    from glacier.resources.executor import Executor

P = ParamSpec("P")
R = TypeVar("R")


class Task(Generic[P, R]):
    """A function bound to an executor, with its retry, timeout and cache policy.

    Called inside a pipeline body it records a node and returns a placeholder; called anywhere
    else it is the plain function, so tasks unit-test like functions.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        executor: Executor,
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        timeout: float | None = None,
        cache: bool = True,
        partitioned: bool = False,
        by: Sequence[str] | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigError(
                f"@{executor.name}.task() decorates functions, got {type(fn).__name__}."
            )
        label: str = name or str(getattr(fn, "__name__", "task"))
        if not isinstance(retries, int) or retries < 0:
            raise ConfigError(f"Task {label!r}: retries={retries!r} must be a whole number >= 0.")
        if retry_delay < 0:
            raise ConfigError(f"Task {label!r}: retry_delay={retry_delay!r} must be >= 0 seconds.")
        if timeout is not None and timeout <= 0:
            raise ConfigError(f"Task {label!r}: timeout={timeout!r} must be > 0 seconds or None.")
        _check_spread(label, executor, partitioned, by)
        self.fn = fn
        self.executor = executor
        self.name = label
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.cache = cache
        self.partitioned = partitioned
        self.by = tuple(by) if by else None
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)

    @property
    def qualified_name(self) -> str:
        """``module:qualname`` of the function, which workers use to find it again."""
        return f"{self.fn.__module__}:{self.fn.__qualname__}"

    def __repr__(self) -> str:
        return f"<Task {self.name!r} on {self.executor.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        tracer = current_tracer()
        if tracer is None:
            return self.fn(*args, **kwargs)
        return tracer.record_task(self, args, kwargs)  # type: ignore[return-value]


def _check_spread(
    label: str, executor: Executor, partitioned: bool, by: Sequence[str] | None
) -> None:
    """``partitioned``/``by`` say how a task spreads over a cluster; nothing else has them."""
    from glacier.core.kinds import ExecutorKind

    if not partitioned and not by:
        return
    if executor.kind is not ExecutorKind.CLUSTER:
        raise ConfigError(
            f"Task {label!r}: partitioned= and by= spread a task over a Spark cluster, but "
            f"executor {executor.name!r} is {executor.kind.value}. Drop them, or bind the task "
            f"to provider.cluster()."
        )
    if partitioned and by:
        raise ConfigError(
            f"Task {label!r}: give partitioned=True (a row-local function, run per partition) or "
            f"by=[...] (a group-local function, run per group), not both."
        )
    if by is not None and (
        isinstance(by, str) or not by or not all(isinstance(c, str) and c for c in by)
    ):
        raise ConfigError(
            f"Task {label!r}: by={by!r} must be a non-empty list of column names, e.g. by=['day']."
        )
