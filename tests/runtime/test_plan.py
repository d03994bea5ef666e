"""The plan builder on small pipelines: each output's hand-off, and how nodes group into units.

Every case is checked twice, once as if every backend ran in this process and once as if none
did, because those are the two grouping rules; ``plan_for`` is then checked to pick the rule
from the real backends.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
import pytest

from glacier import Pipeline, Provider, pipeline
from glacier.config import LocalConfig
from glacier.runtime.plan import Handoff, Plan, build_flow, build_plan, flow_for, plan_for

M, C, S, K = Handoff.MEMORY, Handoff.COLLECT, Handoff.STAGED, Handoff.SINK

provider = Provider(config=LocalConfig(base_path="never-written"))
raw = provider.bucket(bucket="raw", path="a.parquet")
raw_b = provider.bucket(bucket="raw", path="b.parquet")
out = provider.bucket(bucket="out", path="x.parquet")
here = provider.local(name="here")
there = provider.local(name="there")
fn = provider.serverless(name="fn")


@here.task()
def load(source: Any) -> pl.LazyFrame:
    return source.scan()


@here.task()
def load_b(source: Any) -> pl.LazyFrame:
    return source.scan()


@here.task(timeout=30)
def clean(df: pl.LazyFrame) -> pl.LazyFrame:
    return df


@here.task(timeout=10)
def tidy(df: pl.LazyFrame) -> pl.LazyFrame:
    return df


@here.task()
def join(a: pl.LazyFrame, b: pl.LazyFrame) -> pl.LazyFrame:
    return pl.concat([a, b])


@there.task()
def elsewhere(df: pl.LazyFrame) -> pl.LazyFrame:
    return df


@fn.task()
def remote(df: pl.LazyFrame) -> pl.LazyFrame:
    return df


@pipeline(name="chain")
def chain() -> pl.LazyFrame:
    return tidy(clean(load(raw)))


@pipeline(name="across")
def across() -> pl.LazyFrame:
    return elsewhere(load(raw))


@pipeline(name="fan_out")
def fan_out() -> tuple[pl.LazyFrame, pl.LazyFrame]:
    frame = load(raw)
    return clean(frame), tidy(frame)


@pipeline(name="fan_in")
def fan_in() -> pl.LazyFrame:
    return join(load(raw), load_b(raw_b))


@pipeline(name="returned_and_consumed")
def returned_and_consumed() -> tuple[pl.LazyFrame, pl.LazyFrame]:
    frame = load(raw)
    return frame, clean(frame)


@pipeline(name="sink_only")
def sink_only() -> None:
    out.write(clean(load(raw)))


@pipeline(name="sink_and_return")
def sink_and_return() -> pl.LazyFrame:
    frame = load(raw)
    out.write(frame)
    return frame


@pipeline(name="param")
def param(n: int = 1) -> pl.LazyFrame:
    return join(load(raw), n)


SINK = "write:out/x.parquet"


@dataclass(frozen=True)
class Case:
    pipeline: Pipeline
    handoff: dict[str, Handoff]
    units: dict[str, list[str]]
    """Unit root -> its nodes in run order."""
    deps: dict[str, set[str]]
    """Unit root -> the units it waits for (only non-empty ones listed)."""


def both(
    p: Pipeline,
    handoff: dict[str, Handoff],
    units: dict[str, list[str]],
    deps: dict[str, set[str]] | None = None,
) -> tuple[Case, Case]:
    """The same expectation for both rules (``COLLECT`` becomes ``STAGED`` out of process)."""
    staged = {k: S if v is C else v for k, v in handoff.items()}
    return Case(p, handoff, units, deps or {}), Case(p, staged, units, deps or {})


IN, OUT = zip(
    # a chain on one executor fuses into one unit; the returned end is collected in process
    both(chain, {"load": M, "clean": M, "tidy": C}, {"tidy": ["load", "clean", "tidy"]}),
    # a change of executor stages the frame, even between two executors in this process
    both(
        across,
        {"load": S, "elsewhere": C},
        {"load": ["load"], "elsewhere": ["elsewhere"]},
        {"elsewhere": {"load"}},
    ),
    # two consumers read one staged frame
    both(
        fan_out,
        {"load": S, "clean": C, "tidy": C},
        {"load": ["load"], "clean": ["clean"], "tidy": ["tidy"]},
        {"clean": {"load"}, "tidy": {"load"}},
    ),
    # a returned output is staged for its consumer too, never handed on in memory
    both(
        returned_and_consumed,
        {"load": S, "clean": C},
        {"load": ["load"], "clean": ["clean"]},
        {"clean": {"load"}},
    ),
    # a sink runs where its producer ran, at the end of the producer's chain
    both(sink_only, {"load": M, "clean": M, SINK: K}, {SINK: ["load", "clean", SINK]}),
    both(
        sink_and_return,
        {"load": S, SINK: K},
        {"load": ["load"], SINK: [SINK]},
        {SINK: {"load"}},
    ),
    # a run parameter is no input: the chain still fuses
    both(param, {"load": M, "join": C}, {"join": ["load", "join"]}),
    strict=True,
)
FAN_IN_IN = Case(
    # in process, each branch is its own unit so both run in parallel, then meet in memory
    fan_in,
    {"load": M, "load_b": M, "join": C},
    {"load": ["load"], "load_b": ["load_b"], "join": ["join"]},
    {"join": {"load", "load_b"}},
)
FAN_IN_OUT = Case(
    # out of process, frames handed on in memory must share the consumer's process: one unit
    fan_in,
    {"load": M, "load_b": M, "join": S},
    {"join": ["load", "load_b", "join"]},
    {},
)


def check(plan: Plan, case: Case) -> None:
    assert plan.handoff == case.handoff
    assert {root: [n.id for n in unit.nodes] for root, unit in plan.units.items()} == case.units
    assert {root: unit.deps for root, unit in plan.units.items() if unit.deps} == case.deps
    assert plan.unit_of == {n: root for root, ids in case.units.items() for n in ids}
    expected_dependents = {root: [] for root in case.units}
    for root, deps in case.deps.items():
        for dep in deps:
            expected_dependents[dep].append(root)
    assert {k: sorted(v) for k, v in plan.dependents.items()} == {
        k: sorted(v) for k, v in expected_dependents.items()
    }


def _plan(p: Pipeline, shares_process: Callable[[Any], bool]) -> Plan:
    return build_plan(p.dag, build_flow(p.dag, p.output), shares_process)


@pytest.mark.parametrize("case", [*IN, FAN_IN_IN], ids=lambda c: c.pipeline.name)
def test_backends_in_this_process(case: Case) -> None:
    check(_plan(case.pipeline, lambda _: True), case)


@pytest.mark.parametrize("case", [*OUT, FAN_IN_OUT], ids=lambda c: c.pipeline.name)
def test_backends_in_other_processes(case: Case) -> None:
    check(_plan(case.pipeline, lambda _: False), case)


def test_flow_needs_no_backend() -> None:
    flow = build_flow(sink_and_return.dag, sink_and_return.output)
    assert flow.returned == {"load"}
    assert flow.memory == set()
    flow = build_flow(fan_in.dag, fan_in.output)
    assert (flow.returned, flow.memory) == ({"join"}, {"load", "load_b"})


def test_policy_and_the_strictest_timeout_of_a_unit() -> None:
    plan = _plan(chain, lambda _: True)
    assert plan.units["tidy"].timeout == 10  # clean allows 30 s, tidy 10 s: one attempt gets 10
    assert plan.policy == {"load": load, "clean": clean, "tidy": tidy}
    plan = _plan(sink_only, lambda _: True)
    assert plan.policy[SINK] is clean  # a sink retries and times out like its producer
    assert plan.units[SINK].timeout == 30
    assert _plan(across, lambda _: True).units["load"].timeout is None


def test_each_unit_reads_the_nodes_outside_it_once() -> None:
    source, source_b = "read:raw/a.parquet", "read:raw/b.parquet"
    assert _plan(chain, lambda _: True).reads == {"tidy": (source,)}  # not its own members
    assert _plan(fan_in, lambda _: True).reads == {
        "load": (source,),
        "load_b": (source_b,),
        "join": ("load", "load_b"),
    }
    assert _plan(fan_in, lambda _: False).reads == {"join": (source, source_b)}
    # two units read one staged frame
    assert _plan(fan_out, lambda _: True).reads == {
        "load": (source,),
        "clean": ("load",),
        "tidy": ("load",),
    }


def test_plan_for_asks_the_backends_and_is_computed_once() -> None:
    @fn.task()
    def first(source: Any) -> pl.LazyFrame:
        return source.scan()

    @pipeline(name="serverless_chain")
    def serverless_chain() -> pl.LazyFrame:
        return remote(first(raw))

    plan = plan_for(serverless_chain)
    # worker processes: the returned frame is staged, and the MEMORY chain is one unit
    assert plan.handoff == {"first": M, "remote": S}
    assert [n.id for n in plan.units["remote"].nodes] == ["first", "remote"]
    assert plan_for(serverless_chain) is plan
    assert plan.flow is flow_for(serverless_chain)
    assert plan_for(chain).handoff["tidy"] is C  # threads of this process collect it
    assert not hasattr(chain, "execution_plan")  # the plan lives beside the definition
