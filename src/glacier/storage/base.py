"""The storage interface: what a bucket needs from an object store, whatever the scheme.

:class:`~glacier.resources.bucket.Bucket` talks only to :class:`ObjectStore`; each scheme
(local folders in ``storage/local.py``, each cloud's in ``glacier/clouds/<cloud>/store.py``)
implements it.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from glacier.storage.commit import CommitToken
from glacier.storage.failures import translated
from glacier.storage.paths import is_temp


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


Listing = list[ObjectInfo]
"""What a listing returns (an alias, since stores have a method named ``list``)."""


def fingerprint(objects: Sequence[ObjectInfo]) -> str:
    """A short hash that changes whenever any object is added, removed or rewritten."""
    digest = hashlib.sha256()
    for obj in sorted(objects, key=lambda o: o.key):
        digest.update(f"{obj.key}\0{obj.version}\n".encode())
    return digest.hexdigest()[:16]


class ObjectStore(ABC):
    """An object store rooted at one place (a folder, an account, a project)."""

    scheme: str
    credential_hint = "Check the provider's credentials."
    """Where this store's credentials come from, quoted when the server rejects them."""
    snapshot_reads = False
    """True when a read sees one version of a file even if it is replaced meanwhile (an open
    local file keeps its contents); object stores fetch ranges that may span a replacement."""

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
    def list_all(self, bucket: str, prefix: str) -> Listing:
        """Every object under the folder ``prefix`` ("" for the whole bucket), temporaries,
        markers and uncommitted parts included: what a clean-up looks at."""

    @abstractmethod
    def write_atomic(
        self,
        bucket: str,
        key: str,
        writer: Callable[[str], None],
        token: CommitToken | None = None,
    ) -> None:
        """Call ``writer(uri)`` so that the result becomes visible at ``key`` all at once.

        ``uri`` is a temporary name that is renamed into place (local disk), or ``key``
        itself where the store publishes an upload only when it completes (object stores).
        A failure or a kill before the commit leaves any previous object at ``key`` intact.
        The step that publishes runs under ``token``, so a revoked attempt publishes nothing.
        """

    @abstractmethod
    def put_bytes(
        self, bucket: str, key: str, data: bytes, token: CommitToken | None = None
    ) -> None:
        """Store a small object atomically (markers, reports), under ``token`` if given."""

    @abstractmethod
    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        """A small object's content, or None if it does not exist."""

    @abstractmethod
    def delete_many(self, bucket: str, keys: Sequence[str]) -> None:
        """Remove objects; keys that do not exist are ignored."""

    def temporaries(self, bucket: str, key: str) -> Listing:
        """Temporaries of writes to ``key`` (``.<name>.<id>.glacier-tmp`` beside it): what a
        killed write left behind."""
        folder, _, name = key.rpartition("/")
        return [
            o
            for o in self.list_prefix(bucket, f"{folder}/.{name}." if folder else f".{name}.")
            if is_temp(o.key)
        ]

    def list_prefix(self, bucket: str, prefix: str) -> Listing:
        """Every object whose key starts with ``prefix`` (a plain string, not a folder)."""
        folder = prefix.rpartition("/")[0]
        return [o for o in self.list_all(bucket, folder) if o.key.startswith(prefix)]

    def worker_environment(self) -> dict[str, str]:
        """Variables through which a worker process on this machine gets this store's secrets.

        Invocations carry no secrets; a local worker (like a function in the cloud, which
        gets its role from its runtime) resolves credentials from its environment instead.
        """
        return {}

    def checksum(self, bucket: str, key: str) -> str | None:
        """What identifies one object's exact content, to detect a changed or corrupt file.

        Object stores verify content themselves, so their version tag (ETag, generation) serves;
        None when the object does not exist.
        """
        objects = self.list(bucket, key)
        return self.checksum_of(bucket, objects[0]) if objects else None

    def checksum_of(self, bucket: str, info: ObjectInfo) -> str | None:
        """:meth:`checksum` of an object just listed, without asking the store about it again."""
        return f"{info.size}:{info.version}"

    def delete(self, bucket: str, key: str) -> None:
        """Remove one object if it exists."""
        self.delete_many(bucket, [key])

    def secrets(self) -> tuple[str, ...]:
        """Secret values this store holds, masked in every error message."""
        return ()

    @contextmanager
    def errors(self, bucket: str, key: str, action: str) -> Iterator[None]:
        """Turn client exceptions in the block into a :class:`StorageError` naming the URI."""
        with translated(
            self.uri(bucket, key),
            bucket,
            action,
            secrets=self.secrets(),
            credential_hint=self.credential_hint,
        ):
            yield
