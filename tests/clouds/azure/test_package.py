"""`glacier package` on Azure: the Flex Consumption layout."""

from __future__ import annotations

from pathlib import Path

from glacier.infra import artifacts
from glacier.infra.package import build
from tests.infra.pipelines import heterogeneous
from tests.infra.test_package import names


def test_azure_layout(tmp_path: Path) -> None:
    written = build(heterogeneous("azure"), tmp_path / "azure", dependencies=False)
    azure = tmp_path / "azure" / artifacts.code_zip("ingest")
    assert azure in written
    assert {"function_app.py", "host.json", "requirements.txt", "glacier/core/dag.py"} <= names(
        azure
    )
