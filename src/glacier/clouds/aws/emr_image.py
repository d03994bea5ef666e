"""The EMR Serverless image of a pipeline's cluster executors, built from ``glacier package``.

EMR Serverless 7.x images run Python 3.9, and Glacier needs 3.11: a job cannot bring its own
interpreter through ``--py-files``, so the executors run a custom image (``FROM`` EMR's own
base image, as EMR Serverless requires) with Amazon Linux 2023's ``python3.11`` and, installed
offline from wheels ``glacier package`` downloaded for the image's CPU, Polars, obstore, and a
wheel of Glacier and the pipeline. ``glacier package`` writes the build context
(``build/emr-image/``: ``Dockerfile`` and ``wheels/``); ``terraform apply`` builds and pushes it
(``docker``) to the module's ECR repository, tagged with the digest of the context, so changed
code or dependencies give a new tag and an unchanged package is never pushed twice.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from glacier import version
from glacier.clouds.aws.instances import AL2023_GLIBC
from glacier.clouds.databricks.config import DatabricksConfig
from glacier.clouds.databricks.package import distribution, wheel_name
from glacier.core.kinds import ExecutorKind
from glacier.infra import artifacts
from glacier.infra.inventory import Inventory
from glacier.infra.package import VmPlatform, build_wheel, pip_download, runtime_requirements

EMR_RELEASE = "emr-7.5.0"
"""The EMR Serverless release of the applications (Spark 3.5, Amazon Linux 2023)."""
ARCHITECTURE = "arm64"
"""The CPU of the applications (Graviton: cheaper per vCPU-hour than x86_64 on EMR Serverless)."""
APPLICATION_ARCHITECTURE = {"arm64": "ARM64", "x86_64": "X86_64"}[ARCHITECTURE]
BASE_IMAGE = f"public.ecr.aws/emr-serverless/spark/{EMR_RELEASE}:latest"
PYTHON = "/usr/bin/python3.11"
"""The interpreter the image adds (``dnf install python3.11``) and Spark runs tasks with."""
PLATFORM = VmPlatform(ARCHITECTURE, "3.11", AL2023_GLIBC)
"""What the image's wheels are downloaded for: its CPU, Python 3.11, AL2023's glibc 2.34."""
CONTEXT = f"{artifacts.BUILD_DIR}/emr-image"
"""The Docker build context ``glacier package`` writes, relative to the Terraform directory."""
MANIFEST_KEY = "emr"
"""The image's entry under ``images`` in ``build/manifest.json``."""
WHEELS = "wheels"


def has_emr(inv: Inventory) -> bool:
    """Whether a cluster executor of ``inv`` runs on EMR Serverless (not Databricks)."""
    return any(
        not isinstance(e.config, DatabricksConfig) for e in inv.of_kind(ExecutorKind.CLUSTER)
    )


def dockerfile(inv: Inventory) -> str:
    """The image: EMR's base, Python 3.11, the package's wheels installed with no index."""
    return f"""\
# The EMR Serverless image of Glacier pipeline {inv.pipeline}, written by `glacier package`.
# Built and pushed by `terraform apply` (variable build_cluster_images); needs no registry but
# Amazon Linux's own repositories (python3.11) and public.ecr.aws (the base image).
FROM --platform=linux/{ARCHITECTURE} {BASE_IMAGE}
USER root
RUN dnf install -y python3.11 python3.11-pip && dnf clean all
COPY {WHEELS}/ /opt/glacier/{WHEELS}/
RUN {PYTHON} -m pip install --no-cache-dir --no-index --find-links /opt/glacier/{WHEELS} \\
      {distribution(inv)}=={version.__version__} \\
    && rm -rf /opt/glacier/{WHEELS}
ENV PYSPARK_PYTHON={PYTHON} PYSPARK_DRIVER_PYTHON={PYTHON}
# EMR Serverless runs the image as hadoop
USER hadoop:hadoop
"""


def build_context(inv: Inventory, out: Path, dependencies: bool) -> dict[str, Any]:
    """Write the image's build context into ``out/build/emr-image``; its manifest entry.

    ``dependencies=False`` writes only the pipeline's wheel, so the image cannot be built from
    it (pip finds no Polars): that is for rebuilding code that is deployed some other way.
    """
    context = out / CONTEXT
    wheels = context / WHEELS
    wheels.mkdir(parents=True, exist_ok=True)
    for old in wheels.glob("*"):
        old.unlink()
    (context / "Dockerfile").write_text(dockerfile(inv))
    build_wheel(inv, wheels / wheel_name(inv), distribution(inv), version.__version__)
    if dependencies:
        pip_download(runtime_requirements(), wheels, PLATFORM)
    return {
        "context": CONTEXT,
        "tag": context_digest(context),
        "architecture": ARCHITECTURE,
        "dependencies": dependencies,
    }


def context_digest(context: Path) -> str:
    """The image's tag: the hex sha256 of every file of its build context, by name and bytes
    (ECR tags cannot hold the ``sha256:`` of a code digest)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        for part in (path.relative_to(context).as_posix().encode(), path.read_bytes()):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()
