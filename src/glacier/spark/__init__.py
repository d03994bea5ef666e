"""Spark execution layer for Glacier: a generic Spark engine.

Importing this package never imports PySpark: every PySpark import happens inside the
functions that need it, so the core can import ``glacier.spark`` on machines without Spark.
A platform that hosts Spark creates its own sessions (``glacier.clouds.PLATFORMS``); the errors
its session factory raises are re-exported here lazily, through the registry.
"""

from __future__ import annotations

from glacier import clouds
from glacier.spark.errors import (
    FrameTooLargeError,
    JavaNotFoundError,
    SparkNotInstalledError,
    SparkTaskError,
    SparkTypeError,
)

__all__ = [
    "FrameTooLargeError",
    "JavaNotFoundError",
    "SparkNotInstalledError",
    "SparkTaskError",
    "SparkTypeError",
]
__all__ += list(clouds.SPARK_ERRORS)  # the platforms' errors, loaded by __getattr__

# a platform's Spark errors load on first access: ``from glacier.spark import <name>``
__getattr__, __dir__ = clouds.lazy_exports(__name__, clouds.SPARK_ERRORS, globals(), __all__)
