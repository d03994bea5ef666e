"""What the definition layer needs from the things a pipeline body names.

The DAG refers to buckets, tasks and executors only through these Protocols, so ``core`` never
imports the classes that implement them (``glacier.resources``) and stays the bottom layer of
the pipeline model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, ClassVar, Protocol, TypeGuard

from glacier.core.kinds import ExecutorKind


class SourceSpec(Protocol):
    """Storage a body reads (a source node) or writes (a sink node)."""

    __glacier_source__: ClassVar[bool]
    """True on classes whose instances a body may pass to a task as a source."""

    @property
    def address(self) -> str:
        """``bucket/path``: names the node and labels it in pictures."""
        ...


class ExecutorSpec(Protocol):
    """Where a task runs, as far as the graph is concerned: a name and a kind."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> ExecutorKind: ...


class TaskSpec(Protocol):
    """A function bound to an executor, as the tracer records it."""

    @property
    def name(self) -> str: ...

    @property
    def qualified_name(self) -> str: ...

    @property
    def signature(self) -> inspect.Signature: ...

    @property
    def fn(self) -> Callable[..., Any]:
        """The function: its return annotation tells the tracer how many outputs it has."""
        ...

    @property
    def executor(self) -> ExecutorSpec: ...


def is_source(value: object) -> TypeGuard[SourceSpec]:
    """Whether ``value`` is storage, asked of its class so a value's ``__getattr__`` never runs."""
    return getattr(type(value), "__glacier_source__", False) is True
