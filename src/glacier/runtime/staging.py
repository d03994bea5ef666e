"""The run's staging area: where frames handed between executors are written once as Parquet.

On a ``LocalConfig`` provider it is ``<base_path>/.glacier/runs/<run_id>/``; on a cloud provider,
``runs/<run_id>/`` in the provider's staging bucket.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from glacier.config.base import Cloud
from glacier.storage import formats
from glacier.storage.formats import Format

if TYPE_CHECKING:
    from glacier.provider import Provider

LOCAL_STAGING_FOLDER = ".glacier"


@dataclass(frozen=True)
class StagedFrame:
    """A frame materialized in staging: where it is and how many rows it has."""

    uri: str
    rows: int
    provider: Provider

    def scan(self) -> pl.LazyFrame:
        return formats.scan([self.uri], Format.PARQUET, self.provider.store.storage_options())

    def read(self) -> pl.DataFrame:
        return self.scan().collect()


class Staging:
    """Staging for one run on one provider."""

    def __init__(self, provider: Provider, run_id: str) -> None:
        self.provider = provider
        self.run_id = run_id
        self.bucket = (
            LOCAL_STAGING_FOLDER if provider.cloud is Cloud.LOCAL else provider.staging_bucket
        )
        self.prefix = f"runs/{run_id}"

    @property
    def uri(self) -> str:
        return self.provider.store.uri(self.bucket, self.prefix)

    def key_for(self, node_id: str) -> str:
        return f"{self.prefix}/{re.sub(r'[^A-Za-z0-9_.-]', '_', node_id)}.parquet"

    def put(self, node_id: str, frame: pl.DataFrame | pl.LazyFrame) -> StagedFrame:
        """Write ``frame`` once (streaming when lazy) and commit it atomically."""
        store = self.provider.store
        key = self.key_for(node_id)
        options = store.storage_options()
        store.write_atomic(
            self.bucket, key, lambda uri: formats.write(frame, uri, Format.PARQUET, options)
        )
        uri = store.uri(self.bucket, key)
        rows = (
            frame.height
            if isinstance(frame, pl.DataFrame)
            else formats.count_rows([uri], Format.PARQUET, options)
        )
        return StagedFrame(uri=uri, rows=rows or 0, provider=self.provider)
