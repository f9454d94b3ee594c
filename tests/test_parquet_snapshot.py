"""write_parquet_snapshot: the table a changelog makes, written whole at each checkpoint.

Oracles: the change rows the same job writes with write_parquet (a log), applied to an
empty table in plain Python, and DuckDB's GROUP BY over exactly the input rows a
checkpoint covered (test_changelog's oracle)."""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import riverbed as rb
import test_changelog as tcl
from riverbed import col

COLS = tcl.KEYS + tcl.VALUES


def snapshot(path: str, name: str | None = None) -> Counter[tuple[Any, ...]]:
    """The rows of a committed snapshot (the latest by default, as a reader finds it: the
    directory that _latest names), read with pyarrow.dataset, as a multiset."""
    if name is None:
        with open(os.path.join(path, "_latest")) as f:
            name = f.read().strip()
    t = ds.dataset(os.path.join(path, name), format="parquet").to_table()
    assert "__op" not in t.column_names
    return Counter(tuple(r[c] for c in COLS) for r in t.to_pylist())


def snapshots(path: str) -> list[str]:
    return sorted((n for n in os.listdir(path) if n.startswith("snapshot-")), key=lambda n: int(n.split("-")[1]))


def sinks(env: rb.Environment, log: str, snap: str, **opts: Any) -> list[rb.Stream]:
    counts = tcl.counts(tcl.source(env))
    return [counts.write_parquet(log, lazy=True), counts.write_parquet_snapshot(snap, lazy=True, **opts)]


def check(log: str, snap: str, ckpt_id: int | None = None) -> Counter[tuple[Any, ...]]:
    """The snapshot of checkpoint ckpt_id (else the latest) equals the committed changes
    applied to an empty table, and DuckDB's answer over the rows read."""
    name = None if ckpt_id is None else f"snapshot-{ckpt_id}"
    got = snapshot(snap, name)
    table = tcl.apply_unordered(tcl.committed_changes(log))
    assert got == table
    assert set(got) == tcl.oracle(set(got))
    assert all(n == 1 for n in got.values())
    return got


@pytest.mark.parametrize("backend", ["memory", "pebble"])
def test_snapshot_at_every_checkpoint_and_after_rescale(tmp_path, backend):
    """An unbounded updating group_by written both as a change log and as snapshots: each
    committed snapshot is the change log applied up to its checkpoint, and DuckDB's answer
    over the input the checkpoint covered; only the newest `keep` stay. Stopped with a
    savepoint at parallelism 2 and restored at 3, the snapshots go on from the savepoint's,
    and the final one (drained) is DuckDB's answer over all the rows read."""
    log, snap = str(tmp_path / "log"), str(tmp_path / "snap")
    opts: dict[str, Any] = {"state_backend": backend}
    if backend == "pebble":
        opts["state_memory_limit"] = 1  # every row the sink holds is spilled
    env = rb.Environment(parallelism=2, batch_size=tcl.B, checkpoint_dir=str(tmp_path / "ck"),
                         checkpoint_interval="1h", **opts)
    job = rb.start_all(sinks(env, log, snap, keep=2))
    seen = 0
    try:
        for _ in range(3):
            time.sleep(0.4)
            rec = job.checkpoint()
            got = check(log, snap, rec["id"])
            assert snapshot(snap) == got  # _latest names it
            assert len(got) > seen  # the job went on reading
            seen = len(got)
        assert len(snapshots(snap)) == 2  # keep=2
        if backend == "pebble":
            [m] = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("write_parquet_snapshot")]
            assert m["spilled_bytes"] > 0 and m["spill_read_bytes"] > 0, m  # the table was on disk
        sp = job.stop(savepoint=str(tmp_path / "sp"), timeout="60s")
    finally:
        job.cancel()
    got = check(log, snap)
    assert sp is not None and snapshots(snap)[-1] == f"snapshot-{sp['id']}"
    # The sink's state in the savepoint is the same table, by key group.
    held = rb.read_savepoint(str(tmp_path / "sp")).state("write_parquet_snapshot-0")
    assert Counter(tuple(r[c] for c in COLS) for r in held.to_pylist()) == got

    env3 = rb.Environment(parallelism=3, batch_size=tcl.B, checkpoint_dir=str(tmp_path / "ck3"),
                          checkpoint_interval="1h", **opts)
    job = rb.start_all(sinks(env3, log, snap, keep=2), restore=str(tmp_path / "sp"))
    newest = sp["id"]
    try:
        for _ in range(2):
            time.sleep(0.4)
            job.checkpoint()
            got = check(log, snap)
            assert len(got) > seen
            seen = len(got)
            # Snapshots are numbered on from the savepoint's (whose restored run's
            # checkpoint ids start again at 1), one file per subtask of the run.
            latest = snapshots(snap)[-1]
            assert int(latest.split("-")[1]) > newest
            newest = int(latest.split("-")[1])
            assert len(os.listdir(os.path.join(snap, latest))) == 3
        job.stop(drain=True, timeout="60s")
    finally:
        job.cancel()
    got = check(log, snap)
    assert len(got) >= seen
    assert not [n for n in os.listdir(snap) if n.startswith(".")]  # nothing left in progress


def test_bounded_and_append_only_inputs(tmp_path):
    """A bounded job (no checkpoints) writes its final table once, as snapshot-0: equal to
    DuckDB's GROUP BY; an append-only input's snapshot is all of its rows. A directory
    holding snapshots is refused unless mode='overwrite'."""
    rows = rb.datagen(tcl.SCHEMA, number_of_rows=5_000, seed=tcl.SEED, fields=tcl.FIELDS).collect(progress=False)
    env = rb.Environment(parallelism=3)
    out = str(tmp_path / "agg")
    summary = (env.from_arrow(rows).group_by("k").agg(rb.count().alias("n"), col("v").sum().alias("s"))
               .write_parquet_snapshot(out))
    want = duckdb.sql("SELECT k, count(*) AS n, sum(v) AS s FROM rows GROUP BY k").fetchall()
    got = rb.read_parquet_snapshot(out).collect()
    assert sorted(tuple(r.values()) for r in got.to_pylist()) == sorted(want)
    assert sum(summary["rows"].to_pylist()) == len(want)
    assert snapshots(out) == ["snapshot-0"]

    plain = str(tmp_path / "plain")
    env.from_arrow(rows).filter(col("k") == 1).write_parquet_snapshot(plain)
    got = ds.dataset(os.path.join(plain, "snapshot-0")).to_table()
    want_rows = duckdb.sql("SELECT * FROM rows WHERE k = 1").to_arrow_table()
    assert Counter(map(tuple, (r.values() for r in got.to_pylist()))) == \
        Counter(map(tuple, (r.values() for r in want_rows.to_pylist())))

    with pytest.raises(rb.RiverbedError, match="already holds snapshots"):
        env.from_arrow(rows).write_parquet_snapshot(plain)
    env.from_arrow(rows).filter(col("k") == 2).write_parquet_snapshot(plain, mode="overwrite")
    assert rb.read_parquet_snapshot(plain).collect()["k"].to_pylist() == [2] * sum(
        1 for k in rows["k"].to_pylist() if k == 2)


def test_outer_join_changelog(tmp_path):
    """A left join's changelog (no key: rows are told apart by all their columns, padded
    rows deleted when their match comes) materializes into the join's result, equal to
    the change log applied."""
    env = rb.Environment(parallelism=2, batch_size=200, checkpoint_dir=str(tmp_path / "ck"), checkpoint_interval="1h")
    fields = {"id": {"kind": "sequence"}, "k": {"min": 0, "max": 50}}
    left = env.datagen({"id": rb.Int64, "k": rb.Int64}, rows_per_second=5_000, seed=1, fields=fields)
    right = env.datagen({"id": rb.Int64, "k": rb.Int64}, rows_per_second=500, seed=2, fields=fields)
    joined = left.join(right.select(col("k").alias("rk"), col("id").alias("rid")), left_on="k", right_on="rk",
                       how="left")
    log, snap = str(tmp_path / "log"), str(tmp_path / "snap")
    job = rb.start_all([joined.write_parquet(log, lazy=True), joined.write_parquet_snapshot(snap, lazy=True)])
    try:
        time.sleep(0.5)
        rec = job.checkpoint()
    finally:
        job.cancel()
    cols = ["id", "k", "rid"]  # the right key is dropped (equal to k)
    changes = pa.concat_tables([pq.read_table(os.path.join(log, f))
                                for f in os.listdir(log) if f.endswith(".parquet")])
    table: Counter[tuple[Any, ...]] = Counter()
    for r in changes.to_pylist():
        table[tuple(r[c] for c in cols)] += 1 if r["__op"] in ("+I", "+U") else -1
    table = +table
    t = ds.dataset(os.path.join(snap, f"snapshot-{rec['id']}")).to_table()
    got = Counter(tuple(r[c] for c in cols) for r in t.to_pylist())
    assert got == table and len(got) > 0
    # Every left row read is in the result (matched, or padded with nulls) until... always.
    assert all(n >= 1 for n in got.values())


def test_refusals(tmp_path):
    s = rb.from_pydict({"k": [1]})
    with pytest.raises(ValueError, match="keep"):
        s.write_parquet_snapshot(str(tmp_path), keep=0)
    with pytest.raises(ValueError, match="mode"):
        s.write_parquet_snapshot(str(tmp_path), mode="append")  # type: ignore[call-overload]
    with pytest.raises(rb.PlanError, match="lazy=True"):
        rb.nexmark(events_per_second=10).bids().write_parquet_snapshot(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="no committed snapshot"):
        rb.read_parquet_snapshot(str(tmp_path / "none"))
    cat = rb.from_arrow(pa.table({"s": pa.array(["a", "b", "a"]).dictionary_encode()}))
    with pytest.raises(rb.TypeMismatchError, match='column "s" is dictionary-encoded'):
        cat.write_parquet_snapshot(str(tmp_path / "cat"))
    with pytest.raises(rb.PlanError, match="must be an output"):
        rb.collect_all([s.write_parquet_snapshot(str(tmp_path / "x"), lazy=True).filter(col("rows") > 0)])


def test_restore_latest_after_a_cancel(tmp_path):
    """A job cancelled after its checkpoints, restarted with restore="latest" at another
    parallelism: _latest still names the last completed checkpoint's snapshot, nothing is
    left in progress, and the next snapshots (named by the continuing checkpoint ids) are
    the change log applied and DuckDB's answer."""
    log, snap = str(tmp_path / "log"), str(tmp_path / "snap")
    ck = str(tmp_path / "ck")
    env = rb.Environment(parallelism=2, batch_size=tcl.B, checkpoint_dir=ck, checkpoint_interval="1h")
    job = rb.start_all(sinks(env, log, snap))
    try:
        time.sleep(0.4)
        job.checkpoint()
        time.sleep(0.2)
        last = job.checkpoint()["id"]
    finally:
        job.cancel()
    before = check(log, snap, last)
    env1 = rb.Environment(parallelism=1, batch_size=tcl.B, checkpoint_dir=ck, checkpoint_interval="1h")
    job = rb.start_all(sinks(env1, log, snap), restore="latest")
    try:
        time.sleep(0.4)
        rec = job.checkpoint()
        assert rec["id"] > last
        got = check(log, snap, rec["id"])
        assert len(got) > len(before)
        assert not [n for n in os.listdir(snap) if n.startswith(".")]
    finally:
        job.cancel()
