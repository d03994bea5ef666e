"""``bucket.write(output, partition_by=[...])`` inside a pipeline body: a partitioned sink."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Provider, StorageError, pipeline
from glacier.config import LocalConfig

EVENTS = pl.DataFrame({"day": [1, 1, 2, 3, 3, 3], "v": [10, 20, 30, 40, 50, 60]})


def make_events() -> pl.DataFrame:
    return EVENTS


@pytest.mark.parametrize("kind", ["local", "serverless"])
def test_a_partitioned_sink_writes_hive_folders_where_its_producer_ran(
    tmp_path: Path, kind: str
) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    executor = provider.local() if kind == "local" else provider.serverless()
    produce = executor.task(name="produce")(make_events)
    events = provider.bucket("curated", "events/**/*.parquet")

    @pipeline(name=f"partitioned_sink_{kind}")
    def partitioned() -> None:
        events.write(produce(), partition_by=["day"])

    result = partitioned.run()

    assert result.tasks["write:curated/events/**/*.parquet"].executor_kind == kind
    folders = sorted(p.name for p in (tmp_path / "curated" / "events").iterdir() if p.is_dir())
    assert folders == ["day=1", "day=2", "day=3"]
    assert_frame_equal(events.read().sort("v").select(EVENTS.columns), EVENTS)


def test_partition_by_needs_a_glob_path_at_definition(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    produce = provider.local().task(name="produce")(make_events)
    single = provider.bucket("curated", "events.parquet")
    with pytest.raises(
        StorageError, match=r"path must be a glob such as 'events/\*\*/\*\.parquet'"
    ):

        @pipeline(name="partitioned_single")
        def wrong() -> None:
            single.write(produce(), partition_by=["day"])
