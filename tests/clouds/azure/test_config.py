"""Azure configs: what Provider.from_env reads on Azure."""

from __future__ import annotations

from glacier import Provider
from glacier.config import AzureConfig

AZURE = AzureConfig(subscription_id="00000000-0000-0000-0000-000000000000", resource_group="rg")


def test_from_env_azure() -> None:
    azure = Provider.from_env(
        {
            "GLACIER_PROVIDER": "azure",
            "AZURE_SUBSCRIPTION_ID": AZURE.subscription_id,
            "AZURE_RESOURCE_GROUP": "rg",
            "AZURE_LOCATION": "westeurope",
        }
    )
    assert azure.config == AzureConfig(
        subscription_id=AZURE.subscription_id, resource_group="rg", location="westeurope"
    )
