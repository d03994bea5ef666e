"""``-p NAME=VALUE`` on the command line: text parsed by the pipeline parameter's annotation.

A pipeline function is the only place its parameters' types are written, so the CLI reads them
there (``typing.get_type_hints``, so ``from __future__ import annotations`` works) and hands the
body real values: ``-p day=1995-03-15`` is a ``datetime.date`` for ``day: date``.

What each annotation accepts:

* ``str`` the text as is; ``int``; ``float``; ``Decimal``;
* ``bool``: ``true/false``, ``1/0``, ``yes/no`` in any case;
* ``date``, ``datetime``: ISO 8601 (``1995-03-15``, ``1995-03-15T08:30:00+00:00``);
* ``Path`` (any ``PurePath`` class): a non-empty path;
* an ``Enum``: a member's name, or its value as text; ``Literal[...]``: one of its values;
* ``list[X]``, ``set[X]``, ``frozenset[X]``, ``tuple[X, ...]``, ``tuple[X, Y]``, ``Sequence[X]``:
  comma-separated elements, each parsed as ``X`` (``-p regions=EU,US``; empty text is empty; a
  JSON array is also accepted);
* ``X | None`` / ``Optional[X]``, or any parameter whose default is ``None``: ``none`` or
  ``null`` gives ``None``; other unions try their members in order;
* no annotation, ``Any`` or ``object``: the type of the default when it has one of the types
  above, otherwise the text as is.

Any other annotation (``dict``, a class of the user's) is a :class:`ParamValueError` when the
parameter is given with ``-p``, rather than a string the body did not ask for: values of such
parameters come from Python (``pipeline.run(name=...)``) or from their default.
"""

from __future__ import annotations

import inspect
import json
import shlex
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, Literal, Union

from glacier.errors import ParameterError

if TYPE_CHECKING:
    from glacier.pipelines import Pipeline

NONE_WORDS = frozenset({"none", "null"})
TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
SUPPORTED = (
    "str, int, float, bool, Decimal, date, datetime, Path, an Enum, Literal[...], list/set/tuple "
    "of those, or X | None"
)


class ParamValueError(ParameterError):
    """A ``-p`` value does not parse as its parameter's type, or the type cannot be parsed."""


class _Invalid(ValueError):
    """Raised by a parser with the reason the text is not a value of its type."""


@dataclass(frozen=True)
class Unresolved:
    """An annotation ``typing.get_type_hints`` could not evaluate, kept to name it in errors."""

    text: str
    error: str


Parser = Callable[[str], Any]


def _parse_bool(raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError


def _parse_decimal(raw: str) -> Decimal:
    try:
        return Decimal(raw.strip())
    except InvalidOperation:
        raise ValueError from None


@dataclass(frozen=True)
class _Scalar:
    convert: Callable[[str], Any]
    examples: tuple[str, str]
    explain: bool = False  # whether the conversion's own error message helps the user


_SCALARS: dict[type, _Scalar] = {
    str: _Scalar(str, ("abc", "xyz")),
    int: _Scalar(int, ("10", "20")),
    float: _Scalar(float, ("0.5", "1.5")),
    bool: _Scalar(_parse_bool, ("true", "false")),
    Decimal: _Scalar(_parse_decimal, ("19.99", "5.00")),
    date: _Scalar(date.fromisoformat, ("1995-03-15", "1995-03-31"), explain=True),
    datetime: _Scalar(datetime.fromisoformat, ("1995-03-15T08:30:00", "1995-03-15T17:00:00"), True),
}
_PATH_EXAMPLES = ("data/input.parquet", "data/output.parquet")
_COLLECTIONS: dict[Any, type] = {
    list: list,
    set: set,
    frozenset: frozenset,
    tuple: tuple,
    Sequence: list,
}
_UNIONS = (Union, types.UnionType)


# --- which type each parameter has --------------------------------------------------------------


def param_types(pipeline: Pipeline) -> dict[str, Any]:
    """Each run parameter's type as ``-p`` parses it: its annotation, or what its default says."""
    hints = _resolve(pipeline.fn, pipeline.params)
    return {
        name: effective_type(hints.get(name, Any), param.default)
        for name, param in pipeline.params.items()
    }


def _resolve(fn: Callable[..., Any], params: Mapping[str, inspect.Parameter]) -> dict[str, Any]:
    """Evaluated annotations; one that does not evaluate spoils only its own parameter."""
    try:
        return typing.get_type_hints(fn)
    except Exception:  # any error in any annotation: evaluate them one by one
        pass
    namespace = getattr(inspect.unwrap(fn), "__globals__", {})
    hints: dict[str, Any] = {}
    for name, param in params.items():
        if param.annotation is param.empty:
            continue
        holder = types.SimpleNamespace(__annotations__={name: param.annotation})
        try:
            hints[name] = typing.get_type_hints(holder, globalns=namespace)[name]
        except Exception as exc:  # kept, and reported if the parameter is given
            hints[name] = Unresolved(str(param.annotation), f"{type(exc).__name__}: {exc}")
    return hints


def effective_type(annotation: Any, default: Any) -> Any:
    """The annotation; for none (or ``Any``) the default's type; ``| None`` if the default is."""
    if annotation in (Any, object):
        annotation = _type_of(default)
    if default is None and not _admits_none(annotation):
        return annotation | None
    return annotation


def _type_of(default: Any) -> Any:
    """The type of a default ``-p`` can parse, else ``str``; a collection's from its items."""
    if isinstance(default, (list, set, frozenset, tuple)):
        element_types = {_type_of(item) for item in default}
        element = element_types.pop() if len(element_types) == 1 else str
        if isinstance(default, tuple):
            return types.GenericAlias(tuple, (element, ...))
        return types.GenericAlias(type(default), (element,))
    kind = type(default)
    if kind in _SCALARS or isinstance(default, (Enum, PurePath)):
        return kind
    return str


def _admits_none(annotation: Any) -> bool:
    if isinstance(annotation, Unresolved):
        return True  # leave it as written; the error names it
    if typing.get_origin(annotation) in (*_UNIONS, Literal):
        choices = typing.get_args(annotation)
        return None in choices or type(None) in choices
    return annotation is type(None)


# --- parsing ------------------------------------------------------------------------------------


def parse_args(pipeline: Pipeline, raw: Mapping[str, str]) -> dict[str, Any]:
    """Every ``-p`` value parsed by its parameter's type; unknown names pass through unparsed.

    Unknown names are left for :meth:`Pipeline.bind_params`, whose error lists the parameters.
    """
    types_by_name = param_types(pipeline)
    values: dict[str, Any] = {}
    for name, text in raw.items():
        if name not in types_by_name:
            values[name] = text
            continue
        tp = types_by_name[name]
        described = f"Parameter {name!r} ({type_name(tp)}) of pipeline {pipeline.name!r}"
        try:
            values[name] = parse_value(text, tp)
        except _Invalid as exc:
            raise ParamValueError(
                f"{described}: {exc}. Example: -p {shlex.quote(f'{name}={example(tp)}')}"
            ) from None
        except ParamValueError as exc:
            raise ParamValueError(f"{described}: {exc}") from None
    return values


def parse_value(raw: str, tp: Any) -> Any:
    """``raw`` as a value of ``tp``: a ``ValueError`` saying why if it is not one, a
    :class:`ParamValueError` if ``tp`` is not a type ``-p`` parses."""
    return _parser(tp)(raw)


def _parser(tp: Any) -> Parser:
    if isinstance(tp, Unresolved):
        raise ParamValueError(
            f"its annotation {tp.text!r} does not evaluate ({tp.error}). Import what it names at "
            f"module level, not only under `if TYPE_CHECKING:`"
        )
    if tp in (Any, object):
        return str
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is None and isinstance(tp, type):
        if issubclass(tp, Enum):
            return lambda raw: _parse_enum(tp, raw)
        if issubclass(tp, PurePath):
            return lambda raw: _parse_path(tp, raw)
        if tp in _SCALARS:
            return lambda raw: _parse_scalar(tp, raw)
        if tp in _COLLECTIONS:
            return _collection_parser(tp, _COLLECTIONS[tp], (str, ...))
    if origin is Literal:
        return lambda raw: _parse_literal(args, raw)
    if origin in _UNIONS:
        return _union_parser(tp, args)
    if origin in _COLLECTIONS:
        return _collection_parser(tp, _COLLECTIONS[origin], args)
    raise ParamValueError(
        f"-p cannot parse its annotation {type_name(tp)}; it parses {SUPPORTED}. Pass the value "
        f"from Python (pipeline.run(...)), or change the annotation"
    )


def _parse_scalar(tp: type, raw: str) -> Any:
    scalar = _SCALARS[tp]
    try:
        return scalar.convert(raw)
    except ValueError as exc:
        detail = f" ({exc})" if scalar.explain and str(exc) else ""
        raise _Invalid(f"{raw!r} is not a valid {type_name(tp)}{detail}") from None


def _parse_path(tp: type[PurePath], raw: str) -> PurePath:
    if not raw.strip():
        raise _Invalid(f"an empty value is not a {tp.__name__}")
    return tp(raw)


def _parse_enum(tp: type[Enum], raw: str) -> Enum:
    text = raw.strip()
    if text in tp.__members__:
        return tp.__members__[text]
    for member in tp:
        if str(member.value) == text:
            return member
    names = ", ".join(tp.__members__)
    raise _Invalid(f"{raw!r} is not a {tp.__name__} (members: {names}; or give a member's value)")


def _parse_literal(choices: tuple[Any, ...], raw: str) -> Any:
    for choice in choices:
        if choice is None:
            if raw.strip().lower() in NONE_WORDS:
                return None
            continue
        try:
            if parse_value(raw, type(choice)) == choice:
                return choice
        except (_Invalid, ParamValueError):
            continue
    raise _Invalid(f"{raw!r} is not one of {', '.join(_format(c) or repr(c) for c in choices)}")


def _union_parser(tp: Any, members: tuple[Any, ...]) -> Parser:
    optional = type(None) in members
    parsers = [_parser(m) for m in members if m is not type(None)]

    def parse(raw: str) -> Any:
        if optional and raw.strip().lower() in NONE_WORDS:
            return None
        reasons = []
        for member_parser in parsers:
            try:
                return member_parser(raw)
            except _Invalid as exc:
                reasons.append(str(exc))
        if optional:
            reasons.append("give none or null for None")
        raise _Invalid("; ".join(reasons))

    return parse


def _collection_parser(tp: Any, make: type, args: tuple[Any, ...]) -> Parser:
    homogeneous = make is not tuple or not args or (len(args) == 2 and args[1] is Ellipsis)
    element_types = (args[0] if args else str,) if homogeneous else args
    parsers = [_parser(t) for t in element_types]

    def parse(raw: str) -> Any:
        items = _split(raw)
        if not homogeneous and len(items) != len(parsers):
            raise _Invalid(
                f"{raw!r} has {len(items)} comma-separated values; {type_name(tp)} takes "
                f"{len(parsers)}"
            )
        values = []
        for i, item in enumerate(items):
            try:
                values.append(parsers[0 if homogeneous else i](item))
            except _Invalid as exc:
                raise _Invalid(f"element {i + 1} of {raw!r}: {exc}") from None
        return make(values)

    return parse


def _split(raw: str) -> list[str]:
    """Comma-separated elements, stripped; a JSON array's elements as text."""
    if raw.lstrip().startswith("["):
        try:
            decoded = json.loads(raw)
        except ValueError:
            decoded = None
        if isinstance(decoded, list):
            return [item if isinstance(item, str) else json.dumps(item) for item in decoded]
    if not raw.strip():
        return []
    return [item.strip() for item in raw.split(",")]


# --- writing values back ------------------------------------------------------------------------


def type_name(tp: Any) -> str:
    """``int``, ``date``, ``list[str]``, ``int | None``: the annotation as a user wrote it."""
    if isinstance(tp, Unresolved):
        return tp.text
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    return repr(tp).replace("typing.", "").replace("datetime.", "").replace("decimal.", "")


def example(tp: Any) -> str:
    """A valid ``-p`` value for ``tp``, for error messages."""
    return next(iter(_examples(tp)), "...")


def _examples(tp: Any) -> tuple[str, ...]:
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is None and isinstance(tp, type):
        if issubclass(tp, Enum):
            return tuple(tp.__members__)[:2]
        if issubclass(tp, PurePath):
            return _PATH_EXAMPLES
        if tp in _SCALARS:
            return _SCALARS[tp].examples
        if tp in _COLLECTIONS:
            return (",".join(_SCALARS[str].examples),)
    if origin is Literal:
        return tuple(_format(a) or repr(a) for a in args[:2])
    if origin in _UNIONS:
        return _examples(next(m for m in args if m is not type(None)))
    if origin in _COLLECTIONS:
        if origin is tuple and args and (len(args) != 2 or args[1] is not Ellipsis):
            return (",".join(example(a) for a in args),)
        return (",".join(_examples(args[0] if args else str)),)
    return ("...",)


def format_arg(value: Any, tp: Any) -> str | None:
    """``value`` written as ``-p`` text that parses back to an equal value, else ``None``."""
    text = _format(value)
    try:
        if text is not None and parse_value(text, tp) == value:
            return text
    except (_Invalid, ParamValueError):
        pass
    return None


def _format(value: Any) -> str | None:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return value.name
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [_format(item) for item in value]
        if any(item is None for item in items):
            return None
        texts = [item for item in items if item is not None]
        return ",".join(sorted(texts) if isinstance(value, (set, frozenset)) else texts)
    if isinstance(value, (str, int, float, Decimal, PurePath)):
        return str(value)
    return None


@dataclass(frozen=True)
class ParamInfo:
    """One run parameter as the CLI sees it, for ``glacier inspect``."""

    name: str
    type: str
    required: bool
    arg: str | None
    """``name=value`` for its default, to paste after ``-p``; ``None`` if required or not
    expressible as ``-p`` text."""
    example: str | None
    """``name=value`` with a valid value; ``None`` if ``-p`` cannot parse the type."""
    error: str | None
    """Why ``-p`` cannot parse the type, if it cannot."""


def param_infos(pipeline: Pipeline) -> list[ParamInfo]:
    infos = []
    for name, tp in param_types(pipeline).items():
        default = pipeline.params[name].default
        required = default is inspect.Parameter.empty
        sample: str | None = None
        error: str | None = None
        try:
            _parser(tp)
        except ParamValueError as exc:
            error = str(exc)
        else:
            sample = f"{name}={example(tp)}"
        text = None if required else format_arg(default, tp)
        arg = None if text is None else f"{name}={text}"
        infos.append(ParamInfo(name, type_name(tp), required, arg, sample, error))
    return infos
