"""GCP Terraform: what the golden files in tests/infra/golden do not pin down."""

from __future__ import annotations

from glacier.clouds.gcp import terraform as gcp


def test_vm_sizes_are_the_smallest_that_fit() -> None:
    assert gcp.machine_type(4, 16384) == "e2-standard-4"
