"""Run a Polars task on Spark in one of three modes.

Every mode reads its input Parquet with Spark itself (the client never touches the data),
writes its output Parquet with Spark (``overwrite``), and returns the number of rows written
with the Polars schema of the task's output (``Written``), to restore the types Spark changed.
Given the input's Polars schema (``given=``: what Polars reads from the same files, or what the
upstream Spark task returned), every mode hands the task its frames with those types, not
Spark's (a ``u8`` column is read by Spark as ``i16``), so the task sees what it sees on any
other executor; without it the task sees the types Spark read.

* ``run_partitioned``: the task is row-local. It runs on each Arrow batch of each partition
  via ``mapInArrow``. The output schema is inferred by running the task on an empty frame
  of the input schema (or given with ``schema=``).
* ``run_grouped``: the task is group-local. The rows are shuffled and sorted by ``by``, and
  the task runs via ``mapInArrow`` on whole groups: each call sees every row of the groups
  it gets, several groups per call (one call per Arrow batch, not per group).
* ``run_whole_frame``: the task needs all rows at once. The input is collected to the driver
  (``toArrow``) under a size guard, the task runs there, and Spark writes the result;
  ``run_whole_frames`` does so for a task of several frames (a join), each its own argument.

Tasks travel to Spark's Python workers with PySpark's own cloudpickle. Glacier's worker code
and the task's module (unless it is installed in site-packages or is the standard library)
are registered to be pickled by value, so tasks defined in scripts, test modules or closures
run on workers that cannot import them.

Given ``access``, a mode reads and writes object-store URIs the session cannot reach through
Polars on the driver instead (the slow path of :mod:`glacier.spark.store_access`).
"""

from __future__ import annotations

import site
import sys
import sysconfig
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import polars as pl

from glacier import errors as glacier_errors
from glacier.spark import _worker, errors
from glacier.spark import types as spark_types
from glacier.spark.errors import FrameTooLargeError, SparkTaskError
from glacier.spark.store_access import StoreAccess
from glacier.spark.types import (
    SchemaLike,
    from_spark_arrow,
    polars_schema_for_spark,
    spark_arrow_schema,
    spark_schema_for_polars,
    to_spark_arrow,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_ROWS",
    "TaskFn",
    "Written",
    "estimate_row_bytes",
    "infer_output_schema",
    "run_grouped",
    "run_partitioned",
    "run_spark_task",
    "run_whole_frame",
    "run_whole_frames",
    "ship_by_value",
]

TaskFn = Callable[[pl.LazyFrame], pl.LazyFrame | pl.DataFrame]
Paths = str | Path | Sequence[str | Path]

DEFAULT_MAX_ROWS = 10_000_000
DEFAULT_MAX_BYTES = 2 * 1024**3

_ALWAYS_BY_REFERENCE = frozenset({"polars", "pyarrow", "pyspark", "numpy", "pandas", "glacier"})


def _site_dirs() -> list[Path]:
    dirs = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    dirs.update(site.getsitepackages())
    user_site = site.getusersitepackages()
    if isinstance(user_site, str):
        dirs.add(user_site)
    return [Path(d).resolve() for d in dirs if d]


def _installed(module: ModuleType) -> bool:
    """True when ``module`` would be importable on a worker with the same environment."""
    name = module.__name__
    top = name.split(".")[0]
    if name == "__main__" or top in sys.stdlib_module_names or top in _ALWAYS_BY_REFERENCE:
        return True
    file = getattr(module, "__file__", None)
    if file is None:
        return True  # builtin or namespace: cloudpickle handles it
    path = Path(file).resolve()
    return any(path.is_relative_to(d) for d in _site_dirs())


def _task_module(task: Any) -> ModuleType | None:
    func = getattr(task, "func", task)  # functools.partial
    name = getattr(func, "__module__", None) or getattr(type(func), "__module__", None)
    return sys.modules.get(name) if isinstance(name, str) else None


def ship_by_value(task: Any) -> None:
    """Make PySpark's cloudpickle send Glacier's worker code and ``task``'s module by value.

    Registration is global to PySpark's vendored cloudpickle (not the ``cloudpickle``
    package) and idempotent.
    """
    from pyspark import cloudpickle  # noqa: PLC0415 - pyspark is optional

    spark_pickle: Any = cloudpickle
    for module in (glacier_errors, errors, spark_types, _worker):
        spark_pickle.register_pickle_by_value(module)
    task_module = _task_module(task)
    if task_module is not None and not _installed(task_module):
        spark_pickle.register_pickle_by_value(task_module)


def _paths(inputs: Paths) -> list[str]:
    items = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    if not items:
        raise SparkTaskError("no input Parquet path given")
    return [str(p) for p in items]


def _read(spark: Any, inputs: Paths, access: StoreAccess | None) -> Any:
    if access is not None:
        return access.read(spark, _paths(inputs))
    return spark.read.parquet(*_paths(inputs))


def infer_output_schema(task: TaskFn, input_schema: SchemaLike) -> pl.Schema:
    """Run ``task`` on an empty frame of ``input_schema`` and return its output schema."""
    try:
        return _worker.run_task(task, pl.DataFrame(schema=input_schema)).schema
    except Exception as exc:
        raise SparkTaskError(
            f"could not infer the task's output schema by running it on an empty frame "
            f"({type(exc).__name__}: {exc}); pass schema= explicitly"
        ) from exc


class Written(NamedTuple):
    """What a mode wrote: its row count, and the Polars schema of the frames the task returned,
    which ``restore_polars_types`` puts back on the Parquet Spark wrote (``u32`` for ``i64``...)."""

    rows: int
    schema: pl.Schema


class _Declared(NamedTuple):
    """A task's output as the workers must produce it."""

    polars: pl.Schema
    spark: Any  # StructType
    arrow: Any  # pa.Schema


def _declared(
    task: TaskFn, sdf: Any, schema: SchemaLike | None, given: SchemaLike | None
) -> _Declared:
    """The output schema, given or inferred (on the input types the task will see), in
    Polars, Spark and Arrow terms."""
    out_schema = (
        pl.Schema({name: spark_types._as_instance(dt) for name, dt in schema.items()})
        if schema is not None
        else infer_output_schema(task, given or polars_schema_for_spark(sdf.schema))
    )
    spark_schema = spark_schema_for_polars(out_schema)
    return _Declared(out_schema, spark_schema, spark_arrow_schema(spark_schema))


def _write(
    spark: Any, sdf: Any, output: str | Path, schema: pl.Schema, access: StoreAccess | None
) -> Written:
    if access is not None:
        return Written(access.write_spark(sdf, str(output)), schema)
    sdf.write.mode("overwrite").parquet(str(output))
    return Written(int(spark.read.parquet(str(output)).count()), schema)


def run_partitioned(
    spark: Any,
    task: TaskFn,
    inputs: Paths,
    output: str | Path,
    *,
    schema: SchemaLike | None = None,
    access: StoreAccess | None = None,
    given: SchemaLike | None = None,
) -> Written:
    """Run a row-local ``task`` over every Arrow batch with ``mapInArrow``.

    Args:
        spark: a classic or Spark Connect session.
        task: ``LazyFrame -> LazyFrame | DataFrame``; must not depend on which rows share
            a batch (filters, projections, ``with_columns``...).
        inputs: Parquet path(s) or URI(s), read by Spark.
        output: Parquet directory written by Spark (overwritten).
        schema: output Polars schema; inferred from an empty frame when omitted. The
            task must return exactly these types (checked on the workers).
        access: how to reach object-store URIs the session cannot read itself (the slow
            path of :mod:`glacier.spark.store_access`); None: Spark reads and writes them.
        given: the input's Polars schema, the types the task gets (None: Spark's).

    Returns:
        the number of rows written and the output's Polars schema.
    """
    sdf = _read(spark, inputs, access)
    out = _declared(task, sdf, schema, given)
    ship_by_value(task)
    mapper = _worker.make_batch_mapper(task, out.polars, out.arrow, given)
    return _write(spark, sdf.mapInArrow(mapper, out.spark), output, out.polars, access)


def run_grouped(
    spark: Any,
    task: TaskFn,
    inputs: Paths,
    output: str | Path,
    by: Sequence[str],
    *,
    schema: SchemaLike | None = None,
    access: StoreAccess | None = None,
    given: SchemaLike | None = None,
) -> Written:
    """Run a group-local ``task`` on whole groups of ``by``.

    The rows are shuffled by ``by`` (each group lands in one partition) and sorted by it within
    each partition; ``mapInArrow`` then streams each partition through the workers, which call
    the task on every Arrow batch's *whole* groups: each call sees every row of the groups it
    sees, usually several groups at once, never part of a group. A function that is local to
    each group (``group_by(by).agg(...)``, windows ``.over(by)``, per-group filters) gives
    what it gives on the whole frame; one that assumes a single group per call does not.
    One call per batch rather than per group is what keeps this fast with millions of groups.
    Other arguments as in ``run_partitioned``.
    """
    keys = [by] if isinstance(by, str) else list(by)
    if not keys:
        raise SparkTaskError("run_grouped needs at least one column in by=[...]")
    sdf = _read(spark, inputs, access)
    missing = [k for k in keys if k not in sdf.columns]
    if missing:
        raise SparkTaskError(f"group columns {missing} are not in the input {sdf.columns}")
    out = _declared(task, sdf, schema, given)
    ship_by_value(task)
    mapper = _worker.make_group_mapper(task, keys, out.polars, out.arrow, given=given)
    grouped = sdf.repartition(*keys).sortWithinPartitions(*keys)
    return _write(spark, grouped.mapInArrow(mapper, out.spark), output, out.polars, access)


_FIXED_WIDTH: dict[type[pl.DataType], int] = {
    pl.Boolean: 1,
    pl.Int8: 1,
    pl.UInt8: 1,
    pl.Int16: 2,
    pl.UInt16: 2,
    pl.Int32: 4,
    pl.UInt32: 4,
    pl.Float32: 4,
    pl.Date: 4,
    pl.Int64: 8,
    pl.UInt64: 8,
    pl.Float64: 8,
    pl.Datetime: 8,
    pl.Duration: 8,
    pl.Time: 8,
    pl.Decimal: 16,
}
_VARIABLE_WIDTH_GUESS = 32
_LIST_LENGTH_GUESS = 4


def _dtype_bytes(dtype: Any) -> int:
    dtype = spark_types._as_instance(dtype)
    for cls, width in _FIXED_WIDTH.items():
        if isinstance(dtype, cls):
            return width
    if isinstance(dtype, pl.List | pl.Array):
        return 8 + _LIST_LENGTH_GUESS * _dtype_bytes(dtype.inner)
    if isinstance(dtype, pl.Struct):
        return sum(_dtype_bytes(f.dtype) for f in dtype.fields)
    return _VARIABLE_WIDTH_GUESS


def estimate_row_bytes(schema: SchemaLike) -> int:
    """A rough in-memory size of one row: exact for fixed-width types, 32 bytes for strings
    and binaries, 4 elements for lists."""
    return max(1, sum(_dtype_bytes(dt) for dt in schema.values()))


def _too_large(what: str, limit: str) -> FrameTooLargeError:
    return FrameTooLargeError(
        f"a whole-frame task would collect {what} on the driver, over the limit {limit}. "
        f"If the task is row-local, run it with partitioned=True; if it works per group, "
        f"use by=[...]; otherwise raise the limit (max_rows=/max_bytes=, None disables it)."
    )


DRIVER_SHARE = 0.5
"""Of the Spark driver's heap, what a whole frame collected there may take: the JVM holds the
Arrow batches while it sends them, next to Spark's own use of the heap."""
_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def driver_memory(spark: Any) -> int | None:
    """``spark.driver.memory`` of the session in bytes (Spark's default ``1g``); None when
    the session does not say (a client without the setting)."""
    try:
        text = str(spark.conf.get("spark.driver.memory", "1g")).strip().lower()
    except Exception:  # any client error: the guard then falls back to max_bytes
        return None
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "m")
    try:
        return int(float(number) * _UNITS[unit])
    except ValueError:
        return None


def _driver_too_small(estimate: int, rows: int, memory: int) -> FrameTooLargeError:
    return FrameTooLargeError(
        f"a whole-frame task would collect about {_mib(estimate)} ({rows:,} rows) on the "
        f"driver, over half the Spark driver's memory (spark.driver.memory = {_mib(memory)}); "
        f"it would die there (Py4JNetworkError). Raise it with SparkConfig(conf="
        f'{{"spark.driver.memory": "4g"}}), or run the task partitioned=True or by=[...].'
    )


def _mib(n: float) -> str:
    return f"{n / 1024**2:,.1f} MiB"


def run_whole_frame(
    spark: Any,
    task: TaskFn,
    inputs: Paths,
    output: str | Path,
    *,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    access: StoreAccess | None = None,
    given: SchemaLike | None = None,
) -> Written:
    """Collect the input to the driver, run ``task`` there, and write its result with Spark.

    Before collecting, the rows are counted and the size estimated with
    ``estimate_row_bytes``; after collecting, the real Arrow size is checked too.

    Raises:
        FrameTooLargeError: more than ``max_rows`` rows or ``max_bytes`` bytes, or more than
            the driver's memory can hold (``DRIVER_SHARE`` of ``spark.driver.memory``); the
            message suggests ``partitioned=True`` or ``by=[...]``, or the setting to raise.
    """
    return run_whole_frames(
        spark,
        task,
        [inputs],
        output,
        max_rows=max_rows,
        max_bytes=max_bytes,
        access=access,
        given=[given],
    )


def run_whole_frames(
    spark: Any,
    task: Callable[..., pl.LazyFrame | pl.DataFrame],
    inputs: Sequence[Paths],
    output: str | Path,
    *,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    access: StoreAccess | None = None,
    given: Sequence[SchemaLike | None] | None = None,
) -> Written:
    """``run_whole_frame`` for a task of several frames: ``inputs`` holds each frame's
    Parquet, and the task gets one LazyFrame per frame, in that order (``given``: each one's
    Polars schema, or None for Spark's types). The limits bound the frames together, as they
    are all on the driver at once."""
    sdfs = [_read(spark, paths, access) for paths in inputs]
    if max_rows is not None or max_bytes is not None:
        counts = [int(sdf.count()) for sdf in sdfs]
        rows = sum(counts)
        estimate = sum(
            n * estimate_row_bytes(polars_schema_for_spark(sdf.schema))
            for n, sdf in zip(counts, sdfs, strict=True)
        )
        if max_rows is not None and rows > max_rows:
            raise _too_large(f"{rows:,} rows", f"max_rows={max_rows:,}")
        if max_bytes is not None and estimate > max_bytes:
            raise _too_large(
                f"about {_mib(estimate)} ({rows:,} rows)", f"max_bytes={_mib(max_bytes)}"
            )
        memory = driver_memory(spark)
        if max_bytes is not None and memory is not None and estimate > memory * DRIVER_SHARE:
            raise _driver_too_small(estimate, rows, memory)
    if not all(hasattr(sdf, "toArrow") for sdf in sdfs):
        raise SparkTaskError(
            "whole-frame mode needs DataFrame.toArrow (a PySpark 4 client); use "
            "partitioned=True or by=[...] with this client"
        )
    tables = [sdf.toArrow() for sdf in sdfs]
    nbytes = sum(t.nbytes for t in tables)
    if max_bytes is not None and nbytes > max_bytes:
        raise _too_large(f"{_mib(nbytes)} of Arrow data", f"max_bytes={_mib(max_bytes)}")
    schemas = list(given) if given is not None else [None] * len(tables)
    out = _worker.run_task(
        task, *(from_spark_arrow(t, s) for t, s in zip(tables, schemas, strict=True))
    )
    del tables
    if access is not None:  # the result is on the driver already: Polars writes it
        access.write(out, str(output))
        return Written(out.height, out.schema)
    spark_schema = spark_schema_for_polars(out.schema)
    arrow = to_spark_arrow(out, spark_arrow_schema(spark_schema))
    sdf_out = spark.createDataFrame(arrow, schema=spark_schema)
    sdf_out.write.mode("overwrite").parquet(str(output))
    return Written(out.height, out.schema)


def run_spark_task(
    spark: Any,
    task: TaskFn,
    inputs: Paths,
    output: str | Path,
    *,
    partitioned: bool = False,
    by: Sequence[str] | None = None,
    schema: SchemaLike | None = None,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    access: StoreAccess | None = None,
    given: SchemaLike | None = None,
) -> Written:
    """Pick the mode: ``partitioned=True`` -> partitioned, ``by=[...]`` -> grouped,
    otherwise whole-frame."""
    if partitioned and by:
        raise SparkTaskError("a task is either partitioned=True or grouped by=[...], not both")
    if partitioned:
        return run_partitioned(
            spark, task, inputs, output, schema=schema, access=access, given=given
        )
    if by:
        return run_grouped(
            spark, task, inputs, output, by, schema=schema, access=access, given=given
        )
    return run_whole_frame(
        spark,
        task,
        inputs,
        output,
        max_rows=max_rows,
        max_bytes=max_bytes,
        access=access,
        given=given,
    )
