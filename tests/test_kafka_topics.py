"""read_kafka of several topics against a real broker: a list of topics and a regular
expression ``pattern`` (matched against whole names), bounded and unbounded, including a
topic created while the job runs. Records are produced with confluent-kafka (librdkafka);
the references are plain Python.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from test_kafka import brokers, produce  # noqa: E402, F401


@pytest.fixture
def family(brokers):  # noqa: F811
    """Topics named <prefix>-<suffix> under a fresh prefix: family(suffix, partitions)
    creates one and returns its name; family.prefix is the prefix."""
    adm = AdminClient({"bootstrap.servers": brokers})
    prefix = f"fam-{os.getpid()}-{time.time_ns()}"

    def make(suffix: str, partitions: int = 1) -> str:
        name = f"{prefix}-{suffix}"
        adm.create_topics([NewTopic(name, partitions, 1)])[name].result(60)
        return name

    make.prefix = prefix  # type: ignore[attr-defined]
    return make


def fill(brokers: str, t: str, parts: int, n: int) -> list[tuple[str, int, int]]:  # noqa: F811
    """n records {"x": i} spread over t's partitions; returns (topic, partition, x) of each."""
    produce(brokers, t, [(i % parts, json.dumps({"x": i}).encode(), {}) for i in range(n)])
    return [(t, i % parts, i) for i in range(n)]


SCHEMA = {"x": pa.int64()}
META = ["topic", "partition"]


def rows(table: pa.Table) -> list[tuple[str, int, int]]:
    return sorted((r["kafka_topic"], r["kafka_partition"], r["x"]) for r in table.to_pylist())


def test_a_list_of_topics(brokers, family):  # noqa: F811
    a, b, c = family("a", 2), family("b", 3), family("c", 1)
    want = fill(brokers, a, 2, 20) + fill(brokers, b, 3, 31)
    fill(brokers, c, 1, 5)  # not listed: not read
    for parallelism in (1, 3):
        got = rb.Environment(parallelism=parallelism).read_kafka(
            brokers, [a, b], schema=SCHEMA, metadata=META, end="latest").collect()
        assert rows(got) == sorted(want)
    # Offsets by (topic, partition) bound each topic's partitions on their own.
    got = rb.read_kafka(brokers, [a, b], schema=SCHEMA, metadata=META,
                        start={(a, 0): 5}, end={(b, 2): 3}).collect()
    assert rows(got) == sorted(r for r in want if not (r[0] == a and r[1] == 0 and r[2] < 10)
                               and not (r[0] == b and r[1] == 2 and r[2] >= 9))
    with pytest.raises(rb.RiverbedError, match=f"{family.prefix}-nope"):
        rb.read_kafka(brokers, [a, f"{family.prefix}-nope"], schema=SCHEMA, end="latest").collect()


def test_a_pattern_reads_every_matching_topic(brokers, family):  # noqa: F811
    a, b = family("in-a", 2), family("in-b", 1)
    other = family("out", 1)
    longer = family("in-a-x", 1)  # the pattern matches whole names: not this one
    want = fill(brokers, a, 2, 12) + fill(brokers, b, 1, 7)
    fill(brokers, other, 1, 3)
    fill(brokers, longer, 1, 3)
    pattern = re.escape(family.prefix) + r"-in-[ab]"
    got = rb.Environment(parallelism=2).read_kafka(
        brokers, pattern=pattern, schema=SCHEMA, metadata=META, end="latest").collect()
    assert rows(got) == sorted(want)


def test_a_topic_created_while_running_that_matches_the_pattern_is_read(brokers, family):  # noqa: F811
    a = family("live-a", 2)
    want = fill(brokers, a, 2, 6)
    job = (rb.Environment(parallelism=2)
           .read_kafka(brokers, pattern=re.escape(family.prefix) + r"-live-.*", schema=SCHEMA, metadata=META,
                       options={"partition.discovery.interval.ms": 300})
           .start())
    seen: list[dict[str, Any]] = []
    try:
        for batch in job.results(timeout="60s"):
            seen += batch.to_pylist()
            if len(seen) >= len(want):
                break
        family("dead-z", 1)  # created too, but it does not match
        fill(brokers, f"{family.prefix}-dead-z", 1, 4)
        b = family("live-b", 3)
        want += fill(brokers, b, 3, 9)
        # and more records into the topic read from the start
        produce(brokers, a, [(i % 2, json.dumps({"x": 100 + i}).encode(), {}) for i in range(4)])
        want += [(a, i % 2, 100 + i) for i in range(4)]
        for batch in job.results(timeout="90s"):
            seen += batch.to_pylist()
            if len(seen) >= len(want):
                break
        parts = {(p["topic"], p["partition"]) for m in job.metrics(as_dict=True) if m["partitions"]
                 for p in m["partitions"]}
    finally:
        job.cancel()
    assert sorted((r["kafka_topic"], r["kafka_partition"], r["x"]) for r in seen) == sorted(want)
    assert parts == {(a, 0), (a, 1), (b, 0), (b, 1), (b, 2)}
