"""Errors raised by the Spark execution layer.

``SparkTaskError`` derives from :class:`~glacier.errors.GlacierError`, so the CLI and users
handle Spark problems like every other Glacier error (a platform's session factory raises its own
subclasses, e.g. when its client is missing). ``glacier.errors`` has no dependencies and
travels to Spark workers by value with this module (see ``modes.ship_by_value``).
"""

from __future__ import annotations

from glacier.errors import GlacierError

__all__ = [
    "FrameTooLargeError",
    "JavaNotFoundError",
    "SparkNotInstalledError",
    "SparkTaskError",
    "SparkTypeError",
]


class SparkTaskError(GlacierError):
    """Base class for every error raised by ``glacier.spark``."""


class SparkNotInstalledError(SparkTaskError, ImportError):
    """PySpark (or its Spark Connect client dependencies) is not installed."""


class JavaNotFoundError(SparkTaskError):
    """No Java runtime was found, or it is older than the version Spark needs."""


class SparkTypeError(SparkTaskError, TypeError):
    """A Polars column type cannot be represented in Spark."""


class FrameTooLargeError(SparkTaskError):
    """A whole-frame task would collect more data on the driver than allowed."""
