"""The registry: every cloud's parts, and every executor kind's, named by ``"module:attr"``.

This is the one table the rest of Glacier consults to reach a cloud. It holds only strings, so
``import glacier`` loads no cloud module; :func:`load` imports a part on first use and caches it.
A cloud's code lives in ``glacier/clouds/<cloud>/``: its configs (``config.py``, with
``from_portable``), its object store (``store.py``), its Terraform (``terraform.py``) and its
function packages (``package.py``). Local mode has no folder: its parts live in ``glacier.config``
and ``glacier.storage``.

Databricks is a platform, not a cloud: it runs on each of them, so it contributes configs, the
Terraform helpers the cloud renderers call and the Spark session ``glacier.spark`` gets for it
(``session.py``), but no store, scheme or provider config.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Cloud(StrEnum):
    """Where a provider's resources live; ``LOCAL`` emulates any of the others."""

    LOCAL = "local"
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


@dataclass(frozen=True)
class CloudParts:
    """One cloud's parts. Every ``str`` field but ``schemes`` is a ``"module:attr"`` reference."""

    provider_config: str
    """The ``ProviderConfig`` subclass that selects this cloud."""
    env: str
    """``{field: (variable names, required?)}`` that ``Provider.from_env`` reads."""
    store: str
    """``open_store(provider_config) -> ObjectStore``."""
    bucket_names: str
    """``bucket_name_problem(name) -> str | None``: why the cloud would refuse a bucket name."""
    schemes: tuple[str, ...]
    """URI schemes of this cloud's objects; the first is the one Glacier writes."""
    configs: tuple[str, ...] = ()
    """The cloud-specific configs ``glacier.config`` exports."""
    from_portable: str | None = None
    """``from_portable(config) -> config``: the cloud's own config for a portable one."""
    terraform: str | None = None
    """``render(inventory) -> Module``."""
    checkov_skips: str | None = None
    """``{check id: reason}`` of the checkov checks the cloud's Terraform skips on purpose."""
    package: str | None = None
    """The ``FunctionPackaging`` that ``glacier package`` builds this cloud's functions with."""
    transport: str | None = None
    """``open_transport(target: Target) -> Transport``: how cloud mode invokes a deployed
    executor (:mod:`glacier.runtime.transport`)."""
    emulator: str | None = None
    """``start(functions: Sequence[EmulatedFunction]) -> Emulated``: the cloud's function
    platform served on 127.0.0.1 from the built packages (``glacier emulate``)."""
    emulated_role: str | None = None
    """The variables of the emulator's own environment its functions get, standing in for
    the credentials a deployed function's role gives it (keys, a connection string)."""

    @property
    def deployable(self) -> bool:
        return self.terraform is not None

    @classmethod
    def in_folder(cls, cloud: str, schemes: tuple[str, ...], configs: str) -> CloudParts:
        """A cloud laid out as ``glacier/clouds/<cloud>/`` is: ``configs`` names its config
        classes in ``config.py``, the provider config first."""
        config = f"glacier.clouds.{cloud}.config"
        names = configs.split()
        return cls(
            provider_config=f"{config}:{names[0]}",
            env=f"{config}:ENV",
            store=f"glacier.clouds.{cloud}.store:open_store",
            bucket_names=f"{config}:bucket_name_problem",
            schemes=schemes,
            configs=tuple(f"{config}:{name}" for name in names),
            from_portable=f"{config}:from_portable",
            terraform=f"glacier.clouds.{cloud}.terraform:render",
            checkov_skips=f"glacier.clouds.{cloud}.terraform:SKIPS",
            package=f"glacier.clouds.{cloud}.package:PACKAGING",
            transport=f"glacier.clouds.{cloud}.transport:open_transport",
            emulator=f"glacier.clouds.{cloud}.emulator:start",
            emulated_role=f"{config}:ROLE_ENV",
        )


@dataclass(frozen=True)
class KindParts:
    """One executor kind: the portable config its configs extend, its local-mode backend."""

    local_mode: str
    """The ``Backend`` subclass that emulates the kind on this machine."""
    cloud_mode: str = "glacier.runtime.backends.remote:RemoteBackend"
    """The ``Backend`` subclass that runs the kind in cloud mode (on its deployed resource)."""
    transport: str | None = None
    """``open_transport(target)`` of the kind on every cloud (VMs: the Dask scheduler); None
    when each cloud has its own (its ``CloudParts.transport``)."""
    config: str | None = None
    """The portable ``Config`` its executors take (None: the kind takes no config)."""


CLOUDS: dict[Cloud, CloudParts] = {
    Cloud.LOCAL: CloudParts(
        provider_config="glacier.config.provider:LocalConfig",
        env="glacier.config.provider:LOCAL_ENV",
        store="glacier.storage.local:open_store",
        bucket_names="glacier.config.storage:portable_bucket_name_problem",
        schemes=("file",),
    ),
    Cloud.AWS: CloudParts.in_folder(
        "aws", ("s3", "s3a"), "AwsConfig LambdaConfig EC2Config S3Config"
    ),
    Cloud.GCP: CloudParts.in_folder(
        "gcp", ("gs", "gcs"), "GcpConfig CloudFunctionConfig ComputeEngineConfig GcsConfig"
    ),
    Cloud.AZURE: CloudParts.in_folder(
        "azure",
        ("az", "abfs", "abfss", "azure"),
        "AzureConfig AzureFunctionConfig AzureVmConfig AzureBlobConfig",
    ),
}


@dataclass(frozen=True)
class PlatformParts:
    """A platform that runs on every cloud (its Terraform is called by the clouds' renderers).

    Every ``str`` field is a ``"module:attr"`` reference.
    """

    configs: tuple[str, ...]
    """The platform's configs ``glacier.config`` exports."""
    spark_session: str | None = None
    """``create_session(settings: SparkSettings) -> session``: the Spark session
    ``glacier.spark`` gets for ``SparkSettings(platform=<name>)`` or ``master=<name>``."""
    spark_errors: tuple[str, ...] = ()
    """The errors that factory raises, re-exported by ``glacier.spark``."""


PLATFORMS: dict[str, PlatformParts] = {
    "databricks": PlatformParts(
        configs=("glacier.clouds.databricks.config:DatabricksConfig",),
        spark_session="glacier.clouds.databricks.session:create_session",
        spark_errors=("glacier.clouds.databricks.session:DatabricksConnectNotInstalledError",),
    ),
}

KINDS: dict[str, KindParts] = {
    # keyed by ExecutorKind's values, since config (below core) imports this module; the
    # kinds are a StrEnum, so the members look up too
    "local": KindParts(
        local_mode="glacier.runtime.backends.thread:ThreadBackend",
        cloud_mode="glacier.runtime.backends.thread:ThreadBackend",  # runs where the runner runs
    ),
    "serverless": KindParts(
        local_mode="glacier.runtime.backends.process:ProcessBackend",
        config="glacier.config.compute:ServerlessConfig",
    ),
    "vm": KindParts(
        local_mode="glacier.runtime.backends.dask:DaskBackend",
        transport="glacier.clouds.dask.transport:open_transport",
        config="glacier.config.compute:VmConfig",
    ),
    "cluster": KindParts(
        local_mode="glacier.runtime.backends.spark:SparkBackend",
        transport="glacier.runtime.cluster_job:open_transport",
        config="glacier.config.compute:ClusterConfig",
    ),
}

CLUSTER_PLATFORMS: dict[str, str] = {
    "emr-serverless": "glacier.clouds.aws.emr:EmrServerless",
    "databricks": "glacier.clouds.databricks.jobs:DatabricksJobs",
    "dataproc": "glacier.clouds.gcp.dataproc:DataprocJobs",
}
"""The ``type`` of a ``clusters`` output entry -> its ``JobPlatform(target)``: how cloud mode
starts and watches that platform's Spark jobs (:mod:`glacier.runtime.cluster_job`)."""

CLUSTER_EMULATORS: dict[str, str] = {
    "emr-serverless": "glacier.clouds.aws.emr_emulator:start",
    "databricks": "glacier.clouds.databricks.jobs_emulator:start",
    "dataproc": "glacier.clouds.gcp.dataproc_emulator:start",
}
"""A cluster platform (as ``CLUSTER_PLATFORMS``) -> ``start(clusters: Sequence[EmulatedFunction])
-> Emulated``: that platform on 127.0.0.1 for ``glacier emulate`` (its ``functions`` are the
``clusters`` output entries)."""

CLUSTER_DEFAULTS: dict[Cloud, str] = {
    Cloud.AWS: "emr-serverless",
    Cloud.GCP: "dataproc",
    Cloud.AZURE: "databricks",
}
"""The platform a cloud's cluster executors deploy on unless their config names another (a
``DatabricksConfig`` is Databricks on every cloud; Spark on Azure is only Databricks)."""


def name_of(ref: str) -> str:
    """The attribute a reference names, without importing it (for messages)."""
    return ref.rpartition(":")[2]


CONFIGS: dict[str, str] = {
    name_of(ref): ref
    for ref in (
        *(r for p in CLOUDS.values() for r in p.configs),
        *(r for p in PLATFORMS.values() for r in p.configs),
    )
}
"""Public name -> reference of every cloud-specific config, for ``glacier.config``'s re-exports."""

SPARK_ERRORS: dict[str, str] = {
    name_of(ref): ref for p in PLATFORMS.values() for ref in p.spark_errors
}
"""Public name -> reference of every platform's Spark error, for ``glacier.spark``'s re-exports."""


def deployable() -> tuple[Cloud, ...]:
    """The clouds Glacier renders Terraform for, in registry order."""
    return tuple(cloud for cloud, parts in CLOUDS.items() if parts.deployable)


@functools.cache
def load(ref: str) -> Any:
    """Import ``"module:attr"`` once and return the attribute."""
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def lazy_exports(
    module: str, table: Mapping[str, str], namespace: MutableMapping[str, Any], names: Sequence[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` re-exporting ``table``'s parts lazily.

    A public name (``glacier.config.AwsConfig``) stays importable while its cloud's module
    loads only on first access; the loaded value is kept in ``namespace``, so later lookups
    skip ``__getattr__``.
    """

    def getattr_(name: str) -> Any:
        ref = table.get(name)
        if ref is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = namespace[name] = load(ref)
        return value

    def dir_() -> list[str]:
        return sorted({*namespace, *names})

    return getattr_, dir_


def part(cloud: Cloud | str, name: str) -> Any:
    """A cloud's part by field name (``part("aws", "store")``), loaded on first use."""
    ref = getattr(CLOUDS[Cloud(cloud)], name)
    if ref is None:
        raise LookupError(f"{cloud} has no {name}")
    return load(ref)
