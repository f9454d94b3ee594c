"""read_kafka and write_kafka against a real Apache Kafka broker.

The broker is the one RIVERBED_KAFKA_BROKERS names (``make test`` starts one on loopback
for the run with kafka/testbroker/broker.sh and stops it afterwards); without it this
module starts its own with the same script and stops it at the end. Records are produced
and checked with confluent-kafka (librdkafka), an independent client, and results are
compared with plain-Python references.
"""

from __future__ import annotations

import datetime as dt
import glob
import io
import itertools
import json
import os
import random
import time
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import col

ck = pytest.importorskip("confluent_kafka")
from confluent_kafka.admin import AdminClient, NewPartitions, NewTopic  # noqa: E402

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def brokers(kafka_brokers):
    return kafka_brokers


_names = itertools.count()


@pytest.fixture
def topic(brokers, request):
    """A fresh topic name maker: topic(partitions) creates one and returns its name."""
    adm = AdminClient({"bootstrap.servers": brokers})

    def make(partitions: int = 1) -> str:
        name = f"py-{request.node.name[:40]}-{os.getpid()}-{time.time_ns()}-{next(_names)}"
        name = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
        adm.create_topics([NewTopic(name, partitions, 1)])[name].result(60)
        return name

    return make


def produce(brokers: str, topic: str, records: list[tuple[int, bytes | None, dict[str, Any]]]) -> None:
    """Write (partition, value, extras) records synchronously; extras may hold key,
    timestamp (a datetime) and headers."""
    p = ck.Producer({"bootstrap.servers": brokers, "linger.ms": 5})
    errors: list[Any] = []
    for part, value, extra in records:
        kw: dict[str, Any] = {"partition": part}
        if "key" in extra:
            kw["key"] = extra["key"]
        if "timestamp" in extra:
            kw["timestamp"] = int(extra["timestamp"].timestamp() * 1000)
        if "headers" in extra:
            kw["headers"] = extra["headers"]
        p.produce(topic, value, on_delivery=lambda err, _m: errors.append(err) if err else None, **kw)
    assert p.flush(60) == 0
    assert errors == []


def consume(brokers: str, topic: str, *, committed: bool = True) -> list[Any]:
    """Every record of a topic (all partitions), read with librdkafka: read_committed by
    default. Waits until the last stable offset reaches the end (transaction markers are
    written after a commit returns)."""
    iso = "read_committed" if committed else "read_uncommitted"
    c = ck.Consumer({"bootstrap.servers": brokers, "group.id": f"check-{time.time_ns()}",
                     "isolation.level": iso, "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        md = c.list_topics(topic, timeout=30).topics[topic]
        parts = [ck.TopicPartition(topic, p) for p in md.partitions]
        raw = ck.Consumer({"bootstrap.servers": brokers, "group.id": "hw", "isolation.level": "read_uncommitted"})
        ends = {}
        deadline = time.monotonic() + 60
        for tp in parts:
            hw = raw.get_watermark_offsets(tp, timeout=30)[1]
            while committed and c.get_watermark_offsets(tp, timeout=30)[1] < hw and time.monotonic() < deadline:
                time.sleep(0.05)
            ends[tp.partition] = c.get_watermark_offsets(tp, timeout=30)[1]
        raw.close()
        c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in ends])
        out = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            m = c.poll(0.2)
            if m is not None and not m.error():
                out.append(m)
            # The position passes aborted records and transaction markers too.
            pos = {tp.partition: tp.offset for tp in c.position([ck.TopicPartition(topic, p) for p in ends])}
            if all(e == 0 or pos[p] >= e for p, e in ends.items()):
                break
        else:
            raise AssertionError(f"reading {topic} did not reach the end offsets {ends} within 60 s")
        return out
    finally:
        c.close()


def wait_stable(brokers: str, topic: str) -> None:
    consume(brokers, topic)


# -- reading --------------------------------------------------------------------------

def test_bounded_json_read_equals_what_was_produced(brokers, topic):
    t = topic(3)
    recs, ref = [], []
    for i in range(300):
        p = i % 3
        user = {"city": ["Oslo", "Rome"][i % 2], "tags": ["a"] * (i % 3)}
        doc = {"id": i, "name": f"n{i}", "price": i / 4, "user": user}
        ts = T0 + dt.timedelta(seconds=i)
        extra = {"key": f"k{i}".encode(), "timestamp": ts, "headers": [("h", f"v{i}".encode())]}
        recs.append((p, json.dumps(doc).encode(), extra))
    produce(brokers, t, recs)
    offsets = Counter()
    for p, v, extra in recs:
        doc = json.loads(v)
        ref.append({**doc, "kafka_key": extra["key"], "kafka_headers": [{"key": "h", "value": extra["headers"][0][1]}],
                    "kafka_partition": p, "kafka_offset": offsets[p], "kafka_timestamp": extra["timestamp"]})
        offsets[p] += 1
    schema = pa.schema([("id", pa.int64()), ("name", pa.string()), ("price", pa.float64()),
                        ("user", pa.struct([("city", pa.string()), ("tags", pa.list_(pa.string()))]))])
    for parallelism in (1, 2, 4):
        env = rb.Environment(parallelism=parallelism, batch_size=50)
        got = env.read_kafka(brokers, t, schema=schema, end="latest",
                             metadata=["key", "headers", "partition", "offset", "timestamp"]).collect()
        rows = sorted(got.to_pylist(), key=lambda r: r["id"])
        assert rows == ref, parallelism


def test_json_schema_is_inferred_from_a_sample(brokers, topic):
    t = topic(2)
    docs = [{"a": i, "b": {"c": f"x{i}", "d": [i, i + 1]}, "f": 1.5 if i % 2 else 2} for i in range(20)]
    produce(brokers, t, [(i % 2, json.dumps(d).encode(), {}) for i, d in enumerate(docs)])
    s = rb.read_kafka(brokers, t, end="latest")
    want = pa.schema([("a", pa.int64()), ("b", pa.struct([("c", pa.string()), ("d", pa.list_(pa.int64()))])),
                      ("f", pa.float64())])
    assert s.schema == want
    got = sorted(s.collect().to_pylist(), key=lambda r: r["a"])
    assert got == [{**d, "f": float(d["f"])} for d in docs]
    assert "schema inferred from a sample" in s.explain()


def test_inference_without_objects_asks_for_a_schema(brokers, topic):
    t = topic(1)
    produce(brokers, t, [(0, b"[1, 2]", {})])
    with pytest.raises(rb.SchemaError, match="holds no JSON object.*schema="):
        rb.read_kafka(brokers, t, end="latest").collect()


def test_csv_raw_and_arrow_formats(brokers, topic):
    t = topic(1)
    produce(brokers, t, [(0, b"1,a,2.5", {}), (0, b"2,,", {}), (0, b'3,"x,y",1e3', {})])
    got = rb.read_kafka(brokers, t, format="csv", end="latest",
                        schema={"i": pa.int64(), "s": pa.string(), "f": pa.float64()}).collect()
    assert got.to_pylist() == [{"i": 1, "s": "a", "f": 2.5}, {"i": 2, "s": "", "f": None},
                               {"i": 3, "s": "x,y", "f": 1000.0}]
    raw = rb.read_kafka(brokers, t, format="raw", end="latest").collect()
    assert raw.schema == pa.schema([("value", pa.binary())])
    assert raw["value"].to_pylist() == [b"1,a,2.5", b"2,,", b'3,"x,y",1e3']
    text = rb.read_kafka(brokers, t, format="raw", schema={"value": pa.string()}, end="latest").collect()
    assert text["value"].to_pylist() == ["1,a,2.5", "2,,", '3,"x,y",1e3']

    t2 = topic(1)
    schema = pa.schema([("x", pa.int64()), ("y", pa.string())])
    batches = [pa.record_batch([pa.array([1, 2]), pa.array(["a", None])], schema=schema),
               pa.record_batch([pa.array([3]), pa.array(["c"])], schema=schema)]
    payloads = []
    for b in batches:
        buf = io.BytesIO()
        with pa.ipc.new_stream(buf, schema) as w:
            w.write_batch(b)
        payloads.append((0, buf.getvalue(), {}))
    produce(brokers, t2, payloads)
    got = rb.read_kafka(brokers, t2, format="arrow", schema=schema, end="latest").collect()
    assert got.to_pylist() == [{"x": 1, "y": "a"}, {"x": 2, "y": None}, {"x": 3, "y": "c"}]


def test_start_and_end_offsets_and_timestamps(brokers, topic):
    t = topic(2)
    recs = [(p, json.dumps({"p": p, "i": i}).encode(), {"timestamp": T0 + dt.timedelta(minutes=i)})
            for p in range(2) for i in range(10)]
    produce(brokers, t, recs)
    sch = {"p": pa.int64(), "i": pa.int64()}

    def read(**kw):
        return sorted((r["p"], r["i"]) for r in rb.read_kafka(brokers, t, schema=sch, **kw).collect().to_pylist())

    assert read(start={0: 3, 1: 8}, end={0: 5}) == [(0, 3), (0, 4), (1, 8), (1, 9)]
    assert read(start=T0 + dt.timedelta(minutes=7), end="latest") == [(p, i) for p in range(2) for i in (7, 8, 9)]
    assert read(start="earliest", end=(T0 + dt.timedelta(minutes=2)).isoformat()) == [(p, i) for p in range(2)
                                                                                      for i in (0, 1)]
    assert read(start="latest", end="latest") == []


def test_bad_records_fail_the_job_naming_where(brokers, topic):
    t = topic(2)
    produce(brokers, t, [(0, b'{"x": 1}', {}), (1, b'{"x": 2}', {}), (1, b'{"x": "two"}', {}), (1, b'{"x": 3}', {})])
    with pytest.raises(rb.DataError, match=rf'kafka topic "{t}" partition 1 offset 1: field "x": expected int64'):
        rb.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest").collect()


def test_bad_records_go_to_the_dead_letters_with_their_offsets(brokers, topic):
    t = topic(3)
    recs, bad = [], []
    offsets = Counter()
    for i in range(120):
        p = i % 3
        if i % 17 == 5:
            v = b"not json" if i % 2 else json.dumps({"x": "text"}).encode()
            bad.append((p, offsets[p], v))
        else:
            v = json.dumps({"x": i}).encode()
        recs.append((p, v, {"key": str(i).encode()}))
        offsets[p] += 1
    produce(brokers, t, recs)
    for parallelism in (1, 3):
        env = rb.Environment(parallelism=parallelism, batch_size=10)
        s = env.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest", on_bad_record="dead_letter")
        rows, dead = rb.collect_all([s, s.dead_letters()])
        assert sorted(rows["x"].to_pylist()) == [i for i in range(120) if i % 17 != 5]
        got = sorted((r["partition"], r["offset"], r["value"]) for r in dead.to_pylist())
        assert got == sorted(bad)
        assert set(dead["topic"].to_pylist()) == {t}
        assert all(e for e in dead["error"].to_pylist())
        assert any('field "x": expected int64' in e for e in dead["error"].to_pylist())
    # The dead letters alone can be written anywhere, e.g. back to Kafka.
    out = topic(1)
    dl = s.dead_letters().select("partition", "offset", "error")
    summary = dl.write_kafka(brokers, out)
    assert sum(summary["rows"].to_pylist()) == len(bad)
    assert sorted((json.loads(m.value())["partition"], json.loads(m.value())["offset"])
                  for m in consume(brokers, out)) == sorted((p, o) for p, o, _ in bad)


def test_dead_letters_must_be_read(brokers, topic):
    t = topic(1)
    s = rb.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest", on_bad_record="dead_letter")
    with pytest.raises(rb.PlanError, match="dead_letters.*would be lost"):
        s.collect()
    with pytest.raises(rb.PlanError, match="on_bad_record='dead_letter'"):
        rb.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest").dead_letters()


def test_option_and_argument_errors(brokers, topic):
    t = topic(1)
    with pytest.raises(rb.InvalidArgumentError, match='kafka option "no.such.option" is not one read_kafka takes'):
        rb.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest", options={"no.such.option": 1}).collect()
    with pytest.raises(rb.InvalidArgumentError, match="transaction.timeout.ms"):
        rb.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest",
                      options={"transaction.timeout.ms": 1}).collect()
    with pytest.raises(rb.PlanError, match="needs a bounded stream"):
        rb.read_kafka(brokers, t, schema={"x": pa.int64()}).collect()
    with pytest.raises(rb.PlanError, match="read_kafka without end="):
        rb.read_kafka(brokers, t, schema={"x": pa.int64()}).start(runtime_mode="batch")
    plan = rb.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest").explain()
    assert "runtime mode: batch" in plan and "bounded" in plan
    assert "runtime mode: streaming" in rb.read_kafka(brokers, t, schema={"x": pa.int64()}).explain()
    with pytest.raises(rb.PlanError, match="transactional_id_prefix"):
        rb.from_pydict({"x": [1]}).write_kafka(brokers, t, delivery_guarantee="exactly-once")
    with pytest.raises(rb.ColumnNotFoundError):
        rb.from_pydict({"x": [1]}).write_kafka(brokers, t, key="y")
    with pytest.raises(ValueError, match="not both"):
        rb.read_kafka(brokers, t, pattern="x.*")
    with pytest.raises(TypeError, match="datetime"):
        rb.read_kafka(brokers, t, start=5)
    with pytest.raises(rb.InputNotFoundError, match="no-such-topic-here.*does not host this topic"):
        rb.read_kafka(brokers, "no-such-topic-here", schema={"x": pa.int64()}, end="latest").collect()


# -- event time: the same features live as in the backfill -----------------------------

def events(n: int, parts: int) -> list[dict[str, Any]]:
    """Events per partition in event-time order, partitions skewed against each other."""
    out = []
    for i in range(n):
        p = i % parts
        out.append({"user": i % 7, "amount": float(i % 11), "p": p,
                    "ts": T0 + dt.timedelta(seconds=(i // parts) * 3 + p * 40)})
    return out


def test_windows_over_kafka_equal_the_same_pipeline_over_a_table(brokers, topic):
    parts = 3
    evs = events(900, parts)
    t = topic(parts)
    produce(brokers, t, [(e["p"], json.dumps({**e, "ts": e["ts"].isoformat()}).encode(), {}) for e in evs])
    schema = {"user": pa.int64(), "amount": pa.float64(), "p": pa.int64(), "ts": pa.timestamp("ms", "UTC")}

    def features(s: rb.Stream) -> list[dict[str, Any]]:
        r = (s.key_by("user").window(rb.sliding("60s", "20s"))
             .agg(rb.count().alias("n"), col("amount").sum().alias("total")))
        return sorted(r.collect(runtime_mode="streaming").to_pylist(),
                      key=lambda x: (x["user"], x["window_start"]))

    table = pa.Table.from_pylist(evs, schema=pa.schema(list(schema.items())))
    env = rb.Environment(parallelism=2, batch_size=64)
    backfill = sorted(
        env.from_arrow(table, event_time="ts").key_by("user").window(rb.sliding("60s", "20s"))
        .agg(rb.count().alias("n"), col("amount").sum().alias("total")).collect().to_pylist(),
        key=lambda x: (x["user"], x["window_start"]))
    live = features(env.read_kafka(brokers, t, schema=schema, end="latest", event_time="ts",
                                   max_out_of_orderness="0s"))
    assert live == backfill
    # Plain-Python reference.
    ref: dict[tuple[int, dt.datetime], list[float]] = {}
    for e in evs:
        s = int(e["ts"].timestamp())
        for start in range(s - s % 20 - 40, s + 1, 20):
            if start <= s < start + 60:
                ref.setdefault((e["user"], dt.datetime.fromtimestamp(start, UTC)), []).append(e["amount"])
    assert [(r["user"], r["window_start"], r["n"], r["total"]) for r in live] == \
        [(u, w, len(a), sum(a)) for (u, w), a in sorted(ref.items())]


def test_event_time_from_the_kafka_timestamp(brokers, topic):
    t = topic(2)
    recs = [(i % 2, json.dumps({"k": i % 3}).encode(), {"timestamp": T0 + dt.timedelta(seconds=7 * i)})
            for i in range(60)]
    produce(brokers, t, recs)
    got = (rb.read_kafka(brokers, t, schema={"k": pa.int64()}, end="latest", event_time="kafka_timestamp")
           .key_by("k").window(rb.tumbling("1m")).agg(rb.count().alias("n")).collect().to_pylist())
    ref = Counter((i % 3, (7 * i) // 60) for i in range(60))
    assert sorted((r["k"], int((r["window_start"] - T0).total_seconds()) // 60, r["n"]) for r in got) == \
        sorted((k, m, n) for (k, m), n in ref.items())


def windows_of_idle_partitions(brokers: str, t: str, parallelism: int, idle: str, want: int) -> list[dict[str, Any]]:
    """The first `want` windows of 10 s counts per key of an unbounded read of topic t
    whose partitions go idle after `idle`: only idleness lets the watermark close them."""
    job = (rb.Environment(parallelism=parallelism)
           .read_kafka(brokers, t, schema={"k": pa.int64(), "ts": pa.timestamp("ms", "UTC")},
                       event_time="ts", idle_timeout=idle)
           .key_by("k").window(rb.tumbling("10s")).agg(rb.count().alias("n")).start())
    got: list[dict[str, Any]] = []
    try:
        for b in job.results(timeout="90s"):
            got += b.to_pylist()
            if len(got) >= want:
                break
    finally:
        job.cancel()
    return got


def at_second(k: int, s: int) -> bytes:
    return json.dumps({"k": k, "ts": (T0 + dt.timedelta(seconds=s)).isoformat()}).encode()


@pytest.mark.parametrize("parallelism", [1, 2, 3])
def test_idle_partition_does_not_hold_back_an_unbounded_read(brokers, topic, parallelism):
    """An empty partition goes idle after idle_timeout and does not hold the watermark
    back: read by the same subtask as the busy one (parallelism 1), by a subtask of its own
    (2), and with a third subtask that has no partition at all (3)."""
    t = topic(2)
    # Only partition 0 gets records; partition 1 stays empty.
    produce(brokers, t, [(0, at_second(1, s), {}) for s in range(0, 35)])
    got = windows_of_idle_partitions(brokers, t, parallelism, "500ms", 3)
    assert [(r["window_start"], r["n"]) for r in got[:3]] == [(T0 + dt.timedelta(seconds=10 * w), 10) for w in range(3)]


@pytest.mark.parametrize("parallelism", [1, 2])
def test_partitions_idle_at_once_release_the_highest_watermark(brokers, topic, parallelism):
    """Both partitions have records and then fall silent: once both are idle, the
    watermark goes to the higher one's (as Flink's operators do when every input is idle),
    whichever goes idle last, read by one subtask or by two."""
    t = topic(2)
    produce(brokers, t, [(0, at_second(1, s), {}) for s in range(0, 35)] + [(1, at_second(2, 0), {})])
    got = windows_of_idle_partitions(brokers, t, parallelism, "300ms", 4)
    want = [(1, T0 + dt.timedelta(seconds=10 * w), 10) for w in range(3)] + [(2, T0, 1)]
    assert sorted((r["k"], r["window_start"], r["n"]) for r in got) == sorted(want)


def test_limit_ends_an_unbounded_read(brokers, topic):
    t = topic(3)
    produce(brokers, t, [(i % 3, json.dumps({"x": i}).encode(), {}) for i in range(30)])
    got = rb.read_kafka(brokers, t, schema={"x": pa.int64()}).limit(7).collect()
    assert got.num_rows == 7
    assert set(got["x"].to_pylist()) <= set(range(30))


def test_new_partitions_are_picked_up_while_running(brokers, topic):
    t = topic(1)
    produce(brokers, t, [(0, json.dumps({"x": i}).encode(), {}) for i in range(5)])
    job = (rb.Environment(parallelism=2)
           .read_kafka(brokers, t, schema={"x": pa.int64()}, metadata=["partition"],
                       options={"partition.discovery.interval.ms": 300})
           .start())
    seen: list[dict[str, Any]] = []
    adm = AdminClient({"bootstrap.servers": brokers})
    try:
        for b in job.results(timeout="60s"):
            seen += b.to_pylist()
            if len(seen) >= 5:
                break
        adm.create_partitions([NewPartitions(t, 3)])[t].result(60)
        produce(brokers, t, [(p, json.dumps({"x": 100 * p + i}).encode(), {}) for p in (1, 2) for i in range(4)])
        for b in job.results(timeout="90s"):
            seen += b.to_pylist()
            if len(seen) >= 13:
                break
    finally:
        job.cancel()
    assert sorted((r["kafka_partition"], r["x"]) for r in seen) == \
        [(0, i) for i in range(5)] + [(p, 100 * p + i) for p in (1, 2) for i in range(4)]


# -- writing --------------------------------------------------------------------------

@pytest.mark.parametrize("guarantee", ["exactly-once", "at-least-once", "none"])
def test_write_kafka_then_read_committed_sees_every_row_once(brokers, topic, guarantee):
    t = topic(3)
    n = 2000
    data = {"id": list(range(n)), "user": [f"u{i % 13}" for i in range(n)], "v": [i * 0.5 for i in range(n)]}
    env = rb.Environment(parallelism=3, batch_size=100)
    prefix = f"tx-{t}" if guarantee == "exactly-once" else None
    summary = env.from_pydict(data).write_kafka(brokers, t, key="user", delivery_guarantee=guarantee,
                                                transactional_id_prefix=prefix)
    assert sum(summary["rows"].to_pylist()) == n
    msgs = consume(brokers, t)
    assert sorted(json.loads(m.value())["id"] for m in msgs) == list(range(n))
    assert all(m.key().decode() == json.loads(m.value())["user"] for m in msgs)
    # What riverbed writes, riverbed reads back (the formats round-trip).
    back = rb.read_kafka(brokers, t, end="latest", schema={"id": pa.int64(), "user": pa.string(),
                                                           "v": pa.float64()}).collect()
    assert sorted(back.to_pylist(), key=lambda r: r["id"]) == [
        {"id": i, "user": data["user"][i], "v": data["v"][i]} for i in range(n)]


def test_failed_exactly_once_job_leaves_nothing_committed(brokers, topic):
    t = topic(2)

    def boom(b: pa.RecordBatch) -> pa.RecordBatch:
        if pa.compute.max(b["id"]).as_py() >= 1500:
            raise RuntimeError("boom")
        return b

    env = rb.Environment(parallelism=2, batch_size=100)
    with pytest.raises(rb.UserFunctionError):
        (env.from_pydict({"id": list(range(2000))}).map_batches(boom)
         .write_kafka(brokers, t, delivery_guarantee="exactly-once", transactional_id_prefix=f"tx-{t}"))
    assert consume(brokers, t) == []
    # A rerun with the same transactional ids (fencing whatever the failed run left) commits
    # every row once.
    env.from_pydict({"id": list(range(2000))}).write_kafka(
        brokers, t, delivery_guarantee="exactly-once", transactional_id_prefix=f"tx-{t}")
    assert sorted(json.loads(m.value())["id"] for m in consume(brokers, t)) == list(range(2000))


def test_exactly_once_kafka_to_kafka_round_trip(brokers, topic):
    src, dst = topic(3), topic(2)
    produce(brokers, src, [(i % 3, json.dumps({"k": i % 5, "v": i}).encode(), {}) for i in range(500)])
    s = rb.read_kafka(brokers, src, schema={"k": pa.int64(), "v": pa.int64()}, end="latest")
    s.group_by("k").agg(col("v").sum().alias("total")).write_kafka(
        brokers, dst, key="k", delivery_guarantee="exactly-once", transactional_id_prefix=f"tx-{dst}")
    got = sorted((json.loads(m.value())["k"], json.loads(m.value())["total"]) for m in consume(brokers, dst))
    assert got == sorted((k, sum(v for v in range(500) if v % 5 == k)) for k in range(5))


def compacted_topic(brokers: str, partitions: int) -> str:
    """A fresh topic with cleanup.policy=compact, whose log cleaner runs soon (small
    segments): the topic feature serving reads the latest value of each key from. It
    refuses records without a key."""
    name = f"py-compacted-{os.getpid()}-{time.time_ns()}-{next(_names)}"
    config = {"cleanup.policy": "compact", "segment.ms": "100", "min.cleanable.dirty.ratio": "0.01"}
    adm = AdminClient({"bootstrap.servers": brokers})
    adm.create_topics([NewTopic(name, partitions, 1, config=config)])[name].result(60)
    return name


@pytest.mark.parametrize("compacted", [False, True], ids=["plain topic", "compacted topic"])
def test_upsert_sink_of_an_updating_group_by(brokers, topic, compacted):
    """write_kafka(upsert=True) of an updating group_by (Flink's upsert-kafka): the record
    key is the group key, +I/+U the key's new value, -D (here, groups expired by state_ttl)
    a tombstone, -U nothing. Read back and compacted by key, the topic holds, for every
    live key, exactly the aggregate of its rows (checked against DuckDB), and an expired
    key's last value before its tombstone is its whole aggregate. The same into a compacted
    topic."""
    import duckdb

    t = compacted_topic(brokers, 2) if compacted else topic(2)
    env = rb.Environment(parallelism=1, batch_size=50)  # rows are read in order
    fields = {"id": {"kind": "sequence"}, "v": {"min": 0, "max": 9}}
    s = env.datagen({"id": rb.Int64, "v": rb.Int64}, rows_per_second=2_000, seed=3, fields=fields)
    agg = (s.with_columns((col("id") // 100).alias("key"))
            .group_by("key", state_ttl="1s")
            .agg(rb.count().alias("n"), col("v").sum().alias("s"), col("id").max().alias("last")))
    job = agg.write_kafka(brokers, t, upsert=True, lazy=True).start()
    time.sleep(3)
    job.stop(drain=True, timeout="60s")
    latest: dict[int, Any] = {}
    tombstoned: dict[int, dict[str, Any]] = {}
    cleaned: set[int] = set()  # tombstones whose values the log cleaner already removed
    for m in consume(brokers, t, committed=False):
        key = int(m.key())
        if m.value() is None:
            if compacted and key not in latest:
                cleaned.add(key)
                continue
            assert latest.get(key) is not None, f"tombstone of key {key} without a value before it"
            tombstoned[key] = latest[key]
            latest[key] = None
        else:
            v = json.loads(m.value())
            assert "__op" not in v and v["key"] == key
            latest[key] = v
    live = {k: v for k, v in latest.items() if v is not None}
    assert live and (tombstoned or cleaned), (len(live), len(tombstoned), len(cleaned))
    assert not cleaned & live.keys()
    rows = rb.datagen({"id": rb.Int64, "v": rb.Int64}, number_of_rows=max(v["last"] for v in live.values()) + 1,  # noqa: F841
                      seed=3, fields=fields).collect(progress=False)
    want = {r[0]: r[1:] for r in duckdb.sql(
        "SELECT id // 100 AS key, count(*), sum(v), max(id) FROM rows GROUP BY ALL").fetchall()}
    for k, v in tombstoned.items():
        assert (v["n"], v["s"], v["last"]) == want[k]
    # A live key's value is its aggregate over the rows read; every key but the newest had
    # all its rows read. Keys go idle in order, so the expired ones are the oldest.
    assert max(tombstoned.keys() | cleaned) < min(live)
    for k, v in live.items():
        n = v["n"]
        assert v["last"] == k * 100 + n - 1 or n == 100
        if n == 100:
            assert (v["n"], v["s"], v["last"]) == want[k]


def test_upsert_sink_of_an_updating_join_with_a_composite_key(brokers, topic, tmp_path):
    """write_kafka(upsert=True) of an updating left join of two group_bys by (k, b), joined
    on both: the record key is the JSON object {"k": .., "b": ..} of the join key; read back
    (read_committed) and compacted by key (a tombstone removes its key), the topic holds,
    at a checkpoint, DuckDB's left join of the GROUP BYs of the rows read — which the same
    job writes to Parquet, committed at the same checkpoint."""
    import duckdb
    import pyarrow.parquet as pq

    t = topic(3)
    out = str(tmp_path / "out")
    env = rb.Environment(parallelism=2, batch_size=100, checkpoint_dir=str(tmp_path / "ck"),
                         checkpoint_interval="1h")
    left = env.datagen({"id": rb.Int64, "k": rb.Int64}, rows_per_second=2_000, seed=5,
                       fields={"id": {"kind": "sequence"}, "k": {"min": 0, "max": 9}})
    right = env.datagen({"rid": rb.Int64, "k": rb.Int64, "w": rb.Int64}, rows_per_second=300, seed=6,
                        fields={"rid": {"kind": "sequence"}, "k": {"min": 0, "max": 9}, "w": {"min": 0, "max": 99}})
    a = left.with_columns((col("id") % 2).alias("b")).group_by("k", "b").agg(rb.count().alias("n"))
    c = right.with_columns((col("rid") % 2).alias("b")).group_by("k", "b").agg(col("w").sum().alias("ws"))
    joined = a.join(c, on=["k", "b"], how="left")
    sink = joined.write_kafka(brokers, t, upsert=True, delivery_guarantee="exactly-once",
                              transactional_id_prefix=f"tx-{t}", lazy=True)
    assert "upsert, key k, b" in sink.explain()
    job = rb.start_all([sink, left.write_parquet(f"{out}/left", lazy=True),
                        right.write_parquet(f"{out}/right", lazy=True)])
    try:
        time.sleep(1.5)
        job.checkpoint()
    finally:
        job.cancel()
    table: dict[tuple[int, int], Any] = {}
    tombstones = 0
    for m in consume(brokers, t):
        key = json.loads(m.key())
        assert list(key) == ["k", "b"]
        if m.value() is None:
            tombstones += 1
            table.pop((key["k"], key["b"]), None)
        else:
            v = json.loads(m.value())
            assert "__op" not in v and (v["k"], v["b"]) == (key["k"], key["b"])
            table[(key["k"], key["b"])] = (v["n"], v["ws"])
    lrows = pa.concat_tables([pq.read_table(f) for f in glob.glob(f"{out}/left/*.parquet")])  # noqa: F841
    rrows = pa.concat_tables([pq.read_table(f) for f in glob.glob(f"{out}/right/*.parquet")])  # noqa: F841
    want = {(k, b): (n, ws) for k, b, n, ws in duckdb.sql("""
        WITH l AS (SELECT k, id % 2 AS b, count(*) AS n FROM lrows GROUP BY ALL),
             r AS (SELECT k, rid % 2 AS b, sum(w) AS ws FROM rrows GROUP BY ALL)
        SELECT l.k, l.b, l.n, r.ws FROM l LEFT JOIN r USING (k, b)""").fetchall()}
    assert table == want
    assert tombstones > 0  # updates went out as a tombstone and a new value


def test_offsets_deleted_before_they_were_read_fail_or_are_counted(brokers, topic):
    """Records deleted (DeleteRecords, as retention does) below where a read resumes are
    never silently skipped: the job fails naming the partition and the offsets lost, or,
    with on_data_loss="skip", reads on from the log start and counts them."""
    from confluent_kafka import TopicPartition

    t = topic(2)
    produce(brokers, t, [(0, json.dumps({"x": i}).encode(), {}) for i in range(100)]
            + [(1, json.dumps({"x": 100 + i}).encode(), {}) for i in range(50)])
    adm = AdminClient({"bootstrap.servers": brokers})
    for f in adm.delete_records([TopicPartition(t, 0, 40)]).values():
        f.result(60)
    # Where a restored checkpoint would resume: partition 0 at 10, below its log start (40).
    read = rb.read_kafka(brokers, t, schema={"x": pa.int64()}, start={0: 10, 1: 0}, end="latest")
    with pytest.raises(rb.DataError, match=rf'kafka topic "{t}" partition 0: offsets 10 to 39 \(30 records\) were '
                                           r'lost before they were read: they were deleted'):
        read.collect()

    s = rb.read_kafka(brokers, t, schema={"x": pa.int64()}, start={0: 10, 1: 0}, end="latest",
                      on_data_loss="skip")
    job = s.start()
    rows = sorted(job.collect()["x"].to_pylist())
    assert rows == list(range(40, 150))  # what is still there, once each
    [m] = [r for r in job.metrics(as_dict=True) if r["partitions"] is not None]
    assert m["lost_records"] == 30
    assert {p["partition"]: p["lost_records"] for p in m["partitions"]} == {0: 30, 1: 0}
    assert job.metrics().column("lost_records").to_pylist().count(30) == 1
    # A start at or after the log start loses nothing.
    assert sorted(rb.read_kafka(brokers, t, schema={"x": pa.int64()}, start={0: 40}, end="latest")
                  .collect()["x"].to_pylist()) == list(range(40, 150))
    with pytest.raises(ValueError, match="on_data_loss must be 'fail' or 'skip'"):
        rb.read_kafka(brokers, t, schema={"x": pa.int64()}, on_data_loss="ignore")  # type: ignore[arg-type]



def test_keyed_results_of_a_bounded_group_by_into_a_compacted_topic(brokers):
    """A bounded group_by's final table (append-only: one row per key) written with
    key= into a compacted topic, as a backfill of served features: each key's record holds
    its aggregate over all rows (DuckDB's GROUP BY). upsert=True is refused for it with a
    clear error, since nothing is updated."""
    import duckdb

    name = compacted_topic(brokers, 3)
    rows = pa.table({"user": [i % 37 for i in range(3000)], "cents": [(i * 7919) % 1000 for i in range(3000)]})
    env = rb.Environment(parallelism=2, batch_size=97)
    feats = env.from_arrow(rows).group_by("user").agg(rb.count().alias("n"), col("cents").sum().alias("spend"))
    with pytest.raises(rb.PlanError, match="only appends rows"):
        feats.write_kafka(brokers, name, upsert=True)
    feats.write_kafka(brokers, name, key="user")
    last: dict[int, Any] = {}
    for m in consume(brokers, name, committed=False):
        last[int(m.key())] = json.loads(m.value())
    want = {u: (n, s) for u, n, s in duckdb.sql("SELECT user, count(*), sum(cents) FROM rows GROUP BY user").fetchall()}
    assert {k: (v["n"], v["spend"]) for k, v in last.items()} == want


def _upsert_table(brokers: str, t: str) -> dict[int, dict[str, Any]]:
    """The table an upsert topic holds: the last value of each key, a tombstone deletes."""
    table: dict[int, dict[str, Any]] = {}
    for m in consume(brokers, t, committed=False):
        if m.value() is None:
            table.pop(int(m.key()), None)
        else:
            table[int(m.key())] = json.loads(m.value())
    return table


@pytest.mark.parametrize("how", ["filter", "sql having"])
def test_upsert_sink_after_a_filter_deletes_the_keys_it_drops(brokers, topic, how):
    """A filter after an updating group_by (or SQL's HAVING) drops a group's new row when it
    no longer passes, leaving its -U alone: the key left the result, and the upsert sink
    writes a tombstone for it (it wrote nothing: the topic kept the old row). The topic,
    read back by key, is the filtered aggregate of every row (a plain-Python fold)."""
    src, out = topic(1), topic(2)
    rnd = random.Random(4)
    rows = [{"k": rnd.randrange(40), "v": rnd.randint(-10, 10)} for _ in range(3000)]
    totals: dict[int, int] = {}
    for r in rows:
        totals[r["k"]] = totals.get(r["k"], 0) + r["v"]
    want = {k: v for k, v in totals.items() if v > 0}
    assert 0 < len(want) < len(totals)
    env = rb.Environment(parallelism=2)
    if how == "filter":
        s = env.read_kafka(brokers, src, schema={"k": pa.int64(), "v": pa.int64()})
        job = (s.group_by("k").agg(col("v").sum().alias("total")).filter(col("total") > 0)
               .write_kafka(brokers, out, upsert=True, lazy=True).start())
    else:
        job = env.sql(f"""
            CREATE TABLE src (k BIGINT, v BIGINT) WITH ('connector' = 'kafka', 'topic' = '{src}',
              'properties.bootstrap.servers' = '{brokers}', 'scan.startup.mode' = 'earliest-offset',
              'format' = 'json');
            CREATE TABLE dst (k BIGINT, total BIGINT, PRIMARY KEY (k) NOT ENFORCED) WITH (
              'connector' = 'upsert-kafka', 'topic' = '{out}', 'properties.bootstrap.servers' = '{brokers}',
              'key.format' = 'json', 'value.format' = 'json');
            INSERT INTO dst SELECT k, SUM(v) AS total FROM src GROUP BY k HAVING SUM(v) > 0""").start()
    # In rounds, each folded in before the next comes: totals cross zero between rounds,
    # so groups leave and re-enter the result.
    for i in range(0, len(rows), 150):
        produce(brokers, src, [(0, json.dumps(r).encode(), {}) for r in rows[i:i + 150]])
        deadline = time.monotonic() + 60
        while sum(m["records_in"] for m in job.metrics(as_dict=True) if m["operator"] == "aggregate") < i + 150:
            assert time.monotonic() < deadline, "the job did not read its input"
            time.sleep(0.05)
    job.stop(drain=True, timeout="60s")
    got = _upsert_table(brokers, out)
    assert {k: v["total"] for k, v in got.items()} == want


@pytest.mark.parametrize("guarantee", ["at-least-once", "exactly-once", "none"])
def test_write_to_an_unreachable_broker_fails_after_the_delivery_timeout(guarantee):
    # The client retries a record forever unless told otherwise: the write hung. Records
    # now time out after delivery.timeout.ms (2 minutes unless given), as the Java
    # producer's, and the error names the topic and the dial error.
    kw = {"transactional_id_prefix": f"unreachable-{os.getpid()}"} if guarantee == "exactly-once" else {}
    with pytest.raises(rb.StorageError, match=r'topic "x".*timed out.*127\.0\.0\.1:1'):
        rb.from_pydict({"a": [1, 2]}).write_kafka("127.0.0.1:1", "x", delivery_guarantee=guarantee,
                                                  options={"delivery.timeout.ms": "1500"}, **kw)
    # With event times as record timestamps (long past), the timeout counts from the write.
    t0 = dt.datetime(2001, 1, 1)
    with pytest.raises(rb.StorageError, match=r"not delivered within delivery.timeout.ms"):
        rb.from_pydict({"a": [1, 2], "ts": [t0, t0]}, event_time="ts").write_kafka(
            "127.0.0.1:1", "x", delivery_guarantee=guarantee, options={"delivery.timeout.ms": "1500"}, **kw)
    # An unbounded job writing there fails too, rather than running with nothing delivered.
    job = (rb.datagen({"a": rb.Int64}, rows_per_second=100)
           .write_kafka("127.0.0.1:1", "x", delivery_guarantee=guarantee, lazy=True,
                        options={"delivery.timeout.ms": "1500"}, **kw).start())
    with pytest.raises(rb.StorageError, match=r"timed out"):
        job.wait(timeout="120s")


def test_write_summary_counts_rows_and_records_and_creates_a_missing_topic(brokers):
    # Format arrow writes a record per batch: "rows" counted records (1 for 10 rows). A topic
    # that does not exist is created where the broker allows it, as the Java producer does
    # (the write failed with UNKNOWN_TOPIC_OR_PARTITION).
    name = f"py-auto-created-{os.getpid()}-{time.time_ns()}"
    env = rb.Environment(parallelism=1, batch_size=4)
    summary = env.from_pydict({"x": list(range(10))}).write_kafka(brokers, name, format="arrow")
    assert summary.to_pylist() == [{"topic": name, "rows": 10, "records": 3}]
    msgs = consume(brokers, name)
    got = [r["x"] for m in msgs for r in pa.ipc.open_stream(m.value()).read_all().to_pylist()]
    assert got == list(range(10))


def test_json_and_csv_decimals_round_trip_exactly(brokers, topic):
    # Decimal columns were refused by JSON and CSV ("not supported by this format"); they
    # are written as JSON numbers with every digit and read back exactly (no float on the
    # way), as Flink's JSON format reads a DECIMAL.
    from decimal import Decimal
    t = topic(1)
    rnd = random.Random(8)
    vals = [None if rnd.random() < 0.1 else Decimal(rnd.randint(-10**20, 10**20)).scaleb(-4) for _ in range(300)]
    src = pa.table({"id": pa.array(range(300), pa.int64()), "price": pa.array(vals, pa.decimal128(30, 4)),
                    "s": pa.array([{"fee": v} for v in vals], pa.struct([("fee", pa.decimal128(30, 4))]))})
    rb.from_arrow(src).write_kafka(brokers, t)
    schema = {"id": pa.int64(), "price": pa.decimal128(30, 4), "s": pa.struct([("fee", pa.decimal128(30, 4))])}
    back = rb.read_kafka(brokers, t, schema=schema, end="latest").collect().sort_by("id")
    assert back.to_pylist() == src.to_pylist()
    raw = [json.loads(m.value(), parse_float=Decimal) for m in consume(brokers, t)]
    assert sorted((r["id"], r["price"]) for r in raw) == [(i, v) for i, v in enumerate(vals)]
    c = topic(1)
    produce(brokers, c, [(0, b"1,12.345", {}), (0, b"2,-0.005", {}), (0, b"3,", {})])
    got = rb.read_kafka(brokers, c, format="csv", schema={"id": pa.int64(), "d": pa.decimal128(6, 2)},
                        end="latest").collect().sort_by("id")
    assert got["d"].to_pylist() == [Decimal("12.35"), Decimal("-0.01"), None]


def test_offsets_of_a_topic_the_read_does_not_read_are_an_error():
    # A typo in the topic of a start or end offset was ignored: the whole topic was read
    # from the default position.
    for kw in ({"start": {("evnets", 0): 5}}, {"end": {("other", 1): 9}}):
        want = r'offsets name topic "(evnets|other)", which this read does not read \(it reads events\)'
        with pytest.raises(rb.PlanError, match=want):
            _ = rb.read_kafka("127.0.0.1:1", "events", schema={"a": pa.int64()}, **kw).schema


@pytest.mark.parametrize("fmt", ["json", "avro"])
def test_records_carry_the_event_time_of_their_rows(brokers, topic, fmt):
    # The Kafka timestamp of a record is its row's event time, as Flink's KafkaSink writes
    # the element's timestamp (it was the time of writing, so a job reading the topic by
    # record timestamp saw processing time); a row without event time keeps the write time.
    t = topic(2)
    base = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    times = [None if i % 10 == 3 else base + dt.timedelta(seconds=7 * i, milliseconds=i) for i in range(50)]
    data = pa.table({"id": pa.array(range(50), pa.int64()),
                     "ts": pa.array([x and x.replace(tzinfo=None) for x in times], pa.timestamp("ms"))})
    before = time.time()
    rb.from_arrow(data, event_time="ts").write_kafka(brokers, t, key="id", format=fmt)
    msgs = consume(brokers, t, committed=False)
    assert len(msgs) == 50
    for m in msgs:
        i = int(m.key())
        if times[i] is None:
            assert m.timestamp()[1] >= int(before * 1000) - 1000
        else:
            assert m.timestamp()[1] == int(times[i].timestamp() * 1000), i
