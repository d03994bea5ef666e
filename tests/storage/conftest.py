"""``backend``: one fresh bucket on local disk, S3, GCS or Azure, behind a Glacier Provider."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from glacier import Bucket, Provider
from glacier.config.provider import LocalConfig
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import CloudServer
from tests.storage.backends import provider_for


@dataclass
class Backend:
    name: str
    provider: Provider
    bucket: str
    server: CloudServer | None
    new_bucket: Callable[[], str]

    def at(self, path: str) -> Bucket:
        return self.provider.bucket(bucket=self.bucket, path=path)


@pytest.fixture(params=["local", "s3", "gcs", "azure"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        provider = Provider(config=LocalConfig(base_path=tmp_path))

        def new_local() -> str:
            name = unique_bucket_name("glacier")
            (tmp_path / name).mkdir()
            return name

        return Backend("local", provider, new_local(), None, new_local)
    server: CloudServer = request.getfixturevalue(f"{request.param}_server")
    problem = server.health_problem()
    if problem:
        pytest.fail(f"{request.param} test server died: {problem}", pytrace=False)

    def new_cloud() -> str:
        name = unique_bucket_name("glacier")
        server.create_bucket(name)
        return name

    return Backend(request.param, provider_for(server), new_cloud(), server, new_cloud)
