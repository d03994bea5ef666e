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
    timeout: int = 300

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
    instance_type: str | None = None
    autoterminate_minutes: int = 30

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


# --- virtual machines -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class VmConfig(Config):
    """A virtual machine with ``cpus`` cores and ``memory`` MB, on any cloud."""

    cpus: int = 2
    memory: int = 4096

    def validate(self) -> None:
        check_range(self, "cpus", self.cpus, 1, 448, "cores")
        check_range(self, "memory", self.memory, 512, 12 * 1024 * 1024, "MB")
