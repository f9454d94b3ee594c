"""Paced generators deliver small batches and advance event time at least every 200 ms at any
rate, and stop/limit interrupt their waits at once (no 60K-row bursts a minute apart).

The time limits below are hang guards, far above the expected figures (milliseconds): before
the fix, ``limit(3)`` over a 1000 events/s source took about 160 s."""

import time

import pytest

import riverbed as rb
from riverbed import col


def test_limit_over_a_slow_paced_generator_returns_promptly():
    t0 = time.monotonic()
    got = rb.nexmark(events_per_second=1000).bids().limit(3).collect()
    elapsed = time.monotonic() - t0
    assert got.num_rows == 3
    assert elapsed < 10, f"limit(3) over a paced generator took {elapsed:.1f}s"
    # pacing changes only when rows arrive, not which rows: the first three bids of the
    # same (unpaced, bounded) sequence; event times follow the rate (one event per ms)
    want = rb.nexmark(max_events=500).bids().limit(3).collect()
    assert got.drop(["date_time"]).to_pylist() == want.drop(["date_time"]).to_pylist()
    times = got.column("date_time").to_pylist()
    assert [(b - a).total_seconds() for a, b in zip(times, times[1:])] == [0.001, 0.001]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_paced_job_delivers_rows_and_watermarks_and_stops_promptly(parallelism):
    env = rb.Environment(parallelism=parallelism)
    job = (env.datagen({"id": rb.Int64, "ts": rb.Timestamp("ms")}, rows_per_second=50,
                       fields={"id": {"kind": "sequence"}})
              .filter(col("id") >= 0)
              .start())
    try:
        batches = list(job.results(timeout="3s"))
        rows = sum(b.num_rows for b in batches)
        # 50 rows/s for ~3 s: rows arrive in many small batches, not one burst at the end
        assert rows >= 20, f"only {rows} rows in 3 s from a 50 rows/s source"
        assert len(batches) >= 3
        ids = sorted(i for b in batches for i in b.column("id").to_pylist())
        assert ids == list(range(len(ids))), "rows of a paced source must be the sequence 0, 1, 2, ..."
        wms = [m["watermark"] for m in job.metrics(as_dict=True) if m["operator"] in ("datagen", "filter")]
        assert any(w is not None for w in wms), f"event time never advanced: {wms}"
    finally:
        t0 = time.monotonic()
        job.stop()
        job.wait(timeout="10s")
        elapsed = time.monotonic() - t0
    assert job.status in ("finished", "cancelled")
    assert elapsed < 5, f"stop() of a paced job took {elapsed:.1f}s"


def test_stop_interrupts_a_long_paced_wait():
    # one row every 10 s: the source spends nearly all its time waiting
    job = rb.datagen({"id": rb.Int64}, rows_per_second=0.1).start()
    time.sleep(0.5)
    t0 = time.monotonic()
    job.stop()
    assert job.wait(timeout="10s")
    assert time.monotonic() - t0 < 5
    assert job.status == "finished"
