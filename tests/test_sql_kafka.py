"""SQL over Kafka against a real broker: kafka tables in CREATE TABLE (Flink's Kafka
connector options), INSERT INTO kafka and upsert-kafka tables, bounded and continuous, and
event-time temporal joins (FOR SYSTEM_TIME AS OF).

Records are produced and read back with confluent-kafka (librdkafka), an independent
client; every answer is compared with DuckDB's over the same records.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb

ck = pytest.importorskip("confluent_kafka")
duckdb = pytest.importorskip("duckdb")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, tzinfo=UTC)
CURRENCIES = ["EUR", "USD", "JPY", "GBP"]


def _sqlts(t: dt.datetime) -> str:
    """A timestamp as Flink's JSON format writes TIMESTAMP(3): SQL style, no zone."""
    return t.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="milliseconds")


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 6)
    if isinstance(v, dt.datetime) and v.tzinfo is not None:
        return v.astimezone(UTC).replace(tzinfo=None)
    return v


def _rows(rows: list[tuple[Any, ...]] | pa.Table) -> list[tuple[Any, ...]]:
    if isinstance(rows, pa.Table):
        rows = [tuple(r.values()) for r in rows.to_pylist()]
    out = [tuple(_norm(v) for v in r) for r in rows]
    return sorted(out, key=lambda r: tuple((v is None, v if v is not None else 0) for v in r))


def _orders(n: int, parts: int, seed: int = 1) -> list[dict[str, Any]]:
    """n orders with their partition and (record) timestamp; ids are unique."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = T0 + dt.timedelta(milliseconds=1000 * i + rnd.randrange(0, 900))
        out.append({"id": i, "currency": rnd.choice(CURRENCIES), "amount": round(rnd.uniform(0, 100), 2),
                    "order_time": t, "part": i % parts, "kts": T0 + dt.timedelta(seconds=i)})
    return out


def _produce_orders(servers: str, t: str, orders: list[dict[str, Any]]) -> None:
    """Produce the orders (JSON values) and give each its offset, as the broker assigns
    them: in order within a partition, from 0."""
    produce(servers, t, [(o["part"], json.dumps({"id": o["id"], "currency": o["currency"], "amount": o["amount"],
                                                 "order_time": _sqlts(o["order_time"])}).encode(),
                          {"timestamp": o["kts"]}) for o in orders])
    nxt: dict[int, int] = {}
    for o in orders:
        o["offset"] = nxt.get(o["part"], 0)
        nxt[o["part"]] = o["offset"] + 1


def _orders_ddl(servers: str, t: str, *, bounded: bool, name: str = "orders") -> str:
    end = ",\n  'scan.bounded.mode' = 'latest-offset'" if bounded else ""
    return f"""CREATE TABLE {name} (
  id BIGINT,
  currency STRING,
  amount DOUBLE,
  order_time TIMESTAMP(3),
  `partition` INT METADATA VIRTUAL,
  `offset` BIGINT METADATA VIRTUAL,
  kts TIMESTAMP_LTZ(3) METADATA FROM 'timestamp' VIRTUAL,
  WATERMARK FOR order_time AS order_time - INTERVAL '1' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = '{t}',
  'properties.bootstrap.servers' = '{servers}',
  'scan.startup.mode' = 'earliest-offset'{end},
  'format' = 'json'
);
"""


def _duck_orders(orders: list[dict[str, Any]]) -> Any:
    """The orders as DuckDB sees them (the same columns as the kafka table)."""
    return pa.table({
        "id": [o["id"] for o in orders], "currency": [o["currency"] for o in orders],
        "amount": [o["amount"] for o in orders],
        "order_time": pa.array([o["order_time"].replace(tzinfo=None) for o in orders], pa.timestamp("ms")),
        "partition": pa.array([o["part"] for o in orders], pa.int32()),
        "offset": [o["offset"] for o in orders],
        "kts": pa.array([o["kts"].replace(tzinfo=None) for o in orders], pa.timestamp("ms"))})


def _compacted(servers: str, t: str, *, committed: bool = True) -> dict[bytes, Any]:
    """The topic as a compacted view: the last value of each key, tombstones removing it."""
    view: dict[bytes, Any] = {}
    for m in consume(servers, t, committed=committed):
        if m.value() is None:
            view.pop(m.key(), None)
        else:
            view[m.key()] = json.loads(m.value())
    return view


def _values_when(servers: str, t: str, n: int, *, committed: bool = True) -> list[tuple[Any, ...]]:
    """The JSON values of a topic as tuples, once it holds n records (or after 60 s)."""
    deadline = time.monotonic() + 60
    while True:
        got = [tuple(json.loads(m.value()).values()) for m in consume(servers, t, committed=committed)]
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.5)


# -- a kafka table as a source -------------------------------------------------------

@pytest.mark.parametrize("par", [1, 4])
def test_kafka_table_query_equals_duckdb(brokers, topic, par):  # noqa: F811
    """A bounded kafka table ('scan.bounded.mode' = 'latest-offset') with metadata columns
    (partition, offset, the record timestamp): a GROUP BY over it equals DuckDB's over the
    records produced, and the metadata columns are the broker's."""
    t = topic(3)
    orders = _orders(300, 3)
    _produce_orders(brokers, t, orders)
    q = ("SELECT currency, `partition`, COUNT(*) AS n, SUM(amount) AS total, MAX(`offset`) AS last_offset, "
         "MIN(kts) AS first_ts, MAX(order_time) AS last_time FROM orders WHERE amount > 10 "
         "GROUP BY currency, `partition`")
    env = rb.Environment(parallelism=par, batch_size=16 if par > 1 else 65536)
    got = env.sql(_orders_ddl(brokers, t, bounded=True) + q).collect()
    orders_t = _duck_orders(orders)  # noqa: F841 (read by DuckDB)
    want = duckdb.sql(q.replace("FROM orders", "FROM orders_t")).fetchall()
    assert got.num_rows == len(want) > 0
    assert _rows(got) == _rows(want)
    # the columns as declared: INT partition, BIGINT offset, TIMESTAMP_LTZ(3) timestamp
    every = rb.sql(_orders_ddl(brokers, t, bounded=True) + "SELECT * FROM orders").collect()
    assert every.schema.field("partition").type == pa.int32()
    assert every.schema.field("kts").type == pa.timestamp("ms", tz="UTC")
    assert _rows(every) == _rows(duckdb.sql("SELECT * FROM orders_t").fetchall())


def test_kafka_table_start_offsets_and_timestamp(brokers, topic):  # noqa: F811
    """'scan.startup.mode' = 'specific-offsets' and 'timestamp' start where Flink's do: the
    rows read equal DuckDB's over the records at or after those offsets (or timestamps)."""
    t = topic(2)
    orders = _orders(100, 2)
    _produce_orders(brokers, t, orders)
    orders_t = _duck_orders(orders)  # noqa: F841
    ddl = _orders_ddl(brokers, t, bounded=True).replace(
        "'scan.startup.mode' = 'earliest-offset'",
        "'scan.startup.mode' = 'specific-offsets', "
        "'scan.startup.specific-offsets' = 'partition:0,offset:10;partition:1,offset:30'")
    got = rb.sql(ddl + "SELECT id, `partition`, `offset` FROM orders").collect()
    want = duckdb.sql("SELECT id, partition, \"offset\" FROM orders_t WHERE (partition = 0 AND \"offset\" >= 10) "
                      "OR (partition = 1 AND \"offset\" >= 30)").fetchall()
    assert _rows(got) == _rows(want)
    ms = int((T0 + dt.timedelta(seconds=40)).timestamp() * 1000)
    ddl = _orders_ddl(brokers, t, bounded=True).replace(
        "'scan.startup.mode' = 'earliest-offset'",
        f"'scan.startup.mode' = 'timestamp', 'scan.startup.timestamp-millis' = '{ms}'")
    got = rb.sql(ddl + "SELECT id FROM orders").collect()
    want = duckdb.sql("SELECT id FROM orders_t WHERE kts >= TIMESTAMP '2026-03-01 00:00:40'").fetchall()
    assert _rows(got) == _rows(want)


def test_bad_options_name_the_option(brokers):  # noqa: F811
    base = ("CREATE TABLE k (v BIGINT) WITH ('connector' = 'kafka', 'topic' = 'x', "
            f"'properties.bootstrap.servers' = '{brokers}', 'format' = 'json'")
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column \d+: unknown option 'scan.startup.mod' for the "
                                           r"kafka connector; did you mean 'scan.startup.mode'\?"):
        rb.sql(base + ", 'scan.startup.mod' = 'latest-offset'); SELECT v FROM k")
    with pytest.raises(rb.PlanError, match=r"unknown Kafka client property 'isolation.levle'; "
                                           r"did you mean 'properties.isolation.level'\?"):
        rb.sql(base + ", 'properties.isolation.levle' = 'read_committed'); SELECT v FROM k")
    with pytest.raises(rb.PlanError, match=r"option 'scan.bounded.mode': takes 'unbounded', 'latest-offset', "
                                           r"'timestamp' or 'specific-offsets', got 'latest'"):
        rb.sql(base + ", 'scan.bounded.mode' = 'latest'); SELECT v FROM k")


# -- INSERT INTO ---------------------------------------------------------------------

def test_insert_into_kafka_reads_back_as_duckdb(brokers, topic):  # noqa: F811
    """INSERT INTO a kafka table (exactly-once, keyed by 'key.fields') from a bounded query:
    read back read_committed, the records are DuckDB's answer to the query, each keyed by
    its id; rb.sql returns the sink's summary, and the table reads back the same rows."""
    src, dst = topic(3), topic(2)
    orders = _orders(200, 3)
    _produce_orders(brokers, src, orders)
    sink = f"""CREATE TABLE big (id BIGINT, currency STRING, amount DOUBLE, order_time TIMESTAMP(3)) WITH (
  'connector' = 'kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{brokers}', 'format' = 'json',
  'key.fields' = 'id', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx-{dst}');
"""
    q = "SELECT id, UPPER(currency), amount * 2, order_time FROM orders WHERE amount > 50"
    summary = rb.sql(_orders_ddl(brokers, src, bounded=True) + sink + "INSERT INTO big " + q).collect()
    orders_t = _duck_orders(orders)  # noqa: F841
    want = duckdb.sql(q.replace("FROM orders", "FROM orders_t")).fetchall()
    assert sum(summary["rows"].to_pylist()) == len(want) > 0
    recs = consume(brokers, dst)
    got = []
    for m in recs:
        v = json.loads(m.value())
        assert m.key() == str(v["id"]).encode()
        got.append((v["id"], v["currency"], v["amount"], dt.datetime.fromisoformat(v["order_time"].replace("Z", ""))
                    .replace(tzinfo=None)))
    assert _rows(got) == _rows(want)
    # read back through SQL: a kafka table of the sink's topic
    back = rb.sql(sink.replace(f"'key.fields' = 'id', 'sink.delivery-guarantee' = 'exactly-once', "
                               f"'sink.transactional-id-prefix' = 'tx-{dst}'", "'scan.bounded.mode' = 'latest-offset'")
                  + "SELECT * FROM big").collect()
    assert _rows(back) == _rows(want)


def test_insert_into_avro_kafka_table_reads_back(brokers, topic):  # noqa: F811
    """'format' = 'avro': INSERT INTO writes each row as an Avro datum of the schema derived
    from the declared columns (NOT NULL ones not nullable, as Flink derives it), and a kafka
    table of the same columns reads them back: DuckDB's answer to the query, NULLs kept."""
    src, dst = topic(2), topic(1)
    orders = _orders(120, 2, seed=3)
    _produce_orders(brokers, src, orders)
    ddl = f"""CREATE TABLE av (id BIGINT NOT NULL, currency STRING, amount DOUBLE, order_time TIMESTAMP(3)) WITH (
  'connector' = 'kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{brokers}', 'format' = 'avro'
  <END>);
"""
    q = ("SELECT id, CASE WHEN amount > 50 THEN currency END, CASE WHEN id % 3 = 0 THEN NULL ELSE amount END, "
         "order_time FROM orders")
    rb.sql(_orders_ddl(brokers, src, bounded=True) + ddl.replace("<END>", "") + "INSERT INTO av " + q).collect()
    back = rb.sql(ddl.replace("<END>", ", 'scan.bounded.mode' = 'latest-offset'") + "SELECT * FROM av").collect()
    orders_t = _duck_orders(orders)  # noqa: F841
    want = duckdb.sql(q.replace("FROM orders", "FROM orders_t")).fetchall()
    assert any(r[1] is None for r in want) and any(r[2] is None for r in want)
    assert _rows(back) == _rows(want)


def test_continuous_insert_into_kafka(brokers, topic):  # noqa: F811
    """A continuous INSERT INTO kafka over an unbounded kafka table: rb.sql gives a sink to
    start(); records produced while it runs come out filtered and projected, as DuckDB
    filters them."""
    src, dst = topic(2), topic(1)
    sink = f"""CREATE TABLE big (id BIGINT, currency STRING, amount DOUBLE) WITH (
  'connector' = 'kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{brokers}', 'format' = 'json');
"""
    stream = rb.sql(_orders_ddl(brokers, src, bounded=False) + sink
                    + "INSERT INTO big SELECT id, currency, amount FROM orders WHERE amount > 30")
    job = stream.start()
    try:
        orders = _orders(150, 2, seed=4)
        _produce_orders(brokers, src, orders)
        orders_t = _duck_orders(orders)  # noqa: F841
        want = duckdb.sql("SELECT id, currency, amount FROM orders_t WHERE amount > 30").fetchall()
        got = _values_when(brokers, dst, len(want), committed=False)
        assert job.status == "running"
    finally:
        job.stop(drain=True, timeout="60s")
    assert _rows(got) == _rows(want)


def test_continuous_exactly_once_insert_with_checkpoints(brokers, topic, tmp_path):  # noqa: F811
    """A continuous INSERT INTO a kafka table with 'sink.delivery-guarantee' = 'exactly-once'
    and checkpoints: read_committed, the topic holds each filtered row once, as DuckDB
    filters the records produced, once a checkpoint has committed them."""
    src, dst = topic(2), topic(2)
    sink = f"""CREATE TABLE big (id BIGINT, amount DOUBLE) WITH (
  'connector' = 'kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{brokers}', 'format' = 'json',
  'key.fields' = 'id', 'sink.delivery-guarantee' = 'exactly-once', 'sink.transactional-id-prefix' = 'tx-{dst}');
"""
    env = rb.Environment(parallelism=2, checkpoint_dir=tmp_path / "ck", checkpoint_interval="200ms")
    job = env.sql(_orders_ddl(brokers, src, bounded=False) + sink
                  + "INSERT INTO big SELECT id, amount FROM orders WHERE amount <= 30").start()
    try:
        orders = _orders(200, 2, seed=6)
        _produce_orders(brokers, src, orders)
        orders_t = _duck_orders(orders)  # noqa: F841
        want = duckdb.sql("SELECT id, amount FROM orders_t WHERE amount <= 30").fetchall()
        got = _values_when(brokers, dst, len(want))
        assert job.status == "running"
    finally:
        job.stop(drain=True, timeout="60s")
    assert _rows(got) == _rows(want)
    assert _rows([tuple(json.loads(m.value()).values()) for m in consume(brokers, dst)]) == _rows(want)


@pytest.mark.parametrize("par", [1, 4])
def test_continuous_group_by_into_upsert_kafka(brokers, topic, par):  # noqa: F811
    """INSERT INTO an upsert-kafka table of a GROUP BY over an unbounded kafka table (an
    updating result): the record key is the PRIMARY KEY, and the topic's compacted view
    (the last value of each key) equals DuckDB's GROUP BY over the records produced. The
    same query into a plain kafka table is refused: that sink does not accept updates."""
    src, dst = topic(2), topic(2)
    up = f"""CREATE TABLE totals (currency STRING, n BIGINT, total DOUBLE, PRIMARY KEY (currency) NOT ENFORCED) WITH (
  'connector' = 'upsert-kafka', 'topic' = '{dst}', 'properties.bootstrap.servers' = '{brokers}',
  'key.format' = 'raw', 'value.format' = 'json');
"""
    q = "SELECT currency, COUNT(*), SUM(amount) FROM orders GROUP BY currency"
    with pytest.raises(rb.PlanError, match=r"INSERT INTO totals: the kafka table is append-only and does not accept "
                                           r"updates"):
        rb.sql(_orders_ddl(brokers, src, bounded=False)
               + up.replace("'upsert-kafka'", "'kafka'").replace(", PRIMARY KEY (currency) NOT ENFORCED", "")
               .replace("'key.format' = 'raw', 'value.format' = 'json'", "'format' = 'json'")
               + "INSERT INTO totals " + q)
    env = rb.Environment(parallelism=par)
    job = env.sql(_orders_ddl(brokers, src, bounded=False) + up + "INSERT INTO totals " + q).start()
    try:
        orders = _orders(400, 2, seed=5)
        _produce_orders(brokers, src, orders)
        orders_t = _duck_orders(orders)  # noqa: F841
        want = {r[0].encode(): (r[1], round(r[2], 6))
                for r in duckdb.sql(q.replace("FROM orders", "FROM orders_t")).fetchall()}
        deadline = time.monotonic() + 60
        got: dict[bytes, Any] = {}
        while time.monotonic() < deadline:
            view = _compacted(brokers, dst, committed=False)
            got = {k: (v["n"], round(v["total"], 6)) for k, v in view.items()}
            if got == want:
                break
            time.sleep(0.5)
    finally:
        job.stop(drain=True, timeout="60s")
    assert got == want
    for k, v in _compacted(brokers, dst, committed=False).items():
        assert v["currency"].encode() == k and set(v) == {"currency", "n", "total"}


# -- temporal joins --------------------------------------------------------------------

def _rates(seed: int) -> list[dict[str, Any]]:
    """Versions of each currency's rate at distinct times (no two versions of a key at one
    time), some currencies starting late so that early orders have no version."""
    rnd = random.Random(seed)
    out = []
    for c, first in zip(CURRENCIES, [0, 20, 60, 150]):
        times = sorted(rnd.sample(range(first * 1000, 200_000), 15))
        for ms in times:
            out.append({"currency": c, "rate": round(rnd.uniform(0.5, 2), 4),
                        "rate_time": T0 + dt.timedelta(milliseconds=ms)})
    rnd.shuffle(out)
    return out


def _rates_ddl(servers: str, t: str, *, bounded: bool) -> str:
    end = ", 'scan.bounded.mode' = 'latest-offset'" if bounded else ""
    return f"""CREATE TABLE rates (currency STRING, rate DOUBLE, rate_time TIMESTAMP(3),
  WATERMARK FOR rate_time AS rate_time - INTERVAL '300' SECOND
) WITH ('connector' = 'kafka', 'topic' = '{t}', 'properties.bootstrap.servers' = '{servers}', 'format' = 'json'{end});
"""


def _produce_rates(servers: str, t: str, rates: list[dict[str, Any]]) -> None:
    produce(servers, t, [(0, json.dumps({"currency": r["currency"], "rate": r["rate"],
                                         "rate_time": _sqlts(r["rate_time"])}).encode(), {}) for r in rates])


def _duck_rates(rates: list[dict[str, Any]]) -> pa.Table:
    return pa.table({"currency": [r["currency"] for r in rates], "rate": [r["rate"] for r in rates],
                     "rate_time": pa.array([r["rate_time"].replace(tzinfo=None) for r in rates], pa.timestamp("ms"))})


TEMPORAL = {
    "inner": ("SELECT o.id, o.currency, o.amount * r.rate AS converted, r.rate_time FROM orders AS o "
              "JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r ON o.currency = r.currency",
              "SELECT o.id, o.currency, o.amount * r.rate AS converted, r.rate_time FROM orders_t o "
              "ASOF JOIN rates_t r ON o.currency = r.currency AND o.order_time >= r.rate_time"),
    "left": ("SELECT o.id, o.currency, r.rate FROM orders AS o "
             "LEFT JOIN rates FOR SYSTEM_TIME AS OF o.order_time AS r ON o.currency = r.currency",
             "SELECT o.id, o.currency, r.rate FROM orders_t o "
             "ASOF LEFT JOIN rates_t r ON o.currency = r.currency AND o.order_time >= r.rate_time"),
}


@pytest.mark.parametrize("par", [1, 4])
@pytest.mark.parametrize("kind", ["inner", "left"])
def test_bounded_temporal_join_equals_duckdb_asof(brokers, topic, kind, par):  # noqa: F811
    """FOR SYSTEM_TIME AS OF over bounded kafka tables, run in batch and in streaming mode
    (watermark-driven): each order joins the version of its currency's rate valid at its
    time, as DuckDB's ASOF JOIN; inner drops orders without a version, LEFT keeps them."""
    ot, rt = topic(3), topic(1)
    orders, rates = _orders(200, 3, seed=7), _rates(8)
    _produce_orders(brokers, ot, orders)
    _produce_rates(brokers, rt, rates)
    orders_t, rates_t = _duck_orders(orders), _duck_rates(rates)  # noqa: F841
    ours, theirs = TEMPORAL[kind]
    want = duckdb.sql(theirs).fetchall()
    assert len(want) > 0 and (kind == "inner") == (len(want) < len(orders))
    env = rb.Environment(parallelism=par, batch_size=16 if par > 1 else 65536)
    stream = env.sql(_orders_ddl(brokers, ot, bounded=True) + _rates_ddl(brokers, rt, bounded=True) + ours)
    assert _rows(stream.collect()) == _rows(want)
    assert _rows(stream.start(runtime_mode="streaming").collect(timeout="120s")) == _rows(want)


def test_unbounded_temporal_join_emits_as_the_watermark_passes(brokers, topic):  # noqa: F811
    """A temporal join of unbounded kafka tables: an order is emitted once both watermarks
    pass its time, joined with the version valid then, as DuckDB's ASOF JOIN of the rows
    read; records far in the future advance the watermarks to release them."""
    ot, rt = topic(1), topic(1)
    orders, rates = _orders(120, 1, seed=9), _rates(10)
    ours, theirs = TEMPORAL["inner"]
    job = rb.sql(_orders_ddl(brokers, ot, bounded=False) + _rates_ddl(brokers, rt, bounded=False) + ours).start()
    try:
        _produce_rates(brokers, rt, rates)
        _produce_orders(brokers, ot, orders)
        far = T0 + dt.timedelta(days=1)
        _produce_rates(brokers, rt, [{"currency": "XXX", "rate": 1.0, "rate_time": far}])
        _produce_orders(brokers, ot, [{"id": 10**6, "currency": "XXX", "amount": 1.0, "order_time": far,
                                        "part": 0, "kts": far}])
        orders_t, rates_t = _duck_orders(orders[:120]), _duck_rates(rates)  # noqa: F841
        want = duckdb.sql(theirs).fetchall()
        got: list[tuple[Any, ...]] = []
        for b in job.results(timeout="90s"):
            got += [tuple(r.values()) for r in b.to_pylist()]
            if len(got) >= len(want):
                break
    finally:
        job.stop()
    assert _rows(got) == _rows(want)


def test_temporal_join_of_a_changelog_is_refused(brokers, topic):  # noqa: F811
    """The versioned table of FOR SYSTEM_TIME AS OF must be appended rows: a GROUP BY over
    an unbounded table (a changelog) is refused by name."""
    ot = topic(1)
    q = (_orders_ddl(brokers, ot, bounded=False)
         + "CREATE VIEW latest AS SELECT currency, MAX(order_time) AS order_time FROM orders GROUP BY currency;\n"
         + "SELECT o.id FROM orders o JOIN latest FOR SYSTEM_TIME AS OF o.order_time AS l ON o.currency = l.currency")
    with pytest.raises(rb.PlanError, match=r"FOR SYSTEM_TIME AS OF latest: latest is an updating table"):
        rb.sql(q)


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_temporal_join_of_streams_with_null_keys(mode):
    """FOR SYSTEM_TIME AS OF over in-memory streams with event times: a NULL key matches no
    version (as in DuckDB's ASOF JOIN), an order before its key's first version has none,
    and the right time column may be named differently from the left's."""
    t0 = dt.datetime(2026, 3, 1)
    o = pa.table({"id": [1, 2, 3, 4, 5], "cur": ["a", None, "b", "a", "b"],
                  "ts": pa.array([t0 + dt.timedelta(seconds=s) for s in [5, 6, 7, 1, 9]], pa.timestamp("ms"))})
    r = pa.table({"cur": ["a", None, "b", "a"], "rate": [1.0, 2.0, 3.0, 4.0],
                  "rts": pa.array([t0 + dt.timedelta(seconds=s) for s in [2, 1, 8, 5]], pa.timestamp("ms"))})
    for ours, theirs in [("JOIN", "ASOF JOIN"), ("LEFT JOIN", "ASOF LEFT JOIN")]:
        stream = rb.sql(f"SELECT o.id, v.rate, v.rts FROM o {ours} r FOR SYSTEM_TIME AS OF o.ts AS v ON o.cur = v.cur",
                        o=rb.from_arrow(o, event_time="ts"), r=rb.from_arrow(r, event_time="rts"))
        got = stream.collect() if mode == "batch" else stream.start(runtime_mode="streaming").collect(timeout="60s")
        want = duckdb.sql(f"SELECT o.id, r.rate, r.rts FROM o {theirs} r ON o.cur = r.cur AND o.ts >= r.rts").fetchall()
        assert _rows(got) == _rows(want), ours
