"""Generated Terraform: deterministic, golden for one pipeline per cloud, least privilege."""

from __future__ import annotations

import os
from pathlib import Path

import hcl2
import pytest

from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import PLAN_FILE, generate, render
from tests.infra.pipelines import CLOUDS, PROVIDERS, heterogeneous, portable, simple

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize("shape", ["simple", "heterogeneous"])
@pytest.mark.parametrize("cloud", CLOUDS)
def test_pipelines_match_golden_files(cloud: str, shape: str) -> None:
    """Set GLACIER_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change.

    ``simple`` is serverless only; ``heterogeneous`` adds VMs, Spark and Databricks clusters.
    """
    pipeline = simple(PROVIDERS[cloud]) if shape == "simple" else heterogeneous(cloud)
    files = render(build_inventory(pipeline))
    directory = GOLDEN / cloud if shape == "simple" else GOLDEN / shape / cloud
    if os.environ.get("GLACIER_UPDATE_GOLDEN"):
        directory.mkdir(parents=True, exist_ok=True)
        for old in directory.iterdir():
            if old.is_file():
                old.unlink()
        for name, text in files.items():
            (directory / name).write_text(text)
    assert sorted(files) == sorted(p.name for p in directory.iterdir() if p.is_file())
    for name, text in files.items():
        assert text == (directory / name).read_text(), f"{directory.name}/{name} differs"


@pytest.mark.parametrize("cloud", CLOUDS)
def test_same_pipeline_same_bytes(cloud: str, tmp_path: Path) -> None:
    first = generate(heterogeneous(cloud), tmp_path / "a")
    second = generate(heterogeneous(cloud), tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes()
    names = {p.name for p in first}
    assert {"versions.tf", "providers.tf", "storage.tf", "iam.tf", "variables.tf"} <= names
    assert {"outputs.tf", "README.md", PLAN_FILE, "worker_init.sh.tftpl"} <= names


@pytest.mark.parametrize(
    ("cloud", "pins"),
    [
        (
            "aws",
            ['source  = "hashicorp/aws"', 'version = ">= 5.100, < 7.0"', '"databricks/databricks"'],
        ),
        ("gcp", ['source  = "hashicorp/google"', 'version = "~> 7.0"']),
        ("azure", ['source  = "hashicorp/azurerm"', 'version = "~> 4.0"', 'version = "~> 1.0"']),
    ],
)
def test_versions_pin_the_providers(cloud: str, pins: list[str]) -> None:
    versions = render(build_inventory(heterogeneous(cloud)))["versions.tf"]
    for pin in pins:
        assert pin in versions


@pytest.mark.parametrize("cloud", CLOUDS)
def test_outputs_name_every_deployed_resource(cloud: str) -> None:
    outputs = hcl2.loads(render(build_inventory(heterogeneous(cloud)))["outputs.tf"])
    values = {k: v for entry in outputs["output"] for k, v in entry.items()}
    names = {k.strip('"') for k in values}
    assert {
        "cloud",
        "buckets",
        "staging_bucket",
        "functions",
        "vms",
        "clusters",
        "identities",
    } <= names
    text = str(values)
    for executor in ("ingest", "worker", "spark", "dbx"):
        assert executor in text


def test_another_cloud_renders_from_portable_configs() -> None:
    files = render(build_inventory(portable(PROVIDERS["aws"]), "gcp"))
    assert "google_cloudfunctions2_function" in files["functions.tf"]
    assert 'machine_type = "e2-standard-4"' in files["vms.tf"]
    assert 'variable "project_id"' in files["variables.tf"]
