"""The cluster job protocol's refusals (what a transport or a job is given that it cannot run)
and the waiting every platform's transport shares."""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest

from glacier import clouds
from glacier.config import AwsConfig, LocalConfig
from glacier.errors import DeploymentError, TaskCrashed
from glacier.provider import Provider
from glacier.runtime import cluster_job
from glacier.runtime.transport import Target
from glacier.runtime.wire import BadEvent
from tests.http_stand_in import StandIn

Refused = cluster_job.HttpRefused


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


def test_polling_stops_once_the_run_stops_waiting() -> None:
    closed = threading.Event()
    polls = cluster_job.polls(closed, "dataproc cluster c", "job 7")
    next(polls)  # the first read comes at once
    closed.set()
    with pytest.raises(
        TaskCrashed, match=r"^dataproc cluster c: the run stopped waiting for job 7"
    ):
        next(polls)


def call(url: str) -> dict[str, object]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return cluster_job.call_json(opener, "GET", url + "/jobs/7", None, lambda: "t0k")


@pytest.fixture
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff in milliseconds, so asking five times takes no seconds."""
    monkeypatch.setattr(cluster_job, "POLL_FIRST", 0.001)


@pytest.mark.usefixtures("quick")
def test_a_busy_service_is_asked_again_until_it_answers() -> None:
    with StandIn([(429, {}), (503, {}), (200, {"state": "DONE"})]) as stand_in:
        assert call(stand_in.url) == {"state": "DONE"}
    assert stand_in.seen == ["GET /jobs/7 Bearer t0k"] * 3


@pytest.mark.usefixtures("quick")
def test_a_refusal_is_not_asked_again_and_a_busy_service_only_so_often() -> None:
    with StandIn([(404, {"error": "gone"})]) as stand_in, pytest.raises(Refused) as refused:
        call(stand_in.url)
    assert refused.value.status == 404 and refused.value.error.read() == b'{"error": "gone"}'
    assert len(stand_in.seen) == 1
    with StandIn([(502, {})]) as stand_in, pytest.raises(Refused) as refused:
        call(stand_in.url)
    assert refused.value.status == 502 and len(stand_in.seen) == cluster_job.BUSY_TRIES
