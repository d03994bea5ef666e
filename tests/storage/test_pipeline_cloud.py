"""An example pipeline, end to end, against each local cloud server.

The cleaned frame has two consumers on another executor (a serverless function), so it is
handed off STAGED: written once to ``runs/<run_id>/`` in the provider's staging bucket on the
cloud, then scanned from there, as it would be when the function runs elsewhere.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import Bucket, pipeline
from tests.cloud.fixtures import unique_bucket_name
from tests.cloud.servers import CloudServer
from tests.storage.backends import provider_for

pytestmark = pytest.mark.cloud


def sales(part: int) -> pl.DataFrame:
    n = 500
    return pl.DataFrame(
        {
            "day": [f"2026-01-0{1 + (part * n + i) % 3}" for i in range(n)],
            "region": [("eu", "us", "apac")[(i + part) % 3] for i in range(n)],
            "amount": [float((i * 7 + part) % 50 - 5) for i in range(n)],
        }
    )


@pytest.mark.parametrize("kind", ["s3", "gcs", "azure"])
def test_pipeline_with_a_staged_handoff(kind: str, request: pytest.FixtureRequest) -> None:
    server: CloudServer = request.getfixturevalue(f"{kind}_server")
    raw, staging = unique_bucket_name("raw"), unique_bucket_name("staging")
    server.create_bucket(raw)
    server.create_bucket(staging)
    provider = provider_for(server, staging_bucket=staging)
    for part in range(2):
        provider.bucket(bucket=raw, path=f"sales/part-{part}.parquet").write(sales(part))
    source = provider.bucket(bucket=raw, path="sales/*.parquet")
    daily = provider.bucket(bucket=raw, path="curated/daily.parquet")
    regions = provider.bucket(bucket=raw, path="curated/regions/*.parquet")
    here, function, machine = provider.local(), provider.serverless(), provider.vm()

    @here.task()
    def clean(src: Bucket) -> pl.LazyFrame:
        return src.scan().filter(pl.col("amount") > 0)

    @function.task()
    def per_day(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.group_by("day").agg(pl.col("amount").sum()).sort("day")

    @machine.task()  # a Dask worker: it reads the staged frame with its own credentials
    def per_region(frame: pl.LazyFrame) -> pl.LazyFrame:
        return frame.group_by("region").agg(n=pl.len()).sort("region")

    @pipeline(name=f"cloud_etl_{kind}")
    def etl() -> pl.LazyFrame:
        cleaned = clean(source)
        totals = per_day(cleaned)
        daily.write(totals)
        regions.write(per_region(cleaned))
        return totals

    result = etl.run(cache=False, keep_handoffs=True)  # to look at the hand-off below

    everything = pl.concat([sales(0), sales(1)]).filter(pl.col("amount") > 0)
    expected = everything.group_by("day").agg(pl.col("amount").sum()).sort("day")
    assert result.ok
    assert_frame_equal(result.output, expected)
    assert_frame_equal(daily.read(), expected)
    assert regions.read()["n"].sum() == everything.height

    record = result.tasks["clean"]
    assert record.handoff == "staged"
    assert record.rows == everything.height
    assert result.tasks["per_day"].executor_kind == "serverless"
    staged = provider.store.list(staging, f"runs/{result.run_id}/*.parquet")
    by_key = {o.key: o for o in staged}
    assert by_key[f"runs/{result.run_id}/clean.parquet"].size > 0
