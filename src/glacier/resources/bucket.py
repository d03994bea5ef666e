"""Storage resources: a path (file or glob) in a bucket, read and written as frames."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

import polars as pl

from glacier.config.storage import BucketConfig
from glacier.core.trace import current_tracer
from glacier.errors import ConfigError, PipelineDefinitionError, StorageError
from glacier.storage import dataset, formats
from glacier.storage.base import ObjectInfo, fingerprint
from glacier.storage.failures import Problem, describe
from glacier.storage.paths import clean_key, has_glob

if TYPE_CHECKING:
    from glacier.provider import Provider

READ_ATTEMPTS = 5
READ_BACKOFF = 0.05  # seconds before the first re-read, doubling after each


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

    __glacier_source__: ClassVar[bool] = True
    """A pipeline body may pass a bucket to a task: tracing records it as a source."""

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
        """Where the data lives on this provider: ``s3://raw/sales/*.parquet``, a local path..."""
        return self.provider.store.uri(self.bucket, self.path)

    @property
    def is_glob(self) -> bool:
        """Whether the path names many files (``*``, ``?``, ``[...]``): a dataset."""
        return has_glob(self.path)

    def objects(self) -> list[ObjectInfo]:
        """The objects this path names right now: one, or the glob's committed matches."""
        store = self.provider.store
        with store.errors(self.bucket, self.path, "list"):
            objects = store.list(self.bucket, self.path)
            if self.is_glob and objects:
                objects = dataset.committed(objects, self._commit())
        return objects

    def exists(self) -> bool:
        """Whether the path names any object now (for a glob: any committed file)."""
        return bool(self.objects())

    def metadata(self) -> BucketMetadata:
        """Files, size, last change and a content fingerprint; raises ``StorageError`` if none."""
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
        self._refuse_in_body("scan")
        return self._scan(self._require_objects())

    def read(self) -> pl.DataFrame:
        """Collect the file(s) as one consistent version, even while a writer replaces them.

        On object stores a read is several range requests, so it is checked against the
        listing afterwards and repeated (with a short backoff) if the data changed meanwhile.
        """
        self._refuse_in_body("read")
        store = self.provider.store
        for attempt in range(READ_ATTEMPTS):
            objects = self._require_objects()
            try:
                with store.errors(self.bucket, self.path, "read"):
                    frame = self._scan(objects).collect()
            except StorageError:
                if store.snapshot_reads or not self._changed_since(objects):
                    raise
            else:
                if store.snapshot_reads or not self._changed_since(objects):
                    return frame
            time.sleep(READ_BACKOFF * 2**attempt)
        raise StorageError(
            f"Bucket {self.address}: the data changed while being read {READ_ATTEMPTS} times "
            f"in a row ({self.uri}). Read it again once its writers have finished."
        )

    def write(
        self,
        frame: pl.DataFrame | pl.LazyFrame,
        partition_by: str | Sequence[str] | None = None,
    ) -> int | None:
        """Replace the data with ``frame`` atomically; returns rows written when cheap to know.

        A single-file path is replaced in one step. A glob path (``events/**/*.parquet``)
        receives new files, optionally hive-partitioned by the ``partition_by`` columns, that
        readers see only once all are written. ``partition_by="day"`` is one column, as in
        Polars. Inside a pipeline body, records a sink of a task's output instead.
        """
        columns = self._partition_columns(partition_by)
        if columns and not self.is_glob:
            raise StorageError(
                f"Bucket {self.address}: a partitioned write makes many files, so the path "
                f"must be a glob such as '{self.path.rpartition('.')[0]}/**/*.{self.format}'."
            )
        tracer = current_tracer()
        if tracer is not None:
            tracer.record_sink(self, frame, columns)
            return None
        if not isinstance(frame, (pl.DataFrame, pl.LazyFrame)):
            raise StorageError(
                f"Bucket {self.address}: write() takes a polars DataFrame or "
                f"LazyFrame, got {type(frame).__name__}. Return a frame from "
                f"the task that feeds this bucket."
            )
        store = self.provider.store
        options = store.storage_options()
        with store.errors(self.bucket, self.path, "write"):
            if self.is_glob:
                commit = dataset.write(store, self.bucket, self.path, frame, self.format, columns)
                uris = [store.uri(self.bucket, key) for key in sorted(commit.keys())]
            else:
                store.write_atomic(
                    self.bucket,
                    self.path,
                    lambda uri: formats.write(frame, uri, self.format, options),
                )
                uris = [self.uri]
            if isinstance(frame, pl.DataFrame):
                return frame.height
            return formats.count_rows(uris, self.format, options)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.bucket,
            "path": self.path,
            "format": self.format.value,
            "cloud": self.provider.cloud.value,
            "config": self.config.to_dict() if self.config is not None else None,
        }

    def _partition_columns(self, partition_by: str | Sequence[str] | None) -> tuple[str, ...]:
        """The columns as a tuple: a single string is one column, never split into letters."""
        if partition_by is None:
            return ()
        columns = (partition_by,) if isinstance(partition_by, str) else partition_by
        if not isinstance(columns, Sequence) or not all(isinstance(c, str) and c for c in columns):
            raise ConfigError(
                f"Bucket {self.address}: write(partition_by={partition_by!r}) takes a column "
                f"name or a list of column names, e.g. partition_by=['day']."
            )
        return tuple(columns)

    def _refuse_in_body(self, method: str) -> None:
        """A body runs once, at definition: data read there would be frozen into the DAG with no
        source node, and cached without its data. Reading belongs in a task."""
        tracer = current_tracer()
        if tracer is not None:
            raise PipelineDefinitionError(
                f"Pipeline {tracer.pipeline!r}: {self.address}.{method}() was called in the "
                f"pipeline body, which runs once when the pipeline is defined. Pass the bucket "
                f"to a task instead (total(bucket)) and call bucket.{method}() inside the task, "
                f"so each run reads the data and the cache tracks it."
            )

    def _commit(self) -> dataset.Commit | None:
        return dataset.find_commit(self.provider.store, self.bucket, self.path)

    def _scan(self, objects: list[ObjectInfo]) -> pl.LazyFrame:
        store = self.provider.store
        uris = [store.uri(self.bucket, o.key) for o in objects]
        commit = self._commit() if self.is_glob else None
        hive = commit is not None and bool(commit.partition_by)
        return formats.scan(uris, self.format, store.storage_options(), hive=hive)

    def _changed_since(self, objects: list[ObjectInfo]) -> bool:
        try:
            now = self.objects()
        except StorageError:
            return True
        return fingerprint(now) != fingerprint(objects)

    def _require_objects(self) -> list[ObjectInfo]:
        objects = self.objects()
        if objects:
            return objects
        store = self.provider.store
        with store.errors(self.bucket, "", "list"):
            exists = store.bucket_exists(self.bucket)
        if not exists:
            problem = Problem.BUCKET_MISSING
        else:
            problem = Problem.EMPTY_GLOB if self.is_glob else Problem.MISSING_OBJECT
        raise StorageError(describe(problem, self.uri, self.bucket, "read", store.credential_hint))
