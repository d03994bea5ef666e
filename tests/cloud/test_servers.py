"""Prove the local S3 / Azure / GCS servers do what Glacier needs, through Polars and obstore.

Every test in the first part runs once per server (``cloud_bucket`` is parametrized ``s3``,
``azure``, ``gcs``) against a fresh bucket. The last part checks start/stop and error reporting.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import sys
from pathlib import Path

import obstore as obs
import polars as pl
import pytest
from obstore.exceptions import AlreadyExistsError
from obstore.store import AzureStore, GCSStore, S3Store
from polars.testing import assert_frame_equal

from tests.cloud import fixtures, servers
from tests.cloud.fixtures import Bucket

pytestmark = pytest.mark.cloud


def _frame(rows: int = 1_000) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": pl.int_range(rows, eager=True),
            "g": pl.int_range(rows, eager=True) % 5,
            "name": [f"row-{i}" for i in range(rows)],
            "x": pl.int_range(rows, eager=True).cast(pl.Float64) / 7,
        }
    )


def _keys(bucket: Bucket, prefix: str) -> list[str]:
    return sorted(
        meta["path"] for batch in obs.list(bucket.store(), prefix=prefix) for meta in batch
    )


# -- Polars -------------------------------------------------------------------------------


def test_write_parquet_then_scan_with_filter(cloud_bucket: Bucket) -> None:
    df = _frame()
    url = cloud_bucket.url("tables/t.parquet")
    df.write_parquet(url, storage_options=cloud_bucket.storage_options)

    got = (
        pl.scan_parquet(url, storage_options=cloud_bucket.storage_options)
        .filter(pl.col("g") == 3)
        .collect()
    )
    assert_frame_equal(got, df.filter(pl.col("g") == 3))
    assert got.height == 200
    assert_frame_equal(pl.read_parquet(url, storage_options=cloud_bucket.storage_options), df)


def test_sink_parquet_and_glob_scan(cloud_bucket: Bucket) -> None:
    df = _frame(900)
    so = cloud_bucket.storage_options
    for i, part in enumerate(df.iter_slices(300)):
        part.lazy().sink_parquet(cloud_bucket.url(f"glob/part-{i}.parquet"), storage_options=so)
    obs.put(cloud_bucket.store(), "glob/README.txt", b"not parquet")  # must not match the glob

    got = pl.scan_parquet(cloud_bucket.url("glob/*.parquet"), storage_options=so).collect()
    assert_frame_equal(got.sort("id"), df)
    assert _keys(cloud_bucket, "glob") == [
        "glob/README.txt",
        "glob/part-0.parquet",
        "glob/part-1.parquet",
        "glob/part-2.parquet",
    ]


def test_hive_partitioned_write_and_read(cloud_bucket: Bucket) -> None:
    days = [dt.date(2026, 1, 1), dt.date(2026, 1, 2)]
    df = _frame(400).with_columns(day=pl.Series([days[i % 2] for i in range(400)]))
    so = cloud_bucket.storage_options
    root = cloud_bucket.url("hive/")
    df.lazy().sink_parquet(pl.PartitionBy(root, key=["day", "g"]), storage_options=so)

    keys = _keys(cloud_bucket, "hive")
    assert len(keys) == 10  # 2 days x 5 groups
    assert all(k.startswith("hive/day=2026-01-0") and "/g=" in k for k in keys)

    scanned = pl.scan_parquet(root, hive_partitioning=True, storage_options=so)
    got = scanned.filter(pl.col("day") == days[1], pl.col("g") == 4).collect()
    expected = df.filter(pl.col("day") == days[1], pl.col("g") == 4)
    assert_frame_equal(got.select(expected.columns).sort("id"), expected, check_dtypes=False)
    assert scanned.select(pl.len()).collect().item() == 400


def test_csv_and_ndjson_sinks(cloud_bucket: Bucket) -> None:
    df = _frame(500)
    so = cloud_bucket.storage_options
    df.lazy().sink_csv(cloud_bucket.url("out/t.csv"), storage_options=so)
    df.lazy().sink_ndjson(cloud_bucket.url("out/t.ndjson"), storage_options=so)

    assert_frame_equal(pl.scan_csv(cloud_bucket.url("out/t.csv"), storage_options=so).collect(), df)
    got = pl.scan_ndjson(cloud_bucket.url("out/t.ndjson"), storage_options=so).collect()
    assert_frame_equal(got, df)
    head = bytes(obs.get_range(cloud_bucket.store(), "out/t.csv", start=0, end=14))
    assert head == b"id,g,name,x\n0,"


def test_multipart_sized_write_round_trip(
    cloud_bucket: Bucket, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Polars' default upload part is larger than this file; 5 MiB parts (the S3/GCS minimum)
    # force a real multipart upload (read per write, so setting it here is enough).
    monkeypatch.setenv("POLARS_UPLOAD_CHUNK_SIZE", str(5 * 1024 * 1024))
    rows = 1_000_000  # ~16 MB: int64 ids + pseudo-random (hash) uint64s, stored uncompressed
    df = pl.select(i=pl.int_range(rows), v=pl.int_range(rows).hash(seed=7))
    url = cloud_bucket.url("big/data.parquet")
    so = cloud_bucket.storage_options
    df.lazy().sink_parquet(url, compression="uncompressed", storage_options=so)

    meta = obs.head(cloud_bucket.store(), "big/data.parquet")
    assert meta["size"] > 12 * 1024 * 1024
    if cloud_bucket.server.scheme == "s3":  # a multipart upload's ETag ends in -<parts>
        assert (meta["e_tag"] or "").endswith('-4"')
    assert_frame_equal(pl.read_parquet(url, storage_options=so), df)


# -- obstore ------------------------------------------------------------------------------


def test_obstore_put_get_head_list_copy_delete(cloud_bucket: Bucket) -> None:
    store = cloud_bucket.store()
    result = obs.put(store, "a/one.bin", b"hello glacier")
    assert result["e_tag"]
    obs.put(store, "a/b/two.bin", b"2")

    assert bytes(obs.get(store, "a/one.bin").bytes()) == b"hello glacier"
    assert bytes(obs.get_range(store, "a/one.bin", start=6, length=7)) == b"glacier"
    meta = obs.head(store, "a/one.bin")
    assert meta["size"] == 13
    assert meta["e_tag"] == result["e_tag"]

    assert _keys(cloud_bucket, "a") == ["a/b/two.bin", "a/one.bin"]
    listing = obs.list_with_delimiter(store, prefix="a")
    assert listing["common_prefixes"] == ["a/b"]
    assert [m["path"] for m in listing["objects"]] == ["a/one.bin"]

    obs.copy(store, "a/one.bin", "c/copy.bin")
    assert bytes(obs.get(store, "c/copy.bin").bytes()) == b"hello glacier"
    obs.rename(store, "c/copy.bin", "c/renamed.bin")
    assert _keys(cloud_bucket, "c") == ["c/renamed.bin"]

    # obstore_kwargs() builds an equivalent store with the plain store class.
    store_class = {"s3": S3Store, "az": AzureStore, "gs": GCSStore}[cloud_bucket.server.scheme]
    same = store_class(cloud_bucket.name, **cloud_bucket.server.obstore_kwargs())
    assert bytes(obs.get(same, "c/renamed.bin").bytes()) == b"hello glacier"

    obs.delete(store, ["a/one.bin", "a/b/two.bin", "c/renamed.bin"])
    assert _keys(cloud_bucket, "") == []
    with pytest.raises(FileNotFoundError):
        obs.get(store, "a/one.bin")


def test_obstore_multipart_put(cloud_bucket: Bucket) -> None:
    data = os.urandom(11 * 1024 * 1024)
    store = cloud_bucket.store()
    obs.put(store, "mp/blob", data, use_multipart=True, chunk_size=5 * 1024 * 1024)
    assert obs.head(store, "mp/blob")["size"] == len(data)
    assert bytes(obs.get(store, "mp/blob").bytes()) == data


def test_put_if_not_exists(cloud_bucket: Bucket) -> None:
    store = cloud_bucket.store()
    obs.put(store, "lock", b"first", mode="create")
    with pytest.raises(AlreadyExistsError):
        obs.put(store, "lock", b"second", mode="create")
    assert bytes(obs.get(store, "lock").bytes()) == b"first"


def test_missing_object_raises(cloud_bucket: Bucket) -> None:
    store = cloud_bucket.store()
    with pytest.raises(FileNotFoundError):
        obs.get(store, "nope/missing.parquet")
    with pytest.raises(FileNotFoundError):
        obs.head(store, "nope/missing.parquet")
    with pytest.raises(FileNotFoundError):
        pl.scan_parquet(
            cloud_bucket.url("nope/missing.parquet"), storage_options=cloud_bucket.storage_options
        ).collect()


# -- lifecycle and error reporting --------------------------------------------------------


def _port_open(url: str) -> bool:
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((host, int(port))) == 0


@pytest.mark.parametrize("kind", sorted(servers.STARTERS))
def test_stop_frees_process_and_port(kind: str) -> None:
    server = servers.STARTERS[kind]()
    try:
        assert server.running()
        assert _port_open(server.endpoint)
        for pid in server.pids:
            os.kill(pid, 0)  # alive
    finally:
        server.stop()
    assert not server.running()
    assert all(p.process.returncode is not None for p in server.processes)
    for pid in server.pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)  # reaped: the PID no longer exists
    assert not _port_open(server.endpoint)


def test_missing_azurite_names_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("GLACIER_NODE_PREFIX", str(tmp_path))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(servers, "REPO_ROOT", tmp_path)
    with pytest.raises(servers.ServerUnavailableError, match=r"install-test-servers\.sh"):
        servers.start_azure()


def test_early_exit_reports_server_output() -> None:
    code = "import sys; sys.stderr.write('boom: bad flag\\n'); sys.exit(3)"
    proc = servers.spawn("dummy", [sys.executable, "-c", code], "pip install dummy")
    with pytest.raises(servers.ServerUnavailableError) as info:
        servers.wait_ready(proc, lambda: False, "pip install dummy", timeout=10)
    message = str(info.value)
    assert "code 3" in message
    assert "boom: bad flag" in message
    assert "pip install dummy" in message


def test_fixture_fails_instead_of_skipping(monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable() -> servers.CloudServer:
        raise servers.ServerUnavailableError("moto_server not found. Install: pip install moto")

    monkeypatch.setitem(servers.STARTERS, "s3", unavailable)
    with pytest.raises(pytest.fail.Exception, match="pip install moto"):
        next(fixtures._serve("s3"))


def test_dead_server_is_reported_with_its_output() -> None:
    server = servers.start_gcs()
    try:
        victim = server.processes[0]
        os.kill(victim.pid, signal.SIGKILL)
        victim.process.wait(timeout=10)
        problem = server.health_problem()
        assert problem is not None
        assert f"fake-gcs-server (pid {victim.pid}) exited with code -9" in problem
    finally:
        server.stop()  # must cope with an already-dead process
    assert not server.running()
