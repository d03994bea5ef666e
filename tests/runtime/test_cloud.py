"""The deployed functions' handler runs an invocation exactly as a local worker process does."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from glacier import Provider
from glacier.config import LocalConfig
from glacier.runtime.cloud import BadEvent, event_for, handle_event, outcome_of
from glacier.runtime.invocation import decode_outcome, encode
from glacier.runtime.worker import Step
from tests.runtime.invocations import invocation


def doubled(limit: int) -> pl.DataFrame:
    return pl.DataFrame({"x": range(limit)}).with_columns(y=pl.col("x") * 2)


def failing() -> pl.DataFrame:
    raise RuntimeError("task broke on purpose")


def test_an_event_runs_the_task_and_stages_its_output(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    step = Step(node="doubled", fn=doubled, args=(5,))
    reply = handle_event(event_for(encode(invocation(provider, step, "runs/x/doubled.parquet"))))
    outcome = decode_outcome(outcome_of(reply), provider)
    assert outcome.ok, outcome.traceback
    assert outcome.value.rows == 5
    assert outcome.value.read().equals(doubled(5))


def test_a_failing_task_comes_back_as_a_failed_outcome(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    step = Step(node="failing", fn=failing)
    reply = handle_event(event_for(encode(invocation(provider, step, "runs/x/failing.parquet"))))
    outcome = decode_outcome(outcome_of(reply), provider)
    assert not outcome.ok
    assert outcome.failed_node == "failing"
    assert "task broke on purpose" in (outcome.traceback or "")


@pytest.mark.parametrize("event", [None, {}, {"invocation": 3}, {"body": "hello"}])
def test_anything_else_is_refused(event: object) -> None:
    with pytest.raises(BadEvent, match="not called directly"):
        handle_event(event)  # type: ignore[arg-type]
