"""Serverless tasks in cloud mode on each cloud: the emulated platform, its real client."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier.errors import DeploymentError, TaskFailed
from glacier.resources.bucket import Bucket
from glacier.runtime.deployment import Deployment
from tests.cloud_mode.conftest import CLOUDS, Deployed

PIPELINE = Path(__file__).parent / "pipelines" / "fn_demo.py"
SALES = pl.DataFrame(
    {
        "store": [f"s{i % 5}" for i in range(400)],
        "amount": [float(i % 37) - 3.0 for i in range(400)],
    }
)

pytestmark = pytest.mark.cloud


def ready(deploy: Callable[[Path, str], Deployed], cloud: str) -> Deployed:
    """The demo deployed on ``cloud``, its buckets bound and its sales written."""
    found = deploy(PIPELINE, cloud)
    deployment = Deployment.load(found.deployment)
    provider = sys.modules["fn_demo"].provider
    provider.use_deployment(deployment.buckets, deployment.staging_bucket)
    Bucket(provider, "raw", "sales/part-0.parquet").write(SALES)
    return found


@pytest.mark.parametrize("cloud", CLOUDS)
def test_cloud_mode_gives_the_output_of_local_mode(
    cloud: str, deployed: Callable[[Path, str], Deployed]
) -> None:
    found = ready(deployed, cloud)
    local = found.pipeline.run(min_amount=10.0, cache=False)  # else the cloud run reuses it
    remote = found.pipeline.run("cloud", deployment=found.deployment, min_amount=10.0)
    assert not any(t.cache_hit for t in remote.tasks.values())
    assert_frame_equal(local.output.drop("pid"), remote.output.drop("pid"))
    expected = (
        SALES.filter(pl.col("amount") > 10.0)
        .group_by("store")
        .agg(revenue=pl.col("amount").sum().round(2), sales=pl.len().cast(pl.Int64))
        .sort("store")
    )
    assert_frame_equal(remote.output.drop("pid"), expected)
    # the fused chain ran in one emulated function process, not here and not in a local worker
    pids = set(remote.output["pid"])
    assert len(pids) == 1 and pids.isdisjoint({os.getpid(), *local.output["pid"]})
    assert remote.tasks["clean"].handoff == "memory" and remote.tasks["clean"].backend == "cloud"
    where = {"aws": "lambda ", "gcp": "cloud function ", "azure": "azure function "}[cloud]
    assert remote.tasks["clean"].ran_on == f"{where}fn-demo-serverless"
    assert remote.tasks["load"].ran_on is None  # a local task runs here
    written = sys.modules["fn_demo"].report.read()
    assert_frame_equal(written.drop("pid"), expected)


@pytest.mark.parametrize("cloud", CLOUDS)
@pytest.mark.parametrize(
    ("behaviour", "error"),
    [
        ("raise", "ValueError: bad rows above 0.0"),
        ("oom", "TaskOutOfMemory"),
        ("timeout", "TaskTimeout"),
    ],
)
# A task's own error names the task; what the platform reports (memory, time) is the fused
# invocation's, so it names the unit's root, as local emulation does.
def test_a_failing_function_fails_the_run_with_the_platforms_reason(
    cloud: str, behaviour: str, error: str, deployed: Callable[[Path, str], Deployed]
) -> None:
    found = ready(deployed, cloud)
    with pytest.raises(TaskFailed) as failed:
        found.pipeline.run("cloud", deployment=found.deployment, behaviour=behaviour)
    assert failed.value.task == ("clean" if behaviour == "raise" else "by_store")
    assert failed.value.attempts == 2
    assert error in str(failed.value)


@pytest.mark.parametrize("cloud", CLOUDS)
def test_a_function_killed_mid_task_is_retried(
    cloud: str, deployed: Callable[[Path, str], Deployed], tmp_path: Path
) -> None:
    found = ready(deployed, cloud)
    marker = tmp_path / "killed-once"
    result = found.pipeline.run(
        "cloud", deployment=found.deployment, behaviour="die_once", marker=str(marker)
    )
    assert marker.exists() and result.tasks["by_store"].attempts == 2
    assert int(marker.read_text()) not in set(result.output["pid"])


def test_code_that_differs_from_the_deployed_package_is_refused_before_running(
    deployed: Callable[[Path, str], Deployed], tmp_path: Path
) -> None:
    found = ready(deployed, "aws")
    outputs = json.loads(found.deployment.read_text())
    outputs["package_digest"]["value"] = "sha256:" + "0" * 64
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(outputs))
    with pytest.raises(DeploymentError, match="redeploy: `glacier package`"):
        found.pipeline.run("cloud", deployment=stale)
    del outputs["functions"]["value"]["serverless"]
    outputs["package_digest"] = json.loads(found.deployment.read_text())["package_digest"]
    stale.write_text(json.dumps(outputs))
    with pytest.raises(DeploymentError, match=r"'serverless' .*is not in deployment"):
        found.pipeline.run("cloud", deployment=stale)
