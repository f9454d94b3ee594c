"""rb.read_savepoint: a savepoint's state as Arrow tables, checked against a plain-Python
count of the input the job had read when the savepoint was taken."""

from __future__ import annotations

import collections
import os

import pyarrow as pa
import pytest

import riverbed as rb

RATE = 20_000  # events per second of event time and of wall time


def _windowed_counts(env: rb.Environment, events: int | None = None) -> rb.Stream:
    # One-minute windows: at RATE events/s nothing fires in the first minute of event time.
    return (env.nexmark(RATE, max_events=events).bids().key_by("bidder").window(rb.tumbling("60s"))
            .agg(rb.count().alias("n"), rb.col("price").sum().alias("total")))


def _savepoint_of_running_job(tmp_path: os.PathLike[str], parallelism: int) -> str:
    env = rb.Environment(parallelism=parallelism, runtime_mode="streaming")
    job = _windowed_counts(env).start()
    assert list(job.results(timeout=0.7)) == []  # no window has fired yet
    sp = os.path.join(os.fspath(tmp_path), "sp")
    job.stop(savepoint=sp)
    return sp


def test_window_state_equals_a_count_of_the_bids_read(tmp_path):
    sp = _savepoint_of_running_job(tmp_path, parallelism=1)
    s = rb.read_savepoint(sp)
    assert s.kind == "savepoint" and s.operators == ["window_agg-0"] and s.max_parallelism == 128
    assert s.tables().to_pylist() == [{"operator": "window_agg-0", "table": "panes.v1", "kind": "list", "files": 1}]
    panes = s.state("window_agg-0")
    assert {"key_group", "bidder", "window_start", "window_end", "fired", "acc:n"} <= set(panes.column_names)
    read = sum(panes.column("acc:n").to_pylist())
    assert read > 0
    # One subtask reads the generator's events in order: the state counts the first `read` bids.
    bids = rb.nexmark(max_events=2 * read + 1000).bids().collect().slice(0, read)
    assert bids.num_rows == read
    want_n = collections.Counter(bids.column("bidder").to_pylist())
    want_total: dict[int, int] = collections.defaultdict(int)
    for bidder, price in zip(bids.column("bidder").to_pylist(), bids.column("price").to_pylist()):
        want_total[bidder] += price
    got = {r["bidder"]: r for r in panes.to_pylist()}
    assert {k: r["acc:n"] for k, r in got.items()} == dict(want_n)
    assert not any(r["fired"] for r in got.values())
    assert len({(r["window_start"], r["window_end"]) for r in got.values()}) == 1
    # The key group column is the one the engine routes each key to: the same bidder never
    # appears in two key groups, and a savepoint of two subtasks has the same total.
    assert len(set(zip(panes.column("bidder").to_pylist(), panes.column("key_group").to_pylist()))) == len(got)


def test_two_subtasks_state_covers_every_key_group_once(tmp_path):
    sp = _savepoint_of_running_job(tmp_path, parallelism=2)
    s = rb.read_savepoint(sp)
    assert s.tables().column("files").to_pylist() == [2]  # one file per subtask's key-group range
    panes = s.state("window_agg-0", "panes.v1")
    kgs = panes.column("key_group").to_pylist()
    assert kgs == sorted(kgs) and 0 <= min(kgs) and max(kgs) < 128
    bidders = panes.column("bidder").to_pylist()
    assert len(bidders) == len(set(bidders))  # one pane per bidder (one window open)


def test_checkpoint_of_the_memory_backend_reads_like_a_savepoint(tmp_path):
    ckpt = tmp_path / "ckpt"
    env = rb.Environment(parallelism=1, runtime_mode="streaming", checkpoint_dir=ckpt)
    job = _windowed_counts(env).start()
    rec = job.checkpoint()
    job.cancel()
    s = rb.read_savepoint(rec["path"])
    assert s.kind == "checkpoint" and s.id == rec["id"]
    assert s.state("window_agg-0").num_rows > 0


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(rb.InputNotFoundError, match="no _metadata"):
        rb.read_savepoint(tmp_path)
    sp = _savepoint_of_running_job(tmp_path, parallelism=1)
    s = rb.read_savepoint(sp)
    with pytest.raises(KeyError, match="operators with state: window_agg-0"):
        s.state("join-0")
    with pytest.raises(KeyError, match="no state table 'x'"):
        s.state("window_agg-0", "x")
    # A damaged state file is found before anything is read.
    [f] = [os.path.join(d, n) for d, _, names in os.walk(sp) for n in names if n.endswith(".arrow")]
    with open(f, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\x00\x01\x02\x03")
    with pytest.raises(rb.DataError, match="checksum"):
        rb.read_savepoint(sp)


def test_pebble_checkpoints_say_to_take_a_savepoint(tmp_path):
    env = rb.Environment(parallelism=1, runtime_mode="streaming", checkpoint_dir=tmp_path / "c",
                         state_backend="pebble")
    job = _windowed_counts(env).start()
    rec = job.checkpoint()
    job.cancel()
    with pytest.raises(rb.InvalidArgumentError, match="take a savepoint"):
        rb.read_savepoint(rec["path"])


def test_join_state_holds_the_buffered_rows(tmp_path):
    # A regular inner join over two unbounded inputs keeps both sides' rows.
    env = rb.Environment(parallelism=1, runtime_mode="streaming")
    nx = env.nexmark(RATE)
    persons = nx.persons().select("id", "name")
    auctions = nx.auctions().select("seller", "reserve")
    job = persons.join(auctions, left_on="id", right_on="seller").start()
    list(job.results(timeout=0.7))
    sp = os.path.join(os.fspath(tmp_path), "sp")
    job.stop(savepoint=sp)
    s = rb.read_savepoint(sp)
    [op] = s.operators
    tables = s.tables().column("table").to_pylist()
    assert len(tables) == 2
    sides = {t: s.state(op, t) for t in tables}
    cols = {t: set(v.column_names) for t, v in sides.items()}
    assert any({"id", "name"} <= c for c in cols.values()) and any({"seller", "reserve"} <= c for c in cols.values())
    for t in sides.values():
        assert isinstance(t, pa.Table) and t.num_rows > 0
