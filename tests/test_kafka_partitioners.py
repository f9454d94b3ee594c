"""write_kafka's sink partitioners (Flink's sink.partitioner) against a real broker: where
each record landed, read back with confluent-kafka (librdkafka), against plain-Python
expectations (the Java client's murmur2 written out below, checked against the test
vectors of Kafka's own Utils test)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

import riverbed as rb

ck = pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, topic  # noqa: E402, F401


def murmur2(data: bytes) -> int:
    """org.apache.kafka.common.utils.Utils.murmur2, as an unsigned 32-bit value."""
    m, r = 0x5BD1E995, 24
    h = (0x9747B28C ^ len(data)) & 0xFFFFFFFF
    n4 = len(data) // 4
    for i in range(n4):
        k = int.from_bytes(data[4 * i:4 * i + 4], "little")
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = ((h * m) & 0xFFFFFFFF) ^ k
    tail = data[4 * n4:]
    if len(tail) == 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if len(tail) >= 1:
        h ^= tail[0]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key: bytes, n: int) -> int:
    """The Java client's partition of a keyed record: toPositive(murmur2(key)) % n."""
    return (murmur2(key) & 0x7FFFFFFF) % n


def test_murmur2_reference_matches_kafkas_test_vectors():
    def signed(x: int) -> int:
        return x - (1 << 32) if x >= 1 << 31 else x

    assert signed(murmur2(b"21")) == -973932308
    assert signed(murmur2(b"foobar")) == -790332482
    assert signed(murmur2(b"a-little-bit-long-string")) == -985981536
    assert signed(murmur2(b"a-little-bit-longer-string")) == -1486304829
    assert signed(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8")) == -58897971
    assert signed(murmur2(b"abc")) == 479470107


def rows(n: int) -> dict[str, list]:
    return {"n": list(range(n)), "user": [f"u{i % 17}" for i in range(n)]}


def where(brokers: str, t: str) -> dict[int, list[int]]:  # noqa: F811
    """The n of the records of each partition, in offset order."""
    got: dict[int, list[int]] = {}
    for m in sorted(consume(brokers, t), key=lambda m: (m.partition(), m.offset())):
        got.setdefault(m.partition(), []).append(json.loads(m.value())["n"])
    return got


def test_default_partitions_by_the_java_clients_key_hash(brokers, topic):  # noqa: F811
    t = topic(5)
    env = rb.Environment(parallelism=2, batch_size=10)
    env.from_pydict(rows(300)).write_kafka(brokers, t, key="user", partitioner="default")
    got = consume(brokers, t)
    assert len(got) == 300
    for m in got:
        assert m.partition() == java_partition(m.key(), 5), m.key()
    assert {m.key() for m in got} == {f"u{i}".encode() for i in range(17)}


def test_fixed_writes_each_subtask_to_one_partition(brokers, topic):  # noqa: F811
    env = rb.Environment(parallelism=3, batch_size=10)
    # More partitions than subtasks: subtask i writes partition i, the last one stays empty.
    t = topic(4)
    summary = env.from_pydict(rows(300)).write_kafka(brokers, t, key="user", partitioner="fixed")
    per_subtask = sorted(summary.column("rows").to_pylist())
    assert sum(per_subtask) == 300 and min(per_subtask) > 0  # every subtask wrote rows
    got = where(brokers, t)
    assert set(got) == {0, 1, 2}  # partition 3 is empty, whatever the keys
    assert sorted(len(v) for v in got.values()) == per_subtask
    for ns in got.values():
        assert ns == sorted(ns)  # one subtask's rows, in the order it wrote them
    assert sorted(n for v in got.values() for n in v) == list(range(300))
    # Fewer partitions than subtasks: subtasks 0 and 2 share partition 0.
    t2 = topic(2)
    summary = env.from_pydict(rows(300)).write_kafka(brokers, t2, partitioner="fixed",
                                                     delivery_guarantee="exactly-once",
                                                     transactional_id_prefix=f"fixed-{t2}")
    per_subtask = summary.column("rows").to_pylist()
    got = where(brokers, t2)
    assert len(got[1]) in per_subtask
    assert len(got[0]) == 300 - len(got[1])
    assert sorted(got[0] + got[1]) == list(range(300))


def test_round_robin_cycles_through_the_partitions_whatever_the_key(brokers, topic):  # noqa: F811
    t = topic(4)
    rb.from_pydict(rows(103)).write_kafka(brokers, t, key="user", partitioner="round-robin")
    got = where(brokers, t)
    assert got == {p: [n for n in range(103) if n % 4 == p] for p in range(4)}
    # With several subtasks each cycles on its own: the partitions' sizes differ by at most
    # the number of subtasks.
    t2 = topic(3)
    env = rb.Environment(parallelism=2, batch_size=10)
    env.from_pydict(rows(300)).write_kafka(brokers, t2, partitioner="round-robin", format="json")
    sizes = Counter({p: len(v) for p, v in where(brokers, t2).items()})
    assert sum(sizes.values()) == 300 and max(sizes.values()) - min(sizes.values()) <= 2


def test_partitioner_errors(brokers, topic):  # noqa: F811
    src = rb.from_pydict(rows(3))
    with pytest.raises(ValueError, match="partitioner must be 'default', 'fixed' or 'round-robin'"):
        src.write_kafka(brokers, "x", partitioner="hash", lazy=True)  # type: ignore[arg-type]
    with pytest.raises(rb.PlanError, match="partition_by .* give one of them"):
        src.write_kafka(brokers, "x", partition_by="user", partitioner="fixed", lazy=True).explain()
