"""File formats by extension, and the one place that maps a format to Polars' readers/writers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import PurePosixPath
from typing import Any

import polars as pl

from glacier.errors import StorageError


class Format(StrEnum):
    PARQUET = "parquet"
    CSV = "csv"
    NDJSON = "ndjson"
    IPC = "ipc"


_EXTENSIONS = {
    ".parquet": Format.PARQUET,
    ".pq": Format.PARQUET,
    ".csv": Format.CSV,
    ".ndjson": Format.NDJSON,
    ".jsonl": Format.NDJSON,
    ".ipc": Format.IPC,
    ".arrow": Format.IPC,
    ".feather": Format.IPC,
}

_SCAN: dict[Format, Callable[..., pl.LazyFrame]] = {
    Format.PARQUET: pl.scan_parquet,
    Format.CSV: pl.scan_csv,
    Format.NDJSON: pl.scan_ndjson,
    Format.IPC: pl.scan_ipc,
}


def format_for(path: str) -> Format:
    """The format a path's extension names; a clear error lists the supported ones."""
    suffix = PurePosixPath(path).suffix.lower()
    try:
        return _EXTENSIONS[suffix]
    except KeyError:
        known = ", ".join(sorted(_EXTENSIONS))
        raise StorageError(
            f"Path {path!r}: cannot tell the file format from {suffix or 'no'} "
            f"extension. Use one of {known}."
        ) from None


def scan(
    uris: Sequence[str],
    fmt: Format,
    storage_options: dict[str, Any] | None,
    *,
    hive: bool = False,
) -> pl.LazyFrame:
    """Lazily scan files of one format; ``storage_options`` only for object stores.

    ``hive`` adds the ``key=value`` folders of the paths as columns (Parquet and IPC).
    """
    kwargs: dict[str, Any] = {"storage_options": storage_options} if storage_options else {}
    if hive:
        kwargs["hive_partitioning"] = True
    return _SCAN[fmt](list(uris), **kwargs)


def write(
    frame: pl.DataFrame | pl.LazyFrame,
    uri: str,
    fmt: Format,
    storage_options: dict[str, Any] | None,
) -> None:
    """Write a frame to one file; a LazyFrame streams through ``sink_*`` without collecting."""
    kwargs = {"storage_options": storage_options} if storage_options else {}
    if isinstance(frame, pl.LazyFrame):
        getattr(frame, f"sink_{fmt.value}")(uri, **kwargs)
    elif fmt is Format.NDJSON and storage_options:
        frame.lazy().sink_ndjson(uri, storage_options=storage_options)  # no write_ndjson options
    else:
        getattr(frame, f"write_{fmt.value}")(uri, **kwargs)


def count_rows(
    uris: Sequence[str], fmt: Format, storage_options: dict[str, Any] | None
) -> int | None:
    """Rows in written files when their footers say so cheaply (Parquet, IPC); else None."""
    if fmt not in (Format.PARQUET, Format.IPC):
        return None
    counted = scan(uris, fmt, storage_options).select(pl.len()).collect()
    return int(counted.item())
