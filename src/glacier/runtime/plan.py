"""From DAG to units of work: how each output is handed on, and which nodes run together.

Hand-off rules (DESIGN.md section 2.3):

* ``MEMORY``: the output has exactly one consumer, on the same executor, so the object itself
  (usually a LazyFrame) is passed and Polars fuses the chain into one query;
* ``COLLECT``: the pipeline's return value is the only consumer and the executor shares this
  process, so the frame is collected in memory once;
* ``STAGED``: anything else; the frame is written once as Parquet to the run's staging area and
  every consumer scans it.

The edges alone decide ``MEMORY`` (a :class:`Flow`, which pictures use); only ``COLLECT`` and
the grouping into units also depend on where each backend runs (a :class:`Plan`).

A *unit* is what one backend invocation runs. Nodes joined by ``MEMORY`` edges must share a
process: for backends in this process a unit is a chain that takes in nothing else (so
independent branches still run in parallel threads and hand their frames on in memory); for
backends in other processes a unit takes every ``MEMORY`` producer.

Both are fixed once a pipeline is traced, so :func:`flow_for` and :func:`plan_for` compute
them once per pipeline and keep them beside it, not on it: a definition stays plain data.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from glacier.core.dag import Ref, SinkNode, SourceNode, TaskNode
from glacier.core.trace import iter_refs
from glacier.resources.executor import Executor
from glacier.resources.graph import BoundPipeline, BoundTask, Graph, GraphNode, WorkNode
from glacier.runtime.backends import backend_class
from glacier.runtime.units import Handoff, Unit

V = TypeVar("V")
SharesProcess = Callable[[Executor], bool]
"""Whether an executor's backend runs units in this process (so MEMORY may cross units)."""


@dataclass(frozen=True)
class Flow:
    """What the edges alone decide about hand-offs, before any backend is known."""

    returned: frozenset[str]
    """Nodes whose output is (part of) the pipeline's return value."""
    memory: frozenset[str]
    """Nodes whose output goes to its one consumer, on the same executor, as the object."""


@dataclass(eq=False)  # compared by identity: what a run derives from a plan is kept beside it
class Plan:
    flow: Flow
    units: dict[str, Unit]
    handoff: dict[str, Handoff]
    unit_of: dict[str, str]
    dependents: dict[str, list[str]]
    policy: dict[str, BoundTask]
    """The task whose retries and timeout govern each node; a sink follows its producer."""
    reads: dict[str, tuple[str, ...]]
    """Unit id -> the nodes outside the unit whose outputs (or buckets) its nodes read."""


def build_flow(dag: Graph, output: object) -> Flow:
    returned = frozenset(ref.node for ref in iter_refs(output) if isinstance(ref, Ref))
    memory = frozenset(
        node.id
        for node in dag
        if isinstance(node, TaskNode)
        and node.id not in returned
        and len(consumers := dag.successors(node.id)) == 1
        and _executor(dag[consumers[0]]) is node.executor
    )
    return Flow(returned=returned, memory=memory)


def build_plan(dag: Graph, flow: Flow, shares_process: SharesProcess) -> Plan:
    handoff = {
        n.id: _handoff(dag, n, flow, shares_process) for n in dag if not isinstance(n, SourceNode)
    }
    units: dict[str, Unit] = {}
    owner: dict[str, Unit] = {}  # node -> its unit; a unit grows in place, so this is linear
    for node_id in dag.topological_order():
        node = dag[node_id]
        if isinstance(node, SourceNode):
            continue
        preds = dag.predecessors(node_id)
        fused = [owner[p] for p in preds if p in flow.memory]
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
    reads: dict[str, tuple[str, ...]] = {}
    for unit in units.values():
        limits = [t for n in unit.nodes if (t := policy[n.id].timeout)]
        unit.timeout = min(limits) if limits else None
        members = {n.id for n in unit.nodes}
        outside = [p for m in unit.nodes for p in dag.predecessors(m.id) if p not in members]
        reads[unit.id] = tuple(dict.fromkeys(outside))
        unit.deps.update(unit_of[p] for p in outside if p in unit_of)
        for dep in unit.deps:
            dependents[dep].append(unit.id)
    return Plan(
        flow=flow,
        units=units,
        handoff=handoff,
        unit_of=unit_of,
        dependents=dependents,
        policy=policy,
        reads=reads,
    )


def flow_for(pipeline: BoundPipeline) -> Flow:
    """The pipeline's :class:`Flow`, computed on first use."""
    return _cached(_FLOWS, pipeline, lambda: build_flow(pipeline.dag, pipeline.output))


def plan_for(pipeline: BoundPipeline, mode: str = "local") -> Plan:
    """The pipeline's :class:`Plan` in ``mode``, computed on first use: which backends share
    the runner's process decides the hand-offs, and it differs between modes."""
    plans = _cached(_PLANS, pipeline, dict)
    with _LOCK:
        if mode not in plans:
            shares = functools.partial(_shares_process, mode=mode)
            plans[mode] = build_plan(pipeline.dag, flow_for(pipeline), shares)
        return plans[mode]


_FLOWS: weakref.WeakKeyDictionary[BoundPipeline, Flow] = weakref.WeakKeyDictionary()
_PLANS: weakref.WeakKeyDictionary[BoundPipeline, dict[str, Plan]] = weakref.WeakKeyDictionary()
_LOCK = threading.RLock()  # plan_for computes the flow while holding it


def _cached(
    table: weakref.WeakKeyDictionary[BoundPipeline, V],
    pipeline: BoundPipeline,
    compute: Callable[[], V],
) -> V:
    with _LOCK:
        if pipeline not in table:
            table[pipeline] = compute()
        return table[pipeline]


def _shares_process(executor: Executor, mode: str) -> bool:
    return backend_class(executor, mode).shares_process


def _policy(dag: Graph, node: WorkNode) -> BoundTask:
    """A task governs itself; a sink follows its producer (a task: sinks write task outputs)."""
    match node:
        case TaskNode(task=task):
            return task
        case SinkNode(args=(producer,)):
            match dag[producer.node]:
                case TaskNode(task=task):
                    return task
    raise AssertionError(f"sink {node.id!r} does not write a task's output")


def _executor(node: GraphNode) -> Executor | None:
    return None if isinstance(node, SourceNode) else node.executor


def _handoff(dag: Graph, node: WorkNode, flow: Flow, shares_process: SharesProcess) -> Handoff:
    match node:
        case SinkNode():
            return Handoff.SINK
        case TaskNode(id=node_id) if node_id in flow.memory:
            return Handoff.MEMORY
        case TaskNode(id=node_id, executor=executor) if (
            node_id in flow.returned and not dag.successors(node_id) and shares_process(executor)
        ):
            return Handoff.COLLECT
    return Handoff.STAGED


__all__ = ["Flow", "Handoff", "Plan", "Unit", "build_flow", "build_plan", "flow_for", "plan_for"]
