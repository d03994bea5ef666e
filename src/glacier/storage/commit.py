"""The right of one attempt to publish what it wrote, which the scheduler can take back.

A local task whose timeout expired cannot be stopped (a thread cannot be killed), so it may
finish long after the scheduler gave up on it and started a retry. Everything an attempt writes
goes to names of its own (temporary files, parts with a write id) and becomes visible only in
one short step (a rename, a marker, a copy); that step runs under the attempt's
:class:`CommitToken`, so once the scheduler revokes it the late attempt publishes nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from glacier.errors import GlacierError


class AttemptRevoked(GlacierError):
    """An attempt tried to publish a write after the scheduler gave up on it."""


class CommitToken:
    """One attempt's right to commit; :meth:`revoke` waits for a commit in progress to finish,
    so after it returns nothing of the attempt can become visible any more."""

    __slots__ = ("_lock", "_revoked", "label")

    def __init__(self, label: str = "") -> None:
        self.label = label
        self._lock = threading.Lock()
        self._revoked = False

    def __repr__(self) -> str:
        return f"<CommitToken {self.label!r}{' revoked' if self._revoked else ''}>"

    def revoke(self) -> None:
        with self._lock:
            self._revoked = True

    @property
    def revoked(self) -> bool:
        return self._revoked

    @contextmanager
    def commit(self, what: str) -> Iterator[None]:
        """Hold the right to commit while the block publishes ``what``; refuse once revoked."""
        with self._lock:
            if self._revoked:
                raise AttemptRevoked(
                    f"{self.label or 'An attempt'}: not publishing {what}, because the "
                    f"scheduler gave up on this attempt (its timeout expired) and another "
                    f"attempt owns the output now."
                )
            yield


def committing(token: CommitToken | None, what: str) -> AbstractContextManager[None]:
    """``token.commit(what)``, or nothing to hold when the write cannot be revoked."""
    return token.commit(what) if token is not None else nullcontext()
