"""Cloud mode end to end: built packages served by `glacier emulate` on real storage servers.

``deployed(file, cloud)`` loads a pipeline file with that cloud's provider (pointed at the
session's moto, fake-gcs-server or Azurite), builds its packages as `glacier package` does
(without downloading dependencies: the emulated functions use this interpreter's), creates its
buckets under fresh names, serves them with `glacier emulate` and returns the deployment file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from glacier.infra import artifacts
from glacier.infra.package import build
from glacier.loader import load_pipeline
from glacier.pipelines import Pipeline
from glacier.provider import Provider
from glacier.runtime.emulate import Emulation, emulate
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import AzureServer, CloudServer, GCSServer, S3Server

CLOUDS = ["aws", "gcp", "azure"]


def cloud_env(cloud: str, server: CloudServer) -> dict[str, str]:
    """The environment a user sets to point Glacier's provider at the storage server."""
    if cloud == "aws":
        assert isinstance(server, S3Server)
        return {
            "GLACIER_PROVIDER": "aws",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_S3": server.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_ALLOW_HTTP": "true",
        }
    if cloud == "gcp":
        assert isinstance(server, GCSServer)
        return {
            "GLACIER_PROVIDER": "gcp",
            "GOOGLE_CLOUD_PROJECT": "glacier-test",
            "STORAGE_EMULATOR_HOST": server.endpoint,
        }
    assert isinstance(server, AzureServer)
    return {
        "GLACIER_PROVIDER": "azure",
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
        "AZURE_RESOURCE_GROUP": "glacier-test",
        "AZURE_STORAGE_CONNECTION_STRING": server.connection_string(),
    }


def package_clusters(
    pipeline: Pipeline, out: Path, cloud: str, limits: Mapping[str, float]
) -> None:
    """``glacier package`` (which lists each cluster executor's package under ``clusters`` in
    the manifest), with the memory and time limits the emulated platform enforces."""
    build(pipeline, out, cloud, dependencies=False)
    path = out / artifacts.MANIFEST
    manifest = json.loads(path.read_text())
    assert manifest["clusters"], "glacier package lists the cluster executors"
    for entry in manifest["clusters"].values():
        assert entry["entry_point"] == artifacts.JOB_SCRIPT and (out / entry["package"]).is_file()
        entry.update(limits)
    path.write_text(json.dumps(manifest))


@dataclass
class Deployed:
    pipeline: Pipeline
    deployment: Path
    emulation: Emulation
    names: dict[str, str]


@pytest.fixture
def deployed(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[Path, str], Deployed]]:
    running: list[Emulation] = []

    def deploy(file: Path, cloud: str) -> Deployed:
        server_fixture = {"aws": "s3_server", "gcp": "gcs_server", "azure": "azure_server"}[cloud]
        server: CloudServer = request.getfixturevalue(server_fixture)
        for name, value in cloud_env(cloud, server).items():
            monkeypatch.setenv(name, value)
        pipeline = load_pipeline(str(file))
        out = tmp_path / f"{cloud}-terraform"
        build(pipeline, out, dependencies=False)
        manifest = json.loads((out / "build" / "manifest.json").read_text())
        logical = sorted({*manifest["buckets"], manifest["staging_bucket"]})
        names = {b: unique_bucket_name(b[:20]) for b in logical}
        for real in names.values():
            server.create_bucket(real)
        emulation = emulate(out, Provider.from_env(), bucket_names=names)
        running.append(emulation)
        return Deployed(pipeline, emulation.deployment, emulation, names)

    yield deploy
    for emulation in running:
        emulation.close()
