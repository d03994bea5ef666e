"""GCP: private GCS buckets, Cloud Functions (2nd gen), Compute Engine, Dataproc or Databricks.

Each deployed executor gets its own service account, bound per bucket to a custom role holding
exactly the permissions of what it does there (``storage.access.operations_for``, mapped by
``gcp.iam``). Every API the resources use is enabled first (``google_project_service``), and
every resource waits for it. Functions are internal-only unless ``var.public_ingress`` says
otherwise, and callable by ``var.runner_member`` (``roles/run.invoker``).
"""

from __future__ import annotations

from glacier.clouds.databricks import terraform as databricks
from glacier.clouds.databricks.config import DatabricksConfig
from glacier.clouds.gcp import iam, package
from glacier.clouds.gcp.config import CloudFunctionConfig, ComputeEngineConfig, GcpConfig, GcsConfig
from glacier.config.compute import ClusterConfig, SparkConfig
from glacier.core.kinds import ExecutorKind
from glacier.errors import ConfigError
from glacier.identifiers import slug
from glacier.infra import artifacts
from glacier.infra.hcl import Block, Expr, Template, Value, call, ref, template
from glacier.infra.inventory import STAGING_EXPIRY_DAYS, BucketPlan, ExecutorPlan, Inventory
from glacier.infra.terraform.base import (
    DASK_SCHEDULER_PORT,
    DASK_WORKER_PORT,
    NANNY_PORT,
    PACKAGE_ZIP,
    Module,
    bucket_grants,
    declare_name_prefix,
    deployed_env,
    noncurrent_expiry_days,
    prefixed,
    scheduler_cidr,
    scheduler_command,
    scheduler_output,
    scheduler_plan,
    worker_init,
)
from glacier.infra.terraform.checks import skipper
from glacier.infra.terraform.outputs import CloudOutputs, add_outputs
from glacier.storage.access import Operation, operations_for, role_suffix

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
SERVICES = ref("google_project_service", "apis")
READ = operations_for(reads=True, writes=False)
ARTIFACTS = ref("google_storage_bucket", "artifacts", "name")
_APIS = {
    # What every module creates: buckets, service accounts, custom roles.
    None: ("iam.googleapis.com", "storage.googleapis.com"),
    ExecutorKind.SERVERLESS: (
        "artifactregistry.googleapis.com",  # where Cloud Build puts the function's image
        "cloudbuild.googleapis.com",
        "cloudfunctions.googleapis.com",
        "run.googleapis.com",  # a 2nd-gen function is a Cloud Run service
    ),
    ExecutorKind.VM: ("compute.googleapis.com", "logging.googleapis.com"),
    ExecutorKind.CLUSTER: ("compute.googleapis.com", "dataproc.googleapis.com"),
}
"""The Google APIs each kind of executor needs enabled (a Databricks cluster runs in the
workspace's own project, so it needs none here)."""
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
    declare_name_prefix(m, inv.pipeline, project)
    for b in inv.buckets:
        assert isinstance(b.config, GcsConfig)
        expire_days = STAGING_EXPIRY_DAYS if b.staging else None
        _bucket(m, b.tf_name, prefixed(b.name), b.config, region, expire_days)
    _apis(m, inv, project)
    roles = {ops for ex in inv.deployed for _, ops in bucket_grants(ex)}
    if package.has_dataproc(inv) or inv.of_kind(ExecutorKind.VM):
        roles.add(READ)  # Dataproc nodes and VMs read their package from the artifacts bucket
    for operations in sorted(roles, key=len):
        _object_role(m, inv, operations)
    vms = inv.of_kind(ExecutorKind.VM)
    if inv.of_kind(ExecutorKind.SERVERLESS) or vms or package.has_dataproc(inv):
        # function sources and cluster archives
        _bucket(m, "artifacts", prefixed("glacier-artifacts"), GcsConfig(), region, None)
    for ex in inv.deployed:
        _identity(m, inv, ex, project)
        {
            ExecutorKind.SERVERLESS: _function,
            ExecutorKind.VM: _vm,
            ExecutorKind.CLUSTER: _cluster,
        }[ex.kind](m, inv, ex, region)
    _outputs(m, inv, project, region)
    _wait_for_apis(m)
    m.notes += [
        "Artifacts: run `glacier package` first; it writes the function source zips into build/.",
        "VMs and Dataproc: set `subnetwork` (a private subnet with Private Google Access); VMs "
        "also need `network` and `scheduler_cidr` (the subnet's range). The module runs a Dask "
        "scheduler VM for the workers and a Cloud NAT on the subnet (for the VMs' apt).",
        "APIs: the module enables every Google API it uses and leaves them on at destroy "
        "(other workloads of the project may use them).",
    ]
    if inv.of_kind(ExecutorKind.SERVERLESS):
        m.notes.append(
            "Functions: set `runner_member` to the principal that runs the pipeline (it gets "
            "`roles/run.invoker`); they accept internal traffic only unless `public_ingress` is "
            "true. Call them with an identity token (`gcloud auth print-identity-token`)."
        )
    return m


def _apis(m: Module, inv: Inventory, project: Expr) -> None:
    kinds = [None, *(ex.kind for ex in inv.deployed if not _on_databricks(ex))]
    apis = sorted({api for kind in kinds for api in _APIS[kind]})
    service = Block("resource", ("google_project_service", "apis"))
    service.attr("for_each", call("toset", apis))
    service.attr("project", project).attr("service", Expr("each.value"))
    service.attr("disable_on_destroy", False)
    m.add("apis.tf", service)


def _wait_for_apis(m: Module) -> None:
    """Make every resource wait for the APIs: Terraform cannot see that it calls them."""
    for file, blocks in m.files.items():
        for block in blocks:
            if block.type == "resource" and file != "apis.tf":
                block.attr("depends_on", [SERVICES])


def _on_databricks(ex: ExecutorPlan) -> bool:
    return isinstance(ex.config, DatabricksConfig)


def _role_label(operations: frozenset[Operation]) -> str:
    return f"objects_{role_suffix(operations)}"


def _object_role(m: Module, inv: Inventory, operations: frozenset[Operation]) -> None:
    role = Block("resource", ("google_project_iam_custom_role", _role_label(operations)))
    # A deleted custom role keeps its id for up to 44 days: a new name_prefix avoids the wait.
    role.attr("role_id", prefixed("objects", role_suffix(operations), max_len=64, sep="_"))
    role.attr("title", f"Glacier {inv.pipeline} objects: {role_suffix(operations)}")
    role.attr("description", "What Glacier does to a bucket's objects: glacier.storage.access.")
    role.attr("permissions", iam.permissions(operations))
    m.add("iam.tf", role)


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


def _email(ex: ExecutorPlan) -> Expr:
    return ref("google_service_account", ex.tf_name, "email")


def _identity(m: Module, inv: Inventory, ex: ExecutorPlan, project: Expr) -> None:
    t = ex.tf_name
    account = Block("resource", ("google_service_account", t))
    account.attr("account_id", prefixed(ex.name, max_len=30))  # 6-30 characters
    account.attr("display_name", f"Glacier {inv.pipeline} executor {ex.name}")
    m.add("iam.tf", account)
    member = template("serviceAccount:", _email(ex))
    for bucket, operations in bucket_grants(ex):
        plan = inv.bucket(bucket)
        binding = Block("resource", ("google_storage_bucket_iam_member", f"{t}_{plan.tf_name}"))
        binding.attr("bucket", ref("google_storage_bucket", plan.tf_name, "name"))
        binding.attr("role", ref("google_project_iam_custom_role", _role_label(operations), "id"))
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
    """A 2nd-gen function: internal-only unless ``var.public_ingress``, invoked by the runner."""
    config = ex.config
    assert isinstance(config, CloudFunctionConfig)
    t = ex.tf_name
    path = template(Expr("path.module"), f"/{artifacts.code_zip(ex.name)}")
    source = Block("resource", ("google_storage_bucket_object", f"{t}_code"))
    source.attr("name", template(f"functions/{ex.name}-", call("filemd5", path), ".zip"))
    source.attr("bucket", ref("google_storage_bucket", "artifacts", "name"))
    source.attr("source", path)
    fn = Block("resource", ("google_cloudfunctions2_function", t))
    fn.attr("name", prefixed(ex.name))
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
    public = m.variable(
        "public_ingress",
        "bool",
        "Accept calls from outside the project's VPC networks (the runner's laptop, CI); "
        "callers still need roles/run.invoker.",
        False,
    )
    service.attr("ingress_settings", Expr(f'{public.text} ? "ALLOW_ALL" : "ALLOW_INTERNAL_ONLY"'))
    service.attr("all_traffic_on_latest_revision", True)
    service.attr("service_account_email", _email(ex))
    service.attr("environment_variables", _environment(m, inv, ex))
    invoker = Block("resource", ("google_cloud_run_v2_service_iam_member", f"{t}_invoker"))
    invoker.attr("name", ref("google_cloudfunctions2_function", t, "name"))
    invoker.attr("location", region)
    invoker.attr("role", "roles/run.invoker")
    invoker.attr(
        "member",
        m.variable(
            "runner_member",
            "string",
            "IAM member that runs the pipeline and calls its functions, e.g. "
            "serviceAccount:runner@PROJECT.iam.gserviceaccount.com or user:me@example.com.",
        ),
    )
    m.add("functions.tf", source, fn, invoker)


def _environment(m: Module, inv: Inventory, ex: ExecutorPlan) -> dict[str, Value]:
    """What ``Provider.from_env()`` needs in a deployed executor, next to Glacier's own names."""
    cloud = {
        "GOOGLE_CLOUD_PROJECT": ref("var", "project_id"),
        "GOOGLE_CLOUD_REGION": ref("var", "region"),
    }
    return deployed_env(m, inv, ex, _bucket_name, cloud)


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


SCHEDULER_VM = ComputeEngineConfig(cpus=2, memory=2048)
"""The Dask scheduler's VM: it schedules, it does not compute (e2-highcpu-2)."""


def _vm(m: Module, inv: Inventory, ex: ExecutorPlan, region: Expr) -> None:
    """A Dask worker VM, joining the module's scheduler VM (made with the first worker)."""
    scheduler = _scheduler(m, inv, region)
    ports = f"{DASK_WORKER_PORT}-{NANNY_PORT}"
    _instance(m, inv, ex, region, ports, "Dask scheduler to Glacier worker and nanny", scheduler)


def _scheduler(m: Module, inv: Inventory, region: Expr) -> Template:
    """The one scheduler VM (once per module), a VM like the workers; its ``tls://`` address."""
    plan = scheduler_plan(SCHEDULER_VM)
    ip = ref("google_compute_instance", plan.tf_name, "network_interface[0].network_ip")
    address = scheduler_output(m, ip)
    if not any(
        b.labels == ("google_compute_instance", plan.tf_name) for b in m.files.get("vms.tf", [])
    ):
        _identity(m, inv, plan, ref("var", "project_id"))
        port = str(DASK_SCHEDULER_PORT)
        _instance(m, inv, plan, region, port, "Dask workers and the runner to the scheduler")
        _nat(m, region)
    return address


def _nat(m: Module, region: Expr) -> None:
    """Cloud NAT for the VMs' subnetwork: they have no public IP, and their start-up script
    installs python3-venv from Debian's repositories (Google's APIs need no NAT: Private Google
    Access)."""
    router = Block("resource", ("google_compute_router", "glacier"))
    router.attr("name", prefixed("nat"))
    router.attr("network", ref("var", "network")).attr("region", region)
    nat = Block("resource", ("google_compute_router_nat", "glacier"))
    nat.attr("name", prefixed("nat"))
    nat.attr("router", ref("google_compute_router", "glacier", "name")).attr("region", region)
    nat.attr("nat_ip_allocate_option", "AUTO_ONLY")
    nat.attr("source_subnetwork_ip_ranges_to_nat", "LIST_OF_SUBNETWORKS")
    subnet = nat.block("subnetwork").attr("name", ref("var", "subnetwork"))
    subnet.attr("source_ip_ranges_to_nat", ["ALL_IP_RANGES"])
    nat.block("log_config").attr("enable", True).attr("filter", "ERRORS_ONLY")
    m.add("network.tf", router, nat)


def _instance(
    m: Module,
    inv: Inventory,
    ex: ExecutorPlan,
    region: Expr,
    ports: str,
    why: str,
    scheduler: Template | None = None,
) -> None:
    """A Compute Engine VM of ``ex`` admitting Dask traffic on ``ports`` from the scheduler's
    CIDR: a worker joining ``scheduler``, or (without one) the scheduler itself."""
    config = ex.config
    assert isinstance(config, ComputeEngineConfig)
    t = ex.tf_name
    network = m.variable("network", "string", "VPC network of the VMs.")
    subnetwork = _subnetwork(m)
    cidr = scheduler_cidr(m)
    firewall = Block("resource", ("google_compute_firewall", t))
    firewall.attr("name", prefixed(ex.name, "dask"))
    firewall.attr("network", network)
    firewall.attr("description", why)
    firewall.attr("direction", "INGRESS")
    firewall.attr("source_ranges", [cidr])
    firewall.attr("target_service_accounts", [_email(ex)])
    firewall.block("allow").attr("protocol", "tcp").attr("ports", [ports])
    vm = skip(Block("resource", ("google_compute_instance", t)), "CKV_GCP_38")
    vm.attr("name", prefixed(ex.name))
    vm.attr("machine_type", config.machine_type or machine_type(config.cpus, config.memory))
    vm.attr("zone", config.zone or template(region, "-b"))
    vm.block("boot_disk").block("initialize_params").attr("image", config.image)
    vm.block("network_interface").attr("subnetwork", subnetwork)
    vm.block("service_account").attr("email", _email(ex)).attr("scopes", ["cloud-platform"])
    shielded = vm.block("shielded_instance_config")
    for key, value in _SHIELDED.items():
        shielded.attr(key, value)
    vm.attr("metadata", {"block-project-ssh-keys": "true", "enable-oslogin": "TRUE"})
    if scheduler is None:
        script = worker_init(
            m, ex.name, "", fetch=_fetch_vm_package(m), command=scheduler_command()
        )
    else:
        env = _environment(m, inv, ex)
        script = worker_init(m, ex.name, scheduler, fetch=_fetch_vm_package(m), env=env)
    vm.attr("metadata_startup_script", script)
    m.add("vms.tf", firewall, vm)
    _read_artifacts(m, ex)


def _read_artifacts(m: Module, ex: ExecutorPlan) -> None:
    """Let ``ex`` read (list + get) the artifacts bucket, where its package is."""
    reader = Block("resource", ("google_storage_bucket_iam_member", f"{ex.tf_name}_artifacts"))
    reader.attr("bucket", ARTIFACTS)
    reader.attr("role", ref("google_project_iam_custom_role", _role_label(READ), "id"))
    reader.attr("member", template("serviceAccount:", _email(ex)))
    m.add("iam.tf", reader)


def _fetch_vm_package(m: Module) -> Template:
    """Upload ``glacier package``'s VM package (once); the command a VM copies it with."""
    label = "vm_package"
    if not any(
        b.labels == ("google_storage_bucket_object", label) for b in m.files.get("vms.tf", [])
    ):
        path = template(Expr("path.module"), f"/{artifacts.vm_zip(package.VM_PLATFORM.arch)}")
        archive = Block("resource", ("google_storage_bucket_object", label))
        archive.attr("name", template("vms/glacier-", call("filemd5", path), ".zip"))
        archive.attr("bucket", ARTIFACTS)
        archive.attr("source", path)
        m.add("vms.tf", archive)
    obj = ref("google_storage_bucket_object", label, "name")
    # debian-12 images ship the Google Cloud CLI; the VM's service account reads the object
    return template("gcloud storage cp --quiet gs://", ARTIFACTS, "/", obj, f" {PACKAGE_ZIP}")


def _cluster(m: Module, inv: Inventory, ex: ExecutorPlan, region: Expr) -> None:
    config = ex.config
    assert isinstance(config, ClusterConfig)
    if isinstance(config, DatabricksConfig):
        databricks.provider(m, databricks.host_variable(m, config))  # no API of this project
        attributes: dict[str, Value] = {
            "google_service_account": _email(ex),
            "availability": "ON_DEMAND_GCP",
        }
        identity = ("gcp_attributes", attributes)
        env = _environment(m, inv, ex)
        databricks.cluster(m, inv, ex, config, "n2-standard-4", identity, env)
        return
    machine = config.instance_type or "n2-standard-4"
    cluster = skip(Block("resource", ("google_dataproc_cluster", ex.tf_name)), "CKV_GCP_91")
    cluster.attr("name", prefixed(ex.name, max_len=51))
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
    gce.attr("metadata", {package.METADATA_KEY: call("jsonencode", _environment(m, inv, ex))})
    shielded = gce.block("shielded_instance_config")
    for key, value in _SHIELDED.items():
        shielded.attr(key, value)
    body.block("lifecycle_config").attr("idle_delete_ttl", f"{config.autoterminate_minutes * 60}s")
    init = body.block("initialization_action")
    init.attr("script", template("gs://", ARTIFACTS, "/", _dataproc_init(m)))
    init.attr("timeout_sec", 600)
    m.add("clusters.tf", cluster)
    _read_artifacts(m, ex)


def _dataproc_init(m: Module) -> Expr:
    """The archive ``glacier package`` builds and the script that unpacks it, uploaded once.

    Returns the script's object name, for the clusters' ``initialization_action``.
    """
    init = ref("google_storage_bucket_object", "dataproc_init", "name")
    if any(b.labels == tuple(init.text.split(".")[:2]) for b in m.files.get("clusters.tf", [])):
        return init
    path = template(Expr("path.module"), f"/{package.DATAPROC_ARCHIVE}")
    archive = Block("resource", ("google_storage_bucket_object", "dataproc_archive"))
    archive.attr("name", template("dataproc/glacier-", call("filemd5", path), ".zip"))
    archive.attr("bucket", ARTIFACTS)
    archive.attr("source", path)
    before, after = package.INIT_ACTION.split(package.ARCHIVE_MARKER)
    archive_name = ref("google_storage_bucket_object", "dataproc_archive", "name")
    script = Block("resource", ("google_storage_bucket_object", "dataproc_init"))
    script.attr("name", "dataproc/glacier-init.sh")
    script.attr("bucket", ARTIFACTS)
    script.attr("content", template(before, "gs://", ARTIFACTS, "/", archive_name, after))
    m.add("clusters.tf", archive, script)
    m.notes.append(
        "Dataproc: run `glacier package` first (it builds build/dataproc.zip); every node "
        f"unpacks it at start-up, and a job runs {package.JOB_URI} with the URI of the "
        "invocation event staged in the staging bucket as its argument."
    )
    return init


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
                else _dataproc_output(ex, project, region)
            ),
            identity=_email,
            identity_doc="the service account it runs as",
        ),
    )


def _dataproc_output(ex: ExecutorPlan, project: Expr, region: Expr) -> Value:
    """What cloud mode submits the cluster's jobs with (:mod:`glacier.clouds.gcp.dataproc`)."""
    return {
        "type": "dataproc",
        "id": ref("google_dataproc_cluster", ex.tf_name, "name"),
        "project": project,
        "region": region,
        "main_python_file_uri": package.JOB_URI,
    }


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
