"""Clean-up of the staging area: a run's hand-offs, and a retention for runs and the cache.

A successful run deletes its hand-offs (``runs/<run_id>/*.parquet``; its ``report.json``
stays), unless ``run(keep_handoffs=True)``. After every run, and with ``glacier gc``, the
staging area is pruned by a :class:`Retention` (after a run at most every
:data:`PRUNE_EVERY`): run folders and cache entries older than
``max_age`` go, then the oldest until the area holds at most ``max_bytes``. Never pruned: what
changed within :data:`~glacier.storage.dataset.LEFTOVER_GRACE` (a run still running writes
there, a cache file waits for its manifest). A cache entry is its manifest and its output; the
manifest is deleted first, so the index never names a missing file. Temporaries and outputs no
manifest names, once older than the grace, are leftovers and go in any case.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from glacier.errors import ConfigError
from glacier.runtime.cache import CACHE_PREFIX
from glacier.runtime.report import REPORT_NAME
from glacier.runtime.staging import REVOKED, RUNS_PREFIX, staging_bucket
from glacier.storage.base import ObjectInfo
from glacier.storage.dataset import LEFTOVER_GRACE
from glacier.storage.paths import is_temp

if TYPE_CHECKING:
    from glacier.provider import Provider


PRUNE_EVERY = timedelta(minutes=10)
"""After a run, the staging area is pruned if the last such prune is older than this."""
LAST_PRUNE = "last-prune.json"
"""At the top of the staging area: when a run last pruned it."""


@dataclass(frozen=True)
class Retention:
    """How much of the staging area a provider keeps: ``None`` lifts a limit.

    The defaults keep a month of runs and cache entries within 10 GiB.
    """

    max_age: timedelta | None = timedelta(days=30)
    max_bytes: int | None = 10 * 1024**3

    def __post_init__(self) -> None:
        if self.max_age is not None and (
            not isinstance(self.max_age, timedelta) or self.max_age <= timedelta(0)
        ):
            raise ConfigError(
                f"Retention(max_age={self.max_age!r}): give a positive timedelta, such as "
                f"timedelta(days=7), or None to keep entries of any age."
            )
        if self.max_bytes is not None and (
            isinstance(self.max_bytes, bool)
            or not isinstance(self.max_bytes, int)
            or self.max_bytes < 0
        ):
            raise ConfigError(
                f"Retention(max_bytes={self.max_bytes!r}): give a number of bytes (an int >= 0) "
                f"such as 5 * 1024**3, or None for no size limit."
            )


@dataclass
class Entry:
    """What is kept or deleted together: one run's folder, or one cache entry."""

    name: str
    objects: list[ObjectInfo] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(o.size for o in self.objects)

    @property
    def modified(self) -> datetime:
        return max(o.modified for o in self.objects)


@dataclass
class Freed:
    """What a clean-up deleted (or, in a dry run, would delete)."""

    uris: list[str] = field(default_factory=list)
    bytes: int = 0

    def add(self, provider: Provider, bucket: str, objects: Iterable[ObjectInfo]) -> None:
        for o in objects:
            self.uris.append(provider.store.uri(bucket, o.key))
            self.bytes += o.size


def delete_handoffs(provider: Provider, run_id: str) -> Freed:
    """Delete a finished run's hand-offs, keeping its report and its revocation notices (an
    attempt given up on may still be running in a worker, and must still find its notice)."""
    store, bucket = provider.store, staging_bucket(provider)
    folder = f"{RUNS_PREFIX}/{run_id}"
    objects = [
        o
        for o in store.list_all(bucket, folder)
        if o.key != f"{folder}/{REPORT_NAME}" and not o.key.startswith(f"{folder}/{REVOKED}/")
    ]
    store.delete_many(bucket, [o.key for o in objects])
    freed = Freed()
    freed.add(provider, bucket, objects)
    return freed


def prune(
    provider: Provider,
    retention: Retention = Retention(),
    *,
    dry_run: bool = False,
    now: datetime | None = None,
) -> Freed:
    """Apply ``retention`` and remove leftovers in ``provider``'s staging area."""
    store, bucket = provider.store, staging_bucket(provider)
    now = now or datetime.now(UTC)
    young = now - LEFTOVER_GRACE
    entries, leftovers = _entries(store.list_all(bucket, ""))
    doomed = [o for o in leftovers if o.modified < young]
    kept = [e for e in entries if e.modified >= young]  # in use: never pruned
    old = sorted((e for e in entries if e.modified < young), key=lambda e: e.modified)
    if retention.max_age is not None:
        cutoff = now - retention.max_age
        expired = [e for e in old if e.modified < cutoff]
        old = [e for e in old if e.modified >= cutoff]
        doomed += [o for e in expired for o in e.objects]
    if retention.max_bytes is not None:
        total = sum(e.size for e in kept) + sum(e.size for e in old)
        for entry in old:  # oldest first
            if total <= retention.max_bytes:
                break
            total -= entry.size
            doomed += entry.objects
    # manifests first: a cache entry without its output is never named by the index
    doomed.sort(key=lambda o: (not o.key.endswith(".json"), o.key))
    if not dry_run:
        store.delete_many(bucket, [o.key for o in doomed])
    freed = Freed()
    freed.add(provider, bucket, doomed)
    return freed


def _entries(objects: list[ObjectInfo]) -> tuple[list[Entry], list[ObjectInfo]]:
    """Run folders and cache entries (manifest + output), and leftovers nothing owns."""
    entries: dict[str, Entry] = {}
    leftovers: list[ObjectInfo] = []
    cache: dict[str, list[ObjectInfo]] = {}
    for o in objects:
        if is_temp(o.key):
            leftovers.append(o)
            continue
        top, _, rest = o.key.partition("/")
        if top == RUNS_PREFIX and "/" in rest:
            name = f"{RUNS_PREFIX}/{rest.partition('/')[0]}"
            entries.setdefault(name, Entry(name)).objects.append(o)
        elif top == CACHE_PREFIX:
            cache.setdefault(o.key.rsplit(".", 1)[0], []).append(o)
    for stem, files in cache.items():
        if any(f.key.endswith(".json") for f in files):
            entries[stem] = Entry(stem, files)
        else:  # an output no manifest names: a run killed before its commit, or a stale attempt
            leftovers.extend(files)
    return list(entries.values()), leftovers


def _prune_due(provider: Provider) -> bool:
    """Whether the last prune after a run is :data:`PRUNE_EVERY` old; records this one if so.

    A prune walks the whole staging area (about 0.05 ms per object locally), which a run of
    a few milliseconds should not pay every time; retention is counted in days anyway.
    """
    store, bucket = provider.store, staging_bucket(provider)
    now = datetime.now(UTC)
    raw = store.get_bytes(bucket, LAST_PRUNE)
    try:
        last = datetime.fromisoformat(json.loads(raw)["pruned"]) if raw else None
    except (ValueError, KeyError, TypeError):
        last = None  # unreadable: prune, and write it anew
    if last is not None and now - last < PRUNE_EVERY:
        return False
    store.put_bytes(bucket, LAST_PRUNE, json.dumps({"pruned": now.isoformat()}).encode())
    return True


def after_run(
    providers: Iterable[Provider],
    run_id: str,
    *,
    succeeded: bool,
    keep_handoffs: bool = False,
    retention: Retention | None = None,
) -> None:
    """What every run does last: drop its hand-offs if it succeeded, then prune.

    A clean-up that fails (a read-only or full disk, a missing permission) warns and never
    changes the run's outcome.
    """
    for provider in providers:
        try:
            if succeeded and not keep_handoffs:
                delete_handoffs(provider, run_id)
            if _prune_due(provider):
                prune(provider, retention or Retention())
        except Exception as exc:
            warnings.warn(
                f"Run {run_id}: cleaning the staging area of {provider!r} failed "
                f"({type(exc).__name__}: {exc}); run `glacier gc` later.",
                stacklevel=2,
            )
