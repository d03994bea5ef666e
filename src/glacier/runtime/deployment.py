"""A deployed pipeline, as Terraform's outputs describe it: what cloud mode runs against.

``run(mode="cloud", deployment=PATH)`` reads ``terraform output -json`` (run in PATH when it is
the Terraform directory, or a JSON file saved from it, or the file ``glacier emulate`` writes,
which has the same shape). Every cloud's module ends with the same outputs
(:mod:`glacier.infra.terraform.outputs`): ``cloud``, ``buckets``, ``staging_bucket``,
``functions``, ``vms``, ``clusters``, ``package_digest`` and ``pipeline``; Azure adds the
sensitive ``function_keys``; an emulated deployment adds ``emulator`` (service endpoints).
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glacier.clouds import Cloud
from glacier.core.kinds import ExecutorKind
from glacier.errors import DeploymentError
from glacier.resources.executor import Executor
from glacier.runtime.transport import Target
from glacier.runtime.wire import Code

_KIND_OUTPUT = {
    ExecutorKind.SERVERLESS: "functions",
    ExecutorKind.VM: "vms",
    ExecutorKind.CLUSTER: "clusters",
}
REDEPLOY = "redeploy: `glacier package`, then `terraform apply`"


@dataclass(frozen=True)
class Deployment:
    """Every deployed executor bound to its resource, every bucket to its real name."""

    source: str
    """Where it was read from (a Terraform directory or a JSON file), for messages."""
    cloud: Cloud
    buckets: Mapping[str, str]
    """Pipeline bucket name -> its real name."""
    staging_bucket: str
    """Real name of the bucket hand-offs, the cache and run reports go to."""
    resources: Mapping[ExecutorKind, Mapping[str, Mapping[str, Any]]]
    """Kind -> executor name -> its entry in the outputs (``functions``, ``vms``, ...)."""
    digest: str | None = None
    """The code digest of the deployed package (``package_digest``)."""
    pipeline: str | None = None
    endpoints: Mapping[str, str] = field(default_factory=dict)
    """Service -> URL, for an emulated deployment."""
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Executor -> its key (Azure's ``function_keys``); never shown."""
    extra: Mapping[str, Any] = field(default_factory=dict, repr=False)
    """Every other output, for the transports that need one (``dask_scheduler_address``)."""
    package_dir: Path | None = None
    """The Terraform directory whose ``build/`` holds the packages (the VMs' certificates)."""
    tls: Mapping[str, str] = field(default_factory=dict, repr=False)
    """An emulated deployment's Dask certificates (``ca``, ``cert``, ``key`` file paths)."""

    @classmethod
    def load(cls, path: str | Path) -> Deployment:
        """Read a Terraform directory's outputs, or a JSON file of them."""
        where = Path(path)
        if where.is_dir():
            outputs = _terraform_outputs(where)
        elif where.is_file():
            try:
                outputs = json.loads(where.read_text())
            except json.JSONDecodeError as exc:
                raise DeploymentError(
                    f"Deployment file {where} is not JSON ({exc}). Save it with "
                    f"`terraform output -json > {where.name}`, or pass the Terraform directory."
                ) from None
        else:
            raise DeploymentError(
                f"Deployment {where} does not exist. Pass the Terraform directory you applied "
                f"(or a file saved with `terraform output -json`), or the file `glacier "
                f"emulate` wrote."
            )
        package_dir = where if where.is_dir() else where.parent
        return cls.from_outputs(outputs, str(where), package_dir)

    @classmethod
    def from_outputs(
        cls, outputs: Mapping[str, Any], source: str, package_dir: Path | None = None
    ) -> Deployment:
        """From ``terraform output -json``'s shape (``{name: {"value": ...}}``) or plain values."""
        values = {
            k: v["value"] if isinstance(v, Mapping) and "value" in v else v
            for k, v in outputs.items()
        }
        missing = [k for k in ("cloud", "buckets", "staging_bucket") if k not in values]
        if missing:
            raise DeploymentError(
                f"Deployment {source} has no output {', '.join(missing)}: it is not the Terraform "
                f"`glacier terraform` generated, or it was never applied. Run `terraform apply` "
                f"there first."
            )
        try:
            cloud = Cloud(str(values["cloud"]))
        except ValueError:
            raise DeploymentError(
                f"Deployment {source}: output `cloud` is {values['cloud']!r}, not a cloud."
            ) from None
        pipeline = values.get("pipeline")
        emulator = values.get("emulator") or {}
        known = {"cloud", "buckets", "staging_bucket", "package_digest", "pipeline"}
        known |= {"function_keys", "emulator", *_KIND_OUTPUT.values()}
        return cls(
            source=source,
            cloud=cloud,
            buckets=dict(values["buckets"] or {}),
            staging_bucket=str(values["staging_bucket"]),
            resources={k: dict(values.get(out) or {}) for k, out in _KIND_OUTPUT.items()},
            digest=values.get("package_digest"),
            pipeline=pipeline.get("name") if isinstance(pipeline, Mapping) else pipeline,
            endpoints=dict(emulator.get("endpoints") or {}),
            secrets=dict(values.get("function_keys") or {}),
            extra={k: v for k, v in values.items() if k not in known},
            package_dir=package_dir,
            tls=dict(emulator.get("tls") or {}),
        )

    def target(self, executor: Executor) -> Target:
        """The deployed resource of ``executor``, or a :class:`DeploymentError` saying so."""
        entry = self.resources.get(executor.kind, {}).get(executor.name)
        if entry is None:
            deployed = sorted(self.resources.get(executor.kind, {}))
            raise DeploymentError(
                f"Executor {executor.name!r} ({executor.kind.value}) is not in deployment "
                f"{self.source} (deployed {executor.kind.value} executors: "
                f"{', '.join(deployed) or 'none'}). The pipeline changed since it was deployed: "
                f"{REDEPLOY} (after `glacier terraform` if executors were added)."
            )
        config = executor.config
        if executor.kind is ExecutorKind.VM:
            scheduler = self.extra.get("dask_scheduler_address")
            entry = {**entry, "scheduler": scheduler, "tls": self.tls or self._vm_certificates()}
        return Target(
            executor=executor.name,
            kind=executor.kind.value,
            entry=entry,
            provider=executor.provider.config,
            endpoints=self.endpoints,
            secret=self.secrets.get(executor.name),
            timeout=getattr(config, "timeout", None),
            memory=getattr(config, "memory", None),
        )

    def _vm_certificates(self) -> dict[str, str]:
        """The Dask certificates of the VM package in ``build/``, unpacked for the client."""
        packages = sorted(self.package_dir.glob("build/vm-*.zip")) if self.package_dir else []
        if not packages:
            return {}
        return unpacked_certificates(packages[0])

    def check_code(self, pipeline: str, digest: str) -> None:
        """Refuse to run code other than what is deployed."""
        if self.pipeline is not None and self.pipeline != pipeline:
            raise DeploymentError(
                f"Deployment {self.source} is of pipeline {self.pipeline!r}, not {pipeline!r}. "
                f"Pass the deployment of {pipeline!r}."
            )
        if self.digest is not None and self.digest != digest:
            raise DeploymentError(
                f"Pipeline {pipeline!r}: its code ({digest}) differs from the package deployed "
                f"in {self.source} ({self.digest}), so the cloud would run other code. {REDEPLOY}."
            )


@dataclass(frozen=True)
class CloudRun:
    """What a cloud-mode run needs beyond local mode: the deployment, and the code it runs."""

    deployment: Deployment
    code: Code


@functools.cache
def unpacked_certificates(package: Path) -> dict[str, str]:
    """The ``tls/`` files of a VM package, in a private temporary folder removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="glacier-tls-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    found: dict[str, str] = {}
    with zipfile.ZipFile(package) as zf:
        for name, key in (("tls/ca.pem", "ca"), ("tls/node.pem", "cert"), ("tls/node.key", "key")):
            path = folder / Path(name).name
            path.write_bytes(zf.read(name))
            path.chmod(0o600)
            found[key] = str(path)
    return found


def _terraform_outputs(directory: Path) -> dict[str, Any]:
    if shutil.which("terraform") is None:
        raise DeploymentError(
            f"Reading deployment {directory} needs the `terraform` binary on PATH. Install it, "
            f"or save the outputs where it runs (`terraform output -json > deployment.json`) "
            f"and pass that file."
        )
    done = subprocess.run(
        ["terraform", "output", "-json"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    if done.returncode != 0:
        raise DeploymentError(
            f"`terraform output -json` failed in {directory}: {done.stderr.strip()[-500:]}. Run "
            f"`terraform init` and `terraform apply` there first."
        )
    outputs: dict[str, Any] = json.loads(done.stdout or "{}")
    if not outputs:
        raise DeploymentError(
            f"Terraform in {directory} has no outputs: it was never applied. Run `terraform "
            f"apply` there first."
        )
    return outputs
