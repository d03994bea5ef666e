"""Cluster tasks in cloud mode on Azure, where Spark is Databricks: Jobs API runs, emulated.

The pipeline is ``pipelines/emr_demo.py`` (a local task and two fused cluster tasks: nothing
in it names a platform), loaded with the Azure provider on Azurite. Its cluster package is
built as ``glacier package`` is to build it (``package_clusters``); ``glacier emulate`` serves
it as a cluster of an emulated Databricks workspace whose runs are fresh processes on local
Spark. The runner's side is the real transport, over HTTP with a bearer token.
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

from glacier.clouds.databricks.jobs import DatabricksJobs
from glacier.clouds.databricks.jobs_emulator import JobsEmulator
from glacier.config.provider import LocalConfig
from glacier.errors import (
    DeploymentError,
    TaskCrashed,
    TaskFailed,
    TaskOutOfMemory,
    TaskTimeout,
)
from glacier.loader import load_pipeline
from glacier.pipelines import Pipeline
from glacier.provider import Provider
from glacier.resources.bucket import Bucket
from glacier.runtime.cluster_job import open_transport
from glacier.runtime.deployment import Deployment
from glacier.runtime.emulate import Emulation, emulate
from glacier.runtime.transport import Target
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import AzureServer
from tests.cloud_mode.conftest import cloud_env, package_clusters

pytestmark = pytest.mark.cloud

PIPELINE = Path(__file__).parent / "pipelines" / "emr_demo.py"
SALES = pl.DataFrame(
    {
        "store": [f"s{i % 4}" for i in range(300)],
        "amount": [float(i % 29) - 2.0 for i in range(300)],
    }
)
SINK = "write:curated/by_store.parquet"


@dataclass
class Deployed:
    pipeline: Pipeline
    deployment: Path
    emulation: Emulation

    @property
    def workspace(self) -> JobsEmulator:
        emulator = self.emulation.clusters["databricks"]
        assert isinstance(emulator, JobsEmulator)
        return emulator

    def runs(self) -> list[tuple[str, str | None]]:
        """(unit, result state) of every run, in the order they were submitted."""
        runs = sorted(self.workspace.runs.values(), key=lambda r: r.id)
        return [(r.name.rpartition("-")[0], r.result_state) for r in runs]

    def with_outputs(self, name: str, change: dict[str, object]) -> Path:
        """A copy of the deployment file with some outputs' values replaced."""
        outputs = json.loads(self.deployment.read_text())
        for key, value in change.items():
            if value is None:
                outputs.pop(key, None)
            else:
                outputs[key] = {"sensitive": False, "type": "dynamic", "value": value}
        path = self.deployment.with_name(name)
        path.write_text(json.dumps(outputs))
        return path


@pytest.fixture
def limits(request: pytest.FixtureRequest) -> dict[str, float]:
    """The cluster executor's ``memory`` (MB) and ``timeout`` (s) in the manifest."""
    return getattr(request, "param", {})


@pytest.fixture
def deployed(
    azure_server: AzureServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    limits: dict[str, float],
) -> Iterator[Deployed]:
    for name, value in cloud_env("azure", azure_server).items():
        monkeypatch.setenv(name, value)
    for name in ("DATABRICKS_TOKEN", "DATABRICKS_CLIENT_ID", "DATABRICKS_CLIENT_SECRET"):
        monkeypatch.delenv(name, raising=False)
    pipeline = load_pipeline(str(PIPELINE))
    out = tmp_path / "azure-terraform"
    package_clusters(pipeline, out, "azure", limits)
    manifest = json.loads((out / "build" / "manifest.json").read_text())
    names = {b: unique_bucket_name(b[:20]) for b in {*manifest["buckets"], "glacier-staging"}}
    for real in names.values():
        azure_server.create_bucket(real)
    with emulate(out, Provider.from_env(), bucket_names=names) as emulation:
        deployment = Deployment.load(emulation.deployment)
        provider = sys.modules["emr_demo"].provider
        provider.use_deployment(deployment.buckets, deployment.staging_bucket)
        Bucket(provider, "raw", "sales/part-0.parquet").write(SALES)
        yield Deployed(pipeline, emulation.deployment, emulation)


def test_the_deployment_names_the_emulated_cluster_and_workspace(deployed: Deployed) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    entry = outputs["clusters"]["value"]["cluster"]
    assert entry["type"] == "databricks" and entry["id"] in deployed.workspace.clusters
    assert entry["python_file"].endswith("/glacier_job.py")
    assert entry["libraries"] == [{"whl": deployed.workspace.clusters[entry["id"]].package}]
    assert outputs["emulator"]["value"]["endpoints"]["databricks"] == deployed.workspace.url
    # the token is a sensitive output, never in the entry glacier emulate prints
    assert outputs["function_keys"] == {
        "sensitive": True,
        "type": "dynamic",
        "value": {"cluster": deployed.workspace.token},
    }
    assert deployed.workspace.token not in json.dumps(entry)


def test_cloud_mode_on_databricks_gives_the_output_of_local_mode(deployed: Deployed) -> None:
    local = deployed.pipeline.run(min_amount=5.0, cache=False)  # else cloud mode reuses it
    remote = deployed.pipeline.run("cloud", deployment=deployed.deployment, min_amount=5.0)
    assert_frame_equal(local.output.drop("ran_on"), remote.output.drop("ran_on"))
    expected = (
        SALES.filter(pl.col("amount") > 5.0)
        .group_by("store")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len().cast(pl.Int64))
        .sort("store")
    )
    assert_frame_equal(remote.output.drop("ran_on", "rank"), expected)
    assert set(local.output["ran_on"]) == {"here"}
    assert set(remote.output["ran_on"]) == {"cluster"}  # in the run, not in local Spark
    # clean and by_store fused into one run; the report's sink, on the cluster, another
    assert deployed.runs() == [("by_store", "SUCCESS"), (SINK, "SUCCESS")]
    assert remote.tasks["by_store"].backend == "cloud"
    assert remote.tasks["ranked"].backend == "thread"
    assert_frame_equal(sys.modules["emr_demo"].report.read().drop("ran_on"), expected)


def test_a_failing_cluster_task_fails_the_run_with_the_tasks_error(deployed: Deployed) -> None:
    with pytest.raises(TaskFailed) as failed:
        deployed.pipeline.run("cloud", deployment=deployed.deployment, behaviour="raise")
    assert failed.value.task == "clean" and failed.value.attempts == 2
    assert "ValueError" in str(failed.value) and "bad rows above 0.0" in str(failed.value)
    # the task's failure is an outcome: the runs themselves succeeded
    assert deployed.runs() == [("by_store", "SUCCESS"), ("by_store", "SUCCESS")]


def test_a_run_killed_mid_task_is_retried(deployed: Deployed) -> None:
    killed: list[int] = []

    def kill_first_run() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            for run in list(deployed.workspace.runs.values()):
                if run.process is not None:
                    killed.append(run.process.pid)
                    time.sleep(1.0)  # mid-task: its Spark is starting
                    run.process.kill()
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_first_run)
    killer.start()
    result = deployed.pipeline.run("cloud", deployment=deployed.deployment)
    killer.join()
    assert killed and result.tasks["clean"].attempts == 2
    assert deployed.runs() == [("by_store", "FAILED"), ("by_store", "SUCCESS"), (SINK, "SUCCESS")]
    first = deployed.workspace.runs[min(deployed.workspace.runs)]
    assert "driver has stopped unexpectedly" in first.state_message
    assert set(result.output["ran_on"]) == {"cluster"}


@pytest.mark.parametrize(
    ("limits", "error", "state", "message"),
    [
        ({"memory": 150}, TaskOutOfMemory, "FAILED", "OOM error"),
        ({"timeout": 1.5}, TaskTimeout, "TIMEDOUT", "timed out"),
    ],
    indirect=["limits"],
)
def test_a_run_over_its_memory_or_timeout_fails_as_databricks_reports_it(
    deployed: Deployed, error: type[Exception], state: str, message: str
) -> None:
    with pytest.raises(TaskFailed) as failed:
        deployed.pipeline.run("cloud", deployment=deployed.deployment)
    assert failed.value.attempts == 2 and error.__name__ in str(failed.value)
    assert deployed.runs() == [("by_store", state), ("by_store", state)]
    assert all(message in r.state_message for r in deployed.workspace.runs.values())


def test_a_wrong_token_is_a_deployment_error(deployed: Deployed) -> None:
    wrong = deployed.with_outputs("wrong.json", {"function_keys": {"cluster": "dapi-wrong"}})
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*HTTP 401 UNAUTHENTICATED"):
        deployed.pipeline.run("cloud", deployment=wrong)
    assert not deployed.workspace.runs


def test_a_wrong_personal_access_token_is_a_deployment_error(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyless = deployed.with_outputs("keyless.json", {"function_keys": None})
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*HTTP 401"):
        deployed.pipeline.run("cloud", deployment=keyless)
    assert not deployed.workspace.runs


def test_no_token_at_all_is_a_deployment_error_that_names_the_variables(
    deployed: Deployed,
) -> None:
    keyless = deployed.with_outputs("keyless.json", {"function_keys": None})
    with pytest.raises(DeploymentError, match=r"needs a token: set DATABRICKS_TOKEN"):
        deployed.pipeline.run("cloud", deployment=keyless)  # before anything runs
    assert not deployed.workspace.runs


def test_oauth_client_credentials_get_a_token_and_run(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyless = deployed.with_outputs("keyless.json", {"function_keys": None})
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", deployed.workspace.client_id)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "wrong")
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*OAuth client credentials"):
        deployed.pipeline.run("cloud", deployment=keyless)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", deployed.workspace.client_secret)
    result = deployed.pipeline.run("cloud", deployment=keyless)
    assert set(result.output["ran_on"]) == {"cluster"}
    assert deployed.runs() == [("by_store", "SUCCESS"), (SINK, "SUCCESS")]


def test_a_cluster_that_does_not_exist_is_a_deployment_error(deployed: Deployed) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    entry = {**outputs["clusters"]["value"]["cluster"], "id": "0101-000000-notthere"}
    gone = deployed.with_outputs("gone.json", {"clusters": {"cluster": entry}})
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*Cluster 0101-000000-notthere does"):
        deployed.pipeline.run("cloud", deployment=gone)
    assert not deployed.workspace.runs


@pytest.mark.parametrize(
    ("state", "error"),
    [
        (
            {
                "life_cycle_state": "TERMINATED",
                "result_state": "FAILED",
                "state_message": ("Driver is up but is not responsive, likely due to GC."),
            },
            TaskOutOfMemory,
        ),
        (
            {
                "life_cycle_state": "TERMINATED",
                "result_state": "FAILED",
                "state_message": "java.lang.OutOfMemoryError: Java heap space",
            },
            TaskOutOfMemory,
        ),
        ({"life_cycle_state": "TERMINATED", "result_state": "TIMEDOUT"}, TaskTimeout),
        ({"life_cycle_state": "TERMINATED", "result_state": "CANCELED"}, TaskCrashed),
        ({"life_cycle_state": "INTERNAL_ERROR", "result_state": "FAILED"}, TaskCrashed),
        ({"life_cycle_state": "SKIPPED"}, TaskCrashed),
    ],
)
def test_the_ends_a_real_workspace_reports_map_to_glaciers_errors(
    state: dict[str, str], error: type[Exception], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the emulator cannot make happen (a JVM driver's GC death, the Jobs service's own
    failure), read from the states the Jobs API documents."""
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-unused")
    entry = {"type": "databricks", "id": "0101-000000-abcdefgh", "python_file": "/x.py"}
    target = Target("spark", "cluster", entry, LocalConfig(), {"databricks": "http://x"})
    ended = DatabricksJobs(target)._ended("7", state)
    assert type(ended) is error
    assert "run 7 on cluster 0101-000000-abcdefgh" in str(ended)


def test_a_busy_workspace_is_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """429 and 5xx (rate limits, a restarting control plane) are retried with backoff; the
    answers come from a workspace stand-in, since the emulator is never busy."""
    answers = [(429, {"error_code": "REQUEST_LIMIT_EXCEEDED"}), (503, {})]
    answers.append((200, {"state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}}))
    seen: list[str] = []

    class Busy(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(f"{self.path} {self.headers['Authorization']}")
            status, body = answers.pop(0)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-right")
    entry = {"type": "databricks", "id": "0101-000000-abcdefgh", "python_file": "/x.py"}
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        DatabricksJobs(Target("spark", "cluster", entry, LocalConfig(), {"databricks": url})).wait(
            "7"
        )
    finally:
        server.shutdown()
        server.server_close()
    assert seen == ["/api/2.1/jobs/runs/get?run_id=7 Bearer dapi-right"] * 3 and not answers


def test_an_entry_without_the_jobs_entry_point_asks_to_redeploy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABRICKS_HOST", raising=False)
    entry = {"type": "databricks", "id": "0101-000000-abcdefgh"}
    with pytest.raises(DeploymentError, match=r"lacks python_file, host .*Redeploy"):
        open_transport(Target("spark", "cluster", entry, LocalConfig()))
