"""Local buckets: every format, globs, atomic writes, safe paths and clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from glacier import BucketMetadata, Provider, StorageError

FRAME = pl.DataFrame({"id": [1, 2, 3], "name": ["a", "b", "c"], "x": [0.5, 1.5, -2.0]})

FORMATS = ["parquet", "pq", "csv", "ndjson", "jsonl", "ipc", "arrow", "feather"]


@pytest.mark.parametrize("ext", FORMATS)
def test_write_read_scan_round_trip(provider: Provider, tmp_path: Path, ext: str) -> None:
    bucket = provider.bucket(bucket="raw", path=f"sub/data.{ext}")
    assert not bucket.exists()
    assert bucket.write(FRAME) == 3
    assert bucket.exists()
    assert bucket.uri == str(tmp_path / "raw" / "sub" / f"data.{ext}")
    assert Path(bucket.uri).is_file()
    assert bucket.read().equals(FRAME)
    scanned = bucket.scan()
    assert isinstance(scanned, pl.LazyFrame)
    assert scanned.filter(pl.col("id") > 1).collect().equals(FRAME.filter(pl.col("id") > 1))


@pytest.mark.parametrize("ext", FORMATS)
def test_write_lazy_frame(provider: Provider, ext: str) -> None:
    bucket = provider.bucket(bucket="raw", path=f"lazy.{ext}")
    rows = bucket.write(FRAME.lazy().filter(pl.col("id") < 3))
    # rows are reported where the file footer says so cheaply (parquet, ipc)
    assert rows == (2 if bucket.format.value in ("parquet", "ipc") else None)
    assert bucket.read().equals(FRAME.head(2))


def test_format_from_extension(provider: Provider) -> None:
    formats = {ext: provider.bucket(bucket="raw", path=f"f.{ext}").format.value for ext in FORMATS}
    assert formats == {
        "parquet": "parquet",
        "pq": "parquet",
        "csv": "csv",
        "ndjson": "ndjson",
        "jsonl": "ndjson",
        "ipc": "ipc",
        "arrow": "ipc",
        "feather": "ipc",
    }
    with pytest.raises(StorageError, match=r"cannot tell the file format from \.xlsx extension"):
        provider.bucket(bucket="raw", path="f.xlsx")
    with pytest.raises(StorageError, match=r"from no extension"):
        provider.bucket(bucket="raw", path="folder/file")


def test_glob_reads_every_match(provider: Provider) -> None:
    for i in range(3):
        provider.bucket(bucket="raw", path=f"sales/2024-0{i + 1}.parquet").write(
            FRAME.with_columns(pl.lit(i).alias("part"))
        )
    provider.bucket(bucket="raw", path="sales/notes.csv").write(FRAME)  # not matched
    sales = provider.bucket(bucket="raw", path="sales/*.parquet")
    assert sales.is_glob
    assert [o.key for o in sales.objects()] == [
        "sales/2024-01.parquet",
        "sales/2024-02.parquet",
        "sales/2024-03.parquet",
    ]
    df = sales.read()
    assert df.height == 9
    assert sorted(df["part"].unique().to_list()) == [0, 1, 2]
    nested = provider.bucket(bucket="raw", path="**/*.csv")
    assert [o.key for o in nested.objects()] == ["sales/notes.csv"]
    sales.write(FRAME)  # a glob path takes a multi-file write that replaces what it names
    assert sales.read().equals(FRAME)
    assert len(sales.objects()) == 1


def test_metadata(provider: Provider) -> None:
    bucket = provider.bucket(bucket="raw", path="m.parquet")
    bucket.write(FRAME)
    meta = bucket.metadata()
    assert isinstance(meta, BucketMetadata)
    assert meta.uri == bucket.uri
    assert meta.format == "parquet"
    assert meta.files == 1
    assert meta.size == os.path.getsize(bucket.uri)
    assert meta.modified is not None and meta.modified.tzinfo is not None
    assert meta.fingerprint == bucket.metadata().fingerprint  # stable while unchanged
    bucket.write(FRAME.head(1))
    assert bucket.metadata().fingerprint != meta.fingerprint


def test_metadata_of_a_glob_sums_files(provider: Provider) -> None:
    for i in range(2):
        provider.bucket(bucket="raw", path=f"p/{i}.csv").write(FRAME)
    meta = provider.bucket(bucket="raw", path="p/*.csv").metadata()
    assert meta.files == 2
    assert meta.size == sum(
        os.path.getsize(provider.bucket(bucket="raw", path=f"p/{i}.csv").uri) for i in range(2)
    )


def test_to_dict(provider: Provider) -> None:
    assert provider.bucket(bucket="raw", path="./a//b.csv").to_dict() == {
        "bucket": "raw",
        "path": "a/b.csv",
        "format": "csv",
        "cloud": "local",
        "config": None,
    }


# --- atomic writes ----------------------------------------------------------------------------


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_leaves_no_temporary_file(provider: Provider, tmp_path: Path) -> None:
    bucket = provider.bucket(bucket="out", path="daily.parquet")
    bucket.write(FRAME)
    bucket.write(FRAME.lazy())
    assert _visible(tmp_path / "out") == ["daily.parquet"]


def test_readers_see_the_old_file_while_a_write_is_in_progress(
    provider: Provider, tmp_path: Path
) -> None:
    bucket = provider.bucket(bucket="out", path="daily.parquet")
    bucket.write(FRAME)
    before = Path(bucket.uri).read_bytes()
    seen: list[bytes] = []

    def peek(s: pl.Series) -> pl.Series:
        seen.append(Path(bucket.uri).read_bytes())
        return s

    new = FRAME.lazy().head(2).with_columns(pl.col("x").map_batches(peek, return_dtype=pl.Float64))
    bucket.write(new)
    assert seen and all(b == before for b in seen)
    assert bucket.read().equals(FRAME.head(2))
    assert _visible(tmp_path / "out") == ["daily.parquet"]


def test_failed_write_keeps_the_previous_file(provider: Provider, tmp_path: Path) -> None:
    bucket = provider.bucket(bucket="out", path="daily.parquet")
    bucket.write(FRAME)
    before = Path(bucket.uri).read_bytes()

    def explode(s: pl.Series) -> pl.Series:
        raise RuntimeError("disk on fire")

    failing = FRAME.lazy().with_columns(pl.col("x").map_batches(explode, return_dtype=pl.Float64))
    with pytest.raises(Exception, match="disk on fire"):
        bucket.write(failing)
    assert Path(bucket.uri).read_bytes() == before
    assert bucket.read().equals(FRAME)
    assert _visible(tmp_path / "out") == ["daily.parquet"]


def test_write_rejects_non_frames(provider: Provider) -> None:
    bucket = provider.bucket(bucket="out", path="daily.parquet")
    with pytest.raises(
        StorageError, match=r"write\(\) takes a polars DataFrame or LazyFrame, got dict"
    ):
        bucket.write({"a": [1]})  # type: ignore[arg-type]


# --- paths and errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("../secret.parquet", r"escapes the bucket with '\.\.'"),
        ("a/../../secret.parquet", r"escapes the bucket"),
        ("sales/../x.parquet", r"escapes the bucket"),
        ("/etc/passwd.csv", r"is absolute"),
        ("~/x.csv", r"is absolute"),
        ("C:/x.csv", r"is absolute"),
        ("a\\b.csv", r"is absolute"),
        ("", r"is empty"),
        ("  ", r"is empty"),
    ],
)
def test_unsafe_paths_are_refused(provider: Provider, path: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        provider.bucket(bucket="raw", path=path)


def test_missing_file(provider: Provider, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    bucket = provider.bucket(bucket="raw", path="nope.parquet")
    assert not bucket.exists()
    for action in (bucket.read, bucket.scan, bucket.metadata):
        with pytest.raises(
            StorageError, match=r"raw/nope\.parquet does not exist\. Check the path"
        ):
            action()


def test_empty_glob(provider: Provider, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    bucket = provider.bucket(bucket="raw", path="sales/*.csv")
    assert not bucket.exists()
    with pytest.raises(
        StorageError, match=r"No file matches .*raw/sales/\*\.csv\. Check the pattern"
    ):
        bucket.scan()


def test_missing_bucket(provider: Provider) -> None:
    bucket = provider.bucket(bucket="ghost", path="x.parquet")
    with pytest.raises(
        StorageError, match=r"Bucket 'ghost' does not exist \(.*ghost.*\)\. Create it"
    ):
        bucket.read()
