"""Before a cloud-mode run: read the deployment, check it runs this code, bind the buckets.

Everything that can be refused is refused here, before any task runs: a deployment of another
cloud or pipeline, a package built from other code (its digest), an executor that is not
deployed. Then the pipeline's providers are pointed at the deployed buckets, so what runs here
(local executors, hand-offs, the cache, the report) reads and writes the same buckets as the
deployed executors.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from glacier.core.kinds import ExecutorKind
from glacier.errors import DeploymentError
from glacier.infra.inventory import build_inventory
from glacier.infra.package import code_digest
from glacier.provider import Provider
from glacier.runtime.deployment import CloudRun, Deployment
from glacier.runtime.wire import Code

if TYPE_CHECKING:
    from glacier.resources.graph import BoundPipeline


def prepare(pipeline: BoundPipeline, deployment: str | Path | Deployment | None) -> CloudRun:
    """The run's :class:`CloudRun`, once ``deployment`` is known to run ``pipeline``'s code."""
    if deployment is None:
        raise DeploymentError(
            f"Pipeline {pipeline.name!r}: mode='cloud' needs deployment=PATH (the Terraform "
            f"directory you applied, a saved `terraform output -json`, or the file `glacier "
            f"emulate` wrote); on the command line, --deployment PATH."
        )
    found = deployment if isinstance(deployment, Deployment) else Deployment.load(deployment)
    providers = _providers(pipeline)
    for provider in providers:
        if provider.cloud is not found.cloud:
            raise DeploymentError(
                f"Pipeline {pipeline.name!r} uses a {type(provider.config).__name__} provider "
                f"({provider.cloud.value}), but deployment {found.source} is on "
                f"{found.cloud.value}. Run it with the provider of the cloud it is deployed on."
            )
    inventory = build_inventory(pipeline, found.cloud)
    digest = code_digest(inventory)
    found.check_code(pipeline.name, digest)
    for node in pipeline.dag:
        executor = getattr(node, "executor", None)
        if executor is not None and executor.kind is not ExecutorKind.LOCAL:
            found.target(executor)  # raises, naming the executor, when it is not deployed
    for provider in providers:
        provider.use_deployment(found.buckets, found.staging_bucket)
    return CloudRun(found, Code(pipeline.name, inventory.package_module, digest))


def _providers(pipeline: BoundPipeline) -> list[Provider]:
    found: dict[int, Provider] = {}
    for node in pipeline.dag:
        for resource in (getattr(node, "bucket", None), getattr(node, "executor", None)):
            if resource is not None:
                found.setdefault(id(resource.provider), resource.provider)
    return list(found.values())
