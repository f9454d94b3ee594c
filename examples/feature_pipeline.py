"""The same feature pipeline live over Kafka and as a backfill over Parquet.

Users click; some clicks are followed by a prediction request ("will this user click again
in the next 5 minutes?"), labelled afterwards with the answer. One function,
``features(events, requests)``, gives each request the user's features as of the request
time: clicks and spend over the last 10 minutes (sliding windows every minute) and over the
last hour (every 5 minutes), joined onto the request with an as-of join, so that no request
sees a click after it.

Run over ``read_parquet`` of the historical events and requests it computes the training
set; run live over ``read_kafka`` of the same records replayed into two topics, it computes
the features served online. Both are identical, row for row.

    python examples/feature_pipeline.py localhost:9092        # or set RIVERBED_KAFKA_BROKERS

(``make kafka-up`` starts a broker on loopback for trying it.) The test suite runs the same
functions (tests/test_feature_pipeline.py) and checks both against DuckDB; the notebook
feature_pipeline.ipynb walks through them.
"""

from __future__ import annotations

import bisect
import datetime as dt
import os
import random
import sys
import tempfile
import time
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import riverbed as rb
from riverbed import col

EVENTS = pa.schema([("user", pa.int64()), ("cents", pa.int64()), ("ts", pa.timestamp("ms", "UTC"))])
REQUESTS = pa.schema([("request_id", pa.int64()), ("user", pa.int64()), ("ts", pa.timestamp("ms", "UTC")),
                      ("label", pa.bool_())])
T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
MS = dt.timedelta(milliseconds=1)

# The features: (name, window size, how often a window starts). A request takes the windows
# that ended last at or before its time.
WINDOWS = [("10m", dt.timedelta(minutes=10), dt.timedelta(minutes=1)),
           ("1h", dt.timedelta(hours=1), dt.timedelta(minutes=5))]


def events(n: int = 5000, users: int = 50, seed: int = 7) -> pa.Table:
    """Synthetic click events in event-time order: a user (low numbers click more often), an
    amount spent (in cents, so that sums are exact whatever order they are added in), a
    time. Some clicks share a time."""
    rnd = random.Random(seed)
    t = T0
    rows = []
    for _ in range(n):
        t += dt.timedelta(milliseconds=rnd.randint(0, 4000))
        rows.append({"user": int(users * rnd.random() ** 2), "cents": rnd.randint(0, 5000), "ts": t})
    return pa.Table.from_pylist(rows, schema=EVENTS)


def requests(events: pa.Table, n: int = 1000, users: int = 60, seed: int = 11) -> pa.Table:
    """Prediction requests in time order, labelled with whether the user clicked again within
    5 minutes after the request. Besides requests at random times they hold the edge cases
    of a point-in-time join: requests before the user's first click (users beyond those of
    ``events`` never click at all), requests at the very time of one of the user's clicks, on a
    window's end and its last instant, exactly one slide after the last window that holds
    a click, and pairs of requests of one user at one time."""
    rnd = random.Random(seed)
    clicks: dict[int, list[dt.datetime]] = {}
    for u, t in zip(events["user"].to_pylist(), events["ts"].to_pylist()):
        clicks.setdefault(u, []).append(t)
    first, last = events["ts"][0].as_py(), events["ts"][-1].as_py()
    span = (last - first) // MS
    out = []
    for _ in range(n):
        u = rnd.randrange(users)
        kind = rnd.random()
        t = first + rnd.randint(-span // 20, span) * MS  # some before the first click of all
        if kind < 0.15 and u in clicks:  # at one of the user's clicks
            t = rnd.choice(clicks[u])
        elif kind < 0.30:  # on a minute (a window's end), or the millisecond before
            t = T0 + rnd.randint(0, span // 60000) * dt.timedelta(minutes=1) - rnd.randint(0, 1) * MS
        elif kind < 0.40 and u in clicks:  # one slide after the last window of a click before a pause
            _, size, every = WINDOWS[0]
            cs = clicks[u]
            c = rnd.choice([c for i, c in enumerate(cs) if i + 1 == len(cs) or cs[i + 1] - c > size + every])
            t = T0 + (c - T0) // every * every + size + every - MS  # the last instant of that slide
        out.append((u, t))
        if rnd.random() < 0.05:
            out.append((u, t))  # the same user twice at one time
    out.sort(key=lambda r: r[1])
    rows = []
    for i, (u, t) in enumerate(out):
        cs = clicks.get(u, [])
        j = bisect.bisect_right(cs, t)
        rows.append({"request_id": i, "user": u, "ts": t,
                     "label": j < len(cs) and cs[j] <= t + dt.timedelta(minutes=5)})
    return pa.Table.from_pylist(rows, schema=REQUESTS)


def features(events: rb.Stream, requests: rb.Stream) -> rb.Stream:
    """The feature pipeline: each request with its user's clicks and spend over the last 10
    minutes and the last hour, as of the request's time.

    Per user, sliding windows count the clicks and sum the spend; each request takes, with
    an as-of join by user, the window whose last instant (``window_time``) is the latest at
    or before the request's time: it holds only clicks at or before the request. A tolerance
    of less than one slide leaves out a window that ended earlier than that (no click in the
    window that ended last): the features are then null, as they are for a user who has not
    clicked yet. Both inputs must have ``ts`` as their event time."""
    out = requests
    for name, size, every in WINDOWS:
        rolling = (events.key_by("user").window(rb.sliding(size, every), window_time=True)
                   .agg(rb.count().alias(f"clicks_{name}"), col("cents").sum().alias(f"spend_{name}"))
                   .select("user", "window_time", f"clicks_{name}", f"spend_{name}"))
        out = (out.join_asof(rolling, left_on="ts", right_on="window_time", by="user", tolerance=every - MS)
               .drop("window_time"))
    return out


def write_parquet(table: pa.Table, path: str, files: int = 1) -> None:
    """The table as Parquet in directory ``path``: ``files`` files of consecutive rows."""
    os.makedirs(path, exist_ok=True)
    step = -(-table.num_rows // files)
    for i in range(files):
        pq.write_table(table.slice(i * step, step), os.path.join(path, f"part-{i:03d}.parquet"), row_group_size=500)


def backfill(events_path: str, requests_path: str) -> pa.Table:
    """Training features: the pipeline over the historical events and requests in Parquet."""
    env = rb.Environment()
    return features(env.read_parquet(events_path, event_time="ts"),
                    env.read_parquet(requests_path, event_time="ts")).collect()


def create_topics(brokers: str, *names: str, partitions: int = 4) -> None:
    """Create the topics (any Kafka admin tool does; here confluent-kafka's)."""
    from confluent_kafka.admin import AdminClient, NewTopic

    # (log_level 5: no notice of events left unserved when the client is freed)
    admin = AdminClient({"bootstrap.servers": brokers, "log_level": 5})
    for f in admin.create_topics([NewTopic(t, partitions, 1) for t in names]).values():
        f.result(60)


def replay(table: pa.Table, brokers: str, topic: str) -> None:
    """Replay records into a Kafka topic, partitioned by user (each partition stays in
    event-time order), with riverbed's own Kafka sink."""
    # One writer, so that the records of each partition keep the table's order.
    rb.Environment(parallelism=1).from_arrow(table).write_kafka(brokers, topic, partition_by="user")


def live_features(env: rb.Environment, brokers: str, events_topic: str, requests_topic: str) -> rb.Stream:
    """The pipeline over unbounded reads of the two topics: the serving job's plan. Event
    time is the records' ``ts`` column, as in the backfill."""
    ev = env.read_kafka(brokers, events_topic, schema=EVENTS, event_time="ts", max_out_of_orderness="0s")
    rq = env.read_kafka(brokers, requests_topic, schema=REQUESTS, event_time="ts", max_out_of_orderness="0s")
    return features(ev, rq)


def serve(job: rb.Job, expected: int, *, timeout: float = 120) -> pa.Table:
    """The features a live job computed: reads its results until its sources have read
    ``expected`` records (their per-partition lag metrics say so), then stops it draining
    (as Flink's stop --drain: the requests still waiting for the watermark get their
    features)."""
    out: list[pa.RecordBatch] = []
    deadline = time.monotonic() + timeout
    while True:
        out.extend(job.results(timeout=0.5))
        m = [r for r in job.metrics(as_dict=True) if r["partitions"]]
        read = sum(p["records"] for r in m for p in r["partitions"])
        if read >= expected and all(r["lag"] == 0 for r in m):
            break
        if time.monotonic() > deadline:
            job.cancel()
            raise TimeoutError(f"the live job read {read} of {expected} records in {timeout} s")
    job.stop(drain=True)
    out.extend(job.results())
    return pa.Table.from_batches(out, schema=job.schema)


def live(brokers: str, events_topic: str, requests_topic: str, expected: int, *, parallelism: int = 2,
         timeout: float = 120) -> pa.Table:
    """Serving features: the pipeline live over the topics, until it has read ``expected``
    records."""
    env = rb.Environment(parallelism=parallelism)
    return serve(live_features(env, brokers, events_topic, requests_topic).start(), expected, timeout=timeout)


def ordered(t: pa.Table) -> pa.Table:
    """The rows by request (the key that makes two runs' outputs comparable row for row)."""
    return t.sort_by("request_id")


def main(argv: list[str]) -> int:
    brokers = argv[1] if len(argv) > 1 else os.environ.get("RIVERBED_KAFKA_BROKERS")
    if not brokers:
        print("usage: feature_pipeline.py BROKERS (or set RIVERBED_KAFKA_BROKERS; make kafka-up starts one)")
        return 2
    ev = events()
    rq = requests(ev)
    with tempfile.TemporaryDirectory() as d:
        write_parquet(ev, os.path.join(d, "events"), files=3)
        write_parquet(rq, os.path.join(d, "requests"))
        train = backfill(os.path.join(d, "events"), os.path.join(d, "requests"))
    run = uuid.uuid4().hex[:8]
    events_topic, requests_topic = f"clicks-{run}", f"requests-{run}"
    create_topics(brokers, events_topic, requests_topic)
    replay(ev, brokers, events_topic)
    replay(rq, brokers, requests_topic)
    served = live(brokers, events_topic, requests_topic, ev.num_rows + rq.num_rows)
    train, served = ordered(train), ordered(served)
    same = train.equals(served)
    print(f"{rq.num_rows} requests: {train.num_rows} training rows from Parquet, {served.num_rows} served "
          f"live from Kafka, identical: {same}")
    # rows past the end of the first hour window, which have both features
    print(train.filter(pc.is_valid(train["clicks_1h"])).slice(0, 8).to_pandas().to_string())
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
