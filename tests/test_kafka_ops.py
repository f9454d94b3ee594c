"""Kafka operations against a real broker: consumer-group offset commits at checkpoints,
per-partition lag metrics, the sink's key and partition choice, and the rows and dead
letters of one unbounded read consumed together. Everything is checked through
confluent-kafka (librdkafka), an independent client, against plain-Python references.
"""

from __future__ import annotations

import json
import time
from collections import Counter

import pyarrow as pa
import pytest

import riverbed as rb

ck = pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401


def end_offsets(brokers: str, t: str, parts: int) -> dict[int, int]:
    c = ck.Consumer({"bootstrap.servers": brokers, "group.id": "hw"})
    try:
        return {p: c.get_watermark_offsets(ck.TopicPartition(t, p), timeout=30)[1] for p in range(parts)}
    finally:
        c.close()


def group_offsets(brokers: str, group: str, t: str, parts: int) -> dict[int, int]:
    """The group's committed offsets, read through the broker (librdkafka)."""
    c = ck.Consumer({"bootstrap.servers": brokers, "group.id": group, "enable.auto.commit": False})
    try:
        for attempt in range(100):
            try:
                got = c.committed([ck.TopicPartition(t, p) for p in range(parts)], timeout=30)
                return {tp.partition: tp.offset for tp in got}
            except ck.KafkaException as e:
                # The group coordinator (the offsets topic) may still be coming up.
                if not e.args[0].retriable() or attempt == 99:
                    raise
                time.sleep(0.2)
        raise AssertionError("unreachable")
    finally:
        c.close()


def read_rows(job: rb.Job, n: int) -> list[pa.RecordBatch]:
    got: list[pa.RecordBatch] = []
    for b in job.results(timeout="60s"):
        got.append(b)
        if sum(x.num_rows for x in got) >= n:
            break
    return got


def test_group_id_commits_checkpointed_offsets_for_monitoring(brokers, topic, tmp_path):  # noqa: F811
    t = topic(3)
    produce(brokers, t, [(i % 3, json.dumps({"x": i}).encode(), {}) for i in range(300)])
    group = f"monitor-{time.time_ns()}"
    env = rb.Environment(parallelism=2, checkpoint_dir=tmp_path / "ck", checkpoint_interval="1h")
    s = env.read_kafka(brokers, t, schema={"x": pa.int64()}, group_id=group)
    assert f'group "{group}"' in s.explain()
    job = s.start()
    try:
        got = read_rows(job, 300)
        assert sum(b.num_rows for b in got) == 300
        # Nothing is committed before a checkpoint completes.
        assert set(group_offsets(brokers, group, t, 3).values()) == {ck.OFFSET_INVALID}
        job.checkpoint()
        ends = end_offsets(brokers, t, 3)
        assert ends == {0: 100, 1: 100, 2: 100}
        # The commit runs in the background once the checkpoint is complete.
        deadline = time.monotonic() + 60
        while group_offsets(brokers, group, t, 3) != ends and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_offsets(brokers, group, t, 3) == ends
        produce(brokers, t, [(0, json.dumps({"x": 300 + i}).encode(), {}) for i in range(10)])
        read_rows(job, 10)
        job.checkpoint()
        deadline = time.monotonic() + 60
        while group_offsets(brokers, group, t, 3)[0] != 110 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert group_offsets(brokers, group, t, 3) == {0: 110, 1: 100, 2: 100}
    finally:
        job.cancel()
    # Recovery does not use the group: a new job with the same group and no checkpoint
    # to restore reads from its start offsets.
    again = rb.read_kafka(brokers, t, schema={"x": pa.int64()}, group_id=group, end="latest").collect()
    assert sorted(again["x"].to_pylist()) == list(range(310))
