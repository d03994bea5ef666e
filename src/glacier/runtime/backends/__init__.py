"""One backend per executor kind, chosen through this table so heavy engines load on use.

Local mode runs every kind in this process for now; a kind gets its own backend (isolated
processes, Dask, Spark) by changing its entry here, not the scheduler.
"""

from __future__ import annotations

import importlib

from glacier.resources.executor import Executor, ExecutorKind
from glacier.runtime.backends.base import Backend, Job, RunServices

# executor kind -> "module:BackendClass"
_LOCAL_MODE: dict[ExecutorKind, str] = {
    ExecutorKind.LOCAL: "glacier.runtime.backends.thread:ThreadBackend",
    ExecutorKind.SERVERLESS: "glacier.runtime.backends.thread:ThreadBackend",
    ExecutorKind.VM: "glacier.runtime.backends.thread:ThreadBackend",
    ExecutorKind.CLUSTER: "glacier.runtime.backends.thread:ThreadBackend",
}


def backend_class(executor: Executor) -> type[Backend]:
    module, name = _LOCAL_MODE[executor.kind].split(":")
    cls: type[Backend] = getattr(importlib.import_module(module), name)
    return cls


__all__ = ["Backend", "Job", "RunServices", "backend_class"]
