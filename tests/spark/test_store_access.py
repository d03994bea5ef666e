"""A local Spark session (no hadoop-aws) runs cluster tasks over S3 buckets through Polars.

Real local Spark against the moto S3 server: the session cannot read ``s3://`` itself (checked,
so the test means something), and the slow path reads the inputs and writes the outputs with
the provider's credentials; the results equal plain Polars'.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from tests.cloud.fixtures import new_bucket
from tests.cloud.servers import S3Server

from glacier import Provider, pipeline
from glacier.config import AwsConfig, SparkConfig
from glacier.spark.errors import SparkTaskError
from glacier.spark.modes import run_partitioned
from glacier.spark.store_access import SETTING, StoreAccess, access_for, reads_natively

pytestmark = [pytest.mark.spark, pytest.mark.cloud]

SALES = pl.DataFrame({"store": ["a", "b", "a", "b", "a"], "amount": [10.0, -2.0, 5.5, 7.0, 3.25]})


@pytest.fixture
def provider(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Provider:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", s3_server.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", s3_server.access_key)
    staging = new_bucket(s3_server, "staging").name
    return Provider(
        config=AwsConfig(
            region=s3_server.region, endpoint_url=s3_server.endpoint, staging_bucket=staging
        )
    )


def test_local_spark_cannot_read_s3_itself_but_reads_files(spark: Any) -> None:
    assert not reads_natively(spark, "s3")
    assert not reads_natively(spark, "gs")
    assert reads_natively(spark, "file")
    assert access_for(spark, ["/tmp/x.parquet", "file:///tmp/y"], lambda _: None) is None
    assert access_for(spark, ["s3://b/k.parquet"], lambda _: None) is not None


def test_the_setting_forces_or_refuses_the_slow_path(spark: Any) -> None:
    try:
        spark.conf.set(SETTING, "spark")
        assert access_for(spark, ["s3://b/k.parquet"], lambda _: None) is None
        spark.conf.set(SETTING, "polars")
        assert access_for(spark, ["s3://b/k.parquet"], lambda _: None) is not None
        spark.conf.set(SETTING, "sometimes")
        with pytest.raises(SparkTaskError, match="not one of auto, spark, polars"):
            access_for(spark, ["s3://b/k.parquet"], lambda _: None)
    finally:
        spark.conf.unset(SETTING)


def test_cluster_tasks_over_s3_buckets_equal_plain_polars(
    provider: Provider, s3_server: S3Server, spark: Any
) -> None:
    raw = new_bucket(s3_server, "raw").name
    SALES.write_parquet(f"s3://{raw}/sales.parquet", storage_options=s3_server.storage_options())
    sales = provider.bucket(raw, "sales.parquet")
    out = provider.bucket(raw, "totals.parquet")
    cluster = provider.cluster(config=SparkConfig(master="local[2]"))
    here = provider.local()

    @cluster.task(partitioned=True)
    def positive(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.filter(pl.col("amount") > 0)

    @cluster.task(by=["store"])
    def totals(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.group_by("store").agg(total=pl.col("amount").sum())

    @here.task()
    def biggest(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.sort("total", descending=True).head(1)

    @pipeline(name="spark_on_s3")
    def on_s3() -> pl.LazyFrame:
        per_store = totals(positive(sales))
        out.write(per_store)
        return biggest(per_store)

    result = on_s3.run()

    expected = (
        SALES.filter(pl.col("amount") > 0).group_by("store").agg(total=pl.col("amount").sum())
    )
    assert_frame_equal(result.output, expected.sort("total", descending=True).head(1))
    assert_frame_equal(out.read(), expected, check_row_order=False)
    assert result.tasks["totals"].backend == "spark"  # on a session that cannot read s3://


def test_the_forced_slow_path_writes_local_folders_too(spark: Any, tmp_path: Path) -> None:
    SALES.write_parquet(tmp_path / "in.parquet")
    polars = StoreAccess(lambda _: None)
    written = run_partitioned(
        spark,
        lambda df: df.filter(pl.col("amount") > 0),
        str(tmp_path / "in.parquet"),
        str(tmp_path / "out" / "nested"),
        access=polars,
    )
    assert written.rows == 4
    assert_frame_equal(
        pl.read_parquet(tmp_path / "out" / "nested" / "part-00000.parquet"),
        SALES.filter(pl.col("amount") > 0),
    )
