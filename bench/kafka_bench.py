"""Kafka throughput: records of Nexmark-bid size (JSON, about 150 bytes) produced into a
topic and consumed from it by riverbed (in Go, decoded into Arrow), next to confluent-kafka
(librdkafka) consumed into Arrow the way a Python user would (``json.loads`` per record,
``pa.Table.from_pylist`` per batch). Each figure is records per second of wall time and
records per CPU-second of the benchmark process (``getrusage``: user + system time of all
its threads), which is records/s per core actually used. The broker runs on the same
machine and is not counted.

    python bench/kafka_bench.py [--records N] [--partitions P] [--no-write]

Uses the broker RIVERBED_KAFKA_BROKERS names, or starts one with kafka/testbroker/broker.sh
(``make bench-kafka`` does so). Writes the "## Kafka" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import riverbed as rb  # noqa: E402
from results_md import machine, write_section  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BROKER_SH = os.path.join(HERE, "..", "kafka", "testbroker", "broker.sh")
SCHEMA = pa.schema([("auction", pa.int64()), ("bidder", pa.int64()), ("price", pa.int64()),
                    ("channel", pa.string()), ("url", pa.string()), ("date_time", pa.timestamp("ms", "UTC")),
                    ("extra", pa.string())])


def bids(n: int) -> pa.Table:
    """n bids of Nexmark's shape (its bid fields and sizes)."""
    import pyarrow.compute as pc

    i = pa.array(range(n), pa.int64())
    return pa.table({
        "auction": pc.add(pc.divide(i, 7), 1000), "bidder": pc.add(pc.multiply(i, 31), 1),
        "price": pc.add(pc.multiply(pc.bit_wise_and(i, 1023), 97), 100),
        "channel": pa.array(["Google", "Facebook", "Baidu", "Apple"] * (n // 4) + ["Google"] * (n % 4)),
        "url": pa.array([f"https://www.nexmark.com/item.htm?query=1&channel_id={k % 9973}" for k in range(n)]),
        "date_time": pa.array([1_767_225_600_000 + k for k in range(n)], pa.timestamp("ms", "UTC")),
        "extra": pa.array(["x" * 16] * n),
    })


def measure(fn: Callable[[], int]) -> tuple[int, float, float]:
    """(records, wall seconds, CPU seconds of this process) of fn()."""
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    n = fn()
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return n, wall, cpu


def create_topic(brokers: str, parts: int) -> str:
    from confluent_kafka.admin import AdminClient, NewTopic

    name = f"bench-{uuid.uuid4().hex[:10]}"
    admin = AdminClient({"bootstrap.servers": brokers})
    admin.create_topics([NewTopic(name, parts, 1)])[name].result(60)
    return name


def riverbed_produce(brokers: str, topic: str, table: pa.Table, parallelism: int) -> int:
    out = rb.Environment(parallelism=parallelism).from_arrow(table).write_kafka(brokers, topic, progress=False)
    return int(pa.compute.sum(out["rows"]).as_py())


def confluent_produce(brokers: str, topic: str, table: pa.Table) -> int:
    import confluent_kafka as ck

    p = ck.Producer({"bootstrap.servers": brokers, "linger.ms": 5, "enable.idempotence": True,
                     "queue.buffering.max.messages": 1_000_000})
    n = 0
    for batch in table.to_batches(10_000):
        for row in batch.to_pylist():
            row["date_time"] = row["date_time"].isoformat()
            while True:
                try:
                    p.produce(topic, json.dumps(row).encode())
                    break
                except BufferError:
                    p.poll(0.01)
            n += 1
        p.poll(0)
    assert p.flush(120) == 0
    return n


def riverbed_consume(brokers: str, topic: str, parallelism: int) -> int:
    env = rb.Environment(parallelism=parallelism)
    t = env.read_kafka(brokers, topic, schema=SCHEMA, end="latest").collect(progress=False)
    return t.num_rows


def confluent_consume(brokers: str, topic: str, expected: int) -> int:
    import confluent_kafka as ck

    c = ck.Consumer({"bootstrap.servers": brokers, "group.id": f"bench-{uuid.uuid4().hex}",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe([topic])
    n = 0
    tables = []
    try:
        while n < expected:
            msgs = c.consume(10_000, timeout=1.0)
            rows = [json.loads(m.value()) for m in msgs if m.error() is None]
            if rows:
                tables.append(pa.Table.from_pylist(rows))
                n += len(rows)
    finally:
        c.close()
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2_000_000, help="records per run (default 2,000,000)")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--no-write", action="store_true", help="print the table only, do not update RESULTS.md")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    os.environ["RIVERBED_PROGRESS"] = "0"

    brokers = os.environ.get("RIVERBED_KAFKA_BROKERS")
    run_dir = None
    if not brokers:
        run_dir = tempfile.mkdtemp(prefix="riverbed-kafka-bench-")
        env = dict(os.environ, RIVERBED_KAFKA_RUN=run_dir)
        brokers = subprocess.run([BROKER_SH, "start"], env=env, check=True, capture_output=True,
                                 text=True).stdout.strip()
    try:
        results = run(brokers, args.records, args.partitions)
    finally:
        if run_dir is not None:
            subprocess.run([BROKER_SH, "stop"], env=dict(os.environ, RIVERBED_KAFKA_RUN=run_dir), capture_output=True)

    rows = ["| client | direction | parallelism | records | records/s | records per CPU-second |",
            "|---|---|---:|---:|---:|---:|"]
    for name, direction, par, n, wall, cpu in results:
        rows.append(f"| {name} | {direction} | {par} | {n:,} | {n / wall:,.0f} | "
                    f"{n / cpu if cpu > 0 else float('nan'):,.0f} |")
    table = "\n".join(rows)
    print(table)
    if args.no_write:
        return
    import confluent_kafka as ck

    text = (
        "## Kafka: produce and consume throughput (`make bench-kafka`)\n\n"
        f"- Machine: {machine()}; one Apache Kafka broker (KRaft, `kafka/testbroker/broker.sh`) on "
        "the same machine, sharing its cores.\n"
        f"- Versions: Python {platform.python_version()}, riverbed {rb.__version__}, confluent-kafka "
        f"{getattr(ck, '__version__', ck.version()[0])} (librdkafka {ck.libversion()[0]}), pyarrow {pa.__version__}.\n"
        f"- Records: Nexmark bids as JSON objects (about 150 bytes each), {args.records:,} per run, "
        f"a topic of {args.partitions} partitions (a fresh one for each produce run). Produce: "
        "riverbed's `write_kafka` (at-least-once: idempotent, acks=all) from an in-memory table; "
        "confluent-kafka: `Producer.produce` of `json.dumps` per row (idempotent). Consume: "
        "riverbed's bounded `read_kafka(..., end=\"latest\")` decoding into Arrow with the bid "
        "schema; confluent-kafka: `consume(10000)`, `json.loads` per record and "
        "`pa.Table.from_pylist` per batch. Records per CPU-second is records/s per core used by "
        "the benchmark process (all its threads; the broker not counted).\n\n"
        f"{table}\n"
    )
    write_section(args.out, "## Kafka", text)


def run(brokers: str, n: int, parts: int) -> list[tuple[str, str, int, int, float, float]]:
    table = bids(n)
    out: list[tuple[str, str, int, int, float, float]] = []
    topics: dict[int, str] = {}
    for par in (1, 2):
        t = create_topic(brokers, parts)
        topics[par] = t
        out.append(("riverbed", "produce", par,
                    *measure(lambda t=t, par=par: riverbed_produce(brokers, t, table, par))))
    try:
        import confluent_kafka  # noqa: F401
        have_ck = True
    except ImportError:
        have_ck = False
    if have_ck:
        t = create_topic(brokers, parts)
        out.append(("confluent-kafka", "produce", 1, *measure(lambda: confluent_produce(brokers, t, table))))
    src = topics[1]
    riverbed_consume(brokers, src, 1)  # warm-up: the broker's page cache, the library
    for par in (1, 2):
        res: Any = measure(lambda par=par: riverbed_consume(brokers, src, par))
        assert res[0] == n, res
        out.append(("riverbed", "consume into Arrow", par, *res))
    if have_ck:
        res = measure(lambda: confluent_consume(brokers, src, n))
        assert res[0] == n, res
        out.append(("confluent-kafka", "consume into Arrow", 1, *res))
    return out


if __name__ == "__main__":
    main()
