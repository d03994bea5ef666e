"""Object keys: validated so a bucket path can never reach outside its bucket."""

from __future__ import annotations

import re
import uuid
from pathlib import PurePosixPath

from glacier.clouds import CLOUDS, Cloud
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


# -- globs, as Polars and object stores expand them -------------------------------------------

TEMP_SUFFIX = ".glacier-tmp"


def temp_key(key: str) -> str:
    """A hidden name of its own next to ``key`` for one write: ``a/.b.parquet.<id>.glacier-tmp``."""
    folder, _, name = key.rpartition("/")
    temp = f".{name}.{uuid.uuid4().hex[:12]}{TEMP_SUFFIX}"
    return f"{folder}/{temp}" if folder else temp


def is_temp(key: str) -> bool:
    """A half-written file from an atomic write in progress (``.name.<id>.glacier-tmp``)."""
    name = key.rsplit("/", 1)[-1]
    return name.startswith(".") and name.endswith(TEMP_SUFFIX)


def static_prefix(pattern: str) -> str:
    """The folder part of a glob before its first wildcard: ``a/b/*/c.csv`` -> ``a/b``."""
    parts = pattern.split("/")
    fixed = []
    for part in parts[:-1]:
        if has_glob(part):
            break
        fixed.append(part)
    return "/".join(fixed)


def glob_regex(pattern: str) -> re.Pattern[str]:
    """``*`` and ``?`` stay inside one folder, ``**/`` spans any number of folders."""
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


# -- URIs the user may pass instead of bare bucket names --------------------------------------


def split_uri(cloud: Cloud, bucket: str, path: str) -> tuple[str, str]:
    """Accept ``provider.bucket("<scheme>://raw", ...)`` in the provider's own schemes (the
    registry's ``schemes``); refuse another cloud's."""
    if not isinstance(bucket, str) or "://" not in bucket:
        return bucket, path
    scheme, _, rest = bucket.partition("://")
    own = CLOUDS[cloud].schemes
    if scheme.lower() not in own:
        owner = next((c for c, p in CLOUDS.items() if scheme.lower() in p.schemes), None)
        fix = (
            f"Use a Provider with the {owner.value} config for it"
            if owner is not None
            else f"Use one of {', '.join(s + '://' for s in own)}"
        )
        raise StorageError(
            f"Bucket URI {bucket + '/' + path!r} uses the {scheme}:// scheme, which a "
            f"{cloud.value} provider cannot open. {fix}, or pass the bare bucket name."
        )
    name, _, extra = rest.partition("/")
    return name, f"{extra.rstrip('/')}/{path}" if extra else path
