"""What a Databricks cluster installs: one wheel of Glacier and the pipeline, built by
``glacier package`` and uploaded as a workspace file, which the cluster installs as a library.

Workspace files, not DBFS: libraries in the DBFS root are disabled from Databricks Runtime 15.1
on. pip resolves the wheel's requirements (Polars, obstore at the packaging machine's versions)
from PyPI on the cluster, as it does for any cluster library.
"""

from __future__ import annotations

from pathlib import Path

from glacier import version
from glacier.clouds.databricks.config import DatabricksConfig
from glacier.core.kinds import ExecutorKind
from glacier.identifiers import slug
from glacier.infra import artifacts
from glacier.infra.inventory import Inventory
from glacier.infra.package import build_wheel


def has_databricks(inv: Inventory) -> bool:
    return any(isinstance(e.config, DatabricksConfig) for e in inv.of_kind(ExecutorKind.CLUSTER))


def distribution(inv: Inventory) -> str:
    """The wheel's project name: the pipeline's, so two pipelines on one cluster never clash."""
    return f"glacier_pipeline_{slug(inv.pipeline).replace('-', '_')}"


def wheel_name(inv: Inventory) -> str:
    """A valid wheel file name (pip refuses others), known when the Terraform is rendered."""
    return f"{distribution(inv)}-{version.__version__}-py3-none-any.whl"


def wheel_path(inv: Inventory) -> str:
    return f"{artifacts.BUILD_DIR}/{wheel_name(inv)}"


def shared(inv: Inventory, out: Path, dependencies: bool = True) -> dict[str, Path]:
    """The wheel, when the pipeline has a Databricks cluster (any cloud's ``shared``); it needs
    no download, so ``dependencies`` does not matter."""
    if not has_databricks(inv):
        return {}
    path = out / wheel_path(inv)
    return {"databricks": build_wheel(inv, path, distribution(inv), version.__version__)}
