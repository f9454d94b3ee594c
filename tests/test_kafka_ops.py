"""Kafka operations against a real broker: consumer-group offset commits at checkpoints,
per-partition lag metrics, the sink's key and partition choice, and the rows and dead
letters of one unbounded read consumed together. Everything is checked through
confluent-kafka (librdkafka), an independent client, against plain-Python references.
"""

from __future__ import annotations

import json
import time

import pyarrow as pa
import pytest

import riverbed as rb

ck = pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401


def end_offsets(brokers: str, t: str, parts: int) -> dict[int, int]:  # noqa: F811
    c = ck.Consumer({"bootstrap.servers": brokers, "group.id": "hw"})
    try:
        return {p: c.get_watermark_offsets(ck.TopicPartition(t, p), timeout=30)[1] for p in range(parts)}
    finally:
        c.close()


def group_offsets(brokers: str, group: str, t: str, parts: int) -> dict[int, int]:  # noqa: F811
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


def test_lag_metrics_per_partition(brokers, topic):  # noqa: F811
    t = topic(2)
    produce(brokers, t, [(i % 2, json.dumps({"x": i}).encode(), {}) for i in range(200)])
    # A read that hands on 5 records per poll, and one batch of results at a time: the
    # job falls behind, and its lag must be what the broker's high watermarks say.
    env = rb.Environment(parallelism=1, buffer_bytes=1)
    job = env.read_kafka(brokers, t, schema={"x": pa.int64()}, options={"max.poll.records": 5}).start()
    try:
        got = read_rows(job, 200)
        assert sum(b.num_rows for b in got) == 200
        ends = end_offsets(brokers, t, 2)
        m = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None]
        assert len(m) == 1
        parts = {p["partition"]: p for p in m[0]["partitions"]}
        assert sorted(parts) == [0, 1]
        for p, want in ends.items():
            assert parts[p]["topic"] == t
            assert parts[p]["last_offset"] == want - 1
            assert parts[p]["next_offset"] == want
            assert parts[p]["high_watermark"] == want
            assert parts[p]["lag"] == 0
            assert parts[p]["records"] == 100
        assert m[0]["lag"] == 0 and m[0]["dead_letters"] == 0
        # More records while the job holds back: the lag counts what was fetched and not yet
        # handed on, never more than the broker holds beyond the job's position.
        produce(brokers, t, [(0, json.dumps({"x": 200 + i}).encode(), {}) for i in range(50)])
        read_rows(job, 50)
        m = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None][0]
        p0 = {p["partition"]: p for p in m["partitions"]}[0]
        assert p0["high_watermark"] == 150 and p0["last_offset"] == 149 and p0["lag"] == 0
        table = job.metrics()
        assert table.schema.field("partitions").type.value_type.field("lag").type == pa.int64()
        assert "high watermark" in job._repr_html_()
    finally:
        job.cancel()


def test_lag_is_high_watermark_minus_position_while_behind(brokers, topic):  # noqa: F811
    t = topic(1)
    produce(brokers, t, [(0, json.dumps({"x": i}).encode(), {}) for i in range(1000)])
    env = rb.Environment(parallelism=1, buffer_bytes=1)
    job = env.read_kafka(brokers, t, schema={"x": pa.int64()}, options={"max.poll.records": 10}).start()
    try:
        got = read_rows(job, 10)
        # The job is now held back by its unread results: whatever it reports must add up
        # against the broker's high watermark.
        m = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None][0]
        p = m["partitions"][0]
        assert p["high_watermark"] == 1000
        assert p["lag"] == 1000 - p["next_offset"] > 0
        assert p["last_offset"] == p["next_offset"] - 1
        assert p["last_offset"] >= sum(b.num_rows for b in got) - 1
        # Records produced while the job is held back: its fetches wait, and the lag still
        # follows the broker's high watermark (listed every few seconds).
        produce(brokers, t, [(0, json.dumps({"x": 1000 + i}).encode(), {}) for i in range(500)])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            p = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None][0]["partitions"][0]
            if p["high_watermark"] == 1500:
                break
            time.sleep(0.2)
        assert p["high_watermark"] == 1500
        assert p["lag"] == 1500 - p["next_offset"] > 500
    finally:
        job.cancel()


def test_lag_of_a_partition_without_records_is_zero(brokers, topic):  # noqa: F811
    t = topic(3)
    produce(brokers, t, [(0, json.dumps({"x": i}).encode(), {}) for i in range(20)])
    job = rb.read_kafka(brokers, t, schema={"x": pa.int64()}).start()
    try:
        read_rows(job, 20)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            parts = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None][0]["partitions"]
            if all(p["high_watermark"] is not None for p in parts) and parts[0]["lag"] == 0:
                break
            time.sleep(0.2)
        got = {p["partition"]: (p["high_watermark"], p["lag"], p["last_offset"]) for p in parts}
        # The broker's own view of the three partitions.
        ends = end_offsets(brokers, t, 3)
        assert ends == {0: 20, 1: 0, 2: 0}
        assert got == {0: (20, 0, 19), 1: (0, 0, None), 2: (0, 0, None)}
    finally:
        job.cancel()


def librdkafka_partitions(brokers: str, topic_maker, parts: int,  # noqa: ANN001, F811
                          keys: list[bytes]) -> dict[bytes, int]:
    """Where librdkafka's murmur2 partitioner (the Java client's) puts each key."""
    t = topic_maker(parts)
    p = ck.Producer({"bootstrap.servers": brokers, "partitioner": "murmur2"})
    where: dict[bytes, int] = {}

    def done(err, msg) -> None:  # noqa: ANN001
        assert err is None
        where[msg.key()] = msg.partition()

    for k in keys:
        p.produce(t, b"", key=k, on_delivery=done)
    assert p.flush(60) == 0
    return where


def test_write_kafka_key_and_partition_by(brokers, topic):  # noqa: F811
    rows = {"user": [i % 13 for i in range(200)], "region": ["eu", "us"] * 100, "n": list(range(200))}
    src = rb.from_pydict(rows)
    # partition_by: rows with one user go to one partition, chosen as librdkafka's murmur2
    # partitioner chooses for a key that is the user's JSON text; the key is another column.
    t = topic(4)
    src.write_kafka(brokers, t, key="region", partition_by="user")
    got = consume(brokers, t)
    assert len(got) == 200
    ref = librdkafka_partitions(brokers, topic, 4, [str(u).encode() for u in range(13)])
    for m in got:
        doc = json.loads(m.value())
        assert m.partition() == ref[str(doc["user"]).encode()], doc
        assert m.key() == doc["region"].encode()
    assert sorted(json.loads(m.value())["n"] for m in got) == list(range(200))
    # Several key columns: a JSON object of them; records are then partitioned by that key.
    t2 = topic(3)
    src.write_kafka(brokers, t2, key=["user", "region"])
    got = consume(brokers, t2)
    keys = {m.key() for m in got}
    ref = librdkafka_partitions(brokers, topic, 3, sorted(keys))
    for m in got:
        doc = json.loads(m.value())
        assert json.loads(m.key()) == {"user": doc["user"], "region": doc["region"]}
        assert m.partition() == ref[m.key()]
    # Several partition columns, exactly-once: still one partition per (user, region).
    t3 = topic(5)
    src.write_kafka(brokers, t3, partition_by=["user", "region"], delivery_guarantee="exactly-once",
                    transactional_id_prefix=f"pb-{time.time_ns()}")
    got = consume(brokers, t3)
    seen: dict[tuple[int, str], set[int]] = {}
    for m in got:
        doc = json.loads(m.value())
        seen.setdefault((doc["user"], doc["region"]), set()).add(m.partition())
        assert m.key() is None
    assert len(seen) == 26 and all(len(v) == 1 for v in seen.values())
    with pytest.raises(rb.ColumnNotFoundError, match="nope"):
        src.write_kafka(brokers, t3, partition_by="nope")
    with pytest.raises(TypeError, match="partition_by"):
        src.write_kafka(brokers, t3, partition_by=3)  # type: ignore[arg-type]


def test_rows_and_dead_letters_of_an_unbounded_read_together(brokers, topic):  # noqa: F811
    t = topic(2)
    recs = []
    for i in range(100):
        value = b"{not json" if i % 10 == 3 else json.dumps({"x": i}).encode()
        recs.append((i % 2, value, {}))
    produce(brokers, t, recs)
    s = rb.read_kafka(brokers, t, schema={"x": pa.int64()}, on_bad_record="dead_letter")
    job = rb.start_all([s, s.dead_letters()])
    assert [sch.names for sch in job.schemas][0] == ["x"]
    rows: list[int] = []
    dead: list[tuple[int, int]] = []
    try:
        for out, b in job.results(timeout="60s"):
            if out == 0:
                rows.extend(b.column("x").to_pylist())
            else:
                dead.extend(zip(b.column("partition").to_pylist(), b.column("offset").to_pylist()))
            if len(rows) + len(dead) >= 100:
                break
        # The job is live: a record produced now arrives too, on its output.
        produce(brokers, t, [(1, b"[]", {}), (0, json.dumps({"x": 1000}).encode(), {})])
        for out, b in job.results(timeout="60s"):
            if out == 0:
                rows.extend(b.column("x").to_pylist())
            else:
                dead.extend(zip(b.column("partition").to_pylist(), b.column("offset").to_pylist()))
            if len(rows) + len(dead) >= 102:
                break
        m = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None][0]
        assert m["dead_letters"] == 11
    finally:
        job.cancel()
    want_rows = [i for i in range(100) if i % 10 != 3] + [1000]
    # Record i went to partition i % 2 at offset i // 2; the last bad one to partition 1, offset 50.
    want_dead = [(i % 2, i // 2) for i in range(100) if i % 10 == 3] + [(1, 50)]
    assert sorted(rows) == want_rows
    assert sorted(dead) == sorted(want_dead)


def test_records_and_bytes_per_second(brokers, topic):  # noqa: F811
    """records and bytes fetched equal what was produced (bytes: keys and values), and the
    rates are those counts over the time the partitions were read (all within the 10 s
    window of the rates when the test runs in less), per partition and summed."""
    t = topic(2)
    recs = []
    for i in range(300):
        key = None if i % 7 == 0 else f"user-{i % 13}".encode()
        value = json.dumps({"x": i, "pad": "p" * (i % 17)}).encode()
        recs.append((i % 2, value, {} if key is None else {"key": key}))
    want_records = {p: sum(1 for r in recs if r[0] == p) for p in (0, 1)}
    want_bytes = {p: sum(len(r[1]) + len(r[2].get("key", b"")) for r in recs if r[0] == p) for p in (0, 1)}

    def kafka_row() -> dict:
        [m] = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None]
        return m

    t0 = time.monotonic()
    job = rb.read_kafka(brokers, t, schema={"x": pa.int64()}).start()
    try:
        deadline = time.monotonic() + 60
        while len(kafka_row()["partitions"]) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        t_a = time.monotonic()  # both partitions are being read: their rates count from before now
        before = kafka_row()
        assert [p["records"] for p in before["partitions"]] == [0, 0]
        produce(brokers, t, recs)
        while True:
            t_b = time.monotonic()
            m = kafka_row()
            t1 = time.monotonic()
            if [p["records"] for p in m["partitions"]] == [want_records[0], want_records[1]]:
                break
            assert t1 < deadline, m["partitions"]
            time.sleep(0.05)
        parts = {p["partition"]: p for p in m["partitions"]}
        for p in (0, 1):
            got = parts[p]
            assert got["bytes"] == want_bytes[p]
            rps, bps = got["records_per_second"], got["bytes_per_second"]
            if t1 - t0 < 10:
                # Rates since the partition began to be read (after t0, before t_a), read
                # between t_b and t1.
                assert want_records[p] / (t1 - t0) <= rps <= want_records[p] / (t_b - t_a)
                assert want_bytes[p] / (t1 - t0) <= bps <= want_bytes[p] / (t_b - t_a)
                assert bps * want_records[p] == pytest.approx(rps * want_bytes[p])
            else:  # a slow run: over the last 10 s at least, of what was fetched
                assert 0 <= rps <= want_records[p] / 10 and 0 <= bps <= want_bytes[p] / 10
        assert m["records_per_second"] == pytest.approx(sum(p["records_per_second"] for p in parts.values()))
        assert m["bytes_per_second"] == pytest.approx(sum(p["bytes_per_second"] for p in parts.values()))
        assert sum(b.num_rows for b in read_rows(job, 300)) == 300
        table = job.metrics()
        assert table.schema.field("records_per_second").type == pa.float64()
        assert "records/s" in job._repr_html_()
    finally:
        job.cancel()


def test_write_kafka_key_expression(brokers, topic):  # noqa: F811
    """key= an expression: each record's key is the expression's value, computed in the
    engine (a string's bytes, another type's JSON text, null no key), as Python computes it."""
    users = [7, None, 3, 12, 7, 0]
    regions = ["eu", "us", None, "eu", "ap", "us"]
    src = rb.from_pydict({"user": pa.array(users, pa.int64()), "region": regions, "i": list(range(6))})
    cases = {
        "cast": (rb.col("user").cast(rb.String), [None if u is None else str(u).encode() for u in users]),
        "concat": (rb.concat_str([rb.col("user").cast(rb.String), rb.lit("/"), rb.col("region")]),
                   [None if u is None or r is None else f"{u}/{r}".encode() for u, r in zip(users, regions)]),
        "arith": (rb.col("user") + 1000, [None if u is None else json.dumps(u + 1000).encode() for u in users]),
    }
    for name, (key, want) in cases.items():
        t = topic(3)
        sink = src.write_kafka(brokers, t, key=key, lazy=True)
        assert "key " in sink.explain()
        rb.collect_all([sink])
        got = {json.loads(m.value())["i"]: m.key() for m in consume(brokers, t)}
        assert got == dict(enumerate(want)), name
        # Keyed records are partitioned by key (murmur2): equal keys share a partition.
    t = topic(1)
    with pytest.raises(rb.ColumnNotFoundError, match="usr"):
        src.write_kafka(brokers, t, key=rb.col("usr").cast(rb.String))
    with pytest.raises(TypeError, match="not a list of expressions"):
        src.write_kafka(brokers, t, key=[rb.col("user"), rb.col("region")])
    with pytest.raises(ValueError, match="cannot take a key"):
        src.write_kafka(brokers, t, key=rb.col("user") + 1, format="arrow")


@pytest.mark.parametrize("spelling", ["exactly_once", "exactly-once", "at_least_once", "none"])
def test_write_kafka_guarantee_spellings(brokers, topic, spelling):  # noqa: F811
    """guarantee= is delivery_guarantee= (Flink's DeliveryGuarantee), its values with
    hyphens or underscores. Exactly-once writes transactions: their commit markers take
    offsets, so the topic ends past the records; the others end at the records."""
    t = topic(1)
    exactly = spelling.startswith("exactly")
    sink = rb.from_pydict({"id": list(range(50))}).write_kafka(
        brokers, t, guarantee=spelling, transactional_id_prefix=f"tx-{t}" if exactly else None, lazy=True)
    assert ("exactly-once" if exactly else spelling.replace("_", "-")) in sink.explain()
    rb.collect_all([sink])
    assert sorted(json.loads(m.value())["id"] for m in consume(brokers, t)) == list(range(50))
    end = end_offsets(brokers, t, 1)[0]
    assert end > 50 if exactly else end == 50


def test_write_kafka_guarantee_errors():
    s = rb.from_pydict({"id": [1]})
    with pytest.raises(rb.PlanError, match=r'"exactly-once", "at-least-once" or "none".*"at-most-once"'):
        s.write_kafka("localhost:9092", "t", guarantee="at-most-once", lazy=True).explain()
    with pytest.raises(TypeError, match="not both"):
        s.write_kafka("localhost:9092", "t", guarantee="none", delivery_guarantee="none", lazy=True)
    with pytest.raises(rb.PlanError, match="needs transactional_id_prefix"):
        s.write_kafka("localhost:9092", "t", delivery_guarantee="exactly_once", lazy=True).explain()
