"""From DAG to units of work: how each output is handed on, and which nodes run together.

Hand-off rules (DESIGN.md section 2.3):

* ``MEMORY``: the output has exactly one consumer, on the same executor, so the object itself
  (usually a LazyFrame) is passed and Polars fuses the chain into one query;
* ``COLLECT``: the pipeline's return value is the only consumer and the executor shares this
  process, so the frame is collected in memory once;
* ``STAGED``: anything else; the frame is written once as Parquet to the run's staging area and
  every consumer scans it.

A *unit* is what one backend invocation runs. Nodes joined by ``MEMORY`` edges must share a
process: for backends in this process a unit is a chain that takes in nothing else (so
independent branches still run in parallel threads and hand their frames on in memory); for
backends in other processes a unit takes every ``MEMORY`` producer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from glacier.core.dag import DAG, Node, Ref, SinkNode, SourceNode, TaskNode
from glacier.core.trace import iter_refs

if TYPE_CHECKING:
    from glacier.core.task import Task
    from glacier.resources.executor import Executor


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
    nodes: list[TaskNode | SinkNode]
    deps: set[str] = field(default_factory=set)
    timeout: float | None = None
    """The strictest timeout of its tasks: one attempt of the unit may not exceed it."""

    @property
    def root(self) -> TaskNode | SinkNode:
        return self.nodes[-1]


@dataclass
class Plan:
    units: dict[str, Unit]
    handoff: dict[str, Handoff]
    unit_of: dict[str, str]
    dependents: dict[str, list[str]]
    policy: dict[str, Task[..., Any]]
    """The task whose retries and timeout govern each node; a sink follows its producer."""


def build_plan(dag: DAG, output: object, shares_process: Callable[[Executor], bool]) -> Plan:
    returned = {ref.node for ref in iter_refs(output) if isinstance(ref, Ref)}
    handoff = {
        n.id: _handoff(dag, n, n.id in returned, shares_process)
        for n in dag
        if not isinstance(n, SourceNode)
    }
    units: dict[str, Unit] = {}
    owner: dict[str, Unit] = {}  # node -> its unit; a unit grows in place, so this is linear
    for node_id in dag.topological_order():
        node = dag[node_id]
        if isinstance(node, SourceNode):
            continue
        preds = dag.predecessors(node_id)
        fused = [owner[p] for p in preds if handoff.get(p) is Handoff.MEMORY]
        if shares_process(node.executor):
            # Extend a chain only when it is the node's sole input: a unit that also waits for
            # other inputs would hold back the chain's start and serialize independent branches.
            deps = {owner[p].id for p in preds if p in owner}
            fused = fused if len(deps) == 1 else []
        unit = fused[0] if fused else Unit(id=node_id, executor=node.executor, nodes=[])
        units.pop(unit.id, None)
        for other in fused[1:]:
            unit.nodes.extend(units.pop(other.id).nodes)
            owner.update((member.id, unit) for member in other.nodes)
        unit.id = node_id
        unit.nodes.append(node)
        owner[node_id] = unit
        units[node_id] = unit
    unit_of = {node_id: unit.id for node_id, unit in owner.items()}
    policy = {n.id: _policy(dag, n) for n in dag if not isinstance(n, SourceNode)}
    dependents: dict[str, list[str]] = {uid: [] for uid in units}
    for unit in units.values():
        limits = [t.timeout for n in unit.nodes if (t := policy[n.id]) and t.timeout]
        unit.timeout = min(limits) if limits else None
        members = {n.id for n in unit.nodes}
        for member in unit.nodes:
            for pred in dag.predecessors(member.id):
                if pred not in members and pred in unit_of:
                    unit.deps.add(unit_of[pred])
        for dep in unit.deps:
            dependents[dep].append(unit.id)
    return Plan(
        units=units,
        handoff=handoff,
        unit_of=unit_of,
        dependents=dependents,
        policy={k: v for k, v in policy.items() if v is not None},
    )


def _policy(dag: DAG, node: Node) -> Task[..., Any] | None:
    """A task governs itself; a sink follows its producer."""
    match node:
        case TaskNode(task=task):
            return task
        case SinkNode(args=(producer,)):
            return _policy(dag, dag[producer.node])
        case SourceNode():
            return None


def _executor(node: Node) -> Executor | None:
    return None if isinstance(node, SourceNode) else node.executor


def _handoff(
    dag: DAG, node: TaskNode | SinkNode, returned: bool, shares_process: Callable[[Executor], bool]
) -> Handoff:
    if isinstance(node, SinkNode):
        return Handoff.SINK
    consumers = dag.successors(node.id)
    if len(consumers) == 1 and not returned and _executor(dag[consumers[0]]) is node.executor:
        return Handoff.MEMORY
    if not consumers and returned and shares_process(node.executor):
        return Handoff.COLLECT
    return Handoff.STAGED
