"""All configs: one provider config picks the cloud; storage and compute configs size resources.

Portable configs (``ServerlessConfig``, ``ClusterConfig``, ``VmConfig``, ``BucketConfig``,
``SparkConfig`` and the Databricks cluster config) work with every provider. A cloud's own
configs work only with its provider, or with ``LocalConfig``, which emulates them. Those (and
the Databricks one) live in ``glacier/clouds/<cloud>/config.py``; this module re-exports them
lazily through the registry (``glacier.clouds.CONFIGS``), so ``import glacier`` loads none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from glacier import clouds
from glacier.clouds import Cloud
from glacier.config.base import Config
from glacier.config.compute import ClusterConfig, ServerlessConfig, SparkConfig, VmConfig
from glacier.config.env import provider_config_from_env
from glacier.config.provider import LocalConfig, ProviderConfig
from glacier.config.storage import BucketConfig
from glacier.errors import ConfigError

if TYPE_CHECKING:  # the lazy names below, for type checkers and IDEs
    from glacier.clouds.aws.config import AwsConfig, EC2Config, LambdaConfig, S3Config
    from glacier.clouds.azure.config import (
        AzureBlobConfig,
        AzureConfig,
        AzureFunctionConfig,
        AzureVmConfig,
    )
    from glacier.clouds.databricks.config import DatabricksConfig
    from glacier.clouds.gcp.config import (
        CloudFunctionConfig,
        ComputeEngineConfig,
        GcpConfig,
        GcsConfig,
    )

_PORTABLE: tuple[type[Config], ...] = (
    ProviderConfig,
    LocalConfig,
    ServerlessConfig,
    ClusterConfig,
    SparkConfig,
    VmConfig,
    BucketConfig,
)


def config_classes() -> tuple[type[Config], ...]:
    """Every public config class: the portable ones, then each cloud's in registry order.

    Loads every cloud's configs, so only messages and tools call it, never a run.
    """
    return (*_PORTABLE, *(clouds.load(ref) for ref in clouds.CONFIGS.values()))


def config_class(name: str) -> type[Config]:
    """The public config class called ``name`` (how workers rebuild a config from ``to_dict``)."""
    found = next((c for c in config_classes() if c.__name__ == name), None)
    if found is None:
        raise ConfigError(
            f"{name!r} is not a Glacier config. Use one of "
            f"{', '.join(sorted(c.__name__ for c in config_classes()))}."
        )
    return found


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
    "config_class",
    "config_classes",
    "provider_config_from_env",
]

# a cloud's configs load on first access: ``from glacier.config import <name>``
__getattr__, __dir__ = clouds.lazy_exports(__name__, clouds.CONFIGS, globals(), __all__)
