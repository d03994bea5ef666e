"""Where ``glacier package`` puts what Terraform uploads: one place for both to agree on.

Paths are relative to the Terraform directory (Terraform reads them via ``path.module``).
"""

from __future__ import annotations

BUILD_DIR = "build"
MANIFEST = f"{BUILD_DIR}/manifest.json"
"""What ``glacier package`` built, for Terraform (the code digest) and ``glacier emulate``."""
HANDLER_MODULE = "glacier_handler"
"""The module inside every function package whose ``handler`` the cloud calls."""


def code_zip(executor: str) -> str:
    """The code package of one serverless executor."""
    return f"{BUILD_DIR}/{executor}.zip"


JOB_SCRIPT = "glacier_job.py"
"""The entry point of a cluster job in a cluster package (``spark-submit glacier_job.py
EVENT_URI``), which runs ``glacier.deployed.run_job``."""


def cluster_zip(executor: str) -> str:
    """The package a cluster executor's Spark jobs run from: the code and :data:`JOB_SCRIPT`."""
    return f"{BUILD_DIR}/cluster-{executor}.zip"


def vm_zip(architecture: str) -> str:
    """The package VMs of one CPU architecture install Glacier, the pipeline and Dask from."""
    return f"{BUILD_DIR}/vm-{architecture}.zip"
