"""Cluster tasks in cloud mode on GCP, where Spark is Dataproc: REST API v1 jobs, emulated.

The pipeline is ``pipelines/emr_demo.py`` (a local task and two fused cluster tasks: nothing
in it names a platform), loaded with the GCP provider on fake-gcs-server. Its cluster package
is built as ``glacier package`` is to build it (``package_clusters``); ``glacier emulate``
serves it as a Dataproc cluster whose jobs are fresh processes on local Spark. The runner's
side is the real transport, over HTTP.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier.clouds.gcp.dataproc import DataprocJobs
from glacier.clouds.gcp.dataproc_emulator import DataprocEmulator
from glacier.config import GcpConfig
from glacier.errors import DeploymentError, TaskCrashed, TaskFailed, TaskOutOfMemory, TaskTimeout
from glacier.loader import load_pipeline
from glacier.pipelines import Pipeline
from glacier.provider import Provider
from glacier.resources.bucket import Bucket
from glacier.runtime.cluster_job import open_transport
from glacier.runtime.deployment import Deployment
from glacier.runtime.emulate import Emulation, emulate
from glacier.runtime.transport import Target
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import GCSServer
from tests.cloud_mode.conftest import cloud_env, package_clusters

pytestmark = pytest.mark.cloud

PIPELINE = Path(__file__).parent / "pipelines" / "emr_demo.py"
SALES = pl.DataFrame(
    {
        "store": [f"s{i % 6}" for i in range(350)],
        "amount": [float(i % 31) - 4.0 for i in range(350)],
    }
)
SINK = "write-curated-by_store-parquet"
"""The report's sink unit, as a Dataproc label value spells it."""
GCP = GcpConfig(project_id="glacier-test")


@dataclass
class Deployed:
    pipeline: Pipeline
    deployment: Path
    emulation: Emulation

    @property
    def dataproc(self) -> DataprocEmulator:
        emulator = self.emulation.clusters["dataproc"]
        assert isinstance(emulator, DataprocEmulator)
        return emulator

    def jobs(self) -> list[tuple[str, str]]:
        """(unit, state) of every job, in the order they were submitted."""
        jobs = self.dataproc.jobs.values()
        return [(j.labels["glacier-unit"].rpartition("-")[0], j.state) for j in jobs]


@pytest.fixture
def limits(request: pytest.FixtureRequest) -> dict[str, float]:
    """The cluster executor's ``memory`` (MB) in the manifest."""
    return getattr(request, "param", {})


@pytest.fixture
def deployed(
    gcs_server: GCSServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limits: dict[str, float],
) -> Iterator[Deployed]:
    for name, value in cloud_env("gcp", gcs_server).items():
        monkeypatch.setenv(name, value)
    pipeline = load_pipeline(str(PIPELINE))
    out = tmp_path / "gcp-terraform"
    package_clusters(pipeline, out, "gcp", limits)
    manifest = json.loads((out / "build" / "manifest.json").read_text())
    names = {b: unique_bucket_name(b[:20]) for b in {*manifest["buckets"], "glacier-staging"}}
    for real in names.values():
        gcs_server.create_bucket(real)
    with emulate(out, Provider.from_env(), bucket_names=names) as emulation:
        deployment = Deployment.load(emulation.deployment)
        provider = sys.modules["emr_demo"].provider
        provider.use_deployment(deployment.buckets, deployment.staging_bucket)
        Bucket(provider, "raw", "sales/part-0.parquet").write(SALES)
        yield Deployed(pipeline, emulation.deployment, emulation)


def test_the_deployment_names_the_emulated_cluster(deployed: Deployed) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    entry = outputs["clusters"]["value"]["cluster"]
    assert entry["type"] == "dataproc"
    assert (entry["project"], entry["region"], entry["id"]) in deployed.dataproc.clusters
    assert entry["project"] == "glacier-test"
    assert entry["main_python_file_uri"].endswith("/glacier_job.py")
    assert outputs["emulator"]["value"]["endpoints"]["dataproc"] == deployed.dataproc.url


def test_cloud_mode_on_dataproc_gives_the_output_of_local_mode(deployed: Deployed) -> None:
    local = deployed.pipeline.run(min_amount=3.0, cache=False)  # else cloud mode reuses it
    remote = deployed.pipeline.run("cloud", deployment=deployed.deployment, min_amount=3.0)
    assert_frame_equal(local.output.drop("ran_on"), remote.output.drop("ran_on"))
    expected = (
        SALES.filter(pl.col("amount") > 3.0)
        .group_by("store")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len().cast(pl.Int64))
        .sort("store")
    )
    assert_frame_equal(remote.output.drop("ran_on", "rank"), expected)
    assert set(local.output["ran_on"]) == {"here"}
    assert set(remote.output["ran_on"]) == {"cluster"}  # in the job, not in local Spark
    # clean and by_store fused into one job; the report's sink, on the cluster, another
    assert deployed.jobs() == [("by_store", "DONE"), (SINK, "DONE")]
    assert remote.tasks["by_store"].backend == "cloud"
    assert remote.tasks["ranked"].backend == "thread"
    assert_frame_equal(sys.modules["emr_demo"].report.read().drop("ran_on"), expected)


def test_a_failing_cluster_task_fails_the_run_with_the_tasks_error(deployed: Deployed) -> None:
    with pytest.raises(TaskFailed) as failed:
        deployed.pipeline.run("cloud", deployment=deployed.deployment, behaviour="raise")
    assert failed.value.task == "clean" and failed.value.attempts == 2
    assert "ValueError" in str(failed.value) and "bad rows above 0.0" in str(failed.value)
    # the task's failure is an outcome: the jobs themselves are done
    assert deployed.jobs() == [("by_store", "DONE"), ("by_store", "DONE")]


def test_a_job_killed_mid_task_is_retried(deployed: Deployed) -> None:
    killed: list[int] = []

    def kill_first_job() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for job in list(deployed.dataproc.jobs.values()):
                if job.process is not None:
                    killed.append(job.process.pid)
                    time.sleep(1.0)  # mid-task: its Spark is starting
                    job.process.kill()
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_job)
    killer.start()
    result = deployed.pipeline.run("cloud", deployment=deployed.deployment)
    killer.join()
    assert killed and result.tasks["clean"].attempts == 2
    assert deployed.jobs() == [("by_store", "ERROR"), ("by_store", "DONE"), (SINK, "DONE")]
    first = next(iter(deployed.dataproc.jobs.values()))
    assert "killed by signal 9" in first.details
    assert set(result.output["ran_on"]) == {"cluster"}


@pytest.mark.parametrize("limits", [{"memory": 150}], indirect=True)
def test_a_job_over_its_memory_fails_as_dataproc_reports_it(deployed: Deployed) -> None:
    with pytest.raises(TaskFailed) as failed:
        deployed.pipeline.run("cloud", deployment=deployed.deployment)
    assert failed.value.attempts == 2 and "TaskOutOfMemory" in str(failed.value)
    assert deployed.jobs() == [("by_store", "ERROR"), ("by_store", "ERROR")]
    assert all("exit code 137" in j.details for j in deployed.dataproc.jobs.values())


def test_a_cluster_that_does_not_exist_is_a_deployment_error(deployed: Deployed) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    outputs["clusters"]["value"]["cluster"]["id"] = "not-there"
    gone = deployed.deployment.with_name("gone.json")
    gone.write_text(json.dumps(outputs))
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*HTTP 404 NOT_FOUND: .*not-there"):
        deployed.pipeline.run("cloud", deployment=gone)
    assert not deployed.dataproc.jobs


@pytest.mark.parametrize(
    ("state", "details", "error"),
    [
        ("ERROR", "java.lang.OutOfMemoryError: Java heap space", TaskOutOfMemory),
        ("ERROR", "Container killed on request. Exit code is 137", TaskOutOfMemory),
        ("ERROR", "Job timed out", TaskTimeout),
        ("ERROR", "Google Cloud Dataproc Agent reports job failure.", TaskCrashed),
        ("CANCELLED", "", TaskCrashed),
    ],
)
def test_the_ends_dataproc_reports_map_to_glaciers_errors(
    state: str, details: str, error: type[Exception]
) -> None:
    """What the emulator cannot make happen (a JVM's heap, YARN's container kill), read from
    the states the Jobs API documents."""
    entry = {"type": "dataproc", "id": "spark", "main_python_file_uri": "file:///x.py"}
    target = Target("spark", "cluster", entry, GCP, {"dataproc": "http://127.0.0.1:9"})
    ended = DataprocJobs(target)._ended("7", state, details)
    assert type(ended) is error
    assert "Dataproc job 7 on cluster spark (glacier-test, us-central1)" in str(ended)


class _StandIn:
    """A Dataproc stand-in answering every ``jobs.get`` with the next of ``answers`` (the
    last one again once they run out), recording each call."""

    def __init__(self, answers: list[tuple[int, dict[str, object]]]) -> None:
        self.answers, self.seen = answers, list[str]()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                stand_in.seen.append(f"{self.command} {self.path}")
                status, body = stand_in.answers[0]
                if len(stand_in.answers) > 1:
                    stand_in.answers.pop(0)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def jobs(self, timeout: float | None = None) -> DataprocJobs:
        entry = {"type": "dataproc", "id": "spark", "main_python_file_uri": "file:///x.py"}
        return DataprocJobs(
            Target("spark", "cluster", entry, GCP, {"dataproc": self.url}, timeout=timeout)
        )

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_busy_dataproc_is_asked_again() -> None:
    """429 and 5xx are retried with backoff; the emulator is never busy, so a stand-in."""
    done = {"status": {"state": "DONE"}}
    stand_in = _StandIn(
        [(429, {"error": {"status": "RESOURCE_EXHAUSTED"}}), (503, {}), (200, done)]
    )
    try:
        stand_in.jobs().wait("7")
    finally:
        stand_in.close()
    assert stand_in.seen == ["GET /v1/projects/glacier-test/regions/us-central1/jobs/7"] * 3


def test_a_job_past_the_executors_timeout_is_cancelled_as_a_timeout() -> None:
    """Dataproc jobs run until cancelled: the transport stops one past the timeout."""
    stand_in = _StandIn([(200, {"status": {"state": "RUNNING"}})])
    try:
        jobs = stand_in.jobs(timeout=0.5)
        with pytest.raises(TaskTimeout, match=r"past its timeout of 0.5 s \(state RUNNING\)"):
            jobs.wait("7")
        jobs.cancel("7")
    finally:
        stand_in.close()
    assert stand_in.seen[-1] == "POST /v1/projects/glacier-test/regions/us-central1/jobs/7:cancel"
    assert len(stand_in.seen) >= 3  # polled until the deadline


def test_an_entry_without_the_jobs_entry_point_asks_to_redeploy() -> None:
    entry = {"type": "dataproc", "id": "spark"}
    with pytest.raises(DeploymentError, match=r"lacks main_python_file_uri\. Redeploy"):
        open_transport(Target("spark", "cluster", entry, GCP))
