"""`glacier package` on Azure: the Flex Consumption layout."""

from __future__ import annotations

from pathlib import Path

from glacier.infra.package import build
from tests.infra.pipelines import heterogeneous
from tests.infra.test_package import names


def test_azure_layout(tmp_path: Path) -> None:
    azure = build(heterogeneous("azure"), tmp_path / "azure", dependencies=False)[0]
    assert {"function_app.py", "host.json", "requirements.txt", "glacier/core/dag.py"} <= names(
        azure
    )
