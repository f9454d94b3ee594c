"""sort, top_k/bottom_k, tail, explode, drop, rename and unique against Polars."""

from __future__ import annotations

import random

import polars as pl
import pyarrow as pa
import pytest

import riverbed as rb

R = random.Random(3)
N = 2000
DATA = pa.table({
    "i": [R.choice([None, *range(-50, 50)]) for _ in range(N)],
    "f": [R.choice([None, float("nan"), float("inf"), -0.0, *[R.uniform(-5, 5) for _ in range(5)]]) for _ in range(N)],
    "s": [R.choice([None, "", "a", "b", "é", "ab", "B"]) for _ in range(N)],
    "n": list(range(N)),
})


def env(p: int = 3) -> rb.Environment:
    return rb.Environment(parallelism=p, batch_size=97)


def same_rows(got: pa.Table, want: pa.Table) -> bool:
    return got.to_pylist().__repr__() == want.to_pylist().__repr__()


@pytest.mark.parametrize("by,descending,nulls_last", [
    ("i", False, False), ("i", True, True), ("f", False, False), ("f", True, False), ("f", False, True),
    ("s", True, True), (["s", "i"], [False, True], False), (["i", "f"], False, [True, False]),
])
def test_sort_matches_polars(by, descending, nulls_last) -> None:
    got = env().from_arrow(DATA).sort(by, descending=descending, nulls_last=nulls_last).collect()
    want = pl.from_arrow(DATA).sort(by, descending=descending, nulls_last=nulls_last, maintain_order=True).to_arrow()
    assert same_rows(got, want)


def test_sort_by_expression_and_filter_after_keeps_order() -> None:
    s = env().from_arrow(DATA)
    got = s.sort(rb.col("i") * -1, nulls_last=True).filter(rb.col("n") % 2 == 0).select("n").collect()
    want = pl.from_arrow(DATA).sort(pl.col("i") * -1, nulls_last=True, maintain_order=True) \
        .filter(pl.col("n") % 2 == 0).select("n").to_arrow()
    assert got["n"].to_pylist() == want["n"].to_pylist()


def test_top_k_bottom_k_tail() -> None:
    s = env().from_arrow(DATA)
    df = pl.from_arrow(DATA)
    assert s.top_k(7, by="n").collect()["n"].to_pylist() == df.top_k(7, by="n")["n"].to_list()
    assert s.bottom_k(7, by="n").collect()["n"].to_pylist() == df.bottom_k(7, by="n")["n"].to_list()
    assert s.tail(13).collect()["n"].to_pylist() == df.tail(13)["n"].to_list()
    assert s.tail(0).collect().num_rows == 0
    assert s.tail(N + 5).collect()["n"].to_pylist() == list(range(N))


def test_explode_matches_polars() -> None:
    t = pa.table({"id": [1, 2, 3, 4, 5], "l": [[1, 2], [], None, [3], [4, None, 6]],
                  "m": [["a", "b"], [], None, ["c"], ["d", "e", "f"]]})
    got = env(2).from_arrow(t).explode("l").collect()
    want = pl.from_arrow(t).explode("l").to_arrow()
    assert got.to_pylist() == want.to_pylist()
    got = env(2).from_arrow(t).explode(["l", "m"]).collect()
    assert got.to_pylist() == pl.from_arrow(t).explode(["l", "m"]).to_arrow().to_pylist()
    for opts in ({"empty_as_null": True}, {"keep_nulls": False}, {"empty_as_null": True, "keep_nulls": False}):
        got = env(2).from_arrow(t).explode("l", **opts).collect()
        assert got.to_pylist() == pl.from_arrow(t).explode("l", **opts).to_arrow().to_pylist(), opts
    words = rb.from_pydict({"line": ["a b a", "b c"]})
    wc = words.select(rb.col("line").str.split(" ").alias("w")).explode("w").group_by("w").agg(rb.count().alias("n"))
    assert sorted(wc.collect().to_pylist(), key=lambda r: r["w"]) == [
        {"w": "a", "n": 2}, {"w": "b", "n": 2}, {"w": "c", "n": 1}]
    with pytest.raises(rb.DataError, match="different lengths"):
        rb.from_pydict({"a": [[1, 2]], "b": [[1]]}).explode("a", "b").collect()
    with pytest.raises(rb.TypeMismatchError, match="explode needs list columns"):
        rb.from_pydict({"a": [1]}).explode("a").collect()


@pytest.mark.parametrize("keep", ["first", "last", "none", "any"])
def test_unique_matches_polars(keep: str) -> None:
    s = env().from_arrow(DATA)
    got = s.unique(["i", "s"], keep=keep).collect()
    want = pl.from_arrow(DATA).unique(["i", "s"], keep=keep, maintain_order=True).to_arrow()
    if keep == "any":
        keep = "first"  # riverbed's any is the first row; Polars' any is some row
        want = pl.from_arrow(DATA).unique(["i", "s"], keep=keep, maintain_order=True).to_arrow()
    assert repr(got.to_pylist()) == repr(want.to_pylist())  # whole rows, in input order
    assert got.column_names == DATA.column_names


@pytest.mark.parametrize("batch_size", [1, 3, 100])
def test_unique_last_with_repeats_inside_a_batch_matches_polars(batch_size: int) -> None:
    """A key repeated within one batch before any other key (keep="last" replaced its row
    and released the batch while the new row still pointed into it: a crash)."""
    t = pa.table({"k": ["a", "a", "b", "a", "c", "c", "c", "b"], "n": list(range(8))})
    for keep in ("last", "none", "first"):
        got = rb.Environment(parallelism=2, batch_size=batch_size).from_arrow(t).unique("k", keep=keep).collect()
        want = pl.from_arrow(t).unique("k", keep=keep, maintain_order=True).to_arrow()
        assert got.to_pylist() == want.to_pylist(), keep


def test_unique_first_runs_on_an_unbounded_stream() -> None:
    gen = rb.datagen({"k": rb.Int64}, fields={"k": {"min": 0, "max": 9}}, rows_per_second=5000)
    got = gen.unique("k").limit(10).collect()
    assert sorted(got["k"].to_pylist()) == list(range(10))
    with pytest.raises(rb.PlanError, match="needs a bounded input"):
        _ = gen.unique("k", keep="none").schema
    # keep="last" is the last-row deduplication, an updating result (test_streaming_topn.py)
    assert gen.unique("k", keep="last").schema.names == ["k", "__op"]


def test_drop_and_rename() -> None:
    s = rb.from_arrow(DATA)
    assert s.drop("f", "s").columns == ["i", "n"]
    assert s.rename({"i": "x", "n": "row"}).columns == ["x", "f", "s", "row"]
    with pytest.raises(rb.ColumnNotFoundError, match="nope"):
        s.drop("nope")
    assert s.drop("nope", strict=False).columns == DATA.column_names
    with pytest.raises(rb.ColumnNotFoundError, match="nope"):
        s.rename({"nope": "x"})


def test_sort_and_tail_need_bounded_input() -> None:
    gen = rb.datagen({"x": rb.Int64})
    with pytest.raises(rb.PlanError, match="sort needs a bounded input"):
        _ = gen.sort("x").schema
    with pytest.raises(rb.PlanError, match="tail needs a bounded input"):
        _ = gen.tail(3).schema


def test_sort_flags_that_are_not_bools_are_a_type_error() -> None:
    s = rb.from_arrow(pa.table({"k": [2, 1]}))
    with pytest.raises(TypeError, match=r"descending takes a bool or one bool per key \(1\), got 1"):
        s.sort("k", descending=1)
    with pytest.raises(ValueError, match=r"nulls_last takes a bool or one bool per key \(1\), got \[True, False\]"):
        s.sort("k", nulls_last=[True, False])


def test_top_k_of_a_negative_count_names_top_k() -> None:
    s = rb.from_arrow(pa.table({"k": [2, 1]}))
    with pytest.raises(ValueError, match="top_k takes a non-negative integer, got -1"):
        s.top_k(-1, by="k")
    with pytest.raises(ValueError, match="bottom_k takes a non-negative integer, got 1.5"):
        s.bottom_k(1.5, by="k")


@pytest.mark.parametrize("offset,length", [(0, 5), (3, 4), (4095, 3), (4090, 20), (19998, 10), (25000, 3),
                                           (-3, None), (-5, 2), (-30000, 4), (-30000, 25000), (-20001, 5),
                                           (-20000, 5), (10, None), (0, 0), (7, 0)])
def test_slice_matches_polars(offset: int, length: int | None) -> None:
    # Offsets across batch boundaries (4096 rows a batch), past the end, from the end.
    t = pa.table({"x": pa.array(range(20000), pa.int64())})
    got = rb.from_arrow(t).slice(offset, length).collect()["x"].to_pylist()
    assert got == pl.from_arrow(t).slice(offset, length)["x"].to_list()


def test_sql_limit_offset_against_duckdb() -> None:
    import duckdb
    t = pa.table({"x": pa.array(range(1000), pa.int64()), "g": [i % 7 for i in range(1000)]})
    con = duckdb.connect()
    con.register("t", t)
    for q in ["SELECT x FROM t ORDER BY x DESC LIMIT 3 OFFSET 2", "SELECT x FROM t ORDER BY x OFFSET 995",
              "SELECT g, COUNT(*) AS n FROM t GROUP BY g ORDER BY g LIMIT 2 OFFSET 5",
              "SELECT x FROM t ORDER BY x LIMIT 0 OFFSET 3", "SELECT x FROM t ORDER BY x LIMIT 5 OFFSET 2000"]:
        assert rb.sql(q, t=t).collect().to_pylist() == con.sql(q).to_arrow_table().to_pylist(), q


def test_slice_of_an_unbounded_stream_needs_a_length_or_a_positive_offset() -> None:
    gen = rb.datagen({"x": rb.Int64}, seed=1)
    assert gen.slice(5, 3).collect().num_rows == 3
    with pytest.raises(rb.PlanError, match="needs a bounded input"):
        _ = gen.slice(-2).schema
    with pytest.raises(rb.PlanError, match="slice takes an integer offset"):
        gen.slice(1.5)  # type: ignore[arg-type]
