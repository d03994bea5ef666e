"""The DAG API on hand-built graphs, and random pipelines checked against plain evaluation."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glacier import DagCycleError, Provider, Status, pipeline
from glacier.config import LocalConfig
from glacier.core.dag import DAG, TaskNode

_LOCAL = Provider(config=LocalConfig(base_path="unused")).local()


@_LOCAL.task()
def _step() -> None:
    """The task every hand-built node calls: these tests are about the graph, not the work."""


def _node(name: str) -> TaskNode:
    return TaskNode(id=name, task=_step, executor=_LOCAL)


def _graph(edges: list[tuple[str, str]], nodes: str = "") -> DAG:
    dag = DAG()
    names = dict.fromkeys([*nodes, *(n for e in edges for n in e)])
    for name in names:
        dag.add_node(_node(name))
    for src, dst in edges:
        dag.add_edge(src, dst)
    return dag


def test_levels_and_topological_order() -> None:
    dag = _graph([("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("e", "d")], nodes="aebcd")
    assert dag.levels() == [["a", "e"], ["b", "c"], ["d"]]
    assert dag.topological_order() == ["a", "e", "b", "c", "d"]
    assert dag.predecessors("d") == ["b", "c", "e"]
    assert dag.successors("a") == ["b", "c"]
    assert len(dag) == 5 and "e" in dag and "z" not in dag
    assert [n.id for n in dag] == ["a", "e", "b", "c", "d"]


def test_to_dict() -> None:
    dag = _graph([("a", "b"), ("b", "c")])
    assert dag.to_dict() == {
        "nodes": [
            {"id": name, "kind": "task", "task": f"{__name__}:_step", "executor": "local"}
            for name in "abc"
        ],
        "edges": [["a", "b"], ["b", "c"]],
    }


def test_cycle_is_refused_with_its_path() -> None:
    dag = _graph([("a", "b"), ("b", "c")])
    with pytest.raises(DagCycleError) as err:
        dag.add_edge("c", "a")
    assert str(err.value) == (
        "Edge 'c' -> 'a' would close a cycle (a -> b -> c -> a). A pipeline must be acyclic; "
        "remove one of these edges."
    )
    with pytest.raises(DagCycleError, match=r"Edge 'b' -> 'b' would close a cycle"):
        dag.add_edge("b", "b")
    assert dag.edges == [("a", "b"), ("b", "c")]  # the graph is unchanged
    dag.add_edge("a", "b")  # a repeated edge is a no-op
    assert dag.edges == [("a", "b"), ("b", "c")]


def test_unknown_and_duplicate_nodes() -> None:
    dag = _graph([("a", "b")])
    with pytest.raises(Exception, match=r"no node 'z'. Add the node first"):
        dag.add_edge("a", "z")
    with pytest.raises(Exception, match=r"Node 'a' is already in the graph"):
        dag.add_node(_node("a"))


@given(st.data())
@settings(max_examples=50, deadline=None)
def test_random_graph_levels_respect_edges(data: st.DataObject) -> None:
    n = data.draw(st.integers(1, 12))
    edges = data.draw(
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=30)
    )
    dag = DAG()
    for i in range(n):
        dag.add_node(_node(str(i)))
    added = set()
    for src, dst in edges:
        try:
            dag.add_edge(str(src), str(dst))
            added.add((str(src), str(dst)))
        except DagCycleError:
            assert src == dst or dag._reaches(str(dst), str(src))
    assert set(dag.edges) == added
    level_of = {node: i for i, level in enumerate(dag.levels()) for node in level}
    assert sorted(level_of, key=int) == [str(i) for i in range(n)]
    for src, dst in added:
        assert level_of[src] < level_of[dst]
    order = dag.topological_order()
    assert all(order.index(s) < order.index(d) for s, d in added)


# --- random pipelines -------------------------------------------------------------------------

_spec = st.integers(2, 9).flatmap(
    lambda n: st.tuples(
        st.just(n),
        # inputs of node i: a subset of the earlier nodes (fan-in), reused freely (fan-out)
        st.tuples(
            *[
                st.sets(st.integers(0, max(i - 1, 0)), max_size=3) if i else st.just(set())
                for i in range(n)
            ]
        ),
        st.lists(st.integers(0, 2), min_size=n, max_size=n),  # executor of each node
        st.lists(st.sampled_from(["int", "lazy", "frame"]), min_size=n, max_size=n),
        st.sets(st.integers(0, n - 1), max_size=2),  # interior nodes also returned
    )
)
_names = itertools.count()


def _number(value: Any) -> int:
    if isinstance(value, pl.LazyFrame):
        value = value.collect()
    if isinstance(value, pl.DataFrame):
        return int(value["v"].sum())
    assert isinstance(value, int)
    return value


def _compute(i: int, inputs: list[Any]) -> int:
    return i + sum(3 * _number(x) + k for k, x in enumerate(inputs))


def _shape(kind: str, v: int) -> Any:
    if kind == "int":
        return v
    frame = pl.DataFrame({"v": [v, 0]})
    return frame.lazy() if kind == "lazy" else frame


@given(_spec)
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_random_pipelines_run_in_dependency_order(tmp_path: Path, spec: Any) -> None:
    n, inputs, executor_of, kinds, extra_returns = spec
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    executors = [provider.local(name=f"ex{k}") for k in range(3)]
    lock = threading.Lock()
    clock = itertools.count()
    events: dict[int, tuple[int, int]] = {}

    def make_task(i: int) -> Any:
        def node(*args: Any) -> Any:
            start = next(clock)
            value = _compute(i, list(args))
            with lock:
                events[i] = (start, next(clock))
            return _shape(kinds[i], value)

        node.__name__ = f"n{i}"
        return executors[executor_of[i]].task()(node)

    tasks = [make_task(i) for i in range(n)]
    preds = [sorted(s) for s in inputs]
    consumed = {p for ps in preds for p in ps}
    returned = sorted({i for i in range(n) if i not in consumed} | extra_returns)

    def body() -> Any:
        outs: list[Any] = []
        for i in range(n):
            outs.append(tasks[i](*[outs[p] for p in preds[i]]))
        return [outs[i] for i in returned]

    p = pipeline(name=f"random_{next(_names)}")(body)
    result = p.run()

    # the same functions, evaluated one after another in plain Python
    plain: list[Any] = []
    for i in range(n):
        plain.append(_shape(kinds[i], _compute(i, [plain[q] for q in preds[i]])))
    assert [_number(v) for v in result.output] == [_number(plain[i]) for i in returned]
    for value, i in zip(result.output, returned, strict=True):
        assert not isinstance(value, pl.LazyFrame)  # every returned frame is collected
        assert isinstance(value, int) == (kinds[i] == "int")

    assert sorted(events) == list(range(n))  # every node ran exactly once...
    for i in range(n):
        for q in preds[i]:  # ...after each of its inputs finished
            assert events[q][1] < events[i][0]
    assert all(t.status is Status.SUCCEEDED and t.attempts == 1 for t in result.tasks.values())
    assert {t.name: t.executor for t in result.tasks.values()} == {
        f"n{i}": f"ex{executor_of[i]}" for i in range(n)
    }
