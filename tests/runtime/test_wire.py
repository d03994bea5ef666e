"""The cloud-mode wire format: values as tagged JSON, events that only name code."""

from __future__ import annotations

import base64
import datetime as dt
import enum
import json
import pickle
import subprocess
import sys
from decimal import Decimal
from pathlib import PurePath
from typing import NamedTuple

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Provider
from glacier.config import LocalConfig
from glacier.errors import DeploymentError, TaskOutOfMemory
from glacier.runtime.staging import StagedFrame
from glacier.runtime.wire import (
    EVENT_FORMAT,
    BadEvent,
    Code,
    NotPortable,
    RemoteTaskError,
    execute_event,
    from_json,
    outcome_from,
    outcome_json,
    to_json,
)
from glacier.runtime.worker import Outcome


class Color(enum.Enum):
    RED = "red"


class Pair(NamedTuple):
    left: int
    right: str


@pytest.fixture
def provider(tmp_path: object) -> Provider:
    return Provider(LocalConfig(base_path=str(tmp_path)))


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        3,
        2.5,
        "text",
        [1, "a", None],
        {"a": 1, "b": [2]},
        {1: "int key", "$x": "dollar key"},
        (1, "two", (3,)),
        Pair(1, "r"),
        {1, 2, 3},
        dt.date(1995, 3, 15),
        dt.datetime(1995, 3, 15, 12, 30, tzinfo=dt.UTC),
        dt.timedelta(seconds=90),
        Decimal("0.10"),
        PurePath("a/b.parquet"),
        Color.RED,
        b"\x00\x01",
    ],
)
def test_plain_values_survive_json(value: object, provider: Provider) -> None:
    wire = json.loads(json.dumps(to_json(value)))
    back = from_json(wire, provider, __name__)
    assert back == value and type(back) is type(value)


def test_frames_travel_as_data_and_staged_frames_as_references(provider: Provider) -> None:
    frame = pl.DataFrame({"x": [1, 2], "s": ["a", None]})
    assert_frame_equal(from_json(json.loads(json.dumps(to_json(frame))), provider), frame)
    schema = pl.Schema({"x": pl.UInt32, "s": pl.Categorical()})
    staged = StagedFrame("s3://b/k.parquet", 2, provider, 100, "abc", schema)
    wire = json.loads(json.dumps(to_json(staged)))
    assert "rows" in wire["$staged"] and "x" not in json.dumps(wire["$staged"]["uri"])
    back = from_json(wire, provider)
    assert (back.uri, back.rows, back.bytes, back.checksum) == ("s3://b/k.parquet", 2, 100, "abc")
    assert back.schema == schema and back.provider is provider


def test_an_object_that_is_not_plain_data_is_refused() -> None:
    with pytest.raises(NotPortable, match="cannot be sent"):
        to_json(object())


def test_errors_come_back_as_their_types_without_importing_user_code(provider: Provider) -> None:
    def round_trip(error: BaseException) -> BaseException:
        reply = json.loads(json.dumps(outcome_json(Outcome.failure("t", error))))
        back = outcome_from(reply, provider, __name__).error
        assert back is not None
        return back

    value_error = round_trip(ValueError("bad row"))
    assert type(value_error) is ValueError and str(value_error) == "bad row"
    oom = round_trip(TaskOutOfMemory("over 128 MB"))
    assert type(oom) is TaskOutOfMemory
    custom = round_trip(Pair.__class__("x", (Exception,), {})("mine"))  # a class made here
    assert isinstance(custom, RemoteTaskError) and "mine" in str(custom)


def test_a_pickled_payload_is_refused_without_being_loaded(provider: Provider) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, ...]:
            raise AssertionError("the handler unpickled the payload")

    payload = base64.b64encode(pickle.dumps({"x": 1})).decode()
    code = Code("p", "m", "sha256:0")
    for event in ({"invocation": payload}, {"format": "pickle", "payload": payload}, []):
        with pytest.raises(BadEvent, match="not a Glacier invocation"):
            execute_event(event, None, "fn", code, provider)  # type: ignore[arg-type]


def test_an_event_for_other_code_fails_naming_the_fix(provider: Provider) -> None:
    event = {
        "format": EVENT_FORMAT,
        "pipeline": "p",
        "digest": "sha256:old",
        "nodes": ["t"],
    }
    reply = execute_event(event, None, "fn", Code("p", "m", "sha256:new"), provider)  # type: ignore[arg-type]
    outcome = outcome_from(reply, provider, "m")
    assert not outcome.ok and isinstance(outcome.error, DeploymentError)
    assert "glacier package" in str(outcome.error) and "terraform apply" in str(outcome.error)


def test_the_deployed_entry_point_loads_no_pickle_library() -> None:
    """What a deployed function imports cannot unpickle: cloudpickle is not even loaded."""
    code = (
        "import sys\n"
        "import glacier.deployed, glacier.runtime.wire\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'cloudpickle', 'dill'}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
