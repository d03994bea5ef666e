"""GCP Terraform: what the golden files in tests/infra/golden do not pin down."""

from __future__ import annotations

from glacier.clouds.gcp import terraform as gcp
from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import render
from tests.infra.pipelines import PROVIDERS, portable


def test_vm_sizes_are_the_smallest_that_fit() -> None:
    assert gcp.machine_type(4, 16384) == "e2-standard-4"


def test_bindings_follow_reads_and_writes() -> None:
    iam = render(build_inventory(portable(PROVIDERS["gcp"])))["iam.tf"]
    assert 'resource "google_storage_bucket_iam_member" "parse_orders"' in iam
    assert 'resource "google_storage_bucket_iam_member" "join_warehouse"' in iam
    assert "parse_warehouse" not in iam and "parse_customers" not in iam
