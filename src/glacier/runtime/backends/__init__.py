"""One backend per executor kind, chosen through this table so heavy engines load on use.

Local mode emulates each kind: local in threads of this process, serverless in isolated worker
processes with the config's memory and timeout, vm on a Dask cluster, cluster on a real Spark
session. A kind changes backend by changing its entry here.
"""

from __future__ import annotations

import functools
import importlib

from glacier.core.kinds import ExecutorKind
from glacier.resources.executor import Executor
from glacier.runtime.backends.base import Backend, Job, RunServices

# executor kind -> "module:BackendClass"
_LOCAL_MODE: dict[ExecutorKind, str] = {
    ExecutorKind.LOCAL: "glacier.runtime.backends.thread:ThreadBackend",
    ExecutorKind.SERVERLESS: "glacier.runtime.backends.process:ProcessBackend",
    ExecutorKind.VM: "glacier.runtime.backends.dask:DaskBackend",
    ExecutorKind.CLUSTER: "glacier.runtime.backends.spark:SparkBackend",
}


def backend_class(executor: Executor) -> type[Backend]:
    return _load(_LOCAL_MODE[executor.kind])


@functools.cache
def _load(path: str) -> type[Backend]:
    """Import ``module:Class`` once; the scheduler asks for every node of every run."""
    module, name = path.split(":")
    cls: type[Backend] = getattr(importlib.import_module(module), name)
    return cls


__all__ = ["Backend", "Job", "RunServices", "backend_class"]
