"""Bucket behaviour, one body per test run against local disk, S3, GCS and Azure alike."""

from __future__ import annotations

import datetime as dt
import threading
import time

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import StorageError
from glacier.storage.dataset import MARKER
from tests.storage.conftest import Backend

pytestmark = pytest.mark.cloud

SCHEME = {"local": "/", "s3": "s3://", "gcs": "gs://", "azure": "az://"}


def frame(rows: int = 1_000, offset: int = 0) -> pl.DataFrame:
    ids = pl.int_range(offset, offset + rows, eager=True)
    return pl.DataFrame(
        {
            "id": ids,
            "g": ids % 5,
            "day": pl.Series([dt.date(2026, 1, 1 + i % 2) for i in range(rows)]),
            "name": [f"row-{i}" for i in range(offset, offset + rows)],
        }
    )


def keys(backend: Backend, pattern: str) -> list[str]:
    """Every object under a pattern, straight from the store (markers and all)."""
    return [o.key for o in backend.provider.store.list(backend.bucket, pattern)]


# -- reading and writing ----------------------------------------------------------------------


def test_write_read_scan_metadata(backend: Backend) -> None:
    df = frame()
    out = backend.at("tables/t.parquet")
    assert not out.exists()
    assert out.write(df) == df.height

    assert out.uri.startswith(SCHEME[backend.name])
    assert out.exists()
    assert_frame_equal(out.read(), df)
    got = out.scan().filter(pl.col("g") == 3).select("id").collect()
    assert got["id"].to_list() == list(range(3, 1_000, 5))

    meta = out.metadata()
    assert (meta.files, meta.format, meta.uri) == (1, "parquet", out.uri)
    assert meta.size > 0
    assert meta.modified is not None
    out.write(df.head(10))
    assert out.metadata().fingerprint != meta.fingerprint
    assert out.read().height == 10


def test_lazy_write_streams_and_counts_rows(backend: Backend) -> None:
    out = backend.at("lazy/t.parquet")
    assert out.write(frame().lazy().filter(pl.col("g") == 0)) == 200
    csv = backend.at("lazy/t.csv")
    csv.write(frame(50).lazy().select("id", "name"))
    assert_frame_equal(csv.read(), frame(50).select("id", "name"))


def test_glob_reads_every_match_and_nothing_else(backend: Backend) -> None:
    parts = [frame(100, offset=i * 100) for i in range(3)]
    for i, part in enumerate(parts):
        backend.at(f"glob/part-{i}.parquet").write(part)
    backend.at("glob/other.csv").write(parts[0].select("id"))

    every = backend.at("glob/*.parquet")
    assert [o.key for o in every.objects()] == [f"glob/part-{i}.parquet" for i in range(3)]
    assert_frame_equal(every.read().sort("id"), pl.concat(parts))
    assert every.metadata().files == 3


def test_partitioned_write_is_committed_by_a_marker(backend: Backend) -> None:
    df = frame(400)
    events = backend.at("events/**/*.parquet")
    assert events.write(df, partition_by=["day", "g"]) == 400

    written = keys(backend, "events/**/*")
    assert f"events/{MARKER}" in written
    data = [k for k in written if k.endswith(".parquet")]
    assert len(data) == 10  # 2 days x 5 groups
    assert all(k.startswith("events/day=2026-01-0") and "/g=" in k for k in data)
    assert all(k.rsplit("/", 1)[1].startswith("part-") for k in data)

    got = events.read()
    assert_frame_equal(got.select(df.columns).sort("id"), df, check_dtypes=False)
    one = events.scan().filter(pl.col("day") == dt.date(2026, 1, 2), pl.col("g") == 1).collect()
    assert sorted(one["id"]) == [i for i in range(400) if i % 2 == 1 and i % 5 == 1]

    # A rewrite publishes only its own files; the previous write's stay for slow readers,
    # the one before that is deleted.
    events.write(frame(40, offset=1_000), partition_by=["day", "g"])
    assert sorted(events.read()["id"]) == list(range(1_000, 1_040))
    events.write(frame(20, offset=2_000), partition_by=["day", "g"])
    assert sorted(events.read()["id"]) == list(range(2_000, 2_020))
    left = [k for k in keys(backend, "events/**/*.parquet") if k not in data]
    assert not set(data) & set(keys(backend, "events/**/*.parquet"))
    assert len(left) == 20  # 10 files from each of the last two writes


def test_multi_file_write_ignores_uncommitted_files(backend: Backend) -> None:
    out = backend.at("multi/*.parquet")
    out.write(frame(300).lazy())
    # A crashed writer's file next to the committed ones is not part of the dataset.
    backend.at("multi/crashed.parquet").write(frame(7, offset=9_000))
    assert sorted(out.read()["id"]) == list(range(300))
    assert out.metadata().files == 1
    # Reading one partition folder through a narrower glob still honours the root marker.
    events = backend.at("ev/**/*.parquet")
    events.write(frame(100), partition_by=["g"])
    backend.at("ev/g=1/stray.parquet").write(frame(5, offset=5_000).drop("g"))
    narrow = backend.at("ev/g=1/*.parquet").read()
    assert sorted(narrow["id"]) == list(range(1, 100, 5))


def test_partitioned_write_needs_a_glob_that_finds_its_files(backend: Backend) -> None:
    with pytest.raises(StorageError, match=r"must be a glob such as 'p/\*\*/\*\.parquet'"):
        backend.at("p.parquet").write(frame(), partition_by=["g"])
    with pytest.raises(StorageError, match=r"Use a path such as 'p/\*\*/\*\.parquet'"):
        backend.at("p/*.parquet").write(frame(), partition_by=["g"])
    with pytest.raises(StorageError, match="Parquet or IPC"):
        backend.at("p/**/*.csv").write(frame(), partition_by=["g"])
    assert keys(backend, "p/**/*") == []


def test_overwrite_is_atomic_while_another_thread_reads(backend: Backend) -> None:
    # Big enough that a reader needs several requests per file on object stores.
    versions = [pl.select(v=pl.repeat(value, 200_000), i=pl.int_range(200_000)) for value in (1, 2)]
    out = backend.at("atomic/t.parquet")
    out.write(versions[0])
    seen: list[set[int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def read_repeatedly() -> None:
        try:
            while not done.is_set():
                got = out.read()
                assert got.height == 200_000
                seen.append(set(got["v"].unique()))
        except BaseException as exc:
            errors.append(exc)

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    try:
        for i in range(6):
            out.write(versions[i % 2])
            time.sleep(0.05)  # a writer that pauses, as real ones do; readers need a gap
    finally:
        done.set()
        reader.join()
    assert not errors, errors
    assert seen
    assert all(values in ({1}, {2}) for values in seen)


def test_failed_write_leaves_the_previous_data(backend: Backend) -> None:
    out = backend.at("keep/t.parquet")
    out.write(frame(10))

    def explode(batch: pl.DataFrame) -> pl.DataFrame:
        raise RuntimeError("boom in the middle of the write")

    failing = frame(10).lazy().map_batches(explode)
    with pytest.raises(Exception, match="boom"):
        out.write(failing)
    assert_frame_equal(out.read(), frame(10))
    assert [o.key for o in out.objects()] == ["keep/t.parquet"]
    assert keys(backend, "keep/*") == ["keep/t.parquet"]  # no temporary left behind


# -- errors ---------------------------------------------------------------------------------


def test_missing_object(backend: Backend) -> None:
    missing = backend.at("nope/missing.parquet")
    assert not missing.exists()
    for action in (missing.read, missing.scan, missing.metadata):
        with pytest.raises(StorageError, match="does not exist") as info:
            action()
        assert missing.uri in str(info.value)
        assert "write the data first" in str(info.value)


def test_empty_glob(backend: Backend) -> None:
    backend.at("some/file.csv").write(frame(3))
    empty = backend.at("some/*.parquet")
    with pytest.raises(StorageError, match="No file matches") as info:
        empty.read()
    assert empty.uri in str(info.value)


def test_bucket_does_not_exist(backend: Backend) -> None:
    for path in ("x/*.parquet", "x.parquet"):
        ghost = backend.provider.bucket(bucket="glacier-no-such-bucket", path=path)
        assert not ghost.exists()
        for action in (ghost.read, ghost.metadata):
            with pytest.raises(StorageError, match="'glacier-no-such-bucket' does not exist") as e:
                action()
            assert ghost.uri in str(e.value)
            assert "Create it" in str(e.value)
    if backend.name != "local":  # local buckets are folders, made on first write
        with pytest.raises(StorageError, match="'glacier-no-such-bucket' does not exist"):
            ghost.write(frame(3))


def test_unsupported_scheme_for_the_provider(backend: Backend) -> None:
    own = SCHEME[backend.name].rstrip("/") or "file://"
    same = backend.provider.bucket(bucket=f"{own.rstrip(':/')}://{backend.bucket}", path="a.csv")
    assert (same.bucket, same.path) == (backend.bucket, "a.csv")
    foreign = "gs" if backend.name != "gcs" else "s3"
    with pytest.raises(StorageError, match=rf"{foreign}:// scheme") as info:
        backend.provider.bucket(bucket=f"{foreign}://raw", path="sales/x.parquet")
    assert f"{foreign}://raw/sales/x.parquet" in str(info.value)
    assert "Provider with the" in str(info.value)
