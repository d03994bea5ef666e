"""Cluster tasks in cloud mode, the same on every platform: EMR Serverless (AWS, boto3's
client), Databricks (Azure, the Jobs API with a bearer token) and Dataproc (GCP, the REST API
v1), each emulated by ``glacier emulate`` with jobs that are fresh processes on local Spark
reading and writing the cloud's storage server through Polars (local Spark has no object
store connector). The runner's side is the real transport.

One deployment per platform serves the module (:func:`cluster`); a test reads only the jobs
it started. What only one platform does (its auth, its refusals, the ends its emulator cannot
make happen) is in ``test_databricks_jobs.py`` and ``test_dataproc.py``; a job over its
memory or timeout, which needs a deployment with that limit, in ``test_cluster_limits.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier.errors import TaskFailed
from tests.cloud_mode.clusters import (
    PLATFORMS,
    SALES,
    Deployed,
    deploy_clusters,
    kill_first_job,
)

pytestmark = pytest.mark.cloud


@pytest.fixture(scope="module", params=list(PLATFORMS))
def cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployed]:
    platform = PLATFORMS[request.param]
    out = tmp_path_factory.mktemp(f"{platform.cloud}-terraform")
    with deploy_clusters(request, platform, out) as deployed:
        yield deployed


@pytest.fixture
def deployed(cluster: Deployed) -> Deployed:
    """The module's deployment, its jobs read from this test on."""
    return cluster.mark()


def test_the_deployment_names_the_emulated_cluster(deployed: Deployed) -> None:
    outputs = json.loads(deployed.deployment.read_text())
    entry = outputs["clusters"]["value"]["cluster"]
    platform = deployed.platform
    assert entry["type"] == platform.name
    assert platform.key(entry) in deployed.emulator.clusters
    assert entry[platform.entry_point].endswith("/glacier_job.py")
    assert {name: entry[name] for name in platform.placed} == platform.placed
    assert outputs["emulator"]["value"]["endpoints"][platform.name] == deployed.emulator.url


def test_cloud_mode_gives_the_output_of_local_mode_and_retries_a_killed_job(
    deployed: Deployed,
) -> None:
    """One cloud run proves both: its first job is killed mid-task, and the retried run's
    output is local mode's."""
    local = deployed.pipeline.run(min_amount=5.0, cache=False)  # else cloud mode reuses it
    killer, killed = kill_first_job(deployed)
    remote = deployed.pipeline.run("cloud", deployment=deployed.deployment, min_amount=5.0)
    killer.join()
    assert_frame_equal(local.output.drop("ran_on"), remote.output.drop("ran_on"))
    expected = (
        SALES.filter(pl.col("amount") > 5.0)
        .group_by("store")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len().cast(pl.Int64))
        .sort("store")
    )
    assert_frame_equal(remote.output.drop("ran_on", "rank"), expected)
    assert set(local.output["ran_on"]) == {"here"}
    assert set(remote.output["ran_on"]) == {"cluster"}  # in the job, not in local Spark
    platform = deployed.platform
    killed_state, killed_details = platform.killed
    # clean and by_store fused into one job (killed once, then retried); the report's sink,
    # on the cluster, another
    assert killed and remote.tasks["clean"].attempts == 2
    assert deployed.jobs() == [
        ("by_store", killed_state),
        ("by_store", platform.succeeded),
        (platform.sink, platform.succeeded),
    ]
    assert killed_details in platform.details(deployed.started()[0])
    assert remote.tasks["by_store"].backend == "cloud"
    assert remote.tasks["ranked"].backend == "thread"
    assert_frame_equal(deployed.module.report.read().drop("ran_on"), expected)


def test_a_failing_cluster_task_fails_the_run_with_the_tasks_error(deployed: Deployed) -> None:
    with pytest.raises(TaskFailed) as failed:
        deployed.pipeline.run("cloud", deployment=deployed.deployment, behaviour="raise")
    assert failed.value.task == "clean" and failed.value.attempts == 2
    assert "ValueError" in str(failed.value) and "bad rows above 0.0" in str(failed.value)
    # the task's failure is an outcome: the jobs themselves succeeded
    succeeded = deployed.platform.succeeded
    assert deployed.jobs() == [("by_store", succeeded), ("by_store", succeeded)]


def test_a_cluster_that_is_not_deployed_is_a_deployment_error(deployed: Deployed) -> None:
    entry = {**deployed.entry(), "id": deployed.platform.missing_id}
    gone = deployed.with_outputs("gone.json", {"clusters": {"cluster": entry}})
    with pytest.raises(TaskFailed, match=deployed.platform.missing):
        deployed.pipeline.run("cloud", deployment=gone)
    assert not deployed.started()
