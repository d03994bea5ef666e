"""Multi-file and hive-partitioned outputs, committed all at once by a marker file.

A write to a glob path (``events/**/*.parquet``) writes new files with names unique to that
write (``day=2026-01-01/part-<write id>-0.parquet``) under the glob's folder, the dataset root,
then publishes them by replacing ``<root>/_glacier_commit.json`` with one atomic PUT (or
rename, locally). The marker lists the committed files; readers that find a marker at the root
of their glob, or above it, read exactly those files, so they see the previous write or the new
one in full, never a mix. The files of the write before last are deleted at commit, so a reader
still holding the previous listing can finish.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import polars as pl

from glacier.errors import StorageError
from glacier.storage.base import ObjectInfo, ObjectStore
from glacier.storage.commit import CommitToken
from glacier.storage.formats import Format
from glacier.storage.paths import glob_regex, is_temp, static_prefix

MARKER = "_glacier_commit.json"
HIVE_FORMATS = frozenset({Format.PARQUET, Format.IPC})  # formats Polars reads hive-style
FILE_BYTES = 512 * 1024 * 1024  # in-memory size per file before a dataset write starts another
_HIVE_NULL = "__HIVE_DEFAULT_PARTITION__"
LEFTOVER_GRACE = timedelta(hours=1)
"""How old an uncommitted part or temporary must be before a clean-up deletes it: older than
any write that could still be in progress."""
_PART = re.compile(r"(?:^|/)part-[0-9a-f]{12}-\d+\.[a-z]+\Z")


@dataclass(frozen=True)
class Commit:
    """One committed write of a dataset: its files, relative to ``root``."""

    root: str
    files: list[str]
    partition_by: list[str] = field(default_factory=list)
    previous: list[str] = field(default_factory=list)
    write_id: str = ""

    def keys(self) -> set[str]:
        return {_join(self.root, f) for f in self.files}

    def to_json(self) -> bytes:
        body = {
            "format": 1,
            "write_id": self.write_id,
            "committed": datetime.now(UTC).isoformat(),
            "partition_by": self.partition_by,
            "files": self.files,
            "previous": self.previous,
        }
        return json.dumps(body, indent=1).encode()

    @classmethod
    def from_json(cls, root: str, data: bytes) -> Commit:
        body: dict[str, Any] = json.loads(data)
        return cls(
            root=root,
            files=list(body["files"]),
            partition_by=list(body.get("partition_by", [])),
            previous=list(body.get("previous", [])),
            write_id=str(body.get("write_id", "")),
        )


def find_commit(store: ObjectStore, bucket: str, pattern: str) -> Commit | None:
    """The marker governing ``pattern``: at the glob's folder or the nearest folder above."""
    root = static_prefix(pattern)
    while True:
        data = store.get_bytes(bucket, _join(root, MARKER))
        if data is not None:
            return Commit.from_json(root, data)
        if not root:
            return None
        root = root.rpartition("/")[0]


def committed(objects: list[ObjectInfo], commit: Commit | None) -> list[ObjectInfo]:
    """Keep only the objects a commit published (all of them when there is no marker)."""
    if commit is None:
        return objects
    keys = commit.keys()
    return [o for o in objects if o.key in keys]


def write(
    store: ObjectStore,
    bucket: str,
    pattern: str,
    frame: pl.DataFrame | pl.LazyFrame,
    fmt: Format,
    partition_by: Sequence[str],
    token: CommitToken | None = None,
) -> Commit:
    """Write ``frame`` as files under the glob's folder and commit them with the marker.

    The marker is written under ``token``: a revoked attempt leaves only invisible parts.
    """
    root = static_prefix(pattern)
    partition_by = list(partition_by)
    _check_layout(bucket, pattern, fmt, partition_by)
    write_id = uuid.uuid4().hex[:12]
    written: list[str] = []

    def name(args: pl.io.partition.FileProviderArgs) -> str:
        keys = args.partition_keys.select(pl.all().cast(pl.String)).row(0) if partition_by else ()
        folders = [f"{c}={_hive_value(v)}" for c, v in zip(partition_by, keys, strict=True)]
        path = "/".join([*folders, f"part-{write_id}-{args.index_in_partition}.{fmt.value}"])
        written.append(path)
        return path

    target = pl.PartitionBy(
        store.uri(bucket, root + "/" if root else ""),
        key=partition_by or None,
        include_key=False if partition_by else None,
        file_path_provider=name,
        approximate_bytes_per_file=FILE_BYTES,
    )
    options = store.storage_options()
    kwargs = {"storage_options": options} if options else {}
    with store.errors(bucket, root, "write"):
        old = _commit_at(store, bucket, root) or _adopt(store, bucket, root, token)
        getattr(frame.lazy(), f"sink_{fmt.value}")(target, **kwargs)
        commit = Commit(
            root=root,
            files=sorted(written),
            partition_by=partition_by,
            previous=old.files if old.write_id else [],  # never delete what others put there
            write_id=write_id,
        )
        store.put_bytes(bucket, _join(root, MARKER), commit.to_json(), token)
        keep = set(commit.files) | set(old.files)
        store.delete_many(bucket, [_join(root, f) for f in old.previous if f not in keep])
        remove_leftovers(store, bucket, root, keep)
    return commit


def _adopt(store: ObjectStore, bucket: str, root: str, token: CommitToken | None) -> Commit:
    """Before a root's first write: a marker listing what readers see there now.

    Files other tools put there stay readable until the commit; parts of a write (this one,
    or one killed before there were markers) are never adopted.
    """
    files = [
        _relative(root, o.key)
        for o in store.list_all(bucket, root)
        if not is_temp(o.key) and not _PART.search(o.key) and not o.key.endswith(MARKER)
    ]
    adopted = Commit(root=root, files=files)
    store.put_bytes(bucket, _join(root, MARKER), adopted.to_json(), token)
    return adopted


def leftovers(
    store: ObjectStore,
    bucket: str,
    root: str,
    keep: set[str] | None = None,
    grace: timedelta = LEFTOVER_GRACE,
) -> list[ObjectInfo]:
    """Uncommitted parts and temporaries under ``root`` older than ``grace``.

    ``keep`` are files (relative to ``root``) still in use; by default the marker's current and
    previous files. A root without a marker has no parts of its own, only temporaries.
    """
    if keep is None:
        commit = _commit_at(store, bucket, root)
        keep = set(commit.files) | set(commit.previous) if commit else set()
    cutoff = datetime.now(UTC) - grace
    return [
        o
        for o in store.list_all(bucket, root)
        if o.modified < cutoff
        and (is_temp(o.key) or (_PART.search(o.key) and _relative(root, o.key) not in keep))
    ]


def old_temporaries(
    store: ObjectStore, bucket: str, key: str, grace: timedelta = LEFTOVER_GRACE
) -> list[ObjectInfo]:
    """Temporaries older than ``grace`` beside the single file ``key``: killed writes' leftovers."""
    cutoff = datetime.now(UTC) - grace
    return [o for o in store.temporaries(bucket, key) if o.modified < cutoff]


def remove_temporaries(
    store: ObjectStore, bucket: str, key: str, grace: timedelta = LEFTOVER_GRACE
) -> list[ObjectInfo]:
    """Delete :func:`old_temporaries`; returns what was deleted."""
    found = old_temporaries(store, bucket, key, grace)
    store.delete_many(bucket, [o.key for o in found])
    return found


def remove_leftovers(
    store: ObjectStore,
    bucket: str,
    root: str,
    keep: set[str] | None = None,
    grace: timedelta = LEFTOVER_GRACE,
) -> list[ObjectInfo]:
    """Delete :func:`leftovers`; returns what was deleted."""
    found = leftovers(store, bucket, root, keep, grace)
    store.delete_many(bucket, [o.key for o in found])
    return found


def _commit_at(store: ObjectStore, bucket: str, root: str) -> Commit | None:
    data = store.get_bytes(bucket, _join(root, MARKER))
    return Commit.from_json(root, data) if data is not None else None


def _check_layout(bucket: str, pattern: str, fmt: Format, partition_by: list[str]) -> None:
    """Refuse a write whose files the bucket's own glob would not find again."""
    if partition_by and fmt not in HIVE_FORMATS:
        raise StorageError(
            f"Bucket {bucket}/{pattern}: partition_by needs a format Polars reads hive-style "
            f"(Parquet or IPC), not {fmt.value}. Use a .parquet path."
        )
    root = static_prefix(pattern)
    sample = "/".join([*(f"{c}=x" for c in partition_by), f"part-0-0.{fmt.value}"])
    if not glob_regex(pattern).match(_join(root, sample)):
        example = _join(root, "**/*." + fmt.value if partition_by else "*." + fmt.value)
        raise StorageError(
            f"Bucket {bucket}/{pattern}: files written there "
            f"({'partitioned by ' + ', '.join(partition_by) if partition_by else 'one folder'})"
            f" would not match the path's glob. Use a path such as {example!r}."
        )


def _hive_value(value: str | None) -> str:
    return _HIVE_NULL if value is None else quote(value, safe="")


def _join(root: str, name: str) -> str:
    return f"{root}/{name}" if root else name


def _relative(root: str, key: str) -> str:
    return key[len(root) + 1 :] if root else key
