"""`glacier package` on GCP: the handler and the requirements Cloud Build installs."""

from __future__ import annotations

import zipfile
from pathlib import Path

from glacier.infra.package import build
from tests.infra.pipelines import PROVIDERS, simple
from tests.infra.test_package import names


def test_gcp_layout(tmp_path: Path) -> None:
    gcp = build(simple(PROVIDERS["gcp"]), tmp_path / "gcp", dependencies=False)[0]
    assert {"main.py", "requirements.txt", "tests/infra/pipelines.py"} <= names(gcp)
    with zipfile.ZipFile(gcp) as zf:
        requirements = zf.read("requirements.txt").decode()
    assert requirements.startswith("polars==") and "functions-framework" in requirements
    # what a task imports in the function; tasks are imported by name, never unpickled
    installed = {line.split("=")[0] for line in requirements.split()}
    assert {"polars", "obstore"} <= installed
    assert "cloudpickle" not in installed
    assert "glacier/deployed.py" in names(gcp)
