"""`glacier package`: what every cloud's function zips share (each cloud's layout is tested in
tests/clouds/<cloud>/test_package.py)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from glacier.infra.package import build
from tests.infra.pipelines import PROVIDERS, simple


def names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return set(zf.namelist())


def test_zips_are_reproducible(tmp_path: Path) -> None:
    first = build(simple(PROVIDERS["aws"]), tmp_path / "a", dependencies=False)[0]
    second = build(simple(PROVIDERS["aws"]), tmp_path / "b", dependencies=False)[0]
    assert first.read_bytes() == second.read_bytes()
