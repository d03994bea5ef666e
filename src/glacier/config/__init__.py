"""All configs: one provider config picks the cloud; storage and compute configs size resources.

Portable configs (``ServerlessConfig``, ``ClusterConfig``, ``VmConfig``, ``BucketConfig``,
``SparkConfig``, ``DatabricksConfig``) work with every provider. Cloud-specific ones
(``LambdaConfig``, ``S3Config``...) only with their cloud's provider, or with ``LocalConfig``,
which emulates them.
"""

from glacier.config.base import Cloud, Config
from glacier.config.compute import (
    AzureFunctionConfig,
    AzureVmConfig,
    CloudFunctionConfig,
    ClusterConfig,
    ComputeEngineConfig,
    DatabricksConfig,
    EC2Config,
    LambdaConfig,
    ServerlessConfig,
    SparkConfig,
    VmConfig,
)
from glacier.config.env import provider_config_from_env
from glacier.config.provider import AwsConfig, AzureConfig, GcpConfig, LocalConfig, ProviderConfig
from glacier.config.storage import AzureBlobConfig, BucketConfig, GcsConfig, S3Config

__all__ = [
    "AwsConfig",
    "AzureBlobConfig",
    "AzureConfig",
    "AzureFunctionConfig",
    "AzureVmConfig",
    "BucketConfig",
    "Cloud",
    "CloudFunctionConfig",
    "ClusterConfig",
    "ComputeEngineConfig",
    "Config",
    "DatabricksConfig",
    "EC2Config",
    "GcpConfig",
    "GcsConfig",
    "LambdaConfig",
    "LocalConfig",
    "ProviderConfig",
    "S3Config",
    "ServerlessConfig",
    "SparkConfig",
    "VmConfig",
    "provider_config_from_env",
]
