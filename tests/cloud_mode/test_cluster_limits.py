"""A cluster job over its memory or timeout, on every platform that enforces it: the task
fails after its retries with the error the platform's end maps to.

Each case deploys ``pipelines/emr_demo.py`` with the limit in its manifest
(:func:`~tests.cloud_mode.clusters.deploy_clusters`), so it is a module of its own: no
deployment of ``test_clusters.py`` (nor its cloud's environment) is alive meanwhile.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from glacier.errors import TaskFailed
from tests.cloud_mode.clusters import LIMITS, PLATFORMS, deploy_clusters

pytestmark = pytest.mark.cloud


@pytest.mark.parametrize(
    ("name", "limit"), [(name, limit) for name, p in PLATFORMS.items() for limit in p.over]
)
def test_a_job_over_its_memory_or_timeout_fails_as_the_platform_reports_it(
    name: str, limit: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    platform = PLATFORMS[name]
    over = platform.over[limit]
    with deploy_clusters(request, platform, tmp_path / "terraform", LIMITS[limit]) as limited:
        with pytest.raises(TaskFailed) as failed:
            limited.pipeline.run("cloud", deployment=limited.deployment)
        assert failed.value.attempts == 2 and over.error.__name__ in str(failed.value)
        assert limited.jobs() == [("by_store", over.state), ("by_store", over.state)]
        assert all(over.details in platform.details(job) for job in limited.started())
