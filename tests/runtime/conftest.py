"""The runtime tests use the core tests' local provider and unique pipeline names."""

from tests.core.conftest import name, provider

__all__ = ["name", "provider"]
