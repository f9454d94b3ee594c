"""Polars' LazyFrame methods on a Stream (sum, mean, ..., cast, drop_nulls, fill_null,
fill_nan, with_row_index, pipe), checked against Polars running the same method on the same
data (and DuckDB for the aggregations, in test_aggregations.py)."""

from __future__ import annotations

import datetime as dt
import math
import random
import re

import polars as pl
import pyarrow as pa
import pytest

import riverbed as rb
from conftest import values_equal
from riverbed import col


def table(n: int = 3000, seed: int = 7) -> pa.Table:
    rng = random.Random(seed)

    def maybe(v):
        return None if rng.random() < 0.15 else v

    return pa.table({
        "i": pa.array([maybe(rng.randint(-50, 50)) for _ in range(n)], pa.int64()),
        "f": pa.array([maybe(rng.choice([rng.uniform(-5, 5), float("nan")])) for _ in range(n)], pa.float64()),
        "s": pa.array([maybe(rng.choice("abcde")) for _ in range(n)], pa.string()),
        "b": pa.array([maybe(rng.random() < 0.5) for _ in range(n)], pa.bool_()),
        "d": pa.array([maybe(dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 90))) for _ in range(n)],
                      pa.date32()),
    })


def rows_equal(got: pa.Table, want: pl.DataFrame, ordered: bool = True) -> None:
    assert got.column_names == want.columns
    g = [tuple(r.values()) for r in got.to_pylist()]
    w = [tuple(r.values()) for r in want.to_dicts()]
    if not ordered:
        key = lambda r: tuple((v is None, repr(v)) for v in r)  # noqa: E731
        g, w = sorted(g, key=key), sorted(w, key=key)
    assert len(g) == len(w)
    bad = [(a, b) for a, b in zip(g, w) if not all(values_equal(x, y, 1e-9) for x, y in zip(a, b))]
    assert not bad, bad[:3]


@pytest.mark.parametrize("value", [0, 1.5, "zz", True, dt.date(2000, 1, 1)], ids=repr)
def test_fill_null_fills_the_columns_the_value_suits(env, value):
    t = table()
    got = env.from_arrow(t).fill_null(value).collect()
    if isinstance(value, float):  # Polars makes the integer columns float; riverbed leaves them
        want = pl.from_arrow(t).with_columns(pl.col("f").fill_null(value))
    else:
        want = pl.from_arrow(t).fill_null(value)
    rows_equal(got, want, ordered=False)
    assert got.schema.field("i").type == pa.int64()


def test_fill_nan_and_drop_nulls(env):
    t = table()
    s = env.from_arrow(t)
    rows_equal(s.fill_nan(-1.0).collect(), pl.from_arrow(t).fill_nan(-1.0), ordered=False)
    rows_equal(s.drop_nulls().collect(), pl.from_arrow(t).drop_nulls(), ordered=False)
    rows_equal(s.drop_nulls(["i", "s"]).collect(), pl.from_arrow(t).drop_nulls(["i", "s"]), ordered=False)
    with pytest.raises(rb.ColumnNotFoundError, match="drop_nulls: no column 'zz'"):
        s.drop_nulls("zz")


def test_cast_one_type_or_a_mapping(env):
    t = table().select(["i", "f", "b"])
    s = env.from_arrow(t)
    rows_equal(s.cast({"i": rb.Float64, "b": rb.Int8}).collect(),
               pl.from_arrow(t).cast({"i": pl.Float64, "b": pl.Int8}), ordered=False)
    got = s.cast(rb.String).collect()
    assert all(f.type == pa.string() for f in got.schema)
    assert got["i"].to_pylist() == [None if v is None else str(v) for v in t["i"].to_pylist()]
    with pytest.raises(rb.ColumnNotFoundError, match="cast: no column 'x'"):
        s.cast({"x": rb.Int64})


@pytest.mark.parametrize("offset", [0, 10])
def test_with_row_index_numbers_rows_in_input_order(env, offset):
    t = table()
    got = env.from_arrow(t).filter(col("i") > 0).with_row_index("n", offset=offset).collect()
    want = pl.from_arrow(t).filter(pl.col("i") > 0).with_row_index("n", offset=offset)
    assert got.schema.field("n").type == pa.uint32()
    rows_equal(got, want, ordered=False)
    assert sorted(got["n"].to_pylist()) == list(range(offset, offset + got.num_rows))
    with pytest.raises(rb.PlanError, match="already has a column 'i'"):
        env.from_arrow(t).with_row_index("i")


def test_frame_aggregations_match_polars(env):
    # without NaN: riverbed's min/max order NaN above every number, as DuckDB (Polars' skip it)
    t = table()
    f = t["f"].to_pylist()
    t = t.set_column(1, "f", pa.array([0.5 if v is not None and math.isnan(v) else v for v in f], pa.float64()))
    s, p = env.from_arrow(t), pl.from_arrow(t)
    for method in ["sum", "mean", "median", "std", "var", "min", "max", "null_count"]:
        got = getattr(s, method)().collect()
        want = getattr(p, method)()
        assert got.column_names == want.columns, method
        for name in got.column_names:
            g, w = got[name][0].as_py(), want[name][0]
            if name == "d" and method in ("sum", "mean", "median", "std", "var"):
                assert g is None, method  # Polars gives a mean / median date; riverbed's are of numbers only
                continue
            if isinstance(w, float) and isinstance(g, float) and math.isnan(w):
                assert math.isnan(g), (method, name)
                continue
            assert values_equal(g, w, 1e-9) or (g == w), (method, name, g, w)


def test_pipe_collect_schema_len_and_coalesce(env):
    s = env.from_pydict({"a": [1, None, 3], "b": [None, 5, None]})
    assert s.pipe(lambda x, k: x.with_columns((col("a") * k).alias("a")), 2).collect()["a"].to_pylist() == [2, None, 6]
    assert s.collect_schema() == s.schema
    assert s.select(rb.len()).collect().to_pylist() == [{"len": 3}]
    got = s.select(rb.coalesce("a", "b", 0).alias("c")).collect()["c"].to_pylist()
    want = pl.DataFrame({"a": [1, None, 3], "b": [None, 5, None]}).select(pl.coalesce("a", "b", 0))["a"].to_list()
    assert sorted(got) == sorted(want)


def test_numeric_frame_aggregations_give_null_for_nested_columns(env):
    t = pa.table({"v": [1, 2], "l": pa.array([[1], None]), "st": pa.array([{"x": 1}, None])})
    got = env.from_arrow(t).sum().collect().to_pylist()
    assert got == [{"v": 3, "l": None, "st": None}]
    assert env.from_arrow(t).null_count().collect().to_pylist() == [{"v": 0, "l": 1, "st": 1}]


@pytest.mark.parametrize("rows", [3000, 0], ids=["rows", "empty"])
def test_describe_matches_polars(env, rows):
    t = table().slice(0, rows)
    f = t["f"].to_pylist()  # without NaN: riverbed orders it above every number, Polars skips it
    t = t.set_column(1, "f", pa.array([0.5 if v is not None and math.isnan(v) else v for v in f], pa.float64()))
    got = env.from_arrow(t).describe()
    want = pl.from_arrow(t).describe()
    assert got.column_names == want.columns
    assert got["statistic"].to_pylist() == want["statistic"].to_list()
    for name in ["i", "f", "b", "s"]:
        assert got.schema.field(name).type == (pa.string() if name == "s" else pa.float64())
        g, w = got[name].to_pylist(), want[name].to_list()
        assert all(values_equal(x, y, 1e-9) for x, y in zip(g, w)), (name, g, w)
    # dates: count, null count, min and max as Polars; the mean and percentiles only Polars gives
    g, w = got["d"].to_pylist(), want["d"].to_list()
    for stat in ["count", "null_count", "min", "max"]:
        k = got["statistic"].to_pylist().index(stat)
        assert g[k] == w[k], (stat, g[k], w[k])


def test_horizontal_functions_match_polars(env):
    rng = random.Random(11)
    n = 2000

    def maybe(v):
        return None if rng.random() < 0.3 else v

    data = {"x": [maybe(rng.randint(-9, 9)) for _ in range(n)], "y": [maybe(rng.uniform(-9, 9)) for _ in range(n)],
            "z": [maybe(rng.randint(-9, 9)) for _ in range(n)],
            "p": [maybe(rng.random() < 0.5) for _ in range(n)], "q": [maybe(rng.random() < 0.5) for _ in range(n)],
            "r": [maybe(rng.random() < 0.5) for _ in range(n)], "id": list(range(n))}
    t = pa.table(data)
    got = env.from_arrow(t).select(
        "id", rb.sum_horizontal("x", "y", "z").alias("s"), rb.sum_horizontal("x", "z").alias("si"),
        rb.max_horizontal("x", "y", "z").alias("mx"), rb.min_horizontal(["x", "y"], "z").alias("mn"),
        rb.mean_horizontal("x", col("y"), "z").alias("m"), rb.any_horizontal("p", "q", "r").alias("any"),
        rb.all_horizontal("p", "q", "r").alias("all")).collect().sort_by("id")
    want = pl.from_arrow(t).select(
        "id", pl.sum_horizontal("x", "y", "z").alias("s"), pl.sum_horizontal("x", "z").alias("si"),
        pl.max_horizontal("x", "y", "z").alias("mx"), pl.min_horizontal("x", "y", "z").alias("mn"),
        pl.mean_horizontal("x", "y", "z").alias("m"), pl.any_horizontal("p", "q", "r").alias("any"),
        pl.all_horizontal("p", "q", "r").alias("all"))
    rows_equal(got, want)
    assert got.schema.field("si").type == pa.int64() and got.schema.field("m").type == pa.float64()
    assert env.from_arrow(t).select(rb.sum_horizontal("x", "y")).columns == ["x"]
    with pytest.raises(rb.PlanError, match="max_horizontal needs at least one expression"):
        rb.max_horizontal()


def test_min_and_max_horizontal_of_many_columns_and_types_match_polars(env):
    """min_/max_horizontal over 64 columns (each evaluated once: the plan grows with the
    columns), over strings and dates, and a literal among columns, against Polars."""
    rng = random.Random(13)
    n = 500
    cols = {f"c{i}": [None if rng.random() < 0.2 else rng.randint(-10**6, 10**6) for _ in range(n)]
            for i in range(64)}
    cols["s1"] = [rng.choice(["b", "a", None, "ç", "aa"]) for _ in range(n)]
    cols["s2"] = [rng.choice(["b", None, "z"]) for _ in range(n)]
    cols["d1"] = [None if rng.random() < 0.3 else dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 99))
                  for _ in range(n)]
    cols["d2"] = [dt.date(2024, 2, 1)] * n
    cols["id"] = list(range(n))
    t = pa.table(cols)
    wide = [f"c{i}" for i in range(64)]
    got = env.from_arrow(t).select(
        "id", rb.min_horizontal(wide).alias("mn"), rb.max_horizontal(wide).alias("mx"),
        rb.min_horizontal("s1", "s2").alias("smn"), rb.max_horizontal("s1", "s2").alias("smx"),
        rb.min_horizontal("d1", "d2").alias("dmn"), rb.max_horizontal("c0", rb.lit(0)).alias("lit")
    ).collect().sort_by("id")
    want = pl.from_arrow(t).select(
        "id", pl.min_horizontal(wide).alias("mn"), pl.max_horizontal(wide).alias("mx"),
        pl.min_horizontal("s1", "s2").alias("smn"), pl.max_horizontal("s1", "s2").alias("smx"),
        pl.min_horizontal("d1", "d2").alias("dmn"), pl.max_horizontal("c0", pl.lit(0)).alias("lit"))
    rows_equal(got, want)
    with pytest.raises(rb.RiverbedError, match="cannot be compared with the expressions before it"):
        env.from_arrow(t).select(rb.min_horizontal("c1", "s1")).collect()


def test_polars_named_expressions_match_polars(env):
    rng = random.Random(5)
    n = 1500

    def maybe(v):
        return None if rng.random() < 0.2 else v

    t = pa.table({
        "id": list(range(n)),
        "f": pa.array([maybe(rng.choice([rng.uniform(-5, 5), float("inf"), float("-inf"), float("nan")]))
                       for _ in range(n)], pa.float64()),
        "i": pa.array([maybe(rng.randint(-20, 20)) for _ in range(n)], pa.int64()),
        "s": pa.array([maybe(rng.choice(["Äpfel", "birne", "KIWI", "", "x1"])) for _ in range(n)]),
        "n": pa.array([maybe(str(rng.randint(-999, 999))) for _ in range(n)]),
        "b": pa.array([maybe(rng.random() < 0.5) for _ in range(n)]),
        "ts": pa.array([maybe(dt.datetime(1896 + rng.randint(0, 210), 1 + rng.randint(0, 11), 1 + rng.randint(0, 27),
                                          rng.randint(0, 23), 0, 0, rng.randint(0, 999_999))) for _ in range(n)],
                       pa.timestamp("us")),
    })
    got = env.from_arrow(t).select(
        "id", col("f").is_finite().alias("fin"), col("f").is_infinite().alias("inf"),
        col("f").is_not_nan().alias("nn"), col("i").mod(7).alias("mod"), col("i").floordiv(3).alias("fd"),
        col("b").not_().alias("not"), col("s").str.to_lowercase().alias("lo"), col("s").str.to_uppercase().alias("up"),
        col("s").str.head(2).alias("h"), col("s").str.tail(2).alias("t"), col("n").str.to_integer().alias("int"),
        col("ts").dt.millisecond().alias("ms"), col("ts").dt.microsecond().alias("us"),
        col("ts").dt.is_leap_year().alias("leap"), col("i").is_duplicated().alias("dup"),
        col("s").is_unique().alias("uniq")).collect().sort_by("id")
    want = pl.from_arrow(t).select(
        "id", pl.col("f").is_finite().alias("fin"), pl.col("f").is_infinite().alias("inf"),
        pl.col("f").is_not_nan().alias("nn"), pl.col("i").mod(7).alias("mod"), pl.col("i").floordiv(3).alias("fd"),
        pl.col("b").not_().alias("not"), pl.col("s").str.to_lowercase().alias("lo"),
        pl.col("s").str.to_uppercase().alias("up"), pl.col("s").str.head(2).alias("h"),
        pl.col("s").str.tail(2).alias("t"), pl.col("n").str.to_integer().alias("int"),
        pl.col("ts").dt.millisecond().alias("ms"), pl.col("ts").dt.microsecond().alias("us"),
        pl.col("ts").dt.is_leap_year().alias("leap"), pl.col("i").is_duplicated().alias("dup"),
        pl.col("s").is_unique().alias("uniq"))
    rows_equal(got, want)
    nulls = env.from_arrow(t).select(col("f").null_count(), col("s").null_count()).collect().to_pylist()
    assert nulls == [{"f": t["f"].null_count, "s": t["s"].null_count}]
    names = env.from_arrow(t).select(col("i").is_duplicated(), col("s").is_unique()).columns
    assert names == ["i", "s"]


@pytest.mark.parametrize("n", [1, 2, -1])
def test_diff_matches_polars(env, n):
    rng = random.Random(n + 10)
    rows = 1200
    t = pa.table({
        "id": list(range(rows)),
        "k": [rng.choice("abc") for _ in range(rows)],
        "t": rng.sample(range(10 * rows), rows),
        "x": pa.array([None if rng.random() < 0.1 else rng.randint(-100, 100) for _ in range(rows)], pa.int64()),
        "ts": pa.array([dt.datetime(2024, 1, 1) + dt.timedelta(seconds=rng.randint(0, 10**6)) for _ in range(rows)],
                       pa.timestamp("us")),
    })
    got = env.from_arrow(t).select(
        "id", col("x").diff(n).alias("d"), col("x").diff(n).over("k", order_by="t").alias("dk"),
        col("ts").diff(n).over("k", order_by="t").alias("dts"), col("x").pct_change(n).alias("p"),
        col("x").pct_change(n).over("k", order_by="t").alias("pk")).collect().sort_by("id")
    want = pl.from_arrow(t).select(
        "id", pl.col("x").diff(n).alias("d"), pl.col("x").diff(n).over("k", order_by="t").alias("dk"),
        pl.col("ts").diff(n).over("k", order_by="t").alias("dts"), pl.col("x").pct_change(n).alias("p"),
        pl.col("x").pct_change(n).over("k", order_by="t").alias("pk"))
    rows_equal(got, want)
    assert got.schema.field("dts").type == pa.duration("us")


@pytest.mark.parametrize("how", ["vertical", "vertical_relaxed", "diagonal"])
def test_concat_matches_polars(env, how):
    a = pa.table({"id": [1, 2, 3], "x": pa.array([1, None, 3], pa.int32()), "s": ["a", None, "c"]})
    if how == "vertical":
        b = pa.table({"id": [4, 5], "x": pa.array([7, 8], pa.int32()), "s": ["d", "e"]})
    elif how == "vertical_relaxed":
        b = pa.table({"id": [4, 5], "x": pa.array([7.5, None], pa.float64()), "s": ["d", "e"]})
    else:
        b = pa.table({"z": [True, None], "id": [4, 5], "x": pa.array([7, 8], pa.int32())})
    got = rb.concat([env.from_arrow(a), env.from_arrow(b)], how=how).collect().sort_by("id")
    want = pl.concat([pl.from_arrow(a), pl.from_arrow(b)], how=how)
    rows_equal(got, want)
    assert got.schema.field("x").type == (pa.float64() if how == "vertical_relaxed" else pa.int32())


def test_concat_refuses_what_it_cannot_join(env):
    a, b = env.from_pydict({"x": [1]}), env.from_pydict({"x": ["s"]})
    with pytest.raises(rb.TypeMismatchError, match=r"concat: column 'x' has types \['int64', 'string'\]"):
        rb.concat([a, b], how="vertical_relaxed")
    with pytest.raises(rb.SchemaError, match="union: input 1 has columns"):
        rb.concat([a, b]).collect()
    with pytest.raises(rb.PlanError, match='how must be "vertical"'):
        rb.concat([a, b], how="horizontal")


def test_unpivot_matches_polars(env):
    t = pa.table({"id": [1, 2, 3], "g": ["p", "q", "p"], "a": pa.array([1, None, 3], pa.int32()),
                  "b": pa.array([0.5, 1.5, None]), "c": pa.array([7, 8, 9], pa.int64())})
    s, p = env.from_arrow(t), pl.from_arrow(t)
    key = ["variable", "id"]
    got = s.unpivot(["a", "b", "c"], index=["id", "g"]).collect().sort_by([(k, "ascending") for k in key])
    want = p.unpivot(["a", "b", "c"], index=["id", "g"]).sort(key)
    rows_equal(got, want)
    got = s.unpivot(index=["id", "g"], variable_name="k", value_name="v").collect()
    want = p.unpivot(index=["id", "g"], variable_name="k", value_name="v")
    rows_equal(got, want, ordered=False)
    with pytest.raises(rb.TypeMismatchError, match=r"unpivot: the columns \['g', 'a', 'b', 'c'\] have types"):
        s.unpivot(index="id")  # g is text, the others numbers: Polars casts them all to text
    with pytest.raises(rb.ColumnNotFoundError, match="unpivot: no column 'zz'"):
        s.unpivot(["zz"])


def test_reverse_matches_polars(env):
    t = table()
    rows_equal(env.from_arrow(t).filter(col("i") > 0).reverse().collect(),
               pl.from_arrow(t).filter(pl.col("i") > 0).reverse())


def test_iso_week_and_year_match_polars(env):
    days = [dt.date(1890, 1, 1) + dt.timedelta(days=d) for d in range(0, 250 * 366, 3)]
    days += [dt.date(y, m, d) for y in range(1990, 2040) for m, d in ((1, 1), (1, 2), (1, 3), (1, 4), (12, 28),
                                                                      (12, 29), (12, 30), (12, 31))]
    t = pa.table({"d": pa.array(days, pa.date32()),
                  "ts": pa.array([dt.datetime.combine(x, dt.time(23, 59)) for x in days], pa.timestamp("us"))})
    got = env.from_arrow(t).select("d", col("d").dt.week().alias("w"), col("d").dt.iso_year().alias("y"),
                                   col("ts").dt.week().alias("tw")).collect()
    want = pl.from_arrow(t).select("d", pl.col("d").dt.week().cast(pl.Int32).alias("w"),
                                   pl.col("d").dt.iso_year().alias("y"),
                                   pl.col("ts").dt.week().cast(pl.Int32).alias("tw"))
    rows_equal(got, want, ordered=False)


def test_whole_input_methods_refuse_an_unbounded_stream():
    s = rb.Environment(parallelism=1).datagen({"x": rb.Int64})
    for what, call in [("describe()", s.describe), ("with_row_index()", s.with_row_index), ("reverse()", s.reverse)]:
        with pytest.raises(rb.PlanError, match=rf"{re.escape(what)} needs a bounded stream .* unbounded"):
            call()


@pytest.mark.parametrize("method", ["len", "sum", "mean", "median", "std", "var", "min", "max", "first", "last",
                                    "n_unique"])
def test_group_by_methods_match_polars(env, method):
    t = table().drop_columns(["d"])
    f = t["f"].to_pylist()  # without NaN: riverbed's min/max order it above every number, Polars' skip it
    t = t.set_column(1, "f", pa.array([0.5 if v is not None and math.isnan(v) else v for v in f], pa.float64()))
    t = t.filter(pa.compute.is_valid(t["s"]))
    got = getattr(env.from_arrow(t).group_by("s"), method)().collect()
    p = pl.from_arrow(t).group_by("s")
    if method in ("first", "last"):  # Polars' first/last take nulls; riverbed's skip them, as Polars' with ignore_nulls
        want = p.agg(getattr(pl.all(), method)(ignore_nulls=True))
    elif method == "n_unique":  # Polars counts a null as a value; riverbed's n_unique as SQL's count(DISTINCT)
        want = p.agg(pl.all().drop_nulls().n_unique())
    elif method in ("std", "var"):  # Polars' GroupBy has no std/var methods: its agg of them
        want = p.agg(getattr(pl.all(), method)())
    else:
        want = getattr(p, method)()
    rows_equal(got.select(want.columns), want, ordered=False)


def test_constants_beside_aggregations_in_agg(env):
    s = env.from_pydict({"k": [1, 1, 2], "x": [1, 2, 3]})
    got = s.group_by("k").agg(col("x").sum(), rb.lit("c").alias("tag"),
                              rb.lit(None).cast(rb.Int32).alias("z")).collect()
    assert sorted(got.to_pylist(), key=lambda r: r["k"]) == [{"k": 1, "x": 3, "tag": "c", "z": None},
                                                            {"k": 2, "x": 3, "tag": "c", "z": None}]
    assert got.schema.field("z").type == pa.int32()
    only = s.group_by("k").agg(rb.lit(1).alias("one")).collect()
    assert sorted(only.to_pylist(), key=lambda r: r["k"]) == [{"k": 1, "one": 1}, {"k": 2, "one": 1}]


@pytest.mark.parametrize("limit", [None, 0, 1, 3])
def test_forward_and_backward_fill_match_polars(env, limit):
    """forward_fill / backward_fill (and fill_null(strategy=...), on a column and on the
    whole frame) over the whole input in input order and within partitions in order_by
    order, with and without a limit, for numbers, strings, booleans and dates, against
    Polars."""
    rng = random.Random(31 if limit is None else limit)
    rows = 1500
    base = table(rows, seed=5)
    t = base.append_column("id", pa.array(range(rows), pa.int64())) \
        .append_column("k", pa.array([rng.choice("abc") for _ in range(rows)])) \
        .append_column("t", pa.array(rng.sample(range(10 * rows), rows), pa.int64()))
    exprs = []
    for c in ["i", "f", "s", "b", "d"]:
        exprs += [(f"{c}_ff", lambda e, c=c: e(c).forward_fill(limit)),
                  (f"{c}_bf", lambda e, c=c: e(c).backward_fill(limit)),
                  (f"{c}_ffk", lambda e, c=c: e(c).forward_fill(limit).over("k", order_by="t")),
                  (f"{c}_bfk", lambda e, c=c: e(c).backward_fill(limit).over("k", order_by="t")),
                  (f"{c}_fns", lambda e, c=c: e(c).fill_null(strategy="forward", limit=limit))]
    got = env.from_arrow(t).select("id", *[f(col).alias(n) for n, f in exprs]).collect().sort_by("id")
    want = pl.from_arrow(t).select("id", *[f(pl.col).alias(n) for n, f in exprs])
    rows_equal(got, want)
    got = env.from_arrow(t).fill_null(strategy="backward", limit=limit).collect().sort_by("id")
    rows_equal(got, pl.from_arrow(t).fill_null(strategy="backward", limit=limit))


def test_fill_strategies_refuse_what_they_cannot_do():
    s = rb.from_pydict({"x": [1, None]})
    with pytest.raises(rb.PlanError, match="strategy must be 'forward' or 'backward'"):
        s.select(col("x").fill_null(strategy="mean"))
    with pytest.raises(rb.PlanError, match="a value or a strategy, not both"):
        s.select(col("x").fill_null(0, strategy="forward"))
    with pytest.raises(rb.PlanError, match="limit must be a count of rows"):
        s.select(col("x").forward_fill(-1))


@pytest.mark.parametrize("case", ["mapping", "lists", "scalar new", "one old", "strings", "no match"])
def test_replace_matches_polars(env, case):
    """Expr.replace (unmatched values and nulls stay) and replace_strict with a default and a
    return_dtype, against Polars on the same data."""
    t = table(800, seed=9)
    i, s = col("i"), col("s")
    pi, ps = pl.col("i"), pl.col("s")
    args = {"mapping": ("i", {1: 100, -2: 200, 7: -7}), "lists": ("i", ([1, 2, 3], [10, 20, 30])),
            "scalar new": ("i", ([4, 5, 6], 0)), "one old": ("i", (0, 99)),
            "strings": ("s", {"a": "A", "c": "see"}), "no match": ("s", {"zz": "y"})}[case]
    c, a = args
    ours = (col(c).replace(a) if isinstance(a, dict) else col(c).replace(*a))
    theirs = (pl.col(c).replace(a) if isinstance(a, dict) else pl.col(c).replace(*a))
    got = env.from_arrow(t).select(ours).collect()
    want = pl.from_arrow(t).select(theirs)
    rows_equal(got, want)
    wt = want.to_arrow().schema.field(c).type
    assert got.schema.field(c).type == (pa.string() if wt == pa.large_string() else wt)  # Polars: large_string
    if c == "s":
        mapping = a if isinstance(a, dict) else dict(zip(*a))
        got = env.from_arrow(t).select(s.replace_strict(mapping, default="other")).collect()
        want = pl.from_arrow(t).select(ps.replace_strict(mapping, default="other"))
        rows_equal(got, want)
    else:
        got = env.from_arrow(t).select(i.replace_strict(*((a,) if isinstance(a, dict) else a), default=-1,
                                                        return_dtype=rb.Float64)).collect()
        want = pl.from_arrow(t).select(pi.replace_strict(*((a,) if isinstance(a, dict) else a), default=-1,
                                                         return_dtype=pl.Float64))
        rows_equal(got, want)
        assert got.schema.field("i").type == pa.float64()


def test_replace_strict_without_default_fails_on_an_unknown_value():
    s = rb.from_pydict({"x": ["a", "b", None]})
    assert s.select(col("x").replace_strict({"a": 1, "b": 2})).collect()["x"].to_pylist() == [1, 2, None]
    with pytest.raises(rb.DataError, match="replace_strict: a value of x is not among the old values"):
        s.select(col("x").replace_strict({"a": 1})).collect()
    with pytest.raises(rb.PlanError, match="2 old values but 1 new ones"):
        s.select(col("x").replace(["a", "b"], ["c"]))
    with pytest.raises(rb.PlanError, match="fill nulls with fill_null"):
        s.select(col("x").replace(None, "z"))
