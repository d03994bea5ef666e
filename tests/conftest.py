"""Top-level test configuration."""

pytest_plugins = ["tests.cloud.fixtures"]
