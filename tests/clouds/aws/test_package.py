"""`glacier package` on AWS: the function zip, the Lambda size check, the Polars layer."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from glacier.clouds.aws import emr_image
from glacier.clouds.aws.package import (
    LAMBDA_GLIBC,
    LAMBDA_UNZIPPED_LIMIT,
    build_layer,
    check_lambda_size,
)
from glacier.infra import artifacts
from glacier.infra.package import (
    PackageError,
    build,
    pip_install,
    platform_tags,
    runtime_requirements,
    write_zip,
)
from glacier.loader import load_pipeline
from tests._cli_support import EXAMPLES
from tests.infra.deployed import blocks, environment, parsed
from tests.infra.handlers import assert_refuses_other_code, call, other_code_event, unpack
from tests.infra.pipelines import PROVIDERS, portable
from tests.infra.test_package import names


def test_aws_zip_holds_the_pipeline_module_glacier_and_the_handler(tmp_path: Path) -> None:
    written = build(portable(PROVIDERS["aws"]), tmp_path, dependencies=False)
    assert [p.relative_to(tmp_path).as_posix() for p in written] == [
        artifacts.code_zip("join"),
        artifacts.code_zip("parse"),
        artifacts.vm_zip("arm64"),
        artifacts.MANIFEST,
    ]
    content = names(written[0])
    assert {
        "tests/infra/pipelines.py",
        "glacier_handler.py",
        "glacier/__init__.py",
        "glacier/py.typed",
    } <= content
    assert "glacier/infra/package.py" in content
    assert not any("__pycache__" in n for n in content)


def test_the_vm_package_holds_what_a_vm_boots_from(tmp_path: Path) -> None:
    """Glacier and the pipeline on PYTHONPATH, Dask in the requirements, the cluster's TLS."""
    (vm,) = [p for p in build(portable(PROVIDERS["aws"]), tmp_path, dependencies=False)
             if p.name.startswith("vm-")]  # fmt: skip
    content = names(vm)
    assert {"src/tests/infra/pipelines.py", "src/glacier/__init__.py"} <= content
    assert {"tls/ca.pem", "tls/node.pem", "tls/node.key"} <= content
    with zipfile.ZipFile(vm) as zf:
        requirements = zf.read("requirements.txt").decode().split()
    assert {r.split("==")[0] for r in requirements} >= {"polars", "obstore", "distributed"}


@pytest.mark.network
@pytest.mark.slow
def test_the_vm_package_has_wheels_for_amazon_linux_python_311(tmp_path: Path) -> None:
    (vm,) = [p for p in build(portable(PROVIDERS["aws"]), tmp_path) if p.name.startswith("vm-")]
    wheels = [n for n in names(vm) if n.startswith("wheels/")]
    assert any(n.startswith("wheels/polars-") for n in wheels)
    assert any(n.startswith("wheels/polars_runtime") and "aarch64" in n for n in wheels)
    assert any(n.startswith("wheels/distributed-") for n in wheels)
    assert not any(n.endswith(".tar.gz") for n in wheels)  # nothing to build on the VM


def test_lambda_size_check_refuses_packages_over_the_limit(tmp_path: Path) -> None:
    code, layer = tmp_path / "code.zip", tmp_path / "layer.zip"
    write_zip(code, {"a.py": b"x" * 600})
    write_zip(layer, {"python/b.so": b"\0" * 500})
    assert check_lambda_size(code, [layer], limit=1100) == 1100
    with pytest.raises(PackageError, match=r"1,100 bytes unzipped.*allows 1,000"):
        check_lambda_size(code, [layer], limit=1000)
    assert LAMBDA_UNZIPPED_LIMIT == 262_144_000


def test_wheels_of_every_manylinux_tag_lambdas_glibc_runs_are_accepted() -> None:
    tags = platform_tags("arm64", LAMBDA_GLIBC)
    # obstore ships only manylinux_2_24_aarch64 / manylinux_2_17_x86_64 wheels
    assert {"manylinux_2_34_aarch64", "manylinux_2_24_aarch64", "manylinux_2_17_aarch64"} <= {*tags}
    assert "manylinux2014_aarch64" in tags
    assert not any(t.startswith("manylinux_2_35") for t in tags)
    assert "manylinux_2_17_x86_64" in platform_tags("x86_64", LAMBDA_GLIBC)


@pytest.mark.network
def test_a_package_without_a_wheel_for_the_platform_is_named(tmp_path: Path) -> None:
    with pytest.raises(PackageError, match=r"No wheel of polars==0\.0\.1 exists for Linux arm64"):
        pip_install(["polars==0.0.1"], tmp_path, "arm64", glibc=LAMBDA_GLIBC)


@pytest.mark.network
@pytest.mark.slow
def test_polars_layer_for_arm64_fits_lambda(tmp_path: Path) -> None:
    """Downloads Polars, cloudpickle and obstore for Lambda's arm64 (~50 MB) from PyPI."""
    layer = build_layer(tmp_path / "layer.zip", "arm64")
    content = names(layer)
    assert "python/polars/__init__.py" in content
    assert f"python/polars-{metadata.version('polars')}.dist-info/METADATA" in content
    assert f"python/obstore-{metadata.version('obstore')}.dist-info/METADATA" in content
    assert any(n.endswith(".so") for n in content)
    code = tmp_path / "code.zip"
    write_zip(code, {"glacier_handler.py": b"def handler(e, c): pass\n"})
    assert check_lambda_size(code, [layer]) < LAMBDA_UNZIPPED_LIMIT


HANDLER_CHECK = """
import json, sys
import glacier, glacier_handler
from glacier.deployed import BadEvent
try:
    glacier_handler.handler({"body": "hello"}, None)
    refused = None
except BadEvent as exc:
    refused = str(exc)
reply = glacier_handler.handler(json.loads(sys.argv[1]), None)
print(json.dumps({"glacier": glacier.__file__, "refused": refused, "reply": reply}))
"""


def _lambda(tmp_path: Path) -> tuple[Path, dict[str, str], str]:
    """The example's function unzipped, the environment its Terraform and Lambda give it, and
    the digest its manifest says."""
    example = load_pipeline(str(EXAMPLES / "cloud_agnostic_pipeline.py"))
    build(example, tmp_path / "out", "aws", dependencies=False)
    digest = json.loads((tmp_path / "out" / artifacts.MANIFEST).read_text())["digest"]
    (fn,) = blocks(parsed(example, "aws"), "resource", "aws_lambda_function").values()
    known = {"local.glacier_manifest.digest": digest}
    env = environment(fn["environment"][0]["variables"], known)
    code = unpack(tmp_path / "out" / artifacts.code_zip("serverless"), tmp_path / "task")
    return code, {**env, "AWS_REGION": "eu-west-1"}, digest


def test_the_handler_answers_from_the_package_with_only_the_function_environment(
    tmp_path: Path,
) -> None:
    """The generated handler calls glacier.deployed.handle_event: an event for other code is
    answered with a JSON outcome naming the manifest's digest, a non-event is BadEvent."""
    code, env, digest = _lambda(tmp_path)
    assert env["GLACIER_CODE_DIGEST"] == digest
    seen = call(HANDLER_CHECK, code, env, other_code_event("store_revenue", "x"))
    assert seen["refused"].startswith("The event is not a Glacier invocation")
    assert_refuses_other_code(seen["reply"], digest)


@pytest.mark.network
@pytest.mark.slow
def test_the_function_zip_runs_in_a_clean_environment_with_only_its_dependencies(
    tmp_path: Path,
) -> None:
    """Only the layer's requirements (Polars, obstore: no cloudpickle) in a fresh venv."""
    code, env, digest = _lambda(tmp_path)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *runtime_requirements()], check=True, capture_output=True)
    seen = call(HANDLER_CHECK, code, env, other_code_event("store_revenue", "x"), python=python)
    assert_refuses_other_code(seen["reply"], digest)


def _emr_image(tmp_path: Path, example: str, dependencies: bool) -> tuple[Path, dict[str, Any]]:
    """``glacier package`` of an example with an EMR Serverless cluster: the image's build
    context and its manifest entry."""
    build(load_pipeline(str(EXAMPLES / example)), tmp_path, "aws", dependencies=dependencies)
    manifest = json.loads((tmp_path / artifacts.MANIFEST).read_text())
    image = manifest["images"][emr_image.MANIFEST_KEY]
    return tmp_path / image["context"], image


def test_the_emr_image_adds_python_311_and_installs_the_package_offline(tmp_path: Path) -> None:
    """The Dockerfile builds on EMR's own image for the application's CPU, installs Python
    3.11 from Amazon Linux's repositories and the package's wheels with no index, gives Spark
    that Python and hands the image back to EMR's user."""
    context, image = _emr_image(tmp_path, "cloud_agnostic_pipeline.py", dependencies=False)
    lines = (context / "Dockerfile").read_text().splitlines()
    steps = [line for line in lines if line and not line.startswith("#")]
    pipeline = load_pipeline(str(EXAMPLES / "cloud_agnostic_pipeline.py"))
    (app,) = blocks(parsed(pipeline, "aws"), "resource", "aws_emrserverless_application").values()
    arch = {"ARM64": "arm64", "X86_64": "amd64"}[app["architecture"].strip('"')]
    release = app["release_label"].strip('"')
    assert steps[0] == (
        f"FROM --platform=linux/{arch} public.ecr.aws/emr-serverless/spark/{release}:latest"
    )
    assert image["architecture"] == "arm64" == {"amd64": "x86_64"}.get(arch, arch)
    assert steps[1] == "USER root"
    assert "RUN dnf install -y python3.11 python3.11-pip && dnf clean all" in steps
    install = " ".join(lines[lines.index(next(s for s in lines if "pip install" in s)) :][:3])
    assert "/usr/bin/python3.11 -m pip install" in install
    assert "--no-index --find-links /opt/glacier/wheels" in install
    wanted = install.split("\\")[1].strip()  # the pipeline's wheel, pinned
    name, wanted_version = wanted.split("==")
    (wheel,) = (context / "wheels").glob(f"{name}-{wanted_version}-py3-none-any.whl")
    assert {"cloud_agnostic_pipeline.py", "glacier/deployed.py"} <= names(wheel)
    assert "ENV PYSPARK_PYTHON=/usr/bin/python3.11 PYSPARK_DRIVER_PYTHON=/usr/bin/python3.11" in (
        steps
    )
    assert steps[-1] == "USER hadoop:hadoop"
    assert "COPY wheels/ /opt/glacier/wheels/" in steps


def test_the_emr_image_tag_follows_the_package(tmp_path: Path) -> None:
    """The same package gives the same tag (an unchanged image is not pushed again); other
    code gives another, and the tag is one ECR accepts."""
    _, first = _emr_image(tmp_path / "a", "cloud_agnostic_pipeline.py", dependencies=False)
    _, again = _emr_image(tmp_path / "b", "cloud_agnostic_pipeline.py", dependencies=False)
    _, other = _emr_image(tmp_path / "c", "heterogeneous_pipeline.py", dependencies=False)
    assert first["tag"] == again["tag"] != other["tag"]
    assert re.fullmatch(r"[0-9a-f]{64}", first["tag"])


@pytest.mark.network
@pytest.mark.slow
def test_the_emr_image_wheels_install_offline_for_the_image(tmp_path: Path) -> None:
    """pip resolves the Dockerfile's install from the context's wheels alone, for the image's
    platform (Linux aarch64, glibc 2.34, CPython 3.11): the image build needs no index."""
    context, image = _emr_image(tmp_path, "cloud_agnostic_pipeline.py", dependencies=True)
    wheels = context / "wheels"
    assert any("aarch64" in w.name for w in wheels.glob("polars_runtime*.whl"))
    assert not list(wheels.glob("*.tar.gz"))
    dockerfile = (context / "Dockerfile").read_text()
    wanted = next(w for w in dockerfile.split() if w.startswith("glacier_pipeline_"))
    done = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-",
            "--no-index", "--find-links", str(wheels), "--target", str(tmp_path / "site"),
            *(a for tag in platform_tags("arm64", (2, 34)) for a in ("--platform", tag)),
            "--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp",
            wanted,
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    installed = {i["metadata"]["name"].lower() for i in json.loads(done.stdout)["install"]}
    assert {"polars", "obstore", wanted.split("==")[0].replace("_", "-")} <= {
        n.replace("_", "-") for n in installed
    }
    assert image["dependencies"] is True
