"""End-to-end tests of group_by(...).agg(...).

Results are checked against DuckDB running the equivalent SQL over the same pyarrow table,
except first/last: DuckDB's first/last do not skip nulls, so those are checked against a
plain-Python reference (first / last NON-NULL value per group in input order). Groups come
out in no particular order, so both sides are sorted by key before comparing. Floats are
compared with math.isclose(rel_tol=1e-9).

Tests taking the ``scan`` fixture run over both sources (in-memory Arrow, Parquet files) and
parallelism 1, 2, 4 (see conftest.py).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import os
import random

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import riverbed as rb
from conftest import make_source, values_equal, write_parquet_files
from riverbed import col

REL = 1e-9
N = 20_000

ASCII_WORDS = ["apple", "Banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lemon", "mango", "", "zz"]


# -- data -----------------------------------------------------------------------------------------

def _maybe_null(rng: random.Random, v, p: float = 0.1):
    return None if rng.random() < p else v


@functools.cache
def agg_table(n: int = N, seed: int = 1) -> pa.Table:
    """Keys and values of several types, with nulls everywhere (null keys included)."""
    rng = random.Random(seed)
    cities = [f"city-{c:02d}" for c in range(40)] + ["Zürich", "Łódź", "東京"]
    return pa.table({
        "k_int": pa.array([_maybe_null(rng, rng.randint(-20, 150), 0.03) for _ in range(n)], pa.int64()),
        "k_str": pa.array([_maybe_null(rng, rng.choice(cities), 0.03) for _ in range(n)], pa.string()),
        "v_int": pa.array([_maybe_null(rng, rng.randint(-10**6, 10**6)) for _ in range(n)], pa.int64()),
        "v_float": pa.array([_maybe_null(rng, rng.uniform(-50.0, 1000.0)) for _ in range(n)], pa.float64()),
        "v_str": pa.array([_maybe_null(rng, rng.choice(ASCII_WORDS)) for _ in range(n)], pa.string()),
    })


# -- oracles --------------------------------------------------------------------------------------

def duck_rows(table: pa.Table, sql: str) -> list[tuple]:
    """Run ``sql`` in DuckDB with ``table`` registered as ``t``."""
    con = duckdb.connect()
    try:
        con.register("t", table)
        return con.execute(sql).fetchall()
    finally:
        con.close()


def first_last_reference(table: pa.Table, keys: list[str], value: str) -> dict[tuple, tuple]:
    """Per key tuple: (first non-null value, last non-null value) in input order."""
    out: dict[tuple, list] = {}
    key_cols = [table.column(k).to_pylist() for k in keys]
    vals = table.column(value).to_pylist()
    for r, v in enumerate(vals):
        key = tuple(c[r] for c in key_cols)
        slot = out.setdefault(key, [None, None])
        if v is not None:
            if slot[0] is None:
                slot[0] = v
            slot[1] = v
    return {k: (a, b) for k, a, b in ((k, *v) for k, v in out.items())}


def sort_key(key: tuple) -> tuple:
    """Sort key tuples that may contain None (nulls last)."""
    return tuple((v is None, v if v is not None else 0) for v in key)


def rows_by_key(table: pa.Table, keys: list[str]) -> list[dict]:
    """Result rows sorted by key (asserting there is one row per key)."""
    rows = table.to_pylist()
    keyed = sorted(rows, key=lambda r: sort_key(tuple(r[k] for k in keys)))
    ks = [tuple(r[k] for k in keys) for r in keyed]
    assert len(set(ks)) == len(ks), "a key appears in more than one output row"
    return keyed


def assert_rows_match(actual: list[dict], expected: list[dict], keys: list[str], rel: float = REL) -> None:
    assert [tuple(r[k] for k in keys) for r in actual] == [tuple(r[k] for k in keys) for r in expected], \
        "the sets of groups differ"
    bad = []
    for a, e in zip(actual, expected):
        for name, ev in e.items():
            if not values_equal(a[name], ev, rel):
                bad.append((tuple(a[k] for k in keys), name, a[name], ev))
    assert not bad, f"{len(bad)} mismatching aggregates, first ones (key, agg, got, expected): {bad[:8]}"


# -- the generic check ----------------------------------------------------------------------------

VALUE_AGGS = ["sum", "min", "max", "mean", "count", "first", "last", "n_unique"]
DUCK_SQL = {"sum": "sum({v})", "min": "min({v})", "max": "max({v})", "mean": "avg({v})", "count": "count({v})",
            "n_unique": "count(DISTINCT {v})"}
OUT_TYPE = {"sum": None, "min": None, "max": None, "mean": pa.float64(), "count": pa.int64(),
            "first": None, "last": None, "n_unique": pa.int64()}


def check_group_by(stream: rb.Stream, table: pa.Table, keys: list[str], values: dict[str, list[str]]) -> pa.Table:
    """Run ``stream.group_by(keys).agg(...)`` with every aggregation in ``values`` (column ->
    aggregation names) plus ``count()`` and compare with DuckDB / the Python reference."""
    aggs = [rb.count().alias("n_rows")]
    for v, names in values.items():
        for a in names:
            aggs.append(getattr(col(v), a)().alias(f"{v}__{a}"))
    result = stream.group_by(*keys).agg(*aggs).collect()

    # schema: keys first with their input types, then the aggregations in order
    assert result.column_names == keys + [
        "n_rows", *[f"{v}__{a}" for v, names in values.items() for a in names]]
    for k in keys:
        assert result.schema.field(k).type == table.schema.field(k).type
    assert result.schema.field("n_rows").type == pa.int64()
    for v, names in values.items():
        in_type = table.schema.field(v).type
        for a in names:
            want = OUT_TYPE[a] or in_type
            if a == "sum":
                want = pa.float64() if pa.types.is_floating(in_type) else pa.int64()
            assert result.schema.field(f"{v}__{a}").type == want, (v, a)

    # DuckDB for everything except first/last
    sql_aggs = ["count(*)"]
    names = ["n_rows"]
    for v, aggs_ in values.items():
        for a in aggs_:
            if a in DUCK_SQL:
                sql_aggs.append(DUCK_SQL[a].format(v=f'"{v}"'))
                names.append(f"{v}__{a}")
    key_sql = ", ".join(f'"{k}"' for k in keys)
    duck = duck_rows(table, f"SELECT {key_sql}, {', '.join(sql_aggs)} FROM t GROUP BY {key_sql}")
    expected = []
    for row in duck:
        d = dict(zip(keys, row[:len(keys)]))
        for name, val in zip(names, row[len(keys):]):
            d[name] = float(val) if isinstance(val, float) else val
        expected.append(d)
    # first/last from the plain-Python reference
    for v, aggs_ in values.items():
        if "first" in aggs_ or "last" in aggs_:
            ref = first_last_reference(table, keys, v)
            for d in expected:
                first, last = ref[tuple(d[k] for k in keys)]
                if "first" in aggs_:
                    d[f"{v}__first"] = first
                if "last" in aggs_:
                    d[f"{v}__last"] = last
    expected.sort(key=lambda r: sort_key(tuple(r[k] for k in keys)))
    assert_rows_match(rows_by_key(result, keys), expected, keys)
    return result


# -- tests ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("keys", [["k_int"], ["k_str"], ["k_int", "k_str"]], ids=["int", "str", "int+str"])
def test_group_by_all_aggregations(scan, keys):
    """sum min max mean count count() first last n_unique over int, float and string values."""
    t = agg_table()
    check_group_by(scan(t), t, keys, {
        "v_int": VALUE_AGGS,
        "v_float": VALUE_AGGS,
        "v_str": ["min", "max", "count", "first", "last", "n_unique"],
    })


def test_null_keys_form_their_own_group(scan):
    t = pa.table({
        "k": pa.array([1, None, 2, None, 1, None] * 700, pa.int64()),
        "s": pa.array(["a", None, None, "b", "a", None] * 700, pa.string()),
        "v": pa.array([1.5, 2.0, None, 4.0, 5.0, None] * 700, pa.float64()),
    })
    res = check_group_by(scan(t), t, ["k"], {"v": ["sum", "count", "min", "max", "first", "last"]})
    by_key = {r["k"]: r for r in res.to_pylist()}
    assert set(by_key) == {1, 2, None}
    assert by_key[None]["n_rows"] == 2100 and by_key[None]["v__count"] == 1400
    res2 = check_group_by(scan(t), t, ["k", "s"], {"v": ["sum", "count"]})
    assert {(r["k"], r["s"]) for r in res2.to_pylist()} == {(1, "a"), (None, None), (2, None), (None, "b")}


def test_all_null_groups(scan):
    """A group whose values are all null: sum/min/max/mean/first/last null, count 0."""
    rng = random.Random(3)
    keys = [rng.randint(0, 9) for _ in range(6000)]
    vals = [None if k in (3, 7) else _maybe_null(rng, rng.randint(-100, 100), 0.2) for k in keys]
    t = pa.table({"k": pa.array(keys, pa.int64()), "v": pa.array(vals, pa.int64()),
                  "f": pa.array([None if v is None else v / 8 for v in vals], pa.float64())})
    res = check_group_by(scan(t), t, ["k"], {"v": VALUE_AGGS, "f": VALUE_AGGS})
    by_key = {r["k"]: r for r in res.to_pylist()}
    for k in (3, 7):
        r = by_key[k]
        for c in ("v", "f"):
            assert r[f"{c}__sum"] is None and r[f"{c}__min"] is None and r[f"{c}__max"] is None
            assert r[f"{c}__mean"] is None and r[f"{c}__first"] is None and r[f"{c}__last"] is None
            assert r[f"{c}__count"] == 0 and r[f"{c}__n_unique"] == 0
        assert r["n_rows"] == keys.count(k)


def test_empty_input_gives_no_groups(scan):
    t = agg_table().slice(0, 0)
    res = scan(t).group_by("k_int", "k_str").agg(
        rb.count().alias("n"), col("v_int").sum().alias("s"), col("v_float").mean().alias("m"),
        col("v_str").first().alias("f")).collect()
    assert res.num_rows == 0
    assert [(f.name, f.type) for f in res.schema] == [
        ("k_int", pa.int64()), ("k_str", pa.string()), ("n", pa.int64()), ("s", pa.int64()),
        ("m", pa.float64()), ("f", pa.string())]
    assert duck_rows(t, "SELECT k_int, count(*) FROM t GROUP BY k_int") == []


def test_filtered_to_empty_gives_no_groups(scan):
    t = agg_table()
    res = scan(t).filter(col("v_int") > 10**7).group_by("k_int").agg(rb.count().alias("n")).collect()
    assert res.num_rows == 0
    assert res.column_names == ["k_int", "n"]


def test_group_by_after_filter_and_with_columns(scan):
    """group_by on a computed key after a filter, checked against DuckDB on the same pipeline."""
    t = agg_table()
    res = (scan(t).filter(col("v_float") > 100)
           .with_columns((col("k_int") % 7).alias("bucket"))
           .group_by("bucket").agg(rb.count().alias("n"), col("v_int").sum().alias("s"),
                                   col("v_float").max().alias("mx")).collect())
    # DuckDB's % truncates; riverbed's % is Python-style (result has the sign of the divisor)
    duck = duck_rows(t, "SELECT ((k_int % 7) + 7) % 7 AS b, count(*), sum(v_int), max(v_float) FROM t "
                        "WHERE v_float > 100 GROUP BY b")
    expected = sorted((dict(zip(["bucket", "n", "s", "mx"], r)) for r in duck), key=lambda r: sort_key((r["bucket"],)))
    assert_rows_match(rows_by_key(res, ["bucket"]), expected, ["bucket"])


def test_bool_and_timestamp_min_max(scan):
    rng = random.Random(11)
    n = 8000
    base = dt.datetime(2000, 1, 1)
    t = pa.table({
        "k": pa.array([_maybe_null(rng, rng.randint(0, 60), 0.02) for _ in range(n)], pa.int64()),
        "b": pa.array([rng.choice([True, False, None]) if rng.random() < 0.9 else True for _ in range(n)]),
        "ts_ms": pa.array([_maybe_null(rng, base + dt.timedelta(milliseconds=rng.randint(-10**12, 10**12)))
                           for _ in range(n)], pa.timestamp("ms")),
        "ts_us": pa.array([_maybe_null(rng, base + dt.timedelta(microseconds=rng.randint(-10**15, 10**15)))
                           for _ in range(n)], pa.timestamp("us")),
        "d": pa.array([_maybe_null(rng, dt.date(2000, 1, 1) + dt.timedelta(days=rng.randint(-9000, 9000)))
                       for _ in range(n)], pa.date32()),
    })
    check_group_by(scan(t), t, ["k"], {
        "b": ["min", "max", "count", "first", "last"],
        "ts_ms": ["min", "max", "first", "last", "n_unique"],
        "ts_us": ["min", "max", "first", "last"],
        "d": ["min", "max", "first", "last"],
    })


def test_bool_groups_with_single_value():
    """min/max of bool where a group holds only True or only False (checked per group)."""
    t = pa.table({"k": pa.array([0, 1, 2, 0, 1, 2] * 500, pa.int64()),
                  "b": pa.array([True, False, None, True, False, None] * 500, pa.bool_())})
    res = rb.Environment(parallelism=2, batch_size=1000).from_arrow(t).group_by("k").agg(
        col("b").min().alias("mn"), col("b").max().alias("mx")).collect()
    exp = {tuple(r[:1]): r[1:] for r in duck_rows(t, "SELECT k, min(b), max(b) FROM t GROUP BY k")}
    got = {(r["k"],): (r["mn"], r["mx"]) for r in res.to_pylist()}
    assert got == exp


@pytest.mark.parametrize("keys", [[], ["k_int"]], ids=["global", "keyed"])
def test_global_aggregation(scan, keys):
    """group_by() without keys aggregates everything into one row (as SQL without GROUP BY)."""
    t = agg_table()
    if keys:
        t = t.filter(pc.is_valid(t["k_int"]))
    res = scan(t).group_by(*keys).agg(
        rb.count().alias("n"), col("v_int").sum().alias("s"), col("v_float").mean().alias("m"),
        col("v_str").max().alias("mx")).collect()
    key_sql = ", ".join(keys)
    duck = duck_rows(t, f"SELECT {key_sql + ', ' if keys else ''}count(*), sum(v_int), avg(v_float), max(v_str) "
                        f"FROM t {'GROUP BY ' + key_sql if keys else ''}")
    names = keys + ["n", "s", "m", "mx"]
    expected = sorted((dict(zip(names, r)) for r in duck), key=lambda r: sort_key(tuple(r[k] for k in keys)))
    assert_rows_match(rows_by_key(res, keys), expected, keys)


def test_global_aggregation_of_empty_input(scan):
    """Over no rows a global aggregation still gives one row: count 0, everything else null."""
    t = agg_table().slice(0, 0)
    res = scan(t).group_by().agg(rb.count().alias("n"), col("v_int").sum().alias("s"),
                                 col("v_float").max().alias("mx")).collect()
    duck = duck_rows(t, "SELECT count(*), sum(v_int), max(v_float) FROM t")
    assert [tuple(r.values()) for r in res.to_pylist()] == duck


def test_select_of_aggregations_is_one_row(scan):
    """select(...) of aggregations alone (col("x").sum(), an expression of them, count())
    aggregates the whole input into one row, as Polars' select does."""
    t = agg_table()
    res = scan(t).select(col("v_int").sum(), col("v_float").mean().alias("m"), rb.count(),
                         (col("v_int").max() - col("v_int").min()).alias("spread"),
                         col("v_str").n_unique().alias("words")).collect()
    assert res.column_names == ["v_int", "m", "count", "spread", "words"]
    duck = duck_rows(t, "SELECT sum(v_int), avg(v_float), count(*), max(v_int) - min(v_int), "
                        "count(DISTINCT v_str) FROM t")
    assert len(duck) == 1 and res.num_rows == 1
    got = list(res.to_pylist()[0].values())
    assert all(values_equal(g, e, REL) for g, e in zip(got, duck[0])), (got, duck[0])


def test_aggregations_beside_columns_are_given_to_every_row(scan):
    """An aggregation beside other columns (with_columns, or select with columns) is over
    the whole input and repeated on every row, as Polars broadcasts it."""
    t = agg_table().append_column("rid", pa.array(range(N), pa.int64()))
    s = scan(t)
    res = (s.with_columns(col("v_int").sum().alias("total"), (col("v_float") - col("v_float").mean()).alias("dev"))
           .select("rid", "k_int", "total", "dev", (col("v_int") * 100 / col("v_int").max()).alias("pct"),
                   col("v_int").sum().over("k_int").alias("by_k"))
           .collect())
    duck = duck_rows(t, "SELECT rid, k_int, sum(v_int) OVER (), v_float - avg(v_float) OVER (), "
                        "v_int * 100 / max(v_int) OVER (), sum(v_int) OVER (PARTITION BY k_int) FROM t ORDER BY rid")
    got = sorted(res.to_pylist(), key=lambda r: r["rid"])
    assert len(got) == len(duck) == N
    bad = [(g, e) for g, e in zip(got, duck) if not all(values_equal(a, b, REL) for a, b in zip(g.values(), e))]
    assert not bad, bad[:3]


@pytest.mark.parametrize("method, sql, numeric", [
    ("sum", "sum({c})", True), ("mean", "avg({c})", True), ("median", "median({c})", True),
    ("std", "stddev_samp({c})", True), ("var", "var_samp({c})", True), ("min", "min({c})", False),
    ("max", "max({c})", False), ("count", "count({c})", False), ("null_count", "count(*) - count({c})", False)])
def test_frame_aggregations_of_every_column(scan, method, sql, numeric):
    """s.sum(), s.mean(), ... (Polars' LazyFrame methods): one row, the aggregation of each
    column; a column that is not numeric gives null for the numeric ones, as in Polars."""
    t = agg_table()
    res = getattr(scan(t), method)().collect()
    assert res.column_names == t.column_names and res.num_rows == 1
    cols = [f'"{c}"' for c in t.column_names]
    exprs = ["NULL" if numeric and t.schema.field(c.strip('"')).type == pa.string() else sql.format(c=c)
             for c in cols]
    duck = duck_rows(t, f"SELECT {', '.join(exprs)} FROM t")[0]
    got = list(res.to_pylist()[0].values())
    assert all(values_equal(g, e, REL) for g, e in zip(got, duck)), (got, duck)
    for name in t.column_names:
        if numeric and t.schema.field(name).type == pa.string():
            assert res.schema.field(name).type == pa.string()


def test_len_coalesce_and_constants_beside_aggregations(scan):
    t = agg_table()
    res = scan(t).select(rb.len(), rb.coalesce("v_int", col("k_int"), 0).sum().alias("c"),
                         rb.lit("x").alias("tag"), rb.lit(None).cast(rb.Float64).alias("nothing")).collect()
    duck = duck_rows(t, "SELECT count(*), sum(coalesce(v_int, k_int, 0)), 'x', NULL FROM t")
    assert [tuple(r.values()) for r in res.to_pylist()] == duck
    assert res.column_names == ["len", "c", "tag", "nothing"]
    assert res.schema.field("nothing").type == pa.float64()


def test_an_aggregation_given_to_every_row_of_an_unbounded_input_is_refused():
    env = rb.Environment(parallelism=1)
    s = env.datagen({"x": rb.Int64})
    with pytest.raises(rb.PlanError, match=r"with_columns: an aggregation beside other columns .* datagen "
                                           r".* unbounded.*group_by\(\.\.\.\)\.agg"):
        s.with_columns(col("x").sum().alias("total")).explain()
    # alone in a select, it is an updating global aggregation, as group_by().agg()
    assert "updating" in s.select(col("x").sum()).explain()


def test_high_cardinality(tmp_path):
    """300k distinct keys among 1M rows, read from Parquet at parallelism 4."""
    rng = np.random.default_rng(5)
    n, distinct = 1_000_000, 300_000
    keys = rng.integers(0, distinct, n)
    keys[:distinct] = np.arange(distinct)  # every key occurs at least once
    rng.shuffle(keys)
    vals = rng.integers(-1000, 1000, n)
    fvals = rng.uniform(0, 1, n)
    t = pa.table({"k": pa.array(keys, pa.int64()), "v": pa.array(vals, pa.int64()),
                  "f": pa.array(fvals, pa.float64())})
    write_parquet_files(t, tmp_path / "data", n_files=4, row_group_size=100_000)
    res = (rb.Environment(parallelism=4, batch_size=8192).read_parquet(tmp_path / "data")
           .group_by("k").agg(rb.count().alias("n"), col("v").sum().alias("s"), col("v").max().alias("mx"),
                              col("f").sum().alias("fs"))
           .collect())
    assert res.num_rows == distinct
    res = res.sort_by("k")
    con = duckdb.connect()
    con.register("t", t)
    cur = con.sql("SELECT k, count(*) AS n, sum(v)::BIGINT AS s, max(v) AS mx, sum(f) AS fs "
                      "FROM t GROUP BY k ORDER BY k")
    exp = cur.to_arrow_table() if hasattr(cur, "to_arrow_table") else cur.fetch_arrow_table()
    con.close()
    assert res["k"].to_numpy().tolist() == exp["k"].to_numpy().tolist()
    assert np.array_equal(res["n"].to_numpy(), exp["n"].to_numpy())
    assert np.array_equal(res["s"].to_numpy(), exp["s"].to_numpy())
    assert np.array_equal(res["mx"].to_numpy(), exp["mx"].to_numpy())
    assert np.allclose(res["fs"].to_numpy(), exp["fs"].to_numpy(), rtol=REL, atol=0)


def test_many_files(env, tmp_path):
    """40 small Parquet files (several row groups each) read as one dataset."""
    rng = random.Random(21)
    n = 40 * 250
    t = pa.table({
        "k": pa.array([_maybe_null(rng, rng.randint(0, 30), 0.05) for _ in range(n)], pa.int64()),
        "s": pa.array([_maybe_null(rng, rng.choice(ASCII_WORDS)) for _ in range(n)], pa.string()),
        "v": pa.array([_maybe_null(rng, rng.uniform(0, 10)) for _ in range(n)], pa.float64()),
    })
    paths = write_parquet_files(t, tmp_path / "many", n_files=40, row_group_size=100)
    assert len(paths) == 40 and len(os.listdir(tmp_path / "many")) == 40
    check_group_by(env.read_parquet(tmp_path / "many"), t, ["k"], {
        "v": VALUE_AGGS, "s": ["min", "max", "first", "last", "n_unique"]})
    # and as a list of globs
    check_group_by(env.read_parquet([str(tmp_path / "many" / "part-0000*.parquet"),
                                     str(tmp_path / "many" / "part-0001*.parquet")]),
                   t.slice(0, 20 * 250), ["k"], {"v": ["sum", "count", "first", "last"]})


def test_many_files_via_mode_fixture(scan):
    """Same data through the mode fixture with 40 files in Parquet mode."""
    t = agg_table().slice(0, 8000)
    check_group_by(scan(t, n_files=40, row_group_size=64), t, ["k_str"], {"v_int": VALUE_AGGS})


# -- property tests -------------------------------------------------------------------------------

def _reference(keys: list, vals: list) -> dict:
    """Per key: (sum, count of non-null, min, max, rows, sum of |v|) with a plain-Python fold."""
    out: dict = {}
    for k, v in zip(keys, vals):
        r = out.setdefault(k, {"vals": [], "rows": 0})
        r["rows"] += 1
        if v is not None:
            r["vals"].append(v)
    return {k: {"sum": math.fsum(r["vals"]) if r["vals"] else None, "count": len(r["vals"]),
                "min": min(r["vals"]) if r["vals"] else None, "max": max(r["vals"]) if r["vals"] else None,
                "rows": r["rows"], "abs": math.fsum(abs(x) for x in r["vals"])}
            for k, r in out.items()}


rows_strategy = st.lists(
    st.tuples(st.one_of(st.none(), st.integers(-5, 5)),
              st.one_of(st.none(), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))),
    min_size=0, max_size=60,
)


@pytest.mark.parametrize("par", [1, 3])
@settings(max_examples=30, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(rows=rows_strategy, batch_size=st.integers(1, 7), parquet=st.booleans())
def test_property_group_by_matches_reference(par, rows, batch_size, parquet, tmp_path_factory):
    keys = [r[0] for r in rows]
    vals = [r[1] for r in rows]
    t = pa.table({"k": pa.array(keys, pa.int64()), "v": pa.array(vals, pa.float64())})
    env = rb.Environment(parallelism=par, batch_size=batch_size)
    if parquet:
        stream = make_source(env, "parquet", tmp_path_factory.mktemp("prop"), t, n_files=2, row_group_size=5)
    else:
        stream = env.from_arrow(t)
    res = stream.group_by("k").agg(
        col("v").sum().alias("sum"), col("v").count().alias("count"), col("v").min().alias("min"),
        col("v").max().alias("max"), rb.count().alias("rows")).collect()
    got = {r["k"]: r for r in res.to_pylist()}
    ref = _reference(keys, vals)
    assert set(got) == set(ref)
    for k, e in ref.items():
        g = got[k]
        assert g["count"] == e["count"] and g["rows"] == e["rows"], k
        assert g["min"] == e["min"] and g["max"] == e["max"], k
        if e["sum"] is None:
            assert g["sum"] is None, k
        else:
            # floating-point summation error is bounded by n * eps * sum(|v|)
            bound = 1e-12 * max(1, e["count"]) * e["abs"] + 1e-300
            assert g["sum"] is not None and abs(g["sum"] - e["sum"]) <= bound, (k, g["sum"], e["sum"])


def test_first_last_follow_union_order(env, mode, tmp_path):
    """first/last over a union: input order is all rows of the first input, then the second."""
    a = pa.table({"k": pa.array([1, 2] * 1500, pa.int64()), "v": pa.array(range(3000), pa.int64())})
    b = pa.table({"k": pa.array([2, 1] * 1500, pa.int64()), "v": pa.array(range(5000, 8000), pa.int64())})
    u = pa.concat_tables([a, b])
    stream = make_source(env, mode, tmp_path, a).union(make_source(env, mode, tmp_path, b))
    check_group_by(stream, u, ["k"], {"v": ["first", "last", "count", "sum"]})


def test_float_min_max_with_nan_is_order_independent(scan):
    """Groups holding the same multiset of values {NaN, 1.0, 2.0} in different orders must get
    the same min and max (whatever the NaN convention)."""
    nan = math.nan
    orders = {1: [nan, 1.0, 2.0], 2: [1.0, nan, 2.0], 3: [1.0, 2.0, nan], 4: [2.0, nan, 1.0]}
    t = pa.table({"k": pa.array([k for k, vs in orders.items() for _ in vs], pa.int64()),
                  "v": pa.array([v for vs in orders.values() for v in vs], pa.float64())})
    res = scan(t).group_by("k").agg(col("v").min().alias("mn"), col("v").max().alias("mx")).collect()
    rows = sorted(res.to_pylist(), key=lambda r: r["k"])
    assert len(rows) == 4
    for r in rows[1:]:
        assert values_equal(r["mn"], rows[0]["mn"]) and values_equal(r["mx"], rows[0]["mx"]), rows


def test_a_decimal_mean_whose_exact_sum_outgrows_38_digits_says_so():
    # The mean (6e37) fits in float64; its exact decimal sum does not fit in 38 digits: the
    # error says that (it said the mean overflowed float64), and the float64 cast it
    # suggests gives the mean. Oracle: Python's Decimal arithmetic.
    from decimal import Decimal

    v = Decimal(6 * 10**37)
    t = pa.table({"k": [1, 1], "x": pa.array([v, v], pa.decimal128(38, 0))})
    with pytest.raises(rb.DataError, match="exact sum of its values does not fit in 38 decimal digits"):
        rb.from_arrow(t).group_by("k").agg(col("x").mean()).collect()
    got = rb.from_arrow(t).group_by("k").agg(col("x").cast(rb.Float64).mean()).collect()["x"][0].as_py()
    assert got == pytest.approx(float((v + v) / 2))


def test_int64_keys_near_the_bounds_after_a_batch_with_a_null_against_duckdb():
    # A batch with a null and a key near the int64 minimum is hashed; later batches are
    # grouped directly and widen their span: it must not reach back to that key (the span's
    # index overflowed: a panic).
    batches = [pa.record_batch({"k": pa.array(ks, pa.int64())}) for ks in
               ([-2**63, None, -2**63 + 3], list(range(0, 100)), list(range(200, 300)), [2**63 - 1, 5])]
    t = pa.Table.from_batches(batches)
    for p in (1, 2):
        got = rb.Environment(parallelism=p).from_arrow(t).group_by("k").agg(rb.count().alias("n")).collect()
        want = duckdb.sql("SELECT k, count(*) AS n FROM t GROUP BY k").to_arrow_table()
        assert sorted(got.to_pylist(), key=str) == sorted(want.to_pylist(), key=str)
        joined = rb.Environment(parallelism=p).from_arrow(t).join(rb.from_arrow(t), on="k").collect()
        assert joined.num_rows == duckdb.sql("SELECT count(*) FROM t a JOIN t b ON a.k = b.k").fetchall()[0][0]
