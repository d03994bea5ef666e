"""The AWS output of every shipped example validates, applies against moto, and destroys.

``terraform init`` installs ``hashicorp/aws`` from the filesystem mirror on the machine (the only
provider plugin to be had offline); an override file points every endpoint at the moto server on
127.0.0.1 and skips the credential checks. Resources moto does not implement are listed with
moto's error; every other planned resource must be created, and destroyed again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest

from glacier.core.kinds import ExecutorKind
from glacier.infra import artifacts
from glacier.infra.inventory import build_inventory
from glacier.infra.package import build_packages, code_digest
from glacier.infra.terraform import render, write
from glacier.infra.terraform.base import executor_env
from glacier.loader import load_pipeline
from tests.cloud.servers import S3Server
from tests.infra.test_terraform_validation import terraform_binary

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ("simple", "cloud_agnostic", "heterogeneous")
UNSUPPORTED = {
    "aws_emrserverless_application": "ValidationException: Unsupported engine spark",
    # moto answers HTTP 500 "NotImplementedError: Monitoring.monitor_instances is not yet
    # implemented" (in its log) when the provider turns on detailed monitoring
    "aws_instance": "operation error EC2: MonitorInstances",
}
"""Resource type -> the error Terraform reports for what moto (5.2) cannot create."""
PREFIXES = {"simple": "simple-one", "cloud_agnostic": "agnostic-one", "heterogeneous": "hetero-one"}
SECOND = ("cloud_agnostic", "agnostic-two")
"""cloud_agnostic again, in the same moto account, under another name prefix."""
SERVICES = ("ec2", "ecr", "emrserverless", "iam", "kms", "lambda", "logs", "s3", "sts")
MIRRORS = ("/opt/tf-plugins", "~/.terraform.d/plugins", "/usr/share/terraform/plugins")
_ZIP = re.compile(r'"\$\{path\.module\}/(build/[\w.-]+\.zip)"')
_SUBMIT = re.compile(r"^\s*(\w+_spark_submit_parameters)\s*=", re.MULTILINE)
"""The locals holding each EMR Serverless executor's ``sparkSubmitParameters``."""

pytestmark = [pytest.mark.cloud, pytest.mark.slow]


def plugin_dir() -> Path:
    """The filesystem mirror holding ``hashicorp/aws`` (GLACIER_TF_PLUGIN_DIR, else the usual)."""
    roots = [os.environ.get("GLACIER_TF_PLUGIN_DIR", ""), *MIRRORS]
    for root in (Path(r).expanduser() for r in roots if r):
        pattern = "registry.terraform.io/hashicorp/aws/*/*/terraform-provider-aws*"
        if root.is_dir() and any(root.glob(pattern)):
            return root
    pytest.skip(
        f"no hashicorp/aws provider mirror in {', '.join(MIRRORS)}: set GLACIER_TF_PLUGIN_DIR "
        f"to a directory holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/"
    )


def override(endpoint: str) -> str:
    """The provider settings that aim the generated code at moto instead of AWS."""
    lines = [
        'provider "aws" {',
        '  access_key                  = "testing"',
        '  secret_key                  = "testing"',
        "  skip_credentials_validation = true",
        "  skip_requesting_account_id  = true",
        "  skip_metadata_api_check     = true",
        "  s3_use_path_style           = true",
        "  max_retries                 = 1",
        "  endpoints {",
        *(f'    {service} = "{endpoint}"' for service in SERVICES),
        "  }",
        "}",
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Workspace:
    example: str
    directory: Path
    variables: dict[str, str]

    def run(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"}
        done = subprocess.run(
            [terraform_binary(), *args, "-no-color"],
            cwd=self.directory,
            capture_output=True,
            text=True,
            check=False,
            env=env,
            input=stdin,
        )
        if check:
            assert done.returncode == 0, f"{self.example}: terraform {args[0]}\n{done.stderr}"
        return done

    def var_args(self) -> list[str]:
        return [f"-var={name}={value}" for name, value in self.variables.items()]


def workspace(root: Path, example: str, endpoint: str, name_prefix: str) -> Workspace:
    """The example's AWS Terraform, its packages and manifest (``glacier package --no-deps``;
    placeholders for the layers it skips: moto runs no code) and the override."""
    directory = root / f"{example}-{name_prefix}"
    inv = build_inventory(load_pipeline(str(ROOT / "examples" / f"{example}_pipeline.py")), "aws")
    write(render(inv), directory)
    build_packages(inv, directory, dependencies=False)
    code = "".join(tf.read_text() for tf in directory.glob("*.tf"))
    for path in sorted(set(_ZIP.findall(code)) - {p.as_posix() for p in _built(directory)}):
        with zipfile.ZipFile(directory / path, "w") as zf:
            zf.writestr("python/placeholder.py", "")
    (directory / "moto_override.tf").write_text(override(endpoint))
    variables = {"name_prefix": name_prefix, **_network(code, endpoint)}
    if 'variable "build_cluster_images"' in code:
        variables["build_cluster_images"] = "false"  # no Docker here, and moto runs no image
    ws = Workspace(example, directory, variables)
    ws.run("init", "-backend=false", f"-plugin-dir={plugin_dir()}", "-input=false")
    return ws


def _built(directory: Path) -> list[Path]:
    return [p.relative_to(directory) for p in (directory / artifacts.BUILD_DIR).glob("*.zip")]


def _network(code: str, endpoint: str) -> dict[str, str]:
    """VM examples need a VPC and subnet: moto's default ones."""
    if 'variable "vpc_id"' not in code:
        return {}
    ec2 = boto3.client(
        "ec2",
        endpoint_url=endpoint,
        region_name=S3Server.region,
        aws_access_key_id=S3Server.access_key,
        aws_secret_access_key=S3Server.access_key,
    )
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])
    return {
        "vpc_id": vpc["VpcId"],
        "subnet_id": subnet["Subnets"][0]["SubnetId"],
        "scheduler_cidr": vpc["CidrBlock"],
    }


def _console(ws: Workspace, expression: str) -> object:
    """The value of ``expression`` in the workspace's state (``terraform console``; its last
    line, after any warning about the CLI configuration)."""
    done = ws.run("console", *ws.var_args(), stdin=f"jsonencode({expression})\n")
    return json.loads(json.loads(done.stdout.strip().splitlines()[-1]))


@dataclass(frozen=True)
class Applied:
    planned: set[str]
    created: set[str]
    errors: dict[str, str]
    """Resource address -> the error its creation failed with."""
    destroyed: int
    left: set[str]
    outputs: dict[str, object]
    """``terraform output -json`` after the apply: output name -> value."""
    environments: dict[str, dict[str, str]]
    """Lambda function address -> the environment the plan gives it."""
    submit_parameters: dict[str, object]
    """EMR Serverless executor's local -> its ``sparkSubmitParameters`` after the apply (the
    ``clusters`` output is not stored: moto refuses the application it names)."""


def apply_and_destroy(ws: Workspace) -> Applied:
    ws.run("plan", "-input=false", "-out=tfplan", *ws.var_args())
    plan = json.loads(ws.run("show", "-json", "tfplan").stdout)
    planned = {
        r["address"] for r in plan["resource_changes"] if r["change"]["actions"] == ["create"]
    }
    environments = {
        r["address"]: r["change"]["after"]["environment"][0]["variables"]
        for r in plan["resource_changes"]
        if r["type"] == "aws_lambda_function"
    }
    done = ws.run("apply", "-input=false", "-json", "tfplan", check=False)
    errors = {}
    for line in done.stdout.splitlines():
        message = json.loads(line)
        diagnostic = message.get("diagnostic", {})
        if message.get("type") == "diagnostic" and diagnostic.get("severity") == "error":
            errors[diagnostic.get("address", "?")] = diagnostic["summary"] + diagnostic["detail"]
    state = json.loads(ws.run("show", "-json").stdout)
    resources = state.get("values", {}).get("root_module", {}).get("resources", [])
    created = {r["address"] for r in resources if r["mode"] == "managed" and not r.get("tainted")}
    outputs = {k: v["value"] for k, v in json.loads(ws.run("output", "-json").stdout).items()}
    code = "".join(tf.read_text() for tf in ws.directory.glob("*.tf"))
    submit = {name: _console(ws, f"local.{name}") for name in _SUBMIT.findall(code)}
    destroy = ws.run("destroy", "-auto-approve", "-input=false", *ws.var_args())
    count = re.search(r"Resources: (\d+) destroyed", destroy.stdout)
    left = set(ws.run("state", "list", check=False).stdout.split())
    destroyed = int(count.group(1)) if count else 0
    return Applied(planned, created, errors, destroyed, left, outputs, environments, submit)


@pytest.fixture(scope="module")
def applied(
    s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[tuple[str, str], Applied]]:
    """Each example applied and destroyed, and cloud_agnostic twice in the same moto account
    under two name prefixes at once; in parallel, as each apply mostly waits on the provider."""
    root = tmp_path_factory.mktemp("apply")
    runs = [*((example, PREFIXES[example]) for example in EXAMPLES), SECOND]
    spaces = [workspace(root, example, s3_server.endpoint, prefix) for example, prefix in runs]
    with ThreadPoolExecutor(max_workers=len(spaces)) as pool:
        results = list(pool.map(apply_and_destroy, spaces))
    yield {
        (ws.example, ws.variables["name_prefix"]): r for ws, r in zip(spaces, results, strict=True)
    }
    shutil.rmtree(root, ignore_errors=True)


@pytest.mark.parametrize("example", EXAMPLES)
def test_the_aws_output_validates(example: str, s3_server: S3Server, tmp_path: Path) -> None:
    ws = workspace(tmp_path, example, s3_server.endpoint, "validate-only")
    assert "Success! The configuration is valid." in ws.run("validate").stdout


def test_every_resource_moto_implements_is_created_then_destroyed(
    applied: dict[tuple[str, str], Applied],
) -> None:
    for (example, prefix), result in applied.items():
        failed = result.planned - result.created
        assert {a.split(".")[0] for a in failed} <= UNSUPPORTED.keys(), (example, result.errors)
        # each failure is moto's, or a resource never tried because one it needs failed (a VM
        # worker needs the scheduler's address)
        assert set(result.errors) <= failed, (example, result.errors)
        for address, error in result.errors.items():
            assert UNSUPPORTED[address.split(".")[0]] in error, address
        assert {a.split(".")[0] for a in failed} == {a.split(".")[0] for a in result.errors}
        assert result.left == set(), (example, prefix)
        assert result.destroyed >= len(result.created), (example, prefix)
        print(  # the counts the closing note quotes (pytest -s)
            f"{example} ({prefix}): planned {len(result.planned)}, created "
            f"{len(result.created)}, destroyed {result.destroyed}, failed {sorted(failed)}"
        )
    assert len(applied[("cloud_agnostic", PREFIXES["cloud_agnostic"])].created) >= 30


def test_two_name_prefixes_coexist_in_one_account(
    applied: dict[tuple[str, str], Applied],
) -> None:
    one = applied[("cloud_agnostic", PREFIXES["cloud_agnostic"])]
    two = applied[SECOND]
    assert one.created == two.created  # the second deployment collided with nothing
    assert any(a.startswith("aws_s3_bucket.") for a in two.created)


def test_the_outputs_and_functions_carry_the_packaged_digest(
    applied: dict[tuple[str, str], Applied],
) -> None:
    """What a runner checks before a cloud run: the digest of the code it would send."""
    for (example, _), result in applied.items():
        module = f"{example}_pipeline"
        inv = build_inventory(load_pipeline(str(ROOT / "examples" / f"{module}.py")), "aws")
        assert result.outputs["pipeline"] == {"name": inv.pipeline, "module": module}
        if not inv.deployed:  # nothing packaged: the digest is null, which outputs omit
            assert "package_digest" not in result.outputs, example
            continue
        digest = code_digest(inv)
        assert result.outputs["package_digest"] == digest, example
        assert result.environments, example
        for variables in result.environments.values():
            assert variables["GLACIER_CODE_DIGEST"] == digest
            assert variables["GLACIER_MODULE"] == module


def test_packaging_again_changes_the_digest_without_regenerating(
    s3_server: S3Server, tmp_path: Path
) -> None:
    """Terraform reads build/manifest.json when it plans, not when Glacier renders it."""
    ws = workspace(tmp_path, "cloud_agnostic", s3_server.endpoint, "repackaged")
    manifest = ws.directory / artifacts.MANIFEST
    edited = {**json.loads(manifest.read_text()), "digest": "sha256:" + "0" * 64}
    manifest.write_text(json.dumps(edited))
    done = subprocess.run(
        [terraform_binary(), "console", "-no-color", *ws.var_args()],
        input="local.glacier_manifest.digest\n",
        cwd=ws.directory,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f'"sha256:{"0" * 64}"'


def spark_env(parameters: str) -> dict[str, dict[str, str]]:
    """``--conf K=V`` pairs of a ``sparkSubmitParameters``, split at spaces as EMR Serverless
    splits them: Spark property prefix (driver's or executors' environment) -> variables."""
    tokens = parameters.split(" ")
    assert tokens[::2] == ["--conf"] * (len(tokens) // 2) and len(tokens) % 2 == 0, parameters
    out: dict[str, dict[str, str]] = {}
    for setting in tokens[1::2]:
        key, value = setting.split("=", 1)
        prefix, variable = key.rsplit(".", 1)
        out.setdefault(prefix + ".", {})[variable] = value
    return out


def test_the_emr_job_gets_the_deployed_environment_with_real_bucket_names(
    applied: dict[tuple[str, str], Applied],
) -> None:
    """What a job's driver and executors see: the manifest's variables, the region, the real
    bucket names under this name prefix, the image's Python; no secret, no machine-local
    setting."""
    prefix = PREFIXES["cloud_agnostic"]
    result = applied[("cloud_agnostic", prefix)]
    inv = build_inventory(
        load_pipeline(str(ROOT / "examples" / "cloud_agnostic_pipeline.py")), "aws"
    )
    (cluster,) = inv.of_kind(ExecutorKind.CLUSTER)
    used = sorted({*cluster.reads, *cluster.writes})
    expected = {
        **executor_env(inv, cluster, code_digest(inv)),
        "AWS_REGION": S3Server.region,
        "GLACIER_STAGING_BUCKET": f"{prefix}-glacier-staging",
        "GLACIER_BUCKETS": json.dumps({b: f"{prefix}-{b}" for b in used}, separators=(",", ":")),
        "PYSPARK_PYTHON": "/usr/bin/python3.11",
        "PYSPARK_DRIVER_PYTHON": "/usr/bin/python3.11",
    }
    parameters = result.submit_parameters[f"{cluster.tf_name}_spark_submit_parameters"]
    assert isinstance(parameters, str)
    assert spark_env(parameters) == {
        "spark.emr-serverless.driverEnv.": expected,
        "spark.executorEnv.": expected,
    }


def test_the_emr_image_repository_is_created_and_its_push_switched_off(
    applied: dict[tuple[str, str], Applied],
) -> None:
    result = applied[("cloud_agnostic", PREFIXES["cloud_agnostic"])]
    assert {
        "aws_ecr_repository.emr",
        "aws_ecr_repository_policy.emr",
        "aws_ecr_lifecycle_policy.emr",
        "aws_s3_object.emr_job_entry_point",
    } <= result.created
    assert not any(a.startswith("terraform_data.") for a in result.planned)  # no docker here
