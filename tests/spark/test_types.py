"""The Polars -> Spark type layer, without Spark (polars and pyarrow only)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glacier import GlacierError
from glacier.spark import SparkTypeError, errors
from glacier.spark.types import (
    arrow_schema_for_spark,
    from_spark_arrow,
    restore_polars_types,
    spark_compatible_dtype,
    spark_compatible_schema,
    to_spark_arrow,
    to_spark_compatible,
)

CONVERSIONS = [
    (pl.UInt8, pl.Int16),
    (pl.UInt16, pl.Int32),
    (pl.UInt32, pl.Int64),
    (pl.UInt64, pl.Decimal(20, 0)),
    (pl.Float16, pl.Float32),
    (pl.Int64, pl.Int64),
    (pl.String, pl.String),
    (pl.Categorical, pl.String),
    (pl.Enum(["a", "b"]), pl.String),
    (pl.Decimal(10, 2), pl.Decimal(10, 2)),
    (pl.Decimal(None, 3), pl.Decimal(38, 3)),
    (pl.Date, pl.Date),
    (pl.Datetime("ns"), pl.Datetime("us")),
    (pl.Datetime("ms", "Europe/Paris"), pl.Datetime("us", "Europe/Paris")),
    (pl.Duration("ns"), pl.Duration("us")),
    (pl.List(pl.UInt8), pl.List(pl.Int16)),
    (pl.Array(pl.UInt16, 3), pl.List(pl.Int32)),
    (
        pl.Struct({"a": pl.UInt32, "b": pl.Struct({"c": pl.Categorical})}),
        pl.Struct({"a": pl.Int64, "b": pl.Struct({"c": pl.String})}),
    ),
    (pl.Map(pl.Categorical, pl.UInt64), pl.Map(pl.String, pl.Decimal(20, 0))),
]


@pytest.mark.parametrize(("polars_type", "expected"), CONVERSIONS, ids=str)
def test_compatible_dtype(polars_type: pl.DataType, expected: pl.DataType) -> None:
    assert spark_compatible_dtype(polars_type) == expected


REJECTED = [
    (pl.Int128, "'c' has type Int128, which neither pyarrow nor Spark"),
    (pl.UInt128, "'c' has type UInt128"),
    (pl.Null, "'c' has type Null"),
    (pl.Time, "'c' has type Time"),
    (pl.Object, "'c' has type Object"),
    (pl.Struct({"x": pl.Int8, "big": pl.Int128}), "'c.big' has type Int128"),
    (pl.List(pl.Struct({"t": pl.Time})), r"'c\[\].t' has type Time"),
    (pl.Map(pl.String, pl.Int128), r"'c\{value\}' has type Int128"),
]


@pytest.mark.parametrize(("polars_type", "message"), REJECTED, ids=str)
def test_rejected_dtype(polars_type: pl.DataType, message: str) -> None:
    with pytest.raises(SparkTypeError, match=message):
        spark_compatible_schema({"c": polars_type})


def test_int128_frame_names_column() -> None:
    df = pl.DataFrame({"ok": [1], "huge": pl.Series([2**100], dtype=pl.Int128)})
    with pytest.raises(SparkTypeError, match="'huge'"):
        to_spark_arrow(df)
    assert isinstance(SparkTypeError("x"), TypeError)


def test_untouched_frame_is_returned_as_is() -> None:
    df = pl.DataFrame({"a": [1], "s": ["x"]})
    assert to_spark_compatible(df) is df
    lf = df.lazy()
    assert to_spark_compatible(lf) is lf


def test_arrow_schema_uses_small_types() -> None:
    schema = arrow_schema_for_spark(
        {
            "s": pl.String,
            "b": pl.Binary,
            "l": pl.List(pl.String),
            "st": pl.Struct({"s": pl.Categorical, "l": pl.List(pl.Binary)}),
            "m": pl.Map(pl.String, pl.List(pl.String)),
            "ts": pl.Datetime("ns", "UTC"),
        }
    )
    assert schema.field("s").type == pa.string()
    assert schema.field("b").type == pa.binary()
    assert schema.field("l").type == pa.list_(pa.string())
    assert schema.field("st").type == pa.struct([("s", pa.string()), ("l", pa.list_(pa.binary()))])
    m = schema.field("m").type
    assert pa.types.is_map(m)
    assert m.key_type == pa.string()
    assert m.item_type == pa.list_(pa.string())
    assert schema.field("ts").type == pa.timestamp("us", "UTC")
    assert "large" not in str(schema)


def test_round_trip_through_arrow(all_types: pl.DataFrame) -> None:
    df = all_types
    table = to_spark_arrow(df)
    assert "large" not in str(table.schema)
    assert "uint" not in str(table.schema)
    assert "dictionary" not in str(table.schema)
    back = from_spark_arrow(table, df.schema)
    assert back.schema == df.schema
    assert back.equals(df)


def test_restore_reports_missing_column() -> None:
    with pytest.raises(SparkTypeError, match="'gone'"):
        restore_polars_types(pl.DataFrame({"a": [1]}), {"a": pl.Int64, "gone": pl.Int8})


def test_declared_schema_mismatch_is_clear() -> None:
    target = pa.schema([("a", pa.int64()), ("b", pa.string())])
    with pytest.raises(SparkTypeError, match=r"missing: \['b'\], unexpected: \['c'\]"):
        to_spark_arrow(pl.DataFrame({"a": [1], "c": ["x"]}), target)
    # columns are matched by name, not position
    out = to_spark_arrow(pl.DataFrame({"b": ["x"], "a": pl.Series([1], dtype=pl.UInt8)}), target)
    assert out.schema == target


@settings(max_examples=50, deadline=None)
@given(
    st.lists(st.integers(0, 2**64 - 1) | st.none(), max_size=30),
    st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=5),
)
def test_unsigned_round_trip_is_exact(u64: list[int | None], u32: list[int]) -> None:
    df = pl.DataFrame(
        {
            "u64": pl.Series(u64, dtype=pl.UInt64),
            "lst": pl.Series([u32] * len(u64), dtype=pl.List(pl.UInt32)),
        }
    )
    back = from_spark_arrow(to_spark_arrow(df), df.schema)
    assert back.equals(df)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)),
        max_size=20,
    ),
    st.sampled_from(["UTC", "Asia/Kolkata", "America/New_York"]),
)
def test_zoned_timestamps_keep_the_instant(values: list[dt.datetime], zone: str) -> None:
    df = pl.DataFrame({"t": pl.Series(values, dtype=pl.Datetime("us"))}).with_columns(
        pl.col("t").dt.replace_time_zone("UTC").dt.convert_time_zone(zone)
    )
    table = to_spark_arrow(df, pa.schema([("t", pa.timestamp("us", tz="UTC"))]))
    back = from_spark_arrow(table, df.schema)
    assert back.equals(df)


def test_restore_reads_parquet_int64_durations_as_micros() -> None:
    """Spark writes DayTimeIntervalType to Parquet as a bare int64 of microseconds."""
    target = {
        "d": pl.Duration("ns"),
        "l": pl.List(pl.Duration("ms")),
        "st": pl.Struct({"d": pl.Duration("us"), "x": pl.UInt8}),
    }
    read_back = pl.DataFrame(
        {"d": [1_500_000, None], "l": [[2000], []], "st": [{"d": 7, "x": 1}, None]},
        schema={
            "d": pl.Int64,
            "l": pl.List(pl.Int64),
            "st": pl.Struct({"d": pl.Int64, "x": pl.Int16}),
        },
    )
    restored = restore_polars_types(read_back, target)
    assert restored.schema == pl.Schema(target)
    assert restored["d"][0] == dt.timedelta(seconds=1.5)
    assert restored["l"][0].to_list() == [dt.timedelta(milliseconds=2)]
    assert restored["st"][0] == {"d": dt.timedelta(microseconds=7), "x": 1}


def test_a_task_s_input_reads_spark_s_int64_durations_in_the_unit_polars_wrote() -> None:
    """Polars writes a Duration to Parquet as a bare int64 of its own unit, which Spark reads
    as a long: the input a Spark task gets is restored in that unit, not as microseconds."""
    target = {"d": pl.Duration("ms"), "l": pl.List(pl.Duration("ns"))}
    table = pa.table({"d": pa.array([86_400_000], pa.int64()), "l": [[2_000]]})
    restored = from_spark_arrow(table, target)
    assert restored.schema == pl.Schema(target)
    assert restored["d"][0] == dt.timedelta(days=1)
    assert restored["l"][0].to_list() == [dt.timedelta(microseconds=2)]


def test_spark_errors_are_glacier_errors() -> None:
    """So the CLI maps them to exit codes and users catch them with everything else."""

    for name in errors.__all__:
        assert issubclass(getattr(errors, name), GlacierError), name
