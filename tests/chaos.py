"""Crash harness: exactly-once output of a checkpointed job under kill -9.

A child process runs a pipeline over a replayable source (Parquet files, the Nexmark
generator bounded by max_events, or Kafka topics read up to their end) -- dedup, keyed
tumbling windows, a join -- into an exactly-once sink (Parquet files; for the Kafka source,
a Kafka topic written with transactions), with checkpoints every 100-300 ms and
``restore="latest"``. The parent kills it with SIGKILL at random moments (after a random
delay, or right after a checkpoint directory appears, i.e. while the checkpoint is being
written or committed; for Kafka also before the first checkpoint completed), restarts it
(sometimes at another parallelism), and repeats until the child finishes. The committed
output (``*.parquet`` files, read by pyarrow.dataset; or the output topic, read by a
``read_committed`` librdkafka consumer) must then equal the output of one uninterrupted run
as a multiset of rows: 0 lost, 0 duplicated.

Run as a script for the long version (``make chaos``; the Kafka source needs a broker in
RIVERBED_KAFKA_BROKERS, which ``kafka/testbroker/broker.sh run`` provides)::

    python tests/chaos.py --kills 50 --kafka-kills 50

The child runs ``python tests/chaos.py child <source> <data> <ckpt> <out> <parallelism>
<interval ms> <backend>``; for Kafka, <data> is the input topics' name prefix and <out> the
output topic.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

import riverbed as rb
from riverbed import col

HERE = Path(__file__).resolve()
NEXMARK_EVENTS = 200_000
NEXMARK_RATE = 100_000  # events per second: a run lasts about two seconds
PARQUET_BIDS = 120_000
SLEEP_PER_BATCH = 0.01  # seconds, in a map_batches over the Parquet input: a run lasts a second or more
WINDOW = "100ms"  # many windows over the two seconds of event time of either source
WINDOW_MS = 100
COLUMNS = ["auction", "window_start", "window_end", "n", "total", "category"]


def make_parquet_input(data: Path) -> None:
    """Bids and auctions as Parquet files, written once: bids carry a bid_id and some
    exact duplicates (for dedup), in several files of several row groups."""
    if (data / "done").exists():
        return
    (data / "bids").mkdir(parents=True, exist_ok=True)
    (data / "auctions").mkdir(parents=True, exist_ok=True)
    n = rb.nexmark(max_events=PARQUET_BIDS * 100 // 92 + 1000)
    bids = n.bids().collect(progress=False).select(["auction", "bidder", "price", "date_time"]).slice(0, PARQUET_BIDS)
    bids = bids.append_column("bid_id", pa.array(range(bids.num_rows), pa.int64()))
    rng = random.Random(7)
    dups = sorted(rng.sample(range(bids.num_rows), bids.num_rows // 20))
    bids = pa.concat_tables([bids, bids.take(dups)]).combine_chunks()
    order = list(range(bids.num_rows))
    rng.shuffle(order)  # out of event-time order: batch mode must not care
    bids = bids.take(order)
    files = 6
    per = -(-bids.num_rows // files)
    for i in range(files):
        pq.write_table(bids.slice(i * per, per), data / "bids" / f"bids-{i}.parquet", row_group_size=4_000)
    auctions = n.auctions().collect(progress=False).select(["id", "category"])
    pq.write_table(auctions, data / "auctions" / "auctions.parquet", row_group_size=2_000)
    (data / "done").write_text("")


def _slow(batch: pa.RecordBatch) -> pa.RecordBatch:
    time.sleep(SLEEP_PER_BATCH)
    return batch


def pipeline(env: rb.Environment, source: str, data: Path | None, *, slow: bool = True) -> rb.Stream:
    """dedup -> keyed tumbling window -> join with the auctions' categories."""
    if source == "parquet":
        assert data is not None
        bids = env.read_parquet(data / "bids", event_time="date_time")
        if slow:
            bids = bids.map_batches(_slow)
        bids = bids.deduplicate("bid_id")
        auctions = env.read_parquet(data / "auctions")
    elif source == "nexmark":
        # Paced (the rate also spaces the event times, so the reference is paced too).
        gen = env.nexmark(NEXMARK_RATE, max_events=NEXMARK_EVENTS)
        # Dedup on the whole bid: which of two equal-key rows is "first" must not depend
        # on timing for the output to be comparable.
        bids = gen.bids().deduplicate("auction", "bidder", "price", "date_time")
        auctions = gen.auctions().select("id", "category")
    else:
        raise ValueError(f"unknown source {source!r}")
    windows = (bids.key_by("auction").window(rb.tumbling(WINDOW))
               .agg(rb.count().alias("n"), col("price").sum().alias("total")))
    return windows.join(auctions.select("id", "category"), left_on="auction", right_on="id").select(*COLUMNS)


#: State backends the child can run on: "spill" is Pebble with a 1-byte memory cap, so the
#: rows the dedup and the join hold live in the spill store (state larger than memory).
BACKENDS = {"memory": {}, "spill": {"state_backend": "pebble", "state_memory_limit": 1}}


def child(source: str, data: str, ckpt: str, out: str, parallelism: int, interval_ms: int,
          backend: str = "memory") -> None:
    env = rb.Environment(parallelism=parallelism, batch_size=1_000, checkpoint_dir=ckpt,
                         checkpoint_interval=f"{interval_ms}ms", **BACKENDS[backend])
    if source == "kafka":
        job = write_kafka_exactly_once(kafka_pipeline(env, data), out).start(runtime_mode="streaming",
                                                                            restore="latest")
    else:
        job = pipeline(env, source, Path(data)).write_parquet(out, max_rows_per_file=2_000, lazy=True).start(
            restore="latest")
    print("started", flush=True)
    job.wait()


def reference(source: str, data: Path | None, out: Path) -> pa.Table:
    """One uninterrupted run, without checkpoints, in this process."""
    pipeline(rb.Environment(parallelism=2), source, data, slow=False).write_parquet(out, progress=False)
    return read_committed(out)


def read_committed(out: Path) -> pa.Table:
    """What readers of the directory see: the committed *.parquet files only."""
    files = sorted(str(p) for p in out.glob("*.parquet")) if out.is_dir() else []
    if not files:
        return pa.table({c: [] for c in COLUMNS})
    return normalize(ds.dataset(files, format="parquet").to_table())


def normalize(t: pa.Table) -> pa.Table:
    t = t.select(COLUMNS)
    for i, c in ((1, "window_start"), (2, "window_end")):
        if pa.types.is_timestamp(t[c].type):
            t = t.set_column(i, c, pc.cast(t[c], pa.timestamp("ms")).cast(pa.int64()))
    t = t.cast(pa.schema([(c, pa.int64()) for c in COLUMNS]))
    return t.sort_by([(c, "ascending") for c in COLUMNS])


def duckdb_oracle(data: Path) -> pa.Table:
    """The Parquet pipeline computed by DuckDB, independently of the engine."""
    import duckdb  # not at the top: the child does not need it, and it is slow to import

    rows = duckdb.sql(f"""
        with b as (select distinct bid_id, auction, bidder, price, date_time
                   from read_parquet('{data}/bids/*.parquet')),
        w as (select auction, (epoch_ms(date_time) // {WINDOW_MS}) * {WINDOW_MS} as ws,
                     count(*) as n, sum(price) as total
              from b group by all)
        select w.auction, w.ws as window_start, w.ws + {WINDOW_MS} as window_end, w.n, w.total, a.category
        from w join read_parquet('{data}/auctions/*.parquet') a on w.auction = a.id
    """).to_arrow_table()
    return normalize(rows)


# -- the Kafka source: topics in, exactly-once Kafka out ----------------------------------

KAFKA_PARTITIONS = 4
KAFKA_BIDS = 6_000
KAFKA_AUCTIONS = 60
KAFKA_POLL = 40  # records per poll: many small batches, so that a run lasts a few seconds
KAFKA_T0 = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
KAFKA_BID_SCHEMA = {"bid_id": pa.int64(), "auction": pa.int64(), "price": pa.int64(),
                    "date_time": pa.timestamp("ms", "UTC")}


def brokers() -> str:
    b = os.environ.get("RIVERBED_KAFKA_BROKERS")
    if not b:
        raise SystemExit("the Kafka source needs a broker: set RIVERBED_KAFKA_BROKERS "
                         "(kafka/testbroker/broker.sh run ... starts one for a command)")
    return b


def kafka_input() -> tuple[list[tuple[int, dict]], list[dict]]:
    """The input, the same on every call: (partition, bid) in produce order, and the auctions.

    Each partition's bids are in event-time order (2 ms apart, so a run spans three seconds
    of event time, about 30 windows of 100 ms): with ``max_out_of_orderness="0s"`` no bid is
    ever late, whatever the interleaving of partitions. One bid in 20 is written twice in a
    row (an exact duplicate, for the dedup). Auctions whose id is a multiple of 7 are
    missing (the inner join drops their windows)."""
    rng = random.Random(17)
    bids: list[tuple[int, dict]] = []
    per = KAFKA_BIDS // KAFKA_PARTITIONS
    for i in range(KAFKA_BIDS):
        part, k = i % KAFKA_PARTITIONS, i // KAFKA_PARTITIONS
        ts = KAFKA_T0 + dt.timedelta(milliseconds=k * 3000 // per)
        b = {"bid_id": i, "auction": rng.randrange(KAFKA_AUCTIONS), "price": rng.randrange(1, 1000),
             "date_time": ts.isoformat()}
        bids.append((part, b))
        if rng.random() < 0.05:
            bids.append((part, b))
    auctions = [{"id": a, "category": 10 + a % 5} for a in range(KAFKA_AUCTIONS) if a % 7]
    return bids, auctions


def create_topic(name: str, partitions: int) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    adm = AdminClient({"bootstrap.servers": brokers()})
    adm.create_topics([NewTopic(name, partitions, 1)])[name].result(60)


def make_kafka_input(name: str) -> None:
    """Produce the input once into topics ``name-bids`` (several partitions) and
    ``name-auctions`` (one), with librdkafka."""
    import confluent_kafka as ck

    bids, auctions = kafka_input()
    create_topic(f"{name}-bids", KAFKA_PARTITIONS)
    create_topic(f"{name}-auctions", 1)
    p = ck.Producer({"bootstrap.servers": brokers(), "linger.ms": 5, "enable.idempotence": True})
    errors: list = []

    def on_delivery(err, _msg):
        if err:
            errors.append(err)

    for part, b in bids:
        p.produce(f"{name}-bids", json.dumps(b).encode(), partition=part, on_delivery=on_delivery)
    for a in auctions:
        p.produce(f"{name}-auctions", json.dumps(a).encode(), partition=0, on_delivery=on_delivery)
    assert p.flush(60) == 0 and not errors, errors


def kafka_pipeline(env: rb.Environment, name: str, *, slow: bool = True) -> rb.Stream:
    """read_kafka (to the end of the topics) -> dedup -> keyed tumbling window -> join with
    the auctions' categories, in streaming mode: windows fire as the watermark passes, so
    results are written (and their transactions committed) during the run."""
    bids = env.read_kafka(brokers(), f"{name}-bids", schema=KAFKA_BID_SCHEMA, end="latest",
                          event_time="date_time", max_out_of_orderness="0s",
                          options={"max.poll.records": KAFKA_POLL})
    if slow:
        bids = bids.map_batches(_slow)
    auctions = env.read_kafka(brokers(), f"{name}-auctions", schema={"id": pa.int64(), "category": pa.int64()},
                              end="latest")
    windows = (bids.deduplicate("bid_id").key_by("auction").window(rb.tumbling(WINDOW))
               .agg(rb.count().alias("n"), col("price").sum().alias("total")))
    return windows.join(auctions, left_on="auction", right_on="id").select(*COLUMNS)


def write_kafka_exactly_once(s: rb.Stream, topic: str) -> rb.Stream:
    return s.write_kafka(brokers(), topic, key="auction", delivery_guarantee="exactly-once",
                         transactional_id_prefix=f"tx-{topic}", lazy=True)


def kafka_reference(name: str, out: str) -> pa.Table:
    """One uninterrupted run, without checkpoints, in this process, into topic `out`;
    checked against a plain-Python computation of the pipeline."""
    create_topic(out, 3)
    job = write_kafka_exactly_once(kafka_pipeline(rb.Environment(parallelism=2), name, slow=False), out)
    job.start(runtime_mode="streaming").wait()
    got = read_kafka_committed(out)
    lost, extra = diff(got, python_reference())
    assert (lost, extra) == (0, 0), (f"the uninterrupted run differs from the plain-Python reference: "
                                     f"{lost} rows missing, {extra} extra")
    return got


def python_reference() -> pa.Table:
    """The Kafka pipeline in plain Python, independently of the engine."""
    bids, auctions = kafka_input()
    seen: set[int] = set()
    agg: dict[tuple[int, int], list[int]] = {}
    for _, b in bids:
        if b["bid_id"] in seen:
            continue
        seen.add(b["bid_id"])
        ms = int(dt.datetime.fromisoformat(b["date_time"]).timestamp() * 1000)
        a = agg.setdefault((b["auction"], ms // WINDOW_MS * WINDOW_MS), [0, 0])
        a[0] += 1
        a[1] += b["price"]
    cat = {a["id"]: a["category"] for a in auctions}
    rows = [{"auction": k, "window_start": ws, "window_end": ws + WINDOW_MS, "n": n, "total": t, "category": cat[k]}
            for (k, ws), (n, t) in agg.items() if k in cat]
    return normalize(pa.Table.from_pylist(rows, schema=pa.schema([(c, pa.int64()) for c in COLUMNS])))


def _epoch_ms(v) -> int:
    if isinstance(v, str):
        return int(dt.datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp() * 1000)
    return int(v)


def read_kafka_committed(topic: str, *, committed: bool = True) -> pa.Table:
    """What a consumer with isolation.level=read_committed (librdkafka) reads from `topic`,
    every partition to its end (with committed=False: read_uncommitted, aborted records
    included). Waits until the last stable offset reaches the high watermark: a
    transaction left open by a killed job (neither committed nor aborted) holds it back,
    and is reported as such."""
    import confluent_kafka as ck

    iso = "read_committed" if committed else "read_uncommitted"
    c = ck.Consumer({"bootstrap.servers": brokers(), "group.id": f"chaos-check-{time.time_ns()}",
                     "isolation.level": iso, "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    raw = ck.Consumer({"bootstrap.servers": brokers(), "group.id": "chaos-hw", "isolation.level": "read_uncommitted"})
    try:
        parts = [ck.TopicPartition(topic, p) for p in c.list_topics(topic, timeout=30).topics[topic].partitions]
        ends = {}
        deadline = time.monotonic() + 60
        for tp in parts:
            hw = raw.get_watermark_offsets(tp, timeout=30)[1]
            while c.get_watermark_offsets(tp, timeout=30)[1] < hw:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{topic} partition {tp.partition}: the last stable offset stays below "
                                         f"the high watermark {hw}: a transaction was left open")
                time.sleep(0.05)
            ends[tp.partition] = hw
        c.assign([ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in ends])
        rows = []
        deadline = time.monotonic() + 60
        while True:
            assert time.monotonic() < deadline, f"reading {topic} did not reach the end offsets {ends}"
            m = c.poll(0.2)
            if m is not None and not m.error():
                r = json.loads(m.value())
                rows.append({c_: _epoch_ms(r[c_]) for c_ in COLUMNS})
            # The position passes aborted records and transaction markers too.
            pos = {tp.partition: tp.offset for tp in c.position([ck.TopicPartition(topic, p) for p in ends])}
            if all(e == 0 or pos[p] >= e for p, e in ends.items()):
                break
        return normalize(pa.Table.from_pylist(rows, schema=pa.schema([(c_, pa.int64()) for c_ in COLUMNS])))
    finally:
        c.close()
        raw.close()


def diff(got: pa.Table, want: pa.Table) -> tuple[int, int]:
    """(rows lost, rows duplicated or extra) between multisets of rows."""
    import duckdb

    g, w = got, want  # noqa: F841 (read by DuckDB)
    lost = duckdb.sql("select count(*) from (select * from w except all select * from g)").fetchall()
    extra = duckdb.sql("select count(*) from (select * from g except all select * from w)").fetchall()
    return lost[0][0], extra[0][0]


@dataclass
class Tally:
    kills: int = 0
    restarts: int = 0
    mid_checkpoint_kills: int = 0
    restored_from: list[int] = field(default_factory=list)  # latest complete checkpoint id at each restart
    parallelisms: list[int] = field(default_factory=list)
    lost: int = 0
    duplicated: int = 0
    killed_while_spilled: int = 0  # kills that left a spill store behind (rows were on disk)
    early_kills: int = 0  # kills before the first checkpoint completed (Kafka)
    uncommitted: int = 0  # records in the output topic that read_committed must not see (Kafka)

    def line(self, source: str) -> str:
        kinds = f"mid-checkpoint {self.mid_checkpoint_kills}"
        if source == "kafka":
            kinds += f", before the first checkpoint {self.early_kills}"
        text = (f"{source}: kills={self.kills} ({kinds}) restarts={self.restarts} "
                f"restored from checkpoints {self.restored_from} parallelisms {self.parallelisms} ")
        if source == "kafka":
            text += f"aborted records={self.uncommitted} "
        else:
            text += f"killed while spilled={self.killed_while_spilled} "
        return text + f"lost={self.lost} duplicated={self.duplicated}"


def complete_checkpoints(ckpt: Path) -> list[int]:
    if not ckpt.is_dir():
        return []
    ids = []
    for d in ckpt.iterdir():
        if (d / "_metadata").exists():
            digits = "".join(ch for ch in d.name if ch.isdigit())
            if digits:
                ids.append(int(digits))
    return sorted(ids)


def checkpoint_dirs(ckpt: Path) -> set[str]:
    return {d.name for d in ckpt.iterdir()} if ckpt.is_dir() else set()


def crash_round(source: str, data: Path | str, work: Path, kills: int, rng: random.Random, tally: Tally,
                backend: str = "memory", out: Path | str | None = None) -> Path | str:
    """Run the child from scratch, killing it up to `kills` times at random moments, until
    it finishes; return its output (directory, or topic for Kafka)."""
    ckpt = work / "ckpt"
    out = work / "out" if out is None else out
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), RIVERBED_PROGRESS="0")
    killed_here = 0
    early_round = False
    deadline = time.monotonic() + 120 + 30 * kills
    while True:
        assert time.monotonic() < deadline, f"the crash loop did not finish: {tally.line(source)}"
        par = rng.choice([1, 2, 3])
        interval = rng.randint(100, 300)
        if killed_here:
            tally.restarts += 1
            done = complete_checkpoints(ckpt)
            tally.restored_from.append(done[-1] if done else 0)
        tally.parallelisms.append(par)
        proc = subprocess.Popen([sys.executable, str(HERE), "child", source, str(data), str(ckpt), str(out),
                                 str(par), str(interval), backend], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        proc.stdout.readline()  # "started" (or "" if the child failed: then it is not killed)
        killed = False
        if killed_here < kills:
            # The first kill of a round falls just after a checkpoint completed (so the
            # restart restores state for sure); the others after a random delay, or just
            # after a checkpoint directory appears (while it is written, its manifest
            # written, or the sink's commit that follows runs).
            # With Kafka, one round in three starts with a kill before any checkpoint
            # completed: the restart has nothing to restore, yet the transactions the
            # killed subtasks opened (more of them than the restart may have) must not
            # stay open nor be committed.
            if killed_here == 0:
                how = "early" if source == "kafka" and rng.random() < 1 / 3 else "completed"
                early_round = how == "early"
            elif killed_here == 1 and early_round:
                how = "completed"  # then one after a checkpoint completed, as in the other rounds
            else:
                how = rng.choice(["delay", "delay", "checkpoint"])
            mid = how == "checkpoint"
            if how == "early":
                t_end = time.monotonic() + rng.uniform(0, 0.4)
                while proc.poll() is None and time.monotonic() < t_end and not complete_checkpoints(ckpt):
                    time.sleep(0.002)
                if complete_checkpoints(ckpt):
                    how = "late"  # a checkpoint completed all the same: not counted as early
            elif how == "delay":
                t_end = time.monotonic() + rng.uniform(0, 1.2)
                while proc.poll() is None and time.monotonic() < t_end:
                    time.sleep(0.002)
            else:
                seen = checkpoint_dirs(ckpt) if mid else set(map(str, complete_checkpoints(ckpt)))
                stop_at = time.monotonic() + 10
                while proc.poll() is None and time.monotonic() < stop_at:
                    now = checkpoint_dirs(ckpt) if mid else set(map(str, complete_checkpoints(ckpt)))
                    if now - seen:
                        time.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02]))
                        break
                    time.sleep(0.001)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed = True
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        if killed and proc.returncode == 0:
            # It ended by itself in the instant between the check and the signal (which
            # is then not sent): a run to the end, checked as one.
            killed = False
        if killed:
            killed_here += 1
            tally.kills += 1
            tally.mid_checkpoint_kills += int(mid)
            tally.early_kills += int(how == "early")
            # A killed job leaves its spill stores (the next job in the directory removes them).
            tally.killed_while_spilled += any((ckpt / ".work").glob("riverbed-spill-*"))
            assert proc.returncode == -signal.SIGKILL, f"child ended with {proc.returncode} before the kill:\n{err}"
            continue
        assert proc.returncode == 0, f"child (restart {tally.restarts}, parallelism {par}) failed:\n{err}"
        return out


def run(source: str, data: Path, work: Path, kills: int, seed: int, log=print, backend: str = "memory") -> Tally:
    """Crash rounds (each from scratch, each checked) until `kills` kills in all. For the
    Kafka source, `data` is unused: the input topics are produced here, once, under a
    fresh name, and every round writes to a fresh output topic."""
    work.mkdir(parents=True, exist_ok=True)
    inp: Path | str = data
    if source == "kafka":
        inp = f"chaos-{os.getpid()}-{time.time_ns()}"
        make_kafka_input(inp)
        want = kafka_reference(inp, f"{inp}-reference")
    else:
        want = reference(source, data, work / "reference")
    assert want.num_rows > 1000
    if source == "parquet":
        oracle = duckdb_oracle(data)
        assert diff(want, oracle) == (0, 0), "the uninterrupted run differs from DuckDB's answer"
    rng = random.Random(seed)
    tally = Tally()
    rounds = 0
    while tally.kills < kills:
        topic = None
        if source == "kafka":
            topic = f"{inp}-out-{rounds}"
            create_topic(topic, 3)
        out = crash_round(source, inp, work / f"round-{rounds}", kills - tally.kills, rng, tally, backend, topic)
        rounds += 1
        if source == "kafka":
            got = read_kafka_committed(str(out))
            tally.uncommitted += read_kafka_committed(str(out), committed=False).num_rows - got.num_rows
        else:
            got = read_committed(Path(out))
        lost, dup = diff(got, want)
        tally.lost += lost
        tally.duplicated += dup
        if lost or dup:
            log(f"round {rounds - 1} of {source}: {lost} rows lost, {dup} duplicated ({out})")
    log(tally.line(source) + f" rounds={rounds}")
    return tally


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "child":
        source, data, ckpt, out, par, interval, backend = sys.argv[2:9]
        child(source, data, ckpt, out, int(par), int(interval), backend)
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=50, help="kills in all, split between the Parquet and Nexmark sources")
    ap.add_argument("--kafka-kills", type=int, default=0,
                    help="kills of the Kafka source (Kafka in, exactly-once Kafka out); needs RIVERBED_KAFKA_BROKERS")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="memory",
                    help="state backend of the child (spill: Pebble with a 1-byte memory cap)")
    a = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        data = work / "data"
        if a.kills:
            make_parquet_input(data)
        print(f"seed {a.seed}")
        tallies = []
        if a.kills:
            for i, source in enumerate(["parquet", "nexmark"]):
                share = a.kills // 2 + (a.kills % 2 if i == 0 else 0)
                tallies.append(run(source, data, work / source, share, a.seed + i, backend=a.backend))
        if a.kafka_kills:
            tallies.append(run("kafka", data, work / "kafka", a.kafka_kills, a.seed + 2, backend=a.backend))
        kills = sum(t.kills for t in tallies)
        restarts = sum(t.restarts for t in tallies)
        lost = sum(t.lost for t in tallies)
        dup = sum(t.duplicated for t in tallies)
        print(f"total: kills={kills} restarts={restarts} "
              f"restored from a checkpoint={sum(1 for t in tallies for c in t.restored_from if c)} "
              f"rows lost={lost} duplicated={dup}")
        if lost or dup:
            sys.exit(1)


if __name__ == "__main__":
    main()
