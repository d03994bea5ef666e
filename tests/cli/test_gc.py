"""``glacier gc`` and ``glacier run --keep``, as real subprocesses on real folders."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

import polars as pl

from tests._cli_support import run_glacier

SCRIPT = """
import os
import polars as pl
from glacier import Provider, pipeline
from glacier.config import LocalConfig

provider = Provider(config=LocalConfig(base_path=os.environ["GLACIER_TEST_BASE"]))
raw = provider.bucket(bucket="raw", path="in.parquet")
out = provider.bucket(bucket="curated", path="events/**/*.parquet")
a, b = provider.local(name="a"), provider.local(name="b")

@a.task(cache=False)
def load(source):
    return source.scan()

@b.task(cache=False)
def keep(df):
    return df

@pipeline(name="tidy")
def tidy():
    out.write(keep(load(raw)), partition_by=["day"])
"""


def aged(path: Path, seconds: float) -> Path:
    when = time.time() - seconds
    os.utime(path, (when, when))
    return path


def test_run_keep_and_gc_dry_run_then_gc(tmp_path: Path) -> None:
    base = tmp_path / "data"
    (base / "raw").mkdir(parents=True)
    (base / "curated").mkdir()
    pl.DataFrame({"x": [1, 2, 3], "day": [1, 1, 2]}).write_parquet(base / "raw" / "in.parquet")
    script = tmp_path / "tidy.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {"GLACIER_TEST_BASE": str(base)}

    kept = run_glacier("run", str(script), "--keep", cwd=tmp_path, env=env)
    assert kept.returncode == 0, kept.stderr
    runs = base / ".glacier" / "runs"
    (folder,) = runs.iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["load.parquet", "report.json"]

    orphan = base / "curated" / "events" / "day=1" / "part-0123456789ab-0.parquet"
    orphan.write_bytes(b"a killed write's part")
    temp = base / "curated" / "events" / "day=1" / ".part.parquet.0123456789ab.glacier-tmp"
    temp.write_bytes(b"half")
    old_run = runs / "20240101T000000.000000-abcdef"
    old_run.mkdir()
    old_report = old_run / "report.json"
    old_report.write_text("{}")
    for path in (orphan, temp, old_report):
        aged(path, 40 * 24 * 3600)

    dry = run_glacier("gc", str(script), "--dry-run", cwd=tmp_path, env=env)
    assert dry.returncode == 0, dry.stderr
    assert "Would free" in dry.stdout and "3 objects" in dry.stdout
    assert str(orphan) in dry.stdout and str(old_report) in dry.stdout
    assert orphan.exists() and temp.exists() and old_report.exists()

    done = run_glacier("gc", str(script), cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "Freed" in done.stdout and "3 objects" in done.stdout
    assert not orphan.exists() and not temp.exists() and not old_run.exists()
    assert folder.exists()  # young: kept
    assert sorted(pl.read_parquet(base / "curated" / "events" / "**" / "*.parquet")["x"]) == [
        1,
        2,
        3,
    ]


def test_gc_refuses_a_bad_size(tmp_path: Path) -> None:
    bad = run_glacier("gc", "--base-path", str(tmp_path), "--max-size", "lots", cwd=tmp_path)
    assert bad.returncode == 2
    assert "is not a size" in bad.stderr
