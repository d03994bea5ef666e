"""AWS: S3 buckets (KMS, versioned, private), Lambda, EC2, EMR Serverless or Databricks, IAM."""

from __future__ import annotations

from glacier.clouds.aws import emr_image
from glacier.clouds.aws.config import AwsConfig, EC2Config, LambdaConfig, S3Config
from glacier.clouds.aws.instances import architecture, vm_instance_type
from glacier.clouds.aws.package import layer_zip
from glacier.clouds.databricks import terraform as databricks
from glacier.clouds.databricks.config import DatabricksConfig
from glacier.config.compute import ClusterConfig
from glacier.core.kinds import ExecutorKind
from glacier.errors import ConfigError
from glacier.infra import artifacts
from glacier.infra.hcl import Block, Expr, Template, Value, call, ref, template
from glacier.infra.inventory import STAGING_EXPIRY_DAYS, BucketPlan, ExecutorPlan, Inventory
from glacier.infra.package import JOB_ENTRY
from glacier.infra.terraform.base import (
    DASK_SCHEDULER_PORT,
    DASK_WORKER_PORT,
    MANIFEST,
    NAME_PREFIX,
    NANNY_PORT,
    PACKAGE_ZIP,
    Module,
    bucket_grants,
    cloud_name,
    declare_name_prefix,
    deployed_env,
    noncurrent_expiry_days,
    prefixed,
    read_manifest,
    scheduler_cidr,
    scheduler_command,
    scheduler_output,
    worker_init,
)
from glacier.infra.terraform.checks import skipper
from glacier.infra.terraform.outputs import CloudOutputs, add_outputs
from glacier.storage.access import OPERATIONS, Access, Operation

PIN = ("hashicorp/aws", ">= 5.100, < 7.0")
"""The Terraform provider this module pins."""
SKIPS: dict[str, str] = {
    "CKV_AWS_18": (
        "S3 server access logs need a separate log bucket chosen by the account owner; "
        "CloudTrail data events are the alternative"
    ),
    "CKV_AWS_144": (
        "cross-region replication needs a second region and doubles storage cost; S3 already "
        "stores objects across at least three availability zones"
    ),
    "CKV2_AWS_62": (
        "Glacier tasks are started by the pipeline scheduler, not by bucket event notifications"
    ),
    "CKV_AWS_116": (
        "Glacier invokes functions synchronously and retries failed tasks itself; a dead-letter "
        "queue only applies to asynchronous invocations"
    ),
    "CKV_AWS_117": (
        "the function only calls S3, KMS and CloudWatch over AWS endpoints; attaching it to a VPC "
        "needs NAT or VPC endpoints from the user's network"
    ),
    "CKV_AWS_272": (
        "the code zip is built locally by glacier package; code signing needs an AWS Signer "
        "profile that Glacier cannot create for the user"
    ),
}
"""The checkov checks this module skips on purpose, each with the reason it is true."""
skip = skipper(SKIPS)
KEY = ref("aws_kms_key", "glacier")
_PARTITION = ref("data", "aws_partition", "current", "partition")
_ACCOUNT = ref("data", "aws_caller_identity", "current", "account_id")
_TRUST = {
    ExecutorKind.SERVERLESS: "lambda.amazonaws.com",
    ExecutorKind.VM: "ec2.amazonaws.com",
}
_KMS_ADMIN = [
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DeleteAlias",
    "kms:DescribeKey",
    "kms:DisableKey",
    "kms:DisableKeyRotation",
    "kms:EnableKey",
    "kms:EnableKeyRotation",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:ListAliases",
    "kms:ListGrants",
    "kms:ListKeyPolicies",
    "kms:ListResourceTags",
    "kms:PutKeyPolicy",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:RetireGrant",
    "kms:RevokeGrant",
    "kms:ScheduleKeyDeletion",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]
_KMS_LOGS = [
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]
_KMS_EBS = [
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
]
"""What EC2 does with the key for an encrypted root volume, on behalf of who launches the VM."""
_TRANSITION_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}
S3_BUCKET_ACTIONS: dict[Operation, tuple[str, ...]] = {Operation.LIST: ("s3:ListBucket",)}
"""The S3 actions on a bucket itself that each storage operation needs."""
S3_OBJECT_ACTIONS: dict[Operation, tuple[str, ...]] = {
    Operation.GET: ("s3:GetObject",),
    Operation.PUT: ("s3:PutObject", "s3:AbortMultipartUpload"),
    Operation.DELETE: ("s3:DeleteObject",),
}
"""The S3 actions on objects that each storage operation needs (a put may be multipart)."""


def render(inv: Inventory) -> Module:
    m = Module(providers={"aws": PIN})
    region = m.variable("region", "string", "AWS region of every resource.", _config(inv).region)
    tags = {"glacier-pipeline": inv.pipeline, **dict(sorted(_config(inv).tags.items()))}
    provider = Block("provider", ("aws",)).attr("region", region)
    provider.block("default_tags").attr(
        "tags", m.variable("tags", "map(string)", "Tags on every resource.", tags)
    )
    m.add("providers.tf", provider)
    m.add(
        "storage.tf",
        Block("data", ("aws_caller_identity", "current")),
        Block("data", ("aws_partition", "current")),
    )
    declare_name_prefix(m, inv.pipeline, _ACCOUNT)
    _kms_key(m, inv, region)
    for b in inv.buckets:
        config = b.config
        assert isinstance(config, S3Config)
        expire_days = STAGING_EXPIRY_DAYS if b.staging else None
        _bucket(m, b.tf_name, prefixed(b.name), config, expire_days=expire_days)
    if (
        inv.of_kind(ExecutorKind.SERVERLESS)
        or inv.of_kind(ExecutorKind.VM)
        or emr_image.has_emr(inv)
    ):
        _bucket(m, "artifacts", prefixed("glacier-artifacts"), S3Config(), expire_days=None)
    for ex in inv.deployed:
        _identity(m, inv, ex)
        {
            ExecutorKind.SERVERLESS: _function,
            ExecutorKind.VM: _vm,
            ExecutorKind.CLUSTER: _cluster,
        }[ex.kind](m, inv, ex)
    _outputs(m, inv, region)
    m.notes += [
        "Artifacts: run `glacier package` first; it writes the code and layer zips into build/.",
        "VMs: set `vpc_id`, `subnet_id` (private) and `scheduler_cidr` (the subnet's CIDR). The "
        "VMs boot from the package in the artifacts bucket and install Python 3.11 from Amazon "
        "Linux's repositories, which are on S3: the subnet needs an S3 gateway endpoint or a NAT.",
    ]
    return m


def _config(inv: Inventory) -> AwsConfig:
    return inv.provider if isinstance(inv.provider, AwsConfig) else AwsConfig()


def _log_group_name(ex: ExecutorPlan) -> Template:
    if ex.kind is ExecutorKind.SERVERLESS:
        return template("/aws/lambda/", *_function_name(ex).parts)
    return template("/glacier/", NAME_PREFIX, f"/{cloud_name(ex.name)}")


def _function_name(ex: ExecutorPlan) -> Template:
    name = prefixed(ex.name, max_len=64)
    assert isinstance(name, Template)
    return name


def _bucket_name(b: BucketPlan) -> Expr:
    """A bucket's real name, as ``name_prefix`` made it: what deployed code and outputs use."""
    return ref("aws_s3_bucket", b.tf_name, "bucket")


def _kms_key(m: Module, inv: Inventory, region: Expr) -> None:
    """One customer-managed key for buckets, logs and function settings, rotated yearly.

    The key policy's ``Resource = "*"`` means "this key" (a key policy cannot name its own ARN).
    """
    log_groups = [
        template(
            "arn:",
            _PARTITION,
            ":logs:",
            region,
            ":",
            _ACCOUNT,
            ":log-group:",
            *_log_group_name(e).parts,
        )
        for e in inv.deployed
    ]
    statements: list[Value] = [
        {
            "Sid": "AccountAdministers",
            "Effect": "Allow",
            "Principal": {"AWS": template("arn:", _PARTITION, ":iam::", _ACCOUNT, ":root")},
            "Action": _KMS_ADMIN,
            "Resource": "*",
        }
    ]
    if inv.of_kind(ExecutorKind.VM):
        statements.append(
            {
                "Sid": "EbsEncryptsVmVolumes",
                "Effect": "Allow",
                "Principal": {"AWS": template("arn:", _PARTITION, ":iam::", _ACCOUNT, ":root")},
                "Action": _KMS_EBS,
                "Resource": "*",
                "Condition": {
                    "StringEquals": {"kms:ViaService": template("ec2.", region, ".amazonaws.com")}
                },
            }
        )
    if log_groups:
        statements.append(
            {
                "Sid": "LogsEncryptGlacierLogGroups",
                "Effect": "Allow",
                "Principal": {"Service": template("logs.", region, ".amazonaws.com")},
                "Action": _KMS_LOGS,
                "Resource": "*",
                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": log_groups}},
            }
        )
    key = Block("resource", ("aws_kms_key", "glacier"))
    key.attr("description", f"Glacier pipeline {inv.pipeline}: data, logs and settings")
    key.attr("enable_key_rotation", True)
    key.attr("deletion_window_in_days", 30)
    key.attr("policy", call("jsonencode", {"Version": "2012-10-17", "Statement": statements}))
    m.add("storage.tf", key)


def _bucket(m: Module, label: str, name: Value, config: S3Config, expire_days: int | None) -> None:
    bucket_id = ref("aws_s3_bucket", label, "id")
    bucket = skip(
        Block("resource", ("aws_s3_bucket", label)).attr("bucket", name),
        "CKV_AWS_18",
        "CKV_AWS_144",
        "CKV2_AWS_62",
    )
    versioning = Block("resource", ("aws_s3_bucket_versioning", label)).attr("bucket", bucket_id)
    versioning.block("versioning_configuration").attr("status", "Enabled")
    sse = Block("resource", ("aws_s3_bucket_server_side_encryption_configuration", label))
    rule = sse.attr("bucket", bucket_id).block("rule")
    default = rule.block("apply_server_side_encryption_by_default")
    default.attr("sse_algorithm", config.encryption)
    if config.encryption != "AES256":
        default.attr("kms_master_key_id", config.kms_key_arn or ref(KEY.text, "arn"))
    rule.attr("bucket_key_enabled", config.encryption == "aws:kms")
    public = Block("resource", ("aws_s3_bucket_public_access_block", label)).attr(
        "bucket", bucket_id
    )
    for flag in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        public.attr(flag, True)
    ownership = Block("resource", ("aws_s3_bucket_ownership_controls", label)).attr(
        "bucket", bucket_id
    )
    ownership.block("rule").attr("object_ownership", "BucketOwnerEnforced")
    m.add(
        "storage.tf",
        bucket,
        versioning,
        sse,
        public,
        ownership,
        _lifecycle(label, config, expire_days),
    )


def _lifecycle(label: str, config: S3Config, expire_days: int | None) -> Block:
    """Abort stale multipart uploads; expire old versions unless history was asked for."""
    lifecycle = Block("resource", ("aws_s3_bucket_lifecycle_configuration", label))
    lifecycle.attr("bucket", ref("aws_s3_bucket", label, "id"))
    lifecycle.attr("depends_on", [ref("aws_s3_bucket_versioning", label)])
    rule = lifecycle.block("rule").attr("id", "glacier").attr("status", "Enabled")
    rule.block("filter")
    rule.block("abort_incomplete_multipart_upload").attr("days_after_initiation", 7)
    noncurrent = noncurrent_expiry_days(config)
    if noncurrent is not None:
        rule.block("noncurrent_version_expiration").attr("noncurrent_days", noncurrent)
    if expire_days is not None:
        rule.block("expiration").attr("days", expire_days)
    if config.storage_class != "STANDARD":
        transition = rule.block("transition")
        transition.attr("days", _TRANSITION_DAYS.get(config.storage_class, 0))
        transition.attr("storage_class", config.storage_class)
    return lifecycle


def _trust_service(ex: ExecutorPlan) -> str:
    if ex.kind is ExecutorKind.CLUSTER and not isinstance(ex.config, DatabricksConfig):
        return "emr-serverless.amazonaws.com"
    return _TRUST.get(ex.kind, "ec2.amazonaws.com")


def _identity(m: Module, inv: Inventory, ex: ExecutorPlan) -> None:
    """A role for this executor only, allowed what the runtime does to the buckets it uses.

    The S3 actions follow ``storage.access``: reading lists and gets; writing also puts and
    deletes (temporaries, replaced parts) and reads back (row counts, commit markers).
    """
    t = ex.tf_name
    assume = Block("data", ("aws_iam_policy_document", f"{t}_assume"))
    statement = assume.block("statement").attr("actions", ["sts:AssumeRole"])
    statement.block("principals").attr("type", "Service").attr("identifiers", [_trust_service(ex)])
    role = Block("resource", ("aws_iam_role", t))
    role.attr("name", prefixed(ex.name, max_len=64))
    role.attr("assume_role_policy", ref("data", "aws_iam_policy_document", f"{t}_assume", "json"))

    def arn(bucket: str) -> Expr:
        return ref("aws_s3_bucket", inv.bucket(bucket).tf_name, "arn")

    policy = Block("data", ("aws_iam_policy_document", t))
    grants: list[tuple[str, list[str], list[Value]]] = []
    for access, buckets in _buckets_by_access(ex).items():
        ops = sorted(OPERATIONS[access])
        name = access.value.title()
        bucket_actions = [a for op in ops for a in S3_BUCKET_ACTIONS.get(op, ())]
        object_actions = [a for op in ops for a in S3_OBJECT_ACTIONS.get(op, ())]
        grants.append((f"{name}Buckets", bucket_actions, [arn(b) for b in buckets]))
        grants.append((f"{name}Objects", object_actions, [template(arn(b), "/*") for b in buckets]))
    if ex.kind is ExecutorKind.VM:
        arch = architecture(vm_instance_type(ex.config))  # type: ignore[arg-type]
        grants.append(("ReadVmPackage", ["s3:GetObject"], [_vm_package(m, arch)]))
    if _trust_service(ex) == "emr-serverless.amazonaws.com":
        grants.append(("ReadJobEntryPoint", ["s3:GetObject"], [_job_entry_point(m)]))
    grants += [
        ("UseDataKey", ["kms:Decrypt", "kms:GenerateDataKey"], [ref(KEY.text, "arn")]),
        (
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [template(ref("aws_cloudwatch_log_group", t, "arn"), ":*")],
        ),
    ]
    for sid, actions, resources in grants:
        if resources:
            policy.block("statement").attr("sid", sid).attr("actions", actions).attr(
                "resources", resources
            )
    attach = Block("resource", ("aws_iam_role_policy", t))
    attach.attr("name", "glacier-access")
    attach.attr("role", ref("aws_iam_role", t, "id"))
    attach.attr("policy", ref("data", "aws_iam_policy_document", t, "json"))
    log_group = Block("resource", ("aws_cloudwatch_log_group", t))
    log_group.attr("name", _log_group_name(ex))
    log_group.attr("retention_in_days", inv.log_retention_days)
    log_group.attr("kms_key_id", ref(KEY.text, "arn"))
    m.add("iam.tf", assume, role, policy, attach)
    m.add("logs.tf", log_group)
    if ex.kind is not ExecutorKind.SERVERLESS and _trust_service(ex) == "ec2.amazonaws.com":
        profile = Block("resource", ("aws_iam_instance_profile", t))
        profile.attr("name", prefixed(ex.name, max_len=128))
        profile.attr("role", ref("aws_iam_role", t, "name"))
        m.add("iam.tf", profile)


def _buckets_by_access(ex: ExecutorPlan) -> dict[Access, list[str]]:
    """The buckets an executor uses, by the one access whose operations it needs on each."""
    out: dict[Access, list[str]] = {}
    for bucket, ops in bucket_grants(ex):
        access = next(a for a in Access if OPERATIONS[a] == ops)
        out.setdefault(access, []).append(bucket)
    return out


def _artifact(m: Module, label: str, key: str, path: str) -> tuple[Expr, Expr]:
    """Upload a zip from build/ to the artifacts bucket; returns (bucket, key) references."""
    local = template(Expr("path.module"), f"/{path}")
    obj = Block("resource", ("aws_s3_object", label))
    obj.attr("bucket", ref("aws_s3_bucket", "artifacts", "id"))
    obj.attr("key", key)
    obj.attr("source", local)
    obj.attr("source_hash", call("filemd5", local))
    obj.attr("kms_key_id", ref(KEY.text, "arn"))
    m.add("functions.tf", obj)
    return ref("aws_s3_object", label, "bucket"), ref("aws_s3_object", label, "key")


def _layer(m: Module, inv: Inventory, architecture: str) -> Expr:
    label = f"polars_{architecture}"
    if not any(b.labels == ("aws_lambda_layer_version", label) for b in m.files["functions.tf"]):
        path = layer_zip(architecture)
        bucket, key = _artifact(m, label, f"layers/polars-{architecture}.zip", path)
        runtimes = sorted(
            {e.config.runtime for e in inv.deployed if isinstance(e.config, LambdaConfig)}
        )
        layer = Block("resource", ("aws_lambda_layer_version", label))
        layer.attr("layer_name", prefixed(f"polars-{architecture}", max_len=64))
        layer.attr("description", "Polars for Glacier tasks (built by glacier package)")
        layer.attr("s3_bucket", bucket)
        layer.attr("s3_key", key)
        layer.attr(
            "source_code_hash", call("filebase64sha256", template(Expr("path.module"), f"/{path}"))
        )
        layer.attr("compatible_runtimes", runtimes)
        layer.attr("compatible_architectures", [architecture])
        m.add("functions.tf", layer)
    return ref("aws_lambda_layer_version", label, "arn")


def _function(m: Module, inv: Inventory, ex: ExecutorPlan) -> None:
    config = ex.config
    assert isinstance(config, LambdaConfig)
    if len(config.layers) > 4:
        raise ConfigError(
            f"Executor {ex.name!r}: LambdaConfig.layers has {len(config.layers)} layers, but "
            f"Glacier adds its Polars layer and Lambda allows 5 in all. Drop to at most 4."
        )
    t = ex.tf_name
    path = artifacts.code_zip(ex.name)
    bucket, key = _artifact(m, f"{t}_code", f"functions/{ex.name}.zip", path)
    layer = _layer(m, inv, config.architecture)
    concurrency = m.variable(
        "lambda_reserved_concurrency",
        "number",
        "Concurrent executions reserved for (and capping) each function.",
        10,
    )
    fn = skip(
        Block("resource", ("aws_lambda_function", t)), "CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_272"
    )
    fn.attr("function_name", _function_name(ex))
    fn.attr("role", ref("aws_iam_role", t, "arn"))
    fn.attr("handler", f"{artifacts.HANDLER_MODULE}.handler")
    fn.attr("runtime", config.runtime)
    fn.attr("architectures", [config.architecture])
    fn.attr("s3_bucket", bucket)
    fn.attr("s3_key", key)
    fn.attr("source_code_hash", call("filebase64sha256", template(Expr("path.module"), f"/{path}")))
    fn.attr("layers", [layer, *config.layers])
    fn.attr("memory_size", config.memory)
    fn.attr("timeout", config.timeout)
    fn.attr("reserved_concurrent_executions", concurrency)
    fn.attr("kms_key_arn", ref(KEY.text, "arn"))
    fn.block("ephemeral_storage").attr("size", config.ephemeral_storage)
    fn.block("tracing_config").attr("mode", "PassThrough")
    fn.block("logging_config").attr("log_format", "JSON").attr(
        "log_group", ref("aws_cloudwatch_log_group", t, "name")
    )
    fn.block("environment").attr("variables", deployed_env(m, inv, ex, _bucket_name))
    fn.attr(
        "depends_on",
        [ref("aws_iam_role_policy", t), ref("aws_cloudwatch_log_group", t)],
    )
    m.add("functions.tf", fn)


AL2023_PYTHON = ("dnf -y -q install python3.11", "python3.11")
"""Amazon Linux 2023's Python is 3.9; its own repositories (on S3) have 3.11."""
SCHEDULER_TYPE = "c7g.medium"


def _vm(m: Module, inv: Inventory, ex: ExecutorPlan) -> None:
    config = ex.config
    assert isinstance(config, EC2Config)
    t = ex.tf_name
    itype = vm_instance_type(config)
    arch = architecture(itype)
    cidr = scheduler_cidr(m)
    groups: list[Value]
    if config.security_group:
        groups = [config.security_group]
    else:
        rules: list[tuple[str, int, int, str]] = [
            ("egress", DASK_SCHEDULER_PORT, DASK_SCHEDULER_PORT, "Dask scheduler"),
            ("ingress", DASK_WORKER_PORT, NANNY_PORT, "Dask scheduler to worker and nanny"),
        ]
        groups = [_security_group(m, t, prefixed(ex.name, "worker", max_len=255), cidr, rules)]
    user_data = worker_init(
        m,
        ex.name,
        _scheduler(m, inv, arch),
        fetch=_fetch(m, arch),
        install_python=AL2023_PYTHON[0],
        python=AL2023_PYTHON[1],
        env=_vm_env(m, inv, ex),
    )
    _instance(m, t, ex.name, itype, config.ami or _ami(m, arch), groups, user_data)


def _vm_env(m: Module, inv: Inventory, ex: ExecutorPlan | None) -> dict[str, Value]:
    """A VM's deployed environment: the function's, plus the region Lambda would set itself."""
    if ex is None:
        return {"AWS_REGION": ref("var", "region")}
    return deployed_env(m, inv, ex, _bucket_name, {"AWS_REGION": ref("var", "region")})


def _security_group(
    m: Module, label: str, name: Value, cidr: Expr, rules: list[tuple[str, int, int, str]]
) -> Expr:
    """A group admitting only Dask traffic within ``cidr``, and HTTPS out to AWS's APIs."""
    group = Block("resource", ("aws_security_group", label))
    group.attr("name", name)
    group.attr("description", f"Glacier {label}: Dask traffic and HTTPS to AWS APIs")
    group.attr("vpc_id", m.variable("vpc_id", "string", "VPC of the VMs."))
    https: tuple[str, int, int, str] = ("egress", 443, 443, "HTTPS to S3 and the AL2023 repos")
    for direction, low, high, why in [https, *rules]:
        rule = group.block(direction).attr("description", why)
        rule.attr("from_port", low).attr("to_port", high).attr("protocol", "tcp")
        rule.attr("cidr_blocks", ["0.0.0.0/0"] if low == 443 else [cidr])
    m.add("vms.tf", group)
    return ref("aws_security_group", label, "id")


def _instance(
    m: Module,
    label: str,
    name: str,
    itype: str,
    ami: Value,
    groups: list[Value],
    user_data: Value,
) -> None:
    vm = Block("resource", ("aws_instance", label))
    vm.attr("ami", ami)
    vm.attr("instance_type", itype)
    vm.attr("subnet_id", m.variable("subnet_id", "string", "Private subnet of the VMs."))
    vm.attr("vpc_security_group_ids", groups)
    vm.attr("iam_instance_profile", ref("aws_iam_instance_profile", label, "name"))
    vm.attr("associate_public_ip_address", False)
    vm.attr("monitoring", True)
    vm.attr("ebs_optimized", True)
    vm.attr("user_data_replace_on_change", True)
    vm.attr("user_data", user_data)
    vm.block("metadata_options").attr("http_endpoint", "enabled").attr(
        "http_tokens", "required"
    ).attr("http_put_response_hop_limit", 1)
    disk = vm.block("root_block_device").attr("encrypted", True)
    disk.attr("kms_key_id", ref(KEY.text, "arn")).attr("volume_type", "gp3").attr("volume_size", 30)
    vm.attr("tags", {"Name": prefixed(name)})
    m.add("vms.tf", vm)


def _vm_package(m: Module, arch: str) -> Template:
    """The uploaded VM package of ``arch`` (once per module); returns its object's ARN."""
    label = f"vm_package_{arch}"
    if not any(b.labels == ("aws_s3_object", label) for b in m.files.get("functions.tf", [])):
        _artifact(m, label, f"vms/vm-{arch}.zip", artifacts.vm_zip(arch))
    return template(
        ref("aws_s3_bucket", "artifacts", "arn"), "/", ref("aws_s3_object", label, "key")
    )


def _fetch(m: Module, arch: str) -> Template:
    _vm_package(m, arch)
    obj = ref("aws_s3_object", f"vm_package_{arch}").text
    return template(
        "aws s3 cp --only-show-errors --region ",
        ref("var", "region"),
        " s3://",
        Expr(f"{obj}.bucket"),
        "/",
        Expr(f"{obj}.key"),
        f" {PACKAGE_ZIP}",
    )


def _scheduler(m: Module, inv: Inventory, arch: str) -> Template:
    """The one Dask scheduler the pipeline's VM workers join (once per module); its address."""
    label = "dask_scheduler"
    address = scheduler_output(m, ref("aws_instance", label, "private_ip"))
    if any(b.labels == ("aws_instance", label) for b in m.files.get("vms.tf", [])):
        return address
    assume = Block("data", ("aws_iam_policy_document", f"{label}_assume"))
    statement = assume.block("statement").attr("actions", ["sts:AssumeRole"])
    statement.block("principals").attr("type", "Service").attr("identifiers", ["ec2.amazonaws.com"])
    role = Block("resource", ("aws_iam_role", label)).attr(
        "name", prefixed("dask-scheduler", max_len=64)
    )
    role.attr(
        "assume_role_policy", ref("data", "aws_iam_policy_document", f"{label}_assume", "json")
    )
    policy = Block("data", ("aws_iam_policy_document", label))
    policy.block("statement").attr("sid", "ReadVmPackage").attr("actions", ["s3:GetObject"]).attr(
        "resources", [_vm_package(m, arch)]
    )
    policy.block("statement").attr("sid", "UseDataKey").attr("actions", ["kms:Decrypt"]).attr(
        "resources", [ref(KEY.text, "arn")]
    )
    attach = Block("resource", ("aws_iam_role_policy", label)).attr("name", "glacier-access")
    attach.attr("role", ref("aws_iam_role", label, "id"))
    attach.attr("policy", ref("data", "aws_iam_policy_document", label, "json"))
    profile = Block("resource", ("aws_iam_instance_profile", label))
    profile.attr("name", prefixed("dask-scheduler", max_len=128))
    profile.attr("role", ref("aws_iam_role", label, "name"))
    m.add("iam.tf", assume, role, policy, attach, profile)
    rules: list[tuple[str, int, int, str]] = [
        ("ingress", DASK_SCHEDULER_PORT, DASK_SCHEDULER_PORT, "Dask workers and the runner"),
        ("egress", DASK_WORKER_PORT, NANNY_PORT, "Dask scheduler to worker and nanny"),
    ]
    name = prefixed("dask-scheduler", max_len=255)
    group = _security_group(m, label, name, scheduler_cidr(m), rules)
    user_data = worker_init(
        m,
        "dask-scheduler",
        "",
        fetch=_fetch(m, arch),
        install_python=AL2023_PYTHON[0],
        python=AL2023_PYTHON[1],
        env=_vm_env(m, inv, None),
        command=scheduler_command(),
    )
    itype = SCHEDULER_TYPE if arch == "arm64" else "c7i.large"
    _instance(m, label, "dask-scheduler", itype, _ami(m, arch), [group], user_data)
    return address


def _ami(m: Module, arch: str) -> Expr:
    label = f"al2023_{arch}"
    if not any(b.labels == ("aws_ami", label) for b in m.files.get("vms.tf", [])):
        ami = Block("data", ("aws_ami", label)).attr("owners", ["amazon"]).attr("most_recent", True)
        ami.block("filter").attr("name", "name").attr("values", [f"al2023-ami-2023.*-{arch}"])
        ami.block("filter").attr("name", "architecture").attr("values", [arch])
        m.add("vms.tf", ami)
    return ref("data", "aws_ami", label, "id")


def _cluster(m: Module, inv: Inventory, ex: ExecutorPlan) -> None:
    config = ex.config
    assert isinstance(config, ClusterConfig)
    t = ex.tf_name
    if isinstance(config, DatabricksConfig):
        _databricks(m, inv, ex, config)
        return
    app = Block("resource", ("aws_emrserverless_application", t))
    app.attr("name", prefixed(ex.name, max_len=64))
    app.attr("release_label", emr_image.EMR_RELEASE)
    app.attr("type", "spark")
    app.attr("architecture", emr_image.APPLICATION_ARCHITECTURE)
    app.block("image_configuration").attr("image_uri", _emr_image(m))
    nodes = config.workers + 1
    app.block("maximum_capacity").attr("cpu", f"{nodes * 4} vCPU").attr(
        "memory", f"{nodes * 16} GB"
    )
    app.block("auto_start_configuration").attr("enabled", True)
    app.block("auto_stop_configuration").attr("enabled", True).attr(
        "idle_timeout_minutes", config.autoterminate_minutes
    )
    app.attr(
        "depends_on", [ref("terraform_data", "emr_image"), ref("aws_ecr_repository_policy", "emr")]
    )
    m.add("clusters.tf", app)
    env = Block("locals").attr(_ENV_LOCAL.format(t), _job_env(m, inv, ex))
    m.variables.append(env.attr(_SUBMIT_LOCAL.format(t), _spark_submit_parameters(t)))


_ENV_LOCAL = "{}_environment"
_SUBMIT_LOCAL = "{}_spark_submit_parameters"
"""The locals holding an EMR Serverless executor's environment and ``sparkSubmitParameters``."""
SPARK_ENV = ("spark.emr-serverless.driverEnv.", "spark.executorEnv.")
"""Where EMR Serverless takes a job's environment from: the driver's, and the executors'."""


def _job_env(m: Module, inv: Inventory, ex: ExecutorPlan) -> dict[str, Value]:
    """A job's environment: a VM's (bucket real names, region, digest; no secret, the job runs
    as its role), and the image's Python for the driver and the executors."""
    return {
        **_vm_env(m, inv, ex),
        "PYSPARK_PYTHON": emr_image.PYTHON,
        "PYSPARK_DRIVER_PYTHON": emr_image.PYTHON,
    }


def _spark_submit_parameters(t: str) -> Expr:
    """``--conf`` pairs setting the job's environment on its driver and executors. EMR
    Serverless splits the parameters at spaces: no value holds one (JSON from ``jsonencode``
    has none, bucket names cannot)."""
    env = ref("local", _ENV_LOCAL.format(t)).text
    places = ", ".join(f'"{p}"' for p in SPARK_ENV)
    pairs = f'[for at in [{places}] : "--conf ${{at}}${{k}}=${{v}}"]'
    return Expr(f'join(" ", flatten([for k, v in {env} : {pairs}]))')


def _emr_image(m: Module) -> Template:
    """The ECR repository of the module's EMR image and what builds and pushes it (once per
    module); returns the image's URI, tagged as ``glacier package`` tagged its context."""
    label = "emr"
    repo = ref("aws_ecr_repository", label)
    built = f"{read_manifest(m).text}.images.{emr_image.MANIFEST_KEY}"
    tag = Expr(f"{built}.tag")
    image = template(Expr(f"{repo.text}.repository_url"), ":", tag)
    if any(b.labels == ("aws_ecr_repository", label) for b in m.files.get("clusters.tf", [])):
        return image
    repository = Block("resource", ("aws_ecr_repository", label))
    repository.attr("name", prefixed("emr", max_len=256))
    repository.attr("image_tag_mutability", "IMMUTABLE")
    repository.attr("force_delete", True)
    repository.block("image_scanning_configuration").attr("scan_on_push", True)
    repository.block("encryption_configuration").attr("encryption_type", "KMS").attr(
        "kms_key", ref(KEY.text, "arn")
    )
    keep = m.variable(
        "cluster_images_kept",
        "number",
        "EMR Serverless images kept in the ECR repository (the newest); older ones expire.",
        10,
    )
    rule: dict[str, Value] = {
        "rulePriority": 1,
        "description": "keep the newest images only",
        "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
        "action": {"type": "expire"},
    }
    lifecycle = Block("resource", ("aws_ecr_lifecycle_policy", label))
    lifecycle.attr("repository", Expr(f"{repo.text}.name"))
    lifecycle.attr("policy", call("jsonencode", {"rules": [rule]}))
    pull = Block("resource", ("aws_ecr_repository_policy", label))
    pull.attr("repository", Expr(f"{repo.text}.name"))
    pull.attr("policy", call("jsonencode", _pull_policy()))
    build = m.variable(
        "build_cluster_images",
        "bool",
        "Build the EMR Serverless image (docker) and push it to ECR during apply; turn off to "
        "push it yourself, or where no Docker runs.",
        True,
    )
    push = Block("resource", ("terraform_data", "emr_image"))
    push.attr("count", Expr(f"{build.text} ? 1 : 0"))
    push.attr("triggers_replace", [image])
    context = template(Expr("path.module"), f"/{emr_image.CONTEXT}")
    command = push.block("provisioner", "local-exec")
    command.attr("command", _PUSH)
    command.attr(
        "environment",
        {
            "REGION": ref("var", "region"),
            "REPOSITORY": Expr(f"{repo.text}.name"),
            "REGISTRY": Expr(f'split("/", {repo.text}.repository_url)[0]'),
            "IMAGE": image,
            "TAG": tag,
            "CONTEXT": context,
            "DEPENDENCIES": call("tostring", Expr(f"{built}.dependencies")),
            "PLATFORM": f"linux/{emr_image.ARCHITECTURE}",
        },
    )
    m.add("clusters.tf", repository, lifecycle, pull, push)
    m.notes.append(
        "EMR Serverless: `glacier package` writes the image's build context (build/emr-image); "
        "`terraform apply` builds and pushes it with docker (variable build_cluster_images)."
    )
    return image


_PUSH = (
    "set -eu; "
    'if aws ecr describe-images --region "$REGION" --repository-name "$REPOSITORY" '
    '--image-ids imageTag="$TAG" >/dev/null 2>&1; then exit 0; fi; '
    'if [ "$DEPENDENCIES" != true ]; then echo "$CONTEXT was packaged with --no-deps, so it '
    'has no Polars to install: run glacier package without --no-deps" >&2; exit 1; fi; '
    'aws ecr get-login-password --region "$REGION" | '
    'docker login --username AWS --password-stdin "$REGISTRY"; '
    'docker build --platform "$PLATFORM" --tag "$IMAGE" "$CONTEXT"; '
    'docker push "$IMAGE"'
)
"""Build and push the image unless its tag is in the repository (tags are immutable); refuse a
context without its dependencies (``glacier package --no-deps``)."""


def _pull_policy() -> dict[str, Value]:
    """EMR Serverless pulls the image with its own service principal, for this account's
    applications only."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "EmrServerlessPullsGlacierImages",
                "Effect": "Allow",
                "Principal": {"Service": "emr-serverless.amazonaws.com"},
                "Action": ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer"],
                "Condition": {
                    "ArnLike": {
                        "aws:SourceArn": template(
                            "arn:",
                            _PARTITION,
                            ":emr-serverless:",
                            ref("var", "region"),
                            ":",
                            _ACCOUNT,
                            ":/applications/*",
                        )
                    }
                },
            }
        ],
    }


def _job_entry_point(m: Module) -> Template:
    """``glacier_job.py`` in the artifacts bucket, under the code digest (once per module);
    returns its object's ARN."""
    label = "emr_job_entry_point"
    if not any(b.labels == ("aws_s3_object", label) for b in m.files.get("clusters.tf", [])):
        obj = Block("resource", ("aws_s3_object", label))
        obj.attr("bucket", ref("aws_s3_bucket", "artifacts", "id"))
        digest = call("trimprefix", Expr(f"{MANIFEST.text}.digest"), "sha256:")
        obj.attr("key", template("clusters/", digest, f"/{artifacts.JOB_SCRIPT}"))
        obj.attr("content", JOB_ENTRY)
        obj.attr("content_type", "text/x-python")
        obj.attr("kms_key_id", ref(KEY.text, "arn"))
        read_manifest(m)
        m.add("clusters.tf", obj)
    return template(
        ref("aws_s3_bucket", "artifacts", "arn"), "/", ref("aws_s3_object", label, "key")
    )


def _databricks(m: Module, inv: Inventory, ex: ExecutorPlan, config: DatabricksConfig) -> None:
    """A cluster in an existing workspace; its AWS identity is a registered instance profile."""
    t = ex.tf_name
    databricks.provider(m, databricks.host_variable(m, config))
    registered = Block("resource", ("databricks_instance_profile", t))
    registered.attr("instance_profile_arn", ref("aws_iam_instance_profile", t, "arn"))
    m.add("clusters.tf", registered)
    attributes: dict[str, Value] = {
        "instance_profile_arn": ref("databricks_instance_profile", t, "id"),
        "availability": "ON_DEMAND",
        "zone_id": "auto",
    }
    env = _vm_env(m, inv, ex)  # as a VM's: the region is not set for it
    databricks.cluster(m, inv, ex, config, "m7gd.xlarge", ("aws_attributes", attributes), env)


def _outputs(m: Module, inv: Inventory, region: Expr) -> None:
    add_outputs(
        m,
        inv,
        CloudOutputs(
            cloud="aws",
            placement=[("region", "AWS region.", region)],
            bucket=_bucket_name,
            bucket_doc="S3 bucket name",
            function=_function_output,
            function_doc="Lambda function name and ARN",
            vm=lambda ex: {
                "id": ref("aws_instance", ex.tf_name, "id"),
                "private_ip": ref("aws_instance", ex.tf_name, "private_ip"),
            },
            vm_doc="EC2 instance id",
            cluster=_cluster_output,
            identity=lambda ex: ref("aws_iam_role", ex.tf_name, "arn"),
            identity_doc="the IAM role it runs as",
        ),
    )


def _cluster_output(ex: ExecutorPlan) -> Value:
    if isinstance(ex.config, DatabricksConfig):
        return databricks.cluster_output(ex)
    entry = ref("aws_s3_object", "emr_job_entry_point").text
    return {
        "type": "emr-serverless",
        "id": ref("aws_emrserverless_application", ex.tf_name, "id"),
        "execution_role_arn": ref("aws_iam_role", ex.tf_name, "arn"),
        "entry_point": template("s3://", Expr(f"{entry}.bucket"), "/", Expr(f"{entry}.key")),
        "image_uri": Expr(
            f"aws_emrserverless_application.{ex.tf_name}.image_configuration[0].image_uri"
        ),
        "spark_submit_parameters": ref("local", _SUBMIT_LOCAL.format(ex.tf_name)),
    }


def _function_output(ex: ExecutorPlan) -> Value:
    fn = ref("aws_lambda_function", ex.tf_name).text
    return {"name": Expr(f"{fn}.function_name"), "arn": Expr(f"{fn}.arn")}
