"""The Databricks Spark session factory, reached by ``glacier.spark`` through the registry.

Its run against a real Spark Connect server needs databricks-connect, which has an environment
of its own: ``tests/spark/test_connect.py -k databricks`` (``scripts/test-databricks.sh``).
"""

from __future__ import annotations

import sys

import pytest

import glacier.spark
from glacier.clouds.databricks import session as databricks_session
from glacier.errors import GlacierError
from glacier.spark import DatabricksConnectNotInstalledError, SparkTaskError
from glacier.spark import session as session_mod
from glacier.spark.session import SparkSettings, get_session


def test_master_or_platform_selects_databricks() -> None:
    assert SparkSettings(master="databricks").session_platform == "databricks"
    assert SparkSettings(master=" Databricks ").session_platform == "databricks"
    assert SparkSettings(master="sc://x:1", platform="databricks").session_platform == "databricks"


def test_the_error_is_the_factorys_own_and_a_glacier_error() -> None:
    assert (
        DatabricksConnectNotInstalledError is databricks_session.DatabricksConnectNotInstalledError
    )
    assert issubclass(DatabricksConnectNotInstalledError, GlacierError)
    assert "DatabricksConnectNotInstalledError" in glacier.spark.__all__
    assert "DatabricksConnectNotInstalledError" in dir(glacier.spark)


def test_missing_databricks_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_mod._state, "current", None)  # get_session creates a session
    monkeypatch.setitem(sys.modules, "databricks", None)
    monkeypatch.setitem(sys.modules, "databricks.connect", None)
    with pytest.raises(DatabricksConnectNotInstalledError, match=r"\[databricks\]"):
        get_session(master="databricks")
    with pytest.raises(ImportError):  # also an ImportError for generic handlers
        get_session(SparkSettings(master="sc://h:1", platform="databricks"))
    assert session_mod._state.current is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"cluster": "0123-456789-abcdefgh"}, r"'cluster' is not an option .* cluster_id"),
        ({"serverless": "yes"}, r"'serverless' must be a bool, got 'yes'"),
        ({"profile": 3}, r"'profile' must be a str"),
    ],
)
def test_bad_options_are_refused_before_databricks_connect_is_needed(
    options: dict[str, object], message: str
) -> None:
    settings = SparkSettings(master="databricks", platform_options=options)
    with pytest.raises(SparkTaskError, match=message):
        databricks_session.create_session(settings)
