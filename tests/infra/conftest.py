"""Shared fixtures: the Terraform of every test pipeline on every cloud, generated once."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import render, write
from glacier.loader import load_pipeline
from tests.infra.pipelines import CLOUDS, SHAPES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SHIPPED = ("cloud_agnostic_pipeline", "heterogeneous_pipeline", "simple_pipeline")
"""The examples a user deploys: checked like the test pipelines, rendered for every cloud."""


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Path]:
    """(cloud, shape) -> directory holding that pipeline's generated Terraform.

    Shapes are the test pipelines' and ``example:<name>`` for each shipped example.
    """
    root = tmp_path_factory.mktemp("terraform")
    out = {}
    for cloud in CLOUDS:
        for shape, make in SHAPES.items():
            directory = root / f"{cloud}-{shape}"
            write(render(build_inventory(make(cloud))), directory)
            out[cloud, shape] = directory
        for name in SHIPPED:
            directory = root / f"{cloud}-example-{name}"
            pipeline = load_pipeline(str(EXAMPLES / f"{name}.py"))
            write(render(build_inventory(pipeline, cloud)), directory)
            out[cloud, f"example:{name}"] = directory
    return out
