"""TPC-H as Glacier pipelines: the steps of :mod:`tpch_polars`, each bound to an executor.

A :class:`Placement` says where a query's filters, its join and its finish run; one function
turns any query and placement into a pipeline, so the three variants (``queries.py``,
``heterogeneous.py``, ``with_spark.py``) differ only in their placement. Data lives in the
bucket ``tpch`` under ``$GLACIER_BASE_PATH`` (default ``./data``), one ``<table>.parquet`` per
table, as ``generate.py`` writes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl
from tpch_polars import TABLES, Query, typed

from glacier import Bucket, Executor, Pipeline, Provider, pipeline
from glacier.config import LocalConfig, ServerlessConfig, SparkConfig, VmConfig

provider = Provider(config=LocalConfig(base_path=os.environ.get("GLACIER_BASE_PATH", "./data")))
tables = {t: provider.bucket(bucket="tpch", path=f"{t}.parquet") for t in TABLES}

here = provider.local()
# Generous limits: at scale factor 1 a filter reads the 6 M lines of lineitem.
functions = provider.serverless(config=ServerlessConfig(memory=4096, timeout=600))
vm = provider.vm(config=VmConfig(cpus=2, memory=8192))
spark = provider.cluster(config=SparkConfig(master="local[2]"))


@dataclass(frozen=True)
class Placement:
    """Where each step of a query runs; ``suffix`` tells the variant's pipelines apart."""

    filters: Executor
    join: Executor
    finish: Executor
    suffix: str = ""


ONE_EXECUTOR = Placement(here, here, here)
HETEROGENEOUS = Placement(functions, here, vm, suffix="_heterogeneous")
SPARK_FINISH = Placement(here, here, spark, suffix="_spark")


def scan(source: Bucket) -> pl.LazyFrame:
    """A table as the queries read it."""
    return typed(source.scan())


def query_pipeline(query: Query, at: Placement) -> Pipeline:
    """The query as a pipeline named ``tpch_<query><suffix>``, its steps placed by ``at``.

    A table the query filters is scanned and filtered on ``at.filters``; any other table is
    scanned where the join runs, so only filtered tables cross executors.
    """

    def body() -> Any:
        frames = {}
        for table in query.tables:
            step = query.filters.get(table)
            where = at.join if step is None else at.filters
            frame = where.task(name=f"scan_{table}")(scan)(tables[table])
            frames[table] = frame if step is None else at.filters.task()(step)(frame)
        if query.join is None:
            (joined,) = frames.values()
        else:
            joined = at.join.task()(query.join)(**frames)
        return at.finish.task()(query.finish)(joined)

    return pipeline(name=f"tpch_{query.name}{at.suffix}")(body)


def query_pipelines(queries: Iterable[Query], at: Placement) -> dict[str, Pipeline]:
    """One pipeline per query, by query name (``q1``...), for a module's globals."""
    return {q.name: query_pipeline(q, at) for q in queries}


def all_in_one(pipelines: dict[str, Pipeline], name: str) -> Pipeline:
    """One pipeline that inlines each of ``pipelines`` and returns every answer by name.

    Executors start once for the lot: how the tests run a variant's 22 queries quickly.
    """

    def body() -> dict[str, Any]:
        return {query: p() for query, p in pipelines.items()}

    return pipeline(name=name)(body)
