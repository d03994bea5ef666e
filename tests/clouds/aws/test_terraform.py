"""AWS Terraform: what the golden files in tests/infra/golden do not pin down."""

from __future__ import annotations

from glacier.clouds.aws import terraform as aws


def test_vm_sizes_are_the_smallest_that_fit() -> None:
    assert aws.instance_type(4, 16384) == "m7g.xlarge"
    assert aws.instance_type(1, 1024) == "c7g.medium"
