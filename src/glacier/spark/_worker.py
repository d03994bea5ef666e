"""Code that runs inside Spark's Python workers.

``glacier.spark.modes`` registers this module (and ``types``/``errors``) with PySpark's
cloudpickle to be pickled *by value*, so the closures built here also run on clusters
where Glacier itself is not installed; the workers only need polars and pyarrow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from glacier.spark.types import SchemaLike, check_returned_schema, from_spark_arrow, to_spark_arrow

TaskFn = Callable[[pl.LazyFrame], pl.LazyFrame | pl.DataFrame]


def run_task(task: Callable[..., object], *frames: pl.DataFrame) -> pl.DataFrame:
    """Run a Polars task on ``frames`` (one per frame argument) and collect its result."""
    out = task(*(df.lazy() for df in frames))
    if isinstance(out, pl.LazyFrame):
        return out.collect()
    if isinstance(out, pl.DataFrame):
        return out
    raise TypeError(f"a task must return a polars LazyFrame or DataFrame, got {type(out).__name__}")


ArrowMapper = Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]


def _run_to_spark(
    task: TaskFn, df: pl.DataFrame, declared: pl.Schema, target: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """The task's output on ``df`` as Arrow batches of ``target``, once its Polars types are
    checked against ``declared`` (the types restored when the output is read back)."""
    out = run_task(task, df)
    check_returned_schema(out.schema, declared)
    return iter(to_spark_arrow(out, target).to_batches())


CHUNK_ROWS = 100_000
"""Rows per call of the task: Spark hands Python 10,000-row Arrow batches
(``spark.sql.execution.arrow.maxRecordsPerBatch``), and a call per batch costs about as
much in Polars overhead as the work itself; ten batches per call halve a partitioned job."""


def chunks(
    batches: Iterator[pa.RecordBatch], rows: int = CHUNK_ROWS, schema: SchemaLike | None = None
) -> Iterator[pl.DataFrame]:
    """Consecutive ``batches`` joined into frames of at least ``rows`` rows (the last may be
    shorter), so the task runs on fewer, larger frames; with ``schema`` (the input's Polars
    types), the types Spark changed are put back, so the task sees what it sees elsewhere."""
    held: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        held.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield from_spark_arrow(pa.Table.from_batches(held), schema)
            held, count = [], 0
    if count:
        yield from_spark_arrow(pa.Table.from_batches(held), schema)


def make_batch_mapper(
    task: TaskFn, declared: pl.Schema, target: pa.Schema, given: SchemaLike | None = None
) -> ArrowMapper:
    """A ``mapInArrow`` function: batches -> Polars chunks (of the ``given`` input types) ->
    task -> Arrow cast to ``target``."""

    def map_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for df in chunks(batches, schema=given):
            yield from _run_to_spark(task, df, declared, target)

    return map_batches


def split_last_group(df: pl.DataFrame, keys: Sequence[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``df`` (sorted by ``keys``) cut into its whole groups and the rows of its last group,
    which may go on in the next batch."""
    last = pl.all_horizontal([pl.col(k).eq_missing(pl.col(k).last()) for k in keys])
    tail = int(df.select(last.sum()).item())
    return df.head(df.height - tail), df.tail(tail)


def make_group_mapper(
    task: TaskFn,
    keys: Sequence[str],
    declared: pl.Schema,
    target: pa.Schema,
    chunk_rows: int = CHUNK_ROWS,
    given: SchemaLike | None = None,
) -> ArrowMapper:
    """A ``mapInArrow`` function over a partition sorted by ``keys`` that holds whole groups:
    the task runs on each chunk's whole groups (several groups per call, never part of one);
    the last group's rows wait for the next chunk, as it may go on there. ``given``: as in
    :func:`make_batch_mapper`."""

    def map_groups(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        pending: pl.DataFrame | None = None
        for chunk in chunks(batches, chunk_rows, given):
            df = chunk if pending is None else pl.concat([pending, chunk])
            if df.is_empty():
                continue
            whole, pending = split_last_group(df, keys)
            if not whole.is_empty():
                yield from _run_to_spark(task, whole, declared, target)
        if pending is not None and not pending.is_empty():
            yield from _run_to_spark(task, pending, declared, target)

    return map_groups


class SparkRead:
    """A bucket as a task on Spark receives it where its parameter asks for a bucket: Spark
    has already read its files, so ``scan()``/``read()`` give the frame (or partition) it read,
    the rows the same task on another executor would get from the bucket."""

    def __init__(self, address: str, frame: pl.LazyFrame) -> None:
        self.address = address
        self._frame = frame

    def __repr__(self) -> str:
        return f"<SparkRead {self.address}>"

    def scan(self) -> pl.LazyFrame:
        return self._frame

    def read(self) -> pl.DataFrame:
        return self._frame.collect()


class FrameSlot:
    """Where a frame goes in a task's call and in which form: ``position`` (an index, or a
    keyword name); ``as_`` is ``"scan"`` (a LazyFrame), ``"read"`` (a DataFrame) or a bucket's
    address (a :class:`SparkRead` of it)."""

    def __init__(self, position: int | str, as_: str) -> None:
        self.position = position
        self.as_ = as_

    def form(self, frame: pl.LazyFrame) -> object:
        if self.as_ == "scan":
            return frame
        if self.as_ == "read":
            return frame.collect()
        return SparkRead(self.as_, frame)


class BoundTask:
    """A task function with every argument but its frames bound, picklable without Glacier.

    ``func`` is the user's function (``modes.ship_by_value`` looks there for the module to
    ship); the frames go in at ``slots``, in the order they are passed to the call.
    """

    def __init__(
        self,
        func: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        slots: Sequence[FrameSlot],
    ) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.slots = tuple(slots)

    def __call__(self, *frames: pl.LazyFrame) -> pl.LazyFrame | pl.DataFrame:
        args, kwargs = list(self.args), dict(self.kwargs)
        placed = sorted(zip(self.slots, frames, strict=True), key=_positional_first)
        for slot, frame in placed:
            if isinstance(slot.position, int):
                args.insert(slot.position, slot.form(frame))
            else:
                kwargs[slot.position] = slot.form(frame)
        out = self.func(*args, **kwargs)
        assert isinstance(out, (pl.LazyFrame, pl.DataFrame)), type(out)
        return out


def _positional_first(placed: tuple[FrameSlot, pl.LazyFrame]) -> tuple[int, int]:
    """Positions ascending, so each insert lands where the call had it."""
    position = placed[0].position
    return (0, position) if isinstance(position, int) else (1, 0)
