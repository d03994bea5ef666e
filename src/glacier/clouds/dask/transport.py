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
POLL_SECONDS = 1.0
WORKER_GRACE_SECONDS = 60.0
"""How long an attempt waits for one of its executor's workers to join (a VM restarting)."""


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
        workers = self._workers(client)
        future = client.submit(  # handle_event travels by name; the worker's package defines it
            handle_event, dict(event), workers=workers, allow_other_workers=False, pure=False
        )
        try:
            reply: Mapping[str, Any] = self._wait(client, future, set(workers))
        except TaskCrashed:
            raise
        except Exception as exc:  # a failed handler, a lost connection
            raise TaskCrashed(
                f"VM executor {self.executor!r} ({self.where}): the task did not answer "
                f"({type(exc).__name__}: {exc}). A worker that died (memory, a kill) is retried "
                f"if the task has retries."
            ) from None
        return reply

    def _workers(self, client: Any) -> list[str]:
        """The addresses of this executor's workers (named after it), waiting a while for one
        to join: the scheduler pins a task to addresses, so each attempt looks them up anew."""
        deadline = time.monotonic() + WORKER_GRACE_SECONDS
        while True:
            found = self._addresses(client)
            if found:
                return sorted(found)
            if time.monotonic() > deadline:
                raise TaskCrashed(
                    f"VM executor {self.executor!r}: no Dask worker named {self.worker!r} is "
                    f"connected to {self.address} after {WORKER_GRACE_SECONDS:.0f} s, so the task "
                    f"cannot run. Check that the VMs run (their glacier-dask service)."
                )
            time.sleep(POLL_SECONDS / 4)

    def _addresses(self, client: Any) -> set[str]:
        workers = client.scheduler_info()["workers"]
        return {address for address, w in workers.items() if w.get("name") == self.worker}

    def _wait(self, client: Any, future: Any, workers: set[str]) -> Any:
        """The future's result; once every worker it may run on is gone (the VM died or
        restarted), the attempt has failed, and is retried like a killed function."""
        from distributed import TimeoutError as DaskTimeout  # noqa: PLC0415 - lazy, as above

        while True:
            try:
                return future.result(timeout=POLL_SECONDS)
            except (TimeoutError, DaskTimeout):
                pass
            if not workers & self._addresses(client):
                future.cancel()
                raise TaskCrashed(
                    f"VM executor {self.executor!r}: the Dask worker running the task "
                    f"({', '.join(sorted(workers))}) left the cluster before it answered (killed, "
                    f"out of memory, or its VM restarted); the attempt is retried if the task "
                    f"has retries."
                )

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()


def open_transport(target: Target) -> DaskTransport:
    return DaskTransport(target)
