"""Shared fixtures: the Terraform of every test pipeline on every cloud, generated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import render, write
from tests.infra.pipelines import CLOUDS, SHAPES


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """(cloud, shape) -> directory holding that pipeline's generated Terraform."""
    root = tmp_path_factory.mktemp("terraform")
    out = {}
    for cloud in CLOUDS:
        for shape, make in SHAPES.items():
            directory = root / f"{cloud}-{shape}"
            write(render(build_inventory(make(cloud))), directory)
            out[cloud, shape] = directory
    return out
