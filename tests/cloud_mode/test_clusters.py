"""Cluster tasks in cloud mode on AWS: EMR Serverless job runs, emulated, with boto3's client.

The cluster package is built here as ``glacier package`` is to build it (the code of every
package plus the job's entry point ``glacier_job.py``) and named in ``build/manifest.json``
under ``clusters``; ``glacier emulate`` serves it as an EMR Serverless application whose job
runs are fresh processes on local Spark, reading and writing the moto S3 server through
Polars (local Spark has no S3 connector). The runner's side is the real transport.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier.clouds.aws.emr_emulator import EmrEmulator
from glacier.errors import TaskFailed, TaskOutOfMemory, TaskTimeout
from glacier.loader import load_pipeline
from glacier.pipelines import Pipeline
from glacier.provider import Provider
from glacier.resources.bucket import Bucket
from glacier.runtime.deployment import Deployment
from glacier.runtime.emulate import Emulation, emulate
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import S3Server
from tests.cloud_mode.conftest import cloud_env, package_clusters

pytestmark = pytest.mark.cloud

PIPELINE = Path(__file__).parent / "pipelines" / "emr_demo.py"
SALES = pl.DataFrame(
    {
        "store": [f"s{i % 5}" for i in range(400)],
        "amount": [float(i % 37) - 3.0 for i in range(400)],
    }
)


SINK = "write:curated/by_store.parquet"


def job_runs(deployed: Deployed) -> list[tuple[str, str]]:
    """(unit, state) of every job run, in the order they started."""
    return [(r.name.rpartition("-")[0], r.state) for r in deployed.emr.runs.values()]


@dataclass
class Deployed:
    pipeline: Pipeline
    deployment: Path
    emulation: Emulation

    @property
    def emr(self) -> EmrEmulator:
        emulator = self.emulation.clusters["emr-serverless"]
        assert isinstance(emulator, EmrEmulator)
        return emulator


@pytest.fixture
def limits(request: pytest.FixtureRequest) -> Mapping[str, float]:
    """The cluster executor's ``memory`` (MB) and ``timeout`` (s) in the manifest."""
    return getattr(request, "param", {})


@pytest.fixture
def deployed(
    s3_server: S3Server,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limits: Mapping[str, float],
) -> Iterator[Deployed]:
    for name, value in cloud_env("aws", s3_server).items():
        monkeypatch.setenv(name, value)
    pipeline = load_pipeline(str(PIPELINE))
    out = tmp_path / "aws-terraform"
    package_clusters(pipeline, out, "aws", limits)
    manifest = json.loads((out / "build" / "manifest.json").read_text())
    names = {
        b: unique_bucket_name(b[:20]) for b in {*manifest["buckets"], manifest["staging_bucket"]}
    }
    for real in names.values():
        s3_server.create_bucket(real)
    with emulate(out, Provider.from_env(), bucket_names=names) as emulation:
        deployment = Deployment.load(emulation.deployment)
        provider = sys.modules["emr_demo"].provider
        provider.use_deployment(deployment.buckets, deployment.staging_bucket)
        Bucket(provider, "raw", "sales/part-0.parquet").write(SALES)
        yield Deployed(pipeline, emulation.deployment, emulation)


def test_the_deployment_names_the_emulated_application(deployed: Deployed) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    entry = outputs["clusters"]["value"]["cluster"]
    assert entry["type"] == "emr-serverless" and entry["id"] in deployed.emr.applications
    assert entry["entry_point"].endswith("/glacier_job.py")
    assert outputs["emulator"]["value"]["endpoints"]["emr-serverless"] == deployed.emr.url


def test_cloud_mode_on_emr_gives_the_output_of_local_mode(deployed: Deployed) -> None:
    local = deployed.pipeline.run(min_amount=10.0, cache=False)  # else cloud mode reuses it
    remote = deployed.pipeline.run("cloud", deployment=deployed.deployment, min_amount=10.0)
    assert_frame_equal(local.output.drop("ran_on"), remote.output.drop("ran_on"))
    expected = (
        SALES.filter(pl.col("amount") > 10.0)
        .group_by("store")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len().cast(pl.Int64))
        .sort("store")
    )
    assert_frame_equal(remote.output.drop("ran_on", "rank"), expected)
    assert set(local.output["ran_on"]) == {"here"}
    assert set(remote.output["ran_on"]) == {"cluster"}  # in the job, not in local Spark
    # clean and by_store fused into one job run; the report's sink, on the cluster, another
    assert job_runs(deployed) == [("by_store", "SUCCESS"), (SINK, "SUCCESS")]
    assert remote.tasks["by_store"].backend == "cloud"
    assert remote.tasks["ranked"].backend == "thread"
    written = sys.modules["emr_demo"].report.read()
    assert_frame_equal(written.drop("ran_on"), expected)


def test_a_failing_cluster_task_fails_the_run_with_the_tasks_error(deployed: Deployed) -> None:
    with pytest.raises(TaskFailed) as failed:
        deployed.pipeline.run("cloud", deployment=deployed.deployment, behaviour="raise")
    assert failed.value.task == "clean" and failed.value.attempts == 2
    assert "bad rows above 0.0" in str(failed.value)
    # the task's failure is an outcome: the jobs themselves succeeded
    assert job_runs(deployed) == [("by_store", "SUCCESS"), ("by_store", "SUCCESS")]


def test_a_job_killed_mid_task_is_retried(deployed: Deployed) -> None:
    killed: list[int] = []

    def kill_first_job() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for run in list(deployed.emr.runs.values()):
                if run.process is not None:
                    killed.append(run.process.pid)
                    time.sleep(1.0)  # mid-task: its Spark is starting
                    run.process.kill()
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_job)
    killer.start()
    result = deployed.pipeline.run("cloud", deployment=deployed.deployment)
    killer.join()
    assert killed and result.tasks["clean"].attempts == 2
    assert job_runs(deployed) == [
        ("by_store", "FAILED"),
        ("by_store", "SUCCESS"),
        (SINK, "SUCCESS"),
    ]
    first = next(iter(deployed.emr.runs.values()))
    assert "exited with code -9" in first.details
    assert set(result.output["ran_on"]) == {"cluster"}


@pytest.mark.parametrize(
    ("limits", "error", "state", "details"),
    [
        ({"memory": 150}, TaskOutOfMemory, "FAILED", "OutOfMemoryError"),
        ({"timeout": 1.5}, TaskTimeout, "CANCELLED", "timed out"),
    ],
    indirect=["limits"],
)
def test_a_job_over_its_memory_or_timeout_fails_as_emr_reports_it(
    deployed: Deployed, error: type[Exception], state: str, details: str
) -> None:
    with pytest.raises(TaskFailed) as failed:
        deployed.pipeline.run("cloud", deployment=deployed.deployment)
    assert failed.value.attempts == 2 and error.__name__ in str(failed.value)
    assert job_runs(deployed) == [("by_store", state), ("by_store", state)]
    assert all(details in r.details for r in deployed.emr.runs.values())


def test_an_application_that_is_not_deployed_is_a_deployment_error(deployed: Deployed) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    outputs["clusters"]["value"]["cluster"]["id"] = "00notdeployed"
    gone = deployed.deployment.with_name("gone.json")
    gone.write_text(json.dumps(outputs))
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*ResourceNotFoundException"):
        deployed.pipeline.run("cloud", deployment=gone)
    assert not deployed.emr.runs
