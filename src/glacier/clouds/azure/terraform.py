"""Azure: one hardened storage account (a container per bucket), Flex Consumption functions,
Linux VMs on a private subnet, Databricks; one user-assigned identity per executor.

Role assignments are scoped to containers, to custom roles holding exactly the blob data actions
of what an executor does there (``storage.access.operations_for``, mapped by ``azure.iam``).
Function host storage lives in a separate account so the data account keeps that scoping.
Functions take a function key (``AuthLevel.FUNCTION``): output ``function_keys`` (sensitive)
holds each function's default key for the runner's ``x-functions-key`` header.
"""

from __future__ import annotations

from glacier.clouds.azure import iam, package
from glacier.clouds.azure.config import (
    AzureBlobConfig,
    AzureConfig,
    AzureFunctionConfig,
    AzureVmConfig,
)
from glacier.clouds.azure.package import FUNCTION_ROUTE
from glacier.clouds.databricks import terraform as databricks
from glacier.clouds.databricks.config import DatabricksConfig
from glacier.config.compute import ClusterConfig
from glacier.core.kinds import ExecutorKind
from glacier.errors import ConfigError
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
    cloud_name,
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

PIN = ("hashicorp/azurerm", "~> 4.0")
"""The Terraform provider this module pins."""
SKIPS: dict[str, str] = {
    "CKV2_AZURE_1": (
        "data is encrypted at rest with Microsoft-managed keys plus infrastructure encryption; "
        "customer-managed keys need a Key Vault the user owns"
    ),
    "CKV2_AZURE_33": (
        "a private endpoint needs a private DNS zone and network the user owns; access is "
        "restricted by Entra ID role assignments and shared keys are disabled"
    ),
    "CKV_AZURE_33": "Glacier creates no storage queues, so there is no queue service to log",
    "CKV2_AZURE_21": (
        "blob read logging needs a diagnostic setting to a Log Analytics workspace the user "
        "owns; Entra ID sign-in and role assignment logs record access"
    ),
    "CKV_AZURE_59": (
        "public network access is needed by the Functions host and callers outside Azure; "
        "shared keys are disabled and every request needs an Entra ID role"
    ),
    "CKV_AZURE_206": (
        "ZRS keeps three synchronous copies across availability zones; geo-replication doubles "
        "the cost and is one setting away (AzureBlobConfig(replication='GZRS'))"
    ),
    "CKV_AZURE_212": (
        "a Flex Consumption plan scales from zero on demand; a minimum instance count means "
        "always-ready instances billed while idle, and the scheduler retries failed tasks"
    ),
    "CKV_AZURE_225": (
        "Glacier functions are stateless and retried by the scheduler; zone redundancy of Flex "
        "Consumption plans exists only in some regions"
    ),
    "CKV_AZURE_158": (
        "a workspace without public network access needs VNet injection, private endpoints and "
        "private DNS in a network the user owns; clusters run with single-user access and "
        "encrypted local disks"
    ),
    "CKV2_AZURE_48": (
        "a customer-managed key for the DBFS root needs a Key Vault the user owns; Glacier "
        "keeps no data in DBFS (buckets are in the storage account) and the workspace uses "
        "infrastructure encryption"
    ),
}
"""The checkov checks this module skips on purpose, each with the reason it is true."""
skip = skipper(SKIPS)
RG_NAME = ref("azurerm_resource_group", "glacier", "name")
DATA_ACCOUNT = ref("azurerm_storage_account", "data")
RG_LOCATION = ref("azurerm_resource_group", "glacier", "location")
_ACCOUNT_SKIPS = (
    "CKV2_AZURE_1",
    "CKV2_AZURE_33",
    "CKV_AZURE_33",
    "CKV_AZURE_59",
)


def render(inv: Inventory) -> Module:
    m = Module(providers={"azurerm": PIN})
    config = inv.provider if isinstance(inv.provider, AzureConfig) else None
    subscription = m.variable(
        "subscription_id",
        "string",
        "Azure subscription.",
        config.subscription_id if config else None,
    )
    group = m.variable(
        "resource_group",
        "string",
        "Resource group Glacier creates.",
        config.resource_group if config else None,
    )
    location = m.variable(
        "location", "string", "Azure region.", config.location if config else "eastus"
    )
    tags = m.variable(
        "tags",
        "map(string)",
        "Tags on every resource.",
        {"glacier-pipeline": inv.pipeline, **dict(sorted((config.tags if config else {}).items()))},
    )
    provider = Block("provider", ("azurerm",))
    provider.block("features")
    provider.attr("subscription_id", subscription).attr("storage_use_azuread", True)
    m.add("providers.tf", provider)
    rg = Block("resource", ("azurerm_resource_group", "glacier"))
    rg.attr("name", group).attr("location", location).attr("tags", tags)
    m.add("storage.tf", rg)
    declare_name_prefix(m, inv.pipeline, subscription)
    data_account = m.variable(
        "storage_account",
        "string",
        "Storage account of the data (default: name_prefix without dashes, then 'd').",
        config.storage_account if config else None,
    )
    replication, tier = _account_settings(inv)
    _account(m, "data", _account_name(data_account, "d"), replication, tier, tags)
    _containers(m, inv)
    if inv.of_kind(ExecutorKind.SERVERLESS):
        host = m.variable(
            "host_storage_account",
            "string",
            "Storage account for function hosting (default: name_prefix without dashes, then 'h').",
            None,
        )
        _account(m, "host", _account_name(host, "h"), "ZRS", "Hot", tags)
        workspace = Block("resource", ("azurerm_log_analytics_workspace", "glacier"))
        workspace.attr("name", prefixed("logs"))
        workspace.attr("resource_group_name", RG_NAME).attr("location", RG_LOCATION)
        workspace.attr("sku", "PerGB2018").attr("retention_in_days", inv.log_retention_days)
        workspace.attr("tags", tags)
        m.add("logs.tf", workspace)
    for ex in inv.deployed:
        _identity(m, inv, ex, tags)
        {
            ExecutorKind.SERVERLESS: _function,
            ExecutorKind.VM: _vm,
            ExecutorKind.CLUSTER: _cluster,
        }[ex.kind](m, inv, ex, tags)
    _outputs(m, inv, group, location)
    _function_keys(m, inv)
    m.notes += [
        "Artifacts: run `glacier package` first; it writes the function packages into build/.",
        "VMs: set `ssh_public_key` and `scheduler_cidr` (10.20.1.0/24, the workers' subnet, "
        "or wider to let a runner in). The module runs a Dask scheduler VM for the workers "
        "and a NAT gateway on their subnet (for the VMs' apt).",
    ]
    return m


def _account_name(chosen: Expr, role: str) -> Value:
    """The account the user chose, else 3-24 lower-case letters and digits from the prefix."""
    return call("coalesce", chosen, prefixed(role, max_len=24, sep=""))


def _account_settings(inv: Inventory) -> tuple[str, str]:
    """Replication and access tier belong to the account, so the buckets must agree on them."""
    configs = {b.name: b.config for b in inv.buckets if b.config != AzureBlobConfig()}
    settings = {
        (c.replication, c.access_tier) for c in configs.values() if isinstance(c, AzureBlobConfig)
    }
    if len(settings) > 1:
        raise ConfigError(
            f"Azure keeps every bucket of a pipeline in one storage account, but the buckets ask "
            f"for different replication/access tiers: {sorted(settings)}. Use the same "
            f"AzureBlobConfig(replication=..., access_tier=...) on every bucket."
        )
    default = AzureBlobConfig()
    return next(iter(settings), (default.replication, default.access_tier))


def _account(m: Module, label: str, name: Value, replication: str, tier: str, tags: Expr) -> None:
    geo = replication in ("GRS", "RAGRS", "GZRS", "RAGZRS")
    skips = _ACCOUNT_SKIPS if geo else (*_ACCOUNT_SKIPS, "CKV_AZURE_206")
    account = skip(Block("resource", ("azurerm_storage_account", label)), *skips)
    account.attr("name", name)
    account.attr("resource_group_name", RG_NAME)
    account.attr("location", RG_LOCATION)
    account.attr("account_kind", "StorageV2")
    account.attr("account_tier", "Standard")
    account.attr("account_replication_type", replication)
    account.attr("access_tier", tier)
    account.attr("min_tls_version", "TLS1_2")
    account.attr("https_traffic_only_enabled", True)
    account.attr("allow_nested_items_to_be_public", False)
    account.attr("shared_access_key_enabled", False)
    account.attr("default_to_oauth_authentication", True)
    account.attr("infrastructure_encryption_enabled", True)
    account.attr("local_user_enabled", False)
    account.attr("tags", tags)
    blobs = account.block("blob_properties").attr("versioning_enabled", True)
    blobs.block("delete_retention_policy").attr("days", 7)
    blobs.block("container_delete_retention_policy").attr("days", 7)
    m.add("storage.tf", account)


def _containers(m: Module, inv: Inventory) -> None:
    policy = Block("resource", ("azurerm_storage_management_policy", "data"))
    policy.attr("storage_account_id", ref("azurerm_storage_account", "data", "id"))
    for b in inv.buckets:
        config = b.config
        assert isinstance(config, AzureBlobConfig)
        container = skip(
            Block("resource", ("azurerm_storage_container", b.tf_name)), "CKV2_AZURE_21"
        )
        container.attr("name", b.name)
        container.attr("storage_account_id", ref("azurerm_storage_account", "data", "id"))
        container.attr("container_access_type", "private")
        m.add("storage.tf", container)
        noncurrent = noncurrent_expiry_days(config)
        expire = STAGING_EXPIRY_DAYS if b.staging else None
        if noncurrent is None and expire is None:
            continue
        rule = policy.block("rule").attr("name", cloud_name(b.name, "expiry")).attr("enabled", True)
        rule.block("filters").attr("blob_types", ["blockBlob"]).attr("prefix_match", [f"{b.name}/"])
        actions = rule.block("actions")
        if expire is not None:
            actions.block("base_blob").attr(
                "delete_after_days_since_modification_greater_than", expire
            )
        if noncurrent is not None:
            actions.block("version").attr("delete_after_days_since_creation", noncurrent)
    if policy.body[1:]:
        m.add("storage.tf", policy)


def _identity(m: Module, inv: Inventory, ex: ExecutorPlan, tags: Expr) -> None:
    t = ex.tf_name
    identity = Block("resource", ("azurerm_user_assigned_identity", t))
    identity.attr("name", prefixed(ex.name, max_len=128))
    identity.attr("resource_group_name", RG_NAME).attr("location", RG_LOCATION).attr("tags", tags)
    m.add("iam.tf", identity)
    for bucket, operations in bucket_grants(ex):
        plan = inv.bucket(bucket)
        _role(
            m,
            f"{t}_{plan.tf_name}",
            ref("azurerm_storage_container", plan.tf_name, "id"),
            _blob_role(m, operations),
            ex,
        )


def _blob_role(m: Module, operations: frozenset[Operation]) -> Expr:
    """The custom role of ``operations`` on the data account's containers (declared once)."""
    label = f"blobs_{role_suffix(operations)}"
    role = ref("azurerm_role_definition", label, "role_definition_resource_id")
    if any(b.labels == ("azurerm_role_definition", label) for b in m.files.get("iam.tf", [])):
        return role
    definition = Block("resource", ("azurerm_role_definition", label))
    definition.attr("name", prefixed("blobs", role_suffix(operations, "-")))  # unique per tenant
    definition.attr("scope", ref("azurerm_storage_account", "data", "id"))
    definition.attr(
        "description", "What Glacier does to a container's blobs: glacier.storage.access."
    )
    definition.block("permissions").attr("data_actions", iam.data_actions(operations))
    definition.attr("assignable_scopes", [ref("azurerm_storage_account", "data", "id")])
    m.add("iam.tf", definition)
    return role


def _role(m: Module, label: str, scope: Value, role: str | Expr, ex: ExecutorPlan) -> None:
    """Assign ``role`` (a built-in role's name, or a custom role's id) to ``ex``'s identity."""
    assignment = Block("resource", ("azurerm_role_assignment", label))
    assignment.attr("scope", scope)
    if isinstance(role, Expr):
        assignment.attr("role_definition_id", role)
    else:
        assignment.attr("role_definition_name", role)
    assignment.attr(
        "principal_id", ref("azurerm_user_assigned_identity", ex.tf_name, "principal_id")
    )
    assignment.attr("principal_type", "ServicePrincipal")
    m.add("iam.tf", assignment)


def _function(m: Module, inv: Inventory, ex: ExecutorPlan, tags: Expr) -> None:
    config = ex.config
    assert isinstance(config, AzureFunctionConfig)
    t = ex.tf_name
    identity = ref("azurerm_user_assigned_identity", t)
    deploy = skip(Block("resource", ("azurerm_storage_container", f"{t}_deploy")), "CKV2_AZURE_21")
    deploy.attr("name", cloud_name("deploy", ex.name))
    deploy.attr("storage_account_id", ref("azurerm_storage_account", "host", "id"))
    deploy.attr("container_access_type", "private")
    insights = Block("resource", ("azurerm_application_insights", t))
    insights.attr("name", prefixed(ex.name))
    insights.attr("resource_group_name", RG_NAME).attr("location", RG_LOCATION)
    insights.attr("workspace_id", ref("azurerm_log_analytics_workspace", "glacier", "id"))
    insights.attr("application_type", "other")
    insights.attr("local_authentication_disabled", True)
    insights.attr("tags", tags)
    m.add("logs.tf", insights)
    _role(
        m, f"{t}_host", ref("azurerm_storage_account", "host", "id"), "Storage Blob Data Owner", ex
    )
    _role(
        m,
        f"{t}_logs",
        ref("azurerm_application_insights", t, "id"),
        "Monitoring Metrics Publisher",
        ex,
    )
    plan = skip(Block("resource", ("azurerm_service_plan", t)), "CKV_AZURE_212", "CKV_AZURE_225")
    plan.attr("name", prefixed(ex.name, "plan"))
    plan.attr("resource_group_name", RG_NAME).attr("location", RG_LOCATION)
    plan.attr("os_type", "Linux").attr("sku_name", "FC1").attr("tags", tags)
    app = Block("resource", ("azurerm_function_app_flex_consumption", t))
    app.attr("name", prefixed(ex.name, max_len=60))  # <name>.azurewebsites.net: global
    app.attr("resource_group_name", RG_NAME)
    app.attr("location", RG_LOCATION)
    app.attr("service_plan_id", ref("azurerm_service_plan", t, "id"))
    app.attr("storage_container_type", "blobContainer")
    app.attr(
        "storage_container_endpoint",
        template(
            ref("azurerm_storage_account", "host", "primary_blob_endpoint"),
            ref("azurerm_storage_container", f"{t}_deploy", "name"),
        ),
    )
    app.attr("storage_authentication_type", "UserAssignedIdentity")
    app.attr("storage_user_assigned_identity_id", Expr(f"{identity.text}.id"))
    app.attr("runtime_name", "python")
    app.attr("runtime_version", config.runtime_version)
    app.attr("instance_memory_in_mb", config.memory)
    app.attr("maximum_instance_count", config.max_instances)
    app.attr("https_only", True)
    app.attr("public_network_access_enabled", True)
    app.attr("webdeploy_publish_basic_authentication_enabled", False)
    app.attr("zip_deploy_file", template(Expr("path.module"), f"/{artifacts.code_zip(ex.name)}"))
    app.attr("tags", tags)
    app.block("identity").attr("type", "UserAssigned").attr(
        "identity_ids", [Expr(f"{identity.text}.id")]
    )
    site = app.block("site_config")
    site.attr("minimum_tls_version", "1.2")
    site.attr(
        "application_insights_connection_string",
        ref("azurerm_application_insights", t, "connection_string"),
    )
    app.attr(
        "app_settings",
        {
            "APPLICATIONINSIGHTS_AUTHENTICATION_STRING": template(
                "Authorization=AAD;ClientId=", Expr(f"{identity.text}.client_id")
            ),
            "AzureWebJobsStorage__accountName": ref("azurerm_storage_account", "host", "name"),
            "AzureWebJobsStorage__clientId": Expr(f"{identity.text}.client_id"),
            "AzureWebJobsStorage__credential": "managedidentity",
            **_environment(m, inv, ex),
        },
    )
    app.attr("depends_on", [ref("azurerm_role_assignment", f"{t}_host")])
    m.add("functions.tf", deploy, plan, app)


def _environment(m: Module, inv: Inventory, ex: ExecutorPlan) -> dict[str, Value]:
    """What ``Provider.from_env()`` needs in a deployed executor, next to Glacier's own names.

    ``AZURE_CLIENT_ID`` picks the executor's user-assigned identity for every Azure SDK call.
    """
    cloud: dict[str, Value] = {
        "AZURE_CLIENT_ID": ref("azurerm_user_assigned_identity", ex.tf_name, "client_id"),
        "AZURE_RESOURCE_GROUP": RG_NAME,
        "AZURE_STORAGE_ACCOUNT": ref("azurerm_storage_account", "data", "name"),
        "AZURE_SUBSCRIPTION_ID": ref("var", "subscription_id"),
    }
    return deployed_env(m, inv, ex, _container_name, cloud)


def vm_size(cpus: int, memory: int) -> str:
    """The smallest general-purpose size with at least ``cpus`` and ``memory`` MB."""
    for n in (2, 4, 8, 16, 32, 48, 64):
        for family, gb_per_cpu in (
            ("Standard_F{n}s_v2", 2),
            ("Standard_D{n}s_v5", 4),
            ("Standard_E{n}s_v5", 8),
        ):
            if n >= cpus and n * gb_per_cpu * 1024 >= memory:
                return family.format(n=n)
    raise ConfigError(
        f"No Azure VM size has {cpus} vCPUs and {memory} MB. Set AzureVmConfig(size=...)."
    )


def _network(m: Module, tags: Expr) -> Expr:
    """One private network for the pipeline's VMs; only the Dask scheduler may connect in."""
    if "network.tf" not in m.files:
        cidr = scheduler_cidr(m)
        vnet = Block("resource", ("azurerm_virtual_network", "glacier"))
        vnet.attr("name", "glacier-vnet").attr("resource_group_name", RG_NAME)
        vnet.attr("location", RG_LOCATION).attr("address_space", ["10.20.0.0/16"]).attr(
            "tags", tags
        )
        subnet = Block("resource", ("azurerm_subnet", "workers"))
        subnet.attr("name", "workers").attr("resource_group_name", RG_NAME)
        subnet.attr("virtual_network_name", ref("azurerm_virtual_network", "glacier", "name"))
        subnet.attr("address_prefixes", ["10.20.1.0/24"])
        nsg = Block("resource", ("azurerm_network_security_group", "workers"))
        nsg.attr("name", "glacier-workers").attr("resource_group_name", RG_NAME)
        nsg.attr("location", RG_LOCATION).attr("tags", tags)
        for name, priority, ports in (
            ("dask-scheduler", 100, f"{DASK_WORKER_PORT}-{NANNY_PORT}"),  # to workers, nannies
            ("dask-workers", 110, str(DASK_SCHEDULER_PORT)),  # workers, runner to the scheduler
        ):
            rule = nsg.block("security_rule")
            rule.attr("name", name).attr("priority", priority).attr("direction", "Inbound")
            rule.attr("access", "Allow").attr("protocol", "Tcp").attr("source_port_range", "*")
            rule.attr("destination_port_range", ports)
            rule.attr("source_address_prefix", cidr).attr(
                "destination_address_prefix", "VirtualNetwork"
            )
        link = Block("resource", ("azurerm_subnet_network_security_group_association", "workers"))
        link.attr("subnet_id", ref("azurerm_subnet", "workers", "id"))
        link.attr(
            "network_security_group_id", ref("azurerm_network_security_group", "workers", "id")
        )
        m.add("network.tf", vnet, subnet, nsg, link, *_nat_gateway(tags))
    return ref("azurerm_subnet", "workers", "id")


def _nat_gateway(tags: Expr) -> list[Block]:
    """Outbound access for the VMs, which have no public IP: their start-up script installs
    python3-venv from Ubuntu's repositories (Azure retired default outbound access for new
    subnets, so without a NAT gateway apt cannot reach them)."""
    ip = Block("resource", ("azurerm_public_ip", "nat"))
    ip.attr("name", prefixed("nat-ip")).attr("resource_group_name", RG_NAME)
    ip.attr("location", RG_LOCATION).attr("allocation_method", "Static").attr("sku", "Standard")
    ip.attr("tags", tags)
    gateway = Block("resource", ("azurerm_nat_gateway", "glacier"))
    gateway.attr("name", prefixed("nat")).attr("resource_group_name", RG_NAME)
    gateway.attr("location", RG_LOCATION).attr("sku_name", "Standard").attr("tags", tags)
    uses_ip = Block("resource", ("azurerm_nat_gateway_public_ip_association", "glacier"))
    uses_ip.attr("nat_gateway_id", ref("azurerm_nat_gateway", "glacier", "id"))
    uses_ip.attr("public_ip_address_id", ref("azurerm_public_ip", "nat", "id"))
    on_subnet = Block("resource", ("azurerm_subnet_nat_gateway_association", "workers"))
    on_subnet.attr("subnet_id", ref("azurerm_subnet", "workers", "id"))
    on_subnet.attr("nat_gateway_id", ref("azurerm_nat_gateway", "glacier", "id"))
    return [ip, gateway, uses_ip, on_subnet]


SCHEDULER_VM = AzureVmConfig(cpus=2, memory=4096)
"""The Dask scheduler's VM: it schedules, it does not compute (Standard_F2s_v2)."""


def _vm(m: Module, inv: Inventory, ex: ExecutorPlan, tags: Expr) -> None:
    """A Dask worker VM, joining the module's scheduler VM (made with the first worker)."""
    _instance(m, inv, ex, tags, _scheduler(m, inv, tags))


def _scheduler(m: Module, inv: Inventory, tags: Expr) -> Template:
    """The one scheduler VM (once per module), a VM like the workers; its ``tls://`` address."""
    plan = scheduler_plan(SCHEDULER_VM)
    nic = ref("azurerm_network_interface", plan.tf_name, "private_ip_address")
    address = scheduler_output(m, nic)
    vms = m.files.get("vms.tf", [])
    if not any(b.labels == ("azurerm_linux_virtual_machine", plan.tf_name) for b in vms):
        _identity(m, inv, plan, tags)
        _instance(m, inv, plan, tags)
    return address


def _instance(
    m: Module, inv: Inventory, ex: ExecutorPlan, tags: Expr, scheduler: Template | None = None
) -> None:
    """A VM of ``ex``: a Dask worker joining ``scheduler``, or (without one) the scheduler."""
    config = ex.config
    assert isinstance(config, AzureVmConfig)
    t = ex.tf_name
    subnet = _network(m, tags)
    key = m.variable("ssh_public_key", "string", "SSH public key for the VMs' admin user.")
    nic = Block("resource", ("azurerm_network_interface", t))
    nic.attr("name", prefixed(ex.name, "nic"))
    nic.attr("resource_group_name", RG_NAME).attr("location", RG_LOCATION).attr("tags", tags)
    ip = nic.block("ip_configuration").attr("name", "internal").attr("subnet_id", subnet)
    ip.attr("private_ip_address_allocation", "Dynamic")
    vm = Block("resource", ("azurerm_linux_virtual_machine", t))
    vm.attr("name", prefixed(ex.name, max_len=64))
    vm.attr("resource_group_name", RG_NAME)
    vm.attr("location", RG_LOCATION)
    vm.attr("size", config.size or vm_size(config.cpus, config.memory))
    vm.attr("admin_username", config.admin_username)
    vm.attr("disable_password_authentication", True)
    vm.attr("network_interface_ids", [ref("azurerm_network_interface", t, "id")])
    vm.attr("secure_boot_enabled", True)
    vm.attr("vtpm_enabled", True)
    vm.attr("allow_extension_operations", False)
    fetch = _fetch_vm_package(m, ex)
    if scheduler is None:
        init = worker_init(m, ex.name, "", fetch=fetch, command=scheduler_command())
    else:
        init = worker_init(m, ex.name, scheduler, fetch=fetch, env=_environment(m, inv, ex))
    vm.attr("custom_data", call("base64encode", init))
    vm.attr("tags", tags)
    vm.block("admin_ssh_key").attr("username", config.admin_username).attr("public_key", key)
    vm.block("os_disk").attr("caching", "ReadWrite").attr("storage_account_type", "Premium_LRS")
    image = vm.block("source_image_reference").attr("publisher", "Canonical")
    image.attr("offer", "ubuntu-24_04-lts").attr("sku", "server").attr("version", "latest")
    vm.block("identity").attr("type", "UserAssigned").attr(
        "identity_ids", [ref("azurerm_user_assigned_identity", t, "id")]
    )
    m.add("vms.tf", nic, vm)


def _fetch_vm_package(m: Module, ex: ExecutorPlan) -> Template:
    """Upload ``glacier package``'s VM package (once) to an artifacts container that ``ex`` may
    read; the command a VM copies it with: a token for its identity from the instance metadata
    service, then a Blob GET (Ubuntu has curl and python3; no Azure CLI is needed)."""
    blob = ref("azurerm_storage_blob", "vm_package")
    if not any(
        b.labels == ("azurerm_storage_blob", "vm_package") for b in m.files.get("vms.tf", [])
    ):
        container = skip(
            Block("resource", ("azurerm_storage_container", "artifacts")), "CKV2_AZURE_21"
        )
        container.attr("name", "glacier-artifacts")
        container.attr("storage_account_id", ref("azurerm_storage_account", "data", "id"))
        container.attr("container_access_type", "private")
        path = template(Expr("path.module"), f"/{artifacts.vm_zip(package.VM_PLATFORM.arch)}")
        upload = Block("resource", ("azurerm_storage_blob", "vm_package"))
        upload.attr("name", "vms/glacier.zip")
        upload.attr("storage_account_name", ref("azurerm_storage_account", "data", "name"))
        upload.attr("storage_container_name", ref("azurerm_storage_container", "artifacts", "name"))
        upload.attr("type", "Block").attr("source", path).attr("content_md5", call("filemd5", path))
        m.add("vms.tf", container, upload)
    _role(
        m,
        f"{ex.tf_name}_artifacts",
        ref("azurerm_storage_container", "artifacts", "id"),
        _blob_role(m, operations_for(reads=True, writes=False)),
        ex,
    )
    client = ref("azurerm_user_assigned_identity", ex.tf_name, "client_id")
    return template(
        "token=$(curl -sf -H Metadata:true 'http://169.254.169.254/metadata/identity/oauth2/token"
        "?api-version=2018-02-01&resource=https://storage.azure.com/&client_id=",
        client,
        "' | python3 -c 'import json, sys; print(json.load(sys.stdin)[\"access_token\"])') && "
        'curl -sf -H "Authorization: Bearer $token" -H "x-ms-version: 2021-08-06" -o '
        f"{PACKAGE_ZIP} ",
        Expr(f"{blob.text}.url"),
    )


def _cluster(m: Module, inv: Inventory, ex: ExecutorPlan, tags: Expr) -> None:
    """Spark on Azure is Databricks: a workspace (unless a host is given) and a cluster.

    The executor's identity reaches storage through a Databricks access connector.
    """
    config = ex.config
    assert isinstance(config, ClusterConfig)
    if not isinstance(config, DatabricksConfig):
        config = DatabricksConfig(
            workers=config.workers,
            instance_type=config.instance_type,
            autoterminate_minutes=config.autoterminate_minutes,
        )
    if config.host:
        databricks.provider(m, databricks.host_variable(m, config))
    elif "databricks" not in m.providers:
        workspace = Block("resource", ("azurerm_databricks_workspace", "glacier"))
        workspace.attr("name", prefixed("dbx"))
        workspace.attr("resource_group_name", RG_NAME).attr("location", RG_LOCATION)
        workspace = skip(workspace, "CKV_AZURE_158", "CKV2_AZURE_48")
        workspace.attr("sku", "premium").attr("infrastructure_encryption_enabled", True)
        workspace.attr("tags", tags)
        m.add("clusters.tf", workspace)
        ws = ref("azurerm_databricks_workspace", "glacier")
        databricks.provider(m, template("https://", Expr(f"{ws.text}.workspace_url")))
        m.files["providers.tf"][-1].attr("azure_workspace_resource_id", Expr(f"{ws.text}.id"))
    connector = Block("resource", ("azurerm_databricks_access_connector", ex.tf_name))
    connector.attr("name", prefixed(ex.name, "connector"))
    connector.attr("resource_group_name", RG_NAME).attr("location", RG_LOCATION).attr("tags", tags)
    connector.block("identity").attr("type", "UserAssigned").attr(
        "identity_ids", [ref("azurerm_user_assigned_identity", ex.tf_name, "id")]
    )
    m.add("clusters.tf", connector)
    m.notes.append(
        f"Databricks executor {ex.name}: register its access connector (output `identities` "
        f"names its identity) as a Unity Catalog storage credential."
    )
    databricks.cluster(
        m,
        inv,
        ex,
        config,
        "Standard_D4ds_v5",
        ("azure_attributes", {"availability": "ON_DEMAND_AZURE"}),
        _environment(m, inv, ex),
    )


def _outputs(m: Module, inv: Inventory, group: Expr, location: Expr) -> None:
    add_outputs(
        m,
        inv,
        CloudOutputs(
            cloud="azure",
            placement=[
                ("resource_group", "Resource group of every resource.", group),
                ("location", "Azure region.", location),
                (
                    "storage_account",
                    "Storage account holding the buckets.",
                    ref("azurerm_storage_account", "data", "name"),
                ),
            ],
            bucket=_container_name,
            bucket_doc="blob container name",
            staging_doc="Container for hand-offs between executors.",
            function=_function_output,
            function_doc="function app name and URL",
            vm=lambda ex: {
                "id": ref("azurerm_linux_virtual_machine", ex.tf_name, "id"),
                "private_ip": ref(
                    "azurerm_linux_virtual_machine", ex.tf_name, "private_ip_address"
                ),
            },
            vm_doc="VM id",
            cluster=databricks.cluster_output,  # Spark on Azure is Databricks (see _cluster)
            identity=lambda ex: ref("azurerm_user_assigned_identity", ex.tf_name, "client_id"),
            identity_doc="the client id of the identity it runs as",
        ),
    )


def _function_output(ex: ExecutorPlan) -> Value:
    app = f"azurerm_function_app_flex_consumption.{ex.tf_name}"
    return {
        "name": Expr(f"{app}.name"),
        "url": template("https://", Expr(f"{app}.default_hostname"), f"/api/{FUNCTION_ROUTE}"),
    }


def _function_keys(m: Module, inv: Inventory) -> None:
    """Each function's default key, read back after deployment (the runner sends it)."""
    functions = inv.of_kind(ExecutorKind.SERVERLESS)
    if not functions:
        return
    keys: dict[str, Value] = {}
    for ex in functions:
        app = ref("azurerm_function_app_flex_consumption", ex.tf_name)
        data = Block("data", ("azurerm_function_app_host_keys", ex.tf_name))
        data.attr("name", Expr(f"{app.text}.name")).attr("resource_group_name", RG_NAME)
        m.add("functions.tf", data)
        keys[ex.name] = ref(
            "data.azurerm_function_app_host_keys", ex.tf_name, "default_function_key"
        )
    output = Block("output", ("function_keys",))
    output.attr("description", "Serverless executor -> function key (header x-functions-key).")
    output.attr("value", keys).attr("sensitive", True)
    m.outputs.append(output)
    m.notes.append(
        "Functions: POST to the `url` in output `functions` with the header `x-functions-key` "
        "set to the executor's key in output `function_keys` (`terraform output -json "
        "function_keys`; it is sensitive)."
    )


def _container_name(b: BucketPlan) -> Expr:
    return ref("azurerm_storage_container", b.tf_name, "name")
