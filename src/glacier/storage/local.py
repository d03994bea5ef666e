"""Local folders as an object store: a bucket is a folder under the provider's base path."""

from __future__ import annotations

import contextlib
import os
import zlib
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glacier.config.provider import LocalConfig
from glacier.storage.base import Listing, ObjectInfo, ObjectStore
from glacier.storage.commit import CommitToken, committing
from glacier.storage.paths import has_glob, is_temp, temp_key


class LocalStore(ObjectStore):
    """Buckets are folders under ``root``; commits are ``os.replace`` of a hidden temp file."""

    scheme = "file"
    snapshot_reads = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStore({str(self.root)!r})"

    def uri(self, bucket: str, key: str) -> str:
        return str(self.root / bucket / key)

    def storage_options(self) -> dict[str, Any] | None:
        return None

    def bucket_exists(self, bucket: str) -> bool:
        return (self.root / bucket).is_dir()

    def list(self, bucket: str, pattern: str) -> list[ObjectInfo]:
        base = self.root / bucket
        if has_glob(pattern):
            paths = [p for p in base.glob(pattern) if p.is_file() and not is_temp(p.name)]
        else:
            paths = [base / pattern] if (base / pattern).is_file() else []
        return _infos(base, sorted(paths))

    def list_all(self, bucket: str, prefix: str) -> Listing:
        base = self.root / bucket
        found: list[ObjectInfo] = []
        start = prefix.strip("/")
        pending = [(str(base / start) if start else str(base), start)]
        while pending:  # os.scandir: a clean-up walks the whole staging area after each run
            folder, key = pending.pop()
            try:
                entries = list(os.scandir(folder))
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in entries:
                name = f"{key}/{entry.name}" if key else entry.name
                if entry.is_dir(follow_symlinks=False):
                    pending.append((entry.path, name))
                elif entry.is_file():
                    with contextlib.suppress(FileNotFoundError):  # removed since it was listed
                        found.append(_info(name, entry.stat()))
        return sorted(found, key=lambda o: o.key)

    def list_prefix(self, bucket: str, prefix: str) -> Listing:
        base = self.root / bucket
        folder, _, start = prefix.rpartition("/")
        where = base / folder if folder else base
        if not where.is_dir():
            return []
        return _infos(base, sorted(p for p in where.iterdir() if p.name.startswith(start)))

    def write_atomic(
        self,
        bucket: str,
        key: str,
        writer: Callable[[str], None],
        token: CommitToken | None = None,
    ) -> None:
        final = self.root / bucket / key
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = self.root / bucket / temp_key(key)
        try:
            writer(str(temp))
            with committing(token, str(final)):
                os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)

    def put_bytes(
        self, bucket: str, key: str, data: bytes, token: CommitToken | None = None
    ) -> None:
        def put(path: str) -> None:
            Path(path).write_bytes(data)

        self.write_atomic(bucket, key, put, token)

    def get_bytes(self, bucket: str, key: str) -> bytes | None:
        try:
            return (self.root / bucket / key).read_bytes()
        except FileNotFoundError:
            return None

    def checksum(self, bucket: str, key: str) -> str | None:
        """Size and CRC-32 of the file: local disks do not check content, so hash it.

        CRC-32 (as in gzip and zip) catches truncated and garbled files at several GB/s, which
        keeps a staged hand-off close to a bare Parquet write; no adversary writes the cache.
        """
        path = self.root / bucket / key
        crc, size = 0, 0
        try:
            with path.open("rb") as f:
                while chunk := f.read(1 << 22):
                    crc, size = zlib.crc32(chunk, crc), size + len(chunk)
        except (FileNotFoundError, IsADirectoryError):
            return None
        return f"crc32:{size}:{crc:08x}"

    def checksum_of(self, bucket: str, info: ObjectInfo) -> str | None:
        return self.checksum(bucket, info.key)

    def delete_many(self, bucket: str, keys: Sequence[str]) -> None:
        """Remove files, and the folders they leave empty (an object store has no folders);
        never a bucket's top-level folder, which another writer may be about to use."""
        base = self.root / bucket
        folders: set[Path] = set()
        for key in keys:
            path = base / key
            path.unlink(missing_ok=True)
            folders.update(p for p in path.parents if base in p.parents and p.parent != base)
        for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):  # not empty, or gone already
                folder.rmdir()


def _infos(base: Path, paths: Sequence[Path]) -> list[ObjectInfo]:
    infos = []
    for path in paths:
        try:
            st = path.stat()
        except FileNotFoundError:
            continue  # removed since it was listed
        infos.append(_info(path.relative_to(base).as_posix(), st))
    return infos


def _info(key: str, st: os.stat_result) -> ObjectInfo:
    return ObjectInfo(
        key=key,
        size=st.st_size,
        modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
        version=f"{st.st_size}-{st.st_mtime_ns}",
    )


def open_store(config: LocalConfig) -> LocalStore:
    return LocalStore(config.base_path)
