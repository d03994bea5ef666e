"""Emulated executors kept warm across runs in one process, and stopped when it exits.

Starting a worker pool or a local Dask cluster costs from 0.3 s to 1.4 s (measured): paid on
every ``run()``, it dominates a notebook re-running a pipeline or a test suite. So a backend asks
this registry for its long-lived part under a key naming everything that makes two executors'
workers different (:func:`pool_key`), gets the one already running if it is still alive, and
leaves it running after the run. Everything registered is closed at interpreter exit.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import threading
from collections.abc import Callable
from typing import Protocol, TypeVar

from glacier.resources.executor import Executor
from glacier.runtime.invocation import ProviderRef


class Warm(Protocol):
    """What the registry keeps: something that can tell it died, and be closed."""

    def alive(self) -> bool: ...

    def close(self) -> None: ...


W = TypeVar("W", bound=Warm)

_lock = threading.Lock()
_pools: dict[str, Warm] = {}


def pool_key(executor: Executor) -> str:
    """What two executors must share to share workers: kind, config, the environment (secrets)
    their workers get and the provider's description, as a digest so no secret is kept in it."""
    described = json.dumps(
        [
            executor.kind,
            repr(executor.config),
            sorted(executor.provider.store.worker_environment().items()),
            ProviderRef.of(executor.provider).config,
        ]
    )
    return hashlib.sha256(described.encode()).hexdigest()


def acquire(key: str, kind: type[W], make: Callable[[], W]) -> W:
    """The live pool registered under ``key``, or a new one from ``make`` (replacing a dead one).

    ``make`` runs under the registry's lock, so two runs starting at once build one pool.
    """
    with _lock:
        pool = _pools.get(key)
        if isinstance(pool, kind) and pool.alive():
            return pool
        if pool is not None:
            _pools.pop(key)
            pool.close()
        made = make()
        _pools[key] = made
        return made


def close_all() -> None:
    """Close every warm pool: at interpreter exit, or for a caller that wants cold runs."""
    with _lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.close()


atexit.register(close_all)
