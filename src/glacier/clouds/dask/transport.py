"""Cloud mode on VMs: the pipeline's Dask scheduler, over mutual TLS, on every cloud.

The VMs' workers join the scheduler the Terraform outputs name (``dask_scheduler_address``) and
are named after their executor; the runner connects with the package's certificates (only
holders of the node certificate the package made can join or submit), and each unit goes to
its executor's workers as the same JSON event functions receive, run by the package's own
:func:`glacier.deployed.handle_event` there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from glacier.deployed import handle_event
from glacier.errors import DeploymentError, TaskCrashed
from glacier.identifiers import slug
from glacier.runtime.transport import Target

CONNECT_SECONDS = 30.0
POLL_SECONDS = 2.0
WORKER_GRACE_SECONDS = 60.0
"""How long a task waits for its executor's workers to come back (a VM restarting)."""


class DaskTransport:
    """One executor's workers on the deployed Dask scheduler."""

    def __init__(self, target: Target) -> None:
        scheduler = target.entry.get("scheduler")
        tls = target.entry.get("tls")
        if not scheduler or not isinstance(tls, Mapping):
            raise DeploymentError(
                f"VM executor {target.executor!r}: the deployment names no Dask scheduler "
                f"(output `dask_scheduler_address`) or no certificates (the VM package in "
                f"build/). Deploy the VMs with `glacier package` and `terraform apply`."
            )
        self.address = str(scheduler)
        self.tls = {k: str(v) for k, v in tls.items()}
        self.worker = slug(target.executor)
        self.executor = target.executor
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def where(self) -> str:
        return f"dask worker {self.worker} at {self.address}"

    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                from distributed import Client  # noqa: PLC0415 - lazy: Dask only for VMs
                from distributed.security import Security  # noqa: PLC0415 - as above

                security = Security(  # type: ignore[no-untyped-call]
                    tls_ca_file=self.tls["ca"],
                    tls_client_cert=self.tls["cert"],
                    tls_client_key=self.tls["key"],
                    require_encryption=True,
                )
                try:
                    self._client = Client(  # type: ignore[no-untyped-call]
                        self.address,
                        security=security,
                        timeout=CONNECT_SECONDS,
                        set_as_default=False,
                    )
                except (OSError, TimeoutError) as exc:
                    raise DeploymentError(
                        f"VM executor {self.executor!r}: cannot reach the Dask scheduler at "
                        f"{self.address} ({exc}). Check that the VMs run and that this machine "
                        f"may reach port 8786 (the scheduler's security group / firewall)."
                    ) from None
            return self._client

    def invoke(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        client = self.client()
        future = client.submit(  # handle_event travels by name; the worker's package defines it
            handle_event, dict(event), workers=[self.worker], allow_other_workers=False, pure=False
        )
        try:
            reply: Mapping[str, Any] = self._wait(client, future)
        except TaskCrashed:
            raise
        except Exception as exc:  # a worker lost mid-task (KilledWorker), a failed handler
            raise TaskCrashed(
                f"VM executor {self.executor!r} ({self.where}): the task did not answer "
                f"({type(exc).__name__}: {exc}). A worker that died (memory, a kill) is retried "
                f"if the task has retries."
            ) from None
        return reply

    def _wait(self, client: Any, future: Any) -> Any:
        """The future's result; a task restricted to workers that are all gone would wait
        forever, so it fails once none of this executor's workers has been seen for a while."""
        from distributed import TimeoutError as DaskTimeout  # noqa: PLC0415 - lazy, as above

        missing_since: float | None = None
        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except (TimeoutError, DaskTimeout):
                pass
            names = {w.get("name") for w in client.scheduler_info()["workers"].values()}
            if self.worker in names:
                missing_since = None
                continue
            missing_since = missing_since or time.monotonic()
            if time.monotonic() - missing_since > WORKER_GRACE_SECONDS:
                future.cancel()
                raise TaskCrashed(
                    f"VM executor {self.executor!r}: no Dask worker named {self.worker!r} has "
                    f"been connected to {self.address} for {WORKER_GRACE_SECONDS:.0f} s, so "
                    f"the task cannot run. Check that the VMs run (their glacier-dask service)."
                )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def open_transport(target: Target) -> DaskTransport:
    return DaskTransport(target)
