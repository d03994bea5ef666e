"""What a Databricks cluster installs: one wheel of Glacier and the pipeline, built by
``glacier package`` and uploaded as a workspace file, which the cluster installs as a library;
and the template of the job entry point Terraform renders per executor (:data:`JOB_TEMPLATE`).

Workspace files, not DBFS: libraries in the DBFS root are disabled from Databricks Runtime 15.1
on. pip resolves the wheel's requirements (Polars, obstore at the packaging machine's versions)
from PyPI on the cluster, as it does for any cluster library.
"""

from __future__ import annotations

from pathlib import Path

from glacier import clouds, version
from glacier.clouds.databricks.config import DatabricksConfig
from glacier.core.kinds import ExecutorKind
from glacier.identifiers import slug
from glacier.infra import artifacts
from glacier.infra.inventory import Inventory
from glacier.infra.package import build_wheel


def has_databricks(inv: Inventory) -> bool:
    """A ``DatabricksConfig`` cluster, or any cluster where Spark is only Databricks (Azure)."""
    on_databricks = clouds.CLUSTER_DEFAULTS.get(inv.cloud) == "databricks"
    return any(
        on_databricks or isinstance(e.config, DatabricksConfig)
        for e in inv.of_kind(ExecutorKind.CLUSTER)
    )


def distribution(inv: Inventory) -> str:
    """The wheel's project name: the pipeline's, so two pipelines on one cluster never clash."""
    return f"glacier_pipeline_{slug(inv.pipeline).replace('-', '_')}"


def wheel_name(inv: Inventory) -> str:
    """A valid wheel file name (pip refuses others), known when the Terraform is rendered."""
    return f"{distribution(inv)}-{version.__version__}-py3-none-any.whl"


def wheel_path(inv: Inventory) -> str:
    return f"{artifacts.BUILD_DIR}/{wheel_name(inv)}"


JOB_TEMPLATE_PATH = f"{artifacts.BUILD_DIR}/databricks_job.py.tftpl"
JOB_TEMPLATE = """\
\"\"\"Entry point of a Glacier job on Databricks, rendered by Terraform from `glacier package`'s
template: the executor's deployed environment and the uploaded wheel travel in it.\"\"\"

import os
import sys

# First on the path: a running cluster keeps the library version it installed, while this
# path always holds the wheel of the last `terraform apply`, the code the digest names.
sys.path.insert(0, ${jsonencode(wheel)})
# A run on an existing cluster cannot carry environment variables (runs/submit sets them only
# on a new cluster), so the job sets its own: what Terraform gives every deployed executor.
os.environ.update(${jsonencode(environment)})

from glacier.deployed import run_job  # noqa: E402 - needs the path and environment above

if __name__ == "__main__":
    sys.exit(run_job(sys.argv[1:]))
"""
"""``templatefile`` text (``${...}`` is Terraform's; JSON strings and objects of strings are
Python literals): the ``glacier_job.py`` each Databricks executor runs (``spark_python_task``)
with the event URI as its one argument, as :data:`glacier.infra.package.JOB_ENTRY` does on
other platforms."""


def shared(inv: Inventory, out: Path, dependencies: bool = True) -> dict[str, Path]:
    """The wheel and the job template, when the pipeline has a Databricks cluster (any cloud's
    ``shared``); they need no download, so ``dependencies`` does not matter."""
    if not has_databricks(inv):
        return {}
    path = out / wheel_path(inv)
    job = out / JOB_TEMPLATE_PATH
    job.write_text(JOB_TEMPLATE)
    return {
        "databricks": build_wheel(inv, path, distribution(inv), version.__version__),
        "databricks-job": job,
    }
