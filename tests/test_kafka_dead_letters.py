"""Bad records of the CSV, raw and Arrow IPC formats going to ``dead_letters()`` against a
real broker, and a whole dead-letter row written to a Kafka topic and read back intact.
Records are produced and read back with confluent-kafka (librdkafka), an independent
client; the references are plain Python.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections import Counter
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb

ck = pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


GOOD_IPC = ipc(pa.table({"x": pa.array([1], pa.int64())}))

# Per format: the read's arguments, a good record of x, and bad records (each a value and
# a piece of the error it must get).
FORMATS: dict[str, tuple[dict[str, Any], Any, list[tuple[bytes | None, str]]]] = {
    "csv": ({"format": "csv", "schema": {"x": pa.int64(), "s": pa.string()}},
            lambda i: f'{i},"s{i}"'.encode(),
            [(b"1,a,extra", "field"), (b"seven,a", "x"), (b'3,"unclosed', ""), (None, "")]),
    "raw": ({"format": "raw", "schema": pa.schema([pa.field("value", pa.string(), nullable=False)])},
            lambda i: f"text {i}".encode(),
            [(b"\xff\xfe not utf-8", "UTF-8"), (None, "tombstone")]),
    "arrow": ({"format": "arrow", "schema": {"x": pa.int64()}},
              lambda i: ipc(pa.table({"x": pa.array([i, i], pa.int64())})),
              [(b"not an arrow stream", ""), (GOOD_IPC[: len(GOOD_IPC) // 2], ""),
               (ipc(pa.table({"y": pa.array(["other schema"])})), "schema"), (None, "")]),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_bad_records_of_a_format_go_to_the_dead_letters(brokers, topic, fmt):  # noqa: F811
    kw, good, bads = FORMATS[fmt]
    t = topic(2)
    recs, want_dead, want_good = [], [], []
    offsets: Counter[int] = Counter()
    for i in range(40):
        p = i % 2
        extra: dict[str, Any] = {"key": f"k{i}".encode(), "headers": [("h", f"v{i}".encode())]}
        if i % 9 == 4:
            value, why = bads[(i // 9) % len(bads)]
            want_dead.append({"topic": t, "partition": p, "offset": offsets[p], "key": f"k{i}".encode(),
                              "value": value, "headers": [{"key": "h", "value": f"v{i}".encode()}], "why": why})
        else:
            value = good(i)
            want_good.append(i)
        recs.append((p, value, extra))
        offsets[p] += 1
    produce(brokers, t, recs)
    # The dead letters' offsets and bytes are those librdkafka reads at those places.
    by_place = {(m.partition(), m.offset()): m for m in consume(brokers, t)}
    s = rb.Environment(parallelism=2, batch_size=4).read_kafka(
        brokers, t, end="latest", on_bad_record="dead_letter", **kw)
    rows, dead = rb.collect_all([s, s.dead_letters()])
    got = sorted(dead.to_pylist(), key=lambda r: (r["partition"], r["offset"]))
    want = sorted(want_dead, key=lambda r: (r["partition"], r["offset"]))
    assert [(r["topic"], r["partition"], r["offset"], r["key"], r["value"], r["headers"]) for r in got] == \
        [(r["topic"], r["partition"], r["offset"], r["key"], r["value"], r["headers"]) for r in want]
    for g, w in zip(got, want):
        m = by_place[(g["partition"], g["offset"])]
        assert g["value"] == m.value() and g["key"] == m.key()
        assert g["timestamp"] is not None and int(g["timestamp"].timestamp() * 1000) == m.timestamp()[1]
        assert g["error"] and w["why"] in g["error"], g["error"]
    # The good records are all read, none twice.
    if fmt == "csv":
        assert sorted(rows["x"].to_pylist()) == want_good
    elif fmt == "raw":
        assert sorted(rows["value"].to_pylist()) == sorted(f"text {i}" for i in want_good)
    else:
        assert sorted(rows["x"].to_pylist()) == sorted(i for i in want_good for _ in range(2))


def test_a_whole_dead_letter_row_written_to_kafka_reads_back_intact(brokers, topic):  # noqa: F811
    """Every column of the dead letters (value bytes, key, headers, error, topic, partition,
    offset, timestamp) written to a topic with write_kafka (JSON: binary as base64) and
    read back, by librdkafka and by read_kafka with the dead letters' own schema."""
    t, dlq = topic(2), topic(1)
    recs = []
    for i in range(30):
        bad = i % 7 == 3
        value = (b"\x00\xffbad json " + bytes([i])) if bad else json.dumps({"x": i}).encode()
        extra: dict[str, Any] = {"key": None if i % 2 else f"k{i}".encode()}
        if i % 3 == 0:
            extra["headers"] = [("trace", f"t{i}".encode()), ("bin", bytes([0, i, 255]))]
        recs.append((i % 2, value, {k: v for k, v in extra.items() if v is not None}))
    produce(brokers, t, recs)
    s = rb.read_kafka(brokers, t, schema={"x": pa.int64()}, end="latest", on_bad_record="dead_letter")
    rows, dead, summary = rb.collect_all([s, s.dead_letters(), s.dead_letters().write_kafka(brokers, dlq, lazy=True)])
    assert len(dead) == sum(1 for i in range(30) if i % 7 == 3) and len(rows) == 30 - len(dead)
    assert sum(summary["rows"].to_pylist()) == len(dead)
    want = sorted(dead.to_pylist(), key=lambda r: (r["partition"], r["offset"]))

    # librdkafka reads the JSON values: every column, binary ones as base64.
    def b64(b: bytes | None) -> str | None:
        return None if b is None else base64.b64encode(b).decode()

    def plain(r: dict[str, Any]) -> dict[str, Any]:
        return {"topic": r["topic"], "partition": r["partition"], "offset": r["offset"],
                "timestamp": r["timestamp"],
                "key": b64(r["key"]), "value": b64(r["value"]),
                "headers": None if r["headers"] is None else [{"key": h["key"], "value": b64(h["value"])}
                                                              for h in r["headers"]],
                "error": r["error"]}

    msgs = [json.loads(m.value()) for m in consume(brokers, dlq)]
    for m in msgs:  # RFC 3339 text
        m["timestamp"] = dt.datetime.fromisoformat(m["timestamp"].replace("Z", "+00:00"))
    assert sorted(msgs, key=lambda r: (r["partition"], r["offset"])) == [plain(r) for r in want]
    # riverbed reads them back, with the dead letters' schema, equal to what it wrote.
    back = rb.read_kafka(brokers, dlq, schema=dead.schema, end="latest").collect()
    assert sorted(back.to_pylist(), key=lambda r: (r["partition"], r["offset"])) == want
    # and they are the bad records as produced
    by_offset = {(i % 2, i // 2): r for i, r in enumerate(recs)}
    for r in want:
        p, value, extra = by_offset[(r["partition"], r["offset"])]
        assert r["value"] == value and r["key"] == extra.get("key")
        assert r["headers"] == [{"key": k, "value": v} for k, v in extra.get("headers", [])]
