"""Joins of updating inputs (changelogs): a join of two updating group_by results over
unbounded generators. The oracle is DuckDB: the raw rows the job read are written by the
same job (a sink per generator, committed at the same checkpoints), and DuckDB's join of
its GROUP BYs of them must equal the join's changes applied to an empty table — at every
checkpoint, and after a savepoint restored at another parallelism."""

from __future__ import annotations

import glob
import time
from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col

LEFT = {"id": rb.Int64, "k": rb.Int64}
RIGHT = {"rid": rb.Int64, "k": rb.Int64, "w": rb.Int64}
LFIELDS = {"id": {"kind": "sequence"}, "k": {"min": 0, "max": 40}}
RFIELDS = {"rid": {"kind": "sequence"}, "k": {"min": 0, "max": 40}, "w": {"min": 0, "max": 1000}}

# (how, left_on, right_on): on the group key (one row per key on each side), and on the
# counts, which change as rows come, so rows move from one join key to another and keys
# lose their last match
CASES = [("inner", "k", "k"), ("left", "n", "m"), ("full", "k", "k")]


def sources(env: rb.Environment) -> tuple[rb.Stream, rb.Stream]:
    left = env.datagen(LEFT, rows_per_second=3_000, seed=11, fields=LFIELDS)
    right = env.datagen(RIGHT, rows_per_second=1_000, seed=12, fields=RFIELDS)
    return left, right


def pipeline(env: rb.Environment, how: str, lon: str, ron: str, out: str) -> list[rb.Stream]:
    left, right = sources(env)
    per_left = left.group_by("k").agg(rb.count().alias("n"), col("id").max().alias("last"))
    per_right = right.group_by("k").agg(rb.count().alias("m"), col("w").sum().alias("ws"))
    joined = per_left.join(per_right, left_on=lon, right_on=ron, how=how)
    return [joined.write_parquet(f"{out}/join", lazy=True),
            left.write_parquet(f"{out}/left", lazy=True),
            right.write_parquet(f"{out}/right", lazy=True)]


def committed(path: str) -> pa.Table:
    files = sorted(glob.glob(f"{path}/*.parquet"))
    assert files
    return pa.concat_tables([pq.read_table(f) for f in files])


def check(out: str, how: str, lon: str, ron: str) -> tuple[int, int]:
    """The join's changes, applied, equal DuckDB's join of the GROUP BYs of the rows read;
    returns the size of the result and the number of retractions so far."""
    changes = committed(f"{out}/join")
    cols = [c for c in changes.schema.names if c != "__op"]
    got: Counter[tuple[Any, ...]] = Counter()
    for r in changes.to_pylist():
        assert r["__op"] in ("+I", "-D"), r["__op"]
        got[tuple(r[c] for c in cols)] += 1 if r["__op"] == "+I" else -1
    assert all(n >= 0 for n in got.values()), {r: n for r, n in got.items() if n < 0}
    got = +got
    lrows = committed(f"{out}/left")  # noqa: F841 (read by DuckDB)
    rrows = committed(f"{out}/right")  # noqa: F841
    join = {"inner": "JOIN", "left": "LEFT JOIN", "left-k": "LEFT JOIN", "full": "FULL JOIN"}[how]
    sel = {"inner": "l.k, l.n, l.last, r.m, r.ws",
           "left": "l.k, l.n, l.last, r.k, r.ws",
           "left-k": "l.k, l.n, l.last, r.m, r.ws",
           "full": "l.k, l.n, l.last, r.k, r.m, r.ws"}[how]
    want = Counter(duckdb.sql(f"""
        WITH l AS (SELECT k, count(*) AS n, max(id) AS last FROM lrows GROUP BY k),
             r AS (SELECT k, count(*) AS m, sum(w) AS ws FROM rrows GROUP BY k)
        SELECT {sel} FROM l {join} r ON l.{lon} = r.{ron}""").fetchall())
    assert got == want
    return sum(got.values()), changes.column("__op").to_pylist().count("-D")


@pytest.mark.parametrize("how,lon,ron", CASES)
def test_join_of_updating_group_bys_equals_duckdb_at_every_checkpoint_and_after_rescale(tmp_path, how, lon, ron):
    """Checkpointed at parallelism 2, stopped with a savepoint, restored at 3: at every
    checkpoint the join's committed changes make DuckDB's answer over the rows read."""
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=100, checkpoint_dir=str(tmp_path / "ck"),
                         checkpoint_interval="1h")
    job = rb.start_all(pipeline(env, how, lon, ron, out))
    deletes = 0
    try:
        for _ in range(3):
            time.sleep(0.4)
            job.checkpoint()
            size, deletes = check(out, how, lon, ron)
            assert size > 0
        job.stop(savepoint=str(tmp_path / "sp"), timeout="60s")
    finally:
        job.cancel()
    check(out, how, lon, ron)
    env3 = rb.Environment(parallelism=3, batch_size=100, checkpoint_dir=str(tmp_path / "ck3"),
                          checkpoint_interval="1h")
    job = rb.start_all(pipeline(env3, how, lon, ron, out), restore=str(tmp_path / "sp"))
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            _, later = check(out, how, lon, ron)
            assert later >= deletes
    finally:
        job.cancel()
    assert later > 0  # rows were retracted


SQL = """SELECT a.k, a.n, a.last, b.m, b.ws
         FROM (SELECT k, COUNT(*) AS n, MAX(id) AS last FROM g GROUP BY k) a
         {join} (SELECT k, COUNT(*) AS m, SUM(w) AS ws FROM h GROUP BY k) b ON a.k = b.k"""


@pytest.mark.parametrize("how", ["inner", "left"])
def test_sql_join_of_group_by_subqueries_over_unbounded_tables(tmp_path, how):
    """rb.sql plans a join of two GROUP BY subqueries over unbounded tables as the updating
    join of two updating group_bys (keyed by the join key); its changes, committed at every
    checkpoint, make DuckDB's answer over the rows read."""
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=100, checkpoint_dir=str(tmp_path / "ck"),
                         checkpoint_interval="1h")
    left, right = sources(env)
    q = env.sql(SQL.format(join={"inner": "JOIN", "left": "LEFT JOIN"}[how]), g=left, h=right)
    assert q.schema.names == ["k", "n", "last", "m", "ws", "__op"]
    plan = q.explain()
    assert f"updating {how} join" in plan and plan.count("updating (changelog in __op)") == 2
    assert 'key "k", upsert' in q.write_kafka("localhost:9092", "t", upsert=True, lazy=True).explain()
    job = rb.start_all([q.write_parquet(f"{out}/join", lazy=True), left.write_parquet(f"{out}/left", lazy=True),
                        right.write_parquet(f"{out}/right", lazy=True)])
    try:
        for _ in range(3):
            time.sleep(0.4)
            job.checkpoint()
            size, deletes = check(out, how if how == "inner" else "left-k", "k", "k")
            assert size > 0
    finally:
        job.cancel()
    assert deletes > 0


def test_join_of_updating_inputs_schema_and_refusals():
    """Every join on keys takes updating inputs and gives a changelog (+I/-D in __op); the
    event-time and cross joins refuse them. write_kafka(upsert=True) keys records by the
    join key when each input has at most one row per join key, and says why not otherwise."""
    env = rb.Environment(parallelism=1)
    left, right = sources(env)
    a = left.group_by("k").agg(rb.count().alias("n"))
    b = right.group_by("k").agg(rb.count().alias("m"))
    assert a.join(b, on="k").schema.names == ["k", "n", "m", "__op"]
    assert a.join(b, on="k", how="semi").schema.names == ["k", "n", "__op"]
    assert a.join(right, on="k", how="anti").schema.names == ["k", "n", "__op"]
    assert left.join(b, on="k", how="right").schema.names == ["id", "k", "m", "__op"]
    with pytest.raises(rb.PlanError, match=r"join.*updating stream.*a window join takes appended rows only"):
        _ = a.join_window(b, on="k", window=rb.tumbling("1s")).schema
    for how in ("inner", "left", "semi", "anti"):
        assert a.join(b, on="k", how=how).write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema.names \
            == ["topic", "rows", "records"]
    with pytest.raises(rb.PlanError, match=r"upsert=True.*has none: it is a full join"):
        _ = a.join(b, on="k", how="full").write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema
    with pytest.raises(rb.PlanError, match=r"upsert=True.*has none: its right input appends rows"):
        _ = a.join(right, on="k").write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema
    with pytest.raises(rb.PlanError, match=r"upsert=True.*keyed by k, which are not all among its join keys \(n\)"):
        _ = a.join(b, left_on="n", right_on="m").write_kafka("localhost:9092", "t", upsert=True, lazy=True).schema
