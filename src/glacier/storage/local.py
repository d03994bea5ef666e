"""Local folders as an object store: a bucket is a folder under the provider's base path."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glacier.config.provider import LocalConfig
from glacier.storage.base import ObjectInfo, ObjectStore
from glacier.storage.paths import has_glob

TEMP_SUFFIX = ".glacier-tmp"


class LocalStore(ObjectStore):
    """Buckets are folders under ``root``; commits are ``os.replace`` of a hidden temp file."""

    scheme = "file"

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
            paths = [p for p in base.glob(pattern) if p.is_file() and not _is_temp(p)]
        else:
            paths = [base / pattern] if (base / pattern).is_file() else []
        infos = []
        for path in sorted(paths):
            st = path.stat()
            infos.append(
                ObjectInfo(
                    key=path.relative_to(base).as_posix(),
                    size=st.st_size,
                    modified=datetime.fromtimestamp(st.st_mtime, tz=UTC),
                    version=f"{st.st_size}-{st.st_mtime_ns}",
                )
            )
        return infos

    def write_atomic(self, bucket: str, key: str, writer: Callable[[str], None]) -> None:
        final = self.root / bucket / key
        final.parent.mkdir(parents=True, exist_ok=True)
        temp = final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}")
        try:
            writer(str(temp))
            os.replace(temp, final)
        finally:
            temp.unlink(missing_ok=True)

    def delete(self, bucket: str, key: str) -> None:
        (self.root / bucket / key).unlink(missing_ok=True)


def open_store(config: LocalConfig) -> LocalStore:
    return LocalStore(config.base_path)


def _is_temp(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(TEMP_SUFFIX)
