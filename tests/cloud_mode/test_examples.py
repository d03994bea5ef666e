"""The shipped examples in cloud mode: the same output as local mode, on each emulated cloud
(functions, the TLS Dask VMs, and clusters on EMR Serverless, Dataproc and Databricks)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from glacier.resources.bucket import Bucket
from glacier.runtime.deployment import Deployment
from tests.cloud_mode.conftest import Deployed

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
from generate_sample_data import generate  # noqa: E402 - the examples' own sample data

pytestmark = [pytest.mark.cloud, pytest.mark.slow]


@pytest.mark.parametrize("cloud", ["aws", "gcp", "azure"])
@pytest.mark.parametrize(
    ("example", "kinds"),
    [
        ("simple_pipeline", {"local"}),
        ("cloud_agnostic_pipeline", {"local", "serverless", "cluster"}),
        ("heterogeneous_pipeline", {"local", "serverless", "cluster", "vm"}),
    ],
)
def test_an_example_gives_the_same_output_in_cloud_mode(
    cloud: str, example: str, kinds: set[str], deployed: Callable[[Path, str], Deployed]
) -> None:
    found = deployed(EXAMPLES / f"{example}.py", cloud)
    deployment = Deployment.load(found.deployment)
    provider = sys.modules[example].provider
    provider.use_deployment(deployment.buckets, deployment.staging_bucket)
    Bucket(provider, "raw", "sales/part-000.parquet").write(generate(3000))

    local = found.pipeline.run(cache=False)
    remote = found.pipeline.run("cloud", deployment=found.deployment)
    assert_frame_equal(local.output, remote.output)
    assert {t.executor_kind for t in remote.tasks.values()} == kinds
    for task in remote.tasks.values():
        assert (task.ran_on is None) == (task.executor_kind == "local"), task
