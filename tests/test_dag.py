"""Plans are DAGs: a stream used in several places is computed once and fanned out, one job
can have several outputs (``rb.collect_all``), and a window's late rows come from the same
run as its results. Oracles: DuckDB, pyarrow and plain Python."""
from __future__ import annotations

import json
from collections import Counter

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import riverbed as rb
import window_reference as ref
from riverbed import _lib, col
from test_windows import (
    BOUND,
    LATENESS,
    REF_AGGS,
    ROWS,
    SPECS,
    TABLE,
    B,
    assert_results_equal,
    final_rows,
    late_multiset,
    rb_aggs,
    streaming_env,
)


@pytest.fixture(scope="module")
def trades(tmp_path_factory):
    d = tmp_path_factory.mktemp("dag")
    n = 5000
    t = pa.table({"id": pa.array(range(n), pa.int64()),
                  "sym": pa.array([["a", "b", "c"][i % 3] for i in range(n)]),
                  "price": pa.array([float((i * 37) % 101) for i in range(n)]),
                  "ts": pa.array([1_700_000_000_000 + i * 250 for i in range(n)], pa.timestamp("ms"))})
    pq.write_table(t, d / "t.parquet", row_group_size=700)
    return t, str(d / "t.parquet")


def test_self_join_of_one_source_matches_duckdb():
    import duckdb

    n = 400
    t = pa.table({"k": pa.array([i % 7 for i in range(n)], pa.int64()),
                  "a": pa.array(range(n), pa.int64()),
                  "ts": pa.array([1_700_000_000_000 + i * 100 for i in range(n)], pa.timestamp("ms"))})
    s = rb.Environment(parallelism=2).from_arrow(t, event_time="ts")
    out = s.join_interval(s, on="k", lower="-2s", upper="1s").collect(progress=False)
    want = duckdb.sql("""select l.a as la, r.a as ra from t l join t r on l.k = r.k
                         and r.ts between l.ts - interval 2 second and l.ts + interval 1 second""").fetchall()
    right_a = [c for c in out.column_names if c != "a" and c.startswith("a")][0]
    got = sorted(zip(out.column("a").to_pylist(), out.column(right_a).to_pylist()))
    assert got == sorted(want)
    assert len(got) > n  # every row pairs with itself and its neighbours of the same key


def test_union_of_two_filters_reads_the_scan_once(trades):
    t, path = trades
    env = rb.Environment(parallelism=2)
    s = env.read_parquet(path)
    u = s.filter(col("price") < 30).union(s.filter(col("price") > 80))
    text = u.explain()
    physical = text.split("physical plan:")[1]
    assert physical.count("scan_parquet") == 1, text
    assert "[shared #1]" in text and "see shared #1" in text
    job = u.start()
    got = pa.Table.from_batches(list(job.results(timeout="60s")), schema=job.schema)
    assert job.wait(timeout=60)
    want = pc.filter(t, pc.or_(pc.less(t["price"], 30), pc.greater(t["price"], 80)))
    assert sorted(got.column("id").to_pylist()) == sorted(want.column("id").to_pylist())
    ops = job.metrics(as_dict=True)
    scans = {(m["operator"], m["stage"]) for m in ops if m["operator"].startswith("scan_parquet")}
    assert len(scans) == 1, ops
    assert sum(m["records_out"] for m in ops if m["operator"].startswith("scan_parquet")) == t.num_rows


def test_collect_all_returns_each_output(trades):
    import duckdb

    t, path = trades
    s = rb.read_parquet(path)
    agg, cheap, top = rb.collect_all([
        s.group_by("sym").agg(rb.count().alias("n"), col("price").sum().alias("total")),
        s.filter(col("price") < 5).select("id", "price"),
        s.limit(3),
    ])
    want = duckdb.sql("select sym, count(*) n, sum(price) total from t group by sym order by sym").fetchall()
    assert sorted(agg.to_pylist(), key=lambda r: r["sym"]) == [
        {"sym": a, "n": b, "total": c} for a, b, c in want]
    assert sorted(cheap.column("id").to_pylist()) == [r["id"] for r in t.to_pylist() if r["price"] < 5]
    assert top.num_rows == 3
    assert rb.collect_all([]) == []


def test_collect_all_of_a_stream_and_an_empty_output():
    s = rb.from_pydict({"x": [1, 2, 3]})
    a, b = rb.collect_all([s, s.filter(col("x") > 10)])
    assert a.column("x").to_pylist() == [1, 2, 3]
    assert b.num_rows == 0 and b.schema == a.schema


def test_two_parquet_sinks_from_one_scan(trades, tmp_path):
    t, path = trades
    s = rb.Environment(parallelism=2).read_parquet(path)
    low, high = tmp_path / "low", tmp_path / "high"
    a, b = rb.collect_all([
        s.filter(col("price") < 50).write_parquet(low, lazy=True),
        s.filter(col("price") >= 50).select("id", "sym").write_parquet(high, lazy=True),
    ])
    got_low, got_high = pq.read_table(low), pq.read_table(high)
    want_low = pc.filter(t, pc.less(t["price"], 50))
    want_high = pc.filter(t, pc.greater_equal(t["price"], 50)).select(["id", "sym"])
    assert got_low.sort_by("id").equals(want_low.sort_by("id"))
    assert got_high.sort_by("id").equals(want_high.sort_by("id"))
    assert sum(a.column("rows").to_pylist()) == want_low.num_rows
    assert sum(b.column("rows").to_pylist()) == want_high.num_rows
    with pytest.raises(rb.PlanError, match="give each its own directory"):
        rb.collect_all([s.write_parquet(tmp_path / "x", lazy=True), s.write_parquet(tmp_path / "x", lazy=True)])


@pytest.mark.parametrize("kind", list(SPECS))
@pytest.mark.parametrize("p", [1, 4])
def test_window_results_and_late_rows_from_one_run(kind, p):
    env = streaming_env(parallelism=p, batch_size=B)
    src = env.from_arrow(TABLE, event_time="ts", max_out_of_orderness="2s")
    res = src.key_by("k").window(SPECS[kind][0], allowed_lateness="5s").agg(rb_aggs())
    plan, srcs = rb.stream._plan_doc(env, [res._node, res.late()._node], None)
    assert len(srcs) == 1 and json.dumps(plan).count('"scan_arrow"') == 1  # one input, read once
    results, late = rb.collect_all([res, res.late()])
    want = ref.reference(ROWS, SPECS[kind][1], keys=("k",), time="ts", aggs=REF_AGGS, batch_size=B,
                         bound=BOUND, lateness=LATENESS)
    assert want.late, "the test data must have late rows"
    assert late_multiset(late) == Counter((r["k"], r["ts"], r["v"]) for r in want.late)
    assert_results_equal(final_rows(results, ("k",)), want.results)
    # Every input row is either late or counted by the window (each row once per key, for
    # tumbling windows where a row belongs to one window).
    if kind == "tumbling":
        assert late.num_rows + sum(final_rows(results, ("k",))[w]["n"] for w in want.results) == TABLE.num_rows


def _explain(doc: dict) -> str:
    return _lib.plan_explain(doc, [])


GEN = {"op": "datagen", "count": 10, "fields": [{"name": "x", "type": "int64", "kind": "sequence"}]}


@pytest.mark.parametrize("doc, message", [
    ({"root": {"op": "filter", "input": {"ref": "nope"}, "predicate": {"lit": True, "type": "bool"}}},
     'unknown id "nope"'),
    ({"outputs": [dict(GEN, id="g"), dict(GEN, id="g")]}, 'two operators have the id "g"'),
    ({"root": {"op": "union", "id": "u", "inputs": [GEN, {"ref": "u"}]}}, "cycle"),
    ({"root": {"op": "limit", "n": 1, "input": {"ref": "g", "op": "filter"}}}, "takes no other fields"),
    ({"root": GEN, "outputs": [GEN]}, 'both "root" and "outputs"'),
])
def test_bad_references_are_plan_errors(doc, message):
    with pytest.raises(rb.PlanError, match=message):
        _explain({"version": 1, **doc})
    # the library keeps working
    assert rb.from_pydict({"x": [1]}).collect(progress=False).num_rows == 1


def test_shared_node_in_a_hand_written_plan():
    doc = {"version": 1, "outputs": [
        {"op": "filter", "input": dict(GEN, id="g"),
         "predicate": {"fn": "lt", "args": [{"col": "x"}, {"lit": 3, "type": "int64"}]}},
        {"ref": "g"},
    ]}
    text = _explain(doc)
    assert "output 0" in text and "output 1" in text
    assert text.split("physical plan:")[1].count("datagen") == 1


def test_collect_all_of_limits_over_an_unbounded_source_ends():
    """Each output ends in a limit: the shared generator stops once every limit has its rows
    (not at the first one, which would starve the other)."""
    bids = rb.nexmark().bids()
    a, b = rb.collect_all([bids.limit(3), bids.filter(col("price") > 0).limit(500)])
    assert a.num_rows == 3
    assert b.num_rows == 500 and pc.all(pc.greater(b["price"], 0)).as_py()


@pytest.mark.parametrize("p", [1, 3])
def test_union_of_branches_of_one_source_keeps_source_order(trades, p):
    """A union gives the rows of its first input, in source order, then those of the
    second, also when both are branches of one shared scan."""
    t, path = trades
    s = rb.Environment(parallelism=p, batch_size=300).read_parquet(path)
    got = s.filter(col("price") > 50).union(s.filter(col("price") < 20), s).collect(progress=False)
    ids = t.column("id").to_pylist()
    price = t.column("price").to_pylist()
    want = ([i for i, x in zip(ids, price) if x > 50] + [i for i, x in zip(ids, price) if x < 20] + ids)
    assert got.column("id").to_pylist() == want


def test_union_of_a_shared_input_with_a_narrower_use_of_it():
    # One source both fed straight into a union and filtered on a column the union's
    # consumers do not read: projection pushdown keeps that column for the filter, and the
    # union narrows its inputs to what its consumers read. Oracle: DuckDB.
    import duckdb

    t = pa.table({"k": ["a", "b", "a", "c"], "x": [1, 2, 3, 4], "y": [1.0, 2.0, 3.0, 4.0]})
    for parallelism in (1, 3):
        s = rb.Environment(parallelism=parallelism).from_arrow(t)
        u = s.union(s.filter(col("x") > 1))
        got = sorted(u.select("k").collect()["k"].to_pylist())
        want = sorted(r[0] for r in duckdb.sql("select k from t union all select k from t where x > 1").fetchall())
        assert got == want
        got = u.group_by("k").agg(col("y").sum().alias("y")).collect().sort_by("k").to_pylist()
        want = duckdb.sql("select k, sum(y) as y from (select * from t union all select * from t where x > 1) "
                          "group by k order by k").arrow()
        assert got == (want.read_all() if hasattr(want, "read_all") else want).to_pylist()
        both = s.filter(col("y") > 1).union(s.filter(col("x") > 2)).select("y")
        assert sorted(both.collect()["y"].to_pylist()) == sorted(
            r[0] for r in duckdb.sql("select y from t where y > 1 union all select y from t where x > 2").fetchall())
