"""The storage interface: what a bucket needs from an object store, whatever the scheme.

:class:`~glacier.resources.bucket.Bucket` talks only to :class:`ObjectStore`; each scheme
(local folders here, ``s3://``, ``gs://``, ``az://`` elsewhere) implements it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ObjectInfo:
    """One stored object: its key in the bucket, size, modification time and version tag.

    ``version`` is whatever identifies this exact content cheaply: an object version id or
    ETag on clouds, ``size-mtime_ns`` on local disk.
    """

    key: str
    size: int
    modified: datetime
    version: str


def fingerprint(objects: Sequence[ObjectInfo]) -> str:
    """A short hash that changes whenever any object is added, removed or rewritten."""
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.version}\n".encode())
    return digest.hexdigest()[:16]


class ObjectStore(ABC):
    """An object store rooted at one place (a folder, an account, a project)."""

    scheme: str

    @abstractmethod
    def uri(self, bucket: str, key: str) -> str:
        """The address Polars reads and writes for ``key`` in ``bucket``."""

    @abstractmethod
    def storage_options(self) -> dict[str, Any] | None:
        """Options Polars needs for this store (credentials, endpoint); None when local."""

    @abstractmethod
    def bucket_exists(self, bucket: str) -> bool:
        """Whether the bucket (folder, container) exists."""

    @abstractmethod
    def list(self, bucket: str, pattern: str) -> list[ObjectInfo]:
        """Objects whose key is ``pattern`` or matches it as a glob, sorted by key."""

    @abstractmethod
    def write_atomic(self, bucket: str, key: str, writer: Callable[[str], None]) -> None:
        """Call ``writer(temporary_uri)``, then make the result visible at ``key`` at once.

        A failure or a kill before the commit leaves any previous object at ``key`` intact.
        """

    @abstractmethod
    def delete(self, bucket: str, key: str) -> None:
        """Remove one object if it exists."""
