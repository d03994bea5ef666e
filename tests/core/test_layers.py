"""``glacier.core`` is the bottom of the pipeline model: it imports nothing above it.

Importing ``glacier.core.x`` normally runs ``glacier/__init__.py`` first, which loads every
layer, so each check runs in a fresh interpreter where ``glacier`` is a bare package: only what
the imported modules themselves pull in gets loaded.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import glacier
import glacier.core

BELOW_CORE = {"glacier.errors", "glacier.config", "glacier.storage", "glacier.version"}


def _loaded_by(modules: list[str]) -> list[str]:
    """The glacier modules loaded by importing ``modules`` under a bare ``glacier`` package."""
    code = (
        "import importlib, json, sys, types\n"
        "package = types.ModuleType('glacier')\n"
        f"package.__path__ = [{str(Path(glacier.__file__).parent)!r}]\n"
        "sys.modules['glacier'] = package\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('glacier.'))))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def test_core_imports_nothing_above_it() -> None:
    core = [f"glacier.core.{m.name}" for m in pkgutil.iter_modules(glacier.core.__path__)]
    assert "glacier.core.dag" in core and "glacier.core.pipeline" in core
    above = [
        m
        for m in _loaded_by(core)
        if not any(m == b or m.startswith(b + ".") for b in {"glacier.core", *BELOW_CORE})
    ]
    assert above == []


def test_the_check_sees_an_upward_import() -> None:
    """The same check on a module above core finds what it imports, so the test can fail."""
    loaded = _loaded_by(["glacier.resources.executor"])
    assert "glacier.resources.executor" in loaded
    assert "glacier.core.task" in loaded


def test_import_glacier_leaves_running_and_drawing_for_later() -> None:
    """The scheduler, the backends and the pictures load on first use, keeping imports fast."""
    code = (
        "import json, sys, glacier; "
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('glacier.'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    loaded = set(json.loads(out))
    assert "glacier.core.dag" in loaded
    lazy = {"glacier.runtime.scheduler", "glacier.runtime.plan", "glacier.runtime.backends"}
    assert not loaded & (lazy | {"glacier.viz", "glacier.cli", "glacier.infra"})
