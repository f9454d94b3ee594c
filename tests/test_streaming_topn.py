"""Flink's streaming top-N and last-row deduplication over an unbounded stream (an updating
result), also over an updating input (a GROUP BY's changelog: Flink's retract rank), and its
processing-time deduplication (ORDER BY PROCTIME()). The oracle is DuckDB's ROW_NUMBER() ...
QUALIFY over exactly the input rows the job had read (written to Parquet by the same job,
committed at the same checkpoints), or the first/last rows per key in arrival order in plain
Python, and a plain-Python applier of the changes."""

from __future__ import annotations

import glob
import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import riverbed as rb

SCHEMA = {"id": rb.Int64, "k": rb.Int64, "v": rb.Int64, "ts": rb.Timestamp("us")}
FIELDS = {"id": {"kind": "sequence"}, "k": {"min": 0, "max": 150},
          "v": {"min": 0, "max": 1_000_000_000, "nulls": 0.1}}

TOP = ("SELECT k, v, id{rn} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC, id ASC) AS rownum "
       "FROM t) WHERE rownum <= 3")
# the same in DuckDB (Flink ranks NULL as the smallest value: last in descending order)
DUCK_TOP = ("SELECT k, v, id{rn} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY v DESC NULLS LAST, id) "
            "AS rownum FROM rows) WHERE rownum <= {n}")
LAST = "SELECT k, v, id FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1"
DUCK_LAST = "SELECT k, v, id FROM rows QUALIFY ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) = 1"

# top-N over a GROUP BY of the unbounded table: an updating input (Flink's retract rank);
# ties broken by g, so the ranking is one
AGG_TOP = ("SELECT k, g, total{rn} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY total DESC, g) AS rownum "
           "FROM (SELECT k, id % 7 AS g, SUM(v) AS total FROM t GROUP BY k, id % 7)) WHERE rownum <= 3")
DUCK_AGG_TOP = ("SELECT k, g, total{rn} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k "
                "ORDER BY total DESC NULLS LAST, g) AS rownum "
                "FROM (SELECT k, id % 7 AS g, SUM(v) AS total FROM rows GROUP BY k, id % 7)) WHERE rownum <= {n}")
DUCK_AGG_TOP_IDS = ("SELECT k, g, total FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY total DESC, g) "
                    "AS rownum FROM (SELECT k, id % 7 AS g, SUM(id) AS total FROM rows GROUP BY k, id % 7)) "
                    "WHERE rownum <= 2")


def sums(s: rb.Stream) -> rb.Stream:
    """The updating sum of id per (k, id % 7)."""
    return s.group_by("k", (rb.col("id") % 7).alias("g")).agg(rb.col("id").sum().alias("total"))


# name: (the changes of the source, the DuckDB query over its rows, the columns compared)
Case = tuple[Callable[[rb.Environment, rb.Stream], rb.Stream], str, tuple[str, ...]]
CASES: dict[str, Case] = {
    "sql top-N with rownum": (lambda env, s: env.sql(TOP.format(rn=", rownum"), t=s),
                              DUCK_TOP.format(rn=", rownum", n=3), ("k", "v", "id", "rownum")),
    "sql top-N without rownum": (lambda env, s: env.sql(TOP.format(rn=""), t=s),
                                 DUCK_TOP.format(rn="", n=3), ("k", "v", "id")),
    "sql last row": (lambda env, s: env.sql(LAST, t=s), DUCK_LAST, ("k", "v", "id")),
    "top_k per": (lambda env, s: s.top_k(2, by=["v", "id"], reverse=[False, True], per="k"),
                  DUCK_TOP.format(rn="", n=2), ("k", "v", "id")),
    "top_k row_number": (lambda env, s: s.top_k(1, by=["v", "id"], reverse=[False, True], per="k",
                                                row_number="rownum"),
                         DUCK_TOP.format(rn=", rownum", n=1), ("k", "v", "id", "rownum")),
    "unique keep last": (lambda env, s: s.unique("k", keep="last", order_by="ts"), DUCK_LAST, ("k", "v", "id")),
    "sql top-N over group by with rownum": (lambda env, s: env.sql(AGG_TOP.format(rn=", rownum"), t=s),
                                            DUCK_AGG_TOP.format(rn=", rownum", n=3), ("k", "g", "total", "rownum")),
    "sql top-N over group by": (lambda env, s: env.sql(AGG_TOP.format(rn=""), t=s),
                                DUCK_AGG_TOP.format(rn="", n=3), ("k", "g", "total")),
    "top_k over group_by": (lambda env, s: sums(s).top_k(2, by=["total", "g"], reverse=[False, True], per="k"),
                            DUCK_AGG_TOP_IDS, ("k", "g", "total")),
}


def source(env: rb.Environment) -> rb.Stream:
    return env.datagen(SCHEMA, rows_per_second=20_000, seed=5, fields=FIELDS)


def committed(path: str) -> pa.Table:
    files = sorted(glob.glob(f"{path}/*.parquet"))
    assert files
    return pa.concat_tables([pq.read_table(f) for f in files])


def apply(changes: pa.Table, cols: tuple[str, ...]) -> Counter[tuple[Any, ...]]:
    """The table the changes make: +I/+U add a row, -U/-D take one away. The changes of a
    retract changelog commute, so their order (across files) does not matter; every row
    must end held once or not at all."""
    table: Counter[tuple[Any, ...]] = Counter()
    for r in changes.to_pylist():
        row, op = tuple(r[c] for c in cols), r["__op"]
        assert op in ("+I", "-U", "+U", "-D"), op
        table[row] += 1 if op in ("+I", "+U") else -1
    assert all(n in (0, 1) for n in table.values())
    return +table


def check(out: str, duck: str, cols: tuple[str, ...]) -> tuple[int, int]:
    """The applied changes equal DuckDB's answer over the rows read; returns the size of the
    result and the number of retractions."""
    changes = committed(f"{out}/changes")
    got = apply(changes, cols)
    rows = committed(f"{out}/input")  # noqa: F841 (read by DuckDB)
    want = Counter(duckdb.sql(duck).fetchall())
    assert got == want, (sorted(set(got) - set(want))[:5], sorted(set(want) - set(got))[:5])
    ops = changes.column("__op").to_pylist()
    return sum(got.values()), ops.count("-U") + ops.count("-D")


def start(env: rb.Environment, case: Case, out: str, restore: str | None = None) -> rb.Job:
    s = source(env)
    q = case[0](env, s)
    assert q.schema.names == list(case[2]) + ["__op"] or q.schema.names[-1] == "__op"
    return rb.start_all([q.write_parquet(f"{out}/changes", lazy=True), s.write_parquet(f"{out}/input", lazy=True)],
                        restore=restore)


@pytest.mark.parametrize("name", list(CASES))
def test_streaming_top_n_equals_duckdb_at_every_checkpoint_and_after_rescale(tmp_path, name):
    """At parallelism 2, the changes committed at each checkpoint, applied to an empty table,
    equal DuckDB's ROW_NUMBER() top-N over the rows read; stopped with a savepoint and
    restored at parallelism 3, the changes of both runs together still do."""
    case = CASES[name]
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=200, checkpoint_dir=str(tmp_path / "ck"), checkpoint_interval="1h")
    job = start(env, case, out)
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            size, _ = check(out, case[1], case[2])
            assert size > 0
        job.stop(savepoint=str(tmp_path / "sp"), timeout="60s")
    finally:
        job.cancel()
    _, retracted = check(out, case[1], case[2])
    env3 = rb.Environment(parallelism=3, batch_size=200, checkpoint_dir=str(tmp_path / "ck3"),
                          checkpoint_interval="1h")
    job = start(env3, case, out, restore=str(tmp_path / "sp"))
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            _, later = check(out, case[1], case[2])
    finally:
        job.cancel()
    assert later > retracted > 0  # rows left the result, before and after the restore


def test_streaming_top_n_schema_plan_and_refusals():
    """The plans and their changelog keys (write_kafka(upsert=True) keys records by them);
    what is refused, and how."""
    env = rb.Environment(parallelism=1)
    s = source(env)
    q = env.sql(TOP.format(rn=", rownum"), t=s)
    assert q.schema.names == ["k", "v", "id", "rownum", "__op"]
    assert 'top 3 per [col("k")] by [col("v") desc, col("id") nulls first], row number in $rownum, updating' \
        in q.explain()
    assert 'upsert, key k, rownum ->' in q.write_kafka("localhost:9092", "t", upsert=True, lazy=True).explain()
    last = env.sql(LAST, t=s)
    assert 'last row per [col("k")] by [col("ts") desc]' in last.explain()
    assert 'key "k", upsert' in last.write_kafka("localhost:9092", "t", upsert=True, lazy=True).explain()
    assert s.unique("k", keep="last").schema.names == ["id", "k", "v", "ts", "__op"]
    assert s.top_k(3, by="v").schema.names == ["id", "k", "v", "ts", "__op"]
    with pytest.raises(rb.PlanError, match=r"upsert=True.*keeps 3 rows per partition without their row number"):
        _ = s.top_k(3, by="v", per="k").write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema
    # over an updating input: the retract rank
    counts = s.group_by("k").agg(rb.count().alias("n"))
    assert counts.top_k(2, by="n").schema.names == ["k", "n", "__op"]
    assert counts.unique(keep="last").schema.names == ["k", "n", "__op"]  # by its values, not by __op
    q = env.sql("SELECT * FROM (SELECT k, n, ROW_NUMBER() OVER (ORDER BY n DESC) AS rn "
                "FROM (SELECT k, COUNT(*) AS n FROM t GROUP BY k)) WHERE rn <= 3", t=s)
    assert q.schema.names == ["k", "n", "rn", "__op"]
    assert "over an updating input (retract)" in q.explain()
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column \d+: ROW_NUMBER\(\) without ORDER BY over an unbounded "
                                           r"table is not supported"):
        env.sql("SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k) AS rn FROM t) WHERE rn = 1", t=s)
    with pytest.raises(rb.PlanError, match=r"per= and row_number= rank the rows of an unbounded stream"):
        rb.from_pydict({"k": [1], "v": [2]}).top_k(1, by="v", per="k")
    with pytest.raises(ValueError, match=r"order_by says which row is first or last"):
        s.unique("k", keep="any", order_by="v")


def test_bounded_unique_order_by_equals_duckdb():
    """On a bounded stream unique(keep=..., order_by=...) keeps each value's row with the
    largest (last) or smallest (first) order_by, nulls smallest, ties in input order."""
    t = pa.table({"k": [1, 1, 1, 2, 2, 3], "v": [5, None, 9, 3, 3, None], "i": [0, 1, 2, 3, 4, 5]})
    s = rb.from_arrow(t)
    got = {(r["k"], r["i"]) for r in s.unique("k", keep="last", order_by="v").collect().to_pylist()}
    want = set(duckdb.sql("SELECT k, i FROM t QUALIFY ROW_NUMBER() OVER "
                          "(PARTITION BY k ORDER BY v DESC NULLS LAST, i DESC) = 1").fetchall())
    assert got == want
    got = {(r["k"], r["i"]) for r in s.unique("k", keep="first", order_by="v").collect().to_pylist()}
    want = set(duckdb.sql("SELECT k, i FROM t QUALIFY ROW_NUMBER() OVER "
                          "(PARTITION BY k ORDER BY v ASC NULLS FIRST, i) = 1").fetchall())
    assert got == want


def test_top_k_snapshots_on_pebble_equal_duckdb(tmp_path):
    """With the Pebble backend and a memory cap of one byte (every row the top-N holds is
    spilled), the Parquet snapshot of top_k(per=...) committed at each checkpoint equals
    DuckDB's top-N over the rows read; an updating join takes the last-row changelog."""
    env = rb.Environment(parallelism=2, batch_size=200, checkpoint_dir=str(tmp_path / "ck"), checkpoint_interval="1h",
                         state_backend="pebble", state_memory_limit=1)
    s = source(env)
    top = s.top_k(3, by=["v", "id"], reverse=[False, True], per="k")
    snap, inp = str(tmp_path / "snap"), str(tmp_path / "out" / "input")
    job = rb.start_all([top.write_parquet_snapshot(snap, lazy=True), s.write_parquet(inp, lazy=True)])
    try:
        for _ in range(2):
            time.sleep(0.4)
            rec = job.checkpoint()
            t = ds.dataset(os.path.join(snap, f"snapshot-{rec['id']}"), format="parquet").to_table()
            got = Counter(tuple(r[c] for c in ("k", "v", "id")) for r in t.to_pylist())
            rows = committed(inp)  # noqa: F841 (read by DuckDB)
            want = Counter(duckdb.sql(DUCK_TOP.format(rn="", n=3)).fetchall())
            assert got == want and len(got) > 0
        [m] = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("rank")]
        assert m["spilled_bytes"] > 0, m  # the rows held were on disk
    finally:
        job.cancel()
    latest = s.unique("k", keep="last", order_by="ts")
    counts = s.group_by("k").agg(rb.count().alias("n"))
    assert latest.join(counts, on="k").schema.names == ["id", "k", "v", "ts", "n", "__op"]


# Processing-time deduplication and top-N (ORDER BY PROCTIME()): rows rank in arrival order.
# At parallelism 1 the source's rows arrive in the order of their id (a sequence).
PROC = ("SELECT k, v, id{rn} FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME(){d}) AS rn "
        "FROM t) WHERE rn {b}")


def arrival(rows: pa.Table, n: int, last: bool, rn: bool) -> Counter[tuple[Any, ...]]:
    """The first (or last) n rows per key in arrival (id) order, with their row number."""
    per: dict[Any, list[dict[str, Any]]] = {}
    for r in sorted(rows.to_pylist(), key=lambda r: r["id"], reverse=last):
        per.setdefault(r["k"], []).append(r)
    return Counter((r["k"], r["v"], r["id"]) + ((i + 1,) if rn else ()) for rs in per.values()
                   for i, r in enumerate(rs[:n]))


@pytest.mark.parametrize("d,b,n,rn", [("", "= 1", 1, False), (" DESC", "= 1", 1, False),
                                      (" ASC", "<= 2", 2, True), (" DESC", "<= 3", 3, True)])
def test_proctime_top_n_equals_arrival_order_at_every_checkpoint(tmp_path, d, b, n, rn):
    """ORDER BY PROCTIME() ASC, rownum = 1 keeps each key's first row (an append-only result);
    DESC keeps the last (updating); rownum <= n the first or last n, with their row numbers:
    at each checkpoint the result equals the first/last rows per key of the rows read."""
    env = rb.Environment(parallelism=1, batch_size=200, checkpoint_dir=str(tmp_path / "ck"), checkpoint_interval="1h")
    s = source(env)
    q = env.sql(PROC.format(rn=", rn" if rn else "", d=d, b=b), t=s)
    cols = ("k", "v", "id") + (("rn",) if rn else ())
    updating = d == " DESC" or n > 1
    assert q.schema.names == list(cols) + (["__op"] if updating else [])
    out = str(tmp_path / "out")
    job = rb.start_all([q.write_parquet(f"{out}/result", lazy=True), s.write_parquet(f"{out}/input", lazy=True)])
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            res = committed(f"{out}/result")
            if updating:
                got = apply(res, cols)
                if d != " DESC":
                    assert set(res.column("__op").to_pylist()) == {"+I"}  # the first rows never change
            else:
                got = Counter(tuple(r[c] for c in cols) for r in res.to_pylist())
            want = arrival(committed(f"{out}/input"), n, d == " DESC", rn)
            assert got == want and len(got) > 100
    finally:
        job.cancel()


def test_top_n_over_a_window_result_with_allowed_lateness_is_refused_in_streaming():
    # The window re-emits a key's result for each late row that still fits; a ranking of the
    # results would hold the superseded ones next to the new (key a twice in the top 2 of
    # [0 s, 10 s), key b pushed out). Batch mode ranks the final results.
    s = 1_000_000
    t = pa.table({"k": ["a", "b", "b", "c", "a", "a"],
                  "ts": pa.array([0, 1 * s, 2 * s, 20 * s, 5 * s, 6 * s], pa.timestamp("us"))})
    env = rb.Environment(parallelism=1, batch_size=1, runtime_mode="streaming")
    counts = (env.from_arrow(t, event_time="ts").key_by("k")
              .window(rb.tumbling("10s"), allowed_lateness="15s").agg(rb.count().alias("n")))
    with pytest.raises(rb.PlanError, match="allowed_lateness re-emits"):
        counts.top_n(2, "n").collect()
    final = counts.top_n(2, "n").collect(runtime_mode="batch").to_pylist()
    first = sorted((r["k"], r["n"], r["rank"]) for r in final if r["window_start"].second == 0)
    assert first == [("a", 3, 1), ("b", 2, 2)]
    with pytest.raises(ValueError, match="allowed_lateness is an option of window"):
        env.from_arrow(t, event_time="ts").window(rb.tumbling("10s"), allowed_lateness="15s").top_n(1, "k")


@pytest.mark.parametrize("case", ["unique last", "unique first by a tie", "top_k by a tie"])
def test_ties_rank_in_input_order_across_subtasks(case):
    """Over a live RecordBatchReader every batch is its own split, read by either of two
    subtasks, so batches reach the rank operator out of input order; ties (rows equal in
    the ordering values, or no ordering) still rank by input order: keep="last" keeps the
    last row of the input, keep="first" by a constant the first, and top_k by a constant
    the first n rows. It kept whichever batch arrived last (or first), varying run to run.
    Oracle: plain Python over the input."""
    n = 2000
    t = pa.table({"k": [i % 3 for i in range(n)], "id": list(range(n)), "z": [0] * n})
    want = {"unique last": {(k, max(i for i in range(n) if i % 3 == k)) for k in range(3)},
            "unique first by a tie": {(k, k) for k in range(3)},
            "top_k by a tie": {(k, i) for k in range(3) for i in (k, k + 3)}}[case]
    for _ in range(4):
        rdr = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=7))
        src = rb.Environment(parallelism=2).from_arrow(rdr, bounded=False)
        if case == "unique last":
            s = src.unique("k", keep="last")
        elif case == "unique first by a tie":
            s = src.unique("k", keep="first", order_by="z")
        else:
            s = src.top_k(2, by="z", per="k")
        job = s.start()
        changes = pa.Table.from_batches(list(job.results(timeout="60s")), schema=job.schema)
        assert set(apply(changes, ("k", "id"))) == want
