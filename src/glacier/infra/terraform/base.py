"""What every cloud renderer shares: the module being built, names and the VM worker."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from glacier.config.base import Config
from glacier.config.storage import BucketConfig
from glacier.core.kinds import ExecutorKind
from glacier.identifiers import slug
from glacier.infra import artifacts
from glacier.infra.hcl import Attribute, Block, Call, Expr, Template, Value, call, ref, template
from glacier.infra.inventory import BucketPlan, ExecutorPlan, Inventory
from glacier.storage.access import Operation, operations_for

REQUIRED_TERRAFORM = ">= 1.5"
WORKER_TEMPLATE = "worker_init.sh.tftpl"
DASK_WORKER_PORT = 8788
NANNY_PORT = 8789

_NO_DEFAULT = object()

NAME_PREFIX = ref("local", "name_prefix")
"""What every globally named resource's name starts with (``var.name_prefix`` or a default)."""
PREFIX_MAX = 23
"""Longest ``name_prefix``: the pipeline's slug (at most 14 characters) and 8 hex digits."""
_PREFIX_PATTERN = "^[a-z][a-z0-9-]{1,21}[a-z0-9]$"


@dataclass
class Module:
    """The Terraform for one pipeline on one cloud, by file, before it is written."""

    providers: dict[str, tuple[str, str]]
    """Terraform provider name -> (source, version constraint), as ``versions.tf`` pins them."""
    files: dict[str, list[Block]] = field(default_factory=dict)
    variables: list[Block] = field(default_factory=list)
    outputs: list[Block] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Cloud-specific README lines: what to set before ``terraform apply``."""
    uses_worker_template: bool = False

    def add(self, file: str, *blocks: Block) -> None:
        self.files.setdefault(file, []).extend(blocks)

    def variable(
        self, name: str, type_: str, description: str, default: Value | object = _NO_DEFAULT
    ) -> Expr:
        """Declare ``var.name`` (once) and return a reference to it."""
        if not any(v.labels == (name,) for v in self.variables):
            block = Block("variable", (name,)).attr("description", description)
            block.attr("type", Expr(type_))
            if default is not _NO_DEFAULT:
                block.attr("default", default)  # type: ignore[arg-type]
            self.variables.append(block)
        return ref("var", name)

    def output(self, name: str, description: str, value: Value) -> None:
        self.outputs.append(
            Block("output", (name,)).attr("description", description).attr("value", value)
        )


def cloud_name(*parts: str, max_len: int = 63, sep: str = "-") -> str:
    """A deterministic resource name within ``max_len``; long names keep a hash of the full name."""
    full = sep.join(slug(p).replace("-", sep) for p in parts)
    if len(full) <= max_len:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()
    if max_len <= len(sep) + 8:
        return digest[:max_len]
    return full[: max_len - 8 - len(sep)].rstrip(sep) + sep + digest[:8]


def declare_name_prefix(m: Module, pipeline: str, identity: Value) -> None:
    """``var.name_prefix`` and ``local.name_prefix``, so two deployments never collide.

    Bucket and function names are global (S3, GCS) or per account: the pipeline's own names
    (``raw``) are taken. The default prefix is the pipeline's slug and 8 hex digits of a hash of
    ``identity`` (the account, project or subscription id), computed by Terraform itself, so the
    same pipeline in two accounts gets two names and no ``random`` provider is needed.
    """
    base = slug(pipeline)
    base = (base if base[0].isalpha() else f"g-{base}")[: PREFIX_MAX - 9].rstrip("-")
    variable = Block("variable", ("name_prefix",))
    variable.attr(
        "description",
        f"Start of every globally unique resource name (3-{PREFIX_MAX} lower-case letters, "
        f"digits and dashes); default: {base}-<8 hex of the account id>.",
    )
    variable.attr("type", Expr("string"))
    variable.attr("default", None)
    check = variable.block("validation")
    check.attr(
        "condition",
        call(
            "can", call("regex", _PREFIX_PATTERN, call("coalesce", ref("var", "name_prefix"), base))
        ),
    )
    check.attr(
        "error_message",
        f"name_prefix must be 3-{PREFIX_MAX} lower-case letters, digits and dashes, starting "
        "with a letter and not ending with a dash.",
    )
    hashed = call("substr", call("sha256", identity), 0, 8)
    local = Block("locals").attr(
        "name_prefix", call("coalesce", ref("var", "name_prefix"), template(f"{base}-", hashed))
    )
    m.variables += [variable, local]


def prefixed(*parts: str, max_len: int = 63, sep: str = "-") -> Value:
    """A globally unique name: ``local.name_prefix``, ``sep``, then ``parts`` within ``max_len``.

    ``sep`` other than ``-`` also replaces the prefix's dashes (``_`` for GCP role ids, ``""``
    for Azure storage accounts). With no ``parts`` the name is the prefix alone.
    """
    if not parts:
        return NAME_PREFIX if sep == "-" else call("replace", NAME_PREFIX, "-", sep)
    budget = max_len - PREFIX_MAX - len(sep)
    assert budget >= 1, f"{max_len} characters leave no room after a {PREFIX_MAX}-long prefix"
    name = template(NAME_PREFIX, sep, cloud_name(*parts, max_len=budget, sep=sep))
    return name if sep == "-" else call("replace", name, "-", sep)


def noncurrent_expiry_days(config: BucketConfig) -> int | None:
    """Days a replaced object version is kept: as asked, else 30 unless history was asked for."""
    return config.expire_noncurrent_after_days or (None if config.versioning else 30)


def executor_env(inv: Inventory, ex: ExecutorPlan, digest: Value) -> dict[str, Value]:
    """The deployed variables that are the same wherever the package runs (plain strings, but
    ``digest``): ``glacier package`` writes them into the manifest, Terraform sets them."""
    return {
        "GLACIER_PIPELINE": inv.pipeline,
        "GLACIER_MODULE": inv.package_module,
        "GLACIER_EXECUTOR": ex.name,
        "GLACIER_PROVIDER": inv.cloud.value,
        "GLACIER_CODE_DIGEST": digest,
    }


_MANIFEST_LOCAL = "glacier_manifest"
MANIFEST = ref("local", _MANIFEST_LOCAL)
"""``build/manifest.json`` as Terraform reads it (declared by :func:`read_manifest`)."""


def read_manifest(m: Module) -> Expr:
    """``local.glacier_manifest`` (declared once): the manifest of the last ``glacier package``,
    read when Terraform plans, so packaging again and applying without regenerating the
    Terraform deploys (and outputs) the new digest."""
    declared = any(
        isinstance(a, Attribute) and a.name == _MANIFEST_LOCAL
        for block in m.variables
        if block.type == "locals"
        for a in block.body
    )
    if not declared:
        path = template(Expr("path.module"), f"/{artifacts.MANIFEST}")
        local = Block("locals").attr(_MANIFEST_LOCAL, call("jsondecode", call("file", path)))
        m.variables.append(local)
    return MANIFEST


def deployed_env(
    m: Module,
    inv: Inventory,
    ex: ExecutorPlan,
    real_name: Callable[[BucketPlan], Value],
    cloud_env: Mapping[str, Value] | None = None,
) -> dict[str, Value]:
    """The environment of a deployed executor: all ``Provider.from_env()`` needs, nothing else.

    ``real_name`` is the cloud's reference to a bucket's real name (as the ``buckets`` output
    has it); ``cloud_env`` adds the cloud's usual variables (project, region, subscription...).
    The deployed code takes its credentials from its own identity, so no secret is here.
    """
    used = sorted({*ex.reads, *ex.writes})
    digest = Expr(f"{read_manifest(m).text}.digest")
    return {
        **executor_env(inv, ex, digest),
        **(cloud_env or {}),
        "GLACIER_STAGING_BUCKET": real_name(inv.bucket(inv.staging_bucket)),
        "GLACIER_BUCKETS": call("jsonencode", {b: real_name(inv.bucket(b)) for b in used}),
    }


SCHEDULER = "dask-scheduler"
"""The name of the one VM per module that runs the Dask scheduler the VM workers join."""


def scheduler_plan(config: Config) -> ExecutorPlan:
    """The scheduler VM as an executor with no tasks and no buckets, so a cloud renders it with
    its own VM code (identity, network, start-up script) and grants it nothing but its package."""
    return ExecutorPlan(
        name=SCHEDULER,
        tf_name=SCHEDULER.replace("-", "_"),
        kind=ExecutorKind.VM,
        config=config,
        tasks=(),
        reads=(),
        writes=(),
    )


def scheduler_output(m: Module, host: Expr) -> Template:
    """``tls://<host>:8786`` for the workers, also output (once) as ``dask_scheduler_address``."""
    address = template("tls://", host, f":{DASK_SCHEDULER_PORT}")
    if not any(o.labels == ("dask_scheduler_address",) for o in m.outputs):
        m.output(
            "dask_scheduler_address",
            "The Dask scheduler the VM workers join (TLS; certificates in the VM package).",
            address,
        )
    return address


def scheduler_cidr(m: Module) -> Expr:
    """Where the Dask scheduler connects from: the one source VM workers let in."""
    return m.variable("scheduler_cidr", "string", "CIDR block the Dask scheduler runs in.")


DASK_SCHEDULER_PORT = 8786
VM_HOME = "/opt/glacier"
PACKAGE_ZIP = f"{VM_HOME}/package.zip"
"""Where a VM's ``fetch`` command puts the package it boots from."""
_DASK = f"{VM_HOME}/venv/bin/dask"
_TLS = (
    f"--tls-ca-file {VM_HOME}/package/tls/ca.pem --tls-cert {VM_HOME}/package/tls/node.pem "
    f"--tls-key {VM_HOME}/package/tls/node.key"
)
_NO_FETCH = "echo 'this cloud does not fetch the VM package yet' >&2; exit 1"


def scheduler_command() -> str:
    """The Dask scheduler of a pipeline's VMs: TLS only, its dashboard on the VM alone."""
    return (
        f"{_DASK} scheduler --protocol tls --port {DASK_SCHEDULER_PORT} "
        f"--dashboard-address 127.0.0.1:8787 {_TLS}"
    )


def worker_command(name: str, scheduler: Value) -> Template:
    """A Dask worker that joins ``scheduler`` (``tls://host:8786``) over mutual TLS."""
    assert isinstance(scheduler, (str, Expr, Call, Template)), scheduler
    address = scheduler.parts if isinstance(scheduler, Template) else (scheduler,)
    return template(
        f"{_DASK} worker ",
        *address,
        f" --name {slug(name)} --worker-port {DASK_WORKER_PORT} --nanny-port {NANNY_PORT} {_TLS}",
    )


def worker_init(
    module: Module,
    name: str,
    scheduler: Value,
    *,
    fetch: Value = _NO_FETCH,
    install_python: str = "apt-get update -q && apt-get install -y -q python3-venv",
    python: str = "python3",
    env: Mapping[str, Value] | None = None,
    command: Value | None = None,
) -> Call:
    """``templatefile(...)`` of the start-up script of a VM: a Dask worker, or the scheduler.

    ``fetch`` is the cloud's shell command that copies the VM package (``glacier package``'s
    ``build/vm-<arch>.zip``) from the artifacts bucket to ``PACKAGE_ZIP``; ``install_python``
    installs a Python >= 3.11 named ``python`` from the image's own repositories; ``env`` is the
    deployed environment (:func:`deployed_env`); ``command`` replaces the worker's (the
    scheduler passes :func:`scheduler_command`).
    """
    module.uses_worker_template = True
    return call(
        "templatefile",
        template(Expr("path.module"), f"/{WORKER_TEMPLATE}"),
        {
            "name": name,
            "fetch": fetch,
            "install_python": install_python,
            "python": python,
            "env": dict(env or {}),
            "command": command if command is not None else worker_command(name, scheduler),
        },
    )


WORKER_SCRIPT = """\
#!/bin/sh
# Start-up script of a Glacier VM (${name}), rendered by Terraform's templatefile().
# Everything comes from the pipeline's VM package, which `glacier package` built and Terraform
# uploaded to the artifacts bucket: Glacier and the pipeline's modules (src/), the wheels of
# Polars, obstore and Dask for this image (wheels/) and the cluster's TLS certificates (tls/).
# No package registry and no internet is needed, only the cloud's storage API.
set -eu
${install_python}
mkdir -p /opt/glacier
${fetch}
${python} -m zipfile -e /opt/glacier/package.zip /opt/glacier/package
${python} -m venv /opt/glacier/venv
/opt/glacier/venv/bin/pip install --quiet --no-index --find-links /opt/glacier/package/wheels \\
  -r /opt/glacier/package/requirements.txt
useradd --system --home-dir /var/lib/glacier --create-home glacier || true
chown -R glacier /opt/glacier/package/tls
chmod 600 /opt/glacier/package/tls/node.key
cat > /etc/glacier.env <<'ENV'
%{ for key, value in env ~}
${key}='${value}'
%{ endfor ~}
ENV
cat > /etc/systemd/system/glacier-dask.service <<'UNIT'
[Unit]
Description=Glacier Dask node ${name}
After=network-online.target
Wants=network-online.target

[Service]
User=glacier
WorkingDirectory=/var/lib/glacier
Environment=PYTHONPATH=/opt/glacier/package/src
EnvironmentFile=/etc/glacier.env
ExecStart=${command}
Restart=always
RestartSec=5

[Install]
WantedBy=multi-user.target
UNIT
systemctl daemon-reload
systemctl enable --now glacier-dask.service
"""


def bucket_grants(ex: ExecutorPlan) -> list[tuple[str, frozenset[Operation]]]:
    """(bucket, operations) for every bucket ``ex`` reads or writes, sorted by bucket: what each
    cloud's grants are rendered from."""
    return [
        (b, operations_for(b in ex.reads, b in ex.writes)) for b in sorted({*ex.reads, *ex.writes})
    ]
