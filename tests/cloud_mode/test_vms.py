"""VM tasks in cloud mode: the emulated Dask scheduler and workers, over mutual TLS."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier.resources.bucket import Bucket
from glacier.runtime.deployment import Deployment
from tests.cloud_mode.conftest import Deployed

PIPELINE = Path(__file__).parent / "pipelines" / "vm_demo.py"
NUMBERS = pl.DataFrame({"x": list(range(50))})

pytestmark = [pytest.mark.cloud, pytest.mark.dask]


def test_a_vm_task_runs_on_the_deployed_workers_and_survives_a_killed_worker(
    deployed: Callable[[Path, str], Deployed], tmp_path: Path
) -> None:
    found = deployed(PIPELINE, "aws")
    deployment = Deployment.load(found.deployment)
    assert deployment.extra["dask_scheduler_address"].startswith("tls://127.0.0.1:")
    provider = sys.modules["vm_demo"].provider
    provider.use_deployment(deployment.buckets, deployment.staging_bucket)
    Bucket(provider, "raw", "numbers.parquet").write(NUMBERS)
    expected = NUMBERS.with_columns(y=pl.col("x") * 3)

    result = found.pipeline.run("cloud", deployment=found.deployment, factor=3)
    assert_frame_equal(result.output.drop("pid"), expected)
    assert set(result.output["pid"]).isdisjoint({os.getpid()})
    assert result.tasks["double"].backend == "cloud"
    assert_frame_equal(sys.modules["vm_demo"].doubled.read().drop("pid"), expected)

    marker = tmp_path / "killed"
    again = found.pipeline.run(
        "cloud", deployment=found.deployment, factor=3, marker=str(marker), cache=False
    )
    assert again.tasks["double"].attempts == 2
    assert int(marker.read_text()) not in set(again.output["pid"])
    assert_frame_equal(again.output.drop("pid"), expected)


def test_the_scheduler_refuses_a_client_without_the_packages_certificate(
    deployed: Callable[[Path, str], Deployed],
) -> None:
    distributed = pytest.importorskip("distributed", reason="the dask extra is not installed")
    found = deployed(PIPELINE, "aws")
    address = Deployment.load(found.deployment).extra["dask_scheduler_address"]
    with pytest.raises((OSError, TimeoutError)):
        distributed.Client(address.replace("tls://", "tcp://"), timeout=3)
