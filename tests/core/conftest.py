"""Shared fixtures: a local provider rooted in a fresh temporary folder."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from glacier import Provider
from glacier.config import LocalConfig

_names = itertools.count()


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(config=LocalConfig(base_path=tmp_path))


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A pipeline name no other test uses: names must be unique per module."""
    return f"{request.node.name}_{next(_names)}"
