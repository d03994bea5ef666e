"""The one worker loop: steps in order, sinks, stats, hand-offs, failures; backends vary a step."""

from __future__ import annotations

from typing import Any

import polars as pl
import pytest

from glacier import Provider
from glacier.core.dag import ParamRef, Ref
from glacier.errors import TaskTimeout
from glacier.runtime.staging import OutputTarget, StagedFrame, Staging
from glacier.runtime.units import Handoff
from glacier.runtime.worker import NodeStats, Outcome, Scope, Step, run_unit


def _target(provider: Provider, keep_collected: bool = False) -> OutputTarget:
    staging = Staging(provider, "worker-test")
    return OutputTarget(provider, staging.bucket, staging.key_for("out"), keep_collected)


def _frame(n: int) -> pl.LazyFrame:
    return pl.LazyFrame({"x": range(n)})


def _plus(df: pl.LazyFrame, k: int) -> pl.LazyFrame:
    return df.with_columns(x=pl.col("x") + k)


def _broken(df: pl.LazyFrame) -> pl.LazyFrame:
    raise ValueError("no column y")


def test_a_failure_made_from_outside_the_task_shows_its_one_line() -> None:
    error = TaskTimeout("Task 'slow' exceeded its timeout of 1 s")
    outcome = Outcome.failure("slow", error)
    assert (outcome.ok, outcome.failed_node, outcome.error) == (False, "slow", error)
    assert (
        outcome.traceback == "glacier.errors.TaskTimeout: Task 'slow' exceeded its timeout of 1 s"
    )
    assert outcome.stats == {} and outcome.value is None and outcome.kept is None


def test_a_failure_keeps_the_stats_and_traceback_it_is_given() -> None:
    stats = {"first": NodeStats(0.5, 3)}
    outcome = Outcome.failure("second", KeyError("y"), stats=stats, trace="Traceback: ...")
    assert outcome.stats == stats and outcome.traceback == "Traceback: ..."


def test_a_chain_runs_in_order_and_hands_its_root_on_staged(provider: Provider) -> None:
    steps = [
        Step(node="make", fn=_frame, args=(ParamRef("n"),)),
        Step(node="plus", fn=_plus, args=(Ref("make"),), kwargs={"k": 10}),
    ]
    outcome = run_unit(steps, Handoff.STAGED, {}, {"n": 4}, _target(provider))
    assert outcome.ok, outcome.traceback
    assert isinstance(outcome.value, StagedFrame) and outcome.kept == outcome.value
    assert outcome.value.read()["x"].to_list() == [10, 11, 12, 13]
    assert list(outcome.stats) == ["make", "plus"]
    assert outcome.stats["make"].rows is None  # a fused member's rows are not counted
    assert outcome.stats["plus"].rows == 4 and (outcome.stats["plus"].bytes or 0) > 0


@pytest.mark.parametrize(
    ("handoff", "keep", "value_type", "kept"),
    [
        (Handoff.MEMORY, False, pl.LazyFrame, False),
        (Handoff.COLLECT, False, pl.DataFrame, False),
        (Handoff.COLLECT, True, pl.DataFrame, True),
    ],
)
def test_in_process_hand_offs(
    provider: Provider, handoff: Handoff, keep: bool, value_type: type, kept: bool
) -> None:
    steps = [Step(node="make", fn=_frame, args=(3,))]
    outcome = run_unit(steps, handoff, {}, {}, _target(provider, keep))
    assert isinstance(outcome.value, value_type)
    assert (outcome.kept is not None) == kept
    if outcome.kept is not None:
        assert outcome.kept.read().equals(outcome.value)


def test_a_failing_step_keeps_what_finished_and_its_traceback(provider: Provider) -> None:
    steps = [
        Step(node="make", fn=_frame, args=(3,)),
        Step(node="broken", fn=_broken, args=(Ref("make"),)),
        Step(node="after", fn=_plus, args=(Ref("broken"), 1)),
    ]
    outcome = run_unit(steps, Handoff.COLLECT, {}, {}, _target(provider))
    assert not outcome.ok and outcome.failed_node == "broken"
    assert isinstance(outcome.error, ValueError)
    assert list(outcome.stats) == ["make"]
    assert outcome.traceback is not None
    assert 'raise ValueError("no column y")' in outcome.traceback and "_broken" in outcome.traceback


class _Recorder:
    """A backend's step runner: runs each step its own way and stages every output itself."""

    def __init__(self, provider: Provider) -> None:
        self.staging = Staging(provider, "recorder")
        self.calls: list[str] = []

    def call(self, step: Step, scope: Scope) -> StagedFrame:
        self.calls.append(step.node)
        inputs = [scope.value(a) for a in step.args if isinstance(a, Ref)]
        assert all(isinstance(i, StagedFrame) for i in inputs)  # references, not scans
        frames = [i.scan() for i in inputs] or [_frame(2)]
        out = pl.concat(frames).with_columns(x=pl.col("x") * 2)
        key = self.staging.key_for(step.node)
        return OutputTarget(self.staging.provider, self.staging.bucket, key).put(out)

    def hand_on(
        self, value: Any, handoff: Handoff, target: OutputTarget
    ) -> tuple[Any, StagedFrame | None]:
        return value, None


def test_a_backend_supplies_only_how_a_step_runs(provider: Provider) -> None:
    out = provider.bucket(bucket="out", path="doubled.parquet")
    runner = _Recorder(provider)
    steps = [
        Step(node="first"),
        Step(node="second", args=(Ref("first"),)),
        Step(node="write", sink=out, args=(Ref("second"),)),
    ]
    outcome = run_unit(steps, Handoff.SINK, {}, {}, _target(provider), runner)
    assert outcome.ok, outcome.traceback
    assert runner.calls == ["first", "second"]  # the sink is the loop's
    assert pl.read_parquet(out.uri)["x"].to_list() == [0, 4]
    assert {n: s.rows for n, s in outcome.stats.items()} == {"first": 2, "second": 2, "write": 2}
    assert outcome.value is None and outcome.kept is None
