"""Four TPC-H queries whose finish runs on Spark.

The filters and the join run here; the one joined frame goes to a cluster task (a cluster task
takes exactly one frame), which runs the finish on a real Spark session (``local[2]``). The
queries: q1 (an aggregate over most of lineitem), q3 and q18 (aggregate, order, limit) and q13
(two aggregates in a row)::

    glacier run examples/tpch/with_spark.py:q3
    glacier run examples/tpch/with_spark.py:tpch_all_spark

Needs ``pip install 'glacier-pipelines[spark]'`` and Java 17+.
"""

from __future__ import annotations

from tpch_glacier import SPARK_FINISH, all_in_one, query_pipelines
from tpch_polars import QUERIES

SPARK_QUERIES = ("q1", "q3", "q13", "q18")

PIPELINES = query_pipelines((QUERIES[q] for q in SPARK_QUERIES), SPARK_FINISH)
globals().update(PIPELINES)  # q1, q3, q13, q18
tpch_all_spark = all_in_one(PIPELINES, "tpch_all_spark")
