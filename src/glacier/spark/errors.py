"""Errors raised by the Spark execution layer.

``SparkTaskError`` is the local base class. It will be re-parented onto Glacier's
error base class when this subpackage is wired into the core.
"""

from __future__ import annotations

__all__ = [
    "DatabricksConnectNotInstalledError",
    "FrameTooLargeError",
    "JavaNotFoundError",
    "SparkNotInstalledError",
    "SparkTaskError",
    "SparkTypeError",
]


class SparkTaskError(Exception):
    """Base class for every error raised by ``glacier.spark``."""


class SparkNotInstalledError(SparkTaskError, ImportError):
    """PySpark (or its Spark Connect client dependencies) is not installed."""


class DatabricksConnectNotInstalledError(SparkTaskError, ImportError):
    """A Databricks session was requested but databricks-connect is not installed."""


class JavaNotFoundError(SparkTaskError):
    """No Java runtime was found, or it is older than the version Spark needs."""


class SparkTypeError(SparkTaskError, TypeError):
    """A Polars column type cannot be represented in Spark."""


class FrameTooLargeError(SparkTaskError):
    """A whole-frame task would collect more data on the driver than allowed."""
