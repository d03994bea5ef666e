"""The 22 TPC-H queries split over three kinds of compute.

In every query the filters run on a serverless function, the join here (local) and the finish
(the aggregate, order and limit) on a VM. Each filtered table and each joined frame crosses
executors, so it is staged once as Parquet in the run's staging area; ``glacier run`` shows the
rows and bytes of every hand-off::

    glacier run examples/tpch/heterogeneous.py:q5
    glacier run examples/tpch/heterogeneous.py:tpch_all_heterogeneous   # 22 queries, one VM start

The VM is a local Dask cluster (``pip install 'glacier-pipelines[dask]'``).
"""

from __future__ import annotations

from tpch_glacier import HETEROGENEOUS, all_in_one, query_pipelines
from tpch_polars import QUERIES

PIPELINES = query_pipelines(QUERIES.values(), HETEROGENEOUS)
globals().update(PIPELINES)  # q1 ... q22
tpch_all_heterogeneous = all_in_one(PIPELINES, "tpch_all_heterogeneous")
