"""AWS Terraform: what the golden files in tests/infra/golden do not pin down."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import hcl2
import pytest

from glacier.clouds.aws import instances as aws
from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import render
from tests.infra.pipelines import PROVIDERS, heterogeneous, portable


def test_vm_sizes_are_the_smallest_that_fit() -> None:
    assert aws.instance_type(4, 16384) == "m7g.xlarge"
    assert aws.instance_type(1, 1024) == "c7g.medium"


def statements(policy_doc: dict[str, object]) -> list[dict[str, list[str]]]:
    return policy_doc["statement"]  # type: ignore[return-value]


def test_aws_roles_reach_exactly_their_buckets() -> None:
    inv = build_inventory(portable(PROVIDERS["aws"]))
    iam = hcl2.loads(render(inv)["iam.tf"])
    docs = {
        name.strip('"'): body
        for entry in iam["data"]
        for kind, named in entry.items()
        if kind == '"aws_iam_policy_document"'
        for name, body in named.items()
    }
    for ex in inv.deployed:
        found = {s["sid"].strip('"'): s for s in statements(docs[ex.tf_name])}
        actions = [a for s in found.values() for a in s["actions"]]
        resources = [r for s in found.values() for r in s["resources"]]
        assert not any("*" in a for a in actions)
        assert not any(r.strip('"') == "*" for r in resources)

        used = {*ex.reads, *ex.writes}
        assert buckets(found, "ReadBuckets", "WriteBuckets") == {
            inv.bucket(b).tf_name for b in used
        }
        assert buckets(found, "WriteObjects") == {inv.bucket(b).tf_name for b in ex.writes}
        assert buckets(found, "ReadObjects") == {
            inv.bucket(b).tf_name for b in used - set(ex.writes)
        }
        # a write reads back, deletes temporaries and replaced parts, and may be multipart
        assert found["WriteObjects"]["actions"] == [
            '"s3:DeleteObject"',
            '"s3:GetObject"',
            '"s3:PutObject"',
            '"s3:AbortMultipartUpload"',
        ]
        if "ReadObjects" in found:
            assert found["ReadObjects"]["actions"] == ['"s3:GetObject"']


def buckets(found: dict[str, dict[str, list[str]]], *sids: str) -> set[str]:
    """The Terraform names of the buckets the statements ``sids`` grant on."""
    return {
        re.search(r"aws_s3_bucket\.(\w+)\.arn", r).group(1)  # type: ignore[union-attr]
        for sid in sids
        if sid in found
        for r in found[sid]["resources"]
    }


def test_the_kms_key_lets_ebs_encrypt_vm_volumes() -> None:
    storage = render(build_inventory(heterogeneous("aws")))["storage.tf"]
    ebs = storage[storage.index('"EbsEncryptsVmVolumes"') :]
    ebs = ebs[: ebs.index("},\n      {") if "},\n      {" in ebs else len(ebs)]
    for action in ("kms:GenerateDataKeyWithoutPlaintext", "kms:CreateGrant", "kms:Decrypt"):
        assert f'"{action}"' in ebs
    assert "ec2.${var.region}.amazonaws.com" in ebs


def test_an_emr_job_reads_only_its_entry_point_and_emr_serverless_pulls_the_image() -> None:
    """The job role may read the one uploaded ``glacier_job.py``; the image is pulled by the
    EMR Serverless service, for this account's applications only, and only once pushed."""
    files = render(build_inventory(heterogeneous("aws")))
    iam = hcl2.loads(files["iam.tf"])
    (spark,) = (
        body
        for entry in iam["data"]
        for kind, named in entry.items()
        if kind == '"aws_iam_policy_document"'
        for name, body in named.items()
        if name == '"spark"'
    )
    found = {s["sid"].strip('"'): s for s in statements(spark)}
    assert found["ReadJobEntryPoint"]["actions"] == ['"s3:GetObject"']
    assert found["ReadJobEntryPoint"]["resources"] == [
        '"${aws_s3_bucket.artifacts.arn}/${aws_s3_object.emr_job_entry_point.key}"'
    ]
    clusters = files["clusters.tf"]
    policy = re.search(r'"aws_ecr_repository_policy" "emr" \{(.*?)\n\}', clusters, re.S)
    assert policy is not None
    assert 'Service = "emr-serverless.amazonaws.com"' in policy.group(1)
    actions = re.findall(r'"(ecr:\w+)"', policy.group(1))
    assert actions == ["ecr:BatchGetImage", "ecr:DescribeImages", "ecr:GetDownloadUrlForLayer"]
    assert ":emr-serverless:${var.region}:${data.aws_caller_identity.current.account_id}:" in (
        policy.group(1)
    )
    app = re.search(r'"aws_emrserverless_application" "spark" \{(.*?)\n\}', clusters, re.S)
    assert app is not None
    assert "depends_on = [terraform_data.emr_image, aws_ecr_repository_policy.emr]" in app.group(1)
    assert "count = var.build_cluster_images ? 1 : 0" in clusters


def test_the_image_push_refuses_a_context_packaged_without_dependencies(tmp_path: Path) -> None:
    """The generated push script, run by sh as the local-exec provisioner runs it: a tag not
    in the repository (here: no reachable ECR) built from ``--no-deps`` is refused, naming the
    fix, before docker is called."""
    if shutil.which("aws") is None:
        pytest.skip("no aws CLI on PATH: install awscli to run the generated push script")
    clusters = hcl2.loads(render(build_inventory(heterogeneous("aws")))["clusters.tf"])
    (push,) = (
        named['"emr_image"']
        for entry in clusters["resource"]
        for kind, named in entry.items()
        if kind == '"terraform_data"'
    )
    command = json.loads(push["provisioner"][0]['"local-exec"']["command"])
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # nothing listens: the tag is not found
        "AWS_MAX_ATTEMPTS": "1",
        "REGION": "eu-west-1",
        "REPOSITORY": "x-emr",
        "REGISTRY": "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        "IMAGE": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/x-emr:abc",
        "TAG": "abc",
        "CONTEXT": "build/emr-image",
        "DEPENDENCIES": "false",
        "PLATFORM": "linux/arm64",
    }
    done = subprocess.run(
        ["/bin/sh", "-c", command],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "packaged with --no-deps" in done.stderr
    assert "run glacier package without --no-deps" in done.stderr
