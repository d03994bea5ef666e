"""Cluster tasks in cloud mode on Databricks, what only it does: a bearer token (the
deployment's, a personal access token, or OAuth client credentials), its workspace's answers.

The shared end-to-end behaviour (output, retries, limits, a cluster not deployed) is in
``test_clusters.py``; here the deployment of ``pipelines/emr_demo.py`` on the emulated
workspace (:func:`~tests.cloud_mode.clusters.deploy_clusters`) serves the whole module.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

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
from glacier.runtime.cluster_job import open_transport
from glacier.runtime.transport import Target
from tests.cloud_mode.clusters import PLATFORMS, Deployed, deploy_clusters
from tests.http_stand_in import StandIn

pytestmark = pytest.mark.cloud

SINK = PLATFORMS["databricks"].sink


@pytest.fixture(scope="module")
def workspace(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    out = tmp_path_factory.mktemp("azure-terraform")
    with deploy_clusters(request, PLATFORMS["databricks"], out) as deployed:
        yield deployed


@pytest.fixture
def deployed(workspace: Deployed) -> Deployed:
    """The module's deployment, its runs read from this test on."""
    return workspace.mark()


def emulator(deployed: Deployed) -> JobsEmulator:
    emulator = deployed.emulator
    assert isinstance(emulator, JobsEmulator)
    return emulator


def test_the_deployment_names_the_workspaces_package_and_keeps_its_token_secret(
    deployed: Deployed,
) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    entry = outputs["clusters"]["value"]["cluster"]
    workspace = emulator(deployed)
    assert entry["libraries"] == [{"whl": workspace.clusters[entry["id"]].package}]
    # the token is a sensitive output, never in the entry glacier emulate prints
    assert outputs["function_keys"] == {
        "sensitive": True,
        "type": "dynamic",
        "value": {"cluster": workspace.token},
    }
    assert workspace.token not in json.dumps(entry)


def test_a_wrong_token_is_a_deployment_error(deployed: Deployed) -> None:
    wrong = deployed.with_outputs("wrong.json", {"function_keys": {"cluster": "dapi-wrong"}})
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*HTTP 401 UNAUTHENTICATED"):
        deployed.pipeline.run("cloud", deployment=wrong)
    assert not deployed.started()


def test_a_wrong_personal_access_token_is_a_deployment_error(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyless = deployed.with_outputs("keyless.json", {"function_keys": None})
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*HTTP 401"):
        deployed.pipeline.run("cloud", deployment=keyless)
    assert not deployed.started()


def test_no_token_at_all_is_a_deployment_error_that_names_the_variables(
    deployed: Deployed,
) -> None:
    keyless = deployed.with_outputs("keyless.json", {"function_keys": None})
    with pytest.raises(DeploymentError, match=r"needs a token: set DATABRICKS_TOKEN"):
        deployed.pipeline.run("cloud", deployment=keyless)  # before anything runs
    assert not deployed.started()


def test_oauth_client_credentials_get_a_token_and_run(
    deployed: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    keyless = deployed.with_outputs("keyless.json", {"function_keys": None})
    monkeypatch.setenv("DATABRICKS_CLIENT_ID", emulator(deployed).client_id)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", "wrong")
    with pytest.raises(TaskFailed, match=r"DeploymentError: .*OAuth client credentials"):
        deployed.pipeline.run("cloud", deployment=keyless)
    monkeypatch.setenv("DATABRICKS_CLIENT_SECRET", emulator(deployed).client_secret)
    result = deployed.pipeline.run("cloud", deployment=keyless)
    assert set(result.output["ran_on"]) == {"cluster"}
    assert deployed.jobs() == [("by_store", "SUCCESS"), (SINK, "SUCCESS")]


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
    done = {"state": {"life_cycle_state": "TERMINATED", "result_state": "SUCCESS"}}
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-right")
    entry = {"type": "databricks", "id": "0101-000000-abcdefgh", "python_file": "/x.py"}
    answers: list[tuple[int, object]] = [(429, {"error_code": "REQUEST_LIMIT_EXCEEDED"})]
    with StandIn([*answers, (503, {}), (200, done)]) as stand_in:
        target = Target("spark", "cluster", entry, LocalConfig(), {"databricks": stand_in.url})
        DatabricksJobs(target).wait("7")
    assert stand_in.seen == ["GET /api/2.1/jobs/runs/get?run_id=7 Bearer dapi-right"] * 3


def test_an_entry_without_the_jobs_entry_point_asks_to_redeploy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("DATABRICKS_HOST", raising=False)
    entry = {"type": "databricks", "id": "0101-000000-abcdefgh"}
    with pytest.raises(DeploymentError, match=r"lacks python_file, host .*Redeploy"):
        open_transport(Target("spark", "cluster", entry, LocalConfig()))
