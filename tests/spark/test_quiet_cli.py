"""``glacier run`` shows Glacier's progress only; Spark's own output with ``--verbose``."""

from __future__ import annotations

import textwrap
from pathlib import Path

import polars as pl
import pytest
from tests._cli_support import run_glacier
from tests.spark.conftest import _skip_without_spark

pytestmark = pytest.mark.spark

PIPELINE = """
import os
import polars as pl
from glacier import Provider, pipeline
from glacier.config import LocalConfig, SparkConfig

provider = Provider(config=LocalConfig(base_path=os.environ["GLACIER_BASE_PATH"]))

@provider.cluster(config=SparkConfig()).task()
def double(df: pl.LazyFrame) -> pl.LazyFrame:
    return df.with_columns(b=pl.col("a") * 2)

@pipeline(name="quiet")
def quiet() -> object:
    return double(provider.bucket("raw", "a.parquet"))
"""

SPARK_NOISE = ("log4j", "WARN", "Setting default log level", "setLogLevel", "FutureWarning")


@pytest.fixture
def script(tmp_path: Path) -> Path:
    _skip_without_spark()
    (tmp_path / "data" / "raw").mkdir(parents=True)
    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(tmp_path / "data" / "raw" / "a.parquet")
    path = tmp_path / "quiet.py"
    path.write_text(textwrap.dedent(PIPELINE))
    return path


def test_spark_prints_nothing_of_its_own_by_default(script: Path, tmp_path: Path) -> None:
    done = run_glacier("run", str(script), "--no-cache", cwd=tmp_path, base_path=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout and "rows=3" in done.stdout
    noise = [line for line in done.stderr.splitlines() if any(n in line for n in SPARK_NOISE)]
    assert noise == [], f"Spark's own lines reached the terminal: {noise}"


def test_verbose_shows_spark_s_own_output(script: Path, tmp_path: Path) -> None:
    done = run_glacier(
        "run", str(script), "--no-cache", "--verbose", cwd=tmp_path, base_path=tmp_path / "data"
    )
    assert done.returncode == 0, done.stderr
    assert "log4j" in done.stderr or "WARN" in done.stderr
    assert "Spark session for local[2] ready" in done.stderr
