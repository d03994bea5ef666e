"""``-p NAME=VALUE`` parsed by annotation: every type, valid and invalid, and inspect's round trip.

This module uses ``from __future__ import annotations`` on purpose: the pipelines below have
string annotations, which the parser must evaluate as ``typing.get_type_hints`` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

import pytest

from glacier import Provider, pipeline
from glacier.cli.params import (
    ParamInfo,
    ParamValueError,
    example,
    format_arg,
    param_infos,
    param_types,
    parse_args,
    parse_value,
    type_name,
)
from glacier.config import LocalConfig

if TYPE_CHECKING:
    from fractions import Fraction  # only for the type checker: does not evaluate at run time


class Colour(Enum):
    red = "r"
    green = "g"


class Level(IntEnum):
    low = 1
    high = 2


VALID: list[tuple[Any, str, Any]] = [
    (str, "hello world", "hello world"),
    (str, "", ""),
    (str, "none", "none"),
    (int, "42", 42),
    (int, "-3", -3),
    (int, " 7 ", 7),
    (float, "0.25", 0.25),
    (float, "3", 3.0),
    (float, "-1e3", -1000.0),
    (bool, "true", True),
    (bool, "TRUE", True),
    (bool, "Yes", True),
    (bool, "1", True),
    (bool, "false", False),
    (bool, "No", False),
    (bool, "0", False),
    (Decimal, "19.99", Decimal("19.99")),
    (Decimal, "-0.001", Decimal("-0.001")),
    (date, "1995-03-15", date(1995, 3, 15)),
    (datetime, "1995-03-15T08:30:00", datetime(1995, 3, 15, 8, 30)),
    (datetime, "1995-03-15 08:30", datetime(1995, 3, 15, 8, 30)),
    (datetime, "1995-03-15", datetime(1995, 3, 15)),
    (
        datetime,
        "1995-03-15T08:30:00+02:00",
        datetime(1995, 3, 15, 8, 30, tzinfo=timezone(timedelta(hours=2))),
    ),
    (datetime, "1995-03-15T08:30:00Z", datetime(1995, 3, 15, 8, 30, tzinfo=UTC)),
    (Path, "data/in.csv", Path("data/in.csv")),
    (PurePosixPath, "/srv/x", PurePosixPath("/srv/x")),
    (Colour, "red", Colour.red),  # by name
    (Colour, "g", Colour.green),  # by value
    (Level, "high", Level.high),
    (Level, "1", Level.low),
    (Literal["a", "b"], "b", "b"),
    (Literal[1, 2], "2", 2),
    (Literal[True], "yes", True),
    (Literal["x", None], "null", None),
    (Literal[Colour.red], "red", Colour.red),
    (list[str], "EU,US", ["EU", "US"]),
    (list[str], "EU, US ", ["EU", "US"]),
    (list[str], "EU", ["EU"]),
    (list[int], "1,2,3", [1, 2, 3]),
    (list[int], "", []),
    (list[int], "[1, 2]", [1, 2]),  # a JSON array, as the CLI accepted before annotations
    (list[str], '["a,b", "c"]', ["a,b", "c"]),
    (list[bool], "[true, 0]", [True, False]),
    (list[date], "1995-03-15,1995-03-31", [date(1995, 3, 15), date(1995, 3, 31)]),
    (list[Colour], "red,g", [Colour.red, Colour.green]),
    (list[int | None], "1,none", [1, None]),
    (list, "a,b", ["a", "b"]),
    (Sequence[int], "1,2", [1, 2]),
    (set[int], "1,2,1", {1, 2}),
    (frozenset[str], "a", frozenset({"a"})),
    (tuple[int, ...], "1,2", (1, 2)),
    (tuple[int, str], "1,x", (1, "x")),
    (int | None, "none", None),
    (int | None, "NULL", None),
    (int | None, "5", 5),
    (Optional[date], "1995-03-15", date(1995, 3, 15)),  # noqa: UP045 - the spelling under test
    (Union[int, date], "1995-03-15", date(1995, 3, 15)),  # noqa: UP007 - the spelling under test
    (int | str, "abc", "abc"),
    (list[str] | None, "none", None),
    (Any, "as is", "as is"),
    (object, "as is", "as is"),
]


@pytest.mark.parametrize(("tp", "raw", "expected"), VALID, ids=repr)
def test_valid_values_parse_to_the_annotated_type(tp: Any, raw: str, expected: Any) -> None:
    value = parse_value(raw, tp)
    assert value == expected
    assert type(value) is type(expected)  # True == 1, so the type is checked too
    if isinstance(value, (list, tuple)):
        assert [type(v) for v in value] == [type(v) for v in expected]


INVALID: list[tuple[Any, str, str]] = [
    (int, "abc", "'abc' is not a valid int"),
    (int, "1.5", "'1.5' is not a valid int"),
    (int, "", "'' is not a valid int"),
    (int, "none", "'none' is not a valid int"),
    (float, "fast", "'fast' is not a valid float"),
    (bool, "maybe", "'maybe' is not a valid bool"),
    (bool, "", "'' is not a valid bool"),
    (Decimal, "1,5", "'1,5' is not a valid Decimal"),
    (date, "1995-13-01", "'1995-13-01' is not a valid date (month must be in 1..12)"),
    (date, "15/03/1995", "'15/03/1995' is not a valid date"),
    (date, "1995-03-15T08:30:00", "is not a valid date"),
    (datetime, "tomorrow", "'tomorrow' is not a valid datetime"),
    (Path, "", "an empty value is not a Path"),
    (Colour, "purple", "'purple' is not a Colour (members: red, green; or give a member's value)"),
    (Level, "3", "'3' is not a Level"),
    (Literal["a", "b"], "c", "'c' is not one of a, b"),
    (Literal[1, 2], "x", "'x' is not one of 1, 2"),
    (list[int], "1,x", "element 2 of '1,x': 'x' is not a valid int"),
    (list[date], "1995-03-15,", "element 2 of '1995-03-15,': '' is not a valid date"),
    (tuple[int, int], "1", "'1' has 1 comma-separated values; tuple[int, int] takes 2"),
    (int | None, "abc", "'abc' is not a valid int; give none or null for None"),
    (int | date, "x", "'x' is not a valid int; 'x' is not a valid date"),
]


@pytest.mark.parametrize(("tp", "raw", "message"), INVALID, ids=repr)
def test_invalid_values_say_why(tp: Any, raw: str, message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_value(raw, tp)
    assert message in str(info.value)


class Custom:
    pass


@pytest.mark.parametrize(
    ("tp", "name"),
    [
        (dict[str, int], "dict[str, int]"),
        (Custom, "Custom"),
        (list[dict[str, int]], "dict[str, int]"),
        (int | Custom, "Custom"),
        (bytes, "bytes"),
    ],
)
def test_unsupported_annotations_are_an_error_naming_them(tp: Any, name: str) -> None:
    with pytest.raises(ParamValueError, match=r"-p cannot parse its annotation") as info:
        parse_value("1", tp)
    assert name in str(info.value)
    assert "Pass the value from Python" in str(info.value)


@pytest.mark.parametrize(("tp", "_raw", "_expected"), VALID, ids=repr)
def test_every_example_is_a_valid_value(tp: Any, _raw: str, _expected: Any) -> None:
    parse_value(example(tp), tp)


@pytest.mark.parametrize(
    ("value", "tp", "text"),
    [
        (date(1995, 3, 15), date, "1995-03-15"),
        (datetime(1995, 3, 15, 8, 30), datetime, "1995-03-15T08:30:00"),
        (["EU", "US"], list[str], "EU,US"),
        ([], list[str], ""),
        ({"b", "a"}, set[str], "a,b"),  # sorted: the same text on every run
        ((1, "x"), tuple[int, str], "1,x"),
        (Colour.green, Colour, "green"),
        (Level.high, Level, "high"),
        (True, bool, "true"),
        (None, int | None, "none"),
        (Decimal("19.90"), Decimal, "19.90"),
        (Path("data/x.csv"), Path, "data/x.csv"),
        (0.1, float, "0.1"),
        ("hello world", str, "hello world"),
        ("b", Literal["a", "b"], "b"),
    ],
)
def test_defaults_are_written_as_text_that_parses_back(value: Any, tp: Any, text: str) -> None:
    assert format_arg(value, tp) == text
    assert parse_value(text, tp) == value


@pytest.mark.parametrize(
    ("value", "tp"),
    [
        (["a,b"], list[str]),  # the comma would split it
        ("none", str | None),  # would come back as None
        (math.nan, float),  # nan != nan
        ({"a": 1}, dict[str, int]),
    ],
)
def test_defaults_that_do_not_survive_the_round_trip_are_not_written(value: Any, tp: Any) -> None:
    assert format_arg(value, tp) is None


# --- on a pipeline: annotations read with get_type_hints, defaults, errors ---------------------

provider = Provider(config=LocalConfig(base_path="."))
here = provider.local()


@here.task()
def echo(value: Any) -> Any:
    return value


def _typed(
    day: date,
    min_qty: int = 0,
    regions: list[str] = ["EU", "US"],  # noqa: B006 - a default the body never mutates
    colour: Colour = Colour.red,
    until: date | None = None,
    limit=10,  # no annotation: the default's type
    since=date(1995, 1, 1),
    codes=(1, 2),
    label=None,  # no annotation and no usable default: text, or None
    note="hi",
    anything: Any = "x",
    count: int = None,  # type: ignore[assignment]  # noqa: RUF013 - implicitly optional
    options: dict[str, int] = {},  # noqa: B006
) -> Any:
    return echo(day)


typed = pipeline(name="typed_params")(_typed)


def test_param_types_come_from_annotations_then_defaults() -> None:
    assert param_types(typed) == {
        "day": date,
        "min_qty": int,
        "regions": list[str],
        "colour": Colour,
        "until": date | None,
        "limit": int,
        "since": date,
        "codes": tuple[int, ...],
        "label": str | None,
        "note": str,
        "anything": str,
        "count": int | None,
        "options": dict[str, int],
    }


def test_parse_args_gives_the_body_typed_values() -> None:
    values = parse_args(
        typed,
        {
            "day": "1995-03-15",
            "min_qty": "5",
            "regions": "EU,APAC",
            "colour": "g",
            "until": "none",
            "limit": "3",
            "codes": "7",
            "label": "null",
            "count": "4",
            "unknown": "left for bind_params",
        },
    )
    assert values == {
        "day": date(1995, 3, 15),
        "min_qty": 5,
        "regions": ["EU", "APAC"],
        "colour": Colour.green,
        "until": None,
        "limit": 3,
        "codes": (7,),
        "label": None,
        "count": 4,
        "unknown": "left for bind_params",
    }


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        (
            "min_qty",
            "abc",
            "Parameter 'min_qty' (int) of pipeline 'typed_params': 'abc' is not a valid int. "
            "Example: -p min_qty=10",
        ),
        (
            "day",
            "15/03/1995",
            "Parameter 'day' (date) of pipeline 'typed_params': '15/03/1995' is not a valid "
            "date (Invalid isoformat string: '15/03/1995'). Example: -p day=1995-03-15",
        ),
        ("regions", "", None),
        (
            "colour",
            "blue",
            "Parameter 'colour' (Colour) of pipeline 'typed_params': 'blue' is not a Colour "
            "(members: red, green; or give a member's value). Example: -p colour=red",
        ),
        (
            "options",
            "a=1",
            "Parameter 'options' (dict[str, int]) of pipeline 'typed_params': -p cannot parse "
            "its annotation dict[str, int]",
        ),
    ],
)
def test_parse_args_errors_name_parameter_type_and_example(
    name: str, raw: str, message: str | None
) -> None:
    if message is None:
        assert parse_args(typed, {name: raw}) == {name: []}
        return
    with pytest.raises(ParamValueError) as info:
        parse_args(typed, {name: raw})
    assert message in str(info.value)


def _unresolvable(ratio: Fraction = None, day: date = date(1995, 3, 15)) -> Any:  # type: ignore[assignment]  # noqa: RUF013
    return echo(day)


unresolvable = pipeline(name="unresolvable_params")(_unresolvable)


def test_an_annotation_that_does_not_evaluate_spoils_only_its_parameter() -> None:
    assert parse_args(unresolvable, {"day": "1995-03-31"}) == {"day": date(1995, 3, 31)}
    with pytest.raises(ParamValueError) as info:
        parse_args(unresolvable, {"ratio": "1/2"})
    assert "Parameter 'ratio' (Fraction) of pipeline 'unresolvable_params'" in str(info.value)
    assert "does not evaluate (NameError: name 'Fraction' is not defined)" in str(info.value)
    assert "not only under `if TYPE_CHECKING:`" in str(info.value)


def test_param_infos_show_defaults_as_pasteable_text() -> None:
    infos = {i.name: i for i in param_infos(typed)}
    assert infos["day"] == ParamInfo("day", "date", True, None, "day=1995-03-15", None)
    assert infos["regions"].arg == "regions=EU,US"
    assert infos["colour"].arg == "colour=red"
    assert infos["until"].arg == "until=none"
    assert infos["since"].arg == "since=1995-01-01"
    assert infos["codes"].arg == "codes=1,2"
    assert infos["note"].arg == "note=hi"
    assert infos["options"].arg is None
    assert infos["options"].example is None
    assert infos["options"].error is not None and "dict[str, int]" in infos["options"].error
    for info in infos.values():  # what inspect prints parses back to the default
        if info.arg is not None:
            name, _, text = info.arg.partition("=")
            assert parse_args(typed, {name: text})[name] == typed.params[name].default


def test_type_names_read_as_written() -> None:
    assert type_name(int) == "int"
    assert type_name(list[date]) == "list[date]"
    assert type_name(date | None) == "date | None"
    assert type_name(Literal["a", "b"]) == "Literal['a', 'b']"
    assert type_name(Colour) == "Colour"
