"""One backend per executor kind, chosen through the registry so heavy engines load on use.

Local mode emulates each kind: local in threads of this process, serverless in isolated worker
processes with the config's memory and timeout, vm on a Dask cluster, cluster on a real Spark
session. A kind changes backend by changing its ``local_mode`` in ``glacier.clouds.KINDS``;
``cloud_mode`` names the backend that invokes the deployed resource instead.
"""

from __future__ import annotations

from glacier import clouds
from glacier.resources.executor import Executor
from glacier.runtime.backends.base import Backend, Job, RunServices


def backend_class(executor: Executor, mode: str = "local") -> type[Backend]:
    """The backend of ``executor`` in ``mode`` (``local`` emulates it, ``cloud`` invokes its
    deployed resource)."""
    parts = clouds.KINDS[executor.kind]
    cls: type[Backend] = clouds.load(parts.cloud_mode if mode == "cloud" else parts.local_mode)
    return cls


__all__ = ["Backend", "Job", "RunServices", "backend_class"]
