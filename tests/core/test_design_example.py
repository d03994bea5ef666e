"""DESIGN.md section 1 verbatim, and the seed's example shapes, run end to end."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from glacier import Provider, RunResult, Status, pipeline
from glacier.config import (
    DatabricksConfig,
    EC2Config,
    LambdaConfig,
    LocalConfig,
    S3Config,
    SparkConfig,
)

SALES = pl.DataFrame(
    {
        "day": ["2024-01-01", "2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03"],
        "amount": [10.0, -3.0, 5.5, 4.5, -1.0],
    }
)


def _expected() -> pl.DataFrame:
    return SALES.filter(pl.col("amount") > 0).group_by("day").agg(pl.col("amount").sum())


def _by_day(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("day")


def test_design_section_1_example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # so base_path="./data" lands in the temporary folder
    (tmp_path / "data" / "raw" / "sales").mkdir(parents=True)
    SALES.head(3).write_parquet(tmp_path / "data/raw/sales/part-0.parquet")
    SALES.tail(2).write_parquet(tmp_path / "data/raw/sales/part-1.parquet")

    # --- DESIGN.md section 1, verbatim -------------------------------------------------------
    provider = Provider(config=LocalConfig(base_path="./data"))
    sales = provider.bucket(bucket="raw", path="sales/*.parquet")
    daily_out = provider.bucket(
        bucket="curated", path="daily.parquet", config=S3Config(versioning=True)
    )

    local_exec = provider.local()
    fn = provider.serverless(config=LambdaConfig(memory=1024, timeout=120))
    spark = provider.cluster(config=SparkConfig(master="local[2]"))

    @local_exec.task()
    def load(source) -> pl.LazyFrame:  # type: ignore[no-untyped-def]
        return source.scan()

    @fn.task(retries=2)
    def clean(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.filter(pl.col("amount") > 0)

    @spark.task()
    def daily(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.group_by("day").agg(pl.col("amount").sum())

    @pipeline(name="daily_revenue")
    def daily_revenue():  # type: ignore[no-untyped-def]
        out = daily(clean(load(sales)))
        daily_out.write(out)  # a sink: written where `daily` ran
        return out

    result = daily_revenue.run()  # mode="local" is the default
    # -------------------------------------------------------------------------------------------

    assert isinstance(result, RunResult)
    assert result.ok
    assert isinstance(result.output, pl.DataFrame)
    assert _by_day(result.output).equals(_by_day(_expected()))
    written = pl.read_parquet(tmp_path / "data/curated/daily.parquet")
    assert _by_day(written).equals(_by_day(_expected()))

    tasks = result.tasks
    assert list(tasks) == ["load", "clean", "daily", "write:curated/daily.parquet"]
    expected_where = {
        "load": ("local", "local"),
        "clean": ("serverless", "serverless"),
        "daily": ("cluster", "cluster"),
        "write:curated/daily.parquet": ("cluster", "cluster"),  # where its producer ran
    }
    for node, (executor, kind) in expected_where.items():
        record = tasks[node]
        assert record.status is Status.SUCCEEDED
        assert record.attempts == 1
        assert record.seconds >= 0
        assert (record.executor, record.executor_kind) == (executor, kind)
        assert record.backend  # the local-mode backend that emulated the executor
        assert record.where == f"{kind} {executor!r} via {record.backend}"
        assert record.error is None
        assert not record.cache_hit
    assert tasks["load"].rows == SALES.height
    assert tasks["clean"].rows == 3
    assert tasks["daily"].rows == 2
    assert tasks["write:curated/daily.parquet"].rows == 2
    # each executor hands its frame to another executor (or two consumers): staged once
    assert [tasks[n].handoff for n in tasks] == ["staged", "staged", "staged", "sink"]
    assert result.run_id and result.run_id in repr(result)
    table = result.table().splitlines()
    assert len(table) == 1 + len(tasks)
    assert all(line.startswith(node) for line, node in zip(table[1:], tasks, strict=True))


def test_seed_example_shapes(provider: Provider) -> None:
    """The seed's section 1: local, Lambda, Databricks and EC2 executors in one pipeline."""
    bucket = provider.bucket(
        bucket="my-data", path="file.parquet", config=S3Config(versioning=True)
    )
    bucket.write(pl.DataFrame({"value": [3, -1, 4, 0, 5]}))

    local_exec = provider.local()
    lambda_exec = provider.serverless(config=LambdaConfig(memory=1024))
    databricks_exec = provider.cluster(config=DatabricksConfig(num_workers=2))
    ec2_exec = provider.vm(config=EC2Config(instance_type="m7g.large"))

    @local_exec.task()
    def load_data(source) -> pl.LazyFrame:  # type: ignore[no-untyped-def]
        return source.scan()

    @lambda_exec.task()
    def process(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.filter(pl.col("value") > 0)

    @databricks_exec.task()
    def ml_inference(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.with_columns(pl.lit(0.85).alias("prediction"))

    @ec2_exec.task()
    def summarize(df: pl.LazyFrame) -> pl.LazyFrame:
        return df.select(pl.len().alias("rows"), pl.col("prediction").mean())

    @pipeline(name="my_pipeline")
    def my_pipeline():  # type: ignore[no-untyped-def]
        data = load_data(bucket)  # runs on local_exec
        processed = process(data)  # runs on lambda_exec
        predictions = ml_inference(processed)  # runs on databricks_exec
        return predictions, summarize(predictions)

    result = my_pipeline.run(mode="local")

    predictions, summary = result.output
    assert predictions.equals(pl.DataFrame({"value": [3, 4, 5], "prediction": [0.85, 0.85, 0.85]}))
    assert summary.to_dicts() == [{"rows": 3, "prediction": 0.85}]
    kinds = {n: (t.executor, t.executor_kind) for n, t in result.tasks.items()}
    assert kinds == {
        "load_data": ("local", "local"),
        "process": ("serverless", "serverless"),
        "ml_inference": ("cluster", "cluster"),
        "summarize": ("vm", "vm"),
    }
    assert databricks_exec.config == DatabricksConfig(num_workers=2, workers=2)
    assert [e.name for e in provider.executors] == ["local", "serverless", "cluster", "vm"]
