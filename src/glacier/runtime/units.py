"""What a plan is made of: how each output is handed on, and the units backends run.

Kept apart from :mod:`glacier.runtime.plan`, which asks the backends how they run, so the
backends and the worker can name these without importing the planner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from glacier.resources.executor import Executor
from glacier.resources.graph import WorkNode


class Handoff(StrEnum):
    MEMORY = "memory"
    COLLECT = "collect"
    STAGED = "staged"
    SINK = "sink"


@dataclass(eq=False)
class Unit:
    """Nodes run by one invocation, in order; ``root`` is the one whose output leaves it."""

    id: str
    executor: Executor
    nodes: list[WorkNode]
    deps: set[str] = field(default_factory=set)
    timeout: float | None = None
    """The strictest timeout of its tasks: one attempt of the unit may not exceed it."""

    @property
    def root(self) -> WorkNode:
        return self.nodes[-1]
