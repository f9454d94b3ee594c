"""Avro through a schema registry (Confluent's wire format: a 0 byte, the 4-byte schema
id, the datum) against a real broker. The registry is a minimal in-test server of the
REST endpoints riverbed uses (GET /schemas/ids/{id}, GET /subjects/{s}/versions/latest,
POST /subjects/{s}/versions), kept as Confluent's Schema Registry keeps them; records
are encoded by fastavro, an independent Avro implementation."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb

fastavro = pytest.importorskip("fastavro")
pytest.importorskip("confluent_kafka")
from test_kafka import brokers, produce, topic  # noqa: E402, F401


class Registry:
    """Subjects, versions and ids as the Schema Registry keeps them: an id per distinct
    schema, registering a schema a subject already has returns its id."""

    def __init__(self) -> None:
        self.schemas: list[str] = []  # id - 1 -> schema text
        self.subjects: dict[str, list[int]] = {}
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.auth: str | None = None  # "user:password": requests without it get HTTP 401

    def register(self, subject: str, schema: Any) -> int:
        text = schema if isinstance(schema, str) else json.dumps(schema)
        canon = json.dumps(json.loads(text), sort_keys=True)
        with self.lock:
            ids = [i for i, s in enumerate(self.schemas, 1) if json.dumps(json.loads(s), sort_keys=True) == canon]
            if ids:
                sid = ids[0]
            else:
                self.schemas.append(text)
                sid = len(self.schemas)
            versions = self.subjects.setdefault(subject, [])
            if sid not in versions:
                versions.append(sid)
            return sid

    def serve(self) -> tuple[ThreadingHTTPServer, str]:
        reg = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def reply(self, code: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def denied(self) -> bool:
                import base64

                want = None if reg.auth is None else "Basic " + base64.b64encode(reg.auth.encode()).decode()
                if want is not None and self.headers.get("Authorization") != want:
                    self.reply(401, {"error_code": 401, "message": "Unauthorized"})
                    return True
                return False

            def do_GET(self) -> None:  # noqa: N802
                reg.requests.append("GET " + self.path)
                if self.denied():
                    return
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[:2] == ["schemas", "ids"] and parts[2].isdigit():
                    sid = int(parts[2])
                    if 1 <= sid <= len(reg.schemas):
                        return self.reply(200, {"schema": reg.schemas[sid - 1]})
                    return self.reply(404, {"error_code": 40403, "message": "Schema not found"})
                if len(parts) == 4 and parts[0] == "subjects" and parts[2:] == ["versions", "latest"]:
                    versions = reg.subjects.get(parts[1])
                    if not versions:
                        return self.reply(404, {"error_code": 40401, "message": "Subject not found"})
                    sid = versions[-1]
                    return self.reply(200, {"subject": parts[1], "version": len(versions), "id": sid,
                                            "schema": reg.schemas[sid - 1]})
                self.reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

            def do_POST(self) -> None:  # noqa: N802
                reg.requests.append("POST " + self.path)
                if self.denied():
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                parts = self.path.strip("/").split("/")
                if len(parts) == 3 and parts[0] == "subjects" and parts[2] == "versions":
                    fastavro.parse_schema(json.loads(body["schema"]))  # 422 in the real one
                    return self.reply(200, {"id": reg.register(parts[1], body["schema"])})
                self.reply(404, {"error_code": 404, "message": "HTTP 404 Not Found"})

        srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        return srv, f"http://127.0.0.1:{srv.server_address[1]}"


@pytest.fixture
def registry():
    reg = Registry()
    srv, url = reg.serve()
    reg.url = url  # type: ignore[attr-defined]
    yield reg
    srv.shutdown()
    srv.server_close()


V1 = {"type": "record", "name": "User", "fields": [
    {"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "age", "type": "int"}]}
V2 = {"type": "record", "name": "User", "fields": [
    {"name": "id", "type": "long"}, {"name": "name", "type": "string"}, {"name": "age", "type": "long"},
    {"name": "score", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 6, "scale": 2}],
     "default": None}]}


def wire(sid: int, schema: dict, doc: dict) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, fastavro.parse_schema(schema), doc)
    return b"\x00" + sid.to_bytes(4, "big") + buf.getvalue()


def test_read_several_schema_versions_through_the_registry(brokers, topic, registry):  # noqa: F811
    from decimal import Decimal

    t = topic(2)
    id1 = registry.register(f"{t}-value", V1)
    id2 = registry.register(f"{t}-value", V2)
    assert (id1, id2) == (1, 2)
    docs = []
    for i in range(40):
        if i % 3 == 0:
            d = {"id": i, "name": f"n{i}", "age": 20 + i}
            docs.append((wire(id1, V1, d), {**d, "score": None}))
        else:
            d = {"id": i, "name": f"n{i}", "age": 2**40 + i, "score": None if i % 5 == 0 else Decimal(i) / 4}
            docs.append((wire(id2, V2, d), d))
    produce(brokers, t, [(i % 2, v, {}) for i, (v, _) in enumerate(docs)])
    # Without schema=: the columns of the subject's latest schema (v2); v1 records have
    # no score (null) and their int age is promoted to long.
    s = rb.read_kafka(brokers, t, format="avro", schema_registry=registry.url, end="latest")
    assert s.schema == pa.schema([pa.field("id", pa.int64(), nullable=False),
                                  pa.field("name", pa.string(), nullable=False),
                                  pa.field("age", pa.int64(), nullable=False), ("score", pa.decimal128(6, 2))])
    got = s.collect().sort_by("id").to_pylist()
    assert got == [d for _, d in docs]
    # Each schema is fetched once, however many records name it.
    assert sorted(r for r in registry.requests if r.startswith("GET /schemas")) == ["GET /schemas/ids/1",
                                                                                 "GET /schemas/ids/2"]
    # A reader schema given: v2 records are read into v1's columns (score dropped, age long
    # in v2 but the reader wants int: refused for those records, as Avro's resolution does).
    v1long = {**V1, "fields": [*V1["fields"][:2], {"name": "age", "type": "long"}]}
    got = rb.read_kafka(brokers, t, format="avro", schema=v1long, schema_registry=registry.url,
                        end="latest").collect().sort_by("id").to_pylist()
    assert got == [{"id": d["id"], "name": d["name"], "age": d["age"]} for _, d in docs]
    s = rb.read_kafka(brokers, t, format="avro", schema=V1, schema_registry=registry.url, end="latest",
                      on_bad_record="dead_letter")
    rows, dead = rb.collect_all([s, s.dead_letters()])
    assert sorted(rows["id"].to_pylist()) == [i for i in range(40) if i % 3 == 0]
    assert dead.num_rows == 40 - 14
    assert all("the writer schema (id 2) cannot be read as the reader's: "
               "field \"age\": long in the writer's schema, int in the reader's" in e
               for e in dead["error"].to_pylist())


def test_records_not_in_the_wire_format_or_of_unknown_ids_are_bad(brokers, topic, registry):  # noqa: F811
    t = topic(1)
    sid = registry.register(f"{t}-value", V1)
    good = wire(sid, V1, {"id": 1, "name": "a", "age": 3})
    values = [good, good[5:], b"\x00\x00\x00\x00\x63" + good[5:], b"\x00\x00", good]
    produce(brokers, t, [(0, v, {}) for v in values])
    s = rb.read_kafka(brokers, t, format="avro", schema_registry=registry.url, end="latest",
                      on_bad_record="dead_letter")
    rows, dead = rb.collect_all([s, s.dead_letters()])
    assert rows["id"].to_pylist() == [1, 1]
    assert dead["offset"].to_pylist() == [1, 2, 3]
    errors = dead["error"].to_pylist()
    assert "wire format" in errors[0] and "schema id 99" in errors[1] and "wire format" in errors[2]
    with pytest.raises(rb.DataError, match=f'topic "{t}" partition 0 offset 1: .*wire format'):
        rb.read_kafka(brokers, t, format="avro", schema_registry=registry.url, end="latest").collect()


def test_registry_errors(brokers, topic, registry):  # noqa: F811
    t = topic(1)
    with pytest.raises(rb.RiverbedError, match=f'no subject "{t}-value".*schema='):
        rb.read_kafka(brokers, t, format="avro", schema_registry=registry.url, end="latest").explain()
    with pytest.raises(ValueError, match="schema_registry is for format='avro'"):
        rb.read_kafka(brokers, t, schema_registry=registry.url)
    with pytest.raises(ValueError, match="URL of a schema registry"):
        rb.read_kafka(brokers, t, format="avro", schema_registry="localhost:8081")
    # An unreachable registry fails the job (it is not the records' fault).
    produce(brokers, t, [(0, wire(1, V1, {"id": 1, "name": "a", "age": 3}), {})])
    srv, url = Registry().serve()
    srv.shutdown()
    srv.server_close()
    with pytest.raises(rb.RiverbedError, match="schema registry http://127.0.0.1:[0-9]+"):
        rb.read_kafka(brokers, t, format="avro", schema=V1, schema_registry=url, end="latest").collect()


def rows_table() -> pa.Table:
    from decimal import Decimal

    n = 30
    return pa.table({
        "id": pa.array(range(n), pa.int64()),
        "small": pa.array([i - 15 for i in range(n)], pa.int16()),
        "name": pa.array([None if i % 4 == 0 else f"n{i}" for i in range(n)], pa.string()),
        "x": pa.array([i / 3 for i in range(n)], pa.float64()),
        "ok": pa.array([i % 2 == 0 for i in range(n)]),
        "price": pa.array([Decimal(i * 37 - 500) / 100 for i in range(n)], pa.decimal128(9, 2)),
        "ts": pa.array([1_700_000_000_000 + i for i in range(n)], pa.timestamp("ms", "UTC")),
        "tags": pa.array([[f"t{j}" for j in range(i % 3)] for i in range(n)], pa.list_(pa.string())),
        "geo": pa.array([None if i % 5 == 0 else {"lat": i / 2, "lon": -i / 2} for i in range(n)],
                        pa.struct([("lat", pa.float64()), ("lon", pa.float64())])),
    })


# The Avro schema the columns above imply (docs/kafka.md), written out by hand.
ROW_SCHEMA = {"type": "record", "name": "row", "fields": [
    {"name": "id", "type": ["null", "long"]}, {"name": "small", "type": ["null", "int"]},
    {"name": "name", "type": ["null", "string"]}, {"name": "x", "type": ["null", "double"]},
    {"name": "ok", "type": ["null", "boolean"]},
    {"name": "price", "type": ["null", {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}]},
    {"name": "ts", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
    {"name": "tags", "type": ["null", {"type": "array", "items": ["null", "string"]}]},
    {"name": "geo", "type": ["null", {"type": "record", "name": "row_geo", "fields": [
        {"name": "lat", "type": ["null", "double"]}, {"name": "lon", "type": ["null", "double"]}]}]}]}


def test_write_avro_plain_and_through_the_registry(brokers, topic, registry):  # noqa: F811
    from test_kafka import consume

    table = rows_table()
    want = table.to_pylist()
    parsed = fastavro.parse_schema(ROW_SCHEMA)
    # Plain Avro: fastavro reads every value with the schema written out by hand.
    t = topic(2)
    rb.from_arrow(table).write_kafka(brokers, t, format="avro", key="id")
    got = [fastavro.schemaless_reader(io.BytesIO(m.value()), parsed, None) for m in consume(brokers, t)]
    assert sorted(got, key=lambda r: r["id"]) == want
    # Through the registry: the schema is registered under <topic>-value, each value is
    # 0, the id, the datum; writing again finds the same id.
    t2 = topic(2)
    for _ in range(2):
        rb.from_arrow(table).write_kafka(brokers, t2, format="avro", schema_registry=registry.url,
                                         delivery_guarantee="exactly-once", transactional_id_prefix=f"av-{t2}-{_}")
    assert len(registry.subjects[f"{t2}-value"]) == 1
    sid = registry.subjects[f"{t2}-value"][0]
    assert fastavro.parse_schema(json.loads(registry.schemas[sid - 1])) == parsed
    msgs = consume(brokers, t2)
    assert len(msgs) == 60 and all(m.value()[:5] == b"\x00" + sid.to_bytes(4, "big") for m in msgs)
    got = [fastavro.schemaless_reader(io.BytesIO(m.value()[5:]), parsed, None) for m in msgs]
    assert sorted(got, key=lambda r: r["id"]) == sorted(want + want, key=lambda r: r["id"])
    # And read_kafka reads it back through the registry.
    back = rb.read_kafka(brokers, t2, format="avro", schema_registry=registry.url, end="latest").collect()
    assert sorted(back.to_pylist(), key=lambda r: r["id"]) == sorted(want + want, key=lambda r: r["id"])
    with pytest.raises(ValueError, match="schema_registry is for format='avro'"):
        rb.from_arrow(table).write_kafka(brokers, t2, schema_registry=registry.url)
    with pytest.raises(rb.RiverbedError, match=r'column "d": .*no Avro form'):
        rb.from_pydict({"d": pa.array([1], pa.duration("s"))}).write_kafka(brokers, t2, format="avro")


# Nested schema resolution: the writer's schema (registered) against a reader's that adds
# fields with defaults (a record default too), drops and renames (alias) fields, promotes
# int to long and float to double at depth, string to bytes, and gives an enum a default
# for a symbol it lacks. The oracle is fastavro's own resolution (schemaless_reader with a
# reader schema).
W_NESTED = {"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
        {"name": "name", "type": "string"}, {"name": "age", "type": "int"},
        {"name": "tags", "type": {"type": "array", "items": "float"}},
        {"name": "extra", "type": "string"}]}},
    {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
        {"name": "sku", "type": "string"}, {"name": "qty", "type": "int"},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B", "C"]}}]}}},
    {"name": "attrs", "type": {"type": "map", "values": "int"}},
    {"name": "note", "type": ["null", "int"]},
    {"name": "payload", "type": "string"}]}
R_NESTED = {"type": "record", "name": "Order", "fields": [
    {"name": "id", "type": "long"},
    {"name": "customer", "type": {"type": "record", "name": "Customer", "fields": [
        {"name": "name", "type": "string"}, {"name": "age", "type": "long"},
        {"name": "tags", "type": {"type": "array", "items": "double"}},
        {"name": "vip", "type": "boolean", "default": False},
        {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
            {"name": "city", "type": "string"}, {"name": "zip", "type": ["null", "string"]}]},
         "default": {"city": "unknown", "zip": None}}]}},
    {"name": "items", "type": {"type": "array", "items": {"type": "record", "name": "Item", "fields": [
        {"name": "sku", "type": "string"}, {"name": "quantity", "type": "long", "aliases": ["qty"]},
        {"name": "kind", "type": {"type": "enum", "name": "Kind", "symbols": ["A", "B"], "default": "A"}},
        {"name": "price", "type": "double", "default": 1.5}]}}},
    {"name": "attrs", "type": {"type": "map", "values": "long"}},
    {"name": "note", "type": ["null", "long"]},
    {"name": "payload", "type": "bytes"},
    {"name": "version", "type": "int", "default": 3}]}


def nested_doc(i: int) -> dict[str, Any]:
    return {"id": i, "customer": {"name": f"c{i}", "age": 20 + i, "tags": [i / 4, -1.5][: i % 3],
                                  "extra": "x" * i},
            "items": [{"sku": f"s{i}-{j}", "qty": j * 1000 + i, "kind": "ABC"[(i + j) % 3]} for j in range(i % 4)],
            "attrs": {f"k{j}": i * j for j in range(i % 3)}, "note": None if i % 2 else i * 7,
            "payload": f"p{i}é"}


def test_nested_schema_resolution_equals_fastavro(brokers, topic, registry):  # noqa: F811
    t = topic(2)
    sid = registry.register(f"{t}-value", W_NESTED)
    values = [wire(sid, W_NESTED, nested_doc(i)) for i in range(30)]
    produce(brokers, t, [(i % 2, v, {}) for i, v in enumerate(values)])
    got = (rb.read_kafka(brokers, t, format="avro", schema=R_NESTED, schema_registry=registry.url, end="latest")
           .collect().sort_by("id").to_pylist())
    w, r = fastavro.parse_schema(W_NESTED), fastavro.parse_schema(R_NESTED)
    want = []
    for v in values:
        rec = fastavro.schemaless_reader(io.BytesIO(v[5:]), w, r)
        rec["attrs"] = [{"key": k, "value": x} for k, x in rec["attrs"].items()]
        want.append(rec)
    assert got == want
    # The resolution did happen (not a copy of the writer's values): spot checks.
    assert got[2]["items"][0]["kind"] == "A" and nested_doc(2)["items"][0]["kind"] == "C"
    assert got[0]["customer"]["address"] == {"city": "unknown", "zip": None} and got[0]["version"] == 3
    assert got[7]["payload"] == "p7é".encode()


def test_nested_schema_resolution_refuses_what_it_cannot_read(brokers, topic, registry):  # noqa: F811
    t = topic(1)
    sid = registry.register(f"{t}-value", W_NESTED)
    produce(brokers, t, [(0, wire(sid, W_NESTED, nested_doc(i)), {}) for i in range(3)])
    bad_type = json.loads(json.dumps(R_NESTED))
    bad_type["fields"][1]["type"]["fields"][1]["type"] = "string"  # customer.age: int -> string
    no_default = json.loads(json.dumps(R_NESTED))
    no_default["fields"][2]["type"]["items"]["fields"].append({"name": "tax", "type": "double"})
    unknown_symbol = json.loads(json.dumps(R_NESTED))
    del unknown_symbol["fields"][2]["type"]["items"]["fields"][2]["type"]["default"]
    for reader, why in [(bad_type, 'field "customer.age": int in the writer\'s schema, string in the reader\'s'),
                        (no_default, 'field "items[].tax": not in the writer\'s schema, and the reader\'s field has '
                                     'no default'),
                        (unknown_symbol, 'field "items[].kind": enum symbol "C" is not one of the reader\'s')]:
        with pytest.raises(rb.DataError, match=f'topic "{t}" partition 0 offset [0-9]+: .*' + why.replace("[", r"\[")
                           .replace("]", r"\]").replace("(", r"\(").replace(")", r"\)")):
            rb.read_kafka(brokers, t, format="avro", schema=reader, schema_registry=registry.url,
                          end="latest").collect()


def test_write_avro_with_ones_own_schema_through_the_registry(brokers, topic, registry):  # noqa: F811
    from test_kafka import consume

    t = topic(1)
    mine = {"type": "record", "name": "User", "fields": [
        {"name": "id", "type": "long"}, {"name": "name", "type": "string"},
        {"name": "age", "type": ["null", "int"], "default": None}]}
    table = pa.table({"id": pa.array([1, 2], pa.int64()), "name": ["a", "b"]})
    rb.from_arrow(table).write_kafka(brokers, t, format="avro", schema=mine, schema_registry=registry.url)
    # The schema registered under <topic>-value is the user's, and each value names it.
    [sid] = registry.subjects[f"{t}-value"]
    assert json.loads(registry.schemas[sid - 1]) == mine
    parsed = fastavro.parse_schema(mine)
    got = []
    for m in consume(brokers, t):
        assert m.value()[:5] == b"\x00" + sid.to_bytes(4, "big")
        got.append(fastavro.schemaless_reader(io.BytesIO(m.value()[5:]), parsed, None))
    assert sorted(got, key=lambda r: r["id"]) == [{"id": 1, "name": "a", "age": None},
                                                  {"id": 2, "name": "b", "age": None}]


def test_subject_name_strategies_and_basic_auth(brokers, topic, registry):  # noqa: F811
    t = topic(1)
    mine = {"type": "record", "name": "Click", "namespace": "web", "fields": [{"name": "id", "type": "long"}]}
    table = pa.table({"id": pa.array([1, 2], pa.int64())})
    registry.auth = "svc:s3cr:et"
    authed = registry.url.replace("http://", "http://svc:s3cr%3Aet@")
    # Without credentials the registry refuses, and the job says so, without any password.
    with pytest.raises(rb.RiverbedError, match="HTTP 401") as e:
        rb.from_arrow(table).write_kafka(brokers, t, format="avro", schema=mine, schema_registry=registry.url)
    assert "s3cr" not in str(e.value)
    for strategy, subject in [(None, f"{t}-value"), ("topic", f"{t}-value"), ("record", "web.Click"),
                              ("topic_record", f"{t}-web.Click")]:
        rb.from_arrow(table).write_kafka(brokers, t, format="avro", schema=mine, schema_registry=authed,
                                         subject_name_strategy=strategy)  # type: ignore[arg-type]
        assert registry.subjects.get(subject) == [1], (strategy, registry.subjects)
    # The columns' own schema (record "row") under the record strategies.
    rb.from_arrow(table).write_kafka(brokers, t, format="avro", schema_registry=authed,
                                     subject_name_strategy="record")
    assert "row" in registry.subjects
    # Every record names the one schema id, and reads back through the authenticated registry.
    got = rb.read_kafka(brokers, t, format="avro", schema=mine, schema_registry=authed, end="latest").collect()
    assert sorted(got["id"].to_pylist()) == [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]
    with pytest.raises(ValueError, match="subject_name_strategy must be"):
        rb.from_arrow(table).write_kafka(brokers, t, format="avro", schema_registry=authed,
                                         subject_name_strategy="TopicName")  # type: ignore[arg-type]
