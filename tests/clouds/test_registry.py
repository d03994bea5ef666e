"""The registry: every part of every cloud and kind resolves, and `import glacier` loads none."""

from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys

import pytest

import glacier.config
import glacier.spark
from glacier import Provider, clouds
from glacier.clouds import CLOUDS, KINDS, PLATFORMS, Cloud
from glacier.config import Config, ProviderConfig
from glacier.config.compute import ClusterConfig
from glacier.config.storage import BucketConfig
from glacier.core.kinds import ExecutorKind
from glacier.spark import SparkTaskError


@pytest.mark.parametrize("cloud", list(Cloud))
def test_every_part_of_every_cloud_resolves(cloud: Cloud) -> None:
    parts = CLOUDS[cloud]
    provider_config = clouds.load(parts.provider_config)
    assert issubclass(provider_config, ProviderConfig) and provider_config.cloud is cloud
    assert parts.schemes
    for field in dataclasses.fields(parts):
        refs = getattr(parts, field.name)
        if field.name == "schemes" or refs is None:
            continue
        for ref in refs if isinstance(refs, tuple) else (refs,):
            assert clouds.load(ref) is not None, ref
    for ref in parts.configs:
        assert cloud in clouds.load(ref).clouds
    assert parts.deployable is (cloud is not Cloud.LOCAL)


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_every_part_of_every_platform_resolves(platform: str) -> None:
    parts = PLATFORMS[platform]
    assert parts.configs
    for ref in parts.configs:
        assert issubclass(clouds.load(ref), ClusterConfig), ref
    if parts.spark_session is not None:
        assert callable(clouds.load(parts.spark_session))
    for ref in parts.spark_errors:
        error = clouds.load(ref)
        assert issubclass(error, SparkTaskError), ref
        assert getattr(glacier.spark, clouds.name_of(ref)) is error
        assert clouds.name_of(ref) in glacier.spark.__all__


def test_every_kind_resolves() -> None:
    assert set(KINDS) == set(ExecutorKind)
    for kind, parts in KINDS.items():
        assert clouds.load(parts.local_mode).__name__.endswith("Backend")
        if kind != ExecutorKind.LOCAL:
            assert parts.config is not None and issubclass(clouds.load(parts.config), Config)


def test_schemes_belong_to_one_cloud_each() -> None:
    schemes = [s for parts in CLOUDS.values() for s in parts.schemes]
    assert len(schemes) == len(set(schemes))


def test_every_glacier_config_name_resolves() -> None:
    assert set(clouds.CONFIGS) <= set(glacier.config.__all__)
    assert set(glacier.config.__all__) <= set(dir(glacier.config))
    for name in glacier.config.__all__:
        value = getattr(glacier.config, name)
        if isinstance(value, type) and issubclass(value, Config) and value is not Config:
            assert value.__name__ == name
            assert glacier.config.config_class(name) is value
    with pytest.raises(AttributeError):
        _ = glacier.config.NoSuchConfig  # type: ignore[attr-defined]


def test_from_portable_makes_each_clouds_own_config() -> None:
    for cloud in clouds.deployable():
        native = clouds.part(cloud, "from_portable")(BucketConfig(versioning=True))
        assert native.clouds == frozenset({cloud})
        assert native.versioning is True


def test_cloud_configs_pickle_and_rebuild_from_their_dict() -> None:
    for name in clouds.CONFIGS:
        cls = glacier.config.config_class(name)
        fields = {"project_id": "my-project-123"} if name == "GcpConfig" else {}
        if name == "AzureConfig":
            fields = {
                "subscription_id": "0" * 8 + "-0000-0000-0000-" + "0" * 12,
                "resource_group": "rg",
            }
        config = cls(**fields)
        assert pickle.loads(pickle.dumps(config)) == config
        assert glacier.config.config_class(config.to_dict()["type"]) is cls


def test_provider_error_lists_every_provider_config() -> None:
    with pytest.raises(Exception, match=r"takes AwsConfig, GcpConfig, AzureConfig or LocalConfig"):
        Provider(config=object())  # type: ignore[arg-type]


def test_import_glacier_loads_no_cloud_module_and_no_sdk() -> None:
    # Modules the interpreter loaded before glacier are not glacier's doing: functions-framework
    # installs a namespace-package .pth that creates `google` at every start-up.
    code = (
        "import sys\n"
        "before = set(sys.modules)\n"
        "import glacier, glacier.config\n"
        "from glacier import Provider\n"
        "from glacier.config import LocalConfig, ServerlessConfig\n"
        "Provider(config=LocalConfig()).serverless(config=ServerlessConfig())\n"
        "loaded = sorted(m for m in set(sys.modules) - before if m.startswith('glacier.clouds.')\n"
        "    or m.split('.')[0] in {'obstore', 'boto3', 'botocore', 'azure', 'google', 'pyspark',\n"
        "    'dask', 'distributed', 'click'})\n"
        "print(loaded)\n"
        "assert 'glacier.clouds' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
