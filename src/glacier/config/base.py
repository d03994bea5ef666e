"""What every config shares: the cloud it belongs to, validation helpers and a plain-dict view."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, ClassVar

from glacier.clouds import Cloud as Cloud  # noqa: PLC0414 (re-export: config.base.Cloud)
from glacier.clouds import deployable
from glacier.errors import ConfigError

CLOUDS = frozenset(deployable())
"""The clouds a portable config works on."""
URL_PATTERN = r"https?://[^\s/?#]+(/[^\s?#]*)?"
"""An http(s) endpoint, for every config's ``endpoint_url``."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
    """Base of all configs: frozen, validated in ``__post_init__``, convertible to a dict.

    ``clouds`` lists the clouds a config can be deployed to. Portable configs list all of
    them; a cloud's own configs (``glacier/clouds/<cloud>/config.py``) list one.
    """

    clouds: ClassVar[frozenset[Cloud]] = CLOUDS

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` if a field is out of the real service's limits."""

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-friendly view with the class name, used by plans, caches and reports."""
        out: dict[str, Any] = {"type": type(self).__name__}
        for f in dataclasses.fields(self):
            if f.repr:  # fields hidden from repr hold secrets and never leave the process
                out[f.name] = _plain(getattr(self, f.name))
        return out

    def __getstate__(self) -> dict[str, Any]:
        """Pickles (what is shipped to workers) leave secrets out; workers use their identity."""
        state = dict(self.__dict__)
        for f in dataclasses.fields(self):
            if not f.repr:
                state[f.name] = None
        return state

    @classmethod
    def portable_base(cls) -> type[Config]:
        """The most specific ancestor that works on every cloud, named in error messages."""
        for base in cls.__mro__:
            if isinstance(base, type) and issubclass(base, Config) and base.clouds == CLOUDS:
                return base
        return Config


def native_config(
    config: Config,
    native: Mapping[type[Config], type[Config]],
    cloud: Cloud,
    **overrides: Any,
) -> Config:
    """``config`` as ``native[type(config)]`` with the same fields; other configs pass through.

    Only the exact portable classes convert: a subclass (``SparkConfig``) already says what it
    wants. Each cloud's ``from_portable`` calls this with its own table.
    """
    target = native.get(type(config))
    if target is None:
        return config
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    try:
        return target(**{**fields, **overrides})
    except ConfigError as exc:
        raise ConfigError(
            f"{type(config).__name__} does not fit {target.__name__} on {cloud.value}: {exc}"
        ) from None


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in sorted(value.items())}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, (StrEnum, os.PathLike)):
        return str(value)
    return value


def fail(config: object, field: str, problem: str, fix: str) -> ConfigError:
    """Build the one error shape every config uses: which field, what is wrong, how to fix."""
    return ConfigError(f"{type(config).__name__}.{field}: {problem}. {fix}")


def check_range(config: object, field: str, value: int, low: int, high: int, unit: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise fail(
            config,
            field,
            f"{value!r} is outside {low}..{high} {unit}",
            f"Use a whole number of {unit} between {low} and {high}.",
        )


def check_choice(config: object, field: str, value: str, choices: Iterable[str]) -> None:
    allowed = sorted(choices)
    if value not in allowed:
        raise fail(config, field, f"{value!r} is not supported", f"Use one of {allowed}.")


def check_pattern(
    config: object, field: str, value: str | None, pattern: str, example: str
) -> None:
    if value is not None and not re.fullmatch(pattern, value):
        raise fail(config, field, f"{value!r} is not a valid value", f"Expected e.g. {example!r}.")


def check_labels(config: object, field: str, labels: Mapping[str, str]) -> None:
    if not isinstance(labels, Mapping):
        raise fail(
            config,
            field,
            f"{labels!r} is not a mapping",
            f"Use a dict of str to str, e.g. {field}={{'team': 'data'}}.",
        )
    for key, value in labels.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise fail(
                config,
                field,
                f"{key!r}: {value!r} is not a string pair",
                "Use a dict of str to str.",
            )
