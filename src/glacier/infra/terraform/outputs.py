"""The outputs every cloud's module ends with: one shape, so tools read any cloud's outputs alike.

A cloud fills the shape through :class:`CloudOutputs`: where it deploys, how its buckets,
functions, VMs, clusters and identities are referenced, and what it calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from glacier.core.kinds import ExecutorKind
from glacier.infra.hcl import Expr, Value
from glacier.infra.inventory import BucketPlan, ExecutorPlan, Inventory
from glacier.infra.terraform.base import Module, read_manifest


@dataclass(frozen=True)
class CloudOutputs:
    """One cloud's part of the outputs; ``*_doc`` fields finish the shared descriptions."""

    cloud: str
    placement: list[tuple[str, str, Value]]
    """(name, description, value) of the outputs saying where the module deploys."""
    bucket: Callable[[BucketPlan], Value]
    """A bucket's name on the cloud."""
    bucket_doc: str
    function: Callable[[ExecutorPlan], Value]
    function_doc: str
    vm: Callable[[ExecutorPlan], Value]
    """The VM's ``id`` and ``private_ip``."""
    vm_doc: str
    cluster: Callable[[ExecutorPlan], Value]
    """A cluster's type and id (and whatever else its tools need)."""
    identity: Callable[[ExecutorPlan], Value]
    identity_doc: str
    staging_doc: str = "Bucket for hand-offs between executors."


def add_outputs(m: Module, inv: Inventory, cloud: CloudOutputs) -> None:
    m.output("cloud", "The cloud this Terraform targets.", cloud.cloud)
    _package_outputs(m, inv)
    for name, description, value in cloud.placement:
        m.output(name, description, value)
    m.output(
        "buckets",
        f"Bucket name in the pipeline -> {cloud.bucket_doc}.",
        {b.name: cloud.bucket(b) for b in inv.buckets},
    )
    m.output("staging_bucket", cloud.staging_doc, cloud.bucket(inv.bucket(inv.staging_bucket)))
    by_kind: dict[ExecutorKind, dict[str, Value]] = {kind: {} for kind in ExecutorKind}
    for ex in inv.deployed:
        if ex.kind is ExecutorKind.SERVERLESS:
            entry = cloud.function(ex)
        elif ex.kind is ExecutorKind.VM:
            entry = cloud.vm(ex)
        else:
            entry = cloud.cluster(ex)
        by_kind[ex.kind][ex.name] = entry
    m.output(
        "functions",
        f"Serverless executor -> {cloud.function_doc}.",
        by_kind[ExecutorKind.SERVERLESS],
    )
    m.output("vms", f"VM executor -> {cloud.vm_doc} and private IP.", by_kind[ExecutorKind.VM])
    m.output("clusters", "Cluster executor -> cluster type and id.", by_kind[ExecutorKind.CLUSTER])
    m.output(
        "identities",
        f"Executor -> {cloud.identity_doc}.",
        {ex.name: cloud.identity(ex) for ex in inv.deployed},
    )


def _package_outputs(m: Module, inv: Inventory) -> None:
    """What was deployed, from ``build/manifest.json``: a runner compares the digest with its
    own code's (:func:`glacier.infra.package.code_digest`) before it sends a task.

    A pipeline that deploys no executor has no package to read: its digest is null.
    """
    if inv.deployed:
        manifest = read_manifest(m).text
        digest: Value = Expr(f"{manifest}.digest")
        pipeline: Value = {
            "name": Expr(f"{manifest}.pipeline"),
            "module": Expr(f"{manifest}.module"),
        }
    else:
        digest, pipeline = None, {"name": inv.pipeline, "module": inv.package_module}
    m.output("package_digest", "Code digest of the deployed package (glacier package).", digest)
    m.output(
        "pipeline", "The deployed pipeline's name and the module its package imports.", pipeline
    )
