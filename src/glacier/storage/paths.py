"""Object keys: validated so a bucket path can never reach outside its bucket."""

from __future__ import annotations

from pathlib import PurePosixPath

from glacier.errors import StorageError

_GLOB_CHARS = frozenset("*?[")


def has_glob(key: str) -> bool:
    return any(c in _GLOB_CHARS for c in key)


def clean_key(bucket: str, key: str) -> str:
    """Normalise ``key`` (``a//b`` -> ``a/b``) and refuse absolute paths and ``..``."""
    if not isinstance(key, str) or not key.strip():
        raise StorageError(
            f"Bucket {bucket!r}: path {key!r} is empty. Give a file path such "
            f"as 'sales/2024.parquet' or a glob such as 'sales/*.parquet'."
        )
    if "\\" in key or key.startswith(("/", "~")) or (len(key) > 1 and key[1] == ":"):
        raise StorageError(
            f"Bucket {bucket!r}: path {key!r} is absolute. Paths are relative "
            f"to the bucket; drop the leading '/'."
        )
    parts = PurePosixPath(key).parts
    if ".." in parts:
        raise StorageError(
            f"Bucket {bucket!r}: path {key!r} escapes the bucket with '..'. "
            f"Use a path inside the bucket, or another bucket."
        )
    return PurePosixPath(*[p for p in parts if p != "."]).as_posix()
