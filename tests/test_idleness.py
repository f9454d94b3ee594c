"""An idle input stops holding back event time after idle_timeout."""

import datetime as dt
import threading
import time

import pyarrow as pa

import riverbed as rb

T0 = dt.datetime(2026, 1, 1)
SCHEMA = pa.schema([("k", pa.int64()), ("ts", pa.timestamp("us"))])


def busy(release: threading.Event | None = None):
    def gen():
        for i in range(30):
            yield pa.record_batch([pa.array([1]), pa.array([T0 + dt.timedelta(seconds=i)], pa.timestamp("us"))],
                                  schema=SCHEMA)
        if release is None:
            time.sleep(4)
        else:
            release.wait(120)
    return pa.RecordBatchReader.from_batches(SCHEMA, gen())


def silent_until(release: threading.Event):
    def gen():
        release.wait(120)
        yield from ()
    return pa.RecordBatchReader.from_batches(SCHEMA, gen())


def silent(seconds):
    def gen():
        time.sleep(seconds)
        yield from ()
    return pa.RecordBatchReader.from_batches(SCHEMA, gen())


def test_idle_input_does_not_stall_windows():
    # Both inputs stay open (no end of input fires the windows) until the test has its
    # results: only idleness can let the watermark pass the first two windows.
    release = threading.Event()
    env = rb.Environment(parallelism=1)
    a = env.from_arrow(busy(release), event_time="ts", idle_timeout="300ms")
    b = env.from_arrow(silent_until(release), event_time="ts", idle_timeout="300ms")
    job = a.union(b).key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n")).start()
    got = []
    try:
        for batch in job.results(timeout="60s"):
            got += batch.to_pylist()
            if len(got) >= 2:
                break
    finally:
        release.set()
        job.cancel()
    assert [(r["window_start"], r["n"]) for r in got] == [(T0, 10), (T0 + dt.timedelta(seconds=10), 10)]


def test_without_idle_timeout_the_silent_input_holds_time_back():
    env = rb.Environment(parallelism=1)
    a = env.from_arrow(busy(), event_time="ts")
    b = env.from_arrow(silent(2), event_time="ts")
    job = a.union(b).key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n")).start()
    try:
        early = list(job.results(timeout="1s"))
    finally:
        job.cancel()
    assert early == []
