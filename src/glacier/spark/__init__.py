"""Spark execution layer for Glacier: a generic Spark engine.

Importing this package never imports PySpark: every PySpark import happens inside the
functions that need it, so the core can import ``glacier.spark`` on machines without Spark.
A platform that hosts Spark creates its own sessions (``glacier.clouds.PLATFORMS``); the errors
its session factory raises are re-exported here lazily, through the registry.
"""

from __future__ import annotations

from typing import Any

from glacier import clouds
from glacier.spark.errors import (
    FrameTooLargeError,
    JavaNotFoundError,
    SparkNotInstalledError,
    SparkTaskError,
    SparkTypeError,
)


def __getattr__(name: str) -> Any:
    """Load a platform's Spark error on first access (``from glacier.spark import <name>``)."""
    ref = clouds.SPARK_ERRORS.get(name)
    if ref is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = clouds.load(ref)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "FrameTooLargeError",
    "JavaNotFoundError",
    "SparkNotInstalledError",
    "SparkTaskError",
    "SparkTypeError",
]
__all__ += list(clouds.SPARK_ERRORS)  # the platforms' errors, loaded by __getattr__
