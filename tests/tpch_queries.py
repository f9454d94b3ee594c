"""The 22 TPC-H queries, written with riverbed's DataFrame API as a Polars user would write
them, with the substitution parameters of the TPC-H validation run, and each query's SQL text
(for DuckDB, the oracle of ``tests/test_tpch.py`` and a peer in ``bench/tpch.py``).

Each query is a function ``q(t, x)``: ``t`` gives the tables (``t.lineitem`` ...) as lazy
frames, ``x`` the expression API (``x.col``, ``x.lit``, ``x.when``, ``x.count()``, and
``x.agg_all(frame, ...)`` for an aggregation without keys). ``RIVERBED`` is riverbed's;
``polars_api()`` is Polars' (the same query text then runs on Polars: the benchmark uses it).

The data are the Parquet files of ``tpchgen-cli parquet`` (decimals as ``decimal128(15, 2)``,
dates as ``date32``): see :func:`generate`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from typing import Any, Callable

TABLES = ("region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem")


def generate(directory: str, scale: float) -> str:
    """Write the eight tables at ``scale`` into ``directory`` with ``tpchgen-cli`` (once: a
    marker file records a finished run) and return the directory."""
    marker = os.path.join(directory, f"_complete_sf{scale}")
    if os.path.exists(marker):
        return directory
    exe = shutil.which("tpchgen-cli") or os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    if not os.path.exists(exe):
        raise RuntimeError("tpchgen-cli is not installed: pip install tpchgen-cli (it is in riverbed's test extras)")
    os.makedirs(directory, exist_ok=True)
    subprocess.run([exe, "parquet", "-s", str(scale), "-o", directory, "--overwrite"], check=True,
                   stdout=subprocess.DEVNULL)
    open(marker, "w").close()
    return directory


class Tables:
    """The tables of one directory, read with ``read`` (``rb.read_parquet``, ``pl.scan_parquet``)."""

    def __init__(self, directory: str, read: Callable[[str], Any]):
        self._dir, self._read = directory, read

    def __getattr__(self, name: str) -> Any:
        if name not in TABLES:
            raise AttributeError(name)
        return self._read(os.path.join(self._dir, f"{name}.parquet"))


class Api:
    """The few names in which the query text differs between engines."""

    def __init__(self, col: Any, lit: Any, when: Any, count: Any, agg_all: Any, read: Any, collect: Any):
        self.col, self.lit, self.when, self.count = col, lit, when, count
        self.agg_all, self.read, self.collect = agg_all, read, collect


def _riverbed_api() -> Api:
    import riverbed as rb

    return Api(rb.col, rb.lit, rb.when, rb.count, lambda f, *aggs: f.group_by().agg(*aggs), rb.read_parquet,
               lambda f: f.collect(progress=False))


def polars_api() -> Api:
    import polars as pl

    return Api(pl.col, pl.lit, pl.when, pl.len, lambda f, *aggs: f.select(*aggs), pl.scan_parquet,
               lambda f: f.collect().to_arrow())


RIVERBED = _riverbed_api()

# -- the queries --------------------------------------------------------------------------


def q1(t: Tables, x: Api) -> Any:
    col = x.col
    disc_price = col("l_extendedprice") * (1 - col("l_discount"))
    return (t.lineitem.filter(col("l_shipdate") <= date(1998, 9, 2))   # date '1998-12-01' - 90 days
            .group_by("l_returnflag", "l_linestatus")
            .agg(col("l_quantity").sum().alias("sum_qty"),
                 col("l_extendedprice").sum().alias("sum_base_price"),
                 disc_price.sum().alias("sum_disc_price"),
                 (disc_price * (1 + col("l_tax"))).sum().alias("sum_charge"),
                 col("l_quantity").mean().alias("avg_qty"),
                 col("l_extendedprice").mean().alias("avg_price"),
                 col("l_discount").mean().alias("avg_disc"),
                 x.count().alias("count_order"))
            .sort("l_returnflag", "l_linestatus"))


def q2(t: Tables, x: Api) -> Any:
    col = x.col
    europe = (t.region.filter(col("r_name") == "EUROPE")
              .join(t.nation, left_on="r_regionkey", right_on="n_regionkey")
              .join(t.supplier, left_on="n_nationkey", right_on="s_nationkey")
              .join(t.partsupp, left_on="s_suppkey", right_on="ps_suppkey"))
    brass = (t.part.filter((col("p_size") == 15) & col("p_type").str.ends_with("BRASS"))
             .join(europe, left_on="p_partkey", right_on="ps_partkey"))
    cheapest = brass.group_by("p_partkey").agg(col("ps_supplycost").min().alias("min_cost"))
    return (brass.join(cheapest, on="p_partkey")
            .filter(col("ps_supplycost") == col("min_cost"))
            .select("s_acctbal", "s_name", "n_name", "p_partkey", "p_mfgr", "s_address", "s_phone", "s_comment")
            .sort("s_acctbal", "n_name", "s_name", "p_partkey", descending=[True, False, False, False])
            .limit(100))


def q3(t: Tables, x: Api) -> Any:
    col = x.col
    return (t.customer.filter(col("c_mktsegment") == "BUILDING")
            .join(t.orders.filter(col("o_orderdate") < date(1995, 3, 15)), left_on="c_custkey",
                  right_on="o_custkey")
            .join(t.lineitem.filter(col("l_shipdate") > date(1995, 3, 15)), left_on="o_orderkey",
                  right_on="l_orderkey")
            .group_by("o_orderkey", "o_orderdate", "o_shippriority")
            .agg((col("l_extendedprice") * (1 - col("l_discount"))).sum().alias("revenue"))
            .select(col("o_orderkey").alias("l_orderkey"), "revenue", "o_orderdate", "o_shippriority")
            .sort("revenue", "o_orderdate", descending=[True, False])
            .limit(10))


def q4(t: Tables, x: Api) -> Any:
    col = x.col
    late = t.lineitem.filter(col("l_commitdate") < col("l_receiptdate"))
    return (t.orders.filter(col("o_orderdate").is_between(date(1993, 7, 1), date(1993, 10, 1), closed="left"))
            .join(late, left_on="o_orderkey", right_on="l_orderkey", how="semi")
            .group_by("o_orderpriority")
            .agg(x.count().alias("order_count"))
            .sort("o_orderpriority"))


def q5(t: Tables, x: Api) -> Any:
    col = x.col
    return (t.region.filter(col("r_name") == "ASIA")
            .join(t.nation, left_on="r_regionkey", right_on="n_regionkey")
            .join(t.customer, left_on="n_nationkey", right_on="c_nationkey")
            .join(t.orders.filter(col("o_orderdate").is_between(date(1994, 1, 1), date(1995, 1, 1), closed="left")),
                  left_on="c_custkey", right_on="o_custkey")
            .join(t.lineitem, left_on="o_orderkey", right_on="l_orderkey")
            .join(t.supplier, left_on=["l_suppkey", "n_nationkey"], right_on=["s_suppkey", "s_nationkey"])
            .group_by("n_name")
            .agg((col("l_extendedprice") * (1 - col("l_discount"))).sum().alias("revenue"))
            .sort("revenue", descending=True))


def q6(t: Tables, x: Api) -> Any:
    col = x.col
    f = t.lineitem.filter(col("l_shipdate").is_between(date(1994, 1, 1), date(1995, 1, 1), closed="left")
                          & col("l_discount").is_between(Decimal("0.05"), Decimal("0.07"))
                          & (col("l_quantity") < 24))
    return x.agg_all(f, (col("l_extendedprice") * col("l_discount")).sum().alias("revenue"))


def q7(t: Tables, x: Api) -> Any:
    col = x.col
    pair = ["FRANCE", "GERMANY"]
    n1 = t.nation.filter(col("n_name").is_in(pair)).select(col("n_nationkey").alias("n1_key"),
                                                           col("n_name").alias("supp_nation"))
    n2 = t.nation.filter(col("n_name").is_in(pair)).select(col("n_nationkey").alias("n2_key"),
                                                           col("n_name").alias("cust_nation"))
    return (t.supplier.join(n1, left_on="s_nationkey", right_on="n1_key")
            .join(t.lineitem.filter(col("l_shipdate").is_between(date(1995, 1, 1), date(1996, 12, 31))),
                  left_on="s_suppkey", right_on="l_suppkey")
            .join(t.orders, left_on="l_orderkey", right_on="o_orderkey")
            .join(t.customer, left_on="o_custkey", right_on="c_custkey")
            .join(n2, left_on="c_nationkey", right_on="n2_key")
            .filter(((col("supp_nation") == "FRANCE") & (col("cust_nation") == "GERMANY"))
                    | ((col("supp_nation") == "GERMANY") & (col("cust_nation") == "FRANCE")))
            .group_by("supp_nation", "cust_nation", col("l_shipdate").dt.year().alias("l_year"))
            .agg((col("l_extendedprice") * (1 - col("l_discount"))).sum().alias("revenue"))
            .sort("supp_nation", "cust_nation", "l_year"))


def q8(t: Tables, x: Api) -> Any:
    col = x.col
    america = (t.region.filter(col("r_name") == "AMERICA")
               .join(t.nation, left_on="r_regionkey", right_on="n_regionkey").select("n_nationkey"))
    supp_nation = t.nation.select(col("n_nationkey").alias("n2_key"), col("n_name").alias("nation"))
    volume = col("l_extendedprice") * (1 - col("l_discount"))
    return (t.part.filter(col("p_type") == "ECONOMY ANODIZED STEEL")
            .join(t.lineitem, left_on="p_partkey", right_on="l_partkey")
            .join(t.supplier, left_on="l_suppkey", right_on="s_suppkey")
            .join(t.orders.filter(col("o_orderdate").is_between(date(1995, 1, 1), date(1996, 12, 31))),
                  left_on="l_orderkey", right_on="o_orderkey")
            .join(t.customer, left_on="o_custkey", right_on="c_custkey")
            .join(america, left_on="c_nationkey", right_on="n_nationkey", how="semi")
            .join(supp_nation, left_on="s_nationkey", right_on="n2_key")
            .group_by(col("o_orderdate").dt.year().alias("o_year"))
            .agg(x.when(col("nation") == "BRAZIL").then(volume).otherwise(0).sum().alias("brazil"),
                 volume.sum().alias("total"))
            .select("o_year", (col("brazil") / col("total")).alias("mkt_share"))
            .sort("o_year"))


def q9(t: Tables, x: Api) -> Any:
    col = x.col
    amount = col("l_extendedprice") * (1 - col("l_discount")) - col("ps_supplycost") * col("l_quantity")
    return (t.part.filter(col("p_name").str.contains("green", literal=True))
            .join(t.lineitem, left_on="p_partkey", right_on="l_partkey")
            .join(t.partsupp, left_on=["l_suppkey", "p_partkey"], right_on=["ps_suppkey", "ps_partkey"])
            .join(t.supplier, left_on="l_suppkey", right_on="s_suppkey")
            .join(t.orders, left_on="l_orderkey", right_on="o_orderkey")
            .join(t.nation, left_on="s_nationkey", right_on="n_nationkey")
            .group_by(col("n_name").alias("nation"), col("o_orderdate").dt.year().alias("o_year"))
            .agg(amount.sum().alias("sum_profit"))
            .sort("nation", "o_year", descending=[False, True]))


def q10(t: Tables, x: Api) -> Any:
    col = x.col
    return (t.orders.filter(col("o_orderdate").is_between(date(1993, 10, 1), date(1994, 1, 1), closed="left"))
            .join(t.lineitem.filter(col("l_returnflag") == "R"), left_on="o_orderkey", right_on="l_orderkey")
            .join(t.customer, left_on="o_custkey", right_on="c_custkey")
            .join(t.nation, left_on="c_nationkey", right_on="n_nationkey")
            .group_by(col("o_custkey").alias("c_custkey"), "c_name", "c_acctbal", "c_phone", "n_name",
                      "c_address", "c_comment")
            .agg((col("l_extendedprice") * (1 - col("l_discount"))).sum().alias("revenue"))
            .select("c_custkey", "c_name", "revenue", "c_acctbal", "n_name", "c_address", "c_phone", "c_comment")
            .sort("revenue", descending=True)
            .limit(20))


def q11(t: Tables, x: Api) -> Any:
    col = x.col
    fraction = Decimal("0.0001")  # the validation run's (at scale factor 1; the same at every scale here)
    german = (t.partsupp.join(t.supplier, left_on="ps_suppkey", right_on="s_suppkey")
              .join(t.nation.filter(col("n_name") == "GERMANY"), left_on="s_nationkey", right_on="n_nationkey",
                    how="semi")
              .with_columns((col("ps_supplycost") * col("ps_availqty")).alias("value")))
    threshold = x.agg_all(german, col("value").sum().alias("total")).select(
        (col("total") * fraction).alias("threshold"))
    return (german.group_by("ps_partkey").agg(col("value").sum().alias("value"))
            .join(threshold, how="cross")
            .filter(col("value") > col("threshold"))
            .select("ps_partkey", "value")
            .sort("value", descending=True))


def q12(t: Tables, x: Api) -> Any:
    col = x.col
    urgent = col("o_orderpriority").is_in(["1-URGENT", "2-HIGH"])
    return (t.orders
            .join(t.lineitem.filter(col("l_shipmode").is_in(["MAIL", "SHIP"])
                                    & (col("l_commitdate") < col("l_receiptdate"))
                                    & (col("l_shipdate") < col("l_commitdate"))
                                    & col("l_receiptdate").is_between(date(1994, 1, 1), date(1995, 1, 1),
                                                                      closed="left")),
                  left_on="o_orderkey", right_on="l_orderkey")
            .group_by("l_shipmode")
            .agg(x.when(urgent).then(1).otherwise(0).sum().alias("high_line_count"),
                 x.when(~urgent).then(1).otherwise(0).sum().alias("low_line_count"))
            .sort("l_shipmode"))


def q13(t: Tables, x: Api) -> Any:
    col = x.col
    return (t.customer
            .join(t.orders.filter(~col("o_comment").str.contains("special.*requests")),
                  left_on="c_custkey", right_on="o_custkey", how="left")
            .group_by("c_custkey").agg(col("o_orderkey").count().alias("c_count"))
            .group_by("c_count").agg(x.count().alias("custdist"))
            .sort("custdist", "c_count", descending=True))


def q14(t: Tables, x: Api) -> Any:
    col = x.col
    volume = col("l_extendedprice") * (1 - col("l_discount"))
    f = (t.lineitem.filter(col("l_shipdate").is_between(date(1995, 9, 1), date(1995, 10, 1), closed="left"))
         .join(t.part, left_on="l_partkey", right_on="p_partkey"))
    sums = x.agg_all(f, x.when(col("p_type").str.starts_with("PROMO")).then(volume).otherwise(0).sum().alias("promo"),
                     volume.sum().alias("total"))
    return sums.select((col("promo") * Decimal("100.00") / col("total")).alias("promo_revenue"))


def q15(t: Tables, x: Api) -> Any:
    col = x.col
    revenue = (t.lineitem.filter(col("l_shipdate").is_between(date(1996, 1, 1), date(1996, 4, 1), closed="left"))
               .group_by(col("l_suppkey").alias("supplier_no"))
               .agg((col("l_extendedprice") * (1 - col("l_discount"))).sum().alias("total_revenue")))
    top = x.agg_all(revenue, col("total_revenue").max().alias("max_revenue"))
    return (t.supplier.join(revenue, left_on="s_suppkey", right_on="supplier_no")
            .join(top, left_on="total_revenue", right_on="max_revenue", how="semi")
            .select("s_suppkey", "s_name", "s_address", "s_phone", "total_revenue")
            .sort("s_suppkey"))


def q16(t: Tables, x: Api) -> Any:
    col = x.col
    complainers = t.supplier.filter(col("s_comment").str.contains("Customer.*Complaints"))
    return (t.part.filter((col("p_brand") != "Brand#45")
                          & ~col("p_type").str.starts_with("MEDIUM POLISHED")
                          & col("p_size").is_in([49, 14, 23, 45, 19, 3, 36, 9]))
            .join(t.partsupp, left_on="p_partkey", right_on="ps_partkey")
            .join(complainers, left_on="ps_suppkey", right_on="s_suppkey", how="anti")
            .group_by("p_brand", "p_type", "p_size")
            .agg(col("ps_suppkey").n_unique().alias("supplier_cnt"))
            .sort("supplier_cnt", "p_brand", "p_type", "p_size", descending=[True, False, False, False]))


def q17(t: Tables, x: Api) -> Any:
    col = x.col
    lines = (t.part.filter((col("p_brand") == "Brand#23") & (col("p_container") == "MED BOX"))
             .join(t.lineitem, left_on="p_partkey", right_on="l_partkey"))
    avg_qty = lines.group_by("p_partkey").agg(col("l_quantity").mean().alias("avg_quantity"))
    small = lines.join(avg_qty, on="p_partkey").filter(col("l_quantity") < 0.2 * col("avg_quantity"))
    return x.agg_all(small, col("l_extendedprice").sum().alias("total")).select(
        (col("total") / 7.0).alias("avg_yearly"))


def q18(t: Tables, x: Api) -> Any:
    col = x.col
    big = (t.lineitem.group_by("l_orderkey").agg(col("l_quantity").sum().alias("qty"))
           .filter(col("qty") > 300))
    return (t.orders.join(big, left_on="o_orderkey", right_on="l_orderkey", how="semi")
            .join(t.customer, left_on="o_custkey", right_on="c_custkey")
            .join(t.lineitem, left_on="o_orderkey", right_on="l_orderkey")
            .group_by("c_name", col("o_custkey").alias("c_custkey"), "o_orderkey", "o_orderdate", "o_totalprice")
            .agg(col("l_quantity").sum().alias("sum_quantity"))
            .sort("o_totalprice", "o_orderdate", descending=[True, False])
            .limit(100))


def q19(t: Tables, x: Api) -> Any:
    col = x.col

    def kind(brand: str, containers: list[str], qty: int, size: int) -> Any:
        return ((col("p_brand") == brand) & col("p_container").is_in(containers)
                & col("l_quantity").is_between(qty, qty + 10) & col("p_size").is_between(1, size))

    f = (t.lineitem.filter(col("l_shipmode").is_in(["AIR", "AIR REG"])
                           & (col("l_shipinstruct") == "DELIVER IN PERSON"))
         .join(t.part, left_on="l_partkey", right_on="p_partkey")
         .filter(kind("Brand#12", ["SM CASE", "SM BOX", "SM PACK", "SM PKG"], 1, 5)
                 | kind("Brand#23", ["MED BAG", "MED BOX", "MED PKG", "MED PACK"], 10, 10)
                 | kind("Brand#34", ["LG CASE", "LG BOX", "LG PACK", "LG PKG"], 20, 15)))
    return x.agg_all(f, (col("l_extendedprice") * (1 - col("l_discount"))).sum().alias("revenue"))


def q20(t: Tables, x: Api) -> Any:
    col = x.col
    shipped = (t.lineitem.filter(col("l_shipdate").is_between(date(1994, 1, 1), date(1995, 1, 1), closed="left"))
               .group_by("l_partkey", "l_suppkey")
               .agg(col("l_quantity").sum().alias("qty")))
    stock = (t.partsupp
             .join(t.part.filter(col("p_name").str.starts_with("forest")), left_on="ps_partkey",
                   right_on="p_partkey", how="semi")
             .join(shipped, left_on=["ps_partkey", "ps_suppkey"], right_on=["l_partkey", "l_suppkey"])
             .filter(col("ps_availqty") > Decimal("0.5") * col("qty")))
    return (t.supplier
            .join(t.nation.filter(col("n_name") == "CANADA"), left_on="s_nationkey", right_on="n_nationkey",
                  how="semi")
            .join(stock, left_on="s_suppkey", right_on="ps_suppkey", how="semi")
            .select("s_name", "s_address")
            .sort("s_name"))


def q21(t: Tables, x: Api) -> Any:
    col = x.col
    # l1 is late; another supplier has a line of the same order (exists), and no other
    # supplier of the order is late (not exists): the order has several suppliers, and its
    # late lines all have one.
    several = (t.lineitem.group_by("l_orderkey").agg(col("l_suppkey").n_unique().alias("n_supp"))
               .filter(col("n_supp") > 1))
    late = (t.lineitem.filter(col("l_receiptdate") > col("l_commitdate"))
            .join(several, on="l_orderkey", how="semi"))
    one_late = (late.group_by("l_orderkey").agg(col("l_suppkey").n_unique().alias("n_late"))
                .filter(col("n_late") == 1))
    return (late.join(one_late, on="l_orderkey", how="semi")
            .join(t.orders.filter(col("o_orderstatus") == "F"), left_on="l_orderkey", right_on="o_orderkey",
                  how="semi")
            .join(t.supplier, left_on="l_suppkey", right_on="s_suppkey")
            .join(t.nation.filter(col("n_name") == "SAUDI ARABIA"), left_on="s_nationkey", right_on="n_nationkey",
                  how="semi")
            .group_by("s_name").agg(x.count().alias("numwait"))
            .sort("numwait", "s_name", descending=[True, False])
            .limit(100))


def q22(t: Tables, x: Api) -> Any:
    col = x.col
    codes = ["13", "31", "23", "29", "30", "18", "17"]
    cust = (t.customer.with_columns(col("c_phone").str.slice(0, 2).alias("cntrycode"))
            .filter(col("cntrycode").is_in(codes)))
    avg_bal = x.agg_all(cust.filter(col("c_acctbal") > Decimal("0.00")),
                        col("c_acctbal").mean().alias("avg_acctbal"))
    return (cust.join(avg_bal, how="cross")
            .filter(col("c_acctbal") > col("avg_acctbal"))
            .join(t.orders, left_on="c_custkey", right_on="o_custkey", how="anti")
            .group_by("cntrycode")
            .agg(x.count().alias("numcust"), col("c_acctbal").sum().alias("totacctbal"))
            .sort("cntrycode"))


QUERIES: dict[int, Callable[..., Any]] = {i: globals()[f"q{i}"] for i in range(1, 23)}


def query(n: int, t: Tables, x: Api) -> Any:
    """Query ``n`` over ``t``, as a lazy frame of ``x``'s engine."""
    return QUERIES[n](t, x)


# -- the SQL text (DuckDB), validation-run parameters -------------------------------------
# Each names the tables as views (see duckdb_connect).

SQL: dict[int, str] = {
    1: """
select l_returnflag, l_linestatus, sum(l_quantity) as sum_qty, sum(l_extendedprice) as sum_base_price,
       sum(l_extendedprice * (1 - l_discount)) as sum_disc_price,
       sum(l_extendedprice * (1 - l_discount) * (1 + l_tax)) as sum_charge,
       avg(l_quantity) as avg_qty, avg(l_extendedprice) as avg_price, avg(l_discount) as avg_disc,
       count(*) as count_order
from lineitem
where l_shipdate <= date '1998-12-01' - interval '90' day
group by l_returnflag, l_linestatus
order by l_returnflag, l_linestatus""",
    2: """
select s_acctbal, s_name, n_name, p_partkey, p_mfgr, s_address, s_phone, s_comment
from part, supplier, partsupp, nation, region
where p_partkey = ps_partkey and s_suppkey = ps_suppkey and p_size = 15 and p_type like '%BRASS'
  and s_nationkey = n_nationkey and n_regionkey = r_regionkey and r_name = 'EUROPE'
  and ps_supplycost = (select min(ps_supplycost) from partsupp, supplier, nation, region
                       where p_partkey = ps_partkey and s_suppkey = ps_suppkey and s_nationkey = n_nationkey
                         and n_regionkey = r_regionkey and r_name = 'EUROPE')
order by s_acctbal desc, n_name, s_name, p_partkey
limit 100""",
    3: """
select l_orderkey, sum(l_extendedprice * (1 - l_discount)) as revenue, o_orderdate, o_shippriority
from customer, orders, lineitem
where c_mktsegment = 'BUILDING' and c_custkey = o_custkey and l_orderkey = o_orderkey
  and o_orderdate < date '1995-03-15' and l_shipdate > date '1995-03-15'
group by l_orderkey, o_orderdate, o_shippriority
order by revenue desc, o_orderdate
limit 10""",
    4: """
select o_orderpriority, count(*) as order_count
from orders
where o_orderdate >= date '1993-07-01' and o_orderdate < date '1993-07-01' + interval '3' month
  and exists (select * from lineitem where l_orderkey = o_orderkey and l_commitdate < l_receiptdate)
group by o_orderpriority
order by o_orderpriority""",
    5: """
select n_name, sum(l_extendedprice * (1 - l_discount)) as revenue
from customer, orders, lineitem, supplier, nation, region
where c_custkey = o_custkey and l_orderkey = o_orderkey and l_suppkey = s_suppkey
  and c_nationkey = s_nationkey and s_nationkey = n_nationkey and n_regionkey = r_regionkey
  and r_name = 'ASIA' and o_orderdate >= date '1994-01-01'
  and o_orderdate < date '1994-01-01' + interval '1' year
group by n_name
order by revenue desc""",
    6: """
select sum(l_extendedprice * l_discount) as revenue
from lineitem
where l_shipdate >= date '1994-01-01' and l_shipdate < date '1994-01-01' + interval '1' year
  and l_discount between 0.06 - 0.01 and 0.06 + 0.01 and l_quantity < 24""",
    7: """
select supp_nation, cust_nation, l_year, sum(volume) as revenue
from (select n1.n_name as supp_nation, n2.n_name as cust_nation, extract(year from l_shipdate) as l_year,
             l_extendedprice * (1 - l_discount) as volume
      from supplier, lineitem, orders, customer, nation n1, nation n2
      where s_suppkey = l_suppkey and o_orderkey = l_orderkey and c_custkey = o_custkey
        and s_nationkey = n1.n_nationkey and c_nationkey = n2.n_nationkey
        and ((n1.n_name = 'FRANCE' and n2.n_name = 'GERMANY') or (n1.n_name = 'GERMANY' and n2.n_name = 'FRANCE'))
        and l_shipdate between date '1995-01-01' and date '1996-12-31') as shipping
group by supp_nation, cust_nation, l_year
order by supp_nation, cust_nation, l_year""",
    8: """
select o_year, sum(case when nation = 'BRAZIL' then volume else 0 end) / sum(volume) as mkt_share
from (select extract(year from o_orderdate) as o_year, l_extendedprice * (1 - l_discount) as volume,
             n2.n_name as nation
      from part, supplier, lineitem, orders, customer, nation n1, nation n2, region
      where p_partkey = l_partkey and s_suppkey = l_suppkey and l_orderkey = o_orderkey
        and o_custkey = c_custkey and c_nationkey = n1.n_nationkey and n1.n_regionkey = r_regionkey
        and r_name = 'AMERICA' and s_nationkey = n2.n_nationkey
        and o_orderdate between date '1995-01-01' and date '1996-12-31'
        and p_type = 'ECONOMY ANODIZED STEEL') as all_nations
group by o_year
order by o_year""",
    9: """
select nation, o_year, sum(amount) as sum_profit
from (select n_name as nation, extract(year from o_orderdate) as o_year,
             l_extendedprice * (1 - l_discount) - ps_supplycost * l_quantity as amount
      from part, supplier, lineitem, partsupp, orders, nation
      where s_suppkey = l_suppkey and ps_suppkey = l_suppkey and ps_partkey = l_partkey
        and p_partkey = l_partkey and o_orderkey = l_orderkey and s_nationkey = n_nationkey
        and p_name like '%green%') as profit
group by nation, o_year
order by nation, o_year desc""",
    10: """
select c_custkey, c_name, sum(l_extendedprice * (1 - l_discount)) as revenue, c_acctbal, n_name, c_address,
       c_phone, c_comment
from customer, orders, lineitem, nation
where c_custkey = o_custkey and l_orderkey = o_orderkey and o_orderdate >= date '1993-10-01'
  and o_orderdate < date '1993-10-01' + interval '3' month and l_returnflag = 'R'
  and c_nationkey = n_nationkey
group by c_custkey, c_name, c_acctbal, c_phone, n_name, c_address, c_comment
order by revenue desc
limit 20""",
    11: """
select ps_partkey, sum(ps_supplycost * ps_availqty) as value
from partsupp, supplier, nation
where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY'
group by ps_partkey
having sum(ps_supplycost * ps_availqty) > (
    select sum(ps_supplycost * ps_availqty) * 0.0001
    from partsupp, supplier, nation
    where ps_suppkey = s_suppkey and s_nationkey = n_nationkey and n_name = 'GERMANY')
order by value desc""",
    12: """
select l_shipmode,
       sum(case when o_orderpriority = '1-URGENT' or o_orderpriority = '2-HIGH' then 1 else 0 end)
           as high_line_count,
       sum(case when o_orderpriority <> '1-URGENT' and o_orderpriority <> '2-HIGH' then 1 else 0 end)
           as low_line_count
from orders, lineitem
where o_orderkey = l_orderkey and l_shipmode in ('MAIL', 'SHIP') and l_commitdate < l_receiptdate
  and l_shipdate < l_commitdate and l_receiptdate >= date '1994-01-01'
  and l_receiptdate < date '1994-01-01' + interval '1' year
group by l_shipmode
order by l_shipmode""",
    13: """
select c_count, count(*) as custdist
from (select c_custkey, count(o_orderkey) as c_count
      from customer left outer join orders on c_custkey = o_custkey and o_comment not like '%special%requests%'
      group by c_custkey) as c_orders
group by c_count
order by custdist desc, c_count desc""",
    14: """
select 100.00 * sum(case when p_type like 'PROMO%' then l_extendedprice * (1 - l_discount) else 0 end)
       / sum(l_extendedprice * (1 - l_discount)) as promo_revenue
from lineitem, part
where l_partkey = p_partkey and l_shipdate >= date '1995-09-01'
  and l_shipdate < date '1995-09-01' + interval '1' month""",
    15: """
with revenue as (
    select l_suppkey as supplier_no, sum(l_extendedprice * (1 - l_discount)) as total_revenue
    from lineitem
    where l_shipdate >= date '1996-01-01' and l_shipdate < date '1996-01-01' + interval '3' month
    group by l_suppkey)
select s_suppkey, s_name, s_address, s_phone, total_revenue
from supplier, revenue
where s_suppkey = supplier_no and total_revenue = (select max(total_revenue) from revenue)
order by s_suppkey""",
    16: """
select p_brand, p_type, p_size, count(distinct ps_suppkey) as supplier_cnt
from partsupp, part
where p_partkey = ps_partkey and p_brand <> 'Brand#45' and p_type not like 'MEDIUM POLISHED%'
  and p_size in (49, 14, 23, 45, 19, 3, 36, 9)
  and ps_suppkey not in (select s_suppkey from supplier where s_comment like '%Customer%Complaints%')
group by p_brand, p_type, p_size
order by supplier_cnt desc, p_brand, p_type, p_size""",
    17: """
select sum(l_extendedprice) / 7.0 as avg_yearly
from lineitem, part
where p_partkey = l_partkey and p_brand = 'Brand#23' and p_container = 'MED BOX'
  and l_quantity < (select 0.2 * avg(l_quantity) from lineitem where l_partkey = p_partkey)""",
    18: """
select c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice, sum(l_quantity)
from customer, orders, lineitem
where o_orderkey in (select l_orderkey from lineitem group by l_orderkey having sum(l_quantity) > 300)
  and c_custkey = o_custkey and o_orderkey = l_orderkey
group by c_name, c_custkey, o_orderkey, o_orderdate, o_totalprice
order by o_totalprice desc, o_orderdate
limit 100""",
    19: """
select sum(l_extendedprice * (1 - l_discount)) as revenue
from lineitem, part
where (p_partkey = l_partkey and p_brand = 'Brand#12'
       and p_container in ('SM CASE', 'SM BOX', 'SM PACK', 'SM PKG') and l_quantity >= 1
       and l_quantity <= 1 + 10 and p_size between 1 and 5 and l_shipmode in ('AIR', 'AIR REG')
       and l_shipinstruct = 'DELIVER IN PERSON')
   or (p_partkey = l_partkey and p_brand = 'Brand#23'
       and p_container in ('MED BAG', 'MED BOX', 'MED PKG', 'MED PACK') and l_quantity >= 10
       and l_quantity <= 10 + 10 and p_size between 1 and 10 and l_shipmode in ('AIR', 'AIR REG')
       and l_shipinstruct = 'DELIVER IN PERSON')
   or (p_partkey = l_partkey and p_brand = 'Brand#34'
       and p_container in ('LG CASE', 'LG BOX', 'LG PACK', 'LG PKG') and l_quantity >= 20
       and l_quantity <= 20 + 10 and p_size between 1 and 15 and l_shipmode in ('AIR', 'AIR REG')
       and l_shipinstruct = 'DELIVER IN PERSON')""",
    20: """
select s_name, s_address
from supplier, nation
where s_suppkey in (
        select ps_suppkey from partsupp
        where ps_partkey in (select p_partkey from part where p_name like 'forest%')
          and ps_availqty > (select 0.5 * sum(l_quantity) from lineitem
                             where l_partkey = ps_partkey and l_suppkey = ps_suppkey
                               and l_shipdate >= date '1994-01-01'
                               and l_shipdate < date '1994-01-01' + interval '1' year))
  and s_nationkey = n_nationkey and n_name = 'CANADA'
order by s_name""",
    21: """
select s_name, count(*) as numwait
from supplier, lineitem l1, orders, nation
where s_suppkey = l1.l_suppkey and o_orderkey = l1.l_orderkey and o_orderstatus = 'F'
  and l1.l_receiptdate > l1.l_commitdate
  and exists (select * from lineitem l2 where l2.l_orderkey = l1.l_orderkey and l2.l_suppkey <> l1.l_suppkey)
  and not exists (select * from lineitem l3 where l3.l_orderkey = l1.l_orderkey
                  and l3.l_suppkey <> l1.l_suppkey and l3.l_receiptdate > l3.l_commitdate)
  and s_nationkey = n_nationkey and n_name = 'SAUDI ARABIA'
group by s_name
order by numwait desc, s_name
limit 100""",
    22: """
select cntrycode, count(*) as numcust, sum(c_acctbal) as totacctbal
from (select substring(c_phone from 1 for 2) as cntrycode, c_acctbal
      from customer
      where substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17')
        and c_acctbal > (select avg(c_acctbal) from customer
                         where c_acctbal > 0.00
                           and substring(c_phone from 1 for 2) in ('13', '31', '23', '29', '30', '18', '17'))
        and not exists (select * from orders where o_custkey = c_custkey)) as custsale
group by cntrycode
order by cntrycode""",
}


def sql(n: int) -> str:
    """The SQL of query ``n``."""
    return SQL[n]


def duckdb_connect(directory: str) -> Any:
    """A DuckDB connection with a view per table over the Parquet files of ``directory``."""
    import duckdb

    con = duckdb.connect()
    for name in TABLES:
        path = os.path.join(directory, f"{name}.parquet").replace("'", "''")
        con.execute(f"create view {name} as select * from read_parquet('{path}')")
    return con
