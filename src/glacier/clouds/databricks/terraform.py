"""Databricks clusters, the same on every cloud except for the identity attributes and the
deployed environment, which each cloud gives."""

from __future__ import annotations

from collections.abc import Mapping

from glacier.clouds.databricks.config import DatabricksConfig
from glacier.clouds.databricks.package import JOB_TEMPLATE_PATH, wheel_name, wheel_path
from glacier.infra import artifacts
from glacier.infra.hcl import Block, Expr, Value, call, ref, template
from glacier.infra.inventory import ExecutorPlan, Inventory
from glacier.infra.terraform.base import NAME_PREFIX, Module, prefixed

PIN = ("databricks/databricks", "~> 1.0")
"""The Terraform provider clusters need, next to the cloud's own."""


def provider(m: Module, host: Value) -> None:
    """Declare the databricks provider once, pointed at ``host``, and read back the workspace
    URL it resolved (``databricks_current_config``) for the ``clusters`` output."""
    if "databricks" not in m.providers:
        m.providers["databricks"] = PIN
        m.add("providers.tf", Block("provider", ("databricks",)).attr("host", host))
        m.add("clusters.tf", Block("data", ("databricks_current_config", "glacier")))


def host_variable(m: Module, config: DatabricksConfig) -> Expr:
    return m.variable(
        "databricks_host", "string", "URL of the existing Databricks workspace.", config.host
    )


def cluster(
    m: Module,
    inv: Inventory,
    ex: ExecutorPlan,
    config: DatabricksConfig,
    node_type: str,
    attributes: tuple[str, dict[str, Value]],
    env: Mapping[str, Value],
) -> None:
    """An existing cluster (``cluster_id``) or a new single-user cluster with encrypted disks,
    either way with Glacier and the pipeline installed from the package's wheel, and the job
    entry point that runs the executor's tasks (:func:`_job`).

    ``attributes`` is the cloud's block (``aws_attributes``...) that gives the cluster the
    executor's identity; ``env`` the executor's deployed environment.
    """
    t = ex.tf_name
    wheel = _wheel(m, inv)
    _job(m, ex, env)
    if config.cluster_id:
        existing = Block("data", ("databricks_cluster", t)).attr("cluster_id", config.cluster_id)
        library = Block("resource", ("databricks_library", t))
        library.attr("cluster_id", ref("data", "databricks_cluster", t, "cluster_id"))
        library.attr("whl", wheel)
        m.add("clusters.tf", existing, library)
        m.notes.append(
            f"Databricks cluster {config.cluster_id} (executor {ex.name}) exists already: give it "
            f"the identity in output `identities` so it can reach the pipeline's buckets. "
            f"Terraform installs the pipeline's wheel on it (a library: it starts the cluster); "
            f"its runs take their environment from the job entry point, not the cluster's."
        )
        return
    user = m.variable("databricks_user", "string", "Databricks user the clusters run as.")
    made = Block("resource", ("databricks_cluster", t))
    made.attr("cluster_name", prefixed(ex.name, max_len=100))
    made.attr("spark_version", config.spark_version)
    made.attr("node_type_id", config.instance_type or node_type)
    made.attr("num_workers", config.workers)
    made.attr("autotermination_minutes", config.autoterminate_minutes)
    made.attr("data_security_mode", "SINGLE_USER")
    made.attr("single_user_name", user)
    made.attr("enable_local_disk_encryption", True)
    if config.workers == 0:
        made.attr("is_single_node", True).attr("kind", "CLASSIC_PREVIEW")
    block_type, values = attributes
    inner = made.block(block_type)
    for key, value in values.items():
        inner.attr(key, value)
    made.block("library").attr("whl", wheel)
    m.add("clusters.tf", made)


def _wheel(m: Module, inv: Inventory) -> Expr:
    """The package's wheel as a workspace file (once per module); its ``/Workspace/...`` path.

    Workspace files, since cluster libraries from the DBFS root are disabled from Databricks
    Runtime 15.1 on; ``md5`` re-uploads it when ``glacier package`` rebuilt it.
    """
    label = "glacier_wheel"
    if not any(
        b.labels == ("databricks_workspace_file", label) for b in m.files.get("clusters.tf", [])
    ):
        source = template(Expr("path.module"), f"/{wheel_path(inv)}")
        upload = Block("resource", ("databricks_workspace_file", label))
        upload.attr("source", source)
        upload.attr("md5", call("filemd5", source))
        upload.attr("path", template("/Shared/glacier/", NAME_PREFIX, f"/{wheel_name(inv)}"))
        m.add("clusters.tf", upload)
    return ref("databricks_workspace_file", label, "workspace_path")


def _job(m: Module, ex: ExecutorPlan, env: Mapping[str, Value]) -> None:
    """The executor's ``glacier_job.py``, a workspace file rendered from the package's template
    with ``env`` and the wheel's path in it.

    The entry point carries the environment, not the cluster's ``spark_env_vars``: an existing
    cluster's cannot be set (Terraform only reads it, and a runs/submit task on an
    ``existing_cluster_id`` takes none), and on a cluster Terraform made, a changed digest would
    restart it on every apply. The content holds the manifest's digest, so a repackage
    re-uploads it.
    """
    rendered = call(
        "templatefile",
        template(Expr("path.module"), f"/{JOB_TEMPLATE_PATH}"),
        {
            "wheel": ref("databricks_workspace_file", "glacier_wheel", "workspace_path"),
            "environment": dict(env),
        },
    )
    job = Block("resource", ("databricks_workspace_file", f"{ex.tf_name}_job"))
    job.attr("content_base64", call("base64encode", rendered))
    job.attr(
        "path", template("/Shared/glacier/", NAME_PREFIX, f"/{ex.name}/{artifacts.JOB_SCRIPT}")
    )
    m.add("clusters.tf", job)


def cluster_output(ex: ExecutorPlan) -> dict[str, Value]:
    """The ``clusters`` output entry of the cluster ``cluster`` declared for ``ex``: what cloud
    mode submits runs with (:mod:`glacier.clouds.databricks.jobs`)."""
    existing = isinstance(ex.config, DatabricksConfig) and ex.config.cluster_id
    source = "data.databricks_cluster" if existing else "databricks_cluster"
    return {
        "type": "databricks",
        "id": ref(source, ex.tf_name, "cluster_id"),
        "host": ref("data", "databricks_current_config", "glacier", "host"),
        "python_file": ref("databricks_workspace_file", f"{ex.tf_name}_job", "path"),
    }
