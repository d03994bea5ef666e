"""Compute configs: portable sizes (``ServerlessConfig``, ``ClusterConfig``, ``VmConfig``) and
the cloud-specific configs that extend them with each service's own settings and limits."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar

from glacier.config.base import (
    Cloud,
    Config,
    check_choice,
    check_labels,
    check_pattern,
    check_range,
    fail,
)

# --- serverless -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ServerlessConfig(Config):
    """A function with a memory cap (MB) and a time limit (seconds), on any cloud.

    The bounds are the widest any cloud offers; cloud-specific configs narrow them.
    """

    memory: int = 1024
    timeout: int = 300

    def validate(self) -> None:
        check_range(self, "memory", self.memory, 128, 32768, "MB")
        check_range(self, "timeout", self.timeout, 1, 3600, "seconds")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LambdaConfig(ServerlessConfig):
    """AWS Lambda: 128-10240 MB, at most 900 s, at most 5 layers, 512-10240 MB of /tmp."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.AWS})
    runtime: str = "python3.12"
    layers: tuple[str, ...] = ()
    ephemeral_storage: int = 512
    architecture: str = "arm64"

    def validate(self) -> None:
        check_range(self, "memory", self.memory, 128, 10240, "MB")
        check_range(self, "timeout", self.timeout, 1, 900, "seconds")
        check_range(self, "ephemeral_storage", self.ephemeral_storage, 512, 10240, "MB")
        check_choice(self, "runtime", self.runtime, {"python3.11", "python3.12", "python3.13"})
        check_choice(self, "architecture", self.architecture, {"arm64", "x86_64"})
        if len(self.layers) > 5:
            raise fail(
                self,
                "layers",
                f"{len(self.layers)} layers given",
                "Lambda allows at most 5 layers per function.",
            )
        for arn in self.layers:
            check_pattern(
                self,
                "layers",
                arn,
                r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:"
                r"[\w-]+:\d+",
                "arn:aws:lambda:us-east-1:123456789012:layer:polars:3",
            )


@dataclasses.dataclass(frozen=True, kw_only=True)
class CloudFunctionConfig(ServerlessConfig):
    """Google Cloud Functions (2nd gen): 128 MB-32 GB, at most 3600 s."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.GCP})
    runtime: str = "python312"
    max_instances: int = 100

    def validate(self) -> None:
        super().validate()
        check_choice(self, "runtime", self.runtime, {"python311", "python312", "python313"})
        check_range(self, "max_instances", self.max_instances, 1, 1000, "instances")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureFunctionConfig(ServerlessConfig):
    """Azure Functions on the Flex Consumption plan: instances of 512, 2048 or 4096 MB."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.AZURE})
    memory: int = 2048
    runtime_version: str = "3.12"
    max_instances: int = 100

    def validate(self) -> None:
        super().validate()
        if self.memory not in (512, 2048, 4096):
            raise fail(
                self,
                "memory",
                f"{self.memory} MB is not a Flex Consumption size",
                "Use 512, 2048 or 4096.",
            )
        check_choice(self, "runtime_version", self.runtime_version, {"3.11", "3.12"})
        check_range(self, "max_instances", self.max_instances, 40, 1000, "instances")


# --- clusters ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClusterConfig(Config):
    """A Spark cluster: ``workers`` machines of ``instance_type`` (None: cloud default)."""

    workers: int = 2
    instance_type: str | None = None
    autoterminate_minutes: int = 30

    def validate(self) -> None:
        check_range(self, "workers", self.workers, 0, 1000, "workers")
        check_range(self, "autoterminate_minutes", self.autoterminate_minutes, 10, 10000, "minutes")

    def _alias_workers(self, name: str, value: int | None) -> None:
        """Keep a service's own spelling (``num_executors``...) and ``workers`` in agreement."""
        if value is None:
            object.__setattr__(self, name, self.workers)
        elif self.workers not in (value, ClusterConfig.workers):
            raise fail(
                self, name, f"{value} disagrees with workers={self.workers}", f"Give only {name}."
            )
        else:
            object.__setattr__(self, "workers", value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SparkConfig(ClusterConfig):
    """Apache Spark: ``local[N]`` in-process, ``sc://host:port`` (Spark Connect) or a master URL."""

    master: str = "local[2]"
    num_executors: int | None = None
    executor_memory: str = "1g"
    conf: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        self._alias_workers("num_executors", self.num_executors)
        super().validate()
        check_pattern(
            self,
            "master",
            self.master,
            r"local(\[(\d+|\*)(,\d+)?\])?|(spark|sc|k8s|mesos)://\S+|yarn",
            "local[2]",
        )
        check_pattern(self, "executor_memory", self.executor_memory, r"\d+[kKmMgGtT]?", "2g")
        check_labels(self, "conf", self.conf)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DatabricksConfig(ClusterConfig):
    """Databricks, on any cloud: an existing ``cluster_id`` or a cluster Glacier provisions."""

    cluster_id: str | None = None
    num_workers: int | None = None
    spark_version: str = "15.4.x-scala2.12"
    host: str | None = None

    def validate(self) -> None:
        self._alias_workers("num_workers", self.num_workers)
        super().validate()
        check_pattern(
            self, "cluster_id", self.cluster_id, r"\d{4}-\d{6}-[a-z0-9]{8}", "0123-456789-abcdefgh"
        )
        check_pattern(
            self, "spark_version", self.spark_version, r"\d+\.\d+\.[x\d]+-\S+", "15.4.x-scala2.12"
        )
        check_pattern(
            self, "host", self.host, r"https://[\w.-]+/?", "https://adb-1.azuredatabricks.net"
        )


# --- virtual machines -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class VmConfig(Config):
    """A virtual machine with ``cpus`` cores and ``memory`` MB, on any cloud."""

    cpus: int = 2
    memory: int = 4096

    def validate(self) -> None:
        check_range(self, "cpus", self.cpus, 1, 448, "cores")
        check_range(self, "memory", self.memory, 512, 12 * 1024 * 1024, "MB")


@dataclasses.dataclass(frozen=True, kw_only=True)
class EC2Config(VmConfig):
    """Amazon EC2; ``instance_type`` (e.g. ``m7g.large``) overrides the size derived from cpus."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.AWS})
    instance_type: str | None = None
    ami: str | None = None
    security_group: str | None = None

    def validate(self) -> None:
        super().validate()
        check_pattern(
            self, "instance_type", self.instance_type, r"[a-z][a-z0-9-]*\.[a-z0-9]+", "m7g.large"
        )
        check_pattern(self, "ami", self.ami, r"ami-[0-9a-f]{8,17}", "ami-0abcdef1234567890")
        check_pattern(
            self,
            "security_group",
            self.security_group,
            r"sg-[0-9a-f]{8,17}",
            "sg-0abcdef1234567890",
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class ComputeEngineConfig(VmConfig):
    """Google Compute Engine; ``machine_type`` (e.g. ``e2-standard-2``) overrides cpus/memory."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.GCP})
    machine_type: str | None = None
    zone: str | None = None
    image: str = "debian-cloud/debian-12"

    def validate(self) -> None:
        super().validate()
        check_pattern(
            self, "machine_type", self.machine_type, r"[a-z0-9]+-[a-z0-9-]+", "e2-standard-2"
        )
        check_pattern(self, "zone", self.zone, r"[a-z]+-[a-z]+\d-[a-z]", "europe-west1-b")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AzureVmConfig(VmConfig):
    """Azure Linux virtual machine; ``size`` (e.g. ``Standard_D2s_v5``) overrides cpus/memory."""

    clouds: ClassVar[frozenset[Cloud]] = frozenset({Cloud.AZURE})
    size: str | None = None
    admin_username: str = "glacier"

    def validate(self) -> None:
        super().validate()
        check_pattern(self, "size", self.size, r"(Standard|Basic)_\w+", "Standard_D2s_v5")
        check_pattern(
            self, "admin_username", self.admin_username, r"[a-z_][a-z0-9_-]{0,63}", "glacier"
        )
