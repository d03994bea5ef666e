"""VMs emulated by a Dask cluster on this machine; the same client reaches a remote scheduler.

Local mode starts a cluster on first use and keeps it warm for the next run in this process
(see :mod:`~glacier.runtime.backends.warm`; one per kind of VM executor), closing it at exit or
rebuilding it if one of its processes died: a scheduler and one worker per VM, each its own
process, listening on 127.0.0.1 only, no dashboard, the worker sized by ``VmConfig`` (``cpus``
threads, ``memory`` MB; Dask's nanny restarts a worker that goes over it). Each of those
processes exits when the one that started it dies, exit hooks or not
(:mod:`~glacier.runtime.backends.dask_watchdog`). The cluster is
``distributed``'s ``SubprocessCluster`` rather than ``LocalCluster``: LocalCluster starts
workers with multiprocessing, which re-imports the user's ``__main__`` script in every worker,
so a pipeline script without an ``if __name__ == "__main__":`` guard fails with "Nanny failed
to start" (measured). Subprocess workers start from the command line like a VM's worker service
and never import the script.

Units go to the worker as :class:`~glacier.runtime.invocation.Invocation` bytes, the same entry
point the serverless backend and the cloud run. Timeouts are soft here: Dask cannot stop a task
that is running, so the scheduler stops waiting and the attempt's late result is dropped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import signal
from typing import Any

from glacier.config.compute import VmConfig
from glacier.errors import ConfigError
from glacier.runtime.backends import dask_watchdog, warm
from glacier.runtime.backends.base import Backend, Done, Job, deliver
from glacier.runtime.backends.memory import exited
from glacier.runtime.invocation import decode_outcome, describe, encode, invoke
from glacier.runtime.worker import Outcome

EXTRA = "glacier-pipelines[dask]"
LOOPBACK = "127.0.0.1"
SCHEDULER_START_SECONDS = 300
"""How long the local scheduler process may take to start (measured over 30 s under load)."""


class DaskCluster:
    """A client to a Dask scheduler, and the local cluster behind it when Glacier started one."""

    def __init__(
        self,
        config: VmConfig | None,
        address: str | None = None,
        environment: dict[str, str] | None = None,
    ) -> None:
        try:  # Dask is an optional extra, and heavy: it loads when a VM task first runs
            from distributed import Client, SpecCluster  # noqa: PLC0415
            from distributed.deploy.subprocess import (  # noqa: PLC0415
                SubprocessScheduler,
                SubprocessWorker,
            )
        except ImportError:
            raise ConfigError(
                f"VM executors run on Dask in local mode, and Dask is not installed. Install the "
                f"extra: pip install '{EXTRA}'."
            ) from None
        self.cluster: Any = None
        if address is None:
            config = config or VmConfig()
            # SubprocessCluster's pieces, assembled here for the scheduler's start timeout: its
            # fixed 30 s is too short on a loaded machine, and once it expires with the
            # scheduler still starting, distributed waits on its stderr forever (seen here).
            scheduler = {
                "cls": SubprocessScheduler,
                "options": {
                    "scheduler_kwargs": {
                        "host": LOOPBACK,
                        "port": 0,
                        "dashboard": False,
                        "dashboard_address": None,
                        "preload": [dask_watchdog.MODULE],  # dies with this process
                    },
                    "timeout": SCHEDULER_START_SECONDS,
                },
            }
            worker_kwargs = {
                "host": LOOPBACK,
                "nthreads": config.cpus,
                "silence_logs": logging.ERROR,
                "memory_limit": f"{config.memory}MiB",
                "dashboard": False,
                # the provider's secrets reach the worker like a VM's identity: not in tasks
                "env": environment or {},
                "preload_nanny": [dask_watchdog.MODULE],  # the nanny dies with this process,
                "preload": [dask_watchdog.MODULE],  # and its worker with the nanny
            }
            worker = {
                "cls": SubprocessWorker,
                "options": {"worker_class": "distributed.Nanny", "worker_kwargs": worker_kwargs},
            }
            self.cluster = SpecCluster(  # type: ignore[no-untyped-call]
                workers={0: worker},
                scheduler=scheduler,
                worker=worker,
                name="SubprocessCluster",
                silence_logs=logging.ERROR,
            )
            address = self.cluster.scheduler_address
        self.client: Any = Client(address, set_as_default=False)  # type: ignore[no-untyped-call]

    def alive(self) -> bool:
        """Whether the client is connected and every process of the local cluster still runs
        (the nanny restarts a worker killed for memory; a dead scheduler or nanny is not)."""
        if self.client.status != "running":
            return False
        if self.cluster is None:
            return True
        processes = [self.cluster.scheduler, *self.cluster.workers.values()]
        return not any(p.process is None or exited(p.process.pid) for p in processes)

    def close(self) -> None:
        """Close the cluster; a crashed one cannot close gracefully (its scheduler is gone), so
        what is left of it is killed instead."""
        if self.alive():
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()
            return
        for part in (
            [self.cluster.scheduler, *self.cluster.workers.values()] if self.cluster else []
        ):
            if part.process is None:
                continue  # already stopped (Dask's own exit hook may run first)
            with contextlib.suppress(ProcessLookupError):
                os.kill(part.process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):  # best effort: the client's scheduler is dead
            self.client.close(timeout=1)


class DaskBackend(Backend):
    name = "dask"
    shares_process = False
    ships_invocations = True

    def cluster(self) -> DaskCluster:
        """The warm cluster of this kind of VM executor, started on first use."""
        config = self.executor.config
        return warm.acquire(
            warm.pool_key(self.executor),
            DaskCluster,
            lambda: DaskCluster(
                config if isinstance(config, VmConfig) else None,
                environment=self.executor.provider.store.worker_environment(),
            ),
        )

    def submit(self, job: Job, done: Done) -> object:
        provider = job.target.provider
        root = job.unit.root.id
        payload = encode(describe(job, self.services.run_id))
        what = f"VM executor {self.executor.name!r}"
        key = f"glacier-{job.unit.id}-{job.attempt}-{secrets.token_hex(4)}"
        try:
            future = self.cluster().client.submit(invoke, payload, key=key, pure=False)
        except ConfigError as exc:
            done(Outcome.failure(root, exc))
            return None

        def finished(f: Any) -> None:
            if not f.cancelled():  # a dead worker (KilledWorker) fails the attempt in deliver
                deliver(job, done, what, lambda: decode_outcome(f.result(), provider))

        future.add_done_callback(finished)
        return future

    def cancel(self, handle: object) -> None:
        if handle is not None:
            handle.cancel()  # type: ignore[attr-defined]
