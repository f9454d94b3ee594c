"""End-to-end tests of the statistical and positional aggregations: std, var, median,
quantile, approx_n_unique, any, all, arg_max, arg_min, max_by, min_by.

Oracles: Polars (group_by().agg with the same expressions, on the same table), DuckDB
(stddev_samp, var_pop, median, quantile_cont, bool_or/bool_and, arg_max) and, for windows,
Polars over rows assigned to windows by the plain-Python window reference
(tests/window_reference.py). approx_n_unique is checked against DuckDB's exact
count(DISTINCT) within 3%.
"""

from __future__ import annotations

import decimal
import functools
import math
import random

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import riverbed as rb
import window_reference as ref
from conftest import values_equal
from riverbed import col

REL = 1e-9
N = 6000


@functools.cache
def stats_table(n: int = N, seed: int = 7) -> pa.Table:
    """Keys with nulls; ints with ties, floats with NaN, strings, booleans and decimals,
    all with nulls; a few groups of nulls only."""
    rng = random.Random(seed)

    def maybe(v, p=0.1):
        return None if rng.random() < p else v

    k = [maybe(rng.randint(0, 40), 0.02) for _ in range(n)]
    f = [maybe(rng.choice([math.nan]) if rng.random() < 0.01 else round(rng.uniform(-100, 100), 3)) for _ in range(n)]
    # Group 40 has only null values.
    nulls_only = [x == 40 for x in k]
    return pa.table({
        "k": pa.array(k, pa.int64()),
        "i": pa.array([None if z else maybe(rng.randint(-30, 30)) for z in nulls_only], pa.int64()),
        "f": pa.array([None if z else v for z, v in zip(nulls_only, f)], pa.float64()),
        "s": pa.array([None if z else maybe(rng.choice("abcdefghij") * rng.randint(1, 2)) for z in nulls_only],
                      pa.string()),
        "b": pa.array([None if z else maybe(rng.random() < 0.3, 0.2) for z in nulls_only], pa.bool_()),
        "d": pa.array([None if z else maybe(decimal.Decimal(rng.randint(-99999, 99999)) / 100) for z in nulls_only],
                      pa.decimal128(12, 2)),
        "u": pa.array([rng.randint(0, 10**6) for _ in range(n)], pa.float64()),  # no ties: for max_by
    })


# (name, riverbed aggregation, Polars aggregation)
CASES = [
    ("std_f", col("f").std(), pl.col("f").std()),
    ("std_i", col("i").std(), pl.col("i").std()),
    ("var_i0", col("i").var(ddof=0), pl.col("i").var(ddof=0)),
    ("var_f2", col("f").var(ddof=2), pl.col("f").var(ddof=2)),
    ("std_d", col("d").std(), pl.col("d").cast(pl.Float64).std()),
    ("median_i", col("i").median(), pl.col("i").median()),
    ("median_f", col("f").median(), pl.col("f").median()),
    ("median_d", col("d").median(), pl.col("d").cast(pl.Float64).median()),
    *[(f"q_{interp}_{q}", col("i").quantile(q, interpolation=interp), pl.col("i").quantile(q, interpolation=interp))
      for interp in ["nearest", "lower", "higher", "midpoint", "linear"] for q in [0.0, 0.1, 0.25, 0.5, 0.9, 1.0]],
    ("qf_linear", col("f").quantile(0.37, interpolation="linear"), pl.col("f").quantile(0.37, interpolation="linear")),
    ("qf_nearest", col("f").quantile(0.63), pl.col("f").quantile(0.63)),
    ("any_b", col("b").any(), pl.col("b").any()),
    ("all_b", col("b").all(), pl.col("b").all()),
    ("any_kleene", col("b").any(ignore_nulls=False), pl.col("b").any(ignore_nulls=False)),
    ("all_kleene", col("b").all(ignore_nulls=False), pl.col("b").all(ignore_nulls=False)),
    ("argmax_i", col("i").arg_max(), pl.col("i").arg_max()),
    ("argmin_i", col("i").arg_min(), pl.col("i").arg_min()),
    ("argmax_s", col("s").arg_max(), pl.col("s").arg_max()),
    ("argmin_f", col("f").arg_min(), pl.col("f").arg_min()),
    ("maxby_s_i", col("s").max_by("i"), pl.col("s").max_by("i")),
    ("minby_d_f", col("d").min_by(col("f")), pl.col("d").min_by("f")),
    ("maxby_i_u", col("i").max_by("u"), pl.col("i").max_by("u")),
]


def polars_rows(table: pa.Table, keys: list[str], cases) -> dict[tuple, dict]:
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    out = df.group_by(keys, maintain_order=True).agg([p.alias(name) for name, _, p in cases])
    return {tuple(r[k] for k in keys): r for r in out.to_dicts()}


def normalize(v):
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def assert_matches(got: pa.Table, want: dict[tuple, dict], keys: list[str], names: list[str]) -> None:
    rows = got.to_pylist()
    assert len(rows) == len(want), (len(rows), len(want))
    bad = []
    for r in rows:
        key = tuple(r[k] for k in keys)
        w = want[key]
        for name in names:
            a, e = normalize(r[name]), normalize(w[name])
            if isinstance(a, int) and not isinstance(a, bool) and isinstance(e, float):
                e = int(e) if e == int(e) else e
            close = isinstance(a, float) and isinstance(e, float) and abs(a - e) < 1e-9  # rounding near 0
            if not values_equal(a, e, REL) and not close:
                bad.append((key, name, r[name], w[name]))
    assert not bad, f"{len(bad)} mismatches, first (key, agg, got, polars): {bad[:8]}"


def test_stats_group_by_against_polars(scan):
    t = stats_table()
    res = scan(t).group_by("k").agg([r.alias(name) for name, r, _ in CASES]).collect()
    assert res.schema.field("std_f").type == pa.float64()
    assert res.schema.field("any_b").type == pa.bool_()
    assert res.schema.field("argmax_i").type == pa.int64()
    assert res.schema.field("maxby_s_i").type == pa.string()
    assert res.schema.field("minby_d_f").type == pa.decimal128(12, 2)
    assert_matches(res, polars_rows(t, ["k"], CASES), ["k"], [name for name, _, _ in CASES])


def test_stats_global_and_two_keys(env):
    t = stats_table().append_column("k2", pa.array([i % 3 for i in range(N)], pa.int64()))
    res = env.from_arrow(t).group_by("k", "k2").agg([r.alias(name) for name, r, _ in CASES]).collect()
    assert_matches(res, polars_rows(t, ["k", "k2"], CASES), ["k", "k2"], [name for name, _, _ in CASES])
    # Over a whole string column Polars' arg_max gives the last of tied largest values (in
    # groups, and for numbers, the first): compare that one with a plain-Python reference.
    cases = [c for c in CASES if c[0] != "argmax_s"]
    res = env.from_arrow(t).group_by().agg([r.alias(name) for name, r, _ in cases]
                                           + [col("s").arg_max().alias("argmax_s")]).collect()
    df = pl.from_arrow(t).select([p.alias(name) for name, _, p in cases])
    assert_matches(res.append_column("_", pa.array([0])), {(0,): df.to_dicts()[0]}, ["_"],
                   [name for name, _, _ in cases])
    s = t["s"].to_pylist()
    assert res["argmax_s"].to_pylist() == [s.index(max(v for v in s if v is not None))]


def test_stats_empty_input(env):
    """A global aggregation over no rows has one row, as Polars: null statistics, any false,
    all true, counts 0."""
    t = stats_table().slice(0, 0)
    cases = [c for c in CASES if c[0] in ("std_f", "var_i0", "median_i", "q_linear_0.5", "any_b", "all_b",
                                          "any_kleene", "all_kleene", "argmax_i", "maxby_s_i")]
    res = env.from_arrow(t).group_by().agg([r.alias(name) for name, r, _ in cases]
                                           + [col("s").approx_n_unique().alias("anu")]).collect()
    df = pl.from_arrow(t).select([p.alias(name) for name, _, p in cases])
    assert_matches(res.append_column("_", pa.array([0])), {(0,): df.to_dicts()[0]}, ["_"], [c[0] for c in cases])
    assert res["anu"].to_pylist() == [0]


def test_stats_against_duckdb(env):
    t = stats_table()
    res = env.from_arrow(t).group_by("k").agg(
        col("f").std().alias("sd"), col("i").var(ddof=0).alias("vp"), col("i").median().alias("med"),
        col("f").quantile(0.3, interpolation="linear").alias("q3"), col("b").any().alias("bo"),
        col("b").all().alias("ba"), col("i").max_by("u").alias("am"), col("s").approx_n_unique().alias("anu"),
    ).collect()
    con = duckdb.connect()
    con.register("t", t)
    # DuckDB's aggregates skip NaN differently from Polars; compare on groups without NaN.
    want = {r[0]: r[1:] for r in con.execute(
        "select k, stddev_samp(f), var_pop(i), median(i), quantile_cont(f, 0.3), bool_or(b), bool_and(b),"
        " arg_max(i, u), count(distinct s), bool_or(isnan(f)), count(*) - count(i)"
        " from t group by k").fetchall()}
    names = ["sd", "vp", "med", "q3", "bo", "ba"]
    for r in res.to_pylist():
        w = want[r["k"]]
        has_nan = bool(w[8])
        for j, name in enumerate(names):
            if has_nan and name in ("sd", "q3"):
                continue
            e = w[j]
            if name in ("bo", "ba") and e is None:
                e = name == "ba"  # DuckDB gives null for a group of nulls; riverbed Polars' any/all
            assert values_equal(r[name], float(e) if isinstance(e, (int, decimal.Decimal)) and not isinstance(e, bool)
                                else e, REL), (r["k"], name, r[name], e)
        # DuckDB's arg_max skips a row with a null value; riverbed's max_by keeps it (as
        # Polars): compare where the value has no nulls.
        if w[9] == 0:
            assert r["am"] == w[6], (r["k"], r["am"], w[6])
        exact = w[7]
        assert abs(r["anu"] - exact) <= max(1, 0.03 * exact), (r["k"], r["anu"], exact)


def test_approx_n_unique_many_values(env):
    rng = random.Random(3)
    n = 200_000
    t = pa.table({"k": pa.array([i % 2 for i in range(n)], pa.int64()),
                  "x": pa.array([rng.randint(0, 120_000) for _ in range(n)], pa.int64())})
    res = env.from_arrow(t).group_by("k").agg(col("x").approx_n_unique().alias("a"),
                                              col("x").n_unique().alias("e")).collect()
    for r in res.to_pylist():
        assert abs(r["a"] - r["e"]) <= 0.03 * r["e"], r
    exact = duckdb.connect().execute("select count(distinct x) from t").fetchone()[0]
    total = env.from_arrow(t).group_by().agg(col("x").approx_n_unique().alias("a")).collect()["a"][0].as_py()
    assert abs(total - exact) <= 0.03 * exact, (total, exact)


# -- windows --------------------------------------------------------------------------------------

WINDOW_CASES = [c for c in CASES if c[0] in (
    "std_f", "var_i0", "median_f", "q_nearest_0.25", "q_linear_0.9", "any_b", "all_kleene", "argmax_i",
    "argmin_f", "maxby_s_i", "minby_d_f")]

SPECS = {
    "tumbling": (rb.tumbling("10s"), ref.tumbling(10 * ref.SECOND)),
    "sliding": (rb.sliding("10s", every="5s"), ref.sliding(10 * ref.SECOND, 5 * ref.SECOND)),
    "cumulate": (rb.cumulate(step="5s", max_size="20s"), ref.cumulate(5 * ref.SECOND, 20 * ref.SECOND)),
    "session": (rb.session("3s"), ref.session(3 * ref.SECOND)),
}


def windowed_table(n: int = 3000) -> pa.Table:
    t = stats_table().slice(0, n)
    rng = random.Random(11)
    ts = sorted(rng.randint(0, 300 * ref.SECOND) for _ in range(n))
    # Shuffle a little: bounded input is not in event-time order.
    for _ in range(n // 10):
        a, b = rng.randrange(n), rng.randrange(n)
        ts[a], ts[b] = ts[b], ts[a]
    return t.append_column("ts", pa.array(ts, pa.timestamp("us")))


def window_rows(t: pa.Table, spec: ref.WindowSpec) -> pa.Table:
    """t's rows assigned to their windows (one row per row and window, in input order)."""
    ts = [v.value for v in t["ts"]]
    keys = t["k"].to_pylist()
    idx, starts, ends = [], [], []
    if spec.kind == "session":
        by_key: dict = {}
        for i, (k, x) in enumerate(zip(keys, ts)):
            by_key.setdefault(k, []).append((x, x + spec.gap, i))
        assign = {}
        for ws in by_key.values():
            for s, e, rows in ref.merge_sessions(ws):
                for i in rows:
                    assign[i] = (s, e)
        for i in range(len(ts)):
            idx.append(i)
            starts.append(assign[i][0])
            ends.append(assign[i][1])
    else:
        for i, x in enumerate(ts):
            for s, e in spec.windows(x):
                idx.append(i)
                starts.append(s)
                ends.append(e)
    out = t.take(pa.array(idx))
    return out.append_column("window_start", pa.array(starts, pa.int64())).append_column(
        "window_end", pa.array(ends, pa.int64()))


@pytest.mark.parametrize("kind", list(SPECS))
def test_stats_in_windows_against_polars(env, kind):
    t = windowed_table()
    cases = [c for c in WINDOW_CASES if not (kind == "session" and c[0].startswith("arg"))]
    res = (env.from_arrow(t, event_time="ts").key_by("k").window(SPECS[kind][0])
           .agg([r.alias(name) for name, r, _ in cases]).collect())
    res = res.set_column(res.schema.get_field_index("window_start"), "window_start",
                         res["window_start"].cast(pa.int64()))
    res = res.set_column(res.schema.get_field_index("window_end"), "window_end", res["window_end"].cast(pa.int64()))
    keys = ["k", "window_start", "window_end"]
    assert_matches(res, polars_rows(window_rows(t, SPECS[kind][1]), keys, cases), keys, [c[0] for c in cases])


def test_arg_max_refused_in_session_windows():
    t = windowed_table(10)
    with pytest.raises(rb.PlanError, match="arg_max is not available in session windows"):
        rb.from_arrow(t, event_time="ts").key_by("k").window(rb.session("3s")).agg(col("i").arg_max()).collect()


# -- expressions of aggregations in windows ----------------------------------------------------

@pytest.mark.parametrize("kind", list(SPECS))
def test_expressions_of_aggregations_in_windows(env, kind):
    t = windowed_table()
    res = (env.from_arrow(t, event_time="ts").key_by("k").window(SPECS[kind][0])
           .agg((col("i").max() - col("i").min()).alias("range"),
                (col("f").std() / col("f").mean().abs()).alias("cv"),
                (col("i").sum() * 2 + rb.count()).alias("mixed"),
                col("i").sum().alias("plain"),
                rb.count().alias("n"))
           .collect())
    assert res.column_names == ["k", "window_start", "window_end", "range", "cv", "mixed", "plain", "n"]
    res = res.set_column(1, "window_start", res["window_start"].cast(pa.int64()))
    res = res.set_column(2, "window_end", res["window_end"].cast(pa.int64()))
    keys = ["k", "window_start", "window_end"]
    df = pl.from_arrow(window_rows(t, SPECS[kind][1]))
    want = df.group_by(keys).agg((pl.col("i").max() - pl.col("i").min()).alias("range"),
                                 (pl.col("f").std() / pl.col("f").mean().abs()).alias("cv"),
                                 (pl.col("i").sum() * 2 + pl.len()).alias("mixed"),
                                 pl.col("i").sum().alias("plain"), pl.len().alias("n"))
    # Polars sums an all-null group to 0, SQL (and riverbed) to null.
    rows = {tuple(r[k] for k in keys): r for r in want.to_dicts()}
    counts = df.group_by(keys).agg(pl.col("i").count().alias("c")).to_dicts()
    nonnull = {tuple(r[k] for k in keys): r["c"] for r in counts}
    for key, r in rows.items():
        if nonnull[key] == 0:
            r["plain"] = None
            r["mixed"] = None
    assert_matches(res, rows, keys, ["range", "cv", "mixed", "plain", "n"])


def test_window_late_output_with_expressions_of_aggregations():
    """The late rows of a window whose agg has expressions of aggregations are its input's
    rows (the rewrite keeps the late output's schema)."""
    t = windowed_table(200)
    w = rb.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("10s")).agg(
        (col("i").max() - col("i").min()).alias("range"))
    res, late = rb.collect_all([w, w.late()])
    assert late.schema == t.schema and late.num_rows == 0
    assert res.num_rows > 0


# -- errors ---------------------------------------------------------------------------------------

def test_errors_name_the_problem():
    t = stats_table().slice(0, 10)
    with pytest.raises(rb.TypeMismatchError, match="needs a boolean column"):
        rb.from_arrow(t).group_by("k").agg(col("i").any()).collect()
    with pytest.raises(rb.TypeMismatchError, match="median"):
        rb.from_arrow(t).group_by("k").agg(col("s").median()).collect()
    with pytest.raises(ValueError, match="between 0 and 1"):
        col("i").quantile(1.5)
    with pytest.raises(ValueError, match="interpolation"):
        col("i").quantile(0.5, interpolation="cubic")
    with pytest.raises(ValueError, match="ddof"):
        col("i").std(ddof=-1)
