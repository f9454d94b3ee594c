"""State larger than memory: with state_backend="pebble", the rows operators hold (join
sides, dedup's waiting rows, top-N's candidates, a process function's waiting elements)
beyond state_memory_limit are spilled to disk and read back. Joins and dedup over inputs
whose state is at least ten times the cap give DuckDB's and plain Python's answers,
straight and across a savepoint; so do group_bys (median and quantile included); window
aggregations (processing time, allowed lateness), window top-N, the streaming top-N, the
window join and a process function spill (their metrics) and give DuckDB's and plain
Python's answers; a spill that cannot be written is an error naming the operator."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import riverbed as rb
from riverbed import col

CAP = 2 << 20  # state_memory_limit: per stateful operator subtask
N = 180_000  # rows per join side: about 22 MB each, 10x the cap of each of 2 subtasks
PAYLOAD = 100


def payload(n: int, tag: str) -> pa.Array:
    # Distinct enough not to compress into nothing, cheap to build.
    base = pa.array([f"{tag}{i:09d}" for i in range(n)])
    return pc.binary_join_element_wise(base, pa.scalar("x" * (PAYLOAD - 10)), "")


def sides() -> tuple[pa.Table, pa.Table]:
    left = pa.table({"lid": pa.array(range(N), pa.int64()),
                     "k": pa.array([i * 7 % N for i in range(N)], pa.int64()),
                     "lp": payload(N, "l")})
    right = pa.table({"rid": pa.array(range(N), pa.int64()),
                      "k": pa.array([i * 2 % N for i in range(N)], pa.int64()),
                      "rp": payload(N, "r")})
    return left, right


def canon(t: pa.Table, keys: list[str]) -> pa.Table:
    return t.select(sorted(t.column_names)).sort_by([(k, "ascending") for k in keys])


def duck(sql: str, **tables: pa.Table) -> pa.Table:
    con = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t)
    got = con.sql(sql).arrow()
    return got.read_all() if isinstance(got, pa.RecordBatchReader) else got


def test_join_state_ten_times_the_cap_spills_and_matches_duckdb(tmp_path) -> None:
    lt, rt = sides()
    assert lt.nbytes + rt.nbytes >= 10 * 2 * CAP  # 2 subtasks, each with its cap
    env = rb.Environment(parallelism=2, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck")  # spill stores go to ck/.work
    got = env.from_arrow(lt).join(env.from_arrow(rt), on="k").collect()
    want = duck("select l.lid, l.k, l.lp, r.rid, r.rp from lt l join rt r on l.k = r.k", lt=lt, rt=rt)
    assert got.num_rows == want.num_rows > 0
    assert canon(got, ["lid", "rid"]).equals(canon(want.cast(got.select(want.column_names).schema), ["lid", "rid"]))
    assert spill_stores(tmp_path / "ck" / ".work") == [], "the spill stores were not removed"


def spill_stores(work) -> list[int]:
    """The size of each spill store in a job's working directory."""
    if not work.exists():
        return []
    return [sum(f.stat().st_size for f in d.rglob("*") if f.is_file())
            for d in work.iterdir() if d.name.startswith("riverbed-spill-")]


@pytest.mark.parametrize("how", ["left", "full"])
def test_outer_join_spilled_matches_duckdb(tmp_path, how) -> None:
    # A full join keeps both inputs until both have ended, then joins them: when its first
    # row comes out, it holds both inputs, most of them in its spill stores, and reads
    # them back to join them. A left join builds on its right input (read first) and
    # streams the left past it: it holds the right input only.
    lt, rt = sides()
    env = rb.Environment(parallelism=2, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck")
    job = env.from_arrow(lt).join(env.from_arrow(rt), on="k", how=how).select("lid", "k", "rid").start()
    batches = []
    peak_index = 0
    for b in job.results():
        if not batches:
            stores = spill_stores(tmp_path / "ck" / ".work")
            assert len(stores) == 2, stores  # one per subtask
            # Both inputs (full) or the right one (left; the index below shows the left is
            # not kept) were spilled before this first row. The metrics are a snapshot
            # taken now and then (late on a loaded machine): wait for the one that shows it.
            want = (lt.nbytes + rt.nbytes if how == "full" else rt.nbytes) * 0.8
            m = join_metrics(job)
            deadline = time.monotonic() + 20
            while m["spilled_bytes"] < want and time.monotonic() < deadline:
                time.sleep(0.05)
                m = join_metrics(job)
            assert m["spilled_bytes"] >= want, (m, stores)
            # What is on disk is no more than the metrics say was written (Pebble adds
            # little); less while Pebble has not flushed all of it, which depends on timing.
            assert 0 < sum(stores) <= 1.2 * m["spilled_bytes"], (m, stores)
            # The rows in memory stay within the cap of each of the 2 subtasks, but for a
            # moment: a batch arriving is counted before colder rows are written out to make
            # room for it, and a subtask still reading its input (the other may have ended
            # first) can be caught in that moment. So the check is on the least of a few
            # snapshots: rows held beyond the cap for longer than a batch's write fail it.
            resident = [m["spill_resident_bytes"]]
            for _ in range(4):
                time.sleep(0.02)
                resident.append(join_metrics(job)["spill_resident_bytes"])
            assert resident[0] > 0 and min(resident) <= 2 * CAP, (resident, m)
        # The metrics are a snapshot taken now and then: the index's peak is the largest
        # seen over the batches (the first may show an index still being counted).
        peak_index = max(peak_index, join_metrics(job)["spill_index_bytes"])
        batches.append(b)
    # Narrow rows, many of them: the join's index of its keys and rows (tens of bytes per
    # row, counted against the cap, not spilled) is beyond it, and shown apart. A full
    # join indexes the rows of both inputs (60-70 bytes a row here, as the capacity of its
    # tables happens to grow), a left join those of its right only (about 80 bytes a row).
    if how == "full":
        assert 110 * N <= peak_index <= 200 * (2 * N), peak_index
    else:
        assert 10 * N <= peak_index <= 120 * N, peak_index
    got = pa.Table.from_batches(batches, schema=job.schema)
    assert spill_stores(tmp_path / "ck" / ".work") == [], "the spill stores were not removed"
    m = join_metrics(job)
    assert m["spill_read_bytes"] >= 0.8 * m["spilled_bytes"], m  # every spilled row was read back to be joined
    assert m["spill_resident_bytes"] == m["spill_index_bytes"] == 0, m  # all released at the end
    mem = rb.Environment(parallelism=2)
    plain = mem.from_arrow(lt.slice(0, 10)).join(mem.from_arrow(rt.slice(0, 10)), on="k").start()
    plain.wait()
    assert {(k, join_metrics(plain)[k]) for k in ("spilled_bytes", "spill_read_bytes", "spill_resident_bytes",
                                                 "spill_index_bytes")} == {
        ("spilled_bytes", 0), ("spill_read_bytes", 0), ("spill_resident_bytes", 0), ("spill_index_bytes", 0)}
    k = "l.k" if how == "left" else "coalesce(l.k, r.k) as k"
    want = duck(f"select l.lid, {k}, r.rid from lt l {how} join rt r on l.k = r.k", lt=lt, rt=rt)
    assert canon(got, ["lid", "rid"]).equals(canon(want.cast(got.schema), ["lid", "rid"]))


def join_metrics(job: rb.Job) -> dict:
    [m] = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("join")]
    return m


def dedup_input(n: int) -> tuple[pa.Table, list[int]]:
    t0 = dt.datetime(2026, 1, 1)
    # Keys repeat; times are distinct and out of order, so that which row is kept depends
    # on event time, not arrival.
    times = [(i * 7919) % n for i in range(n)]
    keys = [(i * 31) % (n // 4) for i in range(n)]
    t = pa.table({"id": pa.array(range(n), pa.int64()), "key": pa.array(keys, pa.int64()),
                  "ts": pa.array([t0 + dt.timedelta(milliseconds=s) for s in times], pa.timestamp("us")),
                  "p": payload(n, "d")})
    # Plain Python: per key, the row with the least event time.
    first: dict[int, tuple[int, int]] = {}
    for i, (k, s) in enumerate(zip(keys, times)):
        if k not in first or s < first[k][0]:
            first[k] = (s, i)
    return t, sorted(i for _, i in first.values())


def test_dedup_state_ten_times_the_cap_matches_python() -> None:
    n = 200_000
    t, want = dedup_input(n)
    assert t.nbytes >= 10 * CAP  # one subtask holds every row until the input ends
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP)
    got, m = run_spilling(env.from_arrow(t, event_time="ts").deduplicate("key"), "dedup")
    assert m["spilled_bytes"] >= 0.5 * t.nbytes, m
    assert sorted(got["id"].to_pylist()) == want
    byid = dict(zip(t["id"].to_pylist(), t["p"].to_pylist()))
    assert all(byid[i] == p for i, p in zip(got["id"].to_pylist(), got["p"].to_pylist()))


def test_spilled_join_across_a_savepoint_matches_duckdb(tmp_path) -> None:
    # Paced, so that the stop lands mid-input, once the join holds about ten times its cap
    # (it reads its right input first and holds all of it, 160,000 rows, about 20 MB, then
    # streams the left past it); the restored run (at another parallelism) gets the spilled state back, within
    # its cap, and the two runs' rows together are DuckDB's answer.
    rows = 160_000

    def source(env: rb.Environment, side: str) -> rb.Stream:
        s = env.datagen({"x": rb.Int64}, fields={"x": {"kind": "sequence", "min": 0}},
                        rows_per_second=60_000, number_of_rows=rows)
        k = (col("x") * 7 % rows) if side == "l" else (col("x") * 2 % rows)
        pad = rb.lit("p" * PAYLOAD)
        return s.select(col("x").alias(f"{side}id"), k.alias("k"),
                        rb.concat_str([col("x").cast(rb.Utf8), pad]).alias(f"{side}p"))

    def pipeline(env: rb.Environment) -> rb.Stream:
        return source(env, "l").join(source(env, "r"), on="k")

    def read(job: rb.Job) -> int:
        return sum(m["records_out"] for m in job.metrics().to_pylist() if m["operator"] == "datagen")

    kw = dict(state_backend="pebble", state_memory_limit=CAP)
    env = rb.Environment(parallelism=1, **kw)
    job = pipeline(env).start()
    while read(job) < rows + 60_000 and job.status == "running":
        time.sleep(0.05)
    job.stop(savepoint=tmp_path / "sp")
    before = pa.Table.from_batches(list(job.results()), schema=job.schema)
    sp = rb.read_savepoint(tmp_path / "sp")
    held = sum(sp.state("join-0", table=t).nbytes for t in ("left.v1", "right.v1"))
    assert held >= 9 * CAP, f"the savepoint holds {held} bytes of join state, not about ten times the cap"
    env2 = rb.Environment(parallelism=2, **kw)
    restored = pipeline(env2).start(restore=tmp_path / "sp")
    after = restored.collect()
    assert 0 < read(restored) < 2 * rows, "the stop did not land mid-input"
    both = pa.concat_tables([before, after.cast(before.schema)])
    want = duck(
        f"select l.x as lid, l.x * 7 % {rows} as k, cast(l.x as varchar) || repeat('p', {PAYLOAD}) as lp, "
        f"r.x as rid, cast(r.x as varchar) || repeat('p', {PAYLOAD}) as rp "
        f"from x l join x r on l.x * 7 % {rows} = r.x * 2 % {rows}",
        x=pa.table({"x": pa.array(range(rows), pa.int64())}))
    assert canon(both, ["lid", "rid"]).equals(canon(want.cast(both.select(want.column_names).schema), ["lid", "rid"]))


def test_a_spill_that_cannot_be_written_names_the_operator(tmp_path) -> None:
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / ".work").write_text("not a directory")  # the job's working directory cannot be made
    lt, rt = sides()
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP, checkpoint_dir=ck)
    with pytest.raises(rb.RiverbedError, match=r"join.*cannot spill rows to disk"):
        env.from_arrow(lt).join(env.from_arrow(rt), on="k").collect()


def run_spilling(s: rb.Stream, operator: str) -> tuple[pa.Table, dict]:
    """The result of s and the metrics of its operator named operator, which must have
    spilled, counted an index of its rows, and released everything by the end."""
    job = s.start()
    got = pa.Table.from_batches(list(job.results()), schema=job.schema)
    [m] = [m for m in job.metrics(as_dict=True) if m["operator"] == operator]
    assert m["spilled_bytes"] > 0 and m["spill_read_bytes"] > 0, m
    assert m["spill_resident_bytes"] == m["spill_index_bytes"] == 0, m  # all released at the end
    return got, m


def wide_input(n: int, keys: int, tag: str, seed: int = 1) -> pa.Table:
    """n rows over keys keys, with distinct values v and event times within an hour, in a
    scrambled order, and a payload."""
    t0 = dt.datetime(2026, 1, 1)
    return pa.table({"id": pa.array(range(n), pa.int64()),
                     "k": pa.array([(i * 7919 + seed) % keys for i in range(n)], pa.int64()),
                     "v": pa.array([(i * 104729 + seed) % n for i in range(n)], pa.int64()),
                     "ts": pa.array([t0 + dt.timedelta(microseconds=(i * 15485863 + seed) % 3_600_000_000)
                                     for i in range(n)], pa.timestamp("us")),
                     "p": payload(n, tag)})


def test_window_top_n_spilled_matches_duckdb() -> None:
    # Every key's candidates are kept until the window (an hour: the whole input) closes.
    t = wide_input(100_000, 10_000, "t")
    assert t.nbytes >= 5 * CAP
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP)
    got, _ = run_spilling(env.from_arrow(t, event_time="ts").key_by("k").window(rb.tumbling("1h")).top_n(5, "v"),
                          "top_n(5)")
    want = duck("select id, p, row_number() over (partition by k order by v desc) as rank from t "
                "qualify rank <= 5", t=t)
    assert sorted(zip(got["id"].to_pylist(), got["rank"].to_pylist(), got["p"].to_pylist())) == \
        sorted(zip(want["id"].to_pylist(), want["rank"].to_pylist(), want["p"].to_pylist()))


def test_window_join_spilled_matches_duckdb() -> None:
    # Both sides of every ten-minute window are held until the input ends.
    lt, rt = wide_input(60_000, 20_000, "l", 1), wide_input(60_000, 20_000, "r", 2)
    assert lt.nbytes + rt.nbytes >= 5 * CAP
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP)
    got, _ = run_spilling(env.from_arrow(lt, event_time="ts").join_window(
        env.from_arrow(rt, event_time="ts"), on="k", window=rb.tumbling("10m")), "join(window)")
    want = duck("select l.id, r.id as rid, r.p from lt l join rt r on l.k = r.k "
                "and time_bucket(interval 10 minute, l.ts) = time_bucket(interval 10 minute, r.ts)", lt=lt, rt=rt)
    assert want.num_rows > 1000
    assert sorted(zip(got["id"].to_pylist(), got["id_right"].to_pylist(), got["p_right"].to_pylist())) == \
        sorted(zip(want["id"].to_pylist(), want["rid"].to_pylist(), want["p"].to_pylist()))


def test_processing_time_windows_spill_and_match_duckdb() -> None:
    # Processing-time windows of an hour: the rows fall in one or two windows by the
    # clock, whose 100,000 groups take several times the cap; summed over the windows,
    # each key's count and sum are DuckDB's.
    t = wide_input(300_000, 100_000, "t")
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP)
    got, m = run_spilling(env.from_arrow(t).key_by("k").window(rb.tumbling("1h", time="processing"))
                          .agg(rb.count().alias("n"), col("v").sum().alias("sv"), col("v").median().alias("med")),
                          "window_agg(tumbling)")
    assert m["spilled_bytes"] >= CAP, m
    per_key = duck("select k, sum(n) as n, sum(sv) as sv from got group by k order by k", got=got)
    want = duck("select k, count(*) as n, sum(v) as sv from t group by k order by k", t=t)
    assert per_key.to_pylist() == want.to_pylist()
    if got.num_rows == want.num_rows:  # one window: the medians are the keys' medians
        medians = duck("select k, median(v)::double as med from t group by k order by k", t=t)
        assert duck("select k, med from got order by k", got=got).to_pylist() == medians.to_pylist()


def test_windows_with_allowed_lateness_spill_and_match_duckdb() -> None:
    # Streaming, with rows scrambled over an hour, a watermark 1 s behind and lateness of
    # an hour: windows fire early and many rows arrive after theirs fired, each re-emitting
    # its key's result; 50,000 keys in 10-minute windows take several times the cap, so fired
    # windows keep their state on disk. No row is dropped, so the last result of each
    # window and key is DuckDB's over all rows.
    t = wide_input(200_000, 50_000, "t").drop_columns(["p"])
    env = rb.Environment(parallelism=1, runtime_mode="streaming", state_backend="pebble",
                         state_memory_limit=CAP)
    got, m = run_spilling(env.from_arrow(t, event_time="ts", max_out_of_orderness="1s").key_by("k")
                          .window(rb.tumbling("10m"), allowed_lateness="1h")
                          .agg(rb.count().alias("n"), col("v").sum().alias("sv")), "window_agg(tumbling)")
    assert m["spilled_bytes"] >= CAP and m["late_records"] == 0, m
    updates = got.num_rows
    last = duck("select k, window_start, max(n) as n, arg_max(sv, n) as sv from got "
                "group by k, window_start order by k, window_start", got=got)
    want = duck("select k, time_bucket(interval 10 minute, ts) as window_start, count(*) as n, sum(v) as sv "
                "from t group by k, window_start order by k, window_start", t=t)
    assert updates > 1.2 * want.num_rows  # late rows re-emitted their keys' results
    assert last.to_pylist() == want.to_pylist()


class CountPerKey(rb.KeyedProcessFunction):
    """Counts each key's elements in value state and outputs the count at every element."""

    def open(self, runtime_context):
        self.n = runtime_context.get_state(rb.ValueStateDescriptor("n", rb.Int64))

    def process_element(self, row, ctx):
        n = (self.n.value() or 0) + 1
        self.n.update(n)
        yield {"k": ctx.get_current_key(), "n": n, "id": row.id}


def test_process_function_spilled_matches_python() -> None:
    # The elements wait for the watermark: here to the end of the input.
    t = wide_input(70_000, 5_000, "e")
    assert t.nbytes >= 4 * CAP
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP)
    got, _ = run_spilling(env.from_arrow(t, event_time="ts").key_by("k").process(
        CountPerKey(), output_schema={"k": rb.Int64, "n": rb.Int64, "id": rb.Int64}), "process")
    # Plain Python: per key in event-time order, the element's position.
    by: dict[int, list[tuple[dt.datetime, int]]] = {}
    for k, ts, i in zip(t["k"].to_pylist(), t["ts"].to_pylist(), t["id"].to_pylist()):
        by.setdefault(k, []).append((ts, i))
    want = sorted((k, n + 1, i) for k, rows in by.items() for n, (_, i) in enumerate(sorted(rows)))
    assert sorted(zip(got["k"].to_pylist(), got["n"].to_pylist(), got["id"].to_pylist())) == want


def test_streaming_top_k_spilled_matches_duckdb(tmp_path) -> None:
    # The streaming top-N over an unbounded stream holds each key's best rows for ever: the
    # changes committed at a checkpoint, applied to an empty table, equal DuckDB's top-N of
    # the rows read by then, once the rows held are well beyond the cap and spilled.
    env = rb.Environment(parallelism=1, batch_size=1000, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck", checkpoint_interval="1h")
    s = env.datagen({"id": rb.Int64, "k": rb.Int64, "v": rb.Int64, "p": rb.Utf8}, rows_per_second=200_000, seed=3,
                    fields={"id": {"kind": "sequence"}, "k": {"min": 0, "max": 40_000},
                            "v": {"min": 0, "max": 1_000_000_000}, "p": {"length": 200}})
    q = s.top_k(3, by=["v", "id"], reverse=[False, True], per="k")
    out = tmp_path / "out"
    job = rb.start_all([q.write_parquet(str(out / "changes"), lazy=True),
                        s.write_parquet(str(out / "input"), lazy=True)])
    try:
        for _ in range(3000):  # until the state is several times the cap (at most five minutes)
            [m] = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("rank")]
            if m["spilled_bytes"] >= 5 * CAP:
                break
            time.sleep(0.1)
        job.checkpoint()
        [m] = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("rank")]
    finally:
        job.cancel()
    assert m["spilled_bytes"] >= 5 * CAP and m["spill_read_bytes"] > 0, m
    assert 0 < m["spill_index_bytes"], m
    changes = pa.concat_tables([pq.read_table(f) for f in sorted((out / "changes").glob("*.parquet"))])
    rows = pa.concat_tables([pq.read_table(f) for f in sorted((out / "input").glob("*.parquet"))])
    held: Counter[tuple] = Counter()
    for r in changes.select(["k", "v", "id", "p", "__op"]).to_pylist():
        held[(r["k"], r["v"], r["id"], r["p"])] += 1 if r["__op"] in ("+I", "+U") else -1
    assert all(n in (0, 1) for n in held.values())
    want = duck("select k, v, id, p from rows qualify row_number() over (partition by k order by v desc, id) <= 3",
                rows=rows)
    assert +held == Counter(zip(*(want[c].to_pylist() for c in ("k", "v", "id", "p"))))
    assert rows.num_rows >= 40_000


def grouped_input(n: int, keys: int) -> pa.Table:
    return pa.table({"k": pa.array([(i * 7919) % keys for i in range(n)], pa.int64()),
                     "s": pa.array([f"w{(i * 104729) % 5000}" for i in range(n)]),
                     "v": pa.array([(i * 31) % 1000 - 500 for i in range(n)], pa.int64())})


GROUPED_SQL = ("select k, count(*) as n, sum(v) as sv, min(s) as mn, max(s) as mx, "
               "count(distinct s) as u from t group by k")


def grouped(s: rb.Stream) -> rb.Stream:
    return s.group_by("k").agg(rb.count().alias("n"), col("v").sum().alias("sv"), col("s").min().alias("mn"),
                               col("s").max().alias("mx"), col("s").n_unique().alias("u"))


def test_group_by_state_ten_times_the_cap_spills_and_matches_duckdb(tmp_path) -> None:
    # 300,000 groups over 2 subtasks, each with a table of about 20 MB against its 2 MB cap:
    # the group_by spills its groups in partitions by key hash and merges them one
    # partition at a time at the end of the input.
    t = grouped_input(600_000, 300_000)
    env = rb.Environment(parallelism=2, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck")
    job = grouped(env.from_arrow(t)).start()
    got = pa.Table.from_batches(list(job.results()), schema=job.schema)
    want = duck(GROUPED_SQL, t=t)
    assert got.num_rows == want.num_rows == 300_000
    assert canon(got, ["k"]).equals(canon(want.cast(got.select(want.column_names).schema), ["k"]))
    [m] = [m for m in job.metrics(as_dict=True) if m["operator"] == "aggregate"]
    assert m["spilled_bytes"] > 0 and m["spill_read_bytes"] >= m["spilled_bytes"], m
    assert m["spill_resident_bytes"] == 0, m  # all released at the end
    assert spill_stores(tmp_path / "ck" / ".work") == [], "the spilled partitions were not removed"
    # The same with the memory backend holds every group in memory and gives the same.
    mem = grouped(rb.Environment(parallelism=2).from_arrow(t)).collect()
    assert canon(mem, ["k"]).equals(canon(got, ["k"]))


def test_group_by_median_and_quantile_spill_and_match_duckdb(tmp_path) -> None:
    # median and quantile keep every value of a group: 100,000 groups of 6 values over
    # 2 subtasks take several times their 2 MB caps, spill as partial states (every
    # value) and merge one partition at a time, giving DuckDB's medians and quantiles.
    t = grouped_input(600_000, 100_000)
    env = rb.Environment(parallelism=2, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck")
    job = (env.from_arrow(t).group_by("k")
           .agg(col("v").median().alias("med"), col("v").quantile(0.9, interpolation="linear").alias("q9"),
                rb.count().alias("n")).start())
    got = pa.Table.from_batches(list(job.results()), schema=job.schema)
    want = duck("select k, median(v)::double as med, quantile_cont(v, 0.9) as q9, count(*) as n from t group by k", t=t)
    assert got.num_rows == want.num_rows == 100_000
    assert canon(got, ["k"]).equals(canon(want.cast(got.select(want.column_names).schema), ["k"]))
    [m] = [m for m in job.metrics(as_dict=True) if m["operator"] == "aggregate"]
    assert m["spilled_bytes"] > 0 and m["spill_read_bytes"] >= m["spilled_bytes"], m


def test_spilled_group_by_across_a_savepoint_matches_duckdb(tmp_path) -> None:
    # Paced, so that the stop lands mid-input with spilled groups; the savepoint holds
    # them (as partial states), and the run restored at another parallelism merges them
    # back within its cap and ends with DuckDB's groups.
    rows, keys = 400_000, 200_000

    def pipeline(env: rb.Environment) -> rb.Stream:
        s = env.datagen({"x": rb.Int64}, fields={"x": {"kind": "sequence", "min": 0}},
                        rows_per_second=150_000, number_of_rows=rows)
        return grouped(s.select((col("x") * 7919 % keys).alias("k"),
                                rb.concat_str([rb.lit("w"), (col("x") * 104729 % 5000).cast(rb.Utf8)]).alias("s"),
                                (col("x") * 31 % 1000 - 500).alias("v")))

    def read(job: rb.Job) -> int:
        return sum(m["records_out"] for m in job.metrics().to_pylist() if m["operator"] == "datagen")

    kw = dict(state_backend="pebble", state_memory_limit=CAP)
    job = pipeline(rb.Environment(parallelism=1, **kw)).start()
    while read(job) < rows // 2 and job.status == "running":
        time.sleep(0.05)
    job.stop(savepoint=tmp_path / "sp")
    assert not list(job.results()), "a bounded group_by emits nothing before its input ends"
    sp = rb.read_savepoint(tmp_path / "sp")
    [op] = sp.operators
    assert sp.state(op, table="groups.spilled.v1").num_rows > 0, "nothing spilled before the savepoint"
    sp.state(op)  # groups.v1, the groups in memory (none when the last batch filled the cap)
    restored = pipeline(rb.Environment(parallelism=2, **kw)).start(restore=tmp_path / "sp")
    got = restored.collect()
    assert 0 < read(restored) < rows, "the stop did not land mid-input"
    x = pa.array(range(rows), pa.int64())
    t = pa.table({"k": pc.remainder(pc.multiply(x, 7919), keys),
                  "s": pc.binary_join_element_wise(
                      "w", pc.cast(pc.remainder(pc.multiply(x, 104729), 5000), pa.string()), ""),
                  "v": pc.subtract(pc.remainder(pc.multiply(x, 31), 1000), 500)})
    want = duck(GROUPED_SQL, t=t)
    assert canon(got, ["k"]).equals(canon(want.cast(got.select(want.column_names).schema), ["k"]))


def test_a_group_by_spill_that_cannot_be_written_names_the_operator(tmp_path) -> None:
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / ".work").write_text("not a directory")  # the job's working directory cannot be made
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=1 << 20, checkpoint_dir=ck)
    with pytest.raises(rb.RiverbedError, match=r"group_by: cannot make the working directory for spilled aggregation"):
        grouped(env.from_arrow(grouped_input(200_000, 100_000))).collect()


@pytest.mark.parametrize("kind", ["tumbling", "sliding"])
def test_window_aggregation_ten_times_the_cap_spills_and_matches_duckdb(tmp_path, kind) -> None:
    # Every window of the hour is open until the input ends (one watermark at the end),
    # holding about 300,000 (key, window) groups, many times the cap: the windows spill
    # their groups and fire a partition at a time.
    t = wide_input(400_000, 100_000, "w")
    win = rb.tumbling("10m") if kind == "tumbling" else rb.sliding("10m", every="5m")
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck")
    job = (env.from_arrow(t, event_time="ts").key_by("k").window(win)
           .agg(rb.count().alias("n"), col("v").sum().alias("sv"), col("v").max().alias("mx")).start())
    got = pa.Table.from_batches(list(job.results()), schema=job.schema)
    [m] = [m for m in job.metrics(as_dict=True) if m["operator"].startswith("window")]
    assert m["spilled_bytes"] > 0 and m["spill_read_bytes"] > 0 and m["spill_resident_bytes"] == 0, m
    assert spill_stores(tmp_path / "ck" / ".work") == [], "the spilled windows were not removed"
    slide, size = (600_000_000, 600_000_000) if kind == "tumbling" else (300_000_000, 600_000_000)
    want = duck(f"select k, s as ws, count(*) as n, sum(v) as sv, max(v) as mx from "
                f"(select k, v, unnest(list_transform(range(0, {size // slide}), lambda i: b - i * {slide})) as s "
                f" from (select k, v, epoch_us(ts) // {slide} * {slide} as b from t)) group by k, s", t=t)
    rows = sorted(zip(got["k"].to_pylist(), pc.cast(got["window_start"], pa.int64()).to_pylist(),
                      got["n"].to_pylist(), got["sv"].to_pylist(), got["mx"].to_pylist()))
    assert rows == sorted(zip(*(want[c].to_pylist() for c in ["k", "ws", "n", "sv", "mx"])))



@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_session_windows_beyond_the_cap_spill_and_match_duckdb(tmp_path, mode) -> None:
    # 100,000 keys with a few rows each over an hour, in sessions with a 5-minute gap.
    # Batch: every session is open until the input ends (one watermark at the end), many
    # times the cap: the keys used longest ago go to the store, with their timers, and
    # come back a chunk at a time to fire. Streaming: the rows in time order, a watermark
    # 1 s behind: sessions fire as it passes, most of them from the store. Either way the
    # sessions are DuckDB's (gaps and islands).
    t = wide_input(300_000, 100_000, "s").drop_columns(["p"])
    kw = {"runtime_mode": "streaming"} if mode == "streaming" else {}
    if mode == "streaming":
        t = t.sort_by("ts")
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=CAP,
                         checkpoint_dir=tmp_path / "ck", **kw)
    src = env.from_arrow(t, event_time="ts", max_out_of_orderness="1s")
    got, m = run_spilling(src.key_by("k").window(rb.session("5m"))
                          .agg(rb.count().alias("n"), col("v").sum().alias("sv"), col("v").max().alias("mx")),
                          "window_agg(session)")
    assert m["spilled_bytes"] >= CAP and m["late_records"] == 0, m
    assert spill_stores(tmp_path / "ck" / ".work") == [], "the spilled sessions were not removed"
    want = duck("""
        with o as (select k, ts, v, coalesce(ts - lag(ts) over (partition by k order by ts) >= interval 5 minute,
                                             true)::int as brk from t),
             s as (select *, sum(brk) over (partition by k order by ts, v rows unbounded preceding) as sid from o)
        select k, min(ts) as ws, max(ts) + interval 5 minute as we, count(*) as n, sum(v) as sv, max(v) as mx
        from s group by k, sid order by k, ws""", t=t)
    rows = duck("select k, window_start::timestamp as ws, window_end::timestamp as we, n, sv, mx from got "
                "order by k, ws", got=got)
    assert rows.num_rows > 200_000
    assert rows.to_pylist() == want.to_pylist()


def test_over_frames_beyond_the_cap_spill_and_match_duckdb() -> None:
    # Streaming aggregations over frames (Flink's OVER aggregation) per key of 100,000, the
    # rows released in time order by a watermark 1 s behind: the partitions' states (the
    # rows their frames reach, running aggregates) take many times the cap, so those used
    # longest ago go to the store and come back when their keys' rows are released. Each
    # row's aggregates are DuckDB's window functions.
    t = wide_input(300_000, 100_000, "f").drop_columns(["p"]).sort_by([("ts", "ascending"), ("id", "ascending")])
    env = rb.Environment(parallelism=1, runtime_mode="streaming", state_backend="pebble", state_memory_limit=CAP)
    s = env.from_arrow(t, event_time="ts", max_out_of_orderness="1s")
    got, m = run_spilling(s.with_columns(col("v").sum().over("k", order_by="ts", rows="unbounded").alias("a"),
                                         col("v").max().over("k", order_by="ts", rows=3).alias("b"),
                                         rb.count().over("k", order_by="ts", range="10m").alias("c")), "over")
    assert m["spilled_bytes"] >= 10 * CAP and m["late_records"] == 0, m
    want = duck("select id, sum(v) over (partition by k order by ts, id rows unbounded preceding) as a, "
                "max(v) over (partition by k order by ts, id rows 3 preceding) as b, "
                "count(*) over (partition by k order by ts range between interval 10 minute preceding "
                "and current row) as c from t order by id", t=t)
    assert duck("select id, a, b, c from got order by id", got=got).to_pylist() == want.to_pylist()

@pytest.mark.parametrize("key_type", ["int64", "decimal"])
def test_updating_group_by_beyond_the_cap_matches_duckdb_across_a_savepoint(tmp_path, key_type) -> None:
    # An updating group_by over an unbounded stream of 300,000 keys keeps the groups
    # updated longest ago in its spill store once its table outgrows the cap, and reads
    # them back when their keys come again. The changes committed by the savepoint,
    # applied to an empty table, equal DuckDB's GROUP BY over the rows read by then; the
    # savepoint holds every group (those in the store included); restored at parallelism
    # 2, the changes of both runs together equal DuckDB's over the rows of both.
    keys = 300_000

    def pipeline(env: rb.Environment, out) -> list[rb.Stream]:
        s = env.datagen({"id": rb.Int64, "k": rb.Int64, "v": rb.Int64, "s": rb.Utf8}, rows_per_second=200_000,
                        seed=5, fields={"id": {"kind": "sequence"}, "k": {"min": 0, "max": keys - 1},
                                        "v": {"min": -1000, "max": 1000}, "s": {"length": 12}})
        if key_type == "decimal":
            s = s.with_columns(col("k").cast(pa.decimal128(12, 2)))
        g = s.group_by("k").agg(rb.count().alias("n"), col("v").sum().alias("sv"), col("s").max().alias("mx"))
        return [g.write_parquet(str(out / "changes"), lazy=True), s.write_parquet(str(out / "input"), lazy=True)]

    def aggregate(job: rb.Job) -> dict:
        [m] = [m for m in job.metrics(as_dict=True) if m["operator"] == "aggregate"]
        return m

    def check(out) -> pa.Table:
        changes = pa.concat_tables([pq.read_table(f) for f in sorted((out / "changes").glob("*.parquet"))])
        rows = pa.concat_tables([pq.read_table(f) for f in sorted((out / "input").glob("*.parquet"))])
        held: Counter[tuple] = Counter()
        for r in changes.select(["k", "n", "sv", "mx", "__op"]).to_pylist():
            held[(r["k"], r["n"], r["sv"], r["mx"])] += 1 if r["__op"] in ("+I", "+U") else -1
        assert all(n in (0, 1) for n in held.values())
        want = duck("select k, count(*) as n, sum(v) as sv, max(s) as mx from rows group by k", rows=rows)
        assert +held == Counter(zip(*(want[c].to_pylist() for c in ("k", "n", "sv", "mx"))))
        return want

    kw = dict(state_backend="pebble", state_memory_limit=CAP, checkpoint_dir=tmp_path / "ck",
              checkpoint_interval="1h")
    out = tmp_path / "out"
    job = rb.start_all(pipeline(rb.Environment(parallelism=1, **kw), out))
    try:
        for _ in range(3000):  # until the groups are several times the cap (at most five minutes)
            m = aggregate(job)
            if m["spilled_bytes"] >= 5 * CAP and m["spill_read_bytes"] > 0:
                break
            time.sleep(0.1)
        job.stop(savepoint=tmp_path / "sp", timeout="120s")
    finally:
        job.cancel()
    assert m["spilled_bytes"] >= 5 * CAP and m["spill_read_bytes"] > 0, m
    assert m["spill_resident_bytes"] <= CAP, m
    want = check(out)
    sp = rb.read_savepoint(tmp_path / "sp")
    [op] = sp.operators if len(sp.operators) == 1 else [o for o in sp.operators if o.startswith("aggregate")]
    saved = sp.state(op)
    assert saved.num_rows == want.num_rows > 2 * keys // 10
    assert sorted(zip(saved["k"].to_pylist(), saved["acc:n"].to_pylist())) == sorted(
        zip(want["k"].to_pylist(), want["n"].to_pylist()))
    restored = rb.start_all(pipeline(rb.Environment(parallelism=2, **kw), out), restore=tmp_path / "sp")
    try:
        time.sleep(1.5)
        restored.checkpoint()
        assert aggregate(restored)["spill_read_bytes"] > 0
    finally:
        restored.cancel()
    assert check(out).num_rows > want.num_rows


def test_an_updating_group_by_whose_store_cannot_be_made_names_the_operator(tmp_path) -> None:
    ck = tmp_path / "ck"
    ck.mkdir()
    (ck / ".work").write_text("not a directory")  # the job's working directory cannot be made
    env = rb.Environment(parallelism=1, state_backend="pebble", state_memory_limit=1 << 20, checkpoint_dir=ck)
    s = env.datagen({"k": rb.Int64}, seed=1, fields={"k": {"min": 0, "max": 1_000_000}})
    job = s.group_by("k").agg(rb.count().alias("n")).start()
    try:
        with pytest.raises(rb.RiverbedError, match=r"aggregate: cannot open the store for groups beyond "
                                                   r"state_memory_limit: .*\.work"):
            for _ in job.results(timeout=60):
                pass
    finally:
        job.cancel()
