"""The 22 TPC-H queries in plain Polars, each written as three steps over LazyFrames.

Written for this project from the query definitions of the TPC-H specification (section 2.4),
with its validation substitution parameters. Every query is cut the same way, so a pipeline can
put each step on other compute and the plain-Polars reference is the same code run in one go:

* ``filters``: one function per table the query restricts, with the rows and columns it needs
  (single-table predicates only: they read one table and shrink it);
* ``join``: the filtered tables, joined into one frame, with any sub-query that needs several
  tables; its parameters are named after the tables it takes. It ends with a ``select`` of the
  columns its finish reads: when the finish runs on other compute, the joined frame is staged
  between the two, and Polars cannot push the finish's projection across that boundary, so
  without the ``select`` every column of every joined table would be read, joined and written;
* ``finish``: that one frame to the answer (the aggregate, the order, the limit).

Money columns are Decimal(15, 2) in ``tpchgen-cli``'s Parquet. Polars rounds the product of two
decimals to the scale of its inputs, row by row, where SQL keeps every digit, so :func:`typed`
casts them to Float64 and the answers carry full precision (up to float rounding).

Nothing here imports Glacier: ``reference`` runs a query as one Polars query. A constant that
several steps share is a small function, not a module-level value: Glacier's cache key hashes a
task's code and the functions it calls, but not module-level lists, tuples or dates.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import polars as pl
import polars.selectors as cs

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")

Step = Callable[[pl.LazyFrame], pl.LazyFrame]


def typed(frame: pl.LazyFrame) -> pl.LazyFrame:
    """A table as the queries read it: decimals as Float64 (see the module docstring)."""
    return frame.with_columns(cs.decimal().cast(pl.Float64))


def revenue() -> pl.Expr:
    """``l_extendedprice * (1 - l_discount)``, the spec's revenue of a line."""
    return pl.col("l_extendedprice") * (1 - pl.col("l_discount"))


@dataclass(frozen=True)
class Query:
    """One TPC-H query as filter, join and finish steps (see the module docstring)."""

    number: int
    finish: Step
    join: Callable[..., pl.LazyFrame] | None = None
    """None for a query on one table: its filtered table goes straight to ``finish``."""
    filters: Mapping[str, Step] = field(default_factory=dict)
    total_order: bool = True
    """Whether the query's ORDER BY orders every row; if not, compare answers as sets."""

    @property
    def name(self) -> str:
        return f"q{self.number}"

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables the query reads, in the order ``join`` takes them."""
        if self.join is None:
            return tuple(self.filters)
        return tuple(inspect.signature(self.join).parameters)

    def run(self, tables: Mapping[str, pl.LazyFrame]) -> pl.LazyFrame:
        """The whole query over already scanned tables, as one lazy Polars query."""
        frames = {t: self.filters.get(t, _same)(tables[t]) for t in self.tables}
        joined = frames[self.tables[0]] if self.join is None else self.join(**frames)
        return self.finish(joined)


def _same(frame: pl.LazyFrame) -> pl.LazyFrame:
    return frame


def scan_folder(folder: str | Path) -> dict[str, pl.LazyFrame]:
    """Every table of a data folder (``<folder>/<table>.parquet``) as typed LazyFrames."""
    return {t: typed(pl.scan_parquet(Path(folder) / f"{t}.parquet")) for t in TABLES}


def reference(query: Query, folder: str | Path) -> pl.LazyFrame:
    """The query in plain Polars over the tables in ``folder``: what Glacier must match."""
    return query.run(scan_folder(folder))


# --- Q1: pricing summary report -----------------------------------------------------------------


def q1_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(pl.col("l_shipdate") <= date(1998, 9, 2)).select(  # 1998-12-01 - 90 d
        "l_returnflag",
        "l_linestatus",
        "l_quantity",
        "l_extendedprice",
        "l_discount",
        "l_tax",
    )


def q1_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lines.group_by("l_returnflag", "l_linestatus")
        .agg(
            sum_qty=pl.col("l_quantity").sum(),
            sum_base_price=pl.col("l_extendedprice").sum(),
            sum_disc_price=revenue().sum(),
            sum_charge=(revenue() * (1 + pl.col("l_tax"))).sum(),
            avg_qty=pl.col("l_quantity").mean(),
            avg_price=pl.col("l_extendedprice").mean(),
            avg_disc=pl.col("l_discount").mean(),
            count_order=pl.len(),
        )
        .sort("l_returnflag", "l_linestatus")
    )


Q1 = Query(1, filters={"lineitem": q1_lineitem}, finish=q1_finish)


# --- Q2: minimum cost supplier ------------------------------------------------------------------


def q2_part(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.filter((pl.col("p_size") == 15) & pl.col("p_type").str.ends_with("BRASS")).select(
        "p_partkey", "p_mfgr"
    )


def q2_region(region: pl.LazyFrame) -> pl.LazyFrame:
    return region.filter(pl.col("r_name") == "EUROPE").select("r_regionkey")


def q2_join(
    part: pl.LazyFrame,
    supplier: pl.LazyFrame,
    partsupp: pl.LazyFrame,
    nation: pl.LazyFrame,
    region: pl.LazyFrame,
) -> pl.LazyFrame:
    """European offers for the wanted parts; the sub-query's minimum runs over the same rows."""
    european = supplier.join(nation, left_on="s_nationkey", right_on="n_nationkey").join(
        region, left_on="n_regionkey", right_on="r_regionkey"
    )
    return (
        part.join(partsupp, left_on="p_partkey", right_on="ps_partkey")
        .join(european, left_on="ps_suppkey", right_on="s_suppkey")
        .select(
            "p_partkey",
            "p_mfgr",
            "ps_supplycost",
            "s_acctbal",
            "s_name",
            "s_address",
            "s_phone",
            "s_comment",
            "n_name",
        )
    )


def q2_finish(offers: pl.LazyFrame) -> pl.LazyFrame:
    cheapest = pl.col("ps_supplycost") == pl.col("ps_supplycost").min().over("p_partkey")
    return (
        offers.filter(cheapest)
        .select(
            "s_acctbal",
            "s_name",
            "n_name",
            "p_partkey",
            "p_mfgr",
            "s_address",
            "s_phone",
            "s_comment",
        )
        .sort(
            ["s_acctbal", "n_name", "s_name", "p_partkey"], descending=[True, False, False, False]
        )
        .head(100)
    )


Q2 = Query(2, filters={"part": q2_part, "region": q2_region}, join=q2_join, finish=q2_finish)


# --- Q3: shipping priority ----------------------------------------------------------------------


def q3_date() -> date:
    return date(1995, 3, 15)


def q3_customer(customer: pl.LazyFrame) -> pl.LazyFrame:
    return customer.filter(pl.col("c_mktsegment") == "BUILDING").select("c_custkey")


def q3_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(pl.col("o_orderdate") < q3_date()).select(
        "o_orderkey", "o_custkey", "o_orderdate", "o_shippriority"
    )


def q3_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(pl.col("l_shipdate") > q3_date()).select(
        "l_orderkey", "l_extendedprice", "l_discount"
    )


def q3_join(customer: pl.LazyFrame, orders: pl.LazyFrame, lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return (
        customer.join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        .select("o_orderkey", "o_orderdate", "o_shippriority", "l_extendedprice", "l_discount")
    )


def q3_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lines.group_by("o_orderkey", "o_orderdate", "o_shippriority")
        .agg(revenue=revenue().sum())
        .select(
            pl.col("o_orderkey").alias("l_orderkey"), "revenue", "o_orderdate", "o_shippriority"
        )
        .sort(["revenue", "o_orderdate"], descending=[True, False])
        .head(10)
    )


Q3 = Query(
    3,
    filters={"customer": q3_customer, "orders": q3_orders, "lineitem": q3_lineitem},
    join=q3_join,
    finish=q3_finish,
)


# --- Q4: order priority checking ----------------------------------------------------------------


def q4_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(
        pl.col("o_orderdate").is_between(date(1993, 7, 1), date(1993, 10, 1), closed="left")
    ).select("o_orderkey", "o_orderpriority")


def q4_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(pl.col("l_commitdate") < pl.col("l_receiptdate")).select("l_orderkey")


def q4_join(orders: pl.LazyFrame, lineitem: pl.LazyFrame) -> pl.LazyFrame:
    """``exists (a late line of the order)`` is a semi-join."""
    return orders.join(lineitem, left_on="o_orderkey", right_on="l_orderkey", how="semi").select(
        "o_orderpriority"
    )


def q4_finish(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.group_by("o_orderpriority").agg(order_count=pl.len()).sort("o_orderpriority")


Q4 = Query(
    4, filters={"orders": q4_orders, "lineitem": q4_lineitem}, join=q4_join, finish=q4_finish
)


# --- Q5: local supplier volume ------------------------------------------------------------------


def q5_region(region: pl.LazyFrame) -> pl.LazyFrame:
    return region.filter(pl.col("r_name") == "ASIA").select("r_regionkey")


def q5_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(
        pl.col("o_orderdate").is_between(date(1994, 1, 1), date(1995, 1, 1), closed="left")
    ).select("o_orderkey", "o_custkey")


def q5_join(
    customer: pl.LazyFrame,
    orders: pl.LazyFrame,
    lineitem: pl.LazyFrame,
    supplier: pl.LazyFrame,
    nation: pl.LazyFrame,
    region: pl.LazyFrame,
) -> pl.LazyFrame:
    """Lines sold by a supplier to a customer of the same nation, in the region."""
    asia = nation.join(region, left_on="n_regionkey", right_on="r_regionkey")
    return (
        customer.join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        .join(
            supplier,
            left_on=["l_suppkey", "c_nationkey"],
            right_on=["s_suppkey", "s_nationkey"],
        )
        .join(asia, left_on="c_nationkey", right_on="n_nationkey")
        .select("n_name", "l_extendedprice", "l_discount")
    )


def q5_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return lines.group_by("n_name").agg(revenue=revenue().sum()).sort("revenue", descending=True)


Q5 = Query(5, filters={"region": q5_region, "orders": q5_orders}, join=q5_join, finish=q5_finish)


# --- Q6: forecasting revenue change -------------------------------------------------------------


def q6_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(
        pl.col("l_shipdate").is_between(date(1994, 1, 1), date(1995, 1, 1), closed="left"),
        pl.col("l_discount").is_between(0.05, 0.07),  # DISCOUNT 0.06 +- 0.01
        pl.col("l_quantity") < 24,
    ).select("l_extendedprice", "l_discount")


def q6_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return lines.select(revenue=(pl.col("l_extendedprice") * pl.col("l_discount")).sum())


Q6 = Query(6, filters={"lineitem": q6_lineitem}, finish=q6_finish)


# --- Q7: volume shipping ------------------------------------------------------------------------


def q7_nation(nation: pl.LazyFrame) -> pl.LazyFrame:
    return nation.filter(pl.col("n_name").is_in(["FRANCE", "GERMANY"])).select(
        "n_nationkey", "n_name"
    )


def q7_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(
        pl.col("l_shipdate").is_between(date(1995, 1, 1), date(1996, 12, 31))
    ).select("l_orderkey", "l_suppkey", "l_shipdate", "l_extendedprice", "l_discount")


def q7_join(
    supplier: pl.LazyFrame,
    lineitem: pl.LazyFrame,
    orders: pl.LazyFrame,
    customer: pl.LazyFrame,
    nation: pl.LazyFrame,
) -> pl.LazyFrame:
    """Lines shipped between the two nations, either way, with both nations named."""
    supp_nation = nation.select(s_nationkey="n_nationkey", supp_nation="n_name")
    cust_nation = nation.select(c_nationkey="n_nationkey", cust_nation="n_name")
    return (
        supplier.join(supp_nation, on="s_nationkey")
        .join(lineitem, left_on="s_suppkey", right_on="l_suppkey")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(customer, left_on="o_custkey", right_on="c_custkey")
        .join(cust_nation, on="c_nationkey")
        .filter(pl.col("supp_nation") != pl.col("cust_nation"))
        .select("supp_nation", "cust_nation", "l_shipdate", "l_extendedprice", "l_discount")
    )


def q7_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lines.group_by("supp_nation", "cust_nation", l_year=pl.col("l_shipdate").dt.year())
        .agg(revenue=revenue().sum())
        .sort("supp_nation", "cust_nation", "l_year")
    )


Q7 = Query(
    7, filters={"nation": q7_nation, "lineitem": q7_lineitem}, join=q7_join, finish=q7_finish
)


# --- Q8: national market share ------------------------------------------------------------------


def q8_part(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.filter(pl.col("p_type") == "ECONOMY ANODIZED STEEL").select("p_partkey")


def q8_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(
        pl.col("o_orderdate").is_between(date(1995, 1, 1), date(1996, 12, 31))
    ).select("o_orderkey", "o_custkey", "o_orderdate")


def q8_region(region: pl.LazyFrame) -> pl.LazyFrame:
    return region.filter(pl.col("r_name") == "AMERICA").select("r_regionkey")


def q8_join(
    part: pl.LazyFrame,
    supplier: pl.LazyFrame,
    lineitem: pl.LazyFrame,
    orders: pl.LazyFrame,
    customer: pl.LazyFrame,
    nation: pl.LazyFrame,
    region: pl.LazyFrame,
) -> pl.LazyFrame:
    """Lines of the part type bought in the region, with the supplier's nation."""
    american = nation.join(region, left_on="n_regionkey", right_on="r_regionkey").select(
        c_nationkey="n_nationkey"
    )
    supplier_nation = supplier.join(
        nation.select("n_nationkey", "n_name"), left_on="s_nationkey", right_on="n_nationkey"
    )
    return (
        part.join(lineitem, left_on="p_partkey", right_on="l_partkey")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(customer, left_on="o_custkey", right_on="c_custkey")
        .join(american, on="c_nationkey")
        .join(supplier_nation, left_on="l_suppkey", right_on="s_suppkey")
        .select("o_orderdate", "n_name", "l_extendedprice", "l_discount")
    )


def q8_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    volume = revenue()
    brazil = pl.when(pl.col("n_name") == "BRAZIL").then(volume).otherwise(0.0)
    return (
        lines.group_by(o_year=pl.col("o_orderdate").dt.year())
        .agg(mkt_share=brazil.sum() / volume.sum())
        .sort("o_year")
    )


Q8 = Query(
    8,
    filters={"part": q8_part, "orders": q8_orders, "region": q8_region},
    join=q8_join,
    finish=q8_finish,
)


# --- Q9: product type profit measure ------------------------------------------------------------


def q9_part(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.filter(pl.col("p_name").str.contains("green", literal=True)).select("p_partkey")


def q9_join(
    part: pl.LazyFrame,
    supplier: pl.LazyFrame,
    lineitem: pl.LazyFrame,
    partsupp: pl.LazyFrame,
    orders: pl.LazyFrame,
    nation: pl.LazyFrame,
) -> pl.LazyFrame:
    return (
        part.join(lineitem, left_on="p_partkey", right_on="l_partkey")
        .join(
            partsupp,
            left_on=["l_suppkey", "p_partkey"],
            right_on=["ps_suppkey", "ps_partkey"],
        )
        .join(supplier, left_on="l_suppkey", right_on="s_suppkey")
        .join(orders, left_on="l_orderkey", right_on="o_orderkey")
        .join(nation, left_on="s_nationkey", right_on="n_nationkey")
        .select(
            "n_name", "o_orderdate", "l_extendedprice", "l_discount", "ps_supplycost", "l_quantity"
        )
    )


def q9_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    amount = revenue() - pl.col("ps_supplycost") * pl.col("l_quantity")
    return (
        lines.group_by(nation="n_name", o_year=pl.col("o_orderdate").dt.year())
        .agg(sum_profit=amount.sum())
        .sort(["nation", "o_year"], descending=[False, True])
    )


Q9 = Query(9, filters={"part": q9_part}, join=q9_join, finish=q9_finish)


# --- Q10: returned item reporting ---------------------------------------------------------------


def q10_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(
        pl.col("o_orderdate").is_between(date(1993, 10, 1), date(1994, 1, 1), closed="left")
    ).select("o_orderkey", "o_custkey")


def q10_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(pl.col("l_returnflag") == "R").select(
        "l_orderkey", "l_extendedprice", "l_discount"
    )


def q10_join(
    customer: pl.LazyFrame, orders: pl.LazyFrame, lineitem: pl.LazyFrame, nation: pl.LazyFrame
) -> pl.LazyFrame:
    return (
        customer.join(orders, left_on="c_custkey", right_on="o_custkey")
        .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        .join(nation, left_on="c_nationkey", right_on="n_nationkey")
        .select(
            "c_custkey",
            "c_name",
            "c_acctbal",
            "c_phone",
            "c_address",
            "c_comment",
            "n_name",
            "l_extendedprice",
            "l_discount",
        )
    )


def q10_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    keys = ["c_custkey", "c_name", "c_acctbal", "c_phone", "n_name", "c_address", "c_comment"]
    return (
        lines.group_by(keys)
        .agg(revenue=revenue().sum())
        .select(
            "c_custkey",
            "c_name",
            "revenue",
            "c_acctbal",
            "n_name",
            "c_address",
            "c_phone",
            "c_comment",
        )
        .sort("revenue", descending=True)
        .head(20)
    )


Q10 = Query(
    10,
    filters={"orders": q10_orders, "lineitem": q10_lineitem},
    join=q10_join,
    finish=q10_finish,
)


# --- Q11: important stock identification --------------------------------------------------------


def q11_nation(nation: pl.LazyFrame) -> pl.LazyFrame:
    return nation.filter(pl.col("n_name") == "GERMANY").select("n_nationkey")


def q11_join(partsupp: pl.LazyFrame, supplier: pl.LazyFrame, nation: pl.LazyFrame) -> pl.LazyFrame:
    german = supplier.join(nation, left_on="s_nationkey", right_on="n_nationkey")
    return partsupp.join(german, left_on="ps_suppkey", right_on="s_suppkey").select(
        "ps_partkey", "ps_supplycost", "ps_availqty"
    )


def q11_finish(stock: pl.LazyFrame) -> pl.LazyFrame:
    """The having clause's total is over the same German stock, so it is this frame's sum."""
    value = pl.col("ps_supplycost") * pl.col("ps_availqty")
    return (
        stock.group_by("ps_partkey")
        .agg(value=value.sum())
        .filter(pl.col("value") > pl.col("value").sum() * 0.0001)  # FRACTION 0.0001
        .sort("value", descending=True)
    )


Q11 = Query(11, filters={"nation": q11_nation}, join=q11_join, finish=q11_finish, total_order=False)


# --- Q12: shipping modes and order priority -----------------------------------------------------


def q12_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(
        pl.col("l_shipmode").is_in(["MAIL", "SHIP"]),
        pl.col("l_commitdate") < pl.col("l_receiptdate"),
        pl.col("l_shipdate") < pl.col("l_commitdate"),
        pl.col("l_receiptdate").is_between(date(1994, 1, 1), date(1995, 1, 1), closed="left"),
    ).select("l_orderkey", "l_shipmode")


def q12_join(orders: pl.LazyFrame, lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return orders.join(lineitem, left_on="o_orderkey", right_on="l_orderkey").select(
        "l_shipmode", "o_orderpriority"
    )


def q12_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    high = pl.col("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])
    return (
        lines.group_by("l_shipmode")
        .agg(high_line_count=high.sum(), low_line_count=(~high).sum())
        .sort("l_shipmode")
    )


Q12 = Query(12, filters={"lineitem": q12_lineitem}, join=q12_join, finish=q12_finish)


# --- Q13: customer distribution -----------------------------------------------------------------


def q13_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(~pl.col("o_comment").str.contains("special.*requests")).select(
        "o_orderkey", "o_custkey"
    )


def q13_join(customer: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Every customer, with one row per order (or one with a null order when it has none)."""
    return (
        customer.select("c_custkey")
        .join(orders, left_on="c_custkey", right_on="o_custkey", how="left")
        .select("c_custkey", "o_orderkey")
    )


def q13_finish(customer_orders: pl.LazyFrame) -> pl.LazyFrame:
    return (
        customer_orders.group_by("c_custkey")
        .agg(c_count=pl.col("o_orderkey").count())
        .group_by("c_count")
        .agg(custdist=pl.len())
        .sort(["custdist", "c_count"], descending=[True, True])
    )


Q13 = Query(13, filters={"orders": q13_orders}, join=q13_join, finish=q13_finish)


# --- Q14: promotion effect ----------------------------------------------------------------------


def q14_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(
        pl.col("l_shipdate").is_between(date(1995, 9, 1), date(1995, 10, 1), closed="left")
    ).select("l_partkey", "l_extendedprice", "l_discount")


def q14_join(lineitem: pl.LazyFrame, part: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.join(part, left_on="l_partkey", right_on="p_partkey").select(
        "p_type", "l_extendedprice", "l_discount"
    )


def q14_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    promo = pl.when(pl.col("p_type").str.starts_with("PROMO")).then(revenue()).otherwise(0.0)
    return lines.select(promo_revenue=100.0 * promo.sum() / revenue().sum())


Q14 = Query(14, filters={"lineitem": q14_lineitem}, join=q14_join, finish=q14_finish)


# --- Q15: top supplier --------------------------------------------------------------------------


def q15_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(
        pl.col("l_shipdate").is_between(date(1996, 1, 1), date(1996, 4, 1), closed="left")
    ).select("l_suppkey", "l_extendedprice", "l_discount")


def q15_join(lineitem: pl.LazyFrame, supplier: pl.LazyFrame) -> pl.LazyFrame:
    """The ``revenue0`` view, joined to its suppliers."""
    revenue0 = lineitem.group_by(supplier_no="l_suppkey").agg(total_revenue=revenue().sum())
    return supplier.join(revenue0, left_on="s_suppkey", right_on="supplier_no").select(
        "s_suppkey", "s_name", "s_address", "s_phone", "total_revenue"
    )


def q15_finish(suppliers: pl.LazyFrame) -> pl.LazyFrame:
    return (
        suppliers.filter(pl.col("total_revenue") == pl.col("total_revenue").max())
        .select("s_suppkey", "s_name", "s_address", "s_phone", "total_revenue")
        .sort("s_suppkey")
    )


Q15 = Query(15, filters={"lineitem": q15_lineitem}, join=q15_join, finish=q15_finish)


# --- Q16: parts/supplier relationship -----------------------------------------------------------


def q16_part(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.filter(
        pl.col("p_brand") != "Brand#45",
        ~pl.col("p_type").str.starts_with("MEDIUM POLISHED"),
        pl.col("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9]),
    ).select("p_partkey", "p_brand", "p_type", "p_size")


def q16_supplier(supplier: pl.LazyFrame) -> pl.LazyFrame:
    """The suppliers the query excludes: those with complaints."""
    return supplier.filter(pl.col("s_comment").str.contains("Customer.*Complaints")).select(
        "s_suppkey"
    )


def q16_join(partsupp: pl.LazyFrame, part: pl.LazyFrame, supplier: pl.LazyFrame) -> pl.LazyFrame:
    return (
        partsupp.join(part, left_on="ps_partkey", right_on="p_partkey")
        .join(supplier, left_on="ps_suppkey", right_on="s_suppkey", how="anti")
        .select("ps_suppkey", "p_brand", "p_type", "p_size")
    )


def q16_finish(offers: pl.LazyFrame) -> pl.LazyFrame:
    return (
        offers.group_by("p_brand", "p_type", "p_size")
        .agg(supplier_cnt=pl.col("ps_suppkey").n_unique())
        .sort(
            ["supplier_cnt", "p_brand", "p_type", "p_size"],
            descending=[True, False, False, False],
        )
    )


Q16 = Query(
    16, filters={"part": q16_part, "supplier": q16_supplier}, join=q16_join, finish=q16_finish
)


# --- Q17: small-quantity-order revenue ----------------------------------------------------------


def q17_part(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.filter(pl.col("p_brand") == "Brand#23", pl.col("p_container") == "MED BOX").select(
        "p_partkey"
    )


def q17_join(lineitem: pl.LazyFrame, part: pl.LazyFrame) -> pl.LazyFrame:
    """Every line of the wanted parts, so a per-part average over this frame is the spec's."""
    return lineitem.select("l_partkey", "l_quantity", "l_extendedprice").join(
        part, left_on="l_partkey", right_on="p_partkey"
    )


def q17_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    small = pl.col("l_quantity") < 0.2 * pl.col("l_quantity").mean().over("l_partkey")
    return lines.filter(small).select(avg_yearly=pl.col("l_extendedprice").sum() / 7.0)


Q17 = Query(17, filters={"part": q17_part}, join=q17_join, finish=q17_finish)


# --- Q18: large volume customer -----------------------------------------------------------------


def q18_join(customer: pl.LazyFrame, orders: pl.LazyFrame, lineitem: pl.LazyFrame) -> pl.LazyFrame:
    """Lines of the orders of more than 300 units, with their order and customer."""
    large = (
        lineitem.group_by("l_orderkey")
        .agg(pl.col("l_quantity").sum())
        .filter(pl.col("l_quantity") > 300)
        .select("l_orderkey")
    )
    return (
        orders.join(large, left_on="o_orderkey", right_on="l_orderkey", how="semi")
        .join(customer, left_on="o_custkey", right_on="c_custkey")
        .join(lineitem, left_on="o_orderkey", right_on="l_orderkey")
        .select("c_name", "o_custkey", "o_orderkey", "o_orderdate", "o_totalprice", "l_quantity")
    )


def q18_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lines.group_by("c_name", "o_custkey", "o_orderkey", "o_orderdate", "o_totalprice")
        .agg(sum_quantity=pl.col("l_quantity").sum())
        .rename({"o_custkey": "c_custkey"})
        .sort(["o_totalprice", "o_orderdate"], descending=[True, False])
        .head(100)
    )


Q18 = Query(18, join=q18_join, finish=q18_finish)


# --- Q19: discounted revenue --------------------------------------------------------------------


def q19_choices() -> list[tuple[str, list[str], int, int]]:
    """Per branch of the where clause: brand, containers, lowest quantity, largest size."""
    return [
        ("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5),
        ("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10),
        ("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15),
    ]


def q19_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    """What the three branches share: air shipments delivered in person, 1 to 30 units."""
    return lineitem.filter(
        pl.col("l_shipmode").is_in(["AIR", "AIR REG"]),
        pl.col("l_shipinstruct") == "DELIVER IN PERSON",
        pl.col("l_quantity").is_between(1, 30),
    ).select("l_partkey", "l_quantity", "l_extendedprice", "l_discount")


def q19_part(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.filter(pl.col("p_brand").is_in([brand for brand, *_ in q19_choices()])).select(
        "p_partkey", "p_brand", "p_container", "p_size"
    )


def q19_join(lineitem: pl.LazyFrame, part: pl.LazyFrame) -> pl.LazyFrame:
    branches = [
        (pl.col("p_brand") == brand)
        & pl.col("p_container").is_in(containers)
        & pl.col("l_quantity").is_between(low, low + 10)
        & pl.col("p_size").is_between(1, size)
        for brand, containers, low, size in q19_choices()
    ]
    return (
        lineitem.join(part, left_on="l_partkey", right_on="p_partkey")
        .filter(pl.any_horizontal(branches))
        .select("l_extendedprice", "l_discount")
    )


def q19_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return lines.select(revenue=revenue().sum())


Q19 = Query(
    19, filters={"lineitem": q19_lineitem, "part": q19_part}, join=q19_join, finish=q19_finish
)


# --- Q20: potential part promotion --------------------------------------------------------------


def q20_part(part: pl.LazyFrame) -> pl.LazyFrame:
    return part.filter(pl.col("p_name").str.starts_with("forest")).select("p_partkey")


def q20_lineitem(lineitem: pl.LazyFrame) -> pl.LazyFrame:
    return lineitem.filter(
        pl.col("l_shipdate").is_between(date(1994, 1, 1), date(1995, 1, 1), closed="left")
    ).select("l_partkey", "l_suppkey", "l_quantity")


def q20_nation(nation: pl.LazyFrame) -> pl.LazyFrame:
    return nation.filter(pl.col("n_name") == "CANADA").select("n_nationkey")


def q20_join(
    supplier: pl.LazyFrame,
    nation: pl.LazyFrame,
    partsupp: pl.LazyFrame,
    part: pl.LazyFrame,
    lineitem: pl.LazyFrame,
) -> pl.LazyFrame:
    """Canadian suppliers holding more than half of a forest part's 1994 shipments.

    An offer with no shipment has a null sum in SQL, which no quantity exceeds, so the inner
    join with the shipped sums is the correlated sub-query.
    """
    shipped = lineitem.group_by("l_partkey", "l_suppkey").agg(pl.col("l_quantity").sum())
    excess = (
        partsupp.join(part, left_on="ps_partkey", right_on="p_partkey", how="semi")
        .join(
            shipped,
            left_on=["ps_partkey", "ps_suppkey"],
            right_on=["l_partkey", "l_suppkey"],
        )
        .filter(pl.col("ps_availqty") > 0.5 * pl.col("l_quantity"))
    )
    return (
        supplier.join(nation, left_on="s_nationkey", right_on="n_nationkey")
        .join(excess, left_on="s_suppkey", right_on="ps_suppkey", how="semi")
        .select("s_name", "s_address")
    )


def q20_finish(suppliers: pl.LazyFrame) -> pl.LazyFrame:
    return suppliers.select("s_name", "s_address").sort("s_name")


Q20 = Query(
    20,
    filters={"part": q20_part, "lineitem": q20_lineitem, "nation": q20_nation},
    join=q20_join,
    finish=q20_finish,
)


# --- Q21: suppliers who kept orders waiting -----------------------------------------------------


def q21_orders(orders: pl.LazyFrame) -> pl.LazyFrame:
    return orders.filter(pl.col("o_orderstatus") == "F").select("o_orderkey")


def q21_nation(nation: pl.LazyFrame) -> pl.LazyFrame:
    return nation.filter(pl.col("n_name") == "SAUDI ARABIA").select("n_nationkey")


def q21_join(
    supplier: pl.LazyFrame, lineitem: pl.LazyFrame, orders: pl.LazyFrame, nation: pl.LazyFrame
) -> pl.LazyFrame:
    """Late lines of finished orders with several suppliers, where no other supplier was late.

    ``exists l2`` (another supplier on the order) is "the order has more than one supplier";
    ``not exists l3`` (another supplier was late) is "this supplier is the only late one".
    """
    late = pl.col("l_receiptdate") > pl.col("l_commitdate")
    lines = lineitem.select("l_orderkey", "l_suppkey", late=late)
    per_order = lines.group_by("l_orderkey").agg(
        suppliers=pl.col("l_suppkey").n_unique(),
        late_suppliers=pl.col("l_suppkey").filter(pl.col("late")).n_unique(),
    )
    waiting = (
        lines.filter(pl.col("late"))
        .join(orders, left_on="l_orderkey", right_on="o_orderkey", how="semi")
        .join(per_order, on="l_orderkey")
        .filter(pl.col("suppliers") > 1, pl.col("late_suppliers") == 1)
    )
    saudi = supplier.join(nation, left_on="s_nationkey", right_on="n_nationkey")
    return waiting.join(saudi, left_on="l_suppkey", right_on="s_suppkey").select("s_name")


def q21_finish(lines: pl.LazyFrame) -> pl.LazyFrame:
    return (
        lines.group_by("s_name")
        .agg(numwait=pl.len())
        .sort(["numwait", "s_name"], descending=[True, False])
        .head(100)
    )


Q21 = Query(
    21, filters={"orders": q21_orders, "nation": q21_nation}, join=q21_join, finish=q21_finish
)


# --- Q22: global sales opportunity --------------------------------------------------------------


def q22_codes() -> list[str]:
    return ["13", "31", "23", "29", "30", "18", "17"]


def q22_customer(customer: pl.LazyFrame) -> pl.LazyFrame:
    return (
        customer.with_columns(cntrycode=pl.col("c_phone").str.slice(0, 2))
        .filter(pl.col("cntrycode").is_in(q22_codes()))
        .select("c_custkey", "cntrycode", "c_acctbal")
    )


def q22_join(customer: pl.LazyFrame, orders: pl.LazyFrame) -> pl.LazyFrame:
    """Customers of those countries above their positive average balance, without orders."""
    average = customer.filter(pl.col("c_acctbal") > 0.0).select(pl.col("c_acctbal").mean())
    return (
        customer.join(average.select(average=pl.col("c_acctbal")), how="cross")
        .filter(pl.col("c_acctbal") > pl.col("average"))
        .join(orders, left_on="c_custkey", right_on="o_custkey", how="anti")
        .select("cntrycode", "c_acctbal")
    )


def q22_finish(customers: pl.LazyFrame) -> pl.LazyFrame:
    return (
        customers.group_by("cntrycode")
        .agg(numcust=pl.len(), totacctbal=pl.col("c_acctbal").sum())
        .sort("cntrycode")
    )


Q22 = Query(22, filters={"customer": q22_customer}, join=q22_join, finish=q22_finish)


QUERIES: dict[str, Query] = {
    q.name: q
    for q in (Q1, Q2, Q3, Q4, Q5, Q6, Q7, Q8, Q9, Q10, Q11, Q12, Q13, Q14, Q15, Q16, Q17, Q18,
              Q19, Q20, Q21, Q22)
}  # fmt: skip
