"""End-to-end tests of window functions over partitions (``expr.over(partition_by,
order_by=...)``) on bounded input.

Oracles: Polars, with the same expressions over the same table (rows in input order), and
DuckDB's window functions (row_number, rank, lag/lead, sum over a partition) for the SQL
ones.
"""

from __future__ import annotations

import functools
import math
import random

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import riverbed as rb
from conftest import values_equal
from riverbed import col

N = 3000


@functools.cache
def table(n: int = N, seed: int = 5) -> pa.Table:
    rng = random.Random(seed)

    def maybe(v, p=0.1):
        return None if rng.random() < p else v

    order = list(range(n))
    rng.shuffle(order)  # a unique order_by column: no ties to break
    return pa.table({
        "k": pa.array([maybe(rng.randint(0, 25), 0.03) for _ in range(n)], pa.int64()),
        "t": pa.array(order, pa.int64()),
        "x": pa.array([maybe(rng.randint(-50, 50)) for _ in range(n)], pa.int64()),
        "f": pa.array([maybe(math.nan if rng.random() < 0.02 else round(rng.uniform(-10, 10), 2))
                       for _ in range(n)], pa.float64()),
        "i32": pa.array([rng.randint(-100, 100) for _ in range(n)], pa.int32()),
    })


# (name, riverbed expression, Polars expression)
CASES = [
    ("cum_sum", col("x").cum_sum().over("k", order_by="t"), pl.col("x").cum_sum().over("k", order_by="t")),
    ("cum_sum_f", col("f").cum_sum().over("k", order_by="t"), pl.col("f").cum_sum().over("k", order_by="t")),
    ("cum_min", col("x").cum_min().over("k", order_by="t"), pl.col("x").cum_min().over("k", order_by="t")),
    ("cum_max_i32", col("i32").cum_max().over("k", order_by="t"), pl.col("i32").cum_max().over("k", order_by="t")),
    ("cum_count", col("x").cum_count().over("k", order_by="t"), pl.col("x").cum_count().over("k", order_by="t")),
    ("cum_sum_desc", col("x").cum_sum().over("k", order_by="t", descending=True),
     pl.col("x").cum_sum().over("k", order_by="t", descending=True)),
    ("cum_sum_input_order", col("x").cum_sum().over("k"), pl.col("x").cum_sum().over("k")),
    ("lag", col("x").shift().over("k", order_by="t"), pl.col("x").shift().over("k", order_by="t")),
    ("lead2", col("f").shift(-2).over("k", order_by="t"), pl.col("f").shift(-2).over("k", order_by="t")),
    ("row_number", rb.row_number().over("k", order_by="t"), pl.int_range(1, pl.len() + 1).over("k", order_by="t")),
    *[(f"rank_{m}", col("x").rank(m).over("k"), pl.col("x").rank(m).over("k"))
      for m in ["average", "min", "max", "dense"]],
    ("rank_ordinal", col("x").rank("ordinal").over("k", order_by="t"),
     pl.col("x").rank("ordinal").over("k", order_by="t")),
    ("rank_desc", col("i32").rank("min", descending=True).over("k"),
     pl.col("i32").rank("min", descending=True).over("k")),
    ("rank_f", col("f").rank("dense").over("k"), pl.col("f").rank("dense").over("k")),
    ("rolling_sum", col("x").rolling_sum(3).over("k", order_by="t"),
     pl.col("x").rolling_sum(3).over("k", order_by="t")),
    ("rolling_mean", col("f").rolling_mean(4, min_samples=2).over("k", order_by="t"),
     pl.col("f").rolling_mean(4, min_samples=2).over("k", order_by="t")),
    ("rolling_min", col("x").rolling_min(5, min_samples=1).over("k", order_by="t"),
     pl.col("x").rolling_min(5, min_samples=1).over("k", order_by="t")),
    ("rolling_max", col("i32").rolling_max(2).over("k", order_by="t"),
     pl.col("i32").rolling_max(2).over("k", order_by="t")),
    ("sum_over", col("x").sum().over("k"), pl.col("x").sum().over("k")),
    ("mean_over", col("f").mean().over("k"), pl.col("f").mean().over("k")),
    ("std_over", col("x").std().over("k"), pl.col("x").std().over("k")),
    ("first_over", col("x").first().over("k", order_by="t"), pl.col("x").drop_nulls().first().over("k", order_by="t")),
    ("max_global", col("x").max().over(), pl.col("x").max()),
    ("two_keys", col("x").cum_sum().over("k", col("i32") % 3, order_by="t"),
     pl.col("x").cum_sum().over("k", pl.col("i32") % 3, order_by="t")),
]


def polars_frame(t: pa.Table) -> pl.DataFrame:
    df = pl.from_arrow(t)
    assert isinstance(df, pl.DataFrame)
    return df.with_columns([p.alias(name) for name, _, p in CASES])


def compare(got: pa.Table, want: pl.DataFrame, names: list[str]) -> None:
    bad = []
    for name in names:
        g, w = got[name].to_pylist(), want[name].to_list()
        assert len(g) == len(w)
        for i, (a, e) in enumerate(zip(g, w)):
            if name in ("sum_over",) and e == 0 and a is None:
                continue  # Polars sums a group of nulls to 0, riverbed (as SQL) to null
            if isinstance(a, float) and isinstance(e, float) and abs(a - e) < 1e-9:
                continue
            if not values_equal(a, float(e) if isinstance(a, float) and isinstance(e, int) else e, 1e-9):
                bad.append((name, i, a, e))
    assert not bad, f"{len(bad)} mismatches, first (column, row, got, polars): {bad[:8]}"


def test_window_functions_against_polars(scan):
    t = table()
    res = scan(t).with_columns([r.alias(name) for name, r, _ in CASES]).collect()
    assert res.column_names == t.column_names + [name for name, _, _ in CASES]
    for c in t.column_names:  # rows in input order, their columns unchanged
        assert all(values_equal(a, b) for a, b in zip(res[c].to_pylist(), t[c].to_pylist(), strict=True)), c
    assert res.schema.field("cum_sum").type == pa.int64()
    assert res.schema.field("cum_max_i32").type == pa.int32()
    assert res.schema.field("rank_average").type == pa.float64()
    compare(res, polars_frame(t), [name for name, _, _ in CASES])


def test_select_with_expressions_of_window_functions(env):
    t = table()
    res = env.from_arrow(t).select(
        "k", (col("x") - col("x").mean().over("k")).alias("centered"),
        (col("x").shift().over("k", order_by="t") + 1).alias("lag1"),
        col("x").cum_sum().over("k", order_by="t"),
    ).collect()
    want = pl.from_arrow(t).select(
        "k", (pl.col("x") - pl.col("x").mean().over("k")).alias("centered"),
        (pl.col("x").shift().over("k", order_by="t") + 1).alias("lag1"),
        pl.col("x").cum_sum().over("k", order_by="t"))
    assert res.column_names == ["k", "centered", "lag1", "x"]
    compare(res, want, ["centered", "lag1", "x"])


def test_sql_window_functions_against_duckdb(env):
    t = table()
    res = env.from_arrow(t).with_columns(
        rb.row_number().over("k", order_by="t").alias("rn"),
        col("x").rank("min").over("k").alias("rk"),
        col("x").shift().over("k", order_by="t").alias("lag"),
        col("x").shift(-1).over("k", order_by="t").alias("lead"),
        col("x").sum().over("k").alias("s"),
    ).collect()
    con = duckdb.connect()
    con.register("t", t.append_column("pos", pa.array(range(t.num_rows), pa.int64())))
    want = con.execute("""
        select row_number() over (partition by k order by t) as rn,
               case when x is null then null else rank() over (partition by k, x is null order by x) end as rk,
               lag(x) over (partition by k order by t) as lag,
               lead(x) over (partition by k order by t) as lead,
               sum(x) over (partition by k) as s
        from t order by pos""").fetchall()
    for name, j in [("rn", 0), ("rk", 1), ("lag", 2), ("lead", 3), ("s", 4)]:
        assert res[name].to_pylist() == [int(r[j]) if r[j] is not None else None for r in want], name


def test_empty_input(env):
    t = table().slice(0, 0)
    res = env.from_arrow(t).with_columns(col("x").cum_sum().over("k", order_by="t").alias("c")).collect()
    assert res.num_rows == 0 and res.column_names == t.column_names + ["c"]


def test_errors():
    t = table().slice(0, 10)
    with pytest.raises(rb.PlanError, match="is a window function: use it with .over"):
        rb.from_arrow(t).with_columns(col("x").cum_sum()).collect()
    with pytest.raises(rb.PlanError, match="only allowed in select"):
        rb.from_arrow(t).filter(col("x").cum_sum().over("k") > 0).collect()
    gen = rb.datagen({"k": rb.Int64, "x": rb.Int64})
    with pytest.raises(rb.PlanError, match="window function over.* needs a bounded input"):
        _ = gen.with_columns(col("x").cum_sum().over("k")).schema
    with pytest.raises(rb.TypeMismatchError, match="numeric"):
        rb.from_pydict({"s": ["a"]}).with_columns(col("s").cum_sum().over()).collect()
    with pytest.raises(ValueError, match="window_size"):
        col("x").rolling_sum(0)


def test_median_and_quantile_over_large_partitions_against_polars():
    # Every row of a partition gets its partition's median: each partition's values are
    # sorted once (once per row, 300,000 rows in 3 partitions took minutes).
    rng = random.Random(3)
    n = 300_000
    t = pa.table({"k": pa.array([rng.randrange(3) for _ in range(n)], pa.int64()),
                  "x": pa.array([None if rng.random() < 0.05 else rng.randrange(-1000, 1000) for _ in range(n)],
                                pa.int64())})
    got = rb.Environment(parallelism=2).from_arrow(t).select(
        col("x").median().over("k").alias("m"), col("x").quantile(0.9, "linear").over("k").alias("q")).collect()
    want = pl.from_arrow(t).select(pl.col("x").median().over("k").alias("m"),
                                   pl.col("x").quantile(0.9, "linear").over("k").alias("q"))
    assert got["m"].to_pylist() == want["m"].to_list()
    assert got["q"].to_pylist() == want["q"].to_list()


def test_rank_and_cum_count_of_a_null_type_column_against_polars():
    # A column of the null type is all null (arrow-go gives it no validity bitmap): its
    # rank is null and cum_count counts nothing.
    t = pa.table({"k": [1, 1, 2], "n": pa.nulls(3), "o": [3, 1, 2]})
    got = rb.from_arrow(t).select(col("n").rank("ordinal").over("k").alias("r"),
                                  col("n").cum_count().over("k", order_by="o").alias("c")).collect()
    want = pl.from_arrow(t).select(pl.col("n").rank("ordinal").over("k").alias("r"),
                                   pl.col("n").cum_count().over("k", order_by="o").alias("c"))
    assert got["r"].to_pylist() == want["r"].to_list()
    assert got["c"].to_pylist() == want["c"].to_list()


def test_window_functions_ordered_by_a_decimal_against_duckdb():
    # Decimals order by value inside OVER too (they ordered by their text: -1.00 < -5.00 < 10.00 < 2.00).
    import decimal
    rng = random.Random(7)
    vals = [decimal.Decimal(rng.randint(-2000, 2000)) / 100 for _ in range(60)]
    t = pa.table({"id": pa.array(range(60), pa.int64()), "g": [i % 3 for i in range(60)],
                  "d": pa.array(vals, pa.decimal128(10, 2))})
    con = duckdb.connect()
    con.register("t", t)
    for q in ["SELECT id, ROW_NUMBER() OVER (ORDER BY d, id) AS r FROM t",
              "SELECT id, RANK() OVER (PARTITION BY g ORDER BY d DESC) AS r FROM t",
              "SELECT id, LAG(id) OVER (ORDER BY d, id) AS r FROM t",
              "SELECT id, r FROM (SELECT id, ROW_NUMBER() OVER (PARTITION BY g ORDER BY d DESC, id) AS r FROM t) x "
              "WHERE r <= 2"]:
        got = sorted(rb.sql(q, t=t).collect().to_pylist(), key=lambda r: r["id"])
        want = sorted(con.sql(q).to_arrow_table().to_pylist(), key=lambda r: r["id"])
        assert got == want, q
    api = rb.from_arrow(t).with_columns(rb.col("id").cum_sum().over(order_by="d").alias("c")).collect()
    order = sorted(range(60), key=lambda i: (vals[i], i))
    running, want = 0, {}
    for i in order:
        running += i
        want[i] = running
    assert {r["id"]: r["c"] for r in api.to_pylist()} == want


@pytest.mark.parametrize("env", [{}, {"parallelism": 1, "batch_size": 1}, {"parallelism": 4, "batch_size": 7}],
                         ids=["default", "batch 1", "parallelism 4, batch 7"])
def test_cumulative_and_rolling_decimals_are_exact(env):
    # cum_sum/min/max against Polars (which keeps decimals); rolling_* against a plain-Python
    # reference over Decimal (Polars has no rolling functions of decimals), as exact values;
    # in batches of one row and cut across four subtasks too.
    import decimal
    rng = random.Random(11)
    n = 400
    vals = [None if rng.random() < 0.15 else decimal.Decimal(rng.randint(-10**9, 10**9)) / 100 for _ in range(n)]
    t = pa.table({"o": pa.array(range(n), pa.int64()), "g": [rng.randint(0, 5) for _ in range(n)],
                  "x": pa.array(vals, pa.decimal128(12, 2))})
    for fn in ("cum_sum", "cum_min", "cum_max"):
        e = getattr(col("x"), fn)().over("g", order_by="o").alias("r")
        got = rb.Environment(**env).from_arrow(t).select(col("o"), e).collect()
        want = pl.from_arrow(t).select(pl.col("o"), getattr(pl.col("x"), fn)().over("g", order_by="o").alias("r"))
        assert got.schema.field("r").type == (pa.decimal128(38, 2) if fn == "cum_sum" else pa.decimal128(12, 2))
        assert got.sort_by("o")["r"].to_pylist() == want.sort("o")["r"].to_list(), fn
    parts: dict[int, list[int]] = {}
    for i, g in enumerate(t["g"].to_pylist()):
        parts.setdefault(g, []).append(i)
    for fn, size, min_samples in (("rolling_sum", 3, None), ("rolling_min", 4, 2), ("rolling_max", 2, 1),
                                  ("rolling_mean", 3, 2)):
        kw = {} if min_samples is None else {"min_samples": min_samples}
        e = getattr(col("x"), fn)(size, **kw).over("g", order_by="o").alias("r")
        got = rb.Environment(**env).from_arrow(t).select(col("o"), e).collect().sort_by("o")["r"].to_pylist()
        want: list = [None] * n
        for rows in parts.values():
            for j, r in enumerate(rows):
                win = [vals[q] for q in rows[max(0, j - size + 1):j + 1] if vals[q] is not None]
                if not win or len(win) < (size if min_samples is None else min_samples):
                    continue
                want[r] = {"rolling_sum": sum, "rolling_min": min, "rolling_max": max,
                           "rolling_mean": lambda w: float(sum(w)) / len(w)}[fn](win)
        if fn == "rolling_mean":
            assert all(a is None and b is None or math.isclose(a, b, rel_tol=1e-12) for a, b in zip(got, want)), fn
        else:
            assert got == want, fn


def test_decimal_running_sum_overflowing_38_digits_is_an_error():
    import decimal
    big = decimal.Decimal("9" * 36 + ".99")
    t = pa.table({"x": pa.array([big, big], pa.decimal128(38, 2)), "o": [1, 2]})
    with pytest.raises(rb.DataError, match=r"cum_sum overflows decimal128\(38, 2\)"):
        rb.from_arrow(t).select(col("x").cum_sum().over(order_by="o")).collect()
