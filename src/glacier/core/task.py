"""Tasks: plain functions bound to an executor, recorded as nodes when called in a pipeline."""

from __future__ import annotations

import functools
import inspect
import math
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, ParamSpec, TypeVar

import polars as pl

from glacier.core.dag import Ref
from glacier.core.specs import ExecutorSpec, is_source
from glacier.core.trace import Placeholder, current_tracer
from glacier.errors import ConfigError, PipelineDefinitionError

P = ParamSpec("P")
R = TypeVar("R")

Reading = Literal["scan", "read"]
"""How a bucket is handed to a parameter annotated as a frame: ``scan()`` or ``read()``."""
_READINGS: dict[object, Reading] = {pl.LazyFrame: "scan", pl.DataFrame: "read"}


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
        self.readings = _readings(fn, self.signature)
        """Parameters annotated ``pl.LazyFrame``/``pl.DataFrame``: a bucket given to one is
        scanned/read for it, on every executor alike (any other parameter gets the bucket)."""
        functools.update_wrapper(self, fn)

    def readings_for(self, n_args: int, keywords: Mapping[str, object]) -> dict[int | str, Reading]:
        """:attr:`readings` of a call with ``n_args`` positional arguments and ``keywords``,
        keyed by argument position or keyword, as the call's arguments are stored."""
        if not self.readings:
            return {}
        positional = [
            p.name
            for p in self.signature.parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
        out: dict[int | str, Reading] = {
            i: self.readings[name]
            for i, name in enumerate(positional[:n_args])
            if name in self.readings
        }
        out.update({k: self.readings[k] for k in keywords if k in self.readings})
        return out

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
        if self.options.partitioned or self.options.by:
            self._check_one_frame(args, kwargs)
        return tracer.record_task(self, args, kwargs)  # type: ignore[return-value]

    def _check_one_frame(self, args: tuple[object, ...], kwargs: Mapping[str, object]) -> None:
        """A partitioned or grouped task is spread over the partitions of one frame; two frames
        have no partitions in common, so a second one is refused here, before anything runs."""
        given = [*zip(self.signature.parameters, args, strict=False), *kwargs.items()]
        frames = [
            name
            for name, value in given
            if is_source(value) or (isinstance(value, Placeholder) and _is_output(value))
        ]
        if len(frames) > 1:
            by = list(self.options.by or ())
            how = "partitioned=True" if self.options.partitioned else f"by={by}"
            raise PipelineDefinitionError(
                f"Task {self.name!r} is {how}, which spreads one frame over the cluster, but it "
                f"is given {len(frames)} frames ({', '.join(frames)}). Drop {how} to get each "
                f"frame whole, or join them in a task before it."
            )


def _is_output(value: Placeholder) -> bool:
    return isinstance(value._glacier_ref, Ref)


def _readings(fn: Callable[..., Any], signature: inspect.Signature) -> dict[str, Reading]:
    """Resolved once, at definition. When not all annotations resolve (a name imported only for
    type checking), each is tried on its own; one that does not resolve counts as none, so
    that parameter gets what it is given."""
    try:
        hints: Mapping[str, object] = typing.get_type_hints(fn)
    except Exception:  # any failure of user annotations: resolve them one by one
        hints = {n: _resolved(fn, p.annotation) for n, p in signature.parameters.items()}
    return {
        name: _READINGS[hint]
        for name, hint in hints.items()
        if name in signature.parameters and isinstance(hint, type) and hint in _READINGS
    }


def _resolved(fn: Callable[..., Any], annotation: object) -> object:
    """One annotation as ``get_type_hints`` would resolve it, or None when it does not."""
    if not isinstance(annotation, str):
        return annotation
    try:
        return typing.get_type_hints(_Annotated(annotation), getattr(fn, "__globals__", None))[
            "value"
        ]
    except Exception:  # the name does not resolve here: as if not annotated
        return None


class _Annotated:
    """Carries one annotation for ``get_type_hints`` to resolve against the task's module."""

    def __init__(self, annotation: str) -> None:
        self.__annotations__ = {"value": annotation}


def _seconds(value: object, *, allow_zero: bool) -> bool:
    """A real duration: a number (not a bool) that is finite, and positive (or zero if allowed).

    ``inf`` would overflow the scheduler's timers mid-run and ``nan`` compares false with
    everything, so a ``nan`` timeout would expire at once.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return math.isfinite(value) and (value > 0 or (allow_zero and value == 0))
