"""Pipelines: a function body traced once into a DAG, then run as often as you like."""

from __future__ import annotations

import functools
import inspect
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

from glacier.core.dag import DAG, TaskNode
from glacier.core.trace import Tracer, current_tracer
from glacier.errors import ParameterError, PipelineDefinitionError

if TYPE_CHECKING:
    from glacier.runtime.events import RunEvent
    from glacier.runtime.plan import Plan
    from glacier.runtime.result import RunResult

GraphFormat = Literal["mermaid", "dot"]

_REGISTRY: dict[tuple[str, str], Pipeline] = {}
_REGISTRY_LOCK = threading.Lock()


class Pipeline:
    """A traced pipeline: its DAG, its parameters and how to run it.

    Parameters of the decorated function are run parameters: ``pipeline.run(day="2024-01-01")``.
    """

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.signature = inspect.signature(fn)
        for param in self.signature.parameters.values():
            if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r}: *{param.name} parameters are not supported; list "
                    f"each run parameter by name."
                )
        self.__doc__ = fn.__doc__
        self.__wrapped__ = fn
        tracer = Tracer(self.name)
        with tracer.active():
            result = fn(**{p: tracer.param(p) for p in self.signature.parameters})
        self.dag: DAG = tracer.dag
        self.output = tracer.capture_output(result)
        if not any(isinstance(n, TaskNode) for n in self.dag):
            raise PipelineDefinitionError(
                f"Pipeline {self.name!r} calls no task. Call functions decorated with "
                f"@executor.task() in its body."
            )
        _register(self)

    def __repr__(self) -> str:
        return f"<Pipeline {self.name!r}: {len(self.dag)} nodes>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside another pipeline: inline this one. Elsewhere: run the body as plain Python."""
        tracer = current_tracer()
        if tracer is None:
            return self.fn(*args, **kwargs)
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise PipelineDefinitionError(
                f"Pipeline {tracer.pipeline!r}: inlined pipeline {self.name!r} was called with "
                f"arguments that do not fit {self.name}{self.signature}: {exc}."
            ) from None
        with tracer.scope(self.name):
            return self.fn(*bound.args, **bound.kwargs)

    @property
    def params(self) -> dict[str, inspect.Parameter]:
        return dict(self.signature.parameters)

    def bind_params(self, params: dict[str, Any]) -> dict[str, Any]:
        """Run parameters with defaults applied; unknown or missing ones are a clear error."""
        try:
            bound = self.signature.bind(**params)
        except TypeError as exc:
            names = ", ".join(self.signature.parameters) or "none"
            raise ParameterError(
                f"Pipeline {self.name!r}: {exc}. Its parameters: {names}."
            ) from None
        bound.apply_defaults()
        return dict(bound.arguments)

    @functools.cached_property
    def execution_plan(self) -> Plan:
        """How runs group nodes into units and hand data on: fixed once the body is traced."""
        from glacier.runtime.backends import backend_class
        from glacier.runtime.plan import build_plan

        return build_plan(self.dag, self.output, lambda ex: backend_class(ex).shares_process)

    def run(
        self,
        mode: str = "local",
        *,
        cache: bool = True,
        on_event: Callable[[RunEvent], None] | None = None,
        **params: Any,
    ) -> RunResult:
        """Run every node; return outputs and per-task records, or raise ``TaskFailed``.

        With ``cache=True`` a node whose code, config and inputs are unchanged since an
        earlier run reuses that run's output (checksummed in the staging area); a rerun after
        a failure recomputes only the failed node and what depends on it. ``cache=False``
        ignores the cache and recomputes everything.
        """
        from glacier.runtime.scheduler import run_pipeline

        return run_pipeline(self, mode=mode, cache=cache, on_event=on_event, params=params)

    @overload
    def graph(self, format: Literal["mermaid"] = "mermaid") -> str: ...
    @overload
    def graph(self, format: Literal["dot"]) -> str: ...
    def graph(self, format: GraphFormat = "mermaid") -> str:
        """The DAG as Mermaid or Graphviz DOT text, one group per executor."""
        from glacier import viz

        return viz.render(self, format)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        from glacier import viz

        return viz.mimebundle(self)

    def _repr_html_(self) -> str:
        from glacier import viz

        return viz.html(self)


def _register(p: Pipeline) -> None:
    """``glacier run module:NAME`` picks a pipeline by name, so names are unique per module.

    Re-running the same definition (a notebook cell, a module reload) replaces the old one.
    """
    origin = f"{p.fn.__module__}.{p.fn.__qualname__}"
    key = (p.fn.__module__, p.name)
    with _REGISTRY_LOCK:
        old = _REGISTRY.get(key)
        if old is not None:
            old_origin = f"{old.fn.__module__}.{old.fn.__qualname__}"
            if old_origin != origin:
                raise PipelineDefinitionError(
                    f"Two pipelines in module {p.fn.__module__} are named {p.name!r}: "
                    f"{old_origin} and {origin}. The CLI selects pipelines by name; pass a "
                    f"distinct name=."
                )
        _REGISTRY[key] = p


@overload
def pipeline(fn: Callable[..., Any], /) -> Pipeline: ...
@overload
def pipeline(*, name: str | None = None) -> Callable[[Callable[..., Any]], Pipeline]: ...
def pipeline(
    fn: Callable[..., Any] | None = None, /, *, name: str | None = None
) -> Pipeline | Callable[[Callable[..., Any]], Pipeline]:
    """Turn a function into a :class:`Pipeline` by tracing its body once.

    Use as ``@pipeline`` or ``@pipeline(name="daily_revenue")``.
    """
    if fn is not None:
        return Pipeline(fn)

    def decorate(f: Callable[..., Any]) -> Pipeline:
        return Pipeline(f, name=name)

    return decorate
