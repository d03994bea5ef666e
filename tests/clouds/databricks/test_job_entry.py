"""The job entry point a Databricks executor runs: uploaded by Terraform, named in the output
`clusters` as cloud mode's `python_file`, carrying the executor's deployed environment (which a
run on an existing cluster cannot get otherwise) and the uploaded wheel first on the path."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from glacier.clouds.databricks import package
from glacier.infra import artifacts
from glacier.infra.inventory import build_inventory
from glacier.infra.package import build
from glacier.resources.graph import BoundPipeline
from tests.clouds.databricks import existing_cluster
from tests.infra.deployed import blocks, environment, parsed
from tests.infra.pipelines import CLOUDS, heterogeneous
from tests.infra.test_terraform_validation import terraform_binary

_CONTENT = re.compile(
    r'\$\{base64encode\(templatefile\("\$\{path\.module\}/(?P<template>[^"]+)", '
    r"\{wheel = (?P<wheel>[\w.]+), environment = \{(?P<env>.*)\}\}\)\)\}",
    re.S,
)
_PAIR = re.compile(r'([\w-]+) = (jsonencode\(\{[^}]*\}\)|"[^"]*"|[\w.]+)')
CLOUD_ENV = {"aws": "var.region", "gcp": "var.project_id", "azure": "var.subscription_id"}


def job_upload(files: Mapping[str, dict[str, Any]]) -> tuple[str, dict[str, str], str]:
    """The ``dbx`` job's workspace path, its environment as written (values as the generated
    references, ``${...}``) and the wheel reference the template gets."""
    job = blocks(files, "resource", "databricks_workspace_file")["dbx_job"]
    content = _CONTENT.fullmatch(job["content_base64"])
    assert content, job["content_base64"]
    assert content["template"] == package.JOB_TEMPLATE_PATH
    env = {
        key: value if value.startswith('"') else "${" + value + "}"
        for key, value in _PAIR.findall(content["env"])
    }
    return job["path"].strip('"'), env, content["wheel"]


def clusters_output(files: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = blocks(files, "output", "clusters")["value"]["dbx"]
    return entry


@pytest.mark.parametrize("cloud", CLOUDS)
def test_the_output_names_the_uploaded_entry_point_and_it_carries_the_deployed_env(
    cloud: str,
) -> None:
    files = parsed(heterogeneous(cloud), cloud)
    path, env, wheel = job_upload(files)
    assert path == "/Shared/glacier/${local.name_prefix}/dbx/glacier_job.py"
    assert clusters_output(files)["python_file"] == "${databricks_workspace_file.dbx_job.path}"
    assert wheel == "databricks_workspace_file.glacier_wheel.workspace_path"
    known = {CLOUD_ENV[cloud]: "placement", "var.region": "eu-west-1"}
    known |= {
        "var.subscription_id": "sub",
        "var.project_id": "project",
        "azurerm_resource_group.glacier.name": "rg",
    }
    known |= {"azurerm_storage_account.data.name": "data"}
    known |= {"azurerm_user_assigned_identity.dbx.client_id": "client"}
    resolved = environment(env, known)
    assert resolved["GLACIER_EXECUTOR"] == "dbx"
    assert resolved["GLACIER_PROVIDER"] == cloud
    assert resolved["GLACIER_PIPELINE"] == "heterogeneous"
    assert resolved["GLACIER_STAGING_BUCKET"] == "real-glacier-staging"
    assert json.loads(resolved["GLACIER_BUCKETS"]) == {"glacier-staging": "real-glacier-staging"}
    assert (
        env["GLACIER_CODE_DIGEST"] == "${local.glacier_manifest.digest}"
    )  # a repackage re-uploads


def test_an_existing_cluster_runs_the_same_entry_point() -> None:
    files = parsed(existing_cluster.existing, "aws")
    path, env, _ = job_upload(files)
    assert path == "/Shared/glacier/${local.name_prefix}/dbx/glacier_job.py"
    entry = clusters_output(files)
    assert entry["id"] == "${data.databricks_cluster.dbx.cluster_id}"
    assert entry["python_file"] == "${databricks_workspace_file.dbx_job.path}"
    assert env["GLACIER_MODULE"] == '"tests.clouds.databricks.existing_cluster"'
    assert env["AWS_REGION"] == "${var.region}"  # Databricks sets no region, unlike Lambda


STALE = "raise RuntimeError('the stale library ran, not the uploaded wheel')\n"


def _rendered(pipeline: BoundPipeline, out: Path) -> tuple[Path, Path]:
    """``glacier package`` into ``out``, then the job's entry point as Terraform renders it
    (``terraform console`` on the generated ``templatefile``), with the wheel at a local path."""
    build(pipeline, out, "aws", dependencies=False)
    inv = build_inventory(pipeline, "aws")
    wheel = out / package.wheel_path(inv)
    digest = json.loads((out / artifacts.MANIFEST).read_text())["digest"]
    _, env, _ = job_upload(parsed(pipeline, "aws"))
    known = {"local.glacier_manifest.digest": digest, "var.region": "eu-west-1"}
    (out / "env.json").write_text(json.dumps(environment(env, known)))
    expression = (
        f'base64encode(templatefile("{package.JOB_TEMPLATE_PATH}", '
        f'{{wheel = {json.dumps(str(wheel))}, environment = jsondecode(file("env.json"))}}))'
    )
    done = subprocess.run(
        [terraform_binary(), "console"],
        input=expression, cwd=out, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    script = out / "glacier_job.py"
    script.write_bytes(base64.b64decode(json.loads(done.stdout.strip())))
    return script, wheel


def test_the_rendered_entry_point_runs_the_uploaded_wheel_with_its_own_environment(
    tmp_path: Path,
) -> None:
    """With no GLACIER_* variable set and an older Glacier first on the path (a running
    cluster keeps the library it installed), the job imports the uploaded wheel, finds its
    pipeline and provider from the environment it carries, and judges the event: one that is
    not a job event is refused by name."""
    script, wheel = _rendered(existing_cluster.existing, tmp_path / "out")
    stale = tmp_path / "stale" / "glacier"
    stale.mkdir(parents=True)
    (stale / "__init__.py").write_text(STALE)
    clean = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(stale.parent)}
    uri = "s3://real-glacier-staging/runs/r1/jobs/passthrough-1.json"
    done = subprocess.run(
        [sys.executable, str(script), uri],
        env=clean, cwd=tmp_path, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert (
        last == f"glacier.runtime.wire.BadEvent: {uri!r} is not a Glacier job event (*.event.json)."
    )
    assert f"{wheel}/glacier/deployed.py" in done.stderr  # the wheel's code ran, not the stale one
    assert "stale library" not in done.stderr


def test_glacier_package_writes_the_template_terraform_renders(tmp_path: Path) -> None:
    lines: list[str] = []
    written = build(heterogeneous("aws"), tmp_path, dependencies=False, report=lines.append)
    template = tmp_path / package.JOB_TEMPLATE_PATH
    assert template in written
    assert template.read_text() == package.JOB_TEMPLATE
    size = template.stat().st_size
    assert f"{template}  ({size:,} bytes)" in lines  # not an archive: no unzipped size
