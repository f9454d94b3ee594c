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
import glob
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
import pyarrow.compute as pc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import riverbed as rb  # noqa: E402
from results_md import machine, write_section  # noqa: E402
from riverbed import col  # noqa: E402

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


PEERS = os.path.join(HERE, "kafka_peers.py")
WINDOW_SECONDS = 10
LAT_SCHEMA = pa.schema([("auction", pa.int64()), ("bidder", pa.int64()), ("price", pa.int64()),
                        ("channel", pa.string()), ("url", pa.string()), ("extra", pa.string())])
Row = tuple[str, str, int, int, float, float]


def run_peer(python: str, mode: str, cfg: dict[str, Any], log: str) -> dict[str, Any]:
    """Run a half of the benchmark in another interpreter (bench/kafka_peers.py) and return its JSON."""
    with tempfile.TemporaryDirectory(prefix="riverbed-kafka-bench-") as d:
        cfg = {**cfg, "out": os.path.join(d, "out.json"), "state_dir": os.path.join(d, "state")}
        with open(os.path.join(d, "cfg.json"), "w") as f:
            json.dump(cfg, f)
        os.makedirs(os.path.dirname(log), exist_ok=True)
        with open(log, "w") as lf:
            env = {**os.environ, "PYTHONPATH": ""}
            rc = subprocess.run([python, PEERS, mode, os.path.join(d, "cfg.json")], stdout=lf, stderr=lf,
                                env=env).returncode
        if rc != 0 or not os.path.exists(cfg["out"]):
            raise RuntimeError(f"{mode} failed (exit {rc}); see {os.path.relpath(log)}")
        with open(cfg["out"]) as f:
            return json.load(f)


def quix_python() -> str | None:
    """An interpreter with quixstreams: RIVERBED_BENCH_QUIX_PYTHON, or a virtualenv of its
    own under bench/.cache (created once: quixstreams pins older confluent-kafka and pydantic
    than riverbed's test tools use, so it is not installed next to them)."""
    if os.environ.get("RIVERBED_BENCH_QUIX_PYTHON"):
        return os.environ["RIVERBED_BENCH_QUIX_PYTHON"]
    venv = os.path.join(HERE, ".cache", "quix-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, ".installed")):
        try:
            subprocess.run([sys.executable, "-m", "venv", venv], check=True)
            subprocess.run([py, "-m", "pip", "install", "--quiet", "quixstreams>=3"], check=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"quixstreams could not be installed ({e}): Quix Streams is not run", file=sys.stderr)
            return None
        open(os.path.join(venv, ".installed"), "w").close()
    return py


def riverbed_windows(brokers: str, topic: str, parallelism: int) -> dict[tuple[str, int], tuple[int, int]]:
    """The windowed aggregation in riverbed: count and sum of price per channel and 10-second window."""
    env = rb.Environment(parallelism=parallelism)
    t = (env.read_kafka(brokers, topic, schema=SCHEMA, event_time="date_time", end="latest")
         .key_by("channel").window(rb.tumbling(f"{WINDOW_SECONDS}s"))
         .agg(rb.count().alias("n"), col("price").sum().alias("total")).collect(progress=False))
    starts = pc.cast(pc.cast(t["window_start"], pa.timestamp("ms", "UTC")), pa.int64()).to_pylist()
    return {(c, w): (n, tot) for c, w, n, tot in zip(t["channel"].to_pylist(), starts, t["n"].to_pylist(),
                                                     t["total"].to_pylist())}


def pyarrow_windows(table: pa.Table) -> dict[tuple[str, int], tuple[int, int]]:
    """The windowed aggregation computed by pyarrow from the table written (the oracle)."""
    ms = pc.cast(table["date_time"], pa.int64())
    start = pc.multiply(pc.floor(pc.divide(pc.cast(ms, pa.float64()), WINDOW_SECONDS * 1000)).cast(pa.int64()),
                        WINDOW_SECONDS * 1000)
    g = (pa.table({"channel": table["channel"], "w": start, "price": table["price"]})
         .group_by(["channel", "w"]).aggregate([("price", "count"), ("price", "sum")]))
    return {(c, w): (n, s) for c, w, n, s in zip(g["channel"].to_pylist(), g["w"].to_pylist(),
                                                 g["price_count"].to_pylist(), g["price_sum"].to_pylist())}


def compare(peer: list[list[Any]], ours: dict[tuple[str, int], tuple[int, int]]) -> str:
    """How a peer's windows compare with riverbed's: every window the peer emitted must be riverbed's."""
    diff = [w for w in peer if ours.get((w[0], w[1])) != (w[2], w[3])]
    if diff:
        return f"{len(diff)} of {len(peer)} windows differ (e.g. {diff[:2]})"
    return f"all {len(peer):,} equal"


def latency(brokers: str, rate: int, seconds: int, warmup: int) -> dict[str, Any]:
    """End-to-end latency: a producer process writes bids at ``rate`` records/s; riverbed reads them
    (unbounded, checkpoints every 5 s, at-least-once), keeps about 10% (a filter and a select) and writes
    them to another topic; a consumer here measures, for each output record, the time from the moment its
    input was handed to the producer (the input's Kafka timestamp, carried through) until it was read."""
    import confluent_kafka as ck

    src, dst = create_topic(brokers, 4), create_topic(brokers, 4)
    ckpt = tempfile.mkdtemp(prefix="riverbed-kafka-bench-ckpt-")
    env = rb.Environment(parallelism=2, checkpoint_dir=ckpt, checkpoint_interval="5s")
    s = env.read_kafka(brokers, src, schema=LAT_SCHEMA, start="latest", metadata=["timestamp"])
    job = (s.filter(col("price") < 10_000)
           .select("auction", "price", col("kafka_timestamp").cast(rb.Int64).alias("produced_ms"))
           .write_kafka(brokers, dst, lazy=True).start())
    c = ck.Consumer({"bootstrap.servers": brokers, "group.id": f"bench-{uuid.uuid4().hex}",
                     "auto.offset.reset": "earliest", "enable.auto.commit": False, "fetch.wait.max.ms": 5})
    c.subscribe([dst])
    c.consume(1, timeout=2.0)  # joined; the job has had time to resolve "latest"
    cfg = {"brokers": brokers, "topic": src, "rate": rate, "seconds": seconds}
    lat: list[float] = []
    import threading

    prod: dict[str, Any] = {}
    th = threading.Thread(target=lambda: prod.update(run_peer(sys.executable, "producer", cfg,
                                                              os.path.join(HERE, ".cache", "kafka_producer.log"))))
    t_start = time.time() * 1000
    th.start()
    try:
        last = time.perf_counter()
        # consume(n, timeout) returns when it has n records or the timeout is up: a short timeout,
        # so that the measurement adds at most a few milliseconds.
        while th.is_alive() or time.perf_counter() - last < 3.0:
            msgs = c.consume(10_000, timeout=0.002)
            now = time.time() * 1000
            if not msgs:
                continue
            last = time.perf_counter()
            for m in msgs:
                if m.error() is None:
                    produced = json.loads(m.value())["produced_ms"]
                    if produced >= t_start + warmup * 1000:
                        lat.append(now - produced)
    finally:
        th.join()
        c.close()
        job.stop()
    lat.sort()

    def q(x: float) -> float:
        return lat[min(len(lat) - 1, int(x * len(lat)))] if lat else float("nan")

    return {"produced": prod.get("records", 0), "rate": prod.get("rate", 0.0), "measured": len(lat),
            "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "max": lat[-1] if lat else float("nan")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=2_000_000, help="records per throughput run (default 2,000,000)")
    ap.add_argument("--window-records", type=int, default=500_000,
                    help="records of the windowed aggregation (default 500,000)")
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--rates", default="100000,20000",
                    help="records/s of the latency runs, comma-separated (default 100000,20000)")
    ap.add_argument("--latency-seconds", type=int, default=40)
    ap.add_argument("--no-flink", action="store_true", help="leave PyFlink out")
    ap.add_argument("--no-write", action="store_true", help="print the tables only, do not update RESULTS.md")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    args.rates = [int(r) for r in args.rates.split(",")]
    args.rate = args.rates[0]
    os.environ["RIVERBED_PROGRESS"] = "0"

    brokers = os.environ.get("RIVERBED_KAFKA_BROKERS")
    run_dir = None
    if not brokers:
        run_dir = tempfile.mkdtemp(prefix="riverbed-kafka-bench-")
        env = dict(os.environ, RIVERBED_KAFKA_RUN=run_dir)
        brokers = subprocess.run([BROKER_SH, "start"], env=env, check=True, capture_output=True,
                                 text=True).stdout.strip()
    load_before = os.getloadavg()
    uptime = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    try:
        results, windows, flink_note, lats = run(brokers, args)
    finally:
        if run_dir is not None:
            subprocess.run([BROKER_SH, "stop"], env=dict(os.environ, RIVERBED_KAFKA_RUN=run_dir), capture_output=True)
    load_after = os.getloadavg()

    rows = ["| client | direction | parallelism | records | records/s | records per CPU-second |",
            "|---|---|---:|---:|---:|---:|"]
    for name, direction, par, n, wall, cpu in results:
        per_cpu = f"{n / cpu:,.0f}" if cpu > 0 else "—"
        rows.append(f"| {name} | {direction} | {par} | {n:,} | {n / wall:,.0f} | {per_cpu} |")
    table = "\n".join(rows)
    wrows = ["| engine | parallelism | records | seconds | records/s | windows | answers (riverbed: against pyarrow's; "
             "the others: against riverbed's) |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for name, par, n, secs, nwin, answer in windows:
        wrows.append(f"| {name} | {par} | {n:,} | {secs:.2f} | {n / secs:,.0f} | {nwin:,} | {answer} |")
    wtable = "\n".join(wrows)
    ltable = ("| target rate | produced (rate reached) | output records measured | p50 | p90 | p99 | max |\n"
              "|---:|---:|---:|---:|---:|---:|---:|")
    for rate, lat in zip(args.rates, lats):
        ltable += (f"\n| {rate:,}/s | {lat['produced']:,} ({lat['rate']:,.0f}/s) | {lat['measured']:,} | "
                   f"{lat['p50']:.0f} ms | {lat['p90']:.0f} ms | {lat['p99']:.0f} ms | {lat['max']:.0f} ms |")
    lat = lats[0]
    best = max((n / wall for name, direction, par, n, wall, _ in results
                if name == "riverbed" and direction.startswith("consume")), default=0.0)
    per_cpu = max((n / cpu for name, direction, par, n, _, cpu in results
                   if name == "riverbed" and direction.startswith("consume") and cpu > 0), default=0.0)
    goals = (f"Goals of the project: consume ≥ 1,000,000 records/s on 2 cores — riverbed's best here "
             f"{best:,.0f}/s ({'met' if best >= 1e6 else 'not met'}; at its {per_cpu:,.0f} records per "
             f"CPU-second, two idle cores would give at most {2 * per_cpu:,.0f}/s); end-to-end p99 ≤ 50 ms at "
             f"{args.rate:,} events/s — {lat['p99']:.0f} ms ({'met' if lat['p99'] <= 50 else 'not met'}); "
             f"`uptime` before the run: {uptime}.")
    print(table, wtable, ltable, flink_note, goals, sep="\n\n")
    if args.no_write:
        return
    import confluent_kafka as ck

    text = (
        "## Kafka: throughput, a windowed aggregation, end-to-end latency (`make bench-kafka`)\n\n"
        f"- Machine: {machine()}; one Apache Kafka broker (KRaft, `kafka/testbroker/broker.sh`) on "
        "the same machine, sharing its cores. The machine is shared: load average "
        f"{load_before[0]:.2f} before the run, {load_after[0]:.2f} after it; compare the rows of "
        "this run with each other, not with other runs.\n"
        f"- Versions: Python {platform.python_version()}, riverbed {rb.__version__}, confluent-kafka "
        f"{getattr(ck, '__version__', ck.version()[0])} (librdkafka {ck.libversion()[0]}), pyarrow {pa.__version__}"
        f"{QUIX_VERSION[0]}{FLINK_VERSION[0]}.\n"
        f"- Records: Nexmark bids as JSON objects (about 150 bytes each), {args.records:,} per run, "
        f"a topic of {args.partitions} partitions (a fresh one for each produce run). Produce: "
        "riverbed's `write_kafka` (at-least-once: idempotent, acks=all) from an in-memory table; "
        "confluent-kafka: `Producer.produce` of `json.dumps` per row (idempotent). Consume: "
        "riverbed's bounded `read_kafka(..., end=\"latest\")` decoding into Arrow with the bid "
        "schema; confluent-kafka: `consume(10000)`, `json.loads` per record and "
        "`pa.Table.from_pylist` per batch; PyFlink: its Kafka SQL connector (JSON format, bounded "
        "at the latest offsets) into a `blackhole` sink, the job's wall time (its CPU is in its JVM, "
        "not counted). Records per CPU-second is records/s per core used by the benchmark process "
        "(all its threads; the broker not counted).\n\n"
        f"{table}\n\n"
        f"**A windowed aggregation**: count and sum of `price` per `channel` in tumbling "
        f"{WINDOW_SECONDS}-second event-time windows (event time: the bid's `date_time`), over "
        f"{args.window_records:,} bids keyed by channel (one bid per millisecond of event time). riverbed: "
        "`read_kafka(..., event_time=\"date_time\", end=\"latest\").key_by(\"channel\")"
        ".window(rb.tumbling(\"10s\")).agg(...)`. Quix Streams: `tumbling_window(...).agg(Count(), "
        "Sum(\"price\")).final()` per message key, event time from a `timestamp_extractor`, no "
        "changelog topics (riverbed runs without checkpoints here too), timed until it has read the last "
        "record; it runs unbounded, so its last window per partition stays open and is not emitted. "
        "Every window a peer emitted is compared with riverbed's.\n\n"
        f"{wtable}\n\n"
        f"{flink_note}\n\n"
        f"**End-to-end latency at {args.rate:,} events/s (and at lower rates, to show where this machine "
        "keeps up), at-least-once**: a confluent-kafka "
        "producer (a process of its own) writes bids at a fixed rate (in slices of 5 ms) into a topic of 4 "
        "partitions; riverbed (parallelism 2, checkpoints every 5 s, `write_kafka` at-least-once) reads them "
        "unbounded, keeps the bids with `price < 10000` (about 10%), selects three columns with the input's "
        "Kafka timestamp and writes them to another topic; a consumer measures, for each output record, "
        "the time from the moment its input was handed to the producer (the input record's CreateTime, "
        "milliseconds) until it read it. "
        f"{args.latency_seconds} s of input, the first 5 s not counted. Goal: p99 ≤ 50 ms.\n\n"
        f"{ltable}\n\n"
        f"{goals}\n"
    )
    write_section(args.out, "## Kafka", text)


QUIX_VERSION = [""]
FLINK_VERSION = [""]


def run(brokers: str, args: argparse.Namespace) -> tuple[list[Row], list[Any], str, dict[str, Any]]:
    n, parts = args.records, args.partitions
    table = bids(n)
    out: list[Row] = []
    topics: dict[int, str] = {}
    for par in (1, 2):
        t = create_topic(brokers, parts)
        topics[par] = t
        out.append(("riverbed", "produce", par,
                    *measure(lambda t=t, par=par: riverbed_produce(brokers, t, table, par))))
    t = create_topic(brokers, parts)
    out.append(("confluent-kafka", "produce", 1, *measure(lambda: confluent_produce(brokers, t, table))))
    src = topics[1]
    riverbed_consume(brokers, src, 1)  # warm-up: the broker's page cache, the library
    for par in (1, 2):
        res: Any = measure(lambda par=par: riverbed_consume(brokers, src, par))
        assert res[0] == n, res
        out.append(("riverbed", "consume into Arrow", par, *res))
    res = measure(lambda: confluent_consume(brokers, src, n))
    assert res[0] == n, res
    out.append(("confluent-kafka", "consume into Arrow", 1, *res))

    # The windowed aggregation: a topic keyed by channel, written in event-time order.
    wn = args.window_records
    wtopic = create_topic(brokers, parts)
    wtable = bids(wn)
    # One subtask writes, so that each partition is in event-time order (two would interleave
    # their halves, and the peers' watermarks would drop the rows that then arrive late).
    rb.Environment(parallelism=1).from_arrow(wtable).write_kafka(brokers, wtopic, key="channel", progress=False)
    oracle = pyarrow_windows(wtable)
    windows: list[Any] = []
    ours: dict[tuple[str, int], tuple[int, int]] = {}
    for par in (1, 2):
        r0 = time.perf_counter()
        ours = riverbed_windows(brokers, wtopic, par)
        windows.append(("riverbed", par, wn, time.perf_counter() - r0, len(ours),
                        "pyarrow's: " + compare([[c, w, *v] for (c, w), v in oracle.items()], ours)
                        + (f", and {len(ours) - len(oracle)} more" if len(ours) != len(oracle) else "")))
    qpy = quix_python()
    if qpy is None:
        windows.append(("Quix Streams", 1, wn, float("nan"), 0,
                        "not run: quixstreams could not be installed (or set RIVERBED_BENCH_QUIX_PYTHON)"))
    else:
        q = run_peer(qpy, "quix", {"brokers": brokers, "topic": wtopic, "records": wn,
                                   "window_seconds": WINDOW_SECONDS, "idle_timeout": 5.0},
                     os.path.join(HERE, ".cache", "kafka_quix.log"))
        QUIX_VERSION[0] = f", Quix Streams {q['version']}"
        windows.append(("Quix Streams", 1, q["records"], q["seconds"], len(q["windows"]),
                        compare(q["windows"], ours)))
        out.append(("Quix Streams", "windowed aggregation (above)", 1, q["records"], q["seconds"], q["cpu"]))

    flink_note = ""
    if args.no_flink:
        flink_note = "PyFlink: left out of this run (`--no-flink`)."
    else:
        from pyflink_driver import FLINK_PY, JARS, ensure_pyflink

        try:
            ensure_pyflink(FLINK_PY)
            if not glob.glob(os.path.join(JARS, "flink-sql-connector-kafka-*.jar")):
                subprocess.run(["bash", os.path.join(HERE, "pyflink_setup.sh")], check=True)
            f = run_peer(FLINK_PY, "flink", {"brokers": brokers, "topic": src, "jars": JARS, "parallelism": 2,
                                             "repeat": 2, "window_seconds": WINDOW_SECONDS},
                         os.path.join(HERE, ".cache", "kafka_flink.log"))
            FLINK_VERSION[0] = f", PyFlink {f['version']} with flink-sql-connector-kafka " + ", ".join(
                os.path.basename(j)[len("flink-sql-connector-kafka-"):-4]
                for j in glob.glob(os.path.join(JARS, "flink-sql-connector-kafka-*.jar")))
            best = min(f["runs"], key=lambda r: r["seconds"])
            out.append(("PyFlink (Kafka SQL connector)", "consume into a blackhole", 2, n, best["seconds"], 0.0))
            fw = run_peer(FLINK_PY, "flink", {"brokers": brokers, "topic": wtopic, "jars": JARS, "parallelism": 2,
                                              "repeat": 0, "window_seconds": WINDOW_SECONDS},
                          os.path.join(HERE, ".cache", "kafka_flink_window.log"))
            windows.append(("PyFlink (Kafka SQL connector)", 2, wn, fw["window_seconds"], len(fw["windows"]),
                            compare(fw["windows"], ours)))
            flink_note = ("PyFlink: the consume row above is the best of 2 runs of its job (the job's "
                          "wall time, from submission; a mini-cluster in the local JVM); its windowed "
                          "aggregation is one job in streaming mode, bounded at the latest offsets.")
        except Exception as e:  # noqa: BLE001 -- the section says why PyFlink is missing
            flink_note = f"PyFlink: not run: {e}"
    lats = [latency(brokers, rate, args.latency_seconds, 5) for rate in args.rates]
    return out, windows, flink_note, lats


if __name__ == "__main__":
    main()
