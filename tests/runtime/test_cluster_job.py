"""The cluster job protocol's refusals: what a transport or a job is given that it cannot run."""

from __future__ import annotations

from pathlib import Path

import pytest

from glacier import clouds
from glacier.config import AwsConfig, LocalConfig
from glacier.errors import DeploymentError
from glacier.provider import Provider
from glacier.runtime import cluster_job
from glacier.runtime.transport import Target
from glacier.runtime.wire import BadEvent


def target(entry: dict[str, str]) -> Target:
    return Target("spark", "cluster", entry, AwsConfig(region="us-east-1"))


def test_a_cluster_platform_cloud_mode_cannot_run_is_named() -> None:
    with pytest.raises(
        DeploymentError, match=r"as 'hdinsight'.*it runs: databricks, dataproc, emr-serverl"
    ):
        cluster_job.open_transport(target({"type": "hdinsight", "id": "0101"}))


def test_an_emr_entry_without_the_jobs_entry_point_asks_to_redeploy() -> None:
    entry = {"type": "emr-serverless", "id": "00abc", "execution_role_arn": "arn:aws:iam::1:role/r"}
    with pytest.raises(DeploymentError, match=r"lacks entry_point\. Redeploy"):
        cluster_job.open_transport(target(entry))


def test_events_and_outcomes_sit_side_by_side_in_the_runs_folder() -> None:
    key = cluster_job.event_key("run-1", "write:curated/x.parquet", 2)
    assert key == "runs/run-1/jobs/write_curated_x.parquet-2.event.json"
    assert cluster_job.outcome_key(key) == "runs/run-1/jobs/write_curated_x.parquet-2.outcome.json"


@pytest.mark.parametrize("uri", ["not-a-uri", "s3://bucket", "s3://bucket/runs/r/other.json"])
def test_a_job_refuses_an_argument_that_is_not_an_event(uri: str, tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    with pytest.raises(BadEvent):
        cluster_job.run_job(uri, provider, lambda event: pytest.fail("executed"))


def test_a_job_whose_event_is_missing_says_so(tmp_path: Path) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    (tmp_path / "staging").mkdir()
    uri = "file://staging/runs/r/jobs/u-1.event.json"
    with pytest.raises(BadEvent, match="does not exist"):
        cluster_job.run_job(uri, provider, lambda event: pytest.fail("executed"))


def test_every_cluster_platform_and_emulator_the_registry_names_loads() -> None:
    for ref in (*clouds.CLUSTER_PLATFORMS.values(), *clouds.CLUSTER_EMULATORS.values()):
        assert callable(clouds.load(ref)), ref
    assert clouds.load(clouds.KINDS["cluster"].transport or "") is cluster_job.open_transport
