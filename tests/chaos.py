"""Crash harness: exactly-once output of a checkpointed job under kill -9.

A child process runs a pipeline over a replayable source (Parquet files, or the Nexmark
generator bounded by max_events) -- dedup, keyed tumbling windows, a join -- into the
exactly-once Parquet sink, with checkpoints every 100-300 ms and ``restore="latest"``.
The parent kills it with SIGKILL at random moments (after a random delay, or right after
a checkpoint directory appears, i.e. while the checkpoint is being written or committed),
restarts it (sometimes at another parallelism), and repeats until the child finishes. The
committed output (``*.parquet`` files, read by pyarrow.dataset) must then equal the output
of one uninterrupted run as a multiset of rows: 0 lost, 0 duplicated.

Run as a script for the long version (``make chaos``)::

    python tests/chaos.py --kills 50

The child runs ``python tests/chaos.py child <source> <data> <ckpt> <out> <parallelism>``.
"""

from __future__ import annotations

import argparse
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

    def line(self, source: str) -> str:
        return (f"{source}: kills={self.kills} (mid-checkpoint {self.mid_checkpoint_kills}) "
                f"restarts={self.restarts} restored from checkpoints {self.restored_from} "
                f"parallelisms {self.parallelisms} killed while spilled={self.killed_while_spilled} "
                f"lost={self.lost} duplicated={self.duplicated}")


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


def crash_round(source: str, data: Path, work: Path, kills: int, rng: random.Random, tally: Tally,
                backend: str = "memory") -> Path:
    """Run the child from scratch, killing it up to `kills` times at random moments, until
    it finishes; return its output directory."""
    ckpt, out = work / "ckpt", work / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), RIVERBED_PROGRESS="0")
    killed_here = 0
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
            how = "completed" if killed_here == 0 else rng.choice(["delay", "delay", "checkpoint"])
            mid = how == "checkpoint"
            if how == "delay":
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
                killed_here += 1
                tally.kills += 1
                tally.mid_checkpoint_kills += int(mid)
        try:
            _, err = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        if killed:
            # A killed job leaves its spill stores (the next job in the directory removes them).
            tally.killed_while_spilled += any((ckpt / ".work").glob("riverbed-spill-*"))
            assert proc.returncode == -signal.SIGKILL, f"child ended with {proc.returncode} before the kill:\n{err}"
            continue
        assert proc.returncode == 0, f"child (restart {tally.restarts}, parallelism {par}) failed:\n{err}"
        return out


def run(source: str, data: Path, work: Path, kills: int, seed: int, log=print, backend: str = "memory") -> Tally:
    """Crash rounds (each from scratch, each checked) until `kills` kills in all."""
    work.mkdir(parents=True, exist_ok=True)
    want = reference(source, data, work / "reference")
    assert want.num_rows > 1000
    if source == "parquet":
        oracle = duckdb_oracle(data)
        assert diff(want, oracle) == (0, 0), "the uninterrupted run differs from DuckDB's answer"
    rng = random.Random(seed)
    tally = Tally()
    rounds = 0
    while tally.kills < kills:
        out = crash_round(source, data, work / f"round-{rounds}", kills - tally.kills, rng, tally, backend)
        rounds += 1
        lost, dup = diff(read_committed(out), want)
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
    ap.add_argument("--kills", type=int, default=50, help="kills in all, split between the sources")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--work", type=Path, default=None, help="working directory (default: a temporary one)")
    ap.add_argument("--backend", choices=sorted(BACKENDS), default="memory",
                    help="state backend of the child (spill: Pebble with a 1-byte memory cap)")
    a = ap.parse_args()
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        data = work / "data"
        make_parquet_input(data)
        print(f"seed {a.seed}")
        tallies = []
        for i, source in enumerate(["parquet", "nexmark"]):
            share = a.kills // 2 + (a.kills % 2 if i == 0 else 0)
            tallies.append(run(source, data, work / source, share, a.seed + i, backend=a.backend))
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
