"""Portable compute configs: ``ServerlessConfig``, ``ClusterConfig`` (and ``SparkConfig``) and
``VmConfig``. Each cloud's own configs extend them in ``glacier/clouds/<cloud>/config.py``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from glacier.config.base import (
    Config,
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
    """Memory cap of one call in MB, 128-32768; each cloud's own config narrows it.

    Locally a worker past it is killed, and the attempt fails with ``TaskOutOfMemory``.
    """
    timeout: int = 300
    """Time limit of one call in seconds, 1-3600; each cloud's own config narrows it.

    Locally a worker past it is killed, and the attempt fails with ``TaskTimeout``.
    """

    def validate(self) -> None:
        check_range(self, "memory", self.memory, 128, 32768, "MB")
        check_range(self, "timeout", self.timeout, 1, 3600, "seconds")


# --- clusters ---------------------------------------------------------------------------------


class _DefaultWorkers(int):
    """``workers`` when the user did not give it, so an alias given with it can be checked."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ClusterConfig(Config):
    """A Spark cluster: ``workers`` machines of ``instance_type`` (None: cloud default)."""

    workers: int = _DefaultWorkers(2)
    """Worker nodes besides the driver, 0-1000; 0 is a single-node cluster.

    On AWS (EMR Serverless) it caps capacity at (workers + 1) x 4 vCPU and x 16 GB; on GCP
    (Dataproc) fewer than 2 workers means a single node.
    """
    instance_type: str | None = None
    """Machine type of every node; None: ``n2-standard-4`` on Dataproc, each cloud's default
    on Databricks. EMR Serverless (AWS) has no machine types and ignores it.
    """
    autoterminate_minutes: int = 30
    """Idle minutes before the cluster stops (or is deleted, on Dataproc), 10-10000."""

    def validate(self) -> None:
        check_range(self, "workers", self.workers, 0, 1000, "workers")
        check_range(self, "autoterminate_minutes", self.autoterminate_minutes, 10, 10000, "minutes")

    def _alias_workers(self, name: str, value: int | None) -> None:
        """Keep a service's own spelling (``num_executors``...) and ``workers`` in agreement."""
        given = type(self.workers) is not _DefaultWorkers
        object.__setattr__(self, "workers", int(self.workers))
        if value is None:
            object.__setattr__(self, name, self.workers)
        elif given and self.workers != value:
            raise fail(
                self, name, f"{value} disagrees with workers={self.workers}", f"Give only {name}."
            )
        else:
            object.__setattr__(self, "workers", value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SparkConfig(ClusterConfig):
    """Apache Spark: ``local[N]`` in-process, ``sc://host:port`` (Spark Connect) or a master URL."""

    master: str = "local[2]"
    """Where Spark runs: ``local[N]`` in this process, ``sc://host:port`` (Spark Connect), or a
    ``spark://``, ``k8s://``, ``mesos://`` or ``yarn`` master.
    """
    num_executors: int | None = None
    """Spark's name for ``workers`` (``spark.executor.instances``, classic masters only)."""
    executor_memory: str = "1g"
    """Memory of each executor (``spark.executor.memory``), a Spark size: ``512m``, ``4g``."""
    conf: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """More Spark properties, str to str, e.g. ``{"spark.sql.shuffle.partitions": "8"}``."""

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


# --- virtual machines -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class VmConfig(Config):
    """A virtual machine with ``cpus`` cores and ``memory`` MB, on any cloud."""

    cpus: int = 2
    """Cores, 1-448: size the machine unless a cloud config names a type. Locally: Dask threads."""
    memory: int = 4096
    """Memory in MB, 512-12582912 (12 TB). Locally: the Dask worker's limit (restarted past it)."""

    def validate(self) -> None:
        check_range(self, "cpus", self.cpus, 1, 448, "cores")
        check_range(self, "memory", self.memory, 512, 12 * 1024 * 1024, "MB")
