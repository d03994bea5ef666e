"""The 22 TPC-H queries as Glacier pipelines on one local executor.

Each query's filter, join and finish run here, so their LazyFrames are handed on in memory and
Polars runs each pipeline as one query, as plain Polars would::

    python examples/tpch/generate.py --scale 0.1        # data under $GLACIER_BASE_PATH/tpch
    glacier run examples/tpch/queries.py:q1              # one query, with live progress
    glacier run examples/tpch/queries.py:tpch_all        # all 22 in one run
"""

from __future__ import annotations

from tpch_glacier import ONE_EXECUTOR, all_in_one, query_pipelines
from tpch_polars import QUERIES

PIPELINES = query_pipelines(QUERIES.values(), ONE_EXECUTOR)
globals().update(PIPELINES)  # q1 ... q22, so `glacier run queries.py:q5` finds them
tpch_all = all_in_one(PIPELINES, "tpch_all")
