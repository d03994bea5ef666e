"""Glacier providers pointed at the local test servers, the way a user would configure them.

S3 credentials come from the standard environment variables (the AWS chain); Azure's from
``AzureConfig.account_key``; GCS goes unsigned to the emulator through ``endpoint_url``.
"""

from __future__ import annotations

import os

from glacier import Provider
from glacier.config import AwsConfig, AzureConfig, GcpConfig, ProviderConfig
from tests.cloud.servers import AzureServer, CloudServer, GCSServer, S3Server

SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"


def use_test_aws_credentials() -> None:
    """moto accepts any keys; set them where the AWS chain looks so nothing probes IMDS."""
    os.environ["AWS_ACCESS_KEY_ID"] = S3Server.access_key
    os.environ["AWS_SECRET_ACCESS_KEY"] = S3Server.access_key


def config_for(server: CloudServer, staging_bucket: str | None = None) -> ProviderConfig:
    if isinstance(server, S3Server):
        use_test_aws_credentials()
        return AwsConfig(
            region=server.region, endpoint_url=server.endpoint, staging_bucket=staging_bucket
        )
    if isinstance(server, GCSServer):
        return GcpConfig(
            project_id="glacier-test", endpoint_url=server.endpoint, staging_bucket=staging_bucket
        )
    if isinstance(server, AzureServer):
        return AzureConfig(
            subscription_id=SUBSCRIPTION,
            resource_group="glacier-rg",
            storage_account=server.account,
            account_key=server.key,
            endpoint_url=server.endpoint,
            staging_bucket=staging_bucket,
        )
    raise TypeError(f"no Glacier config for {type(server).__name__}")


def provider_for(server: CloudServer, staging_bucket: str | None = None) -> Provider:
    return Provider(config=config_for(server, staging_bucket))
