"""Reading upsert topics against a real broker (Flink's upsert-kafka source):
read_kafka(upsert=True, key=...) and SQL tables of the upsert-kafka connector. Records are
produced with confluent-kafka (librdkafka); every answer is compared with a plain-Python
fold of the produced records (the last value per key, a tombstone deletes its key), and
the changes with the ones that fold makes, key by key.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb

pytest.importorskip("confluent_kafka")
from test_kafka import brokers, consume, produce, topic  # noqa: E402, F401

SCHEMA = {"k": pa.int64(), "name": pa.string(), "x": pa.float64()}
COLS = ["k", "name", "x"]


Record = tuple[int, bytes | None, dict[str, Any]]


def _records(n: int, keys: int, parts: int, seed: int) -> list[Record]:
    """n upserts and tombstones of keys 0..keys-1 (some never upserted: their tombstones
    delete nothing), values that often repeat; each key in one partition (k % parts), as
    Kafka's key partitioning puts it."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        k = rnd.randrange(keys)
        if rnd.random() < 0.2:
            value = None
        else:
            value = json.dumps({"k": k, "name": rnd.choice("abc"), "x": float(rnd.randrange(3))}).encode()
        out.append((k % parts, value, {"key": str(k).encode()}))
    return out


def _fold(records: list[Record]) -> tuple[dict[Any, tuple], list[tuple]]:
    """The table the records make (last row per key, tombstones delete) and the changes
    that make it, as Flink's ChangelogNormalize emits them."""
    table: dict[Any, tuple] = {}
    changes = []
    for _part, value, extra in records:
        k = int(extra["key"])
        old = table.get(k)
        if value is None:
            if old is not None:
                changes.append((*old, "-D"))
                del table[k]
            continue
        d = json.loads(value)
        row = tuple(d[c] for c in COLS)
        if old is None:
            changes.append((*row, "+I"))
        elif old != row:
            changes += [(*old, "-U"), (*row, "+U")]
        table[k] = row
    return table, changes


def _apply(changes: list[tuple]) -> Counter:
    """The table a retract changelog makes, applied in order; a retraction must name a
    row the table holds."""
    t: Counter = Counter()
    for *row, op in changes:
        if op in ("+I", "+U"):
            t[tuple(row)] += 1
        else:
            assert t[tuple(row)] > 0, f"{op} of {row}, which the table does not hold"
            t[tuple(row)] -= 1
    return +t


def _changes(batches: list[pa.RecordBatch] | pa.Table, cols: list[str]) -> list[tuple]:
    if isinstance(batches, pa.Table):
        batches = batches.to_batches()
    return [tuple(r[c] for c in [*cols, "__op"]) for b in batches for r in b.to_pylist()]


def _by_key(changes: list[tuple]) -> dict[Any, list[tuple]]:
    out = defaultdict(list)
    for c in changes:
        out[c[0]].append(c)
    return dict(out)


def test_upsert_read_is_the_fold_of_the_records(brokers, topic):  # noqa: F811
    t = topic(3)
    recs = _records(600, 40, 3, seed=1)
    recs.append((0, None, {"key": b"999"}))  # a tombstone of a key never written
    produce(brokers, t, recs)
    table, want = _fold(recs)
    assert sum(1 for c in want if c[-1] == "-D") > 10 and sum(1 for c in want if c[-1] == "-U") > 10
    env = rb.Environment(parallelism=2)
    s = env.read_kafka(brokers, t, schema=SCHEMA, end="latest", upsert=True, key="k")
    assert s.schema.names == [*COLS, "__op"]
    got = _changes(s.collect(), COLS)
    # key by key, the changes are the fold's, in order
    assert _by_key(got) == _by_key(want)
    assert _apply(got) == Counter(table.values())


def test_upsert_read_with_a_composite_key_and_a_group_by(brokers, topic):  # noqa: F811
    t = topic(2)
    rnd = random.Random(7)
    recs, rows = [], {}
    for _ in range(400):
        a, b = rnd.randrange(5), rnd.choice(["p", "q", "r"])
        key = json.dumps({"a": a, "b": b}).encode()
        if rnd.random() < 0.25:
            recs.append((a % 2, None, {"key": key}))
            rows.pop((a, b), None)
        else:
            v = rnd.randrange(10)
            recs.append((a % 2, json.dumps({"a": a, "b": b, "v": v}).encode(), {"key": key}))
            rows[(a, b)] = v
    produce(brokers, t, recs)
    s = rb.read_kafka(brokers, t, schema={"a": pa.int64(), "b": pa.string(), "v": pa.int64()}, end="latest",
                      upsert=True, key=["a", "b"])
    got = _changes(s.collect(), ["a", "b", "v"])
    assert _apply(got) == Counter((a, b, v) for (a, b), v in rows.items())
    # a group_by over it takes its retractions: the sums of the rows that remain
    per_b = s.group_by("b").agg(rb.col("v").sum().alias("total"), rb.count().alias("n"))
    want: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (_a, b), v in rows.items():
        want[b][0] += v
        want[b][1] += 1
    assert _apply(_changes(per_b.collect(), ["b", "total", "n"])) == Counter(
        (b, tot, n) for b, (tot, n) in want.items())


def test_sql_upsert_kafka_table_and_group_by(brokers, topic):  # noqa: F811
    t = topic(3)
    recs = _records(500, 30, 3, seed=3)
    produce(brokers, t, recs)
    table, _ = _fold(recs)
    ddl = f"""CREATE TABLE up (
  k BIGINT, name STRING, x DOUBLE,
  PRIMARY KEY (k) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka', 'topic' = '{t}', 'properties.bootstrap.servers' = '{brokers}',
  'key.format' = 'raw', 'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset'
);
"""
    got = rb.sql(ddl + "SELECT k, name, x FROM up").collect()
    assert _apply(_changes(got, COLS)) == Counter(table.values())
    agg = rb.sql(ddl + "SELECT name, SUM(x) AS total, COUNT(*) AS n FROM up GROUP BY name").collect()
    want: dict[str, list[float]] = defaultdict(lambda: [0.0, 0])
    for _k, name, x in table.values():
        want[name][0] += x
        want[name][1] += 1
    assert _apply(_changes(agg, ["name", "total", "n"])) == Counter((nm, tot, n) for nm, (tot, n) in want.items())


@pytest.mark.parametrize("backend", ["memory", "pebble"])
def test_upsert_read_restored_from_a_savepoint_at_another_parallelism(brokers, topic, tmp_path, backend):  # noqa: F811
    """The last row per key is in the checkpoint with the offsets: after the restore, an
    update of a key read before retracts the row it had (-U), a tombstone deletes it. With
    Pebble the rows held spill (a tiny memory limit)."""
    t = topic(4)
    first = _records(500, 50, 4, seed=11)
    produce(brokers, t, first)

    def read(parallelism: int) -> rb.Stream:
        mem = {"state_memory_limit": 1} if backend == "pebble" else {}
        env = rb.Environment(parallelism=parallelism, checkpoint_dir=tmp_path / "ck", checkpoint_interval="1h",
                             state_backend=backend, **mem)  # type: ignore[arg-type]
        return env.read_kafka(brokers, t, schema=SCHEMA, upsert=True, key="k", options={"max.poll.records": 20})

    _, want_first = _fold(first)
    got: list[pa.RecordBatch] = []
    job = read(2).start()
    for b in job.results(timeout="60s"):
        got.append(b)
        if sum(x.num_rows for x in got) >= 100:
            break
    job.stop(savepoint=tmp_path / "sp1", timeout="60s")
    got.extend(job.results(timeout="60s"))
    assert len(_changes(got, COLS)) > 0
    # records written while the job is down: updates and deletes of keys read before
    second = _records(500, 50, 4, seed=12)
    produce(brokers, t, second)
    table, want = _fold(first + second)
    job = read(3).start(restore=tmp_path / "sp1")
    for b in job.results(timeout="60s"):
        got.append(b)
        if len(_changes(got, COLS)) >= len(want):
            break
    job.stop(savepoint=tmp_path / "sp2", timeout="60s")
    got.extend(job.results(timeout="60s"))
    changes = _changes(got, COLS)
    assert _by_key(changes) == _by_key(want)
    assert _apply(changes) == Counter(table.values())


def test_upsert_read_errors(brokers, topic):  # noqa: F811
    t = topic(1)
    with pytest.raises(ValueError, match="needs key="):
        rb.read_kafka(brokers, t, schema=SCHEMA, upsert=True)
    with pytest.raises(ValueError, match="key= with upsert=True"):
        rb.read_kafka(brokers, t, schema=SCHEMA, key="k")
    with pytest.raises(rb.PlanError, match='the key column "kk" is not a value column'):
        rb.read_kafka(brokers, t, schema=SCHEMA, end="latest", upsert=True, key="kk").collect()
    # a tombstone whose key is not the key column's JSON text: a bad record, naming where
    produce(brokers, t, [(0, None, {"key": b"not-a-number"})])
    with pytest.raises(rb.DataError, match=rf'kafka topic "{t}" partition 0 offset 0: record key'):
        rb.read_kafka(brokers, t, schema=SCHEMA, end="latest", upsert=True, key="k").collect()


@pytest.mark.parametrize("kind", ["JOIN", "LEFT JOIN"])
def test_proctime_temporal_join_with_an_upsert_kafka_table(brokers, topic, kind):  # noqa: F811
    """FOR SYSTEM_TIME AS OF PROCTIME() with a bounded upsert-kafka table on the right: the
    join reads it whole first, so each left row meets its key's last row (none if the key
    was deleted by a tombstone), as a plain lookup in the fold of the records."""
    t = topic(3)
    recs = _records(400, 30, 3, seed=21)
    produce(brokers, t, recs)
    table, _ = _fold(recs)
    rnd = random.Random(4)
    lefts = [{"id": i, "k": rnd.randrange(35), "q": float(rnd.randrange(1, 5))} for i in range(1500)]
    env = rb.Environment(parallelism=3, batch_size=64)
    ddl = f"""CREATE TABLE up (
  k BIGINT, name STRING, x DOUBLE,
  PRIMARY KEY (k) NOT ENFORCED
) WITH (
  'connector' = 'upsert-kafka', 'topic' = '{t}', 'properties.bootstrap.servers' = '{brokers}',
  'key.format' = 'raw', 'value.format' = 'json', 'scan.bounded.mode' = 'latest-offset'
);
"""
    q = (f"SELECT o.id, r.name, o.q * r.x AS y FROM orders AS o {kind} up FOR SYSTEM_TIME AS OF PROCTIME() AS r "
         "ON o.k = r.k")
    got = env.sql(ddl + q, orders=env.from_arrow(pa.Table.from_pylist(lefts))).collect()
    assert got.schema.names == ["id", "name", "y"]
    want = []
    for o in lefts:
        row = table.get(o["k"])
        if row is not None:
            want.append((o["id"], row[1], o["q"] * row[2]))
        elif kind == "LEFT JOIN":
            want.append((o["id"], None, None))
    assert len(want) > 500
    assert sorted((r["id"], r["name"], r["y"]) for r in got.to_pylist()) == sorted(want)


def test_upsert_read_into_changelog_sinks(brokers, topic, tmp_path):  # noqa: F811
    """The changelog of an upsert read goes to the changelog sinks, keyed by its key:
    write_kafka(upsert=True) writes a topic whose fold (read back with librdkafka) is the
    source's fold, and write_parquet_snapshot the table itself."""
    src, dst = topic(3), topic(2)
    recs = _records(500, 40, 3, seed=31)
    produce(brokers, src, recs)
    table, _ = _fold(recs)
    env = rb.Environment(parallelism=2)

    def read() -> rb.Stream:
        return env.read_kafka(brokers, src, schema=SCHEMA, end="latest", upsert=True, key="k")

    read().write_kafka(brokers, dst, upsert=True)
    back: dict[int, tuple] = {}
    for m in consume(brokers, dst):
        k = int(m.key())
        if m.value() is None:
            back.pop(k, None)
        else:
            d = json.loads(m.value())
            back[k] = tuple(d[c] for c in COLS)
    assert back == table
    out = str(tmp_path / "snap")
    read().write_parquet_snapshot(out)
    got = rb.read_parquet_snapshot(out).collect()
    assert sorted(tuple(r[c] for c in COLS) for r in got.to_pylist()) == sorted(table.values())
