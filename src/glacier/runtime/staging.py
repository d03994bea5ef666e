"""The staging area: where frames handed between executors are written once as Parquet.

On a ``LocalConfig`` provider it is ``<base_path>/.glacier/``; on a cloud provider, the
provider's staging bucket. Inside it, ``runs/<run_id>/`` holds one run's hand-offs and report,
and ``cache/`` the outputs a later run may reuse (see :mod:`glacier.runtime.cache`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import polars as pl

from glacier.config.base import Cloud
from glacier.errors import StorageError
from glacier.storage import formats
from glacier.storage.commit import CommitToken, Notice
from glacier.storage.formats import Format

if TYPE_CHECKING:
    from glacier.provider import Provider

LOCAL_STAGING_FOLDER = ".glacier"
RUNS_PREFIX = "runs"
REVOKED = "revoked"
"""Inside a run's folder: one object per attempt the scheduler gave up on."""
MISSING_STAGING = (
    "A run on a cloud provider hands frames between executors and caches them in the "
    "provider's staging bucket (ProviderConfig.staging_bucket, default 'glacier-staging'; the "
    "generated Terraform creates it, name_prefix-ed, and outputs its name as staging_bucket), "
    "and it is missing."
)


@dataclass(frozen=True)
class StagedFrame:
    """A frame materialized in staging: where it is, its rows, size and content checksum."""

    uri: str
    rows: int
    provider: Provider
    bytes: int | None = None
    checksum: str | None = None
    schema: pl.Schema | None = None
    """The Polars types of the frame when the file holds others: a Spark output (``u32`` as
    ``i64``, categoricals as strings...), whose types ``scan`` puts back."""

    def scan(self) -> pl.LazyFrame:
        frame = formats.scan([self.uri], Format.PARQUET, self.provider.store.storage_options())
        if self.schema is None:
            return frame
        from glacier.spark.types import restore_polars_types  # noqa: PLC0415 - pyarrow: Spark outputs only

        return restore_polars_types(frame, self.schema)

    def read(self) -> pl.DataFrame:
        return self.scan().collect()


def staging_bucket(provider: Provider) -> str:
    """The bucket (a hidden folder locally) that holds runs and the cache."""
    return LOCAL_STAGING_FOLDER if provider.cloud is Cloud.LOCAL else provider.staging_bucket


def safe_name(node_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", node_id)


class Staging:
    """Staging for one run on one provider."""

    def __init__(self, provider: Provider, run_id: str) -> None:
        self.provider = provider
        self.run_id = run_id
        self.bucket = staging_bucket(provider)
        self.prefix = f"{RUNS_PREFIX}/{run_id}"

    @property
    def uri(self) -> str:
        return self.provider.store.uri(self.bucket, self.prefix)

    def key_for(self, node_id: str) -> str:
        return f"{self.prefix}/{safe_name(node_id)}.parquet"

    def token_for(self, unit_id: str, attempt: int) -> CommitToken:
        """The commit right of one attempt of a unit the scheduler may give up on; its
        revocation is also posted to ``revoked/`` for copies in worker processes."""
        key = f"{self.prefix}/{REVOKED}/{safe_name(unit_id)}-{attempt}"
        notice = Notice(self.provider.store, self.bucket, key)
        return CommitToken(f"Task {unit_id!r}, attempt {attempt}", notice)


class OutputTarget(NamedTuple):
    """Where a unit's root output is written, and whether a collected output is written too.

    ``key`` is in the provider's staging bucket: the run's hand-off file, or a cache entry.
    ``keep_collected`` also writes an output that is returned in memory (collected), so a later
    run can reuse it from the cache. ``token`` is the attempt's right to publish (its hand-off
    and its sinks), which the scheduler revokes when it gives up on an attempt it cannot stop.
    (A named tuple: one is made per unit, and a frozen dataclass costs three times as much to
    make.)
    """

    provider: Provider
    bucket: str
    key: str
    keep_collected: bool = False
    token: CommitToken | None = None

    def put(self, frame: pl.DataFrame | pl.LazyFrame) -> StagedFrame:
        """Write ``frame`` once (streaming when lazy) and commit it atomically."""
        store = self.provider.store
        options = store.storage_options()
        try:
            store.write_atomic(
                self.bucket,
                self.key,
                lambda uri: formats.write(frame, uri, Format.PARQUET, options),
                self.token,
            )
        except StorageError as exc:
            if store.bucket_exists(self.bucket):
                raise
            raise StorageError(f"{MISSING_STAGING} {exc}") from None
        uri = store.uri(self.bucket, self.key)
        rows = (
            frame.height
            if isinstance(frame, pl.DataFrame)
            else formats.count_rows([uri], Format.PARQUET, options)
        )
        written = next(iter(store.list(self.bucket, self.key)), None)  # size and checksum at once
        return StagedFrame(
            uri=uri,
            rows=rows or 0,
            provider=self.provider,
            bytes=written.size if written else None,
            checksum=store.checksum_of(self.bucket, written) if written else None,
        )
