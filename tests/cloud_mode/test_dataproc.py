"""Cluster tasks in cloud mode on Dataproc, what only it does: the ends a real Dataproc
reports, a busy API, the transport's own timeout (a Dataproc job has none), read from
stand-ins that answer what the emulator never does.

The end-to-end behaviour on the emulated Dataproc (output, retries, limits, a cluster not
deployed) is in ``test_clusters.py``, shared with the other platforms.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from glacier.clouds.gcp.dataproc import DataprocJobs
from glacier.clouds.gcp.transport import EMULATOR_TOKEN
from glacier.config import GcpConfig
from glacier.errors import DeploymentError, TaskCrashed, TaskOutOfMemory, TaskTimeout
from glacier.runtime.cluster_job import open_transport
from glacier.runtime.transport import Target
from tests.http_stand_in import StandIn

pytestmark = pytest.mark.cloud

GCP = GcpConfig(project_id="glacier-test")
JOB = "/v1/projects/glacier-test/regions/us-central1/jobs/7"


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


def jobs(url: str, timeout: float | None = None) -> DataprocJobs:
    entry = {"type": "dataproc", "id": "spark", "main_python_file_uri": "file:///x.py"}
    return DataprocJobs(Target("spark", "cluster", entry, GCP, {"dataproc": url}, timeout=timeout))


def test_a_busy_dataproc_is_asked_again() -> None:
    """429 and 5xx are retried with backoff; the emulator is never busy, so a stand-in."""
    done = {"status": {"state": "DONE"}}
    busy: list[tuple[int, object]] = [(429, {"error": {"status": "RESOURCE_EXHAUSTED"}})]
    with StandIn([*busy, (503, {}), (200, done)]) as stand_in:
        jobs(stand_in.url).wait("7")
    assert stand_in.seen == [f"GET {JOB} Bearer {EMULATOR_TOKEN}"] * 3


def test_a_job_past_the_executors_timeout_is_cancelled_as_a_timeout() -> None:
    """Dataproc jobs run until cancelled: the transport stops one past the timeout."""
    with StandIn([(200, {"status": {"state": "RUNNING"}})]) as stand_in:
        running = jobs(stand_in.url, timeout=0.5)
        with pytest.raises(TaskTimeout, match=r"past its timeout of 0.5 s \(state RUNNING\)"):
            running.wait("7")
        running.cancel("7")
    assert stand_in.seen[-1] == f"POST {JOB}:cancel Bearer {EMULATOR_TOKEN}"
    assert len(stand_in.seen) >= 3  # polled until the deadline


def test_an_entry_without_the_jobs_entry_point_asks_to_redeploy() -> None:
    entry = {"type": "dataproc", "id": "spark"}
    with pytest.raises(DeploymentError, match=r"lacks main_python_file_uri\. Redeploy"):
        open_transport(Target("spark", "cluster", entry, GCP))


def test_credentials_that_cannot_mint_an_access_token_are_a_deployment_error(
    tmp_path: Path,
) -> None:
    """A real Dataproc's calls carry an access token; a key file that is not there names the
    fix before anything is sent."""
    config = GcpConfig(project_id="glacier-test", credentials_path=str(tmp_path / "none.json"))
    entry = {"type": "dataproc", "id": "spark", "main_python_file_uri": "gs://b/glacier_job.py"}
    jobs = DataprocJobs(Target("spark", "cluster", entry, config))
    assert "none.json" not in repr(jobs.tokens)
    with pytest.raises(DeploymentError, match=r"could not get an access token to call dataproc"):
        jobs.start("gs://b/runs/r/jobs/u-1.event.json", "u-1")
