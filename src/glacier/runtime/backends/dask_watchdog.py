"""Loaded into every process of a local Dask cluster (Dask's ``preload``): each exits as soon as
the process that started it is gone.

A warm cluster is closed at interpreter exit, but a process that dies without running its exit
hooks (SIGKILL, a notebook kernel restarted, ``os._exit`` as pytest-xdist workers end) leaves
its scheduler and nanny running, and reconnecting, forever: seen here as nine orphaned
clusters, each process taking 5% of a core. An orphan is re-parented, so a changed parent pid
means the starter died; a thread checks it once a second, whatever the event loop is doing.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

CHECK_SECONDS = 1.0
MODULE = __name__
"""What the cluster's processes are told to preload."""


def dask_setup(server: Any) -> None:
    """Dask's preload hook: watch the parent of this process (``server`` is not needed)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(CHECK_SECONDS)
        os._exit(0)  # no graceful close: the scheduler or nanny it would tell is gone too

    threading.Thread(target=watch, name="glacier-parent-watch", daemon=True).start()
