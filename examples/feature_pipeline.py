"""The same feature pipeline live over Kafka and as a backfill over Parquet.

One function, ``features(events)``, defines per-user features over event time: clicks and
spend over the last 10 minutes, refreshed every minute (sliding windows), and clicks over
each hour (tumbling windows). Run over ``read_parquet`` of historical events it computes the
training features; run live over ``read_kafka`` of the same events replayed into a topic,
it computes the serving features. Both are identical, row for row.

    python examples/feature_pipeline.py localhost:9092        # or set RIVERBED_KAFKA_BROKERS

(``make kafka-up`` starts a broker on loopback for trying it.) The test suite runs the same
functions (tests/test_feature_pipeline.py) and checks both against DuckDB.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid

import pyarrow as pa
import pyarrow.parquet as pq

import riverbed as rb
from riverbed import col

SCHEMA = pa.schema([("user", pa.int64()), ("cents", pa.int64()), ("ts", pa.timestamp("ms", "UTC"))])
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)


def events(n: int = 5000, users: int = 50, seed: int = 7) -> pa.Table:
    """Synthetic click events in event-time order: a user, an amount spent (in cents, so
    that sums are exact whatever order they are added in), a time."""
    rnd = random.Random(seed)
    t = T0
    rows = []
    for _ in range(n):
        t += dt.timedelta(milliseconds=rnd.randint(0, 4000))
        rows.append({"user": rnd.randrange(users), "cents": rnd.randint(0, 5000), "ts": t})
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def features(events: rb.Stream) -> tuple[rb.Stream, rb.Stream]:
    """The feature pipeline: (rolling 10-minute features every minute, hourly counts) per user."""
    rolling = (events.key_by("user").window(rb.sliding("10m", "1m"))
               .agg(rb.count().alias("clicks_10m"), col("cents").sum().alias("spend_10m")))
    hourly = events.key_by("user").window(rb.tumbling("1h")).agg(rb.count().alias("clicks_1h"))
    return rolling, hourly


def backfill(parquet_dir: str) -> list[pa.Table]:
    """Training features: the pipeline over the historical events in Parquet."""
    return rb.collect_all(list(features(rb.read_parquet(parquet_dir, event_time="ts"))))


def replay(table: pa.Table, brokers: str, topic: str) -> None:
    """Replay the events into a Kafka topic, partitioned by user (each partition stays in
    event-time order), with riverbed's own Kafka sink."""
    # One writer, so that the records of each partition keep the table's order.
    rb.Environment(parallelism=1).from_arrow(table).write_kafka(brokers, topic, partition_by="user")


def live(brokers: str, topic: str, expected: int, *, parallelism: int = 2,
         timeout: float = 120) -> list[pa.Table]:
    """Serving features: the pipeline over an unbounded read of the topic. Runs until it has
    read ``expected`` events (its per-partition lag metrics say so), then stops draining the
    windows still open, as a live job does when it is taken down."""
    env = rb.Environment(parallelism=parallelism)
    src = env.read_kafka(brokers, topic, schema=SCHEMA, event_time="ts", max_out_of_orderness="0s")
    job = rb.start_all(list(features(src)))
    out: list[list[pa.RecordBatch]] = [[], []]
    deadline = time.monotonic() + timeout
    while True:
        for i, b in job.results(timeout=0.5):
            out[i].append(b)
        m = [r for r in job.metrics(as_dict=True) if r["partitions"]]
        read = sum(p["records"] for r in m for p in r["partitions"])
        if read >= expected and all(r["lag"] == 0 for r in m):
            break
        if time.monotonic() > deadline:
            job.cancel()
            raise TimeoutError(f"the live job read {read} of {expected} events in {timeout} s")
    job.stop(drain=True)
    for i, b in job.results():
        out[i].append(b)
    return [pa.Table.from_batches(bs, schema=s) for bs, s in zip(out, job.schemas)]


def ordered(t: pa.Table) -> list[dict]:
    return sorted(t.to_pylist(), key=lambda r: (r["user"], r["window_start"]))


def main(argv: list[str]) -> int:
    brokers = argv[1] if len(argv) > 1 else os.environ.get("RIVERBED_KAFKA_BROKERS")
    if not brokers:
        print("usage: feature_pipeline.py BROKERS (or set RIVERBED_KAFKA_BROKERS; make kafka-up starts one)")
        return 2
    table = events()
    with tempfile.TemporaryDirectory() as d:
        pq.write_table(table, os.path.join(d, "events.parquet"), row_group_size=1000)
        train = backfill(d)
    topic = f"clicks-{uuid.uuid4().hex[:8]}"
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": brokers})
    admin.create_topics([NewTopic(topic, 4, 1)])[topic].result(60)
    replay(table, brokers, topic)
    serve = live(brokers, topic, table.num_rows)
    for name, a, b in zip(["rolling 10 min", "hourly"], train, serve):
        same = ordered(a) == ordered(b)
        print(f"{name}: {a.num_rows} feature rows in backfill, {b.num_rows} live, identical: {same}")
        if not same:
            return 1
    print(train[0].sort_by([("user", "ascending"), ("window_start", "ascending")]).slice(0, 5).to_pandas())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
