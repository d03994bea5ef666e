"""Tasks: plain functions bound to an executor, recorded as nodes when called in a pipeline."""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, ParamSpec, TypeVar

from glacier.core.specs import ExecutorSpec
from glacier.core.trace import current_tracer
from glacier.errors import ConfigError

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class TaskOptions:
    """How a task spreads over its executor's workers.

    Only some executor kinds can spread a task (a cluster: ``partitioned`` runs a row-local
    function per partition, ``by`` a group-local one per group), so the executor that makes the
    task checks them; the task only carries them.
    """

    partitioned: bool = False
    by: tuple[str, ...] | None = None


class Task(Generic[P, R]):
    """A function bound to an executor, with its retry, timeout and cache policy.

    Called inside a pipeline body it records a node and returns a placeholder; called anywhere
    else it is the plain function, so tasks unit-test like functions.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        executor: ExecutorSpec,
        *,
        name: str | None = None,
        retries: int = 0,
        retry_delay: float = 1.0,
        timeout: float | None = None,
        cache: bool = True,
        options: TaskOptions | None = None,
    ) -> None:
        if not callable(fn):
            raise ConfigError(
                f"@{executor.name}.task() decorates functions, got {type(fn).__name__}."
            )
        label: str = name or str(getattr(fn, "__name__", "task"))
        if inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn):
            raise ConfigError(
                f"Task {label!r} is an async function: called, it would return a coroutine, not "
                f"a frame. Write it as a plain def (run any async code inside it with "
                f"asyncio.run())."
            )
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ConfigError(f"Task {label!r}: retries={retries!r} must be a whole number >= 0.")
        if not _seconds(retry_delay, allow_zero=True):
            raise ConfigError(
                f"Task {label!r}: retry_delay={retry_delay!r} must be >= 0 seconds (a finite "
                f"number), e.g. retry_delay=1.0."
            )
        if timeout is not None and not _seconds(timeout, allow_zero=False):
            raise ConfigError(
                f"Task {label!r}: timeout={timeout!r} must be > 0 seconds (a finite number), "
                f"or None for no limit, e.g. timeout=60."
            )
        if not isinstance(cache, bool):
            raise ConfigError(f"Task {label!r}: cache={cache!r} must be True or False.")
        self.fn = fn
        self.executor = executor
        self.name = label
        self.retries = retries
        self.retry_delay = retry_delay
        self.timeout = timeout
        self.cache = cache
        self.options = options or TaskOptions()
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


def _seconds(value: object, *, allow_zero: bool) -> bool:
    """A real duration: a number (not a bool) that is finite, and positive (or zero if allowed).

    ``inf`` would overflow the scheduler's timers mid-run and ``nan`` compares false with
    everything, so a ``nan`` timeout would expire at once.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and (value > 0 or (allow_zero and value == 0))
