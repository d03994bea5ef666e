"""Spark execution layer for Glacier.

Importing this package never imports PySpark: every PySpark import happens inside the
functions that need it, so the core can import ``glacier.spark`` on machines without Spark.
"""

from __future__ import annotations

from glacier.spark.errors import (
    DatabricksConnectNotInstalledError,
    FrameTooLargeError,
    JavaNotFoundError,
    SparkNotInstalledError,
    SparkTaskError,
    SparkTypeError,
)

__all__ = [
    "DatabricksConnectNotInstalledError",
    "FrameTooLargeError",
    "JavaNotFoundError",
    "SparkNotInstalledError",
    "SparkTaskError",
    "SparkTypeError",
]
