"""Relational joins (inner, left, right, full, semi, anti, cross) against Polars (whose kinds,
null rules and output columns the API takes) and DuckDB, on edge cases and random data."""

from __future__ import annotations

import random
import re

import duckdb
import polars as pl
import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import col

KINDS = ["inner", "left", "right", "full", "semi", "anti"]


def rows(t: pa.Table) -> list[tuple]:
    return sorted(zip(*[t[c].to_pylist() for c in t.column_names]), key=repr)


def check(left: pa.Table, right: pa.Table, how: str, parallelism: int = 2, **keys) -> None:
    env = rb.Environment(parallelism=parallelism, batch_size=7)
    got = env.from_arrow(left).join(env.from_arrow(right), how=how, **keys).collect()
    want = pl.from_arrow(left).join(pl.from_arrow(right), how=how, **keys).to_arrow()
    assert got.column_names == want.column_names, (how, got.column_names, want.column_names)
    assert rows(got) == rows(want), how


LEFT = pa.table({"k": pa.array([1, 2, None, 4, 2, 7], pa.int64()), "v": list("abcdef"), "x": [1, 2, 3, 4, 5, 6]})
RIGHT = pa.table({"k": pa.array([2, 2, None, 5, 7], pa.int64()), "w": list("pqrst"), "x": [9, 8, 7, 6, 5]})


@pytest.mark.parametrize("how", KINDS)
@pytest.mark.parametrize("parallelism", [1, 3])
def test_kinds_match_polars_with_nulls_and_duplicates(how: str, parallelism: int) -> None:
    check(LEFT, RIGHT, how, parallelism, on="k")


@pytest.mark.parametrize("how", KINDS)
@pytest.mark.parametrize("parallelism", [1, 3])
def test_nulls_equal_matches_polars(how: str, parallelism: int) -> None:
    """nulls_equal=True: null keys match null keys (several of them on each side, string and
    integer keys, keys of two columns where one is null), as Polars' option."""
    left = pa.table({"k": pa.array([1, None, 2, None, 4], pa.int64()), "s": ["a", None, "b", None, "c"],
                     "v": list("vwxyz")})
    right = pa.table({"k": pa.array([None, 2, None, 5], pa.int64()), "s": [None, "b", "q", None],
                      "w": list("pqrs")})
    check(left, right, how, parallelism, on="k", nulls_equal=True)
    check(left, right, how, parallelism, on="s", nulls_equal=True)
    check(left, right, how, parallelism, on=["k", "s"], nulls_equal=True)
    for strategy in ["hash"] if how == "full" else ["broadcast", "hash"]:
        got = rb.Environment(parallelism=parallelism).from_arrow(left).join(
            rb.from_arrow(right), on="k", how=how, nulls_equal=True, strategy=strategy).collect()
        want = pl.from_arrow(left).join(pl.from_arrow(right), on="k", how=how, nulls_equal=True).to_arrow()
        assert rows(got) == rows(want), (how, strategy)
    with pytest.raises(rb.PlanError, match="nulls_equal is an option of joins on keys"):
        rb.from_arrow(left).join(rb.from_arrow(right), how="cross", nulls_equal=True)


@pytest.mark.parametrize("how", KINDS)
def test_keys_of_other_names_and_several_keys(how: str) -> None:
    right = RIGHT.rename_columns(["kk", "w", "x"])
    check(LEFT, right, how, left_on="k", right_on="kk")
    check(LEFT, RIGHT, how, on=["k", "x"])


@pytest.mark.parametrize("how", KINDS)
def test_string_keys_and_empty_inputs(how: str) -> None:
    left = pa.table({"s": ["a", "b", None, "é", "a"], "n": [1, 2, 3, 4, 5]})
    right = pa.table({"s": ["a", "é", "z"], "m": [10, 20, 30]})
    check(left, right, how, on="s")
    check(left.slice(0, 0), right, how, on="s")
    check(left, right.slice(0, 0), how, on="s")


def test_key_types_are_widened_as_in_duckdb() -> None:
    left = pa.table({"k": pa.array([1, 2, 300], pa.int16()), "a": [1, 2, 3]})
    right = pa.table({"k": pa.array([300, 2, 2**40], pa.int64()), "b": [7, 8, 9]})
    got = rb.from_arrow(left).join(rb.from_arrow(right), on="k").collect()
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    want = con.sql("select l.k, a, b from l join r on l.k = r.k").fetchall()
    assert sorted(zip(got["k"].to_pylist(), got["a"].to_pylist(), got["b"].to_pylist())) == sorted(want)


@pytest.mark.parametrize("how", KINDS)
def test_random_data_with_skew_matches_duckdb(how: str) -> None:
    r = random.Random(7)
    n = 3000
    left = pa.table({"k": [r.choice([None, 0, 0, 0] + list(range(200))) for _ in range(n)],
                     "a": list(range(n))})
    right = pa.table({"k": [r.choice([None, 0] + list(range(150, 400))) for _ in range(n // 2)],
                      "b": list(range(n // 2))})
    env = rb.Environment(parallelism=4, batch_size=256)
    got = env.from_arrow(left).join(env.from_arrow(right), on="k", how=how).collect()
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    sql = {
        "inner": "select l.k, a, b from l join r on l.k = r.k",
        "left": "select l.k, a, b from l left join r on l.k = r.k",
        "right": "select a, r.k, b from l right join r on l.k = r.k",
        "full": "select l.k, a, r.k as k_right, b from l full join r on l.k = r.k",
        "semi": "select k, a from l semi join r using (k)",
        "anti": "select k, a from l anti join r using (k)",
    }[how]
    want = con.sql(sql).fetchall()
    assert rows(got) == sorted(want, key=repr)


@pytest.mark.parametrize("how", ["inner", "left", "right", "semi", "anti"])
@pytest.mark.parametrize("strategy", ["auto", "hash", "broadcast"])
def test_broadcast_join_matches_duckdb(how: str, strategy: str) -> None:
    r = random.Random(3)
    n = 20_000
    big = pa.table({"k": [0 if r.random() < 0.4 else r.choice([None] + list(range(500))) for _ in range(n)],
                    "a": list(range(n))})
    small = pa.table({"k": [r.choice([None, 0] + list(range(250, 700))) for _ in range(300)], "b": list(range(300))})
    left, right = (small, big) if how == "right" else (big, small)
    env = rb.Environment(parallelism=3, batch_size=1000)
    s = env.from_arrow(left).join(env.from_arrow(right), on="k", how=how, strategy=strategy)
    plan = s.explain()
    if strategy != "hash":  # auto picks it: the small input is well under its threshold
        side = "left" if how == "right" else "right"
        assert f"broadcast {side}" in plan, plan
    else:
        assert "broadcast" not in plan
    got = s.collect()
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    sql = {
        "inner": "select l.k, a, b from l join r on l.k = r.k",
        "left": "select l.k, a, b from l left join r on l.k = r.k",
        "right": "select b, r.k, a from l right join r on l.k = r.k",
        "semi": "select k, a from l semi join r using (k)",
        "anti": "select k, a from l anti join r using (k)",
    }[how]
    assert rows(got) == sorted(con.sql(sql).fetchall(), key=repr)


def test_auto_broadcasts_a_small_join_output_by_its_size_hint() -> None:
    # A join's output has no row count, only a size hint (its larger input's rows): a join
    # of two small tables, met with a large one, is broadcast, not shuffled with it.
    r = random.Random(5)
    n = 50_000
    big = pa.table({"k": [r.randrange(400) for _ in range(n)], "a": list(range(n))})
    dim = pa.table({"k": list(range(0, 400, 2)), "d": [f"d{i}" for i in range(200)]})
    dim2 = pa.table({"d": [f"d{i}" for i in range(0, 200, 3)], "e": list(range(67))})
    env = rb.Environment(parallelism=2, batch_size=1000)
    small = env.from_arrow(dim).join(env.from_arrow(dim2), on="d")
    s = small.join(env.from_arrow(big), on="k")
    plan = s.explain()
    assert "join(inner, broadcast left)" in plan, plan
    con = duckdb.connect()
    for name, t in (("big", big), ("dim", dim), ("dim2", dim2)):
        con.register(name, t)
    want = con.sql("select dim.k, dim.d, e, a from dim join dim2 on dim.d = dim2.d "
                   "join big on dim.k = big.k").fetchall()
    got = s.collect()
    assert got.column_names == ["k", "d", "e", "a"]
    assert rows(got) == sorted(want, key=repr)


def test_broadcast_is_refused_where_it_would_change_the_answer(tmp_path) -> None:
    dim = rb.from_pydict({"k": [1, 2], "s": ["x", "y"]})
    with pytest.raises(rb.PlanError, match="full join cannot broadcast"):
        dim.join(dim, on="k", how="full", strategy="broadcast").collect()
    env = rb.Environment(parallelism=2, checkpoint_dir=tmp_path)
    with pytest.raises(rb.PlanError, match="broadcast join cannot be checkpointed"):
        env.from_arrow(dim.collect()).join(env.from_arrow(dim.collect()), on="k", strategy="broadcast").collect()
    with pytest.raises(ValueError, match="strategy must be"):
        dim.join(dim, on="k", strategy="merge")


def test_cross_join_matches_polars() -> None:
    left, right = LEFT.slice(0, 3), RIGHT.slice(0, 4)
    got = rb.Environment(parallelism=3).from_arrow(left).join(rb.from_arrow(right), how="cross").collect()
    want = pl.from_arrow(left).join(pl.from_arrow(right), how="cross").to_arrow()
    assert got.column_names == want.column_names
    assert rows(got) == rows(want)


def test_join_after_group_by_and_self_join() -> None:
    t = pa.table({"k": [1, 1, 2, 3, 3, 3], "v": [1, 2, 3, 4, 5, 6]})
    s = rb.Environment(parallelism=2).from_arrow(t)
    totals = s.group_by("k").agg(col("v").sum().alias("total"))
    got = s.join(totals, on="k").with_columns((col("v") / col("total")).alias("share")).collect()
    want = pl.from_arrow(t).join(pl.from_arrow(t).group_by("k").agg(pl.col("v").sum().alias("total")), on="k") \
        .with_columns((pl.col("v") / pl.col("total")).alias("share")).to_arrow()
    assert rows(got) == rows(want)
    selfj = s.join(s, on="k", how="inner").collect()
    assert rows(selfj) == rows(pl.from_arrow(t).join(pl.from_arrow(t), on="k").to_arrow())


def test_inner_join_of_an_unbounded_stream_emits_while_running() -> None:
    gen = rb.datagen({"id": rb.Int64}, fields={"id": {"kind": "sequence", "min": 0}}, rows_per_second=2000)
    dim = rb.from_pydict({"id": list(range(0, 100, 3)), "label": [f"n{i}" for i in range(0, 100, 3)]})
    got = gen.filter(col("id") < 100).join(dim, on="id").limit(20).collect()
    assert got.num_rows == 20
    assert all(i % 3 == 0 and lbl == f"n{i}" for i, lbl in zip(got["id"].to_pylist(), got["label"].to_pylist()))


def test_a_limited_input_does_not_cut_the_other_inputs_short() -> None:
    """A limit stops the sources under it once it has its rows, not the job's other
    sources: the other side of a join (or union) with a limited subquery is read to its end
    (many small batches, so that the limit has its row long before)."""
    big = pa.table({"id": pa.array(range(3000), pa.int64()), "v": [i % 7 for i in range(3000)]})
    small = pa.table({"y": pa.array([5, 1, 9, 3], pa.int64())})
    con = duckdb.connect()
    con.register("big", big)
    con.register("small", small)
    want = con.sql("SELECT * FROM big CROSS JOIN (SELECT y FROM small ORDER BY y DESC LIMIT 1)").to_arrow_table()
    for _ in range(5):
        env = rb.Environment(parallelism=2, batch_size=10)
        top = env.from_arrow(small).sort("y", descending=True).limit(1)
        got = env.from_arrow(big).join(top, how="cross").collect()
        assert rows(got) == rows(want)
        union = env.from_arrow(big).select("id").union(top.select(col("y").alias("id"))).collect()
        assert sorted(union["id"].to_pylist()) == sorted(list(range(3000)) + [9])


def test_bad_joins_are_clear_errors() -> None:
    gen = rb.datagen({"id": rb.Int64})
    dim = rb.from_pydict({"id": [1], "s": ["x"]})
    with pytest.raises(rb.PlanError, match="cross join needs bounded inputs.*datagen"):
        _ = gen.join(dim, how="cross").schema
    # A left join of an unbounded stream is an updating result (tests/test_changelog.py).
    assert gen.join(dim, on="id", how="left").schema.names == ["id", "s", "__op"]
    with pytest.raises(rb.TypeMismatchError, match="cannot join"):
        _ = dim.join(dim, left_on="id", right_on="s").schema
    with pytest.raises(ValueError, match="how must be one of.*join_window"):
        dim.join(dim, on="id", how="window")
    with pytest.raises(ValueError, match="cross join takes no keys"):
        dim.join(dim, on="id", how="cross")
    with pytest.raises(rb.ColumnNotFoundError, match="missing"):
        _ = dim.join(dim, on="missing").schema


@pytest.mark.parametrize("how", KINDS)
def test_scans_read_only_the_columns_used_after_a_join(tmp_path, how: str) -> None:
    """Projection pushdown through a join: each Parquet scan reads its keys and the columns
    used above the join; a right column that took the suffix keeps its name (the left
    column it clashed with is still read). Answers against DuckDB."""
    import pyarrow.parquet as pq

    rng = random.Random(3)
    n = 200
    left = pa.table({"k": [rng.randrange(30) for _ in range(n)], "x": list(range(n)),
                     "unused_l": ["l" * 20] * n, "v": [rng.random() for _ in range(n)]})
    right = pa.table({"k": [rng.randrange(40) for _ in range(n)], "x": list(range(n, 2 * n)),
                      "unused_r": ["r" * 20] * n, "w": [rng.randrange(5) for _ in range(n)]})
    pq.write_table(left, tmp_path / "l.parquet")
    pq.write_table(right, tmp_path / "r.parquet")
    joined = rb.read_parquet(str(tmp_path / "l.parquet")).join(rb.read_parquet(str(tmp_path / "r.parquet")),
                                                               on="k", how=how)
    cols = ["k", "v"] if how in ("semi", "anti") else ["k", "v", "x_right", "w"]
    if how == "right":
        cols = ["v", "k", "x_right", "w"]  # a right join's key is the right one
    q = joined.select(*cols)
    plan = str(q.explain())
    scans = [line for line in plan.splitlines() if "scan_parquet:" in line]
    assert len(scans) == 2 and all("unused" not in s for s in scans), plan
    if how not in ("semi", "anti"):
        assert any("columns [k, x, v]" in s for s in scans), plan  # x: the clash that names x_right
    got = q.collect()
    assert got.column_names == cols
    kind = {"full": "full outer", "semi": "semi", "anti": "anti"}.get(how, how)
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    if how in ("semi", "anti"):
        want = con.sql(f"select l.k, l.v from l {kind} join r on l.k = r.k").to_arrow_table()
    else:
        key = "r.k" if how == "right" else "l.k"  # a full join keeps both keys, as Polars (k_right unused)
        sel = f"l.v, {key} as k" if how == "right" else f"{key} as k, l.v"
        want = con.sql(f"select {sel}, r.x as x_right, r.w from l {kind} join r on l.k = r.k").to_arrow_table()
    assert rows(got) == rows(want.rename_columns(cols))


def _duckdb_where(how: str) -> str:
    on = "l.k = r.k and (l.a % 7) < (r.b % 7)"
    return {
        "inner": f"select l.k, a, b from l join r on {on}",
        "left": f"select l.k, a, b from l left join r on {on}",
        "right": f"select a, r.k, b from l right join r on {on}",
        "full": f"select l.k, a, r.k as k_right, b from l full join r on {on}",
        "semi": f"select k, a from l semi join r on {on}",
        "anti": f"select k, a from l anti join r on {on}",
    }[how]


@pytest.mark.parametrize("how,strategy", [(h, s) for h in KINDS for s in ("hash", "broadcast")
                                          if not (h == "full" and s == "broadcast")])
def test_join_condition_beyond_the_keys_matches_duckdb(how: str, strategy: str) -> None:
    """where= is the rest of SQL's ON: a pair with equal keys matches only if it holds, so
    outer joins pad the rows whose every partner fails it, semi joins drop them and anti
    joins keep them. Values with nulls make the condition NULL (false) for some pairs."""
    r = random.Random(11)
    n = 4000
    left = pa.table({"k": [r.choice([None, 0, 0] + list(range(300))) for _ in range(n)],
                     "a": [None if r.random() < 0.05 else i for i in range(n)]})
    right = pa.table({"k": [r.choice([None, 0] + list(range(100, 400))) for _ in range(n // 2)],
                      "b": [None if r.random() < 0.05 else i for i in range(n // 2)]})
    env = rb.Environment(parallelism=3, batch_size=300)
    cond = (col("a") % 7) < (col("b") % 7)
    got = env.from_arrow(left).join(env.from_arrow(right), on="k", how=how, strategy=strategy,
                                    where=cond).collect()
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    want = con.sql(_duckdb_where(how)).fetchall()
    plain = con.sql(_duckdb_where(how).replace(" and (l.a % 7) < (r.b % 7)", "")).fetchall()
    assert sorted(want, key=repr) != sorted(plain, key=repr), "the condition changes nothing: a weak check"
    assert rows(got) == sorted(want, key=repr)


def test_join_condition_names_clashing_right_columns_with_the_suffix() -> None:
    """A self-join's condition reads the right side's clashing columns with the suffix, and
    the scans still read those columns (they are not in the output of a semi join)."""
    lines = pa.table({"order": [1, 1, 2, 3, 3, 4, 4], "supp": [7, 8, 7, 5, None, 6, 6],
                      "qty": [1, 2, 3, 4, 5, 6, 7]})
    s = rb.from_arrow(lines)
    got = s.join(s, on="order", how="semi", where=col("supp") != col("supp_right")).select("order", "qty").collect()
    con = duckdb.connect()
    con.register("t", lines)
    want = con.sql("select \"order\", qty from t l1 where exists (select * from t l2 "
                   "where l2.\"order\" = l1.\"order\" and l2.supp <> l1.supp)").fetchall()
    assert rows(got) == sorted(want, key=repr) and len(want) == 2


def test_join_condition_errors_are_clear() -> None:
    a = rb.from_pydict({"k": [1], "x": [1]})
    b = rb.from_pydict({"k": [1], "y": [2]})
    with pytest.raises(rb.PlanError, match=r"z.*did you mean|not found"):
        a.join(b, on="k", how="left", where=col("z") > 0).collect()
    with pytest.raises(rb.PlanError, match="not bool"):
        a.join(b, on="k", how="left", where=col("x") + col("y")).collect()
    with pytest.raises(TypeError, match="where takes an expression"):
        a.join(b, on="k", where="x < y")  # type: ignore[arg-type]
    live = rb.nexmark(events_per_second=1000).bids()
    people = rb.nexmark(events_per_second=100).persons()
    with pytest.raises(rb.PlanError, match=r"join condition beyond the key equalities .* over unbounded"):
        live.join(people, left_on="bidder", right_on="id", how="left", where=col("price") > 10).explain()


def test_unused_select_columns_under_a_join_are_neither_computed_nor_read(tmp_path) -> None:
    """A select under a join whose outputs no one above uses drops them: neither computed
    nor their inputs read (the scan reads only what the rest needs). Answers against DuckDB."""
    import pyarrow.parquet as pq

    rng = random.Random(5)
    n = 300
    left = pa.table({"k": [rng.randrange(30) for _ in range(n)], "v": [rng.random() for _ in range(n)]})
    right = pa.table({"k": [rng.randrange(40) for _ in range(n)], "x": list(range(n)),
                      "unused_r": ["r" * rng.randrange(30) for _ in range(n)],
                      "w": [rng.randrange(5) for _ in range(n)]})
    pq.write_table(left, tmp_path / "l.parquet")
    pq.write_table(right, tmp_path / "r.parquet")
    r = rb.read_parquet(str(tmp_path / "r.parquet")).select(
        col("k").alias("rk"), (col("x") * 2).alias("x2"), col("unused_r").str.len_chars().alias("ulen"), "w")
    q = rb.read_parquet(str(tmp_path / "l.parquet")).join(r, left_on="k", right_on="rk").select("k", "v", "w")
    plan = q.explain().split("physical plan")[0]
    assert "ulen" not in plan and "x2" not in plan, plan
    scans = [line for line in plan.splitlines() if "scan_parquet:" in line]
    assert any("columns [k, w]" in s for s in scans), plan
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    want = con.sql("select l.k, l.v, r.w from l join r on l.k = r.k").to_arrow_table()
    got = q.collect()
    assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr)
    # with a use above, the column is computed again
    got = rb.read_parquet(str(tmp_path / "l.parquet")).join(r, left_on="k", right_on="rk").select("k", "ulen").collect()
    want = con.sql("select l.k, length(r.unused_r) as ulen from l join r on l.k = r.k").to_arrow_table()
    assert sorted(got.to_pylist(), key=repr) == sorted(want.to_pylist(), key=repr)


def _schema_line(plan: str, op: str) -> str:
    lines = [line for line in plan.split("physical plan")[0].splitlines()
             if re.match(rf'\s*{op}( "[^"]*")?:', line) and "see shared" not in line]
    assert len(lines) == 1, plan
    return lines[0].split("->")[-1]


@pytest.mark.parametrize("how", KINDS + ["cross"])
@pytest.mark.parametrize(("parallelism", "batch_size"), [(1, 1), (2, 16), (4, 65536)])
def test_joins_and_filters_pass_on_only_the_columns_used(how: str, parallelism: int, batch_size: int) -> None:
    """A join hands on (and gathers) only the output columns used above it, a filter only
    those used above it: the columns its condition or predicate alone reads stay behind,
    and a right column keeps the suffix of a clash with a left column no one uses.
    Answers against DuckDB."""
    rng = random.Random(11)
    n = 400
    lo = pa.array([None if i % 17 == 0 else rng.randrange(100) for i in range(n)], pa.int64())
    left = pa.table({"k": pa.array([None if i % 31 == 0 else rng.randrange(40) for i in range(n)], pa.int64()),
                     "x": list(range(n)), "lo": lo, "pad_l": ["l" * 9] * n})
    right = pa.table({"k": pa.array([None if i % 29 == 0 else rng.randrange(50) for i in range(n)], pa.int64()),
                      "x": list(range(n, 2 * n)), "at": [rng.randrange(100) for _ in range(n)], "pad_r": ["r" * 9] * n})
    env = rb.Environment(parallelism=parallelism, batch_size=batch_size)
    if how == "cross":
        left, right = left.slice(0, 60), right.slice(0, 50)
        joined = env.from_arrow(left).join(env.from_arrow(right), how="cross")
    else:
        joined = env.from_arrow(left).join(env.from_arrow(right), on="k", how=how, where=col("at") >= col("lo"))
    out = ["k", "pad_l"] if how in ("semi", "anti") else ["k", "x_right"]
    q = joined.filter(col("pad_l").str.len_chars() > 0 if how in ("semi", "anti") else col("x_right") % 3 != 0)
    q = q.select(out[0]) if how in ("semi", "anti") else q.select(*out)
    plan = q.explain()
    kept = _schema_line(plan, "filter")
    for gone in ("lo", "at", "pad_r") + (("pad_l", "x:") if how not in ("semi", "anti") else ()):
        assert gone not in kept, (gone, plan)
    if how not in ("semi", "anti", "cross"):
        assert "pad_l" not in _schema_line(plan, "join") and "lo:" not in _schema_line(plan, "join"), plan
    got = q.collect()
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    kind = {"full": "full outer"}.get(how, how)
    if how in ("semi", "anti"):
        want = con.sql(f"select l.k from l {kind} join r on l.k = r.k and r.at >= l.lo where length(l.pad_l) > 0")
    elif how == "cross":
        want = con.sql("select l.k, r.x as x_right from l cross join r where r.x % 3 <> 0")
    else:
        key = "r.k" if how == "right" else "l.k"
        want = con.sql(f"select {key} as k, r.x as x_right from l {kind} join r on l.k = r.k and r.at >= l.lo "
                       "where r.x % 3 <> 0 or (r.x is null and false)")
    assert rows(got) == sorted(want.fetchall(), key=repr) and got.num_rows > 0, how


def test_a_shared_filter_passes_on_what_any_of_its_consumers_uses() -> None:
    """A filter read by two consumers keeps the columns either uses; a count of its rows
    alone keeps the rows. Answers against DuckDB."""
    t = pa.table({"k": [i % 7 for i in range(300)], "a": list(range(300)), "b": [i * 2 for i in range(300)],
                  "c": [str(i) for i in range(300)]})
    env = rb.Environment(parallelism=2, batch_size=32)
    f = env.from_arrow(t).filter(col("a") % 5 != 1)
    sums = f.group_by("k").agg(col("a").sum().alias("sa"))
    maxes = f.group_by("k").agg(col("b").max().alias("mb"))
    q = sums.join(maxes, on="k")
    kept = _schema_line(q.explain(), "filter")
    assert "a:" in kept and "b:" in kept and "c:" not in kept, kept
    con = duckdb.connect()
    con.register("t", t)
    want = con.sql("select k, sum(a) as sa, max(b) as mb from t where a % 5 <> 1 group by k").fetchall()
    assert rows(q.collect()) == sorted(want, key=repr)
    n = env.from_arrow(t).filter(col("c").str.len_chars() == 2).group_by().agg(rb.count().alias("n")).collect()
    assert n["n"].to_pylist() == [90]


@pytest.mark.parametrize("how", ["semi", "anti"])
@pytest.mark.parametrize(("parallelism", "batch_size"), [(1, 1), (2, 64), (4, 65536)])
def test_semi_and_anti_joins_of_a_small_left_input_build_on_it(how: str, parallelism: int, batch_size: int) -> None:
    """A semi or anti join whose left input is the smaller builds on it (a mark join): the
    large right input streams past, marking keys, and is not kept. Null keys on both
    sides, duplicate keys, keys on one side only; against DuckDB."""
    rng = random.Random(21)
    left = pa.table({"k": pa.array([None if i % 11 == 0 else rng.randrange(80) for i in range(60)], pa.int64()),
                     "v": list(range(60))})
    right = pa.table({"k": pa.array([None if i % 13 == 0 else rng.randrange(40, 200) for i in range(6000)], pa.int64()),
                      "w": [rng.random() for _ in range(6000)]})
    env = rb.Environment(parallelism=parallelism, batch_size=batch_size)
    got = env.from_arrow(left).join(env.from_arrow(right), on="k", how=how, strategy="hash").collect()
    con = duckdb.connect()
    con.register("l", left)
    con.register("r", right)
    want = con.sql(f"select l.k, l.v from l {how} join r on l.k = r.k").fetchall()
    assert rows(got) == sorted(want, key=repr)
    assert 5 < len(want) < 55, len(want)  # both outcomes occur


def test_an_empty_suffix_is_used_as_given():
    # suffix="" is not replaced by "_right": names that then clash are an error (Polars
    # raises DuplicateError); without a clash the right columns keep their names.
    left = rb.from_arrow(pa.table({"k": [1, 2], "v": [10, 20]}))
    right = rb.from_arrow(pa.table({"k": [1, 2], "w": [5, 6]}))
    with pytest.raises(rb.PlanError, match='the right column "v" clashes with a left column even with the suffix ""'):
        left.join(rb.from_arrow(pa.table({"k": [1], "v": [1]})), on="k", suffix="").collect()
    got = left.join(right, on="k", how="full", suffix="_r").collect()
    assert got.column_names == ["k", "v", "k_r", "w"]
    assert left.join(right, on="k", suffix="").collect().column_names == ["k", "v", "w"]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_a_right_join_of_a_left_input_of_keys_only(parallelism):
    # The left input has only its key, which a right join drops: the output is the right
    # columns (it panicked on a column count mismatch). Oracle: Polars.
    env = rb.Environment(parallelism=parallelism)
    left, right = {"id": [1, 2, 3, 3]}, {"id": [2, 3, 4], "x": [20, 30, 40]}
    for how in ("right", "full"):
        got = env.from_pydict(left).join(env.from_pydict(right), on="id", how=how).collect()
        want = pl.DataFrame(left).join(pl.DataFrame(right), on="id", how=how).to_arrow()
        assert got.column_names == want.column_names
        key = [(c, "ascending") for c in got.column_names]
        assert got.sort_by(key).to_pylist() == want.sort_by(key).to_pylist()


def test_join_on_durations_of_different_units():
    # duration[ms] meets duration[us] in the finer unit, as timestamps of different units
    # do (DuckDB's answer; it has one interval type).
    left = pa.table({"d": pa.array([1, 2, 3, None], pa.duration("ms")), "l": [1, 2, 3, 4]})
    right = pa.table({"e": pa.array([1000, 2000, 2500, None], pa.duration("us")), "r": [10, 20, 30, 40]})
    for how in ("inner", "left", "full"):
        got = rb.from_arrow(left).join(rb.from_arrow(right), left_on="d", right_on="e", how=how).collect()
        con = duckdb.connect()
        con.register("lt", left)
        con.register("rt", right)
        want = con.sql(f"SELECT l, r FROM lt {how.upper()} JOIN rt ON d = e").fetchall()
        assert sorted(((r["l"], r["r"]) for r in got.to_pylist()), key=str) == sorted(want, key=str), how
    both = pa.table({"d": left["d"], "e": right["e"]})
    got = rb.from_arrow(both).select((col("d") < col("e")).alias("lt")).collect()["lt"].to_pylist()
    assert got == [False, False, False, None]  # 1 ms < 1000 us? no; 3 ms < 2500 us? no
