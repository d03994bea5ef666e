"""Pytest plugin: session-scoped local cloud servers and fresh buckets.

Load it from a conftest with ``pytest_plugins = ["tests.cloud.fixtures"]``.

* ``s3_server``, ``azure_server``, ``gcs_server``: one real server each per test session, stopped
  by PID at the end. Missing prerequisites make the fixture *fail* with the install command;
  they never skip (CI installs everything).
* ``cloud_server``: parametrized over the three (ids ``s3``, ``azure``, ``gcs``).
* ``cloud_bucket``: a fresh, uniquely named bucket on ``cloud_server`` for one test.
* marker ``cloud`` (registered here) for tests that need the servers.
* ``make_bucket``: factory ``make_bucket(server) -> Bucket`` for tests that need several.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from obstore.store import ObjectStore

from tests.cloud.servers import (
    STARTERS,
    AzureServer,
    CloudServer,
    GCSServer,
    S3Server,
    ServerUnavailableError,
)

_counter = itertools.count()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cloud: needs the local S3/Azure/GCS test servers (deselect: -m 'not cloud')"
    )


def unique_bucket_name(prefix: str = "glacier") -> str:
    """A name valid for S3 buckets, Azure containers and GCS buckets alike (3-63 chars)."""
    return f"{prefix}-{os.getpid()}-{next(_counter)}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class Bucket:
    """A bucket (or container) on a running local server."""

    server: CloudServer
    name: str

    def url(self, key: str = "") -> str:
        """``s3://name/key``, ``az://name/key`` or ``gs://name/key``."""
        return self.server.url(self.name, key)

    @property
    def storage_options(self) -> dict[str, str]:
        return self.server.storage_options()

    def store(self) -> ObjectStore:
        """An obstore store rooted at this bucket."""
        return self.server.store(self.name)


def new_bucket(server: CloudServer, prefix: str = "glacier") -> Bucket:
    name = unique_bucket_name(prefix)
    server.create_bucket(name)
    return Bucket(server, name)


def _serve(kind: str) -> Iterator[Any]:
    try:
        server = STARTERS[kind]()
    except ServerUnavailableError as exc:
        problem = str(exc)
    else:
        problem = ""
    if problem:  # failed outside the except block, so the report shows the message once
        pytest.fail(f"{kind} test server unavailable: {problem}", pytrace=False)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    yield from _serve("s3")


@pytest.fixture(scope="session")
def azure_server() -> Iterator[AzureServer]:
    yield from _serve("azure")


@pytest.fixture(scope="session")
def gcs_server() -> Iterator[GCSServer]:
    yield from _serve("gcs")


@pytest.fixture(params=["s3", "azure", "gcs"])
def cloud_server(request: pytest.FixtureRequest) -> CloudServer:
    server: CloudServer = request.getfixturevalue(f"{request.param}_server")
    problem = server.health_problem()
    if problem:
        pytest.fail(
            f"{request.param} test server died during the session: {problem}", pytrace=False
        )
    return server


@pytest.fixture
def cloud_bucket(cloud_server: CloudServer) -> Bucket:
    return new_bucket(cloud_server)


@pytest.fixture
def make_bucket() -> Callable[[CloudServer], Bucket]:
    return new_bucket
