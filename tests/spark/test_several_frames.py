"""A cluster task may take several frames: each whole, as its own argument; spreading such a
task over partitions or groups is refused when the pipeline is defined."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from glacier import PipelineDefinitionError, Provider, pipeline
from glacier.config import LocalConfig, SparkConfig
from glacier.resources.executor import Executor

pytestmark = pytest.mark.spark

ORDERS = pl.DataFrame({"order": [1, 2, 3, 4], "customer": [10, 20, 10, 30], "qty": [5, 1, 2, 7]})
CUSTOMERS = pl.DataFrame({"customer": [10, 20, 40], "name": ["ann", "bob", "eve"]})


@pytest.fixture
def provider(tmp_path: Path, spark: Any) -> Provider:
    (tmp_path / "raw").mkdir()
    ORDERS.write_parquet(tmp_path / "raw" / "orders.parquet")
    CUSTOMERS.write_parquet(tmp_path / "raw" / "customers.parquet")
    return Provider(config=LocalConfig(base_path=tmp_path))


def big(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(pl.col("qty") > 1)


def known(customers: pl.LazyFrame) -> pl.LazyFrame:
    return customers.filter(pl.col("name") != "eve")


def join(
    orders: pl.LazyFrame, customers: pl.LazyFrame, *, how: str = "inner", by: str = "customer"
) -> pl.LazyFrame:
    return orders.join(customers, on=by, how=how).sort("order")  # type: ignore[arg-type]


def _joined(provider: Provider, where: Executor) -> pl.DataFrame:
    """The join of two upstream outputs on ``where``, the customers passed by keyword."""
    here = provider.local()
    orders = here.task()(big)
    customers = here.task()(known)
    joined = where.task(cache=False)(join)

    @pipeline(name=f"several_frames_{where.kind.value}")
    def body() -> pl.LazyFrame:
        return joined(
            orders(provider.bucket("raw", "orders.parquet")),
            how="left",
            customers=customers(provider.bucket("raw", "customers.parquet")),
        )

    out = body.run().output
    assert isinstance(out, pl.DataFrame)
    return out


def test_a_join_of_two_upstream_outputs_on_a_cluster_equals_local(provider: Provider) -> None:
    on_cluster = _joined(provider, provider.cluster(config=SparkConfig(master="local[2]")))
    on_local = _joined(provider, provider.local())
    expected = join(big(ORDERS.lazy()), known(CUSTOMERS.lazy()), how="left").collect()
    assert_frame_equal(on_local, expected)
    assert_frame_equal(on_cluster, on_local)


@pytest.mark.parametrize("spread", [{"partitioned": True}, {"by": ["customer"]}])
def test_spreading_a_task_of_two_frames_is_refused_at_definition(
    tmp_path: Path, spread: dict[str, Any]
) -> None:
    provider = Provider(config=LocalConfig(base_path=tmp_path))
    spread_join = provider.cluster().task(**spread)(join)
    orders = provider.local().task()(big)

    with pytest.raises(
        PipelineDefinitionError, match=r"Task 'join' is .* 2 frames \(orders, customers\)"
    ):

        @pipeline(name="spread_join")
        def body() -> pl.LazyFrame:
            return spread_join(
                orders(provider.bucket("raw", "orders.parquet")),
                provider.bucket("raw", "customers.parquet"),
            )
