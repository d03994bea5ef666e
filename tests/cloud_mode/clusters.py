"""The three emulated cluster platforms, as the cluster suites deploy and read them.

Each platform runs ``pipelines/emr_demo.py`` (a local task and two fused cluster tasks:
nothing in it names a platform) with its cloud's provider on that cloud's storage server:
EMR Serverless on AWS (moto), Databricks on Azure (Azurite), Dataproc on GCP
(fake-gcs-server). :func:`deploy_clusters` builds the cluster package as ``glacier package``
is to build it (:func:`~tests.cloud_mode.conftest.package_clusters`), serves it with
``glacier emulate`` and writes the sales the pipeline reads; a :class:`Platform` says how its
emulator names jobs, states and the ways a job ends.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import polars as pl
import pytest

from glacier.errors import TaskOutOfMemory, TaskTimeout
from glacier.loader import load_pipeline
from glacier.pipelines import Pipeline
from glacier.provider import Provider
from glacier.resources.bucket import Bucket
from glacier.runtime.deployment import Deployment
from glacier.runtime.emulate import Emulation, emulate
from glacier.runtime.job_emulator import EmulatedJobPlatform
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import CloudServer
from tests.cloud_mode.conftest import cloud_env, package_clusters

PIPELINE = Path(__file__).parent / "pipelines" / "emr_demo.py"
SALES = pl.DataFrame(
    {
        "store": [f"s{i % 5}" for i in range(400)],
        "amount": [float(i % 37) - 3.0 for i in range(400)],
    }
)
LIMITS = {"memory": {"memory": 150}, "timeout": {"timeout": 1.5}}
"""The cluster executor's ``memory`` (MB) or ``timeout`` (s) in the manifest, by name."""


@dataclass(frozen=True)
class Over:
    """How a job over one of :data:`LIMITS` ends: the task's error, the job's state and a
    mark of its details."""

    error: type[Exception]
    state: str
    details: str


@dataclass(frozen=True)
class Platform:
    """One emulated cluster platform, as the tests read it."""

    name: str
    cloud: str
    server: str
    """The session fixture of the cloud's storage server."""
    entry_point: str
    """The key of the job's entry point in the ``clusters`` entry."""
    key: Callable[[Mapping[str, Any]], Any]
    """The emulator's key of the cluster a ``clusters`` entry names."""
    unit: Callable[[Any], str]
    """The unit a job ran, as the platform spells it (the job's name or label)."""
    state: Callable[[Any], str | None]
    details: Callable[[Any], str]
    sink: str
    """The report's sink unit, as the platform spells it."""
    succeeded: str
    killed: tuple[str, str]
    """The state and a mark of the details of a job whose driver was killed."""
    over: Mapping[str, Over]
    """What a job over each of :data:`LIMITS` the emulator enforces ends as (a Dataproc job
    has no timeout: its transport's own is tested with a stand-in)."""
    missing_id: str
    """A cluster id nothing is deployed as, and what refusing it says."""
    missing: str
    placed: Mapping[str, str] = field(default_factory=dict)
    """What the ``clusters`` entry names from the provider's environment."""
    unset: tuple[str, ...] = ()
    """Environment variables the runner must not find (credentials a developer may have)."""


PLATFORMS = {
    "emr-serverless": Platform(
        name="emr-serverless",
        cloud="aws",
        server="s3_server",
        entry_point="entry_point",
        key=lambda entry: entry["id"],
        unit=lambda job: job.name,
        state=lambda job: job.state,
        details=lambda job: job.details,
        sink="write:curated/by_store.parquet",
        succeeded="SUCCESS",
        killed=("FAILED", "exited with code -9"),
        over={
            "memory": Over(TaskOutOfMemory, "FAILED", "OutOfMemoryError"),
            "timeout": Over(TaskTimeout, "CANCELLED", "timed out"),
        },
        missing_id="00notdeployed",
        missing=r"DeploymentError: .*ResourceNotFoundException",
    ),
    "databricks": Platform(
        name="databricks",
        cloud="azure",
        server="azure_server",
        entry_point="python_file",
        key=lambda entry: entry["id"],
        unit=lambda run: run.name,
        state=lambda run: run.result_state,
        details=lambda run: run.state_message,
        sink="write:curated/by_store.parquet",
        succeeded="SUCCESS",
        killed=("FAILED", "driver has stopped unexpectedly"),
        over={
            "memory": Over(TaskOutOfMemory, "FAILED", "OOM error"),
            "timeout": Over(TaskTimeout, "TIMEDOUT", "timed out"),
        },
        missing_id="0101-000000-notthere",
        missing=r"DeploymentError: .*Cluster 0101-000000-notthere does",
        unset=("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"),
    ),
    "dataproc": Platform(
        name="dataproc",
        cloud="gcp",
        server="gcs_server",
        entry_point="main_python_file_uri",
        key=lambda entry: (entry["project"], entry["region"], entry["id"]),
        unit=lambda job: job.labels["glacier-unit"],
        state=lambda job: job.state,
        details=lambda job: job.details,
        sink="write-curated-by_store-parquet",
        succeeded="DONE",
        killed=("ERROR", "killed by signal 9"),
        over={"memory": Over(TaskOutOfMemory, "ERROR", "exit code 137")},
        missing_id="not-there",
        missing=r"DeploymentError: .*HTTP 404 NOT_FOUND: .*not-there",
        placed={"project": "glacier-test"},
    ),
}


@dataclass
class Deployed:
    """A deployment of ``emr_demo`` on one emulated platform, shared by a module's tests:
    :meth:`jobs` reads only the jobs started since :meth:`mark`."""

    platform: Platform
    pipeline: Pipeline
    module: ModuleType
    """The pipeline's module as this deployment loaded it (its ``report`` bucket)."""
    deployment: Path
    emulation: Emulation
    _seen: int = field(default=0)

    @property
    def emulator(self) -> EmulatedJobPlatform[Any, Any]:
        emulator = self.emulation.clusters[self.platform.name]
        assert isinstance(emulator, EmulatedJobPlatform)
        return emulator

    def mark(self) -> Deployed:
        """From now on :meth:`jobs` reads only the jobs started later."""
        self._seen = len(self.emulator.jobs)
        return self

    def started(self) -> list[Any]:
        """The jobs started since :meth:`mark`, in the order they were submitted."""
        return list(self.emulator.jobs.values())[self._seen :]

    def jobs(self) -> list[tuple[str, str | None]]:
        """(unit, state) of every job started since :meth:`mark`, in order."""
        unit, state = self.platform.unit, self.platform.state
        return [(unit(job).rpartition("-")[0], state(job)) for job in self.started()]

    def with_outputs(self, name: str, change: Mapping[str, object]) -> Path:
        """A copy of the deployment file with some outputs' values replaced (None: removed)."""
        outputs = json.loads(self.deployment.read_text())
        for key, value in change.items():
            if value is None:
                outputs.pop(key, None)
            else:
                outputs[key] = {"sensitive": False, "type": "dynamic", "value": value}
        path = self.deployment.with_name(name)
        path.write_text(json.dumps(outputs))
        return path

    def entry(self) -> dict[str, Any]:
        """The cluster executor's entry in the output ``clusters``."""
        outputs = json.loads(self.deployment.read_text())
        entry: dict[str, Any] = outputs["clusters"]["value"]["cluster"]
        return entry


@contextmanager
def deploy_clusters(
    request: pytest.FixtureRequest,
    platform: Platform,
    out: Path,
    limits: Mapping[str, float] | None = None,
) -> Iterator[Deployed]:
    """``emr_demo`` packaged into ``out`` and served on ``platform``, its environment set
    (and undone after) as a user sets it for that cloud."""
    server: CloudServer = request.getfixturevalue(platform.server)
    with pytest.MonkeyPatch.context() as env:
        for name, value in cloud_env(platform.cloud, server).items():
            env.setenv(name, value)
        for name in platform.unset:
            env.delenv(name, raising=False)
        pipeline = load_pipeline(str(PIPELINE))
        module = sys.modules["emr_demo"]
        package_clusters(pipeline, out, platform.cloud, limits or {})
        manifest = json.loads((out / "build" / "manifest.json").read_text())
        logical = {*manifest["buckets"], manifest["staging_bucket"]}
        names = {b: unique_bucket_name(b[:20]) for b in logical}
        for real in names.values():
            server.create_bucket(real)
        with emulate(out, Provider.from_env(), bucket_names=names) as emulation:
            deployment = Deployment.load(emulation.deployment)
            module.provider.use_deployment(deployment.buckets, deployment.staging_bucket)
            Bucket(module.provider, "raw", "sales/part-0.parquet").write(SALES)
            yield Deployed(platform, pipeline, module, emulation.deployment, emulation)


def kill_first_job(deployed: Deployed) -> tuple[threading.Thread, list[int]]:
    """A thread that kills the first job started from now on, a second into its process
    (mid-task: its Spark is starting); the pids it killed."""
    killed: list[int] = []
    deployed.mark()

    def kill() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for job in deployed.started():
                if job.process is not None:
                    killed.append(job.process.pid)
                    time.sleep(1.0)
                    job.process.kill()
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill)
    killer.start()
    return killer, killed
