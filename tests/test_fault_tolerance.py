"""Exactly-once fault tolerance: checkpoints, savepoints, restore after a crash.

The oracle of every test is an uninterrupted run of the same pipeline, compared with
pyarrow or DuckDB: the rows produced before a stop or a crash and the rows produced after
the restore must together be exactly those rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col

# A paced Nexmark source: slow enough that a stop or a crash falls in the middle.
RATE = 50_000
EVENTS = 250_000


def bids(env: rb.Environment) -> rb.Stream:
    return (env.nexmark(RATE, max_events=EVENTS).bids()
            .filter(col("price") > 1000)
            .select("auction", "bidder", "price", "date_time"))


_full: list[pa.Table] = []


def uninterrupted() -> pa.Table:
    """The oracle: the same pipeline run once, uninterrupted (the rate also spaces event
    times, so it is the same paced source)."""
    if not _full:
        _full.append(bids(rb.Environment(parallelism=2)).collect(progress=False))
    return _full[0]


def sort(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in ("date_time", "auction", "bidder", "price")])


def assert_exactly_once(before: pa.Table, after: pa.Table, full: pa.Table) -> None:
    got = sort(pa.concat_tables([before, after]))
    want = sort(full)
    assert before.num_rows > 0, "nothing was produced before the stop: the test did not interrupt the job"
    assert after.num_rows > 0, "nothing was produced after the restore: the test did not interrupt the job"
    # As multisets of rows: none twice, none missing.
    assert got.num_rows == want.num_rows, f"{before.num_rows} + {after.num_rows} rows, want {want.num_rows}"
    assert got.equals(want)


def read_results_until(job: rb.Job, stop: threading.Event, out: list[pa.RecordBatch]) -> threading.Thread:
    def run() -> None:
        while not stop.is_set():
            for b in job.results(timeout=0.05):
                out.append(b)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def stop_with_savepoint_after(stream: rb.Stream, rows: int, path) -> pa.Table:
    """Starts stream, reads until it has given rows rows (or has ended), stops it with a
    savepoint at path, and returns every row it gave."""
    job = stream.start()
    got: list[pa.RecordBatch] = []
    while sum(b.num_rows for b in got) < rows and job.status == "running":
        got.extend(job.results(timeout=0.05))
    job.stop(savepoint=path)
    got.extend(job.results())
    return pa.Table.from_batches(got, schema=job.schema)


@pytest.mark.parametrize("p_before,p_after", [(2, 3), (3, 1)])
def test_stop_with_savepoint_and_restore_at_other_parallelism(tmp_path, p_before, p_after):
    full = uninterrupted()
    job = bids(rb.Environment(parallelism=p_before)).start()
    got: list[pa.RecordBatch] = []
    while sum(b.num_rows for b in got) < 1000:
        got.extend(job.results(timeout=0.1))
    sp = tmp_path / "sp"
    rec = job.stop(savepoint=sp)
    assert rec["kind"] == "savepoint" and rec["path"] == str(sp)
    got.extend(job.results())  # everything up to the savepoint's barrier
    assert job.status == "finished"
    before = pa.Table.from_batches(got, schema=full.schema)
    after = bids(rb.Environment(parallelism=p_after)).collect(restore=sp)
    assert_exactly_once(before, after, full)
    cps = job.checkpoints(as_dict=True)
    assert [c["kind"] for c in cps] == ["savepoint"]


def test_write_parquet_stop_with_savepoint_then_restore(tmp_path):
    full = uninterrupted()
    out = tmp_path / "out"
    job = bids(rb.Environment(parallelism=2)).write_parquet(out, lazy=True).start()
    time.sleep(1.0)
    job.stop(savepoint=tmp_path / "sp")
    before = pq.read_table(out)  # committed when the stopped job ended
    rb_env = rb.Environment(parallelism=3)
    bids(rb_env).write_parquet(out, mode="append", restore=tmp_path / "sp")
    both = pq.read_table(out)
    assert 0 < before.num_rows < full.num_rows, "the stop did not fall in the middle"
    assert sort(both).equals(sort(full)), f"{both.num_rows} rows in the directory, want {full.num_rows}"


CHILD = textwrap.dedent("""
    import sys
    import pyarrow as pa
    import riverbed as rb
    from riverbed import col

    ckpt, out = sys.argv[1], sys.argv[2]
    env = rb.Environment(parallelism=2, checkpoint_dir=ckpt, checkpoint_interval="100ms")
    s = (env.nexmark({rate}, max_events={events}).bids().filter(col("price") > 1000)
         .select("auction", "bidder", "price", "date_time"))
    job = s.start()
    with open(out, "wb") as f:
        w = None
        while True:
            for b in job.results(timeout=0.05):
                if w is None:
                    w = pa.ipc.new_stream(f, b.schema)
                w.write_batch(b)
                f.flush()
            print(job.checkpoint_metrics()["completed"], flush=True)
""").format(rate=RATE, events=EVENTS)


def read_partial_stream(path: str, schema: pa.Schema) -> pa.Table:
    """The complete batches of an IPC stream whose writer was killed mid-write."""
    batches = []
    try:
        with open(path, "rb") as f:
            r = pa.ipc.open_stream(f)
            while True:
                try:
                    batches.append(r.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, OSError):
        pass  # the end of what was written before the kill
    return pa.Table.from_batches(batches, schema=schema)


def test_sigkill_then_restore_latest(tmp_path):
    """A job killed with SIGKILL restarts from its latest checkpoint: the restored run reads
    exactly the rows after that checkpoint (none lost, none twice among them), so with what
    the killed run produced every row is there; rows after the checkpoint may have been
    produced twice, once by each run (results read live are at-least-once)."""
    full = uninterrupted()
    ckpt, out = tmp_path / "ckpt", tmp_path / "out.arrows"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), RIVERBED_PROGRESS="0")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(ckpt), str(out)], env=env,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        deadline = time.time() + 120
        for line in child.stdout:
            if int(line) >= 3:
                break
            assert time.time() < deadline, "the child took no checkpoints"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    complete = sorted(d for d in os.listdir(ckpt) if os.path.exists(ckpt / d / "_metadata"))
    assert complete, "no complete checkpoint"
    before = read_partial_stream(str(out), full.schema)  # noqa: F841 (read by DuckDB)
    after = bids(rb.Environment(parallelism=3, checkpoint_dir=ckpt)).collect(restore="latest")
    assert 0 < after.num_rows < full.num_rows, "the restore did not resume in the middle"
    a, f = after, full  # noqa: F841 (read by DuckDB)
    # The restored run produced a sub-multiset of the input (nothing twice), and what it
    # did not produce the killed run had produced (nothing lost).
    assert duckdb.sql("select count(*) from (select * from a except all select * from f)").fetchall() == [(0,)]
    lost = duckdb.sql("select count(*) from ((select * from f except all select * from a) "
                      "except all select * from before)").fetchall()[0]
    assert lost == (0,), f"{lost[0]} rows lost"
    assert duckdb.sql("select count(*) from (select * from before except all select * from f)").fetchall() == [(0,)]


def test_a_finished_job_leaves_a_final_checkpoint(tmp_path):
    env = rb.Environment(parallelism=2, checkpoint_dir=tmp_path / "ck")
    s = env.nexmark(max_events=50_000).bids().filter(col("price") > 1000)
    first = s.collect()
    assert first.num_rows > 0
    again = s.collect(restore="latest")
    assert again.num_rows == 0, "a restore from the final checkpoint read finished splits again"


def test_restore_from_parquet_savepoint_reads_each_row_once(tmp_path):
    data = pa.table({"x": pa.array(range(300_000), pa.int64())})
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        pq.write_table(data.slice(i * 100_000, 100_000), src / f"part{i}.parquet", row_group_size=10_000)
    env = rb.Environment(parallelism=2, batch_size=1000, buffer_bytes=1 << 16)
    job = env.read_parquet(src).filter(col("x") % 3 != 0).start()
    got: list[pa.RecordBatch] = []
    while sum(b.num_rows for b in got) < 5000:
        got.extend(job.results(timeout=0.1, max_batches=2))
    job.stop(savepoint=tmp_path / "sp")
    got.extend(job.results())
    before = pa.Table.from_batches(got)
    after = rb.Environment(parallelism=3).read_parquet(src).filter(col("x") % 3 != 0).collect(restore=tmp_path / "sp")
    both = pa.concat_tables([before, after]).sort_by("x")
    want = duckdb.sql(f"select x from read_parquet('{src}/*.parquet') where x % 3 != 0 order by x").to_arrow_table()
    assert before.num_rows > 0 and after.num_rows > 0
    assert both.num_rows == want.num_rows
    assert both["x"].equals(want["x"])


# -- errors -------------------------------------------------------------------------------

def test_live_python_input_cannot_be_checkpointed(tmp_path):
    def gen():
        yield pa.record_batch({"x": [1, 2]})
    reader = pa.RecordBatchReader.from_batches(pa.schema({"x": pa.int64()}), gen())
    env = rb.Environment(checkpoint_dir=tmp_path / "ck")
    with pytest.raises(rb.RiverbedError, match="live Python stream"):
        env.from_arrow(reader).collect()


def test_restore_latest_needs_a_checkpoint_dir():
    with pytest.raises(rb.RiverbedError, match="checkpoint_dir"):
        rb.nexmark(max_events=10).bids().collect(restore="latest")


def test_restore_latest_without_checkpoints_starts_afresh(tmp_path):
    env = rb.Environment(checkpoint_dir=tmp_path / "empty")
    t = env.nexmark(max_events=1000).bids().collect(restore="latest")
    assert t.num_rows == rb.nexmark(max_events=1000).bids().collect().num_rows


def test_restore_of_a_missing_checkpoint(tmp_path):
    with pytest.raises(rb.RiverbedError, match="not a complete checkpoint"):
        rb.nexmark(max_events=10).bids().collect(restore=tmp_path / "nothing")


def test_restore_from_another_plan_names_the_difference(tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"x": [1, 2, 3]}), a)
    pq.write_table(pa.table({"x": [4, 5]}), b)
    env = rb.Environment(checkpoint_dir=tmp_path / "ck")
    env.read_parquet(a).collect()  # leaves its final checkpoint
    with pytest.raises(rb.RiverbedError, match=r'source "scan_parquet-0" read .* now reads'):
        env.read_parquet([a, b]).collect(restore="latest")
    with pytest.raises(rb.RiverbedError, match=r'source "nexmark-0" .* is new'):
        env.nexmark(max_events=10).bids().collect(restore="latest")
    # Allowed: the new plan's source starts where the old one's positions say.
    t = env.read_parquet([a, b]).collect(restore="latest", allow_plan_change=True)
    assert t.num_rows <= 5


def test_duplicate_uids_are_refused():
    s = rb.from_pydict({"k": [1, 2]})
    a = s.group_by("k").agg(rb.count().alias("n")).uid("same")
    b = a.filter(col("n") > 0).uid("same")
    with pytest.raises(rb.RiverbedError, match='same uid "same"'):
        b.collect()


def test_checkpoint_needs_a_checkpoint_dir():
    job = rb.nexmark(1000).bids().start()
    try:
        with pytest.raises(rb.RiverbedError, match="checkpoint_dir"):
            job.checkpoint()
    finally:
        job.cancel()


def test_savepoint_into_a_non_empty_directory(tmp_path):
    (tmp_path / "sp").mkdir()
    (tmp_path / "sp" / "f").write_text("x")
    job = rb.nexmark(1000).bids().start()
    try:
        with pytest.raises(rb.RiverbedError, match="not empty"):
            job.savepoint(tmp_path / "sp")
        assert job.status == "running"
    finally:
        job.cancel()


def test_options_are_checked(tmp_path):
    with pytest.raises(ValueError, match="state_backend"):
        rb.Environment(state_backend="rocksdb")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="checkpoint_dir"):
        rb.Environment(checkpoint_interval="1s")
    with pytest.raises(rb.RiverbedError, match="checkpoint_interval"):
        rb.Environment(checkpoint_dir=tmp_path, checkpoint_interval="soon").nexmark(max_events=1).bids().collect()


def test_pebble_backend_and_checkpoint_metrics(tmp_path):
    env = rb.Environment(parallelism=2, checkpoint_dir=tmp_path / "ck", checkpoint_interval="50ms",
                         state_backend="pebble", state_memory_limit=8 << 20)
    job = env.nexmark(20_000).bids().start()
    try:
        rec = job.checkpoint()
        assert rec["kind"] == "checkpoint" and os.path.exists(os.path.join(rec["path"], "_metadata"))
        m = job.checkpoint_metrics()
        assert m["completed"] >= 1 and m["failed"] == 0 and m["last_id"] >= rec["id"]
        t = job.checkpoints()
        assert t.column_names == ["id", "kind", "path", "time", "duration_s", "size_bytes", "state_bytes"]
        ids = t["id"].to_pylist()
        assert ids == sorted(ids) and rec["id"] in ids
    finally:
        job.cancel()


@pytest.mark.parametrize("stop_after_rows", [1, 3000, 6000, 9000, 12000])
def test_stop_with_savepoint_of_two_sources_at_different_event_times(tmp_path, stop_after_rows):
    """A window join of two inputs whose event times advance at different speeds, stopped
    with a savepoint and restored: the pairs of one uninterrupted run (and of a plain-Python
    reference), each once. When the stop ended the inputs, the one ahead moved event time
    on and the stopped job fired windows the savepoint still held; the restored job fired
    them again."""
    import collections
    import datetime as dt
    t0, n = dt.datetime(2026, 1, 1), 2000
    left = pa.table({"k": [i % 10 for i in range(n)], "v": list(range(n)),
                     "ts": [t0 + dt.timedelta(milliseconds=20 * i) for i in range(n)]})
    right = pa.table({"k": [i % 10 for i in range(n)], "w": list(range(n)),
                      "ts": [t0 + dt.timedelta(milliseconds=40 * i + 7) for i in range(n)]})

    def build(paced: bool) -> rb.Stream:
        env = rb.Environment(parallelism=1, batch_size=50, runtime_mode="streaming")
        a, b = env.from_arrow(left, event_time="ts"), env.from_arrow(right, event_time="ts")
        if paced:
            a = a.map_batches(lambda x: (time.sleep(0.02), x)[1])
            b = b.map_batches(lambda x: (time.sleep(0.02), x)[1])
        return a.join_window(b, on="k", window=rb.tumbling("5s"))

    pairs = lambda t: collections.Counter(zip(t["v"].to_pylist(), t["w"].to_pylist()))  # noqa: E731
    ref = collections.Counter((i, j) for i in range(n) for j in range(n)
                              if i % 10 == j % 10 and (20 * i) // 5000 == (40 * j + 7) // 5000)
    assert pairs(build(False).collect()) == ref
    sp = tmp_path / "sp"
    before = stop_with_savepoint_after(build(True), stop_after_rows, sp)
    after = build(False).collect(restore=sp)
    assert after.num_rows > 0, "the job ended before the stop: the test did not interrupt it"
    assert pairs(before) + pairs(after) == ref


def test_restore_into_another_window_size_is_refused(tmp_path):
    # The state of 5-second windows restored into 10-second ones gave windows of both sizes.
    import datetime as dt
    t0 = dt.datetime(2026, 1, 1)
    t = pa.table({"k": [i % 3 for i in range(600)],
                  "ts": [t0 + dt.timedelta(milliseconds=100 * i) for i in range(600)]})

    def counts(size: str, paced: bool = False) -> rb.Stream:
        src = rb.Environment(parallelism=1, batch_size=20, runtime_mode="streaming").from_arrow(t, event_time="ts")
        if paced:
            src = src.map_batches(lambda b: (time.sleep(0.01), b)[1])
        return src.key_by("k").window(rb.tumbling(size)).agg(rb.count().alias("n"))

    sp = tmp_path / "sp"
    stop_with_savepoint_after(counts("5s", paced=True), 1, sp)
    changed = r'was a tumbling window of 5s on "ts" with aggs \[count\(\*\)\] and is now a tumbling window of 10s'
    with pytest.raises(rb.RiverbedError, match=changed):
        counts("10s").collect(restore=sp)
    # The same window restores.
    assert counts("5s").collect(restore=sp).num_rows > 0


@pytest.mark.parametrize("kind", ["group_by", "window", "top_k"])
def test_restore_into_other_aggregations_or_another_order_is_refused(tmp_path, kind):
    # The state of max(v) restored into mean(v) (same output name) was read as a mean's:
    # values of 1e30 out of inputs below 2000; a top_k's kept rows restored into the
    # reverse order kept the wrong rows. The restore is refused, naming what changed; a
    # renamed output restores.
    import datetime as dt
    t0 = dt.datetime(2026, 1, 1)
    t = pa.table({"k": [i % 2 for i in range(2000)], "v": list(range(2000)),
                  "ts": [t0 + dt.timedelta(milliseconds=10 * i) for i in range(2000)]})

    def build(variant: int, name: str = "s", paced: bool = False) -> rb.Stream:
        src = rb.Environment(parallelism=1, batch_size=50).from_arrow(t, event_time="ts", bounded=False)
        if paced:
            src = src.map_batches(lambda b: (time.sleep(0.01), b)[1])
        a = [col("v").max(), col("v").mean()][variant].alias(name)
        if kind == "group_by":
            return src.group_by("k").agg(a)
        if kind == "window":
            return src.key_by("k").window(rb.tumbling("1s")).agg(a)
        return src.top_k(2, by="v", per="k", reverse=bool(variant))

    sp = tmp_path / "sp"
    stop_with_savepoint_after(build(0, paced=True), 1, sp)
    changed = {"group_by": r'"aggregate-0" was a group_by with aggs \[max\(v\)\] and is now a group_by with '
                           r'aggs \[mean\(v\)\]',
               "window": r'"window_agg-0" was a tumbling window of 1s on "ts" with aggs \[max\(v\)\] and is now a '
                         r'tumbling window of 1s on "ts" with aggs \[mean\(v\)\]',
               "top_k": r'"rank-0" was a rank \(top 2 per \[col\("k"\)\] by \[col\("v"\) desc\].*and is now '
                        r'a rank'}[kind]
    with pytest.raises(rb.InvalidArgumentError, match=changed):
        build(1).start(restore=str(sp)).cancel()
    if kind != "top_k":
        job = build(0, name="renamed").start(restore=str(sp))
        job.cancel()


@pytest.mark.parametrize("kind", ["over", "join", "dedup"])
def test_restore_into_another_over_join_or_dedup_is_refused(tmp_path, kind):
    # An OVER sum of v restored into one of w summed saved v's with new w's; an inner
    # join's rows restored into a left join took back rows it never padded (-D of rows
    # never inserted); a dedup's keys under another interval. Each is refused, naming the
    # operator; the same plan restores.
    import datetime as dt
    t0 = dt.datetime(2026, 1, 1)
    n = 2000
    t = pa.table({"k": [i % 5 for i in range(n)], "v": [1] * n, "w": [1000] * n,
                  "ts": [t0 + dt.timedelta(milliseconds=10 * i) for i in range(n)]})

    def build(variant: int, paced: bool = False) -> rb.Stream:
        env = rb.Environment(parallelism=1, batch_size=50)
        src = env.from_arrow(t, event_time="ts", bounded=False)
        if paced:
            src = src.map_batches(lambda b: (time.sleep(0.01), b)[1])
        if kind == "over":
            return src.select("k", "ts", col(["v", "w"][variant]).sum().over("k", order_by="ts", rows=3).alias("s"))
        if kind == "join":
            dim = env.from_arrow(pa.table({"k": [0, 1, 2], "d": ["a", "b", "c"]}), bounded=False)
            return src.join(dim, on="k", how=["inner", "left"][variant])
        return src.deduplicate("k", within=["1s", "2s"][variant])

    sp = tmp_path / "sp"
    stop_with_savepoint_after(build(0, paced=True), 1, sp)
    op = {"over": "over-0", "join": "join-0", "dedup": "dedup-0"}[kind]
    with pytest.raises(rb.InvalidArgumentError, match=f'"{op}" was a .* and is now a '):
        build(1).start(restore=str(sp)).cancel()
    build(0).start(restore=str(sp)).cancel()


def test_allow_non_restored_state_drops_the_state_of_a_removed_operator(tmp_path):
    # It alone restores a plan without one of the savepoint's stateful operators (the
    # plan check asked for allow_plan_change as well); without it the error names it.
    def src() -> rb.Stream:
        return rb.Environment(parallelism=2).datagen({"k": rb.Int64, "ts": rb.Timestamp}, rows_per_second=5000,
                                                     seed=1, fields={"k": {"min": 0, "max": 9}})

    sp = tmp_path / "sp"
    stop_with_savepoint_after(src().key_by("k").window(rb.tumbling("60s")).agg(rb.count().alias("n")).uid("counts"),
                              0, sp)
    with pytest.raises(rb.InvalidArgumentError, match='"counts" is not in this plan.*allow_non_restored_state=True'):
        src().select("k").start(restore=str(sp))
    job = src().select("k").start(restore=str(sp), allow_non_restored_state=True)
    got = next(job.results(timeout="30s", max_batches=1))
    job.cancel()
    assert got.num_rows > 0 and got.schema.names == ["k"]


@pytest.mark.parametrize("stop_after_rows", [2, 5])
def test_rows_late_before_a_savepoint_stay_late_after_the_restore(tmp_path, stop_after_rows):
    """Batches of three on-time rows and one 100 s behind (no out-of-orderness allowed):
    every late row but the first is dropped. Restored from a savepoint, the source's lanes
    start from the event time they had read (positions record it): the first restored batch's
    late row was judged against no watermark and re-fired a window that had fired."""
    import collections
    import datetime as dt
    t0 = dt.datetime(2026, 1, 1)
    ts, ks = [], []
    for b in range(60):
        ts += [t0 + dt.timedelta(seconds=200 + b * 3 + j) for j in range(3)] + [t0 + dt.timedelta(seconds=100 + b * 3)]
        ks += ["on-time"] * 3 + ["late"]
    t = pa.table({"k": ks, "ts": ts})

    def build(paced: bool) -> rb.Stream:
        env = rb.Environment(parallelism=1, batch_size=4, runtime_mode="streaming")
        s = env.from_arrow(t, event_time="ts")
        if paced:
            s = s.map_batches(lambda b: (time.sleep(0.02), b)[1])
        return s.key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n"))

    rows = lambda tb: collections.Counter(zip(*[tb[c].to_pylist() for c in ("k", "window_start", "n")]))  # noqa: E731
    with pytest.warns(rb.LateRowsWarning):
        full = build(False).collect()
    sp = tmp_path / "sp"
    before = stop_with_savepoint_after(build(True), stop_after_rows, sp)
    with pytest.warns(rb.LateRowsWarning):
        after = build(False).collect(restore=sp)
    assert after.num_rows > 0, "the job ended before the stop: the test did not interrupt it"
    assert rows(before) + rows(after) == rows(full)


@pytest.mark.parametrize("p_after", [1, 2])
def test_slice_stopped_with_a_savepoint_resumes_its_count(tmp_path, p_after):
    # slice(offset, length) over a stream counts the rows it skipped and passed in its
    # checkpoints: the rows before the stop and after the restore are the slice of the
    # uninterrupted stream, none skipped twice or passed twice. At parallelism 1 the
    # source's order is fixed, so the rows are exactly the slice, in order; restored at
    # parallelism 2 the rest arrives in another order, so they are as many, and taken from
    # the rest of the stream.
    offset, length = 20_000, 100_000
    full = bids(rb.Environment(parallelism=1)).collect(progress=False)
    want = full.slice(offset, length)
    before = stop_with_savepoint_after(bids(rb.Environment(parallelism=1)).slice(offset, length), 20_000,
                                       tmp_path / "sp")
    assert 0 < before.num_rows < length, "the stop did not fall in the middle of the slice"
    assert before.equals(want.slice(0, before.num_rows))
    after = bids(rb.Environment(parallelism=p_after)).slice(offset, length).collect(restore=tmp_path / "sp",
                                                                                    progress=False)
    assert before.num_rows + after.num_rows == length
    if p_after == 1:
        assert after.equals(want.slice(before.num_rows))
    else:
        # As multisets (the stream has a few equal rows): none beyond what the rest holds.
        rest = Counter(tuple(r.values()) for r in full.slice(offset + before.num_rows).to_pylist())
        got = Counter(tuple(r.values()) for r in after.to_pylist())
        assert not got - rest, got - rest


def test_a_checkpoint_longer_than_checkpoint_timeout_is_aborted_and_the_job_goes_on(tmp_path):
    # The first batches take a second each in a Python step, so a checkpoint's barrier,
    # behind them, takes as long: with checkpoint_timeout="300ms" those checkpoints are
    # aborted (counted as failed, the job's rows unharmed) and the ones after complete;
    # with the default (10 minutes, as Flink) they complete late, none fails.
    def run(ck, **kw):
        calls = {"n": 0}

        def slow_first(b: pa.RecordBatch) -> pa.RecordBatch:
            calls["n"] += 1
            if calls["n"] <= 3:
                time.sleep(1.0)
            return b
        env = rb.Environment(parallelism=1, checkpoint_dir=ck, checkpoint_interval="100ms", **kw)
        job = env.nexmark(20_000, max_events=60_000).bids().select("auction", "price").map_batches(slow_first).start()
        batches, failures = [], set()
        for b in job.results():
            batches.append(b)
            failures.add(job.checkpoint_metrics().get("last_failure"))
        return pa.Table.from_batches(batches, schema=job.schema), job.checkpoint_metrics(), failures

    want = rb.nexmark(20_000, max_events=60_000).bids().select("auction", "price").collect(progress=False)
    got, m, failures = run(tmp_path / "short", checkpoint_timeout="300ms")
    assert Counter(map(tuple, got.to_pylist())) == Counter(map(tuple, want.to_pylist()))
    assert m["failed"] >= 1 and m["completed"] >= 1, m
    assert any("took longer than checkpoint_timeout (300ms)" in (f or "") for f in failures), failures
    _, m, _ = run(tmp_path / "default")
    assert m["failed"] == 0 and m["completed"] >= 1, m
    with pytest.raises(rb.PlanError, match="checkpoint_timeout needs checkpoint_dir"):
        rb.Environment(checkpoint_timeout="1s")
    with pytest.raises(rb.InvalidArgumentError, match="checkpoint_timeout must be positive"):
        rb.Environment(checkpoint_dir=tmp_path / "zero", checkpoint_timeout=0).from_pydict({"x": [1]}).collect()
