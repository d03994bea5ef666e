"""Fixtures for the Spark execution layer tests.

Tests that need a JVM or a Spark server carry the ``spark`` marker (registered here, so
``pyproject.toml`` needs no change); deselect them with ``-m "not spark"``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spark: needs PySpark and Java 17+ (starts a local[2] Spark session)"
    )
    config.addinivalue_line(
        "markers", "spark_connect: starts a Spark Connect server on 127.0.0.1 (runs last)"
    )
    config.addinivalue_line(
        "filterwarnings", "ignore:PySpark does not yet fully support pandas:FutureWarning"
    )


def _skip_without_spark() -> None:
    pytest.importorskip("pyspark", reason="pip install 'glacier-pipelines[spark]'")
    from glacier.spark.errors import JavaNotFoundError  # noqa: PLC0415 - after the check that pyspark and Java exist
    from glacier.spark.session import check_java  # noqa: PLC0415 - after the check that pyspark and Java exist

    try:
        check_java()
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] session for the whole run (about 5-15 s to start)."""
    _skip_without_spark()
    from glacier.spark.session import SparkSettings, get_session, stop_session  # noqa: PLC0415 - after the check that pyspark and Java exist

    # The settings local-mode cluster executors use, so pipeline runs reuse this session.
    session = get_session(SparkSettings(master="local[2]"))
    yield session
    stop_session()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


def all_types_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "u8": pl.Series([0, 255, None], dtype=pl.UInt8),
            "u16": pl.Series([0, 65535, None], dtype=pl.UInt16),
            "u32": pl.Series([0, 2**32 - 1, None], dtype=pl.UInt32),
            "u64": pl.Series([0, 2**64 - 1, None], dtype=pl.UInt64),
            "s": ["a", "é", None],
            "cat": pl.Series(["x", "y", None], dtype=pl.Categorical),
            "enum": pl.Series(["lo", "hi", None], dtype=pl.Enum(["lo", "hi"])),
            "dec": pl.Series(
                [Decimal("1.25"), Decimal("-99999999.99"), None], dtype=pl.Decimal(10, 2)
            ),
            "date": [dt.date(1970, 1, 1), dt.date(2262, 4, 11), None],
            "ts_naive": pl.Series(
                [dt.datetime(2024, 2, 29, 23, 59, 59, 999999), dt.datetime(1900, 1, 1), None]
            ).cast(pl.Datetime("ns")),
            "ts_utc": pl.Series(
                [dt.datetime(2024, 1, 1, 12), dt.datetime(2000, 6, 1), None]
            ).dt.replace_time_zone("UTC"),
            "ts_zoned": pl.Series([dt.datetime(2024, 3, 31, 2, 30), dt.datetime(2024, 7, 1), None])
            .dt.replace_time_zone("Europe/Paris", non_existent="null")
            .cast(pl.Datetime("ms", "Europe/Paris")),
            "dur": pl.Series([dt.timedelta(days=-3, microseconds=7), dt.timedelta(0), None]).cast(
                pl.Duration("ns")
            ),
            "lst": pl.Series([[1, 2], [], None], dtype=pl.List(pl.UInt32)),
            "lst_s": pl.Series([["a", None], ["b"], None], dtype=pl.List(pl.Categorical)),
            "arr": pl.Series([[1, 2], [3, 4], None], dtype=pl.Array(pl.Int32, 2)),
            "st": pl.Series(
                [
                    {"a": 1, "b": "x", "inner": {"d": dt.date(2020, 1, 1)}},
                    {"a": None, "b": None, "inner": None},
                    None,
                ],
                dtype=pl.Struct(
                    {"a": pl.UInt16, "b": pl.Categorical, "inner": pl.Struct({"d": pl.Date})}
                ),
            ),
        }
    )


@pytest.fixture(scope="session")
def all_types() -> pl.DataFrame:
    """One column per Polars type the type layer converts, with nulls and edge values."""
    return all_types_frame()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the Spark Connect tests last: switching the process-wide session to a Connect
    client stops the shared local[2] session."""
    items.sort(key=lambda item: item.get_closest_marker("spark_connect") is not None)
