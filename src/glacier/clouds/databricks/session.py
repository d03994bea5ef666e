"""The Spark session on Databricks: databricks-connect's ``DatabricksSession``.

``glacier.spark`` gets it through the registry (the Databricks platform's ``spark_session``)
for ``SparkSettings(master="databricks")`` or ``platform="databricks"``, the latter with an
``sc://`` connection string as ``master``. Otherwise databricks-connect configures itself from
its usual profile and environment. It bundles its own PySpark, so it lives in an environment of
its own and is imported only here, when a session is asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from glacier.spark.errors import SparkTaskError
from glacier.spark.session import SparkSettings, is_connect_master

__all__ = ["OPTIONS", "DatabricksConnectNotInstalledError", "create_session"]

INSTALL_HINT = (
    "pip install 'glacier-pipelines[databricks]' (databricks-connect bundles its own "
    "pyspark: install it in an environment without the pip 'pyspark' package)"
)

OPTIONS: dict[str, type] = {"profile": str, "cluster_id": str, "serverless": bool}
"""The ``platform_options`` a Databricks session takes: a config profile (``~/.databrickscfg``),
the cluster to attach to, and whether to use serverless compute."""


class DatabricksConnectNotInstalledError(SparkTaskError, ImportError):
    """A Databricks session was requested but databricks-connect is not installed."""


def _check(options: Mapping[str, object]) -> None:
    """Refuse an option a Databricks session does not take, or one of the wrong type."""
    for name, value in options.items():
        kind = OPTIONS.get(name)
        if kind is None:
            raise SparkTaskError(
                f"{name!r} is not an option of a Databricks Spark session; use "
                f"{', '.join(OPTIONS)} in SparkSettings.platform_options"
            )
        if not isinstance(value, kind):
            raise SparkTaskError(
                f"the Databricks session option {name!r} must be a {kind.__name__}, got {value!r}"
            )


def create_session(settings: SparkSettings) -> Any:
    """A ``DatabricksSession`` for ``settings``, with Glacier's runtime Spark configuration.

    Raises:
        DatabricksConnectNotInstalledError: databricks-connect is not installed.
        SparkTaskError: an unknown option, or one of the wrong type, in ``platform_options``.
    """
    options = settings.platform_options
    _check(options)  # before the import: bad settings are the first thing to fix
    try:
        from databricks.connect import (  # type: ignore[import-not-found,import-untyped,unused-ignore]  # noqa: PLC0415 - an SDK of its own venv
            DatabricksSession,
        )
    except ImportError as exc:
        raise DatabricksConnectNotInstalledError(
            f"a Databricks session needs databricks-connect: {INSTALL_HINT}"
        ) from exc
    builder = DatabricksSession.builder
    if is_connect_master(settings.master):
        builder = builder.remote(settings.master.strip())
    if options.get("profile"):
        builder = builder.profile(options["profile"])
    if options.get("cluster_id"):
        builder = builder.clusterId(options["cluster_id"])
    if options.get("serverless"):
        builder = builder.serverless(True)
    session = builder.getOrCreate()
    runtime = {"spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS", **settings.conf}
    if settings.shuffle_partitions is not None:
        runtime["spark.sql.shuffle.partitions"] = str(settings.shuffle_partitions)
    for key, value in runtime.items():
        session.conf.set(key, value)
    return session
