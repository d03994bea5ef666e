"""Type layer between Polars and Spark.

Spark cannot hold every Polars type, and Spark's Arrow bridge is strict about the exact
Arrow type it receives. This module turns a Polars frame into one Spark accepts, and back.

Conversion rules (``spark_compatible_dtype``):

============================  ===================================================
Polars                        Spark-compatible Polars type (Spark type)
============================  ===================================================
Boolean, Int8..Int64          unchanged
Float32, Float64              unchanged; Float16 is widened to Float32
UInt8 / UInt16 / UInt32       Int16 / Int32 / Int64 (next wider signed type; lossless)
UInt64                        Decimal(20, 0), lossless. This is the same type Spark
                              itself uses when it reads an unsigned 64-bit Parquet
                              column, so data read by Spark and data produced by a
                              task agree. Cast to Int64 yourself if you prefer speed
                              and know the values fit.
Int128 / UInt128              rejected (pyarrow cannot hold them); the error names
                              the column
String, Binary                unchanged (written as Arrow ``string``/``binary``, not
                              the ``large_*`` types Polars produces)
Categorical, Enum             String (Spark has no dictionary type)
Decimal(p, s)                 unchanged; precision ``None`` becomes 38; p > 38 rejected
Date                          unchanged (DateType)
Time                          rejected: Spark 4.3 only has TIME behind the preview flag
                              ``spark.sql.timeType.enabled`` and older Spark not at all;
                              cast it to Duration or String in the task
Datetime(unit, tz)            Datetime("us", tz): Spark stores microseconds.
                              Nanoseconds are truncated. With a time zone it becomes
                              TimestampType (an instant; the zone name is not kept,
                              ``restore_polars_types`` puts it back); without one,
                              TimestampNTZType
Duration(unit)                Duration("us") (DayTimeIntervalType); ns truncated
List(T) / Array(T, n)         List(T') (ArrayType); Array loses its fixed width
Struct / Map                  converted field by field (StructType / MapType)
Null, Object, Unknown, ...    rejected with a message naming the column
============================  ===================================================

Nothing here imports PySpark at module import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from glacier.spark.errors import SparkTypeError

__all__ = [
    "SPARK_MAX_DECIMAL_PRECISION",
    "SchemaLike",
    "arrow_schema_for_spark",
    "check_returned_schema",
    "from_spark_arrow",
    "polars_schema_for_spark",
    "restore_polars_types",
    "spark_arrow_schema",
    "spark_compatible_dtype",
    "spark_compatible_schema",
    "spark_schema_for_polars",
    "to_spark_arrow",
    "to_spark_compatible",
]

SPARK_MAX_DECIMAL_PRECISION = 38

SchemaLike = pl.Schema | Mapping[str, Any]
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)

_WIDEN_UNSIGNED: dict[type[pl.DataType], pl.DataType] = {
    pl.UInt8: pl.Int16(),
    pl.UInt16: pl.Int32(),
    pl.UInt32: pl.Int64(),
    pl.UInt64: pl.Decimal(20, 0),
}

_UNCHANGED: tuple[type[pl.DataType], ...] = (
    pl.Boolean,
    pl.Int8,
    pl.Int16,
    pl.Int32,
    pl.Int64,
    pl.Float32,
    pl.Float64,
    pl.String,
    pl.Binary,
    pl.Date,
)


def _as_instance(dtype: Any) -> pl.DataType:
    if isinstance(dtype, type) and issubclass(dtype, pl.DataType):
        return dtype()
    if isinstance(dtype, pl.DataType):
        return dtype
    raise SparkTypeError(f"not a Polars data type: {dtype!r}")


def spark_compatible_dtype(dtype: Any, *, column: str = "<column>") -> pl.DataType:
    """Return the Polars type Spark can hold for ``dtype`` (see the module docstring).

    ``column`` is only used in error messages; nested fields are reported as
    ``col.field``, list elements as ``col[]`` and map parts as ``col{key}``/``col{value}``.

    Raises:
        SparkTypeError: the type has no Spark equivalent.
    """
    dt = _as_instance(dtype)
    if isinstance(dt, _UNCHANGED):
        return dt
    for unsigned, signed in _WIDEN_UNSIGNED.items():
        if isinstance(dt, unsigned):
            return signed
    if isinstance(dt, pl.Float16):
        return pl.Float32()
    if isinstance(dt, pl.Int128 | pl.UInt128):
        raise SparkTypeError(
            f"column {column!r} has type {dt}, which neither pyarrow nor Spark can hold; "
            f"cast it to Int64 or Decimal(38, 0) in the task"
        )
    if isinstance(dt, pl.Categorical | pl.Enum):
        return pl.String()
    if isinstance(dt, pl.Decimal):
        precision = SPARK_MAX_DECIMAL_PRECISION if dt.precision is None else dt.precision
        if precision > SPARK_MAX_DECIMAL_PRECISION:
            raise SparkTypeError(
                f"column {column!r} has type {dt}; Spark decimals hold at most "
                f"{SPARK_MAX_DECIMAL_PRECISION} digits"
            )
        return pl.Decimal(precision, dt.scale)
    if isinstance(dt, pl.Datetime):
        return pl.Datetime("us", dt.time_zone)
    if isinstance(dt, pl.Duration):
        return pl.Duration("us")
    if isinstance(dt, pl.List | pl.Array):
        return pl.List(spark_compatible_dtype(dt.inner, column=f"{column}[]"))
    if isinstance(dt, pl.Struct):
        if not dt.fields:
            raise SparkTypeError(f"column {column!r} is a struct with no fields")
        return pl.Struct(
            {
                f.name: spark_compatible_dtype(f.dtype, column=f"{column}.{f.name}")
                for f in dt.fields
            }
        )
    if isinstance(dt, pl.Map):
        return pl.Map(
            spark_compatible_dtype(dt.key, column=f"{column}{{key}}"),
            spark_compatible_dtype(dt.value, column=f"{column}{{value}}"),
        )
    if isinstance(dt, pl.Time):
        raise SparkTypeError(
            f"column {column!r} has type Time, which Spark cannot store by default "
            f"(TIME needs spark.sql.timeType.enabled, Spark >= 4.1); cast it in the task, "
            f"e.g. to pl.Duration (time since midnight) or pl.String"
        )
    if isinstance(dt, pl.Null):
        raise SparkTypeError(
            f"column {column!r} has type Null (no values and no type), which Spark cannot "
            f"write to Parquet; give it a type, e.g. pl.lit(None, dtype=pl.String)"
        )
    raise SparkTypeError(f"column {column!r} has type {dt}, which Spark cannot hold")


def spark_compatible_schema(schema: SchemaLike) -> pl.Schema:
    """Apply ``spark_compatible_dtype`` to every column of ``schema``."""
    return pl.Schema(
        {name: spark_compatible_dtype(dtype, column=name) for name, dtype in schema.items()}
    )


def to_spark_compatible(df: FrameT) -> FrameT:
    """Cast the columns of ``df`` (eager or lazy) that Spark cannot hold as they are.

    Columns that need no conversion are left untouched. Raises ``SparkTypeError`` for
    columns that cannot be converted.
    """
    schema = df.collect_schema()
    target = spark_compatible_schema(schema)
    casts = {name: dt for name, dt in target.items() if dt != schema[name]}
    if not casts:
        return df
    return df.cast(casts)  # type: ignore[arg-type]


def _small_arrow_type(at: pa.DataType) -> pa.DataType:
    """Replace the large/view Arrow types Polars emits by the ones Spark declares."""
    if pa.types.is_large_string(at) or pa.types.is_string_view(at):
        return pa.string()
    if pa.types.is_large_binary(at) or pa.types.is_binary_view(at):
        return pa.binary()
    if pa.types.is_large_list(at) or pa.types.is_list(at) or pa.types.is_list_view(at):
        return pa.list_(_small_arrow_field(at.value_field))
    if pa.types.is_large_list_view(at) or pa.types.is_fixed_size_list(at):
        return pa.list_(_small_arrow_field(at.value_field))
    if pa.types.is_map(at):
        return pa.map_(_small_arrow_field(at.key_field), _small_arrow_field(at.item_field))
    if pa.types.is_struct(at):
        return pa.struct([_small_arrow_field(at.field(i)) for i in range(at.num_fields)])
    return at


def _small_arrow_field(field: pa.Field) -> pa.Field:
    return pa.field(field.name, _small_arrow_type(field.type), nullable=field.nullable)


def arrow_schema_for_spark(schema: SchemaLike) -> pa.Schema:
    """The Arrow schema Spark expects for a frame with the Polars ``schema``.

    The schema is first made Spark-compatible, then Polars' ``large_*`` Arrow types are
    replaced by the plain ones Spark declares (``string``, ``binary``, ``list``).
    """
    compatible = spark_compatible_schema(schema)
    arrow = pl.DataFrame(schema=compatible).to_arrow().schema
    return pa.schema([_small_arrow_field(arrow.field(i)) for i in range(len(arrow))])


def to_spark_arrow(df: pl.DataFrame, target: pa.Schema | None = None) -> pa.Table:
    """Convert ``df`` to an Arrow table Spark accepts.

    ``target`` is the exact Arrow schema to produce (for instance the schema Spark declared
    for a ``mapInArrow`` output). By default it is ``arrow_schema_for_spark(df.schema)``.
    Columns are matched by name; a missing or unexpected column raises ``SparkTypeError``.
    """
    compatible = to_spark_compatible(df)
    if target is None:
        target = arrow_schema_for_spark(compatible.schema)
    names = list(target.names)
    if set(compatible.columns) != set(names):
        missing = [n for n in names if n not in compatible.columns]
        extra = [n for n in compatible.columns if n not in names]
        raise SparkTypeError(
            f"task output columns {compatible.columns} do not match the declared schema "
            f"{names} (missing: {missing}, unexpected: {extra})"
        )
    table = compatible.to_arrow()
    if table.column_names != names:
        table = table.select(names)
    try:
        return table.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise SparkTypeError(
            f"task output schema {table.schema} cannot be cast to the declared schema "
            f"{target}: {exc}"
        ) from exc


def _durations_of_ints(source: pl.DataType, target: pl.DataType, unit: str | None) -> pl.DataType:
    """``source`` with every Int64 that ``target`` says is a Duration read as one of ``unit``
    (None: of the target's own unit).

    Spark writes DayTimeIntervalType to Parquet as a bare int64 of microseconds, so a
    Parquet reader other than Spark sees Int64 where the task produced a Duration; Polars
    writes a Duration as a bare int64 of its own unit, which Spark reads as a long.
    """
    if isinstance(target, pl.Duration) and isinstance(source, pl.Int64):
        return pl.Duration(unit or target.time_unit)  # type: ignore[arg-type]
    if isinstance(target, pl.List | pl.Array) and isinstance(source, pl.List):
        inner = _durations_of_ints(_as_instance(source.inner), _as_instance(target.inner), unit)
        return pl.List(inner)
    if isinstance(target, pl.Struct) and isinstance(source, pl.Struct):
        wanted = {f.name: _as_instance(f.dtype) for f in target.fields}
        return pl.Struct(
            {
                f.name: _durations_of_ints(_as_instance(f.dtype), wanted[f.name], unit)
                if f.name in wanted
                else f.dtype
                for f in source.fields
            }
        )
    return source


def restore_polars_types(
    df: FrameT, schema: SchemaLike, int_durations: str | None = "us"
) -> FrameT:
    """Reverse of ``to_spark_compatible``: cast columns read back from Spark to ``schema``.

    Works on frames from Spark's Arrow output (``toArrow``) and on Spark-written Parquet
    read by Polars, eager or lazy. Columns of ``df`` not in ``schema`` are kept as they are.
    This restores unsigned integers, Categorical/Enum, Array widths, time units, time zone
    names, and durations that Parquet stored as bare int64s of ``int_durations`` (Spark's
    microseconds; None: the unit ``schema`` names, as Polars writes them).
    """
    current = df.collect_schema()
    exprs: list[pl.Expr] = []
    for name, dtype in schema.items():
        if name not in current:
            raise SparkTypeError(f"column {name!r} is missing from the frame read back")
        target = _as_instance(dtype)
        source = current[name]
        if source == target:
            continue
        step = _durations_of_ints(source, target, int_durations)
        expr = pl.col(name) if step == source else pl.col(name).cast(step)
        exprs.append(expr.cast(target))
    return df.with_columns(exprs) if exprs else df


def check_returned_schema(returned: SchemaLike, declared: SchemaLike) -> None:
    """Raise unless a task returned the Polars schema it declared (or was inferred with).

    The declared schema is what Spark is told and what is restored when the output is read
    back, so a task whose types depend on its data (``json_decode`` without a dtype,
    ``pivot``...) would otherwise come back with other types than on a local executor.
    """
    got = {name: _as_instance(dt) for name, dt in returned.items()}
    wanted = {name: _as_instance(dt) for name, dt in declared.items()}
    if got == wanted:
        return
    differ = [
        f"{name!r}: {got.get(name, 'missing')} (declared {wanted.get(name, 'not declared')})"
        for name in dict.fromkeys([*wanted, *got])
        if got.get(name) != wanted.get(name)
    ]
    raise SparkTypeError(
        f"the task returned other columns or types on Spark than its declared output schema "
        f"(inferred on an empty frame unless schema= is given): {'; '.join(differ)}. Cast "
        f"them in the task, or pass schema= with the types it returns on real data"
    )


def from_spark_arrow(
    data: pa.Table | pa.RecordBatch, schema: SchemaLike | None = None
) -> pl.DataFrame:
    """Turn Arrow data produced by Spark into Polars, optionally restoring ``schema``.

    Spark's own durations come as Arrow durations; a bare int64 where ``schema`` has a
    Duration is one Spark read from Parquet written by Polars, in the schema's unit.
    """
    df = pl.from_arrow(data)
    if not isinstance(df, pl.DataFrame):  # pragma: no cover - tables always give frames
        raise SparkTypeError(f"expected a table, got {type(data).__name__}")
    return df if schema is None else restore_polars_types(df, schema, int_durations=None)


def spark_schema_for_polars(schema: SchemaLike) -> Any:
    """The Spark ``StructType`` for a Polars schema (imports PySpark)."""
    from pyspark.sql.pandas.types import from_arrow_schema  # noqa: PLC0415 - pyspark is optional

    return from_arrow_schema(arrow_schema_for_spark(schema), prefer_timestamp_ntz=True)


def spark_arrow_schema(spark_schema: Any) -> pa.Schema:
    """The exact Arrow schema Spark uses for ``spark_schema`` in Arrow UDFs."""
    from pyspark.sql.pandas.types import to_arrow_schema  # noqa: PLC0415 - pyspark is optional

    try:
        result: pa.Schema = to_arrow_schema(spark_schema, timezone="UTC")
    except TypeError:  # PySpark 3.5 (e.g. a platform's bundled Spark Connect client): always UTC
        result = to_arrow_schema(spark_schema)
    return result


def polars_schema_for_spark(spark_schema: Any) -> pl.Schema:
    """The Polars schema of frames Spark hands to Python for ``spark_schema``."""
    df = pl.from_arrow(spark_arrow_schema(spark_schema).empty_table())
    assert isinstance(df, pl.DataFrame)
    return df.schema
