"""What ``glacier emulate`` asks of each cloud: serve built function packages on 127.0.0.1.

``glacier emulate DIR`` reads the packages ``glacier package`` built into ``DIR/build``, decides
each function's emulated name and environment (what the generated Terraform would set, pointed
at S3/GCS/Azure-compatible storage servers), and hands them to the cloud's emulator (registry
part ``emulator``: ``start(functions) -> Emulated``, in ``glacier/clouds/<cloud>/emulator.py``).
The cloud's emulator serves them behind the platform's own protocol, so the cloud's real client
(boto3's Lambda client, an HTTPS POST) reaches them as it would reach the deployed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class EmulatedFunction:
    """One serverless executor to serve, as Terraform would deploy it."""

    executor: str
    """The executor's name in the pipeline."""
    name: str
    """The function's deployed name (what Terraform would call it)."""
    package: Path
    """The built code zip (``build/<executor>.zip``); served unzipped, in a fresh process."""
    environment: Mapping[str, str] = field(repr=False)
    """Exactly the variables the function gets (Terraform's, plus storage credentials and
    endpoints for the emulated storage); the emulator adds only what the platform sets itself
    (``PATH``, ``PYTHONPATH`` of the unzipped package, the platform's own variables)."""
    memory: int | None = None
    """Memory limit in MB, enforced on the process tree as local emulation does."""
    timeout: float | None = None
    """Seconds an invocation may run before the platform kills it."""
    layers: tuple[Path, ...] = ()
    """Shared archives (AWS layers); put on the path when built for this machine's CPU."""


class Emulated(Protocol):
    """Running emulated functions of one cloud."""

    @property
    def functions(self) -> Mapping[str, Mapping[str, Any]]:
        """Executor -> its entry in the shape of the Terraform output ``functions``."""
        ...

    @property
    def endpoints(self) -> Mapping[str, str]:
        """Service -> URL a client must use instead of the cloud's (``{"lambda": url}``)."""
        ...

    @property
    def secrets(self) -> Mapping[str, str]:
        """Executor -> credential the caller sends (Azure function keys); empty if none."""
        ...

    def close(self) -> None:
        """Stop every server and function process."""
        ...
