"""`glacier package` on AWS: the function zip, the Lambda size check, the Polars layer."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import obstore
import polars as pl
import pytest
from glacier.runtime.cloud import event_for, outcome_of

from glacier import Provider
from glacier.clouds.aws.package import (
    LAMBDA_GLIBC,
    LAMBDA_UNZIPPED_LIMIT,
    build_layer,
    check_lambda_size,
)
from glacier.config import AwsConfig
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
from glacier.runtime.invocation import BucketRef, ProviderRef, decode_outcome, encode
from glacier.runtime.worker import Step
from tests._cli_support import EXAMPLES
from tests.cloud.fixtures import new_bucket
from tests.cloud.servers import S3Server
from tests.infra.pipelines import PROVIDERS, portable
from tests.infra.test_package import names
from tests.runtime.invocations import invocation


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
import glacier_handler
from glacier.runtime.cloud import BadEvent
try:
    glacier_handler.handler({"body": "hello"}, None)
except BadEvent as exc:
    print("REFUSED", exc)
print("REPLY", json.dumps(glacier_handler.handler(json.loads(sys.argv[1]), None)))
"""


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.cloud
def test_the_function_zip_runs_in_a_clean_environment_with_only_its_dependencies(
    tmp_path: Path, s3_server: S3Server
) -> None:
    """Unzip the package into a venv holding only the layer's requirements; call the handler."""
    example = load_pipeline(str(EXAMPLES / "cloud_agnostic_pipeline.py"))
    (code,) = [p for p in build(example, tmp_path / "out", "aws", dependencies=False)]
    task = tmp_path / "task"
    with zipfile.ZipFile(code) as zf:
        zf.extractall(task)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    pip = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, *runtime_requirements()], check=True, capture_output=True)
    staging = new_bucket(s3_server, "fn-staging").name
    environment = {  # what the generated Terraform sets, and what Lambda itself adds
        "PATH": os.environ["PATH"],
        "GLACIER_PROVIDER": "aws",
        "GLACIER_PIPELINE": "store_revenue",
        "GLACIER_MODULE": "cloud_agnostic_pipeline",
        "GLACIER_EXECUTOR": "serverless",
        "GLACIER_STAGING_BUCKET": staging,
        "GLACIER_BUCKETS": json.dumps({"glacier-staging": staging}),
        "AWS_REGION": s3_server.region,
        "AWS_ENDPOINT_URL": s3_server.endpoint,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.access_key,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    runner = Provider(config=AwsConfig(profile="laptop-only"))
    step = Step(node="frame", fn=pl.DataFrame, args=({"x": [1, 2, 3]},))
    sent = invocation(runner, step, "runs/r/frame.parquet")
    staged_in = BucketRef(ProviderRef.of(runner), runner.staging_bucket, "runs/r/frame.parquet")
    event = event_for(encode(dataclasses.replace(sent, output=staged_in)))
    event_json = json.dumps(event)
    done = subprocess.run(
        [python, "-E", "-s", "-c", HANDLER_CHECK, event_json],  # cwd first, as /var/task
        cwd=task,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    refused, reply = done.stdout.splitlines()[-2:]
    assert refused.startswith("REFUSED The event has no 'invocation' string")
    outcome = decode_outcome(outcome_of(json.loads(reply.removeprefix("REPLY "))), runner)
    assert outcome.ok, outcome.traceback
    staged = s3_server.store(staging)
    data = bytes(obstore.get(staged, "runs/r/frame.parquet").bytes())
    assert pl.read_parquet(io.BytesIO(data))["x"].to_list() == [1, 2, 3]
