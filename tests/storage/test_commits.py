"""Nothing partial is ever visible: failed, killed and timed-out writes, and what they leave.

Each write test runs against local disk, S3, GCS and Azure alike; the killed writer is a real
subprocess killed with SIGKILL in the middle of its sink.
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Provider, StorageError, TaskFailed, pipeline
from glacier.config.provider import LocalConfig
from glacier.runtime.gc import Retention, prune
from glacier.runtime.invocation import ProviderRef
from glacier.runtime.staging import Staging, staging_bucket
from glacier.storage.commit import AttemptRevoked, CommitToken
from glacier.storage.dataset import MARKER
from tests.storage.backends import provider_for
from tests.storage.conftest import Backend

pytestmark = pytest.mark.cloud

ROWS = 3_000_000


def failing_frame(rows: int = ROWS) -> pl.LazyFrame:
    """A frame whose last rows fail a strict cast: the sink has written parts by then."""
    return (
        pl.LazyFrame({"i": pl.int_range(0, rows, eager=True)})
        .with_columns(
            day=pl.col("i") % 4,
            s=pl.when(pl.col("i") < rows - 10)
            .then(pl.col("i").cast(pl.String))
            .otherwise(pl.lit("x")),
        )
        .with_columns(v=pl.col("s").cast(pl.Int64, strict=True))
        .drop("s")
    )


def everything(backend: Backend, prefix: str) -> list[str]:
    """Every object under a folder, straight from the store: parts, markers, temporaries."""
    return [o.key for o in backend.provider.store.list_all(backend.bucket, prefix)]


def test_failed_first_partitioned_write_leaves_nothing_visible(backend: Backend) -> None:
    out = backend.at("events/**/*.parquet")
    with pytest.raises(StorageError, match="conversion"):
        out.write(failing_frame(), partition_by=["day"])
    if backend.name == "local":  # object stores drop an unfinished upload themselves
        assert any("part-" in k for k in everything(backend, "events")), "no part was written"
    assert not out.exists()
    with pytest.raises(StorageError, match="No file matches"):
        out.read()
    good = pl.DataFrame({"i": [1, 2, 3], "day": [0, 1, 1]})
    out.write(good, partition_by=["day"])
    assert_frame_equal(out.read().sort("i"), good, check_column_order=False, check_dtypes=False)


def test_failed_first_write_keeps_files_other_tools_put_there(backend: Backend) -> None:
    theirs = backend.at("shared/theirs.parquet")
    theirs.write(pl.DataFrame({"i": [7], "day": [0]}))
    out = backend.at("shared/*.parquet")
    assert out.read()["i"].to_list() == [7]
    with pytest.raises(StorageError, match="conversion"):
        out.write(failing_frame(400_000))
    assert out.read()["i"].to_list() == [7]  # what readers saw before the write, nothing more


def test_failed_rewrite_shows_the_previous_commit(backend: Backend) -> None:
    out = backend.at("daily/**/*.parquet")
    old = pl.DataFrame({"i": [1, 2], "day": [0, 1]})
    out.write(old, partition_by=["day"])
    with pytest.raises(StorageError, match="conversion"):
        out.write(failing_frame(), partition_by=["day"])
    assert sorted(out.read()["i"].to_list()) == [1, 2]


KILLED_WRITER = """
import json, os, sys, time
import polars as pl
from glacier.runtime.invocation import ProviderRef
from glacier.runtime.gc import Retention, prune
from glacier.runtime.staging import Staging, staging_bucket

provider = ProviderRef(sys.argv[1]).open()
out = provider.bucket(bucket=sys.argv[2], path="killed/**/*.parquet")
calls = 0

def stall(batch):
    global calls
    calls += 1
    if calls == 4:  # parts of the first batches are being written by now
        open(sys.argv[3], "w").close()
        time.sleep(120)
    return batch

frame = pl.LazyFrame({"i": pl.int_range(0, 4_000_000, eager=True)}).with_columns(
    day=pl.col("i") % 3
)
out.write(frame.map_batches(stall, streamable=True), partition_by=["day"])
"""


def test_writer_killed_mid_write_leaves_nothing_visible(backend: Backend, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(KILLED_WRITER))
    started = tmp_path / "writing"
    env = {**os.environ, **backend.provider.store.worker_environment()}
    env["PYTHONPATH"] = os.pathsep.join(sys.path)
    ref = ProviderRef.of(backend.provider).config
    writer = subprocess.Popen(
        [sys.executable, str(script), ref, backend.bucket, str(started)], env=env
    )
    deadline = time.monotonic() + 90
    while not started.exists() and writer.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert started.exists(), "the writer never started its sink"
    time.sleep(0.5)
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    out = backend.at("killed/**/*.parquet")
    assert not out.exists()
    with pytest.raises(StorageError, match="No file matches"):
        out.read()
    marker = json.loads(backend.provider.store.get_bytes(backend.bucket, f"killed/{MARKER}") or b"")
    assert marker["files"] == []


def test_next_write_removes_old_leftovers_of_killed_writes(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    (tmp_path / "out").mkdir()
    dataset = provider.bucket(bucket="out", path="ds/**/*.parquet")
    with pytest.raises(StorageError):
        dataset.write(failing_frame(), partition_by=["day"])
    single = provider.bucket(bucket="out", path="one.parquet")
    temp = tmp_path / "out" / ".one.parquet.0123456789ab.glacier-tmp"
    temp.write_bytes(b"half a file")
    fresh = tmp_path / "out" / "ds" / "day=0" / "part-ffffffffffff-0.parquet"
    fresh.write_bytes(b"a write still in progress")
    orphans = [p for p in (tmp_path / "out").rglob("part-*") if p != fresh]
    assert orphans
    time.sleep(1)  # Polars may still be closing the failed write's files
    hour_ago = time.time() - 2 * 3600
    for path in [*orphans, temp]:
        os.utime(path, (hour_ago, hour_ago))

    dataset.write(pl.DataFrame({"i": [1], "day": [0]}), partition_by=["day"])
    single.write(pl.DataFrame({"a": [1]}))
    assert not [p for p in orphans if p.exists()]
    assert not temp.exists()
    assert fresh.exists()  # too young: it may belong to a writer still running
    assert dataset.read()["i"].to_list() == [1]


@pytest.mark.parametrize("path", ["result.parquet", "parts/*.parquet"])
def test_timed_out_attempt_never_overwrites_the_sink(tmp_path: Path, path: str) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    (tmp_path / "out").mkdir()
    sink = provider.bucket(bucket="out", path=path)
    local = provider.local()
    attempts: list[int] = []

    @local.task(timeout=0.5, retries=1, retry_delay=0.01, cache=False)
    def produce() -> pl.DataFrame:
        attempts.append(1)
        if len(attempts) == 1:
            time.sleep(2)  # the scheduler gives up on this attempt, which then finishes
            return pl.DataFrame({"attempt": ["stale"]})
        return pl.DataFrame({"attempt": ["accepted"]})

    @pipeline(name="late_attempt")
    def late() -> None:
        sink.write(produce())  # in the task's unit: written by the attempt itself

    result = late.run()
    assert result.ok and result.tasks["produce"].attempts == 2
    time.sleep(2.5)  # the stale attempt has finished and tried to write by now
    assert len(attempts) == 2
    assert sink.read()["attempt"].to_list() == ["accepted"]


def test_timed_out_attempt_of_a_failed_run_writes_nothing(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    (tmp_path / "out").mkdir()
    sink = provider.bucket(bucket="out", path="never.parquet")
    local = provider.local()

    @local.task(timeout=0.3, cache=False)
    def slow() -> pl.DataFrame:
        time.sleep(1.5)
        return pl.DataFrame({"a": [1]})

    @pipeline(name="never_written")
    def never() -> None:
        sink.write(slow())

    with pytest.raises(TaskFailed, match="timeout"):
        never.run()
    time.sleep(2)
    assert not sink.exists()
    assert not [p for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")]


def test_a_worker_process_copy_of_a_revoked_token_publishes_nothing(tmp_path: Path) -> None:
    """A Dask worker's attempt cannot be stopped either: its pickled token sees the notice."""
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    (tmp_path / "out").mkdir()
    token = Staging(provider, "run-1").token_for("produce", 1)
    copy = pickle.loads(pickle.dumps(token))  # what the invocation carries to the worker
    sink = provider.bucket(bucket="out", path="late.parquet")
    sink.write_for(copy, pl.DataFrame({"attempt": ["before the timeout"]}))
    token.revoke()
    with pytest.raises(AttemptRevoked, match="gave up on this attempt"):
        sink.write_for(copy, pl.DataFrame({"attempt": ["late"]}))
    assert sink.read()["attempt"].to_list() == ["before the timeout"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["late.parquet"]


def test_revoked_single_file_write_publishes_nothing_and_leaves_nothing(backend: Backend) -> None:
    """On object stores such a write goes to a temporary key, copied into place under the token."""
    sink = backend.at("guarded/out.parquet")
    token = CommitToken("attempt 1")
    sink.write_for(token, pl.DataFrame({"v": [1]}))
    token.revoke()
    with pytest.raises(AttemptRevoked):
        sink.write_for(token, pl.DataFrame({"v": [2]}).lazy())
    assert sink.read()["v"].to_list() == [1]
    assert everything(backend, "guarded") == ["guarded/out.parquet"]


def test_prune_reaches_every_store(backend: Backend) -> None:
    provider = (
        backend.provider
        if backend.server is None
        else provider_for(backend.server, staging_bucket=backend.bucket)
    )
    store, bucket = provider.store, staging_bucket(provider)
    for key in ("runs/r1/report.json", "runs/r1/a.parquet", "cache/k.json", "cache/k.parquet"):
        store.put_bytes(bucket, key, b"12345")
    store.put_bytes(bucket, "cache/orphan.parquet", b"123")
    soon = datetime.now(UTC) + timedelta(hours=2)  # everything is past the grace by then
    freed = prune(provider, Retention(max_age=None, max_bytes=None), now=soon)
    assert freed.bytes == 3 and [u.rsplit("/", 1)[-1] for u in freed.uris] == ["orphan.parquet"]
    later = datetime.now(UTC) + timedelta(days=31)
    freed = prune(provider, Retention(), now=later)
    assert freed.bytes == 20
    assert [o.key for o in store.list_all(bucket, "runs")] == []
    assert [o.key for o in store.list_all(bucket, "cache")] == []
