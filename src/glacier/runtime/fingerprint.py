"""Code fingerprints: a hash of everything a task function's result can depend on, but its inputs.

A task's fingerprint covers its bytecode and constants (nested functions and lambdas too), its
defaults, closure values, and every global its code names: a function is followed into its own
code, a module into the attributes the code names on it (``helper.transform``), a class into its
methods and class attributes, each transitively while they are the user's own code. Code that is
installed (the standard library, site-packages, Glacier itself) is not followed: its
distribution's version stands for it. Values are hashed by their content (scalars, containers,
dataclasses, enums, dates, Decimals, paths, Polars expressions, instances of the user's classes);
a value that cannot be hashed that way makes the task :class:`Uncacheable`, naming it, rather
than leave it out of the key.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import fractions
import functools
import hashlib
import importlib.metadata
import json
import logging
import pathlib
import site
import sys
import sysconfig
import types
import uuid
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import polars as pl

from glacier.config.base import Config
from glacier.core.task import Task
from glacier.provider import Provider
from glacier.resources.bucket import Bucket
from glacier.resources.executor import Executor
from glacier.version import __version__

_SCALARS = (int, float, complex, str, bytes, bool, type(None), type(Ellipsis))
_BY_REPR = (
    dt.date,
    dt.time,
    dt.timedelta,
    dt.timezone,
    decimal.Decimal,
    fractions.Fraction,
    pathlib.PurePath,
    uuid.UUID,
    range,
)
"""Types whose ``repr`` is their whole, stable content (``datetime`` is a ``date``)."""


class Uncacheable(Exception):
    """A value a task depends on has no deterministic hash; ``name`` says which."""

    def __init__(self, name: str, value: object) -> None:
        super().__init__(name)
        self.name = name
        self.value_type = type(value).__name__


def code_fingerprint(fn: Callable[..., Any]) -> str:
    """A hash of what ``fn`` computes, stable across processes and runs.

    Raises :class:`Uncacheable` naming the first global or closure value it cannot hash.
    """
    name = getattr(fn, "__qualname__", repr(fn))
    try:
        return _Walk().function(fn, name)
    except RecursionError:  # a value that contains itself, or nests deeper than Python allows
        raise Uncacheable(name, fn) from None


class _Walk:
    """One fingerprint's walk; ``seen`` stops recursion through mutually calling functions."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def function(self, fn: Callable[..., Any], name: str) -> str:
        if not isinstance(fn, types.FunctionType):
            return self.value(fn, name)
        installed = installed_version(fn.__module__)
        if installed is not None:
            return f"{fn.__module__}:{fn.__qualname__}@{installed}"
        if id(fn) in self.seen:
            return f"recursive:{fn.__qualname__}"
        self.seen.add(id(fn))
        digest = hashlib.sha256()
        names: set[str] = set()
        _hash_code(fn.__code__, digest, names)
        for var, cell in zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True):
            try:
                contents = cell.cell_contents
            except ValueError:  # a cell not yet filled (a function defined later in the scope)
                continue
            digest.update(f"{var}={self.global_value(contents, var, names)}".encode())
        digest.update(self.value(fn.__defaults__, f"{name} defaults").encode())
        digest.update(self.value(fn.__kwdefaults__, f"{name} defaults").encode())
        for global_name in sorted(names):
            if global_name in fn.__globals__:
                value = fn.__globals__[global_name]
                part = self.global_value(value, global_name, names)
                digest.update(f"{global_name}={part}".encode())
        return digest.hexdigest()

    def global_value(self, value: object, name: str, names: set[str]) -> str:
        """A global or closure value the code names; of a user module, only the attributes
        the code names (``helper.transform``), since a module also holds what it imports."""
        if isinstance(value, types.ModuleType):
            installed = installed_version(value.__name__)
            if installed is not None:
                return f"module {value.__name__}@{installed}"
            attrs = sorted(a for a in names if a in vars(value))
            return _digest(
                f"{a}={self.global_value(vars(value)[a], f'{name}.{a}', names)}" for a in attrs
            )
        return self.value(value, name)

    def value(self, value: object, name: str) -> str:
        """A deterministic hash of ``value``'s content, or :class:`Uncacheable`."""
        if isinstance(value, _SCALARS):
            return f"{type(value).__name__}:{value!r}"
        if isinstance(value, enum.Enum):
            cls = type(value)
            return (
                f"{cls.__module__}:{cls.__qualname__}.{value.name}={self.value(value.value, name)}"
            )
        if isinstance(value, (*_BY_REPR, pl.DataType)):
            return f"{type(value).__name__}:{value!r}"
        if isinstance(value, (tuple, list)):
            return _digest([type(value).__name__, *(self.value(v, name) for v in value)])
        if isinstance(value, (set, frozenset)):
            return _digest([type(value).__name__, *sorted(self.value(v, name) for v in value)])
        if isinstance(value, dict):
            items = sorted(f"{self.value(k, name)}:{self.value(v, name)}" for k, v in value.items())
            return _digest([type(value).__name__, *items])
        if isinstance(value, types.FunctionType):
            return self.function(value, name)
        if isinstance(value, types.BuiltinFunctionType):
            module = value.__module__ or "builtins"
            return f"builtin {module}:{value.__qualname__}@{installed_version(module)}"
        if isinstance(value, types.MethodType):
            return _digest(
                ["method", self.value(value.__func__, name), self.value(value.__self__, name)]
            )
        if isinstance(value, functools.partial):
            parts = (value.func, value.args, value.keywords)
            return _digest(["partial", *(self.value(v, name) for v in parts)])
        if isinstance(value, type):
            return self.cls(value, name)
        if isinstance(value, pl.Expr):
            return _digest(["expr", value.meta.serialize(format="json")])
        if isinstance(value, logging.Logger):
            return "logger"  # where messages go never changes what a task returns
        return self.glacier_object(value, name)

    def glacier_object(self, value: object, name: str) -> str:
        """Glacier's own objects a task may close over: by what they are, not by identity."""
        if isinstance(value, Task):
            return self.function(value.fn, name)
        if isinstance(value, Provider):
            return _digest(["provider", json.dumps(value.config.to_dict(), default=str)])
        if isinstance(value, (Bucket, Executor, Config)):
            described = json.dumps(value.to_dict(), sort_keys=True, default=str)
            return _digest([type(value).__qualname__, described])
        return self.instance(value, name)

    def cls(self, cls: type, name: str) -> str:
        installed = installed_version(cls.__module__)
        if installed is not None:
            return f"class {cls.__module__}:{cls.__qualname__}@{installed}"
        if id(cls) in self.seen:
            return f"recursive:{cls.__qualname__}"
        self.seen.add(id(cls))
        parts = [cls.__qualname__, *(self.cls(b, name) for b in cls.__bases__)]
        if issubclass(cls, enum.Enum):
            parts += (f"{m.name}={self.value(m.value, name)}" for m in cls)
        for attr, member in sorted(vars(cls).items()):
            if _internal(attr) and not isinstance(member, types.FunctionType):
                continue  # dunders and enum's _sunder_ internals, but methods like __call__
            if isinstance(member, _INSTANCE_FIELDS):
                continue  # slots, C-level attributes, NamedTuple fields: values are the instance's
            parts.append(f"{attr}={self.value(_unwrap(member), f'{name}.{attr}')}")
        return _digest(parts)

    def instance(self, value: object, name: str) -> str:
        """A dataclass, or an object of the user's own class: its class and its fields."""
        cls = type(value)
        if installed_version(cls.__module__) is not None:
            raise Uncacheable(name, value)
        if dataclasses.is_dataclass(value):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        elif hasattr(value, "__dict__"):
            fields = dict(vars(value))
        else:
            raise Uncacheable(name, value)
        return _digest([self.cls(cls, name), self.value(fields, name)])


class _Probe(NamedTuple):
    field: int


_INSTANCE_FIELDS = (
    types.MemberDescriptorType,
    types.GetSetDescriptorType,
    type(vars(_Probe)["field"]),
)
"""Class attributes that only read a field of an instance (a NamedTuple's are positions,
hashed as the class's ``_fields``)."""


def _internal(attr: str) -> bool:
    """``__dunder__`` or ``_sunder_``: bookkeeping Python or a base class fills in."""
    dunder = attr.startswith("__") and attr.endswith("__")
    sunder = len(attr) > 2 and attr[0] == attr[-1] == "_" and attr[1] != "_"
    return dunder or sunder


def _unwrap(member: object) -> object:
    """A class attribute as the code it runs: the function of a static/class method, the
    accessors of a property."""
    if isinstance(member, (staticmethod, classmethod)):
        return member.__func__
    if isinstance(member, property):
        return (member.fget, member.fset, member.fdel)
    return member


def _hash_code(code: types.CodeType, digest: Any, names: set[str]) -> None:
    digest.update(code.co_code)
    names.update(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _hash_code(const, digest, names)
        else:
            digest.update(repr(const).encode())


def _digest(parts: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


# --- installed code ----------------------------------------------------------------------------


@functools.cache
def installed_version(module_name: str | None) -> str | None:
    """``dist==version`` for installed code (stdlib, site-packages, Glacier); None for the user's.

    Code of no module (``exec``'d, or ``__module__`` unset) is the user's.
    """
    if not module_name:
        return None
    top = module_name.partition(".")[0]
    if top in sys.stdlib_module_names or top == "builtins":
        return f"python=={sys.version_info.major}.{sys.version_info.minor}"
    if top == "glacier":
        return f"glacier=={__version__}"
    module = sys.modules.get(module_name) or sys.modules.get(top)
    file = getattr(module, "__file__", None)
    if file is None or not _under(pathlib.Path(file), _install_roots()):
        return None  # the user's code: a script, a notebook's __main__, a project module
    return f"{top}=={_distribution_version(top, module)}"


def _distribution_version(top: str, module: object) -> str:
    """The installed version of the package ``top``: its distribution's, else its __version__.

    Most distributions are named like their package; ``packages_distributions()`` reads every
    installed distribution's metadata (a second on a large environment), so it is the last resort.
    """
    try:
        return importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        pass
    declared = getattr(module, "__version__", None)
    if isinstance(declared, str):
        return declared
    for dist in sorted(importlib.metadata.packages_distributions().get(top) or []):
        try:
            return f"{dist} {importlib.metadata.version(dist)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    return "unknown"


@functools.cache
def _install_roots() -> tuple[pathlib.Path, ...]:
    paths = sysconfig.get_paths()
    roots = {paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths}
    roots.update(site.getsitepackages())
    roots.add(site.getusersitepackages())
    return tuple(pathlib.Path(r).resolve() for r in roots)


def _under(path: pathlib.Path, roots: tuple[pathlib.Path, ...]) -> bool:
    resolved = path.resolve()
    return any(resolved.is_relative_to(root) for root in roots)
