"""The feature-pipeline example: per-user sliding-window features as-of joined onto a stream
of requests. The same pipeline over Parquet (backfill) and live over unbounded Kafka reads
of the same records gives identical features, row for row, and both equal DuckDB's answer
to the same question (sliding-window aggregates and an ASOF JOIN)."""

from __future__ import annotations

import collections
import datetime as dt
import importlib.util
import os
import time

import pyarrow as pa
import pytest

import riverbed as rb

duckdb = pytest.importorskip("duckdb")
ck = pytest.importorskip("confluent_kafka")
from test_kafka import brokers, topic  # noqa: E402, F401

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("feature_pipeline",
                                              os.path.join(HERE, "..", "examples", "feature_pipeline.py"))
assert spec is not None and spec.loader is not None
fp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fp)

COLUMNS = ["request_id", "user", "ts", "label", "clicks_10m", "spend_10m", "clicks_1h", "spend_1h"]


def duckdb_features(events: str, requests: str) -> list[tuple]:
    """The same features in SQL: an event counts in every sliding window that holds it (a
    window per slide, ``size // slide`` of them); each request takes, by an ASOF JOIN, its
    user's window with the latest last instant (end - 1 ms) at or before the request, unless
    that is one slide or more before the request."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW ev AS SELECT user, cents, epoch_ms(ts) AS ms FROM read_parquet('{events}/*.parquet')")
    con.execute(f"CREATE TABLE q0 AS SELECT request_id, user, epoch_ms(ts) AS ms, label "
                f"FROM read_parquet('{requests}/*.parquet')")
    for i, (name, size, every) in enumerate(fp.WINDOWS):
        size, every = size // fp.MS, every // fp.MS
        con.execute(f"""
            CREATE TABLE w{i} AS
            SELECT user, (ms // {every} - k) * {every} + {size} - 1 AS wt, count(*) AS c, sum(cents) AS s
            FROM ev, range({size // every}) r(k) GROUP BY ALL""")
        con.execute(f"""
            CREATE TABLE q{i + 1} AS
            SELECT q.*, CASE WHEN q.ms - w.wt < {every} THEN w.c END AS clicks_{name},
                        CASE WHEN q.ms - w.wt < {every} THEN w.s END AS spend_{name}
            FROM q{i} q ASOF LEFT JOIN w{i} w ON q.user = w.user AND q.ms >= w.wt""")
    return con.execute(f"SELECT * FROM q{len(fp.WINDOWS)} ORDER BY request_id").fetchall()


def rows(t: pa.Table) -> list[tuple]:
    assert t.column_names == COLUMNS
    out = []
    for r in fp.ordered(t).to_pylist():
        r["ts"] = int(r["ts"].timestamp() * 1000)
        out.append(tuple(r.values()))
    return out


def test_feature_pipeline_live_over_kafka_equals_backfill_over_parquet(brokers, topic, tmp_path):  # noqa: F811
    events = fp.events(n=3000, users=20)
    requests = fp.requests(events, n=600, users=25)
    # The edge cases are there: requests before any click of their user, at the time of one
    # of the user's clicks, on a window's last instant, and two of one user at one time.
    clicks = set(zip(events["user"].to_pylist(), events["ts"].to_pylist()))
    first = {}
    for u, t in zip(events["user"].to_pylist(), events["ts"].to_pylist()):
        first.setdefault(u, t)
    reqs = list(zip(requests["user"].to_pylist(), requests["ts"].to_pylist()))
    assert sum(u not in first or t < first[u] for u, t in reqs) >= 20
    assert sum((u, t) in clicks for u, t in reqs) >= 20
    assert sum(t.timestamp() * 1000 % 60000 == 59999 for _, t in reqs) >= 20
    assert sum(n > 1 for n in collections.Counter(reqs).values()) >= 5
    ev_dir, rq_dir = str(tmp_path / "events"), str(tmp_path / "requests")
    fp.write_parquet(events, ev_dir, files=3)
    fp.write_parquet(requests, rq_dir, files=2)
    train = fp.backfill(ev_dir, rq_dir)
    ev_topic, rq_topic = topic(4), topic(3)
    fp.replay(events, brokers, ev_topic)
    fp.replay(requests, brokers, rq_topic)
    start = time.monotonic()
    served = fp.live(brokers, ev_topic, rq_topic, events.num_rows + requests.num_rows)
    assert time.monotonic() - start < 300
    want = duckdb_features(ev_dir, rq_dir)
    assert len(want) == requests.num_rows
    assert sum(r[4] is None for r in want) >= 20 and sum(r[4] is not None for r in want) >= 300
    assert rows(train) == want
    # Live equals backfill row for row, every column.
    assert fp.ordered(served).equals(fp.ordered(train))


def test_features_as_of_the_request_by_hand():
    """The pipeline's meaning on a few rows worked out by hand: a request gets the windows
    that ended last at or before it (a click at its very time counts only if a window's last
    instant is that time), nothing from a window that ended a slide or more before it."""
    m = dt.timedelta(minutes=1)
    at = [fp.T0 + d for d in (0 * m, 1.5 * m, 2 * m, 0.5 * m)]
    events = pa.Table.from_pydict({"user": [1, 1, 1, 2], "cents": [100, 200, 400, 50], "ts": at}, schema=fp.EVENTS)
    req = [(1, -m), (1, 2 * m), (1, 3 * m - fp.MS), (1, 13 * m - fp.MS), (1, 13 * m), (2, 5 * m), (2, 5 * m),
           (3, 5 * m)]
    requests = pa.Table.from_pydict({"request_id": list(range(len(req))), "user": [u for u, _ in req],
                                     "ts": [fp.T0 + d for _, d in req], "label": [False] * len(req)},
                                    schema=fp.REQUESTS)
    env = rb.Environment(parallelism=2)
    got = fp.ordered(fp.features(env.from_arrow(events, event_time="ts"),
                                 env.from_arrow(requests, event_time="ts")).collect())
    feats = [tuple(r[c] for c in COLUMNS[4:]) for r in got.to_pylist()]
    none = (None, None)
    assert feats == [
        none + none,  # before the user's first click
        (2, 300) + none,  # the 10 minutes to 2m (the click at 2m is in the next); no 1h window ended yet
        (3, 700) + none,  # the window's last instant: the click at 2m counts
        none + (3, 700),  # the window to 13m is empty; the one to 12m (with 2m) a slide old
        none + (3, 700),  # the last click is 11 minutes ago; the hour to 10m holds all three
        (1, 50, 1, 50),  # two requests at one time, the same features
        (1, 50, 1, 50),
        none + none,  # a user who never clicked
    ]
