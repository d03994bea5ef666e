"""``glacier emulate DIR``: the deployed platforms, served on 127.0.0.1 from the built packages.

Reads ``DIR/build/manifest.json`` (written by ``glacier package``), gives every function the
environment its Terraform would set (pointed at the buckets of an S3/GCS/Azure-compatible
storage server, such as moto, fake-gcs-server or Azurite), starts the cloud's emulator
(``glacier/clouds/<cloud>/emulator.py``) and writes a deployment file in the shape of
``terraform output -json``, so ``run(mode="cloud", deployment=FILE)`` runs against it exactly
as it would against the cloud: same events, same transports, same replies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glacier import clouds
from glacier.clouds import Cloud
from glacier.errors import DeploymentError
from glacier.identifiers import slug
from glacier.provider import Provider
from glacier.runtime.emulator import Emulated, EmulatedFunction
from glacier.runtime.vm_emulator import EmulatedVms

MANIFEST = "build/manifest.json"
SKIPPED_FIELDS = frozenset({"profile", "assume_role_arn", "credentials_path"})
"""Provider fields the emulated functions do not get: they stand for the runner's own login;
the functions get the credentials they resolve to (as a role's), through the store."""


@dataclass
class Emulation:
    """Running emulated executors of one deployment, and the file that describes them."""

    deployment: Path
    emulated: Emulated | None
    """The cloud's functions (None when the pipeline has none)."""
    vms: EmulatedVms | None = None
    clusters: dict[str, Emulated] = field(default_factory=dict)
    """Cluster platform (``emr-serverless``, ``databricks``) -> its emulator, whose
    ``functions`` are the ``clusters`` entries of the executors deployed on it."""

    def close(self) -> None:
        for running in (self.emulated, self.vms, *self.clusters.values()):
            if running is not None:
                running.close()

    def __enter__(self) -> Emulation:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def read_manifest(directory: Path) -> dict[str, Any]:
    path = directory / MANIFEST
    if not path.is_file():
        raise DeploymentError(
            f"{path} does not exist: `glacier emulate` serves the packages `glacier package "
            f"TARGET {directory}` builds. Build them first."
        )
    manifest: dict[str, Any] = json.loads(path.read_text())
    return manifest


def emulate(
    directory: str | Path,
    provider: Provider,
    *,
    out: str | Path | None = None,
    bucket_names: Mapping[str, str] | None = None,
) -> Emulation:
    """Serve the packages in ``directory`` on 127.0.0.1, their buckets on ``provider``'s storage.

    ``bucket_names`` maps the pipeline's bucket names to the storage's (default: the same
    names); every one must exist. The deployment file goes to ``out`` (default
    ``DIR/emulated-deployment.json``).
    """
    root = Path(directory)
    manifest = read_manifest(root)
    cloud = Cloud(manifest["cloud"])
    if provider.cloud is not cloud:
        raise DeploymentError(
            f"The packages in {root} are for {cloud.value}, but the emulator's provider is "
            f"{provider.cloud.value}. Set GLACIER_PROVIDER={cloud.value} (and that cloud's "
            f"storage variables) to point it at the storage server."
        )
    logical = sorted({*manifest.get("buckets", []), manifest["staging_bucket"]})
    names = {b: (bucket_names or {}).get(b, b) for b in logical}
    missing = [real for real in names.values() if not provider.store.bucket_exists(real)]
    if missing:
        raise DeploymentError(
            f"Bucket(s) {', '.join(missing)} do not exist on {provider.store!r}: create them in "
            f"the storage server first (as `terraform apply` would), or map the pipeline's "
            f"buckets to existing ones with bucket_names."
        )
    staging = names[manifest["staging_bucket"]]
    environment = _storage_environment(provider) | {
        "GLACIER_CODE_DIGEST": manifest["digest"],
        "GLACIER_STAGING_BUCKET": staging,
        "GLACIER_BUCKETS": json.dumps({b: names[b] for b in manifest.get("buckets", [])}),
    }
    functions = _functions(root, manifest, "functions", environment)
    ref = clouds.CLOUDS[cloud].emulator
    if ref is None:
        raise DeploymentError(f"Glacier has no emulator for {cloud.value}.")
    emulated: Emulated | None = clouds.load(ref)(functions) if functions else None
    emulation = Emulation(
        Path(out) if out is not None else root / "emulated-deployment.json", emulated
    )
    try:
        vms = _functions(root, manifest, "vms", environment)
        emulation.vms = EmulatedVms(vms) if vms else None
        clusters = _functions(root, manifest, "clusters", environment)
        for platform, on_it in _by_platform(cloud, manifest, clusters).items():
            emulation.clusters[platform] = clouds.load(clouds.CLUSTER_EMULATORS[platform])(on_it)
        outputs = _outputs(manifest, names, staging, emulated, emulation.vms, emulation.clusters)
        emulation.deployment.write_text(json.dumps(outputs, indent=2))
    except BaseException:
        emulation.close()
        raise
    return emulation


def _by_platform(
    cloud: Cloud, manifest: Mapping[str, Any], clusters: list[EmulatedFunction]
) -> dict[str, list[EmulatedFunction]]:
    """The cluster executors grouped by the platform they deploy on: the manifest's ``type``
    of each (``databricks`` for a DatabricksConfig), else the cloud's own Spark."""
    grouped: dict[str, list[EmulatedFunction]] = {}
    for cluster in clusters:
        spec = manifest["clusters"][cluster.executor]
        platform = spec.get("type") or clouds.CLUSTER_DEFAULTS.get(cloud, "")
        if platform not in clouds.CLUSTER_EMULATORS:
            raise DeploymentError(
                f"Glacier has no emulator for cluster executor {cluster.executor!r} on "
                f"{cloud.value} ({platform or 'no platform'}); it emulates "
                f"{', '.join(sorted(clouds.CLUSTER_EMULATORS))}."
            )
        grouped.setdefault(platform, []).append(cluster)
    return grouped


def _storage_environment(provider: Provider) -> dict[str, str]:
    """What a deployed function of ``provider``'s cloud reads its storage from: the cloud's
    variables for the provider's fields, and the credentials its store resolved."""
    env: dict[str, str] = {"GLACIER_PROVIDER": provider.cloud.value}
    fields = clouds.part(provider.cloud, "env")
    for name, (variables, _) in fields.items():
        value = getattr(provider.config, name, None)
        if value and name not in SKIPPED_FIELDS:
            env[variables[0]] = str(value)
    passed: Sequence[str] = clouds.part(provider.cloud, "emulated_role")
    env.update(provider.store.worker_environment())
    env.update(_present(passed))
    return env


def _present(names: Sequence[str]) -> dict[str, str]:
    return {n: os.environ[n] for n in names if os.environ.get(n)}


def _functions(
    root: Path, manifest: Mapping[str, Any], kind: str, environment: Mapping[str, str]
) -> list[EmulatedFunction]:
    """The manifest's ``functions``, ``vms`` or ``clusters``, each with its emulated environment."""
    prefix = slug(str(manifest["pipeline"]))
    made = []
    for executor, spec in sorted(manifest.get(kind, {}).items()):
        package = root / spec["package"]
        if not package.is_file():
            raise DeploymentError(f"{package} is missing: run `glacier package` again.")
        made.append(
            EmulatedFunction(
                executor=executor,
                name=f"{prefix}-{executor}",
                package=package,
                environment={**spec.get("environment", {}), **environment},
                memory=spec.get("memory"),
                timeout=spec.get("timeout"),
                layers=tuple(root / p for p in spec.get("layers", []) if (root / p).is_file()),
            )
        )
    return made


def _outputs(
    manifest: Mapping[str, Any],
    names: Mapping[str, str],
    staging: str,
    emulated: Emulated | None,
    vms: EmulatedVms | None,
    clusters: Mapping[str, Emulated],
) -> dict[str, Any]:
    """The deployment file: ``terraform output -json``'s shape, pointing at the emulator."""
    values: dict[str, Any] = {
        "cloud": manifest["cloud"],
        "pipeline": {"name": manifest["pipeline"], "module": manifest["module"]},
        "package_digest": manifest["digest"],
        "buckets": {b: names[b] for b in manifest.get("buckets", [])},
        "staging_bucket": staging,
        "functions": dict(emulated.functions) if emulated else {},
        "vms": vms.entries if vms else {},
        "clusters": {k: v for c in clusters.values() for k, v in c.functions.items()},
        "emulator": {
            "endpoints": {
                **(emulated.endpoints if emulated else {}),
                **{k: v for c in clusters.values() for k, v in c.endpoints.items()},
            },
            "tls": vms.tls if vms else {},
        },
    }
    if vms is not None:
        values["dask_scheduler_address"] = vms.address
    keys = {k: v for e in (emulated, *clusters.values()) if e for k, v in e.secrets.items()}
    if keys:
        values["function_keys"] = keys
    return {
        k: {"sensitive": k == "function_keys", "type": "dynamic", "value": v}
        for k, v in values.items()
    }
