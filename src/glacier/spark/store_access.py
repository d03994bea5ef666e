"""Object-store URIs a Spark session cannot read itself go through Polars on the driver.

EMR, Dataproc and Databricks read ``s3://``, ``gs://`` and ``abfss://`` with their own
connectors, and that is the fast path: every executor reads its own part of the files. A
local session from pip's ``pyspark`` has no hadoop-aws or GCS/ABFS connector (and a machine
without Maven access cannot fetch them), so a cluster task over cloud buckets could not run
there. For such URIs the frames go through the driver instead: Polars reads the Parquet with
the provider's own obstore credentials, Spark gets it as Arrow (``createDataFrame``), and the
task's output comes back to the driver as Arrow for Polars to write. That is the *slow path*
(each byte crosses the driver twice, the frame must fit its memory; ``bench/spark_store.py``
measures it), meant for local emulation and small data.

Whether a session reads a scheme is asked once per session and scheme (Hadoop's
``FileSystem.getFileSystemClass``). The Spark conf ``spark.glacier.storeAccess`` overrides it
(``SparkConfig(conf={...})``): ``auto`` (the default) detects, ``spark`` never falls back,
``polars`` always goes through Polars for object-store URIs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import polars as pl

from glacier.spark.errors import SparkTaskError
from glacier.spark.types import (
    from_spark_arrow,
    spark_arrow_schema,
    spark_schema_for_polars,
    to_spark_arrow,
)

SETTING = "spark.glacier.storeAccess"
CHOICES = ("auto", "spark", "polars")
LOCAL_SCHEMES = frozenset({"", "file"})
PART = "part-00000.parquet"
"""The one file a task's output is written as on the slow path."""

_native: dict[tuple[int, str], bool] = {}
_lock = threading.Lock()


def scheme_of(uri: str) -> str:
    return urlsplit(uri).scheme.lower() if "://" in uri else ""


def reads_natively(spark: Any, scheme: str) -> bool:
    """Whether ``spark`` reads ``scheme://`` URIs itself; a Spark Connect client cannot tell,
    so its server is trusted to (it runs on the platform, with its connectors)."""
    if scheme in LOCAL_SCHEMES:
        return True
    jvm, jsc = getattr(spark, "_jvm", None), getattr(spark, "_jsc", None)
    if jvm is None or jsc is None:
        return True
    key = (id(jsc), scheme)
    with _lock:
        if key not in _native:
            try:
                jvm.org.apache.hadoop.fs.FileSystem.getFileSystemClass(
                    scheme, jsc.hadoopConfiguration()
                )
            except Exception:  # py4j's error for UnsupportedFileSystemException / ClassNotFound
                _native[key] = False
            else:
                _native[key] = True
        return _native[key]


def setting(spark: Any) -> str:
    try:
        chosen = str(spark.conf.get(SETTING, "auto")).strip().lower()
    except Exception:  # a client that cannot read the conf: detect
        return "auto"
    if chosen not in CHOICES:
        raise SparkTaskError(
            f"Spark conf {SETTING}={chosen!r} is not one of {', '.join(CHOICES)}: set it in "
            f"SparkConfig(conf={{{SETTING!r}: 'auto'}}) (auto detects what Spark reads itself)."
        )
    return chosen


@dataclass(frozen=True)
class StoreAccess:
    """Reads and writes of object-store URIs through Polars, with each bucket's credentials."""

    options: Callable[[str], Mapping[str, Any] | None] = field(repr=False)
    """URI -> the storage options (obstore credentials, endpoint) to read or write it with."""

    def read(self, spark: Any, uris: Sequence[str]) -> Any:
        """A Spark DataFrame of the Parquet at ``uris``, read by Polars on the driver."""
        frame = pl.concat(
            [pl.scan_parquet(uri, storage_options=self._options(uri)) for uri in uris],
            how="vertical_relaxed",
        ).collect()
        return self.to_spark(spark, frame)

    @staticmethod
    def to_spark(spark: Any, frame: pl.DataFrame) -> Any:
        schema = spark_schema_for_polars(frame.schema)
        return spark.createDataFrame(to_spark_arrow(frame, spark_arrow_schema(schema)), schema)

    def write_spark(self, sdf: Any, output: str) -> int:
        """Write a Spark DataFrame's rows (collected to the driver) under ``output``."""
        frame = from_spark_arrow(sdf.toArrow())
        self.write(frame, output)
        return frame.height

    def write(self, frame: pl.DataFrame, output: str) -> None:
        """``output`` is a folder, as Spark writes one: the frame is its one part file."""
        uri = f"{output.rstrip('/')}/{PART}"
        if scheme_of(uri) in LOCAL_SCHEMES:  # a folder on disk exists before its file (forced)
            path = Path(uri.removeprefix("file://"))
            path.parent.mkdir(parents=True, exist_ok=True)
            frame.write_parquet(path)
            return
        frame.write_parquet(uri, storage_options=self._options(uri))

    def _options(self, uri: str) -> dict[str, Any] | None:
        found = self.options(uri)
        return dict(found) if found else None


def access_for(
    spark: Any, uris: Iterable[str], options: Callable[[str], Mapping[str, Any] | None]
) -> StoreAccess | None:
    """The slow path when ``spark`` cannot read one of ``uris`` itself (or is told to take
    it); None when Spark reads them all."""
    chosen = setting(spark)
    if chosen == "spark":
        return None
    schemes = {scheme_of(uri) for uri in uris} - LOCAL_SCHEMES
    if not schemes:
        return None
    if chosen == "polars" or not all(reads_natively(spark, s) for s in schemes):
        return StoreAccess(options)
    return None
