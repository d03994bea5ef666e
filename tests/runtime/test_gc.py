"""Runs clean up after themselves: hand-offs, the retention of runs and cache, and leftovers."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from glacier import ConfigError, Provider, TaskFailed, pipeline
from glacier.config.provider import LocalConfig
from glacier.runtime.gc import LAST_PRUNE, Retention, prune

DAY = 24 * 3600


def age(path: Path, seconds: float) -> None:
    """Make ``path`` (a file, or every file under a folder) ``seconds`` old."""
    when = time.time() - seconds
    for p in [path, *path.rglob("*")] if path.is_dir() else [path]:
        os.utime(p, (when, when))


def put(path: Path, size: int = 100) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    return path


def entry(staging: Path, key: str, size: int) -> list[Path]:
    """A cache entry: its output and the manifest that names it."""
    return [put(staging / "cache" / f"{key}.parquet", size), put(staging / "cache" / f"{key}.json")]


def two_executors(provider: Provider, name: str, fail: bool = False) -> Any:
    """A pipeline whose hand-off is staged in the run's folder (cache off)."""
    src = provider.bucket(bucket="raw", path="in.parquet")
    a, b = provider.local(name=f"{name}-a"), provider.local(name=f"{name}-b")

    @a.task(cache=False)
    def load(source: Any) -> pl.LazyFrame:
        return source.scan()

    @b.task(cache=False)
    def total(df: pl.LazyFrame) -> pl.DataFrame:
        if fail:
            raise RuntimeError("total failed")
        return df.select(pl.col("x").sum()).collect()

    @pipeline(name=name)
    def across() -> Any:
        return total(load(src))

    return across


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    (tmp_path / "raw").mkdir()
    pl.DataFrame({"x": [1, 2, 3]}).write_parquet(tmp_path / "raw" / "in.parquet")
    return Provider(config=LocalConfig(base_path=tmp_path))


def run_files(tmp_path: Path, run_id: str) -> list[str]:
    return sorted(p.name for p in (tmp_path / ".glacier" / "runs" / run_id).iterdir())


def test_successful_run_deletes_its_handoffs_and_keeps_its_report(
    provider: Provider, tmp_path: Path
) -> None:
    result = two_executors(provider, "tidy").run()
    assert result.output.item() == 6
    assert result.tasks["load"].handoff == "staged"
    assert run_files(tmp_path, result.run_id) == ["report.json"]

    kept = two_executors(provider, "kept").run(keep_handoffs=True)
    assert run_files(tmp_path, kept.run_id) == ["load.parquet", "report.json"]


def test_failed_run_keeps_its_handoffs_to_look_at(provider: Provider, tmp_path: Path) -> None:
    with pytest.raises(TaskFailed) as failed:
        two_executors(provider, "broken", fail=True).run()
    run_id = failed.value.result.run_id  # type: ignore[union-attr]
    assert run_files(tmp_path, run_id) == ["load.parquet", "report.json"]


def test_prune_keeps_what_is_young_or_in_the_index_and_frees_the_rest(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    staging = tmp_path / ".glacier"
    old_run = put(staging / "runs" / "20250101T000000.000000-aaaaaa" / "report.json").parent
    put(old_run / "load.parquet", 1000)
    running = put(staging / "runs" / "20261201T000000.000000-bbbbbb" / "load.parquet", 5000).parent
    old_entry = entry(staging, "aaaa", 3000)
    mid_entry = entry(staging, "bbbb", 2000)
    new_entry = entry(staging, "cccc", 4000)
    orphan = put(staging / "cache" / "dddd.parquet", 700)  # no manifest: a killed run's
    temp = put(staging / "runs" / ".x.parquet.0123456789ab.glacier-tmp", 50)
    age(old_run, 40 * DAY)
    for path in old_entry:
        age(path, 40 * DAY)
    for path in mid_entry:
        age(path, 3 * DAY)
    for path in new_entry:
        age(path, 2 * DAY)
    age(orphan, 2 * 3600)
    age(temp, 2 * 3600)

    dry = prune(provider, Retention(max_age=timedelta(days=30), max_bytes=None), dry_run=True)
    assert old_run.exists() and orphan.exists()  # a dry run deletes nothing
    freed = prune(provider, Retention(max_age=timedelta(days=30), max_bytes=None))
    assert sorted(freed.uris) == sorted(dry.uris)
    assert freed.bytes == 1000 + 100 + 3000 + 100 + 700 + 50
    assert not old_run.exists() and not orphan.exists() and not temp.exists()
    assert not any(p.exists() for p in old_entry)
    assert all(p.exists() for p in [*mid_entry, *new_entry])

    # over the size limit the oldest entry goes; a young folder (a running run) never does
    freed = prune(provider, Retention(max_age=None, max_bytes=9500))
    assert not any(p.exists() for p in mid_entry)
    assert all(p.exists() for p in new_entry)
    assert running.exists()
    assert freed.bytes == 2100
    # the manifest goes first, so the index never names a missing output
    assert freed.uris[0].endswith("bbbb.json")


def test_retention_is_applied_after_each_run(provider: Provider, tmp_path: Path) -> None:
    old = put(tmp_path / ".glacier" / "runs" / "20240101T000000.000000-cccccc" / "report.json")
    old.write_text(json.dumps({"run_id": "old"}))
    age(old.parent, 31 * DAY)
    two_executors(provider, "prunes").run()
    assert not old.parent.exists()

    again = put(tmp_path / ".glacier" / "runs" / "20240102T000000.000000-dddddd" / "report.json")
    age(again.parent, 31 * DAY)
    two_executors(provider, "throttled").run()
    assert again.exists()  # the last prune is less than PRUNE_EVERY ago: no walk this time

    (tmp_path / ".glacier" / LAST_PRUNE).unlink()
    two_executors(provider, "keeps").run(retention=Retention(max_age=timedelta(days=90)))
    assert again.exists()  # pruned, with a retention that keeps it
    (tmp_path / ".glacier" / LAST_PRUNE).unlink()
    two_executors(provider, "drops").run()
    assert not again.exists()


def test_retention_refuses_nonsense() -> None:
    with pytest.raises(ConfigError, match="max_age"):
        Retention(max_age=timedelta(0))
    with pytest.raises(ConfigError, match="max_bytes"):
        Retention(max_bytes=-1)
