"""Every converted type survives a trip through Spark in each mode; rejected ones fail early."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_series_equal

from glacier.spark import SparkTaskError
from glacier.spark.modes import run_spark_task
from glacier.spark.types import restore_polars_types

pytestmark = pytest.mark.spark

MODES = ["partitioned", "grouped", "whole"]


@pytest.fixture(scope="module")
def round_trips(
    spark: Any, all_types: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, pl.DataFrame]:
    """Run a task that produces every type, once per mode; read the outputs back."""
    d = tmp_path_factory.mktemp("types")
    keys = pl.DataFrame({"row": range(all_types.height), "g": [0, 1, 0]})
    keys.write_parquet(d / "in.parquet")
    payload = all_types.with_row_index("row").with_columns(pl.col("row").cast(pl.Int64))

    def produce(lf: pl.LazyFrame) -> pl.LazyFrame:
        return lf.join(payload.lazy(), on="row")

    results = {}
    for mode in MODES:
        out = d / mode
        written = run_spark_task(
            spark,
            produce,
            d / "in.parquet",
            out,
            partitioned=mode == "partitioned",
            by=["g"] if mode == "grouped" else None,
        )
        assert written.rows == all_types.height
        results[mode] = pl.read_parquet(out / "*.parquet").sort("row")
    return results


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "column",
    [
        "u8",
        "u16",
        "u32",
        "u64",
        "s",
        "cat",
        "enum",
        "dec",
        "date",
        "ts_naive",
        "ts_utc",
        "ts_zoned",
        "dur",
        "lst",
        "lst_s",
        "arr",
        "st",
    ],
)
def test_type_round_trip(
    round_trips: dict[str, pl.DataFrame], all_types: pl.DataFrame, mode: str, column: str
) -> None:
    got = round_trips[mode].select(column)
    restored = restore_polars_types(got, {column: all_types.schema[column]})
    assert_series_equal(restored[column], all_types[column])


def test_spark_schema_of_converted_types(round_trips: dict[str, pl.DataFrame]) -> None:
    schema = round_trips["partitioned"].schema
    assert schema["u8"] == pl.Int16
    assert schema["u32"] == pl.Int64
    assert schema["u64"] == pl.Decimal(20, 0)
    assert schema["cat"] == pl.String
    assert schema["arr"] == pl.List(pl.Int32)
    assert schema["ts_naive"] == pl.Datetime("us")  # TimestampNTZ
    assert schema["ts_zoned"] == pl.Datetime("us", "UTC")  # TimestampType is an instant


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (pl.lit(None).alias("nothing"), "'nothing' has type Null"),
        (pl.struct(big=pl.col("row").cast(pl.Int128)).alias("st"), "'st.big' has type Int128"),
        (pl.lit(1, dtype=pl.Time).alias("t"), "'t' has type Time"),
    ],
    ids=["null", "int128-nested", "time"],
)
@pytest.mark.parametrize("mode", MODES)
def test_rejected_types_fail_before_the_job(
    spark: Any, tmp_path: Path, expr: pl.Expr, message: str, mode: str
) -> None:
    pl.DataFrame({"row": [1, 2], "g": [0, 1]}).write_parquet(tmp_path / "in.parquet")
    with pytest.raises(SparkTaskError, match=message):
        run_spark_task(
            spark,
            lambda lf: lf.select("row", expr),
            tmp_path / "in.parquet",
            tmp_path / "out",
            partitioned=mode == "partitioned",
            by=["g"] if mode == "grouped" else None,
        )
    assert not (tmp_path / "out").exists()
