"""Top-level test configuration."""

from collections.abc import Iterator

import pytest

pytest_plugins = ["tests.cloud.fixtures"]


@pytest.fixture(autouse=True, scope="module")
def _no_warm_executors_across_modules() -> Iterator[None]:
    """Close the emulated executors kept warm (serverless pools, local Dask clusters) after each
    module. A run keeps them for the next run in its process, one per config; most test modules
    make providers of their own, so without this a worker of the suite ended holding ten idle
    clusters, three processes each, heart-beating on a two-core machine."""
    yield
    from glacier.runtime.backends import warm  # noqa: PLC0415 - after the module's imports

    warm.close_all()
