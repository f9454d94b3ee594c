"""read_kafka(format="avro") against a real broker: records encoded by fastavro (an
independent Avro implementation) are read into Arrow with the types the Avro schema
implies, and malformed ones go to the dead letters naming topic, partition and offset."""

from __future__ import annotations

import datetime as dt
import io
import json

import pyarrow as pa
import pytest

import riverbed as rb

fastavro = pytest.importorskip("fastavro")
pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401

UTC = dt.timezone.utc
SCHEMA = {
    "type": "record", "name": "Click", "fields": [
        {"name": "user", "type": "long"},
        {"name": "page", "type": ["null", "string"]},
        {"name": "dwell", "type": "double"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["click", "view", "buy"]}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "props", "type": {"type": "map", "values": "int"}},
        {"name": "geo", "type": ["null", {"type": "record", "name": "Geo", "fields": [
            {"name": "lat", "type": "float"}, {"name": "lon", "type": "float"}]}]},
        {"name": "blob", "type": "bytes"},
    ]}
PARSED = fastavro.parse_schema(SCHEMA)
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)


def encode(doc: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, PARSED, doc)
    return buf.getvalue()


def doc(i: int) -> dict:
    return {"user": i, "page": None if i % 4 == 0 else f"/p/{i}", "dwell": i / 8,
            "kind": ["click", "view", "buy"][i % 3], "ts": T0 + dt.timedelta(seconds=i),
            "day": (T0 + dt.timedelta(days=i % 5)).date(), "tags": ["t"] * (i % 3),
            "props": {"a": i, "b": -i} if i % 2 else {},
            "geo": None if i % 5 == 0 else {"lat": 1.5, "lon": -2.25}, "blob": bytes([i % 256]) * (i % 4)}


def test_avro_records_read_into_arrow(brokers, topic):  # noqa: F811
    t = topic(2)
    docs = [doc(i) for i in range(200)]
    produce(brokers, t, [(i % 2, encode(d), {}) for i, d in enumerate(docs)])
    s = rb.read_kafka(brokers, t, format="avro", schema=SCHEMA, end="latest")
    assert s.schema == pa.schema([
        pa.field("user", pa.int64(), nullable=False), ("page", pa.string()),
        pa.field("dwell", pa.float64(), nullable=False), pa.field("kind", pa.string(), nullable=False),
        pa.field("ts", pa.timestamp("ms", "UTC"), nullable=False), pa.field("day", pa.date32(), nullable=False),
        pa.field("tags", pa.list_(pa.field("item", pa.string(), nullable=False)), nullable=False),
        pa.field("props", pa.list_(pa.struct([pa.field("key", pa.string(), nullable=False),
                                              pa.field("value", pa.int32(), nullable=False)])),
                 nullable=False),
        ("geo", pa.struct([pa.field("lat", pa.float32(), nullable=False),
                           pa.field("lon", pa.float32(), nullable=False)])),
        pa.field("blob", pa.binary(), nullable=False)])
    got = sorted(s.collect().to_pylist(), key=lambda r: r["user"])
    want = []
    for d in docs:
        w = dict(d)
        w["props"] = [{"key": k, "value": v} for k, v in d["props"].items()]
        want.append(w)
    assert got == want
    # The schema may be given as JSON text too.
    assert rb.read_kafka(brokers, t, format="avro", schema=json.dumps(SCHEMA), end="latest").collect().num_rows == 200


def test_bad_avro_records_go_to_the_dead_letters(brokers, topic):  # noqa: F811
    t = topic(1)
    good = encode(doc(1))
    values = [good, good[:-2], good + b"\x00", b"", encode(doc(2)), None]
    produce(brokers, t, [(0, v, {}) for v in values])
    s = rb.read_kafka(brokers, t, format="avro", schema=SCHEMA, end="latest", on_bad_record="dead_letter")
    rows, dead = rb.collect_all([s, s.dead_letters()])
    assert rows["user"].to_pylist() == [1, 2]
    assert dead["offset"].to_pylist() == [1, 2, 3, 5]
    assert set(dead["topic"].to_pylist()) == {t} and set(dead["partition"].to_pylist()) == {0}
    assert dead["value"].to_pylist() == [values[1], values[2], values[3], None]
    errors = dead["error"].to_pylist()
    assert "bytes after the end" in errors[1] and "tombstone" in errors[3]
    with pytest.raises(rb.DataError, match=f'topic "{t}" partition 0 offset 1'):
        rb.read_kafka(brokers, t, format="avro", schema=SCHEMA, end="latest").collect()


DEC_SCHEMA = {
    "type": "record", "name": "Trade", "fields": [
        {"name": "id", "type": "int"},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 4}},
        {"name": "big", "type": ["null", {"type": "fixed", "name": "Big", "size": 16, "logicalType": "decimal",
                                          "precision": 38, "scale": 10}]},
        {"name": "v", "type": ["null", "long", "string",
                               {"type": "record", "name": "Pt", "fields": [{"name": "x", "type": "int"}]},
                               {"type": "array", "items": "double"},
                               "boolean"]},
        {"name": "w", "type": ["string", {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}]},
        {"name": "one", "type": ["int"]},
    ]}


def test_avro_decimals_and_unions_of_several_types(brokers, topic):  # noqa: F811
    from decimal import Decimal

    parsed = fastavro.parse_schema(DEC_SCHEMA)
    prices = [Decimal("0"), Decimal("1.5"), Decimal("-0.0001"), Decimal("99999999999999.9999"),
              Decimal("-99999999999999.9999"), Decimal("123.4567"), Decimal("-128"), Decimal("255.0255")]
    bigs = [None, Decimal("9999999999999999999999999999.9999999999"), Decimal("-0.0000000001"),
            Decimal("-9999999999999999999999999999.9999999999"), Decimal("1")]
    # Each branch of the union, written by fastavro with the branch named explicitly.
    vs: list = [None, ("long", -(2**63)), ("string", "x"), ("Pt", {"x": 5}), ("array", [1.5, -2.0]),
                ("boolean", True), ("long", 7)]
    ws: list = [("string", "s"), ("Side", "SELL")]
    docs = [{"id": i, "price": prices[i % len(prices)], "big": bigs[i % len(bigs)], "v": vs[i % len(vs)],
             "w": ws[i % 2], "one": i} for i in range(60)]
    t = topic(2)
    bufs = []
    for d in docs:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, d)
        bufs.append(buf.getvalue())
    produce(brokers, t, [(i % 2, b, {}) for i, b in enumerate(bufs)])
    s = rb.read_kafka(brokers, t, format="avro", schema=DEC_SCHEMA, end="latest")
    branches = pa.struct([("long", pa.int64()), ("string", pa.string()),
                          ("Pt", pa.struct([pa.field("x", pa.int32(), nullable=False)])),
                          ("array", pa.list_(pa.field("item", pa.float64(), nullable=False))),
                          ("boolean", pa.bool_())])
    assert s.schema == pa.schema([
        pa.field("id", pa.int32(), nullable=False), pa.field("price", pa.decimal128(18, 4), nullable=False),
        ("big", pa.decimal128(38, 10)), ("v", branches),
        pa.field("w", pa.struct([("string", pa.string()), ("Side", pa.string())]), nullable=False),
        pa.field("one", pa.int32(), nullable=False)])
    got = s.collect().sort_by("id")
    names = ["long", "string", "Pt", "array", "boolean"]

    def union(v):  # noqa: ANN001, ANN202
        if v is None:
            return None
        return {n: (v[1] if n == v[0] else None) for n in names}

    want = [{"id": d["id"], "price": d["price"], "big": d["big"], "v": union(d["v"]),
             "w": {"string": d["w"][1] if d["w"][0] == "string" else None,
                   "Side": d["w"][1] if d["w"][0] == "Side" else None}, "one": d["one"]} for d in docs]
    assert got.to_pylist() == want
    # Exact: the decimals sum as fastavro's Decimals do.
    assert got["price"].to_pylist() == [d["price"] for d in docs]
    assert sum(got["price"].to_pylist()) == sum(d["price"] for d in docs)
    # A decimal datum wider than its precision is a bad record naming the field.
    wide = {**DEC_SCHEMA, "fields": [DEC_SCHEMA["fields"][0], {"name": "price", "type": "bytes"}]}
    t2 = topic(1)
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(wide), {"id": 1, "price": (10**18).to_bytes(8, "big")})
    narrow = {**DEC_SCHEMA, "fields": DEC_SCHEMA["fields"][:2]}
    produce(brokers, t2, [(0, buf.getvalue(), {})])
    with pytest.raises(rb.DataError, match=r'offset 0: field "price": decimal 1000000000000000000 .* precision 18'):
        rb.read_kafka(brokers, t2, format="avro", schema=narrow, end="latest").collect()


def test_avro_schema_errors(brokers):  # noqa: F811
    with pytest.raises(rb.RiverbedError, match="union of null only"):
        rb.read_kafka(brokers, "t", format="avro", end="latest", schema={
            "type": "record", "name": "R", "fields": [{"name": "u", "type": ["null"]}]}).explain()
    with pytest.raises(rb.RiverbedError, match=r"decimal\(40, 2\) is not supported"):
        rb.read_kafka(brokers, "t", format="avro", end="latest", schema={
            "type": "record", "name": "R", "fields": [{"name": "d", "type": {
                "type": "bytes", "logicalType": "decimal", "precision": 40, "scale": 2}}]}).explain()
    with pytest.raises(rb.RiverbedError, match="must be a record"):
        rb.read_kafka(brokers, "t", format="avro", schema='"long"', end="latest").explain()
    with pytest.raises(TypeError, match="Avro schema"):
        rb.read_kafka(brokers, "t", format="avro", end="latest")


# write_kafka(format="avro", schema=...): rows written as a writer schema of the user's,
# read back with fastavro (the oracle) and compared with the rows written.
USER_SCHEMA = {"type": "record", "name": "Trade", "namespace": "com.example", "fields": [
    {"name": "id", "type": "long"},
    {"name": "side", "type": {"type": "enum", "name": "Side", "symbols": ["BUY", "SELL"]}},
    {"name": "qty", "type": "int"},
    {"name": "price", "type": {"type": "fixed", "name": "Price", "size": 8, "logicalType": "decimal",
                               "precision": 12, "scale": 3}},
    {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "trader", "type": {"type": "record", "name": "Trader", "fields": [
        {"name": "name", "type": "string"}, {"name": "desk", "type": ["null", "string"]},
        {"name": "region", "type": "string", "default": "emea"}]}},
    {"name": "fills", "type": {"type": "array", "items": "double"}},
    {"name": "tags", "type": {"type": "map", "values": "long"}},
    {"name": "ref", "type": ["null", "long", "string"]},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "version", "type": "int", "default": 2}]}


def user_rows(n: int) -> pa.Table:
    from decimal import Decimal

    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "side": pa.array(["BUY" if i % 3 else "SELL" for i in range(n)]),
        "qty": pa.array([i * 10 - 50 for i in range(n)], pa.int16()),
        "price": pa.array([Decimal(i * 1234 - 5000) / 1000 for i in range(n)], pa.decimal128(10, 3)),
        "ts": pa.array([T0 + dt.timedelta(milliseconds=i) for i in range(n)], pa.timestamp("ms", "UTC")),
        "trader": pa.array([{"name": f"t{i}", "desk": None if i % 2 else f"d{i}"} for i in range(n)],
                           pa.struct([("name", pa.string()), ("desk", pa.string())])),
        "fills": pa.array([[i / 2, -1.25][: i % 3] for i in range(n)], pa.list_(pa.float32())),
        "tags": pa.array([[(f"k{j}", i * j) for j in range(i % 3)] for i in range(n)],
                         pa.map_(pa.string(), pa.int64())),
        "ref": pa.array([None if i % 3 == 0 else {"long": i, "string": None} if i % 3 == 1
                         else {"long": None, "string": f"r{i}"} for i in range(n)],
                        pa.struct([("long", pa.int64()), ("string", pa.string())])),
    })


def test_write_avro_with_a_schema_of_ones_own(brokers, topic):  # noqa: F811
    t = topic(2)
    rows = user_rows(40)
    out = rb.from_arrow(rows).write_kafka(brokers, t, format="avro", schema=USER_SCHEMA, key="id")
    assert sum(out["rows"].to_pylist()) == 40
    parsed = fastavro.parse_schema(USER_SCHEMA)
    got = sorted((fastavro.schemaless_reader(io.BytesIO(m.value()), parsed, None) for m in consume(brokers, t)),
                 key=lambda r: r["id"])
    want = []
    for r in rows.to_pylist():
        r["trader"] = {**r["trader"], "region": "emea"}
        r["tags"] = dict(r["tags"])
        ref = r["ref"]
        r["ref"] = None if ref is None else ref["long"] if ref["long"] is not None else ref["string"]
        r["note"], r["version"] = None, 2
        want.append(r)
    assert got == want
    # Read back by riverbed with the same schema: the columns it was written from.
    back = rb.read_kafka(brokers, t, format="avro", schema=USER_SCHEMA, end="latest").collect().sort_by("id")
    assert back.select(["id", "side", "price", "ts", "fills"]).to_pylist() == \
        rows.select(["id", "side", "price", "ts", "fills"]).to_pylist()


def test_write_avro_schema_errors(brokers, topic):  # noqa: F811
    t = topic(1)
    rows = user_rows(4)
    src = rb.from_arrow(rows)
    wrong = json.loads(json.dumps(USER_SCHEMA))
    wrong["fields"][2]["type"] = "string"  # qty: int16 column as string
    with pytest.raises(rb.RiverbedError, match=r'column "qty": int16 cannot be written as Avro string'):
        src.write_kafka(brokers, t, format="avro", schema=wrong)
    with pytest.raises(rb.RiverbedError, match=r'column "extra" is not a field of the Avro record com.example.Trade'):
        rb.from_arrow(rows.append_column("extra", pa.array([1, 2, 3, 4]))).write_kafka(
            brokers, t, format="avro", schema=USER_SCHEMA)
    with pytest.raises(rb.RiverbedError, match=r'field "qty" of the Avro schema has no column of its name and no '
                                               r'default'):
        rb.from_arrow(rows.drop_columns(["qty"])).write_kafka(brokers, t, format="avro", schema=USER_SCHEMA)
    bad_side = rows.set_column(1, "side", pa.array(["BUY", "HOLD", "SELL", "BUY"]))
    with pytest.raises(rb.DataError, match=r'column "side" row 1: "HOLD" is not a symbol of the Avro enum '
                                           r'com.example.Side'):
        rb.from_arrow(bad_side).write_kafka(brokers, t, format="avro", schema=USER_SCHEMA)
    with pytest.raises(ValueError, match="schema= .* with format='avro'"):
        src.write_kafka(brokers, t, schema=USER_SCHEMA)


def test_avro_read_with_a_writer_schema_resolved_into_the_reader_schema(brokers, topic):  # noqa: F811
    # Records written (by fastavro) with an older schema, read as a newer one without a
    # registry: Avro's resolution by field name, defaults, promotions (plain Python oracle).
    writer = {"type": "record", "name": "Reading", "fields": [
        {"name": "sensor", "type": "int"}, {"name": "note", "type": "string"},
        {"name": "value", "type": ["null", "float"]},
        {"name": "unit", "type": {"type": "enum", "name": "Unit", "symbols": ["C", "F"]}}]}
    reader = {"type": "record", "name": "Reading", "fields": [
        {"name": "sensor", "type": "long"}, {"name": "value", "type": ["null", "double"]},
        {"name": "unit", "type": {"type": "enum", "name": "Unit", "symbols": ["C", "F", "K"]}},
        {"name": "site", "type": "string", "default": "unknown"}]}
    parsed = fastavro.parse_schema(writer)
    docs = [{"sensor": i, "note": f"n{i}", "value": None if i % 3 == 0 else i / 4, "unit": "CF"[i % 2]}
            for i in range(50)]

    def enc(d: dict) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, parsed, d)
        return buf.getvalue()

    t = topic(2)
    produce(brokers, t, [(i % 2, enc(d), {}) for i, d in enumerate(docs)])
    s = rb.read_kafka(brokers, t, format="avro", schema=reader, writer_schema=writer, end="latest")
    assert s.schema == pa.schema([pa.field("sensor", pa.int64(), nullable=False), ("value", pa.float64()),
                                  pa.field("unit", pa.string(), nullable=False),
                                  pa.field("site", pa.string(), nullable=False)])
    got = sorted(s.collect().to_pylist(), key=lambda r: r["sensor"])
    assert got == [{"sensor": d["sensor"], "value": d["value"], "unit": d["unit"], "site": "unknown"} for d in docs]
    # Without the writer schema the same bytes are not the reader's records.
    with pytest.raises(rb.RiverbedError):
        rb.read_kafka(brokers, t, format="avro", schema=reader, end="latest").collect()
    # A writer schema the reader's cannot read fails the plan, naming the field.
    bad = dict(writer, fields=[{"name": "sensor", "type": "string"}])
    with pytest.raises(rb.RiverbedError, match="sensor"):
        rb.read_kafka(brokers, t, format="avro", schema=reader, writer_schema=bad, end="latest").collect()
    with pytest.raises(ValueError, match="writer_schema is for format='avro'"):
        rb.read_kafka(brokers, t, format="json", writer_schema=writer)
