"""The pipeline graph: source, task and sink nodes joined by data edges.

Built by tracing a pipeline body (:mod:`glacier.core.trace`) or by hand; ordering uses
:mod:`graphlib`, so a cycle is reported with the nodes that form it.
"""

from __future__ import annotations

import graphlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar

from glacier.core.specs import ExecutorSpec, SourceSpec, TaskSpec
from glacier.errors import DagCycleError, PipelineDefinitionError

S = TypeVar("S", bound=SourceSpec)
T = TypeVar("T", bound=TaskSpec)
E = TypeVar("E", bound=ExecutorSpec)


class NodeKind(StrEnum):
    """The variant's name, for reports and JSON."""

    SOURCE = "source"
    TASK = "task"
    SINK = "sink"


@dataclass(frozen=True)
class Ref:
    """Where a task argument comes from: another node's output, or one element of it.

    ``output`` names the element of a task with several outputs (a position of its returned
    tuple, or a field of its NamedTuple or dataclass); None is the whole output.
    """

    node: str
    output: int | str | None = None


@dataclass(frozen=True)
class ParamRef:
    """A task argument given at run time: ``pipeline.run(name=value)``."""

    name: str


@dataclass(frozen=True, eq=False)
class SourceNode(Generic[S]):
    """A bucket the body reads: no compute of its own, its consumers scan it."""

    id: str
    bucket: S
    kind: ClassVar[NodeKind] = NodeKind.SOURCE

    @property
    def label(self) -> str:
        return self.bucket.address

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.value, "bucket": self.bucket.address}


@dataclass(frozen=True, eq=False)
class TaskNode(Generic[T, E]):
    """A task call. ``args``/``kwargs`` hold constants, :class:`Ref` and :class:`ParamRef`."""

    id: str
    task: T
    executor: E
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[NodeKind] = NodeKind.TASK

    @property
    def label(self) -> str:
        return self.id

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "task": self.task.qualified_name,
            "executor": self.executor.name,
        }


@dataclass(frozen=True, eq=False)
class SinkNode(Generic[S, E]):
    """``bucket.write(output)`` in a body, run where the producer ran.

    ``args`` is the one :class:`Ref` to the producer; ``kwargs`` holds ``partition_by``.
    """

    id: str
    bucket: S
    executor: E
    args: tuple[Ref]
    kwargs: dict[str, Any] = field(default_factory=dict)
    kind: ClassVar[NodeKind] = NodeKind.SINK

    @property
    def label(self) -> str:
        return self.bucket.address

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind.value,
            "bucket": self.bucket.address,
            "executor": self.executor.name,
        }


Node = SourceNode[S] | TaskNode[T, E] | SinkNode[S, E]
"""One step of the graph; ``match`` on the variant to reach its fields.

Generic in what the nodes hold, so the layers above see their own bucket, task and executor
classes while this module knows only the Protocols in :mod:`glacier.core.specs`.
"""

AnyNode = TypeVar("AnyNode", bound="Node[Any, Any, Any]")


class DAG(Generic[S, T, E]):
    """Nodes keyed by id, with edges from producer to consumer."""

    def __init__(self) -> None:
        self._nodes: dict[str, Node[S, T, E]] = {}
        self._preds: dict[str, list[str]] = {}
        self._succs: dict[str, list[str]] = {}
        self._levels: list[list[str]] | None = None  # cached until the graph changes

    def __len__(self) -> int:
        return len(self._nodes)

    def __iter__(self) -> Iterator[Node[S, T, E]]:
        return iter(self._nodes.values())

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __getitem__(self, node_id: str) -> Node[S, T, E]:
        return self._nodes[node_id]

    @property
    def nodes(self) -> dict[str, Node[S, T, E]]:
        return dict(self._nodes)

    @property
    def edges(self) -> list[tuple[str, str]]:
        return [(src, dst) for dst, srcs in self._preds.items() for src in srcs]

    def add_node(self, node: AnyNode) -> AnyNode:
        if node.id in self._nodes:
            raise PipelineDefinitionError(
                f"Node {node.id!r} is already in the graph; node ids must be unique."
            )
        self._nodes[node.id] = node
        self._levels = None
        self._preds[node.id] = []
        self._succs[node.id] = []
        return node

    def add_edge(self, src: str, dst: str) -> None:
        """Connect ``src`` -> ``dst``; refuses unknown nodes and edges that close a cycle."""
        for end in (src, dst):
            if end not in self._nodes:
                raise PipelineDefinitionError(
                    f"Edge {src!r} -> {dst!r}: no node {end!r}. Add the node first."
                )
        if src in self._preds[dst]:
            return
        if src == dst or self._reaches(dst, src):
            raise DagCycleError(
                f"Edge {src!r} -> {dst!r} would close a cycle "
                f"({' -> '.join([*self._path(dst, src), dst])}). A pipeline "
                f"must be acyclic; remove one of these edges."
            )
        self._preds[dst].append(src)
        self._succs[src].append(dst)
        self._levels = None

    def predecessors(self, node_id: str) -> list[str]:
        return list(self._preds[node_id])

    def successors(self, node_id: str) -> list[str]:
        return list(self._succs[node_id])

    def topological_order(self) -> list[str]:
        """Every node after all of its inputs (ties in insertion order)."""
        return [n for level in self.levels() for n in level]

    def levels(self) -> list[list[str]]:
        """Groups of nodes whose inputs are all in earlier groups, so each may run in parallel."""
        if self._levels is None:
            self._levels = self._sorted_levels()
        return [list(level) for level in self._levels]

    def _sorted_levels(self) -> list[list[str]]:
        sorter = graphlib.TopologicalSorter({n: self._preds[n] for n in self._nodes})
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            cycle = " -> ".join(map(str, exc.args[1]))
            raise DagCycleError(f"The graph has a cycle: {cycle}. Remove one edge of it.") from None
        order = {n: i for i, n in enumerate(self._nodes)}
        levels = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=order.__getitem__)
            levels.append(ready)
            sorter.done(*ready)
        return levels

    def to_dict(self) -> dict[str, Any]:
        return {
            "nodes": [self._nodes[n].to_dict() for n in self.topological_order()],
            "edges": [list(edge) for edge in self.edges],
        }

    def _reaches(self, start: str, goal: str) -> bool:
        return bool(self._path(start, goal))

    def _path(self, start: str, goal: str) -> list[str]:
        """A path ``start`` ... ``goal`` along edges, or [] if there is none."""
        stack: list[tuple[str, list[str]]] = [(start, [start])]
        seen = {start}
        while stack:
            node, path = stack.pop()
            if node == goal:
                return path
            for nxt in self._succs[node]:
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*path, nxt]))
        return []
