"""The seam between the cloud-mode backend and each cloud's way of invoking a deployed executor.

A transport sends one JSON event (see :mod:`glacier.runtime.wire`) to one deployed function, VM
cluster or Spark job, waits for its JSON reply and returns it. Everything else cloud mode does
(concurrency, retries, cache, staging, reports) is generic and lives in the backend that holds
transports, so a cloud adds only ``glacier/clouds/<cloud>/transport.py`` (registry part
``transport``: ``open_transport(target) -> Transport``).

A transport turns what the *platform* reports into Glacier's errors, as local emulation does:
the function ran out of memory -> :class:`~glacier.errors.TaskOutOfMemory`, ran past its
timeout -> :class:`~glacier.errors.TaskTimeout`, died or answered with a platform error ->
:class:`~glacier.errors.TaskCrashed`; refused the caller (not found, not authorized) ->
:class:`~glacier.errors.DeploymentError`. A task that raised is not a transport error: the
handler answers normally, with a failed outcome in its reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from glacier.config.provider import ProviderConfig


@dataclass(frozen=True)
class Target:
    """One deployed executor, as a transport needs it: plain data from the deployment."""

    executor: str
    """The executor's name in the pipeline."""
    kind: str
    """``serverless``, ``vm`` or ``cluster``."""
    entry: Mapping[str, Any]
    """Its entry in the Terraform outputs (``functions``, ``vms`` or ``clusters``), e.g.
    ``{"name": ..., "arn": ...}`` for a Lambda function, ``{"name": ..., "url": ...}`` for a
    Cloud Function or an Azure Function."""
    provider: ProviderConfig
    """The runner's provider config: region, profile, project, credentials to call with."""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    """Service -> URL overrides (``glacier emulate`` sets ``{"lambda": "http://127.0.0.1:..."}``
    and the like); empty for a real deployment."""
    secret: str | None = field(default=None, repr=False)
    """A credential the outputs hold for this executor (an Azure function key); never logged."""
    timeout: float | None = None
    """The executor's configured timeout in seconds, so a transport waits a little longer."""
    memory: int | None = None
    """The executor's configured memory in MB, for messages."""


class Transport(Protocol):
    """Invokes one deployed executor; safe to call from several threads at once."""

    @property
    def where(self) -> str:
        """Where a unit ran, for progress and reports, e.g. ``lambda glacier-sales-clean``."""
        ...

    def invoke(self, event: Mapping[str, Any]) -> Mapping[str, Any]:
        """Send ``event``, return the handler's JSON reply; raise Glacier's errors (above)."""
        ...

    def close(self) -> None:
        """Release clients and connections; the transport is not used afterwards."""
        ...
