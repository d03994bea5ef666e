"""Storage resources: a path (file or glob) in a bucket, read and written as frames."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import polars as pl

from glacier.config.storage import BucketConfig
from glacier.core.trace import current_tracer
from glacier.errors import StorageError
from glacier.storage import formats
from glacier.storage.base import ObjectInfo, fingerprint
from glacier.storage.paths import clean_key, has_glob

if TYPE_CHECKING:
    from glacier.provider import Provider


@dataclass(frozen=True)
class BucketMetadata:
    """What is stored at a bucket path right now; ``fingerprint`` changes with any content."""

    uri: str
    format: str
    files: int
    size: int
    modified: datetime | None
    fingerprint: str


class Bucket:
    """``bucket/path`` on the provider's storage. The format comes from the extension."""

    def __init__(
        self, provider: Provider, bucket: str, path: str, config: BucketConfig | None = None
    ) -> None:
        self.provider = provider
        self.bucket = bucket
        self.path = clean_key(bucket, path)
        self.config = config
        self.format = formats.format_for(self.path)

    def __repr__(self) -> str:
        return f"<Bucket {self.address} ({self.format.value}) on {self.provider.cloud.value}>"

    @property
    def address(self) -> str:
        """``bucket/path``, the provider-independent name used in graphs and plans."""
        return f"{self.bucket}/{self.path}"

    @property
    def uri(self) -> str:
        return self.provider.store.uri(self.bucket, self.path)

    @property
    def is_glob(self) -> bool:
        return has_glob(self.path)

    def objects(self) -> list[ObjectInfo]:
        """The objects this path names right now (one, or every match of the glob)."""
        return self.provider.store.list(self.bucket, self.path)

    def exists(self) -> bool:
        return bool(self.objects())

    def metadata(self) -> BucketMetadata:
        objects = self._require_objects()
        return BucketMetadata(
            uri=self.uri,
            format=self.format.value,
            files=len(objects),
            size=sum(o.size for o in objects),
            modified=max(o.modified for o in objects),
            fingerprint=fingerprint(objects),
        )

    def scan(self) -> pl.LazyFrame:
        """A LazyFrame over the file(s); nothing is read until it is collected."""
        objects = self._require_objects()
        store = self.provider.store
        uris = [store.uri(self.bucket, o.key) for o in objects]
        return formats.scan(uris, self.format, store.storage_options())

    def read(self) -> pl.DataFrame:
        return self.scan().collect()

    def write(self, frame: pl.DataFrame | pl.LazyFrame) -> int | None:
        """Replace the file with ``frame`` atomically; returns rows written when cheap to know.

        Inside a pipeline body, records a sink of a task's output instead.
        """
        tracer = current_tracer()
        if tracer is not None:
            tracer.record_sink(self, frame)
            return None
        if self.is_glob:
            raise StorageError(
                f"Bucket {self.address}: cannot write to a glob. Give the bucket "
                f"a single file path such as 'daily/2024.parquet'."
            )
        if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
            raise StorageError(
                f"Bucket {self.address}: write() takes a polars DataFrame or "
                f"LazyFrame, got {type(frame).__name__}. Return a frame from "
                f"the task that feeds this bucket."
            )
        store = self.provider.store
        options = store.storage_options()
        store.write_atomic(
            self.bucket, self.path, lambda uri: formats.write(frame, uri, self.format, options)
        )
        if isinstance(frame, pl.DataFrame):
            return frame.height
        return formats.count_rows(self.uri, self.format, options)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "path": self.path,
            "format": self.format.value,
            "cloud": self.provider.cloud.value,
            "config": self.config.to_dict() if self.config is not None else None,
        }

    def _require_objects(self) -> list[ObjectInfo]:
        objects = self.objects()
        if objects:
            return objects
        store = self.provider.store
        if not store.bucket_exists(self.bucket):
            raise StorageError(
                f"Bucket {self.bucket!r} does not exist at "
                f"{store.uri(self.bucket, '')}. Create it, or check the bucket "
                f"name and the provider config."
            )
        what = "no file matches the glob" if self.is_glob else "the file does not exist"
        raise StorageError(
            f"Bucket {self.address}: {what} ({self.uri}). Check the path, or write the data first."
        )
