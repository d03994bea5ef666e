"""``glacier package``: build what the generated Terraform uploads, without Docker.

Every serverless executor gets a code zip holding the pipeline module, Glacier itself and what
its cloud adds (``build/<executor>.zip``): a handler, and requirements, vendored packages or
shared archives such as layers. Each cloud says what it adds in its
``glacier/clouds/<cloud>/package.py`` (its registry part ``package``, a
:class:`FunctionPackaging`); the pieces they share (pip for another platform, reproducible
zips) are here.

Zips are deterministic (sorted entries, fixed timestamps), so an unchanged pipeline does not
redeploy. ``build/manifest.json`` says what was built: the code digest (:func:`code_digest`),
each function's package, limits, layers and environment; Terraform reads the digest from it,
``glacier emulate`` serves the packages it lists.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from glacier import clouds, version
from glacier.clouds import Cloud
from glacier.config.compute import ServerlessConfig
from glacier.core.kinds import ExecutorKind
from glacier.errors import GlacierError
from glacier.infra import artifacts
from glacier.infra.inventory import ExecutorPlan, Inventory, build_inventory
from glacier.infra.terraform.base import executor_env
from glacier.resources.graph import BoundPipeline as Pipeline

MACHINES = {"arm64": "aarch64", "x86_64": "x86_64"}
"""Glacier's CPU names -> the machine part of a wheel's platform tag."""
DEFAULT_GLIBC = (2, 28)
"""The oldest glibc of the function runtimes Glacier targets, when a cloud names none."""
_LEGACY_MANYLINUX = {"manylinux2014": 17, "manylinux2010": 12, "manylinux1": 5}
_NO_MATCH = re.compile(r"No matching distribution found for (\S+)")
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


Files = dict[str, Path | bytes]
"""Archive name -> source: a file to read, or the bytes themselves."""


class PackageError(GlacierError):
    """A function package cannot be built, or would not fit the cloud's limits."""


def _no_shared(inv: Inventory, out: Path, dependencies: bool) -> dict[str, Path]:
    return {}


def _no_check(ex: ExecutorPlan, code: Path, shared: Mapping[str, Path]) -> str | None:
    return None


def _no_layers(ex: ExecutorPlan) -> list[str]:
    return []


def _no_images(inv: Inventory, out: Path, dependencies: bool) -> dict[str, Any]:
    return {}


@dataclass(frozen=True, order=True)
class VmPlatform:
    """What a VM image runs: the wheels of its package are downloaded for it."""

    arch: str
    python: str
    glibc: tuple[int, int]


@dataclass(frozen=True)
class FunctionPackaging:
    """One cloud's part of ``glacier package``."""

    files: Callable[[Inventory, bool], Files]
    """(inventory, dependencies?) -> what goes next to the code in every function's zip."""
    shared: Callable[[Inventory, Path, bool], dict[str, Path]] = _no_shared
    """Archives the pipeline's functions share (layers), built once into the output folder."""
    check: Callable[[ExecutorPlan, Path, Mapping[str, Path]], str | None] = _no_check
    """Refuse a function's code zip (with the shared archives) that the cloud would refuse;
    else say how it measures against the cloud's limit (a line for ``glacier package``)."""
    vm_platform: Callable[[ExecutorPlan], VmPlatform] | None = None
    """The platform of a VM executor's image, when the cloud's VMs install a package."""
    layers: Callable[[ExecutorPlan], list[str]] = _no_layers
    """The shared archives (``build/...``) a function runs with, as the Terraform attaches them."""
    images: Callable[[Inventory, Path, bool], dict[str, Any]] = _no_images
    """Container images of the cluster executors: writes their build contexts into the output
    folder; returns their ``images`` entries of the manifest (context, tag), by name."""


def build(
    pipeline: Pipeline,
    out_dir: str | Path,
    cloud: Cloud | str | None = None,
    *,
    dependencies: bool = True,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    """Build every package of ``pipeline`` into ``out_dir/build``; returns the files written.

    ``dependencies=False`` skips the parts that download from PyPI (layers, vendored
    packages), e.g. to rebuild only the code after editing a task. ``report`` gets one line
    per archive (its sizes) and per function (its size against the cloud's limit).
    """
    return build_packages(build_inventory(pipeline, cloud), out_dir, dependencies, report)


def build_packages(
    inv: Inventory,
    out_dir: str | Path,
    dependencies: bool,
    report: Callable[[str], None] | None = None,
) -> list[Path]:
    out = Path(out_dir)
    (out / artifacts.BUILD_DIR).mkdir(parents=True, exist_ok=True)
    cloud: FunctionPackaging = clouds.part(inv.cloud, "package")
    shared = cloud.shared(inv, out, dependencies)
    written = list(shared.values())
    for ex in inv.of_kind(ExecutorKind.SERVERLESS):
        files = code_files(inv)
        files.update(cloud.files(inv, dependencies))
        path = out / artifacts.code_zip(ex.name)
        write_zip(path, files)
        written.append(path)
        fits = cloud.check(ex, path, shared)
        if report is not None and fits:
            report(f"{ex.name}: {fits}")
    for ex in inv.of_kind(ExecutorKind.CLUSTER):
        path = out / artifacts.cluster_zip(ex.name)
        write_zip(path, {**code_files(inv), artifacts.JOB_SCRIPT: JOB_ENTRY.encode()})
        written.append(path)
    if cloud.vm_platform is not None:
        platforms = sorted({cloud.vm_platform(ex) for ex in inv.of_kind(ExecutorKind.VM)})
        tls = vm_certificates(inv) if platforms else {}  # one CA: every VM zip trusts the others
        for platform in platforms:
            path = out / artifacts.vm_zip(platform.arch)
            written.append(build_vm_package(inv, path, platform, tls, dependencies))
    images = cloud.images(inv, out, dependencies)
    if report is not None:
        for path in written:  # archives, and templates such as Databricks' job entry point
            unzipped = f", {unzipped_size(path):,} unzipped" if zipfile.is_zipfile(path) else ""
            report(f"{path}  ({path.stat().st_size:,} bytes{unzipped})")
        for name, image in images.items():
            report(f"{out / image['context']}/  (image {name}, tag {image['tag']})")
    path = out / artifacts.MANIFEST
    path.write_text(json.dumps(manifest(inv, out, cloud, images), indent=2, sort_keys=True) + "\n")
    if report is not None:
        report(f"{path}  (digest {json.loads(path.read_text())['digest']})")
    return [*written, path]


JOB_ENTRY = '''\
"""Entry point of a Glacier cluster job, generated by `glacier package`."""

import sys

from glacier.deployed import run_job

if __name__ == "__main__":
    sys.exit(run_job(sys.argv[1:]))
'''
"""What a cluster job runs (``artifacts.JOB_SCRIPT``): the event URI in, the outcome written."""


VM_PACKAGES = {
    "distributed": "distributed>=2024.8",
    "dask": "dask>=2024.8",
    "cloudpickle": "cloudpickle>=3",
}
"""What a VM adds to the runtime packages: the Dask scheduler and worker, and the cloudpickle
Dask sends tasks with (pinned to the laptop's, whose client pickles them)."""


def vm_certificates(inv: Inventory) -> dict[str, bytes]:
    """The TLS files of one ``glacier package`` run (:mod:`glacier.infra.tls`), made once and put
    in every VM zip: VMs of two architectures boot from two zips, and the scheduler and workers
    only trust each other if both zips hold the same CA."""
    from glacier.infra.tls import cluster_certificates  # noqa: PLC0415 - lazy: cryptography is only needed for VMs

    return cluster_certificates(inv.pipeline)


def build_vm_package(
    inv: Inventory,
    path: Path,
    platform: VmPlatform,
    tls: Mapping[str, bytes],
    dependencies: bool,
) -> Path:
    """The one archive a VM boots from, so it needs no registry and no internet:

    ``src/`` (the pipeline's modules and Glacier, put on ``PYTHONPATH``), ``wheels/`` (the
    runtime packages and Dask, for the VM's platform), ``requirements.txt`` and ``tls/`` (the
    package run's certificates, :func:`vm_certificates`).
    """
    requirements = [*runtime_requirements(), *_pins(VM_PACKAGES)]
    files: Files = {f"src/{name}": source for name, source in code_files(inv).items()}
    files.update(tls)
    files["requirements.txt"] = ("\n".join(requirements) + "\n").encode()
    with tempfile.TemporaryDirectory() as tmp:
        if dependencies:
            pip_download(requirements, Path(tmp), platform)
            files.update({f"wheels/{w.name}": w.read_bytes() for w in sorted(Path(tmp).glob("*"))})
        write_zip(path, files)
    return path


MANIFEST_FORMAT = 1


def manifest(
    inv: Inventory, out: Path, cloud: FunctionPackaging, images: Mapping[str, Any]
) -> dict[str, Any]:
    """What ``build/manifest.json`` says about the packages built into ``out``: plain data only.

    Environments hold what every deployment of the package shares; bucket real names and the
    cloud's placement (region, project...) are Terraform's, so they are not here. A function's
    layers are listed when they are built (``--no-deps`` builds none); ``images`` are the
    cloud's cluster images (:attr:`FunctionPackaging.images`), whose tags Terraform deploys.
    """
    digest = code_digest(inv)
    functions = {}
    for ex in inv.of_kind(ExecutorKind.SERVERLESS):
        assert isinstance(ex.config, ServerlessConfig)
        functions[ex.name] = {
            "package": artifacts.code_zip(ex.name),
            "memory": ex.config.memory,
            "timeout": ex.config.timeout,
            "layers": [layer for layer in cloud.layers(ex) if (out / layer).is_file()],
            "environment": executor_env(inv, ex, digest),
        }
    vms = {}
    if cloud.vm_platform is not None:
        for ex in inv.of_kind(ExecutorKind.VM):
            vms[ex.name] = {
                "package": artifacts.vm_zip(cloud.vm_platform(ex).arch),
                "environment": executor_env(inv, ex, digest),
            }
    clusters = {
        ex.name: {
            "package": artifacts.cluster_zip(ex.name),
            "entry_point": artifacts.JOB_SCRIPT,
            "environment": executor_env(inv, ex, digest),
        }
        for ex in inv.of_kind(ExecutorKind.CLUSTER)
    }
    return {
        "format": MANIFEST_FORMAT,
        "glacier": version.__version__,
        "cloud": inv.cloud.value,
        "pipeline": inv.pipeline,
        "module": inv.package_module,
        "digest": digest,
        "staging_bucket": inv.staging_bucket,
        "buckets": [b.name for b in inv.buckets],
        "functions": functions,
        "vms": vms,
        "clusters": clusters,
        "images": dict(images),
    }


def code_digest(inv: Inventory) -> str:
    """``sha256:<hex>`` of exactly the code every package of ``inv`` carries (:func:`code_files`):
    the pipeline's modules and Glacier, by archive name and bytes.

    The same code gives the same digest on the laptop and in the deployed package, so a runner
    can refuse to send tasks to a deployment of other code before anything runs.
    """
    digest = hashlib.sha256()
    for name, source in sorted(code_files(inv).items()):
        for part in (name.encode(), _bytes(source)):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return f"sha256:{digest.hexdigest()}"


def code_files(inv: Inventory) -> Files:
    """Archive name -> source: the pipeline's module (or its top package) and Glacier."""
    files: Files = {}
    if inv.source_file is None:
        raise PackageError(
            f"Pipeline {inv.pipeline!r}: cannot find the source file of module {inv.module!r}. "
            f"Define the pipeline in a .py file to package it."
        )
    source = Path(inv.source_file)
    parts = inv.package_module.split(".")
    if len(parts) == 1:
        files[f"{parts[0]}.py"] = source
    else:
        root = source.parents[len(parts) - 2]
        files.update(_tree(root, root.name))
    glacier_dir = Path(version.__file__).parent
    files.update(_tree(glacier_dir, "glacier"))
    return files


def build_wheel(inv: Inventory, path: Path, distribution: str, version_: str) -> Path:
    """A pure-Python wheel of :func:`code_files` (the pipeline and Glacier), requiring the
    runtime packages: what a platform that installs libraries with pip (Databricks) takes.

    Written by hand (the format is a zip with a ``.dist-info``), so no build backend is needed;
    ``RECORD`` holds every file's hash, as pip expects.
    """
    files = {name: _bytes(source) for name, source in code_files(inv).items()}
    info = f"{distribution}-{version_}.dist-info"
    requires = "".join(f"Requires-Dist: {r}\n" for r in runtime_requirements())
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version_}\n"
        f"Summary: Glacier pipeline {inv.pipeline} ({inv.package_module}), as deployed\n"
        f"{requires}"
    ).encode()
    files[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: glacier {version.__version__}\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n"
    ).encode()
    record = [f"{name},sha256={_record_hash(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*sorted(record), f"{info}/RECORD,,"]) + "\n").encode()
    write_zip(path, files)
    return path


def _bytes(source: Path | bytes) -> bytes:
    return source.read_bytes() if isinstance(source, Path) else source


def _record_hash(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _tree(directory: Path, prefix: str) -> Files:
    return {
        f"{prefix}/{p.relative_to(directory).as_posix()}": p
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts and p.suffix in (".py", ".typed")
    }


RUNTIME_PACKAGES = {"polars": "polars>=2", "obstore": "obstore>=0.12"}
"""What a deployed task imports besides Glacier and the pipeline: frames and object storage.
Deployed executors import tasks by name, so no cloudpickle (Dask brings its own to VMs)."""


def runtime_requirements() -> list[str]:
    """The cloud gets the versions the pipeline was developed and tested with, where installed."""
    return _pins(RUNTIME_PACKAGES)


def _pins(packages: Mapping[str, str]) -> list[str]:
    pins = []
    for name, fallback in packages.items():
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pins.append(fallback)
    return pins


def requirements_txt(*extra: str) -> bytes:
    """``requirements.txt``: the runtime pins, then ``extra``."""
    return ("\n".join([*runtime_requirements(), *extra]) + "\n").encode()


def tree_bytes(directory: Path, prefix: str) -> Files:
    return {
        f"{prefix}/{p.relative_to(directory).as_posix()}": p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def platform_tags(arch: str, glibc: tuple[int, int] = DEFAULT_GLIBC) -> list[str]:
    """Every manylinux tag a Linux with ``glibc`` runs, newest first (as lambda-builders does).

    A wheel is tagged with the oldest glibc it needs, so asking for one tag (2_28) misses a
    package that ships only 2_17 or 2_24 wheels; pip picks the best of all the tags given.
    """
    machine = MACHINES[arch]
    major, minor = glibc
    tags = [f"manylinux_{major}_{m}_{machine}" for m in range(minor, 4, -1)]
    tags += [f"{name}_{machine}" for name, m in _LEGACY_MANYLINUX.items() if m <= minor]
    return tags


def pip_install(
    requirements: Iterable[str],
    target: Path,
    arch: str,
    python: str = "3.12",
    glibc: tuple[int, int] = DEFAULT_GLIBC,
) -> None:
    """Install wheels for Linux ``arch``, its ``glibc`` and CPython ``python`` into ``target``.

    No Docker: pip downloads the wheels built for that platform, never builds from source.
    """
    _pip(["install", "--no-compile", "--target", str(target)], requirements, arch, python, glibc)


def pip_download(requirements: Iterable[str], target: Path, platform: VmPlatform) -> None:
    """Download the wheels of ``requirements`` (and their dependencies) for ``platform``."""
    action = ["download", "--dest", str(target)]
    _pip(action, requirements, platform.arch, platform.python, platform.glibc)


def _pip(
    action: list[str],
    requirements: Iterable[str],
    arch: str,
    python: str,
    glibc: tuple[int, int],
) -> None:
    requirements = list(requirements)
    tags = platform_tags(arch, glibc)
    command = [
        sys.executable, "-m", "pip", action[0], "--quiet", *action[1:],
        *(arg for tag in tags for arg in ("--platform", tag)),
        "--only-binary=:all:",
        "--python-version", python,
        "--implementation", "cp",
        *requirements,
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode == 0:
        return
    where = f"Linux {arch} (glibc {major_minor(glibc)}) / CPython {python}"
    missing = _NO_MATCH.search(done.stderr)
    if missing:
        raise PackageError(
            f"No wheel of {missing.group(1)} exists for {where}: pip found none tagged "
            f"{tags[0]} ... {tags[-1]}. Pin a version of {missing.group(1)} that publishes "
            f"manylinux wheels for {MACHINES[arch]}, or drop it from the task's imports."
        )
    raise PackageError(
        f"pip could not download {' '.join(requirements)} for {where}: "
        f"{done.stderr.strip()[-2000:]}. Check network access to PyPI."
    )


def major_minor(version: tuple[int, int]) -> str:
    return ".".join(map(str, version))


def write_zip(path: Path, files: Mapping[str, Path | bytes]) -> None:
    """A reproducible zip: sorted names, fixed timestamps and permissions."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for name in sorted(files):
            data = _bytes(files[name])
            info = zipfile.ZipInfo(name, _FIXED_TIME)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)


def unzipped_size(path: Path) -> int:
    with zipfile.ZipFile(path) as zf:
        return sum(info.file_size for info in zf.infolist())
