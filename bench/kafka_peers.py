"""The halves of bench/kafka_bench.py that run outside riverbed's environment.

Each runs as ``python bench/kafka_peers.py MODE CONFIG`` in the interpreter that has its
library (Quix Streams pins its own confluent-kafka; PyFlink lives in bench/.cache/pyflink-venv),
reads its settings from the JSON file CONFIG and writes its results as JSON to ``cfg["out"]``.
Only the standard library is imported here at the top, so any of those interpreters can run it.

    quix       Quix Streams: a tumbling-window count and sum per key, its throughput and answers
    flink      PyFlink's Kafka connector: a bounded consume into a blackhole sink, and the same
               windowed aggregation
    producer   a paced confluent-kafka producer of timestamped bids (the latency benchmark)
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from typing import Any


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def quix(cfg: dict[str, Any]) -> dict[str, Any]:
    """Tumbling 10-second windows per message key (the bid's channel): count and sum of price,
    event time from the bid's date_time, over ``cfg["records"]`` records of ``cfg["topic"]``."""
    import uuid
    from datetime import datetime, timedelta

    import quixstreams
    from quixstreams import Application
    from quixstreams.dataframe.windows import Count, Sum

    def event_time(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
        return int(datetime.fromisoformat(value["date_time"]).timestamp() * 1000)

    app = Application(broker_address=cfg["brokers"], consumer_group=f"bench-quix-{uuid.uuid4().hex[:8]}",
                      auto_offset_reset="earliest", state_dir=cfg["state_dir"], use_changelog_topics=False)
    topic = app.topic(cfg["topic"], value_deserializer="json", timestamp_extractor=event_time)
    n = cfg["records"]
    seen = {"n": 0, "t": 0.0}

    def count(value: Any) -> None:
        seen["n"] += 1
        if seen["n"] == n:
            seen["t"] = time.perf_counter()

    sdf = app.dataframe(topic).update(count)
    sdf = sdf.tumbling_window(timedelta(seconds=cfg["window_seconds"])).agg(
        n=Count(), total=Sum("price")).final()
    c0, t0 = cpu_seconds(), time.perf_counter()
    rows = app.run(sdf, timeout=cfg["idle_timeout"], metadata=True)
    cpu = cpu_seconds() - c0
    if seen["n"] < n:
        raise RuntimeError(f"Quix Streams read {seen['n']} of {n} records")
    def key(k):
        return (k.decode() if isinstance(k, bytes) else str(k))
    windows = [[key(r["_key"]), r["start"], r["n"], r["total"]] for r in rows]
    return {"version": quixstreams.__version__, "records": seen["n"], "seconds": seen["t"] - t0,
            "cpu": cpu, "windows": windows}


def flink(cfg: dict[str, Any]) -> dict[str, Any]:
    """PyFlink's Kafka connector (SQL) over the bids topic, bounded at its latest offsets: every
    record into a blackhole sink (throughput), then the windowed aggregation (answers)."""
    import calendar
    import glob

    import pyflink
    from pyflink.table import EnvironmentSettings, TableEnvironment

    jars = sorted(glob.glob(os.path.join(cfg["jars"], "*.jar")))
    t_env = TableEnvironment.create(EnvironmentSettings.in_streaming_mode())
    conf = t_env.get_config()
    conf.set("pipeline.jars", ";".join("file://" + j for j in jars))
    conf.set("parallelism.default", str(cfg["parallelism"]))
    conf.set("pipeline.object-reuse", "true")
    conf.set("table.local-time-zone", "UTC")

    def source(name: str) -> None:
        t_env.execute_sql(f"""CREATE TABLE {name} (
            auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, url STRING, date_time STRING,
            extra STRING,
            ts AS TO_TIMESTAMP(SUBSTRING(REPLACE(date_time, 'T', ' ') FROM 1 FOR 19)),
            WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
        ) WITH ('connector' = 'kafka', 'topic' = '{cfg["topic"]}',
                'properties.bootstrap.servers' = '{cfg["brokers"]}',
                'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = 'latest-offset',
                'format' = 'json')""")

    source("bids")
    t_env.execute_sql("CREATE TABLE sink (auction BIGINT, bidder BIGINT, price BIGINT, channel STRING, "
                      "url STRING, date_time STRING, extra STRING) WITH ('connector' = 'blackhole')")
    out: dict[str, Any] = {"version": pyflink.version.__version__, "runs": []}
    for _ in range(cfg["repeat"]):
        c0, t0 = cpu_seconds(), time.perf_counter()
        t_env.execute_sql("INSERT INTO sink SELECT auction, bidder, price, channel, url, date_time, extra "
                          "FROM bids").wait()
        out["runs"].append({"seconds": time.perf_counter() - t0, "cpu": cpu_seconds() - c0})
    # The window's answers, compared with riverbed's (timed too: Python's share is the few result rows).
    source("wbids")
    t0 = time.perf_counter()
    res = t_env.execute_sql(f"""SELECT channel, window_start, COUNT(*) AS n, SUM(price) AS total
        FROM TABLE(TUMBLE(TABLE wbids, DESCRIPTOR(ts), INTERVAL '{cfg["window_seconds"]}' SECOND))
        GROUP BY channel, window_start, window_end""")
    windows = []
    with res.collect() as rows:
        for r in rows:
            start = r[1]  # TIMESTAMP(3): a naive datetime in UTC
            windows.append([r[0], calendar.timegm(start.timetuple()) * 1000 + start.microsecond // 1000,
                            r[2], r[3]])
    out["window_seconds"] = time.perf_counter() - t0
    out["windows"] = windows
    return out


def producer(cfg: dict[str, Any]) -> dict[str, Any]:
    """Produce bids at ``cfg["rate"]`` records/s for ``cfg["seconds"]`` seconds, in slices of 5 ms;
    each record's Kafka timestamp (CreateTime) is the moment it was handed to the producer."""
    import confluent_kafka as ck

    p = ck.Producer({"bootstrap.servers": cfg["brokers"], "linger.ms": 1, "acks": "all",
                     "enable.idempotence": True, "queue.buffering.max.messages": 1_000_000})
    rate, secs, topic = cfg["rate"], cfg["seconds"], cfg["topic"]
    values = [json.dumps({"auction": 1000 + i // 7, "bidder": i * 31 + 1, "price": (i % 1024) * 97 + 100,
                          "channel": ("Google", "Facebook", "Baidu", "Apple")[i % 4],
                          "url": f"https://www.nexmark.com/item.htm?query=1&channel_id={i % 9973}",
                          "extra": "x" * 16}).encode() for i in range(10_000)]
    step = 0.005
    per_step = int(rate * step)
    n = 0
    start = time.perf_counter()
    behind = 0
    while True:
        now = time.perf_counter()
        due = int((now - start) * rate)
        if now - start >= secs:
            break
        if due - n > per_step * 20:
            behind += 1
        while n < due:
            for _ in range(min(per_step, due - n)):
                try:
                    p.produce(topic, values[n % 10_000])
                except BufferError:
                    p.poll(0.001)
                    continue
                n += 1
        p.poll(0)
        sleep = start + (n + per_step) / rate - time.perf_counter()
        if sleep > 0:
            time.sleep(sleep)
    p.flush(60)
    wall = time.perf_counter() - start
    return {"records": n, "seconds": wall, "rate": n / wall, "behind": behind}


def main() -> None:
    mode, cfg_path = sys.argv[1], sys.argv[2]
    with open(cfg_path) as f:
        cfg = json.load(f)
    result = {"quix": quix, "flink": flink, "producer": producer}[mode](cfg)
    with open(cfg["out"], "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
