"""Code that runs inside Spark's Python workers.

``glacier.spark.modes`` registers this module (and ``types``/``errors``) with PySpark's
cloudpickle to be pickled *by value*, so the closures built here also run on clusters
where Glacier itself is not installed; the workers only need polars and pyarrow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import polars as pl
import pyarrow as pa  # type: ignore[import-untyped,unused-ignore]

from glacier.spark.types import from_spark_arrow, to_spark_arrow

TaskFn = Callable[[pl.LazyFrame], pl.LazyFrame | pl.DataFrame]


def run_task(task: TaskFn, df: pl.DataFrame) -> pl.DataFrame:
    """Run a Polars task on ``df`` and collect its result."""
    out = task(df.lazy())
    if isinstance(out, pl.LazyFrame):
        return out.collect()
    if isinstance(out, pl.DataFrame):
        return out
    raise TypeError(f"a task must return a polars LazyFrame or DataFrame, got {type(out).__name__}")


def make_batch_mapper(
    task: TaskFn, target: pa.Schema
) -> Callable[[Iterator[pa.RecordBatch]], Iterator[pa.RecordBatch]]:
    """A ``mapInArrow`` function: each batch -> Polars -> task -> Arrow cast to ``target``."""

    def map_batches(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            out = run_task(task, from_spark_arrow(batch))
            yield from to_spark_arrow(out, target).to_batches()

    return map_batches


def make_group_applier(task: TaskFn, target: pa.Schema) -> Callable[[pa.Table], pa.Table]:
    """An ``applyInArrow`` function: one group -> Polars -> task -> Arrow cast to ``target``."""

    def apply_group(table: pa.Table) -> pa.Table:
        return to_spark_arrow(run_task(task, from_spark_arrow(table)), target)

    return apply_group


class BoundTask:
    """A task function with every argument but its frame bound, picklable without Glacier.

    ``func`` is the user's function (``modes.ship_by_value`` looks there for the module to
    ship); the frame goes in at position ``frame_at`` (an index, or a keyword name).
    """

    def __init__(
        self,
        func: Callable[..., object],
        args: tuple[object, ...],
        kwargs: dict[str, object],
        frame_at: int | str,
    ) -> None:
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.frame_at = frame_at

    def __call__(self, frame: pl.LazyFrame) -> pl.LazyFrame | pl.DataFrame:
        args, kwargs = list(self.args), dict(self.kwargs)
        if isinstance(self.frame_at, int):
            args.insert(self.frame_at, frame)
        else:
            kwargs[self.frame_at] = frame
        out = self.func(*args, **kwargs)
        assert isinstance(out, (pl.LazyFrame, pl.DataFrame)), type(out)
        return out
