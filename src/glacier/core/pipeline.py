"""Pipeline definitions: a function body traced once into a DAG, with its run parameters.

A definition is data: how it runs (:mod:`glacier.runtime`) and how it is drawn
(:mod:`glacier.viz`) live above it, and the public :class:`glacier.Pipeline` joins them.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any, ClassVar, Generic, cast

from glacier.core.dag import DAG, E, S, T, TaskNode
from glacier.core.trace import Tracer, current_tracer
from glacier.errors import ParameterError, PipelineDefinitionError

_REGISTRY: dict[tuple[str, str], PipelineDefinition[Any, Any, Any]] = {}
_REGISTRY_LOCK = threading.Lock()


class PipelineDefinition(Generic[S, T, E]):
    """A traced pipeline body: its DAG, its return value and its run parameters.

    Parameters of the decorated function are run parameters: ``pipeline.run(day="2024-01-01")``.
    The type parameters name the bucket, task and executor classes its nodes hold; the body
    may only call what implements :mod:`glacier.core.specs`, and a subclass says which.
    """

    reserved: ClassVar[frozenset[str]] = frozenset()
    """Names a run parameter may not take: the keywords of the subclass's ``run()``."""

    def __init__(self, fn: Callable[..., Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        self.signature = inspect.signature(fn)
        for param in self.signature.parameters.values():
            if param.name in self.reserved:
                raise PipelineDefinitionError(
                    f"Pipeline {self.name!r}: parameter {param.name!r} has the name of one of "
                    f"run()'s own keywords ({', '.join(sorted(self.reserved))}), so "
                    f"run({param.name}=...) could not pass it. Rename the parameter."
                )
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
        # The tracer records whatever the body called; the subclass's parameters name it.
        self.dag = cast("DAG[S, T, E]", tracer.dag)
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
        """The run parameters: the function's own, with their annotations and defaults."""
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


def _register(p: PipelineDefinition[Any, Any, Any]) -> None:
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
