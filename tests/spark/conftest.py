"""Fixtures for the Spark execution layer tests.

Tests that need a JVM or a Spark server carry the ``spark`` marker (registered here, so
``pyproject.toml`` needs no change); deselect them with ``-m "not spark"``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "spark: needs PySpark and Java 17+ (starts a local[2] Spark session)"
    )
    config.addinivalue_line(
        "filterwarnings", "ignore:PySpark does not yet fully support pandas:FutureWarning"
    )


def _skip_without_spark() -> None:
    pytest.importorskip("pyspark", reason="pip install 'glacier-pipelines[spark]'")
    from glacier.spark.errors import JavaNotFoundError
    from glacier.spark.session import check_java

    try:
        check_java()
    except JavaNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """One local[2] session for the whole run (about 5-15 s to start)."""
    _skip_without_spark()
    from glacier.spark.session import SparkSettings, get_session, stop_session

    session = get_session(SparkSettings(master="local[2]", app_name="glacier-tests"))
    yield session
    stop_session()


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"

