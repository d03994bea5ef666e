"""Find a pipeline from a command-line target: ``path/to/file.py[:NAME]`` or ``pkg.mod[:NAME]``.

Shared by every command that takes a pipeline (run, graph, inspect, terraform, package...).
A file is imported under its own stem with its directory first on ``sys.path``, as
``python path/to/file.py`` would do, so ``from helpers import x`` next to it works and workers
can import its tasks again by ``module:qualname``.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from glacier.errors import GlacierError
from glacier.pipelines import Pipeline

_LOADED_BY_GLACIER = "__glacier_loaded_from__"


class TargetError(GlacierError):
    """A command-line target names no loadable module, or no single pipeline in it."""


def load_pipeline(target: str) -> Pipeline:
    """The pipeline ``target`` names; see the module docstring for the forms it takes."""
    module_ref, name = split_target(target)
    module = load_module(module_ref)
    return select_pipeline(module, name, module_ref)


def split_target(target: str) -> tuple[str, str | None]:
    """``"a/b.py:daily"`` -> ``("a/b.py", "daily")``; a Windows drive colon is not a separator."""
    head, sep, tail = target.rpartition(":")
    if sep and head and tail.isidentifier() and not (len(head) == 1 and head.isalpha()):
        return head, tail
    if sep and head and not tail:
        raise TargetError(
            f"Target {target!r} ends with ':'. Name the pipeline after it, or drop it."
        )
    return target, None


def load_module(ref: str) -> ModuleType:
    """Import a ``.py`` file by path, or an importable module by dotted name."""
    path = Path(ref)
    if ref.endswith(".py") or os.sep in ref or "/" in ref:
        return _load_file(path)
    _prepend_path(os.getcwd())
    try:
        return importlib.import_module(ref)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (ref == exc.name or ref.startswith(exc.name + ".")):
            raise TargetError(
                f"No module named {ref!r} (and no file of that name). Give a path to a .py "
                f"file, or a module importable from {os.getcwd()}."
            ) from exc
        raise TargetError(f"Importing {ref}: {type(exc).__name__}: {exc}") from exc
    except GlacierError:
        raise
    except Exception as exc:
        raise TargetError(f"Importing {ref}: {type(exc).__name__}: {exc}") from exc


def select_pipeline(module: ModuleType, name: str | None, where: str) -> Pipeline:
    """The pipeline called ``name``, or the module's only one.

    ``name`` is matched against each pipeline's ``name=`` first, then against module-level
    variable names; the module's own pipelines win over ones it imported.
    """
    found = pipelines_in(module)
    if name is not None:
        return _by_name(module, found, name, where)
    own = _own(module, found) or found
    distinct = _distinct(own)
    if len(distinct) == 1:
        return distinct[0]
    if not distinct:
        raise TargetError(
            f"{where} defines no pipeline. Decorate a function with @pipeline at module level, "
            f"or keep the pipelines you build in a module-level variable, dict or list."
        )
    raise TargetError(
        f"{where} defines {len(distinct)} pipelines: {_names(own)}. Pick one with {where}:NAME."
    )


def _by_name(module: ModuleType, found: dict[str, Pipeline], name: str, where: str) -> Pipeline:
    for matches in (
        {label: p for label, p in found.items() if p.name == name},
        {label: p for label, p in found.items() if label == name},
    ):
        candidates = _distinct(_own(module, matches) or matches)
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise TargetError(
                f"{where} has {len(candidates)} pipelines named {name!r}: {_names(matches)}. "
                f"Give them distinct name= values."
            )
    raise TargetError(
        f"{where} has no pipeline named {name!r}. Its pipelines: {_names(found) or 'none'}. "
        f"(Pipelines are found by name= and by variable, in module-level variables and in the "
        f"dicts, lists and tuples they hold.)"
    )


def pipelines_in(module: ModuleType) -> dict[str, Pipeline]:
    """Module-level pipelines by where they are, in definition order.

    The key is the variable name, or a path into a container held by one
    (``pipelines['eu']``, ``daily[0]``), so pipelines built in a loop are found too.
    """
    found: dict[str, Pipeline] = {}
    seen: set[int] = set()
    for var, obj in vars(module).items():
        if not var.startswith("__"):
            _collect(obj, var, found, seen, _CONTAINER_DEPTH)
    return found


_CONTAINER_DEPTH = 3


def _collect(
    obj: object, label: str, found: dict[str, Pipeline], seen: set[int], depth: int
) -> None:
    if isinstance(obj, Pipeline):
        found.setdefault(label, obj)
        return
    if depth == 0 or id(obj) in seen:
        return
    items: Iterable[tuple[str, object]]
    if isinstance(obj, dict):
        items = ((f"{label}[{key!r}]", value) for key, value in obj.items())
    elif isinstance(obj, (list, tuple)):
        items = ((f"{label}[{i}]", value) for i, value in enumerate(obj))
    else:
        return
    seen.add(id(obj))
    for item_label, value in items:
        _collect(value, item_label, found, seen, depth - 1)


def _own(module: ModuleType, found: dict[str, Pipeline]) -> dict[str, Pipeline]:
    return {label: p for label, p in found.items() if p.fn.__module__ == module.__name__}


def _distinct(found: dict[str, Pipeline]) -> list[Pipeline]:
    return list({id(p): p for p in found.values()}.values())


def _names(found: dict[str, Pipeline]) -> str:
    seen: dict[int, str] = {}
    for label, p in found.items():
        where = f"variable {label}" if label.isidentifier() else f"in {label}"
        seen.setdefault(id(p), p.name if p.name == label else f"{p.name} ({where})")
    return ", ".join(seen.values())


def _load_file(path: Path) -> ModuleType:
    if not path.is_file():
        raise TargetError(f"No file {str(path)!r}. Check the path (relative to {os.getcwd()}).")
    if path.suffix != ".py":
        raise TargetError(f"{path} is not a Python file. Give a .py file or a module name.")
    resolved = path.resolve()
    name = resolved.stem
    if not name.isidentifier():
        raise TargetError(
            f"{path}: {name!r} is not a valid module name, so workers could not import its "
            f"tasks. Rename the file (letters, digits and underscores)."
        )
    existing = sys.modules.get(name)
    if (
        existing is not None
        and getattr(existing, _LOADED_BY_GLACIER, None) is None
        and Path(getattr(existing, "__file__", "") or "").resolve() != resolved
    ):
        raise TargetError(
            f"{path}: a module named {name!r} is already imported from "
            f"{getattr(existing, '__file__', None) or 'built-ins'}. Rename the file so its "
            f"name does not shadow it."
        )
    _prepend_path(str(resolved.parent))
    spec = importlib.util.spec_from_file_location(name, resolved)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    setattr(module, _LOADED_BY_GLACIER, str(resolved))
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except GlacierError:
        sys.modules.pop(name, None)
        raise
    except Exception as exc:
        sys.modules.pop(name, None)
        raise TargetError(f"Loading {path}: {type(exc).__name__}: {exc}") from exc
    return module


def _prepend_path(folder: str) -> None:
    if folder in sys.path:
        sys.path.remove(folder)
    sys.path.insert(0, folder)
