"""The feature-pipeline example: the same pipeline over Parquet (backfill) and live over an
unbounded Kafka read of the same events gives identical features, and both equal DuckDB's
answer to the same question."""

from __future__ import annotations

import importlib.util
import os
import time

import pyarrow.parquet as pq
import pytest

duckdb = pytest.importorskip("duckdb")
ck = pytest.importorskip("confluent_kafka")
from test_kafka import brokers, topic  # noqa: E402, F401

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("feature_pipeline",
                                              os.path.join(HERE, "..", "examples", "feature_pipeline.py"))
assert spec is not None and spec.loader is not None
fp = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fp)


def duckdb_features(path: str) -> tuple[list[tuple], list[tuple]]:
    """The same features in SQL: every event counts in the 10 sliding windows (every minute)
    that hold it, and in its hour."""
    con = duckdb.connect()
    con.execute(f"CREATE VIEW ev AS SELECT user, cents, epoch_ms(ts) AS ms FROM read_parquet('{path}')")
    rolling = con.execute("""
        SELECT user, (ms // 60000 - k) * 60000 AS ws, count(*), sum(cents)
        FROM ev, range(10) r(k) GROUP BY ALL ORDER BY user, ws""").fetchall()
    hourly = con.execute("""
        SELECT user, ms // 3600000 * 3600000 AS ws, count(*) FROM ev GROUP BY ALL ORDER BY user, ws""").fetchall()
    return rolling, hourly


def rows(t, *cols) -> list[tuple]:  # noqa: ANN001
    out = []
    for r in fp.ordered(t):
        ws = int(r["window_start"].timestamp() * 1000)
        out.append((r["user"], ws, *(r[c] for c in cols)))
    return out


def test_feature_pipeline_live_over_kafka_equals_backfill_over_parquet(brokers, topic, tmp_path):  # noqa: F811
    table = fp.events(n=3000, users=20)
    pq.write_table(table, tmp_path / "events.parquet", row_group_size=500)
    train = fp.backfill(str(tmp_path))
    t = topic(4)
    fp.replay(table, brokers, t)
    start = time.monotonic()
    serve = fp.live(brokers, t, table.num_rows)
    assert time.monotonic() - start < 300
    rolling, hourly = duckdb_features(str(tmp_path / "events.parquet"))
    assert rows(train[0], "clicks_10m", "spend_10m") == rolling
    assert rows(train[1], "clicks_1h") == hourly
    # Live equals backfill row for row (every column, window ends included).
    assert fp.ordered(serve[0]) == fp.ordered(train[0])
    assert fp.ordered(serve[1]) == fp.ordered(train[1])
