"""An idle input stops holding back event time after idle_timeout."""

import datetime as dt
import time

import pyarrow as pa

import riverbed as rb

T0 = dt.datetime(2026, 1, 1)
SCHEMA = pa.schema([("k", pa.int64()), ("ts", pa.timestamp("us"))])


def busy():
    def gen():
        for i in range(30):
            yield pa.record_batch([pa.array([1]), pa.array([T0 + dt.timedelta(seconds=i)], pa.timestamp("us"))],
                                  schema=SCHEMA)
        time.sleep(4)
    return pa.RecordBatchReader.from_batches(SCHEMA, gen())


def silent(seconds):
    def gen():
        time.sleep(seconds)
        yield from ()
    return pa.RecordBatchReader.from_batches(SCHEMA, gen())


def test_idle_input_does_not_stall_windows():
    env = rb.Environment(parallelism=1)
    a = env.from_arrow(busy(), event_time="ts", idle_timeout="300ms")
    b = env.from_arrow(silent(4), event_time="ts", idle_timeout="300ms")
    job = a.union(b).key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n")).start()
    try:
        got = [r for batch in job.results(timeout="3s") for r in batch.to_pylist()]
    finally:
        job.cancel()
    # Without idleness the silent input would hold the watermark back until it ends (4 s).
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
