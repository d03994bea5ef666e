"""GCP: private GCS buckets, Cloud Functions (2nd gen), Compute Engine, Dataproc or Databricks.

Each deployed executor gets its own service account, bound per bucket: ``objectViewer`` (get +
list) where it reads, a custom role with ``storage.objects.create`` (+ ``delete``, which GCS
requires to overwrite an object) where it writes.
"""

from __future__ import annotations

from glacier.clouds.databricks import terraform as databricks
from glacier.clouds.databricks.config import DatabricksConfig
from glacier.clouds.gcp.config import CloudFunctionConfig, ComputeEngineConfig, GcpConfig, GcsConfig
from glacier.config.compute import ClusterConfig, SparkConfig
from glacier.core.kinds import ExecutorKind
from glacier.errors import ConfigError
from glacier.infra import artifacts
from glacier.infra.hcl import Block, Expr, Value, call, ref, template
from glacier.infra.inventory import STAGING_EXPIRY_DAYS, BucketPlan, ExecutorPlan, Inventory
from glacier.infra.terraform.base import (
    DASK_WORKER_PORT,
    NANNY_PORT,
    Module,
    cloud_name,
    deployed_env,
    noncurrent_expiry_days,
    scheduler_address,
    scheduler_cidr,
    slug,
    worker_init,
)
from glacier.infra.terraform.checks import skipper
from glacier.infra.terraform.outputs import CloudOutputs, add_outputs

PIN = ("hashicorp/google", "~> 7.0")
"""The Terraform provider this module pins."""
SKIPS: dict[str, str] = {
    "CKV_GCP_62": (
        "GCS usage logs need a separate log bucket chosen by the project owner; Cloud Audit "
        "Logs record data access instead"
    ),
    "CKV_GCP_38": (
        "customer-supplied encryption keys must be held by the caller on every API call; disks "
        "are encrypted with Google-managed keys"
    ),
    "CKV_GCP_91": (
        "customer-supplied encryption keys must be held by the caller on every API call; disks "
        "are encrypted with Google-managed keys"
    ),
}
"""The checkov checks this module skips on purpose, each with the reason it is true."""
skip = skipper(SKIPS)
DATAPROC_IMAGE = "2.2-debian12"
READ_ROLE = "roles/storage.objectViewer"
WRITER = ref("google_project_iam_custom_role", "glacier_object_writer", "id")
_SHIELDED = {"enable_secure_boot": True, "enable_vtpm": True, "enable_integrity_monitoring": True}


def render(inv: Inventory) -> Module:
    m = Module(providers={"google": PIN})
    config = inv.provider if isinstance(inv.provider, GcpConfig) else None
    project = m.variable(
        "project_id",
        "string",
        "GCP project of every resource.",
        config.project_id if config else None,
    )
    region = m.variable(
        "region",
        "string",
        "GCP region of every resource.",
        config.region if config else "us-central1",
    )
    labels = {
        "glacier-pipeline": slug(inv.pipeline),
        **dict(sorted((config.labels if config else {}).items())),
    }
    provider = Block("provider", ("google",)).attr("project", project).attr("region", region)
    provider.attr(
        "default_labels", m.variable("labels", "map(string)", "Labels on every resource.", labels)
    )
    m.add("providers.tf", provider)
    for b in inv.buckets:
        assert isinstance(b.config, GcsConfig)
        _bucket(m, b.tf_name, b.name, b.config, region, STAGING_EXPIRY_DAYS if b.staging else None)
    if any(e.writes for e in inv.deployed):
        role = Block("resource", ("google_project_iam_custom_role", "glacier_object_writer"))
        role.attr("role_id", cloud_name("glacier", inv.pipeline, "writer", max_len=64, sep="_"))
        role.attr("title", f"Glacier object writer ({inv.pipeline})")
        role.attr("description", "Create objects; delete is what GCS requires to overwrite one.")
        role.attr("permissions", ["storage.objects.create", "storage.objects.delete"])
        m.add("iam.tf", role)
    if inv.of_kind(ExecutorKind.SERVERLESS):
        name = m.variable(
            "artifacts_bucket",
            "string",
            "GCS bucket for function source archives.",
            cloud_name(inv.pipeline, "glacier-artifacts"),
        )
        _bucket(m, "artifacts", name, GcsConfig(), region, None)
    for ex in inv.deployed:
        _identity(m, inv, ex, project)
        {
            ExecutorKind.SERVERLESS: _function,
            ExecutorKind.VM: _vm,
            ExecutorKind.CLUSTER: _cluster,
        }[ex.kind](m, inv, ex, region)
    _outputs(m, inv, project, region)
    m.notes += [
        "Artifacts: run `glacier package` first; it writes the function source zips into build/.",
        "VMs and Dataproc: set `subnetwork` (a private subnet with Private Google Access); VMs "
        "also need `network`, `dask_scheduler_address` and `scheduler_cidr`.",
    ]
    return m


def _bucket(
    m: Module, label: str, name: Value, config: GcsConfig, region: Expr, expire_days: int | None
) -> None:
    bucket = skip(Block("resource", ("google_storage_bucket", label)), "CKV_GCP_62")
    bucket.attr("name", name)
    bucket.attr("location", config.location or region)
    bucket.attr("storage_class", config.storage_class)
    bucket.attr("uniform_bucket_level_access", True)
    bucket.attr("public_access_prevention", "enforced")
    bucket.attr("force_destroy", False)
    bucket.block("versioning").attr("enabled", True)
    if config.kms_key_name:
        bucket.block("encryption").attr("default_kms_key_name", config.kms_key_name)
    rules: list[tuple[str, dict[str, Value]]] = [("AbortIncompleteMultipartUpload", {"age": 7})]
    noncurrent = noncurrent_expiry_days(config)
    if noncurrent is not None:
        rules.append(("Delete", {"days_since_noncurrent_time": noncurrent}))
    if expire_days is not None:
        rules.append(("Delete", {"age": expire_days}))
    for action, condition in rules:
        rule = bucket.block("lifecycle_rule")
        rule.block("action").attr("type", action)
        inner = rule.block("condition")
        for key, value in condition.items():
            inner.attr(key, value)
    m.add("storage.tf", bucket)


def _account_id(inv: Inventory, ex: ExecutorPlan) -> str:
    """6-30 characters, starting with a letter: the service account id rules."""
    name = cloud_name(inv.pipeline, ex.name, max_len=30)
    return name if len(name) >= 6 and name[0].isalpha() else cloud_name("glacier", name, max_len=30)


def _email(ex: ExecutorPlan) -> Expr:
    return ref("google_service_account", ex.tf_name, "email")


def _identity(m: Module, inv: Inventory, ex: ExecutorPlan, project: Expr) -> None:
    t = ex.tf_name
    account = Block("resource", ("google_service_account", t))
    account.attr("account_id", _account_id(inv, ex))
    account.attr("display_name", f"Glacier {inv.pipeline} executor {ex.name}")
    m.add("iam.tf", account)
    member = template("serviceAccount:", _email(ex))
    grants = [(b, "read", READ_ROLE) for b in ex.reads] + [(b, "write", WRITER) for b in ex.writes]
    for bucket, access, role in grants:
        plan = inv.bucket(bucket)
        binding = Block(
            "resource", ("google_storage_bucket_iam_member", f"{t}_{access}_{plan.tf_name}")
        )
        binding.attr("bucket", ref("google_storage_bucket", plan.tf_name, "name"))
        binding.attr("role", role)
        binding.attr("member", member)
        m.add("iam.tf", binding)
    project_roles = []
    if ex.kind is ExecutorKind.VM:
        project_roles = ["roles/logging.logWriter"]
    elif ex.kind is ExecutorKind.CLUSTER and not isinstance(ex.config, DatabricksConfig):
        project_roles = ["roles/dataproc.worker"]  # includes writing the cluster's own logs
    for role in project_roles:
        binding = Block("resource", ("google_project_iam_member", f"{t}_{role.split('.')[-1]}"))
        binding.attr("project", project).attr("role", role).attr("member", member)
        m.add("iam.tf", binding)


def _function(m: Module, inv: Inventory, ex: ExecutorPlan, region: Expr) -> None:
    config = ex.config
    assert isinstance(config, CloudFunctionConfig)
    t = ex.tf_name
    path = template(Expr("path.module"), f"/{artifacts.code_zip(ex.name)}")
    source = Block("resource", ("google_storage_bucket_object", f"{t}_code"))
    source.attr("name", template(f"functions/{ex.name}-", call("filemd5", path), ".zip"))
    source.attr("bucket", ref("google_storage_bucket", "artifacts", "name"))
    source.attr("source", path)
    fn = Block("resource", ("google_cloudfunctions2_function", t))
    fn.attr("name", cloud_name(inv.pipeline, ex.name))
    fn.attr("location", region)
    fn.attr("description", f"Glacier pipeline {inv.pipeline}, executor {ex.name}")
    build = fn.block("build_config").attr("runtime", config.runtime).attr("entry_point", "handler")
    storage = build.block("source").block("storage_source")
    storage.attr("bucket", ref("google_storage_bucket", "artifacts", "name"))
    storage.attr("object", ref("google_storage_bucket_object", f"{t}_code", "name"))
    service = fn.block("service_config")
    service.attr("available_memory", f"{config.memory}M")
    cpu = _cpu(config.memory)
    if cpu:
        service.attr("available_cpu", cpu)
    service.attr("timeout_seconds", config.timeout)
    service.attr("max_instance_count", config.max_instances)
    service.attr("ingress_settings", "ALLOW_INTERNAL_ONLY")
    service.attr("all_traffic_on_latest_revision", True)
    service.attr("service_account_email", _email(ex))
    service.attr("environment_variables", deployed_env(inv, ex, _bucket_name))
    m.add("functions.tf", source, fn)


def _cpu(memory: int) -> str | None:
    """Cloud Functions needs more than the default CPU above 4 GiB of memory."""
    for limit, cpus in ((4096, None), (8192, "2"), (16384, "4"), (32768, "8")):
        if memory <= limit:
            return cpus
    return "8"


def machine_type(cpus: int, memory: int) -> str:
    """The smallest E2 type with at least ``cpus`` and ``memory`` MB."""
    for n in (2, 4, 8, 16, 32):
        for family, gb_per_cpu in (("highcpu", 1), ("standard", 4), ("highmem", 8)):
            if n >= cpus and n * gb_per_cpu * 1024 >= memory:
                return f"e2-{family}-{n}"
    raise ConfigError(
        f"No E2 machine type has {cpus} vCPUs and {memory} MB. Set "
        f"ComputeEngineConfig(machine_type=...)."
    )


def _subnetwork(m: Module) -> Expr:
    return m.variable("subnetwork", "string", "Private subnetwork of VMs and clusters.")


def _vm(m: Module, inv: Inventory, ex: ExecutorPlan, region: Expr) -> None:
    config = ex.config
    assert isinstance(config, ComputeEngineConfig)
    t = ex.tf_name
    network = m.variable("network", "string", "VPC network of the VM workers.")
    subnetwork = _subnetwork(m)
    scheduler = scheduler_address(m)
    cidr = scheduler_cidr(m)
    firewall = Block("resource", ("google_compute_firewall", t))
    firewall.attr("name", cloud_name(inv.pipeline, ex.name, "dask"))
    firewall.attr("network", network)
    firewall.attr("description", "Dask scheduler to Glacier worker and nanny")
    firewall.attr("direction", "INGRESS")
    firewall.attr("source_ranges", [cidr])
    firewall.attr("target_service_accounts", [_email(ex)])
    firewall.block("allow").attr("protocol", "tcp").attr(
        "ports", [f"{DASK_WORKER_PORT}-{NANNY_PORT}"]
    )
    vm = skip(Block("resource", ("google_compute_instance", t)), "CKV_GCP_38")
    vm.attr("name", cloud_name(inv.pipeline, ex.name))
    vm.attr("machine_type", config.machine_type or machine_type(config.cpus, config.memory))
    vm.attr("zone", config.zone or template(region, "-b"))
    vm.block("boot_disk").block("initialize_params").attr("image", config.image)
    vm.block("network_interface").attr("subnetwork", subnetwork)
    vm.block("service_account").attr("email", _email(ex)).attr("scopes", ["cloud-platform"])
    shielded = vm.block("shielded_instance_config")
    for key, value in _SHIELDED.items():
        shielded.attr(key, value)
    vm.attr("metadata", {"block-project-ssh-keys": "true", "enable-oslogin": "TRUE"})
    vm.attr("metadata_startup_script", worker_init(m, ex.name, scheduler))
    m.add("vms.tf", firewall, vm)


def _cluster(m: Module, inv: Inventory, ex: ExecutorPlan, region: Expr) -> None:
    config = ex.config
    assert isinstance(config, ClusterConfig)
    if isinstance(config, DatabricksConfig):
        databricks.provider(m, databricks.host_variable(m, config))
        attributes: dict[str, Value] = {
            "google_service_account": _email(ex),
            "availability": "ON_DEMAND_GCP",
        }
        databricks.cluster(m, inv, ex, config, "n2-standard-4", ("gcp_attributes", attributes))
        return
    machine = config.instance_type or "n2-standard-4"
    cluster = skip(Block("resource", ("google_dataproc_cluster", ex.tf_name)), "CKV_GCP_91")
    cluster.attr("name", cloud_name(inv.pipeline, ex.name, max_len=51))
    cluster.attr("region", region)
    body = cluster.block("cluster_config")
    body.block("master_config").attr("num_instances", 1).attr("machine_type", machine)
    workers = config.workers if config.workers >= 2 else 0
    if workers:
        body.block("worker_config").attr("num_instances", workers).attr("machine_type", machine)
    software = body.block("software_config").attr("image_version", DATAPROC_IMAGE)
    properties: dict[str, Value] = {}
    if not workers:
        properties["dataproc:dataproc.allow.zero.workers"] = "true"
    if isinstance(config, SparkConfig):
        properties.update({f"spark:{k}": v for k, v in sorted(config.conf.items())})
        properties["spark:spark.executor.memory"] = config.executor_memory
    if properties:
        software.attr("override_properties", properties)
    gce = body.block("gce_cluster_config")
    gce.attr("service_account", _email(ex))
    gce.attr("service_account_scopes", ["cloud-platform"])
    gce.attr("internal_ip_only", True)
    gce.attr("subnetwork", _subnetwork(m))
    shielded = gce.block("shielded_instance_config")
    for key, value in _SHIELDED.items():
        shielded.attr(key, value)
    body.block("lifecycle_config").attr("idle_delete_ttl", f"{config.autoterminate_minutes * 60}s")
    m.add("clusters.tf", cluster)


def _outputs(m: Module, inv: Inventory, project: Expr, region: Expr) -> None:
    add_outputs(
        m,
        inv,
        CloudOutputs(
            cloud="gcp",
            placement=[("project_id", "GCP project.", project), ("region", "GCP region.", region)],
            bucket=_bucket_name,
            bucket_doc="GCS bucket name",
            function=_function_output,
            function_doc="Cloud Function name and URL",
            vm=_vm_output,
            vm_doc="instance id",
            cluster=lambda ex: (
                databricks.cluster_output(ex)
                if isinstance(ex.config, DatabricksConfig)
                else {"type": "dataproc", "id": ref("google_dataproc_cluster", ex.tf_name, "name")}
            ),
            identity=_email,
            identity_doc="the service account it runs as",
        ),
    )


def _function_output(ex: ExecutorPlan) -> Value:
    fn = f"google_cloudfunctions2_function.{ex.tf_name}"
    return {"name": Expr(f"{fn}.name"), "url": Expr(f"{fn}.url")}


def _vm_output(ex: ExecutorPlan) -> Value:
    t = ex.tf_name
    return {
        "id": ref("google_compute_instance", t, "instance_id"),
        "private_ip": Expr(f"google_compute_instance.{t}.network_interface[0].network_ip"),
    }


def _bucket_name(b: BucketPlan) -> Expr:
    return ref("google_storage_bucket", b.tf_name, "name")
