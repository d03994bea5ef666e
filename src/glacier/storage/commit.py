"""The right of one attempt to publish what it wrote, which the scheduler can take back.

A local task whose timeout expired cannot be stopped (a thread cannot be killed), so it may
finish long after the scheduler gave up on it and started a retry. Everything an attempt writes
goes to names of its own (temporary files, parts with a write id) and becomes visible only in
one short step (a rename, a marker, a copy); that step runs under the attempt's
:class:`CommitToken`, so once the scheduler revokes it the late attempt publishes nothing.

An attempt in another process (a Dask worker, whose soft timeout cannot stop it either) gets a
copy of the token by pickle; the revocation reaches it as a small object the scheduler writes
(its :class:`Notice`), which the copy looks for right before each commit.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glacier.errors import GlacierError

if TYPE_CHECKING:
    from glacier.storage.base import ObjectStore


class AttemptRevoked(GlacierError):
    """An attempt tried to publish a write after the scheduler gave up on it."""


@dataclass(frozen=True)
class Notice:
    """Where a revocation is published for copies of the token in other processes."""

    store: ObjectStore
    bucket: str
    key: str

    def posted(self) -> bool:
        return self.store.get_bytes(self.bucket, self.key) is not None

    def post(self) -> None:
        self.store.put_bytes(self.bucket, self.key, b"revoked")


class CommitToken:
    """One attempt's right to commit; :meth:`revoke` waits for a commit in progress in this
    process to finish, so after it returns nothing of the attempt here can become visible."""

    __slots__ = ("_lock", "_remote", "_revoked", "label", "notice")

    def __init__(self, label: str = "", notice: Notice | None = None) -> None:
        self.label = label
        self.notice = notice
        self._lock = threading.Lock()
        self._revoked = False
        self._remote = False  # a copy in another process: only the notice can tell it

    def __repr__(self) -> str:
        return f"<CommitToken {self.label!r}{' revoked' if self._revoked else ''}>"

    def __reduce__(self) -> tuple[Any, ...]:
        return (remote_copy, (self.label, self.notice, self._revoked))

    def revoke(self) -> None:
        with self._lock:
            self._revoked = True
        if self.notice is not None:
            try:
                self.notice.post()
            except GlacierError as exc:  # this process is safe; say that workers may not be
                warnings.warn(
                    f"{self.label}: could not tell worker processes that this attempt is "
                    f"given up on ({exc}); a late one may still publish its output.",
                    stacklevel=2,
                )

    @property
    def revoked(self) -> bool:
        return self._revoked

    @contextmanager
    def commit(self, what: str) -> Iterator[None]:
        """Hold the right to commit while the block publishes ``what``; refuse once revoked."""
        with self._lock:
            if self._revoked or (self._remote and self.notice and self.notice.posted()):
                raise AttemptRevoked(
                    f"{self.label or 'An attempt'}: not publishing {what}, because the "
                    f"scheduler gave up on this attempt (its timeout expired) and another "
                    f"attempt owns the output now."
                )
            yield


def remote_copy(label: str, notice: Notice | None, revoked: bool) -> CommitToken:
    """The token as a worker in another process holds it: revoked only through ``notice``."""
    token = CommitToken(label, notice)
    token._remote, token._revoked = True, revoked
    return token


def committing(token: CommitToken | None, what: str) -> AbstractContextManager[None]:
    """``token.commit(what)``, or nothing to hold when the write cannot be revoked."""
    return token.commit(what) if token is not None else nullcontext()
