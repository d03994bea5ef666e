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
    """The pipeline called ``name`` (pipeline name or variable), or the module's only one."""
    found = pipelines_in(module)
    if name is not None:
        matches = {id(p): p for var, p in found.items() if name in (var, p.name)}
        if len(matches) == 1:
            return next(iter(matches.values()))
        raise TargetError(
            f"{where} has no pipeline named {name!r}. Its pipelines: {_names(found) or 'none'}."
        )
    own = {v: p for v, p in found.items() if p.fn.__module__ == module.__name__} or found
    distinct = {id(p): p for p in own.values()}
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    if not distinct:
        raise TargetError(
            f"{where} defines no pipeline. Decorate a function with @pipeline at module level."
        )
    raise TargetError(
        f"{where} defines {len(distinct)} pipelines: {_names(own)}. Pick one with {where}:NAME."
    )


def pipelines_in(module: ModuleType) -> dict[str, Pipeline]:
    """Module-level pipelines by variable name, in definition order."""
    return {var: obj for var, obj in vars(module).items() if isinstance(obj, Pipeline)}


def _names(found: dict[str, Pipeline]) -> str:
    seen: dict[int, str] = {}
    for var, p in found.items():
        seen.setdefault(id(p), p.name if p.name == var else f"{p.name} (variable {var})")
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
