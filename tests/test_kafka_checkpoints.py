"""Kafka in checkpoints against a real broker: source offsets in checkpoints and
savepoints (restored at another parallelism), and the exactly-once Kafka sink across a
SIGKILL and a restore. Fixtures and librdkafka helpers come from test_kafka; results are
compared with the produced records (plain Python) and with the same pipeline over an
in-memory table.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter

import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import col

pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)


def xs(batches: list[pa.RecordBatch]) -> Counter[int]:
    return Counter(x for b in batches for x in b.column("x").to_pylist())


def test_savepoint_restore_at_another_parallelism_reads_every_record_once(brokers, topic, tmp_path):  # noqa: F811
    t = topic(4)
    produce(brokers, t, [(i % 4, json.dumps({"x": i}).encode(), {}) for i in range(800)])

    def read(parallelism: int) -> rb.Stream:
        env = rb.Environment(parallelism=parallelism, checkpoint_dir=tmp_path / "ck", checkpoint_interval="1h")
        return env.read_kafka(brokers, t, schema={"x": pa.int64()}, options={"max.poll.records": 10})

    got: list[pa.RecordBatch] = []
    job = read(2).start()
    for b in job.results(timeout="60s"):
        got.append(b)
        if sum(x.num_rows for x in got) >= 100:
            break
    job.stop(savepoint=tmp_path / "sp1", timeout="60s")
    got.extend(job.results(timeout="60s"))
    first = sum(b.num_rows for b in got)
    assert first < 1000
    # Records written while the job is down are read after the restore.
    produce(brokers, t, [(i % 4, json.dumps({"x": i}).encode(), {}) for i in range(800, 1000)])
    job = read(3).start(restore=tmp_path / "sp1")
    for b in job.results(timeout="60s"):
        got.append(b)
        if sum(x.num_rows for x in got) >= 1000:
            break
    # A second savepoint after everything: the rest of the run must add nothing.
    job.stop(savepoint=tmp_path / "sp2", timeout="60s")
    got.extend(job.results(timeout="60s"))
    c = xs(got)
    assert sorted(c) == list(range(1000)), f"missing: {sorted(set(range(1000)) - set(c))[:20]}"
    assert [x for x, n in c.items() if n != 1] == []


SCHEMA = {"user": pa.int64(), "amount": pa.float64(), "ts": pa.timestamp("ms", "UTC")}

CHILD = textwrap.dedent("""
    import sys, time
    import pyarrow as pa
    import riverbed as rb
    from riverbed import col

    brokers, src, dst, ckpt, par = sys.argv[1:6]
    schema = {"user": pa.int64(), "amount": pa.float64(), "ts": pa.timestamp("ms", "UTC")}

    def slow(b):
        time.sleep(0.02)  # so that the kill falls in the middle of the read
        return b

    env = rb.Environment(parallelism=int(par), checkpoint_dir=ckpt, checkpoint_interval="150ms")
    s = (env.read_kafka(brokers, src, schema=schema, end="latest", event_time="ts",
                        max_out_of_orderness="0s", options={"max.poll.records": 20})
         .map_batches(slow)
         .key_by("user").window(rb.tumbling("60s"))
         .agg(rb.count().alias("n"), col("amount").sum().alias("total")))
    job = (s.write_kafka(brokers, dst, key="user", delivery_guarantee="exactly-once",
                         transactional_id_prefix="tx-" + dst, lazy=True)
           .start(runtime_mode="streaming", restore="latest"))
    for _ in job.results():
        pass
    print("done", flush=True)
""")


def test_window_to_exactly_once_kafka_killed_and_restored(brokers, topic, tmp_path):  # noqa: F811
    parts = 3
    evs = [{"user": i % 5, "amount": float(i % 11), "p": i % parts,
            "ts": T0 + dt.timedelta(seconds=(i // parts) * 2)} for i in range(1500)]
    src, dst = topic(parts), topic(2)
    produce(brokers, src, [(e["p"], json.dumps({**e, "ts": e["ts"].isoformat()}).encode(), {}) for e in evs])
    ckpt = tmp_path / "ck"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), RIVERBED_PROGRESS="0")

    def run(par: int) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-c", CHILD, brokers, src, dst, str(ckpt), str(par)],
                                env=env, stdout=subprocess.PIPE, text=True)

    child = run(2)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and child.poll() is None:
            done = [d for d in os.listdir(ckpt) if os.path.exists(ckpt / d / "_metadata")] if ckpt.exists() else []
            if len(done) >= 2:
                break
            time.sleep(0.02)
        assert child.poll() is None, "the job ended before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL
    # Restored at parallelism 3 in a fresh process, it runs to the end of the range.
    child = run(3)
    out, _ = child.communicate(timeout=180)
    assert child.returncode == 0 and "done" in out

    table = pa.Table.from_pylist([{k: e[k] for k in SCHEMA} for e in evs], schema=pa.schema(list(SCHEMA.items())))
    want = (rb.Environment(parallelism=2).from_arrow(table, event_time="ts")
            .key_by("user").window(rb.tumbling("60s"))
            .agg(rb.count().alias("n"), col("amount").sum().alias("total")).collect().to_pylist())
    want_c = Counter((r["user"], r["window_start"], r["n"], r["total"]) for r in want)
    got = Counter()
    for m in consume(brokers, dst):
        r = json.loads(m.value())
        start = dt.datetime.fromisoformat(r["window_start"].replace("Z", "+00:00"))
        got[(r["user"], start, r["n"], r["total"])] += 1
    assert got == want_c


@pytest.mark.parametrize("stop_after_rows", [2, 5])
def test_rows_late_before_a_savepoint_stay_late_after_a_kafka_restore(brokers, topic, tmp_path,  # noqa: F811
                                                                       stop_after_rows):
    """Groups of three on-time records and one 100 s behind (no out-of-orderness allowed),
    in one partition: every late record but the first is dropped. Restored from a
    savepoint, the partition's watermark lane starts from the event time it had read (the
    source's positions record it): the first restored poll's late record would otherwise
    be judged against no watermark and re-fire a window that had fired. The answer of an
    interrupted run is that of a plain Python reference of the same rule."""
    t = topic(1)
    recs = []
    for g in range(60):
        for j in range(3):
            recs.append(("on-time", T0 + dt.timedelta(seconds=200 + g * 3 + j)))
        recs.append(("late", T0 + dt.timedelta(seconds=100 + g * 3)))
    produce(brokers, t, [(0, json.dumps({"k": k, "ts": ts.isoformat()}).encode(), {}) for k, ts in recs])

    # The reference: watermarks move at the end of each poll, so a record is late when its
    # event time is below the largest of the polls before its own: every late record but
    # the first group's, if the first poll holds that group (four records) whole.
    def reference(first_late_counts: bool) -> Counter:
        counts: Counter[tuple[str, dt.datetime]] = Counter()
        for i, (k, ts) in enumerate(recs):
            if k == "late" and (i > 3 or not first_late_counts):
                continue
            counts[(k, T0 + dt.timedelta(seconds=(ts - T0).total_seconds() // 10 * 10))] += 1
        return Counter((k, w, n) for (k, w), n in counts.items())

    def build(paced: bool) -> rb.Stream:
        env = rb.Environment(parallelism=1)
        s = env.read_kafka(brokers, t, schema={"k": pa.string(), "ts": pa.timestamp("ms", "UTC")}, end="latest",
                           event_time="ts", max_out_of_orderness="0s", options={"max.poll.records": 4})
        if paced:
            s = s.map_batches(lambda b: (time.sleep(0.02), b)[1])
        return s.key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n"))

    def rows(tb: pa.Table) -> Counter:
        return Counter(zip(tb["k"].to_pylist(), tb["window_start"].to_pylist(), tb["n"].to_pylist()))

    with pytest.warns(rb.LateRowsWarning):
        full = build(False).collect(runtime_mode="streaming")
    assert rows(full) in (reference(True), reference(False))
    job = build(True).start(runtime_mode="streaming")
    got: list[pa.RecordBatch] = []
    while sum(b.num_rows for b in got) < stop_after_rows and job.status == "running":
        got.extend(job.results(timeout=0.05))
    job.stop(savepoint=tmp_path / "sp", timeout="60s")
    got.extend(job.results(timeout="60s"))
    before = pa.Table.from_batches(got, schema=job.schema)
    with pytest.warns(rb.LateRowsWarning):
        after = build(False).collect(runtime_mode="streaming", restore=tmp_path / "sp")
    assert after.num_rows > 0, "the job ended before the stop: the test did not interrupt it"
    assert rows(before) + rows(after) == rows(full)
