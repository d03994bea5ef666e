"""AZURE Terraform: what the golden files in tests/infra/golden do not pin down."""

from __future__ import annotations

from glacier.clouds.azure import terraform as azure


def test_vm_sizes_are_the_smallest_that_fit() -> None:
    assert azure.vm_size(2, 16384) == "Standard_E2s_v5"
