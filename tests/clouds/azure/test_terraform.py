"""AZURE Terraform: what the golden files in tests/infra/golden do not pin down."""

from __future__ import annotations

from glacier.clouds.azure import terraform as azure
from glacier.infra.inventory import build_inventory
from glacier.infra.terraform import render
from tests.infra.pipelines import PROVIDERS, portable


def test_vm_sizes_are_the_smallest_that_fit() -> None:
    assert azure.vm_size(2, 16384) == "Standard_E2s_v5"


def test_role_assignments_follow_reads_and_writes() -> None:
    iam = render(build_inventory(portable(PROVIDERS["azure"])))["iam.tf"]
    assert 'resource "azurerm_role_assignment" "join_warehouse"' in iam
    assert 'resource "azurerm_role_assignment" "parse_orders"' in iam
    assert "parse_warehouse" not in iam
    assert "/subscriptions/" not in iam  # scopes are containers, never the subscription
