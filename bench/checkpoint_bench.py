"""Checkpoint cost, state backends and recovery time (`make bench-checkpoint`).

Runs Nexmark q5, q7 and q8 over riverbed's generator in streaming mode without checkpoints,
with checkpoints every 10 s and every 1 s, on the memory and the Pebble backend; then a job
with large keyed state (a keyed window per bidder and auction) on Pebble with a memory cap
a tenth of its state; then the time a job takes to restore from a savepoint of that state
and read its first batch again. Writes a section of bench/RESULTS.md.

Every variant's answer is compared with the run without checkpoints (the same rows, as a
multiset), so a cheaper checkpoint cannot come from a wrong one.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from results_md import machine, write_section  # noqa: E402  (bench/ is the script's directory)

PARALLELISM = 2
SECTION = "## Checkpoints: cost, state backends, recovery"


def queries(env: Any, events: int | None) -> dict[str, Callable[[], Any]]:
    import riverbed as rb
    from riverbed import col

    def nx() -> Any:
        return env.nexmark(max_events=events, seed=0)

    def q5() -> Any:
        counts = (nx().bids().key_by("auction").window(rb.sliding("10s", every="2s"))
                  .agg(rb.count().alias("num")))
        return counts.top_n(1, "num", with_ties=True).select("auction", "num", "window_start")

    def q7() -> Any:
        return nx().bids().window(rb.tumbling("10s")).agg(col("price").max().alias("max_price"))

    def q8() -> Any:
        g = nx()
        persons = g.persons().select("id", "name", "date_time")
        auctions = g.auctions().select("seller", "date_time")
        pairs = persons.join_window(auctions, left_on="id", right_on="seller", window=rb.tumbling("10s"))
        return (pairs.group_by("id", "name", "window_start", "window_end").agg(rb.count().alias("n"))
                .select("id", "name", "window_start"))

    def big_state() -> Any:
        # One window row per (bidder, auction) pair seen in a minute: state grows with the input.
        return (nx().bids().key_by("bidder", "auction").window(rb.tumbling("60s"))
                .agg(rb.count().alias("n"), col("price").max().alias("max_price")))

    return {"q5": q5, "q7": q7, "q8": q8, "big_state": big_state}


def canon(t: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(r.values()) for r in t.to_pylist())


def run(env_kw: dict[str, Any], name: str, events: int) -> tuple[float, Any, list[dict[str, Any]]]:
    import riverbed as rb

    env = rb.Environment(parallelism=PARALLELISM, runtime_mode="streaming", **env_kw)
    stream = queries(env, events)[name]()
    t0 = time.perf_counter()
    job = stream.start()
    table = job.collect()
    dt = time.perf_counter() - t0
    ckpts = job.checkpoints(as_dict=True) if env_kw.get("checkpoint_dir") else []
    return dt, table, ckpts


def measure(args: argparse.Namespace) -> list[list[str]]:
    rows: list[list[str]] = []
    for q in ("q5", "q7", "q8"):
        base_t, base_table, _ = run({}, q, args.events)
        base = canon(base_table)
        rows.append([q, "none", "—", f"{base_t:.2f}", "1.00x", "0", "—", "—", "—"])
        for backend in ("memory", "pebble"):
            for interval in ("10s", "1s"):
                d = tempfile.mkdtemp(prefix="rb-ckpt-")
                try:
                    t, table, ckpts = run({"checkpoint_dir": d, "checkpoint_interval": interval,
                                           "state_backend": backend}, q, args.events)
                finally:
                    shutil.rmtree(d, ignore_errors=True)
                same = "yes" if canon(table) == base else "NO"
                durs = [c["duration_s"] for c in ckpts]
                sizes = [c["size_bytes"] for c in ckpts]
                rows.append([q, backend, interval, f"{t:.2f}", f"{t / base_t:.2f}x", str(len(ckpts)),
                             f"{1000 * sum(durs) / len(durs):.0f}" if durs else "—",
                             f"{max(sizes) / 1e6:.1f}" if sizes else "—", same])
                print(rows[-1], flush=True)
    return rows


def big_state(args: argparse.Namespace) -> list[list[str]]:
    """Pebble with a memory cap a tenth of the state, against memory; then recovery time."""
    import riverbed as rb

    out: list[list[str]] = []
    base_t, base_table, _ = run({}, "big_state", args.events)
    base = canon(base_table)
    out.append(["memory, no checkpoints", "—", f"{base_t:.2f}", "—", "—", "—"])
    sizes: dict[str, float] = {}
    for backend in ("memory", "pebble"):
        d = tempfile.mkdtemp(prefix="rb-ckpt-")
        kw: dict[str, Any] = {"checkpoint_dir": d, "checkpoint_interval": "2s", "state_backend": backend}
        if backend == "pebble":
            kw["state_memory_limit"] = max(1 << 20, int(sizes.get("memory", 64e6) / 10))
        try:
            t, table, ckpts = run(kw, "big_state", args.events)
        finally:
            shutil.rmtree(d, ignore_errors=True)
        state = max((sum(v for _, v in c["state_bytes"]) for c in ckpts), default=0)
        sizes[backend] = float(state)
        durs = [c["duration_s"] for c in ckpts]
        cap = f", cap {kw['state_memory_limit'] / 1e6:.1f} MB" if backend == "pebble" else ""
        out.append([f"{backend}, checkpoints every 2 s{cap}", str(len(ckpts)), f"{t:.2f}",
                    f"{1000 * sum(durs) / len(durs):.0f}" if durs else "—", f"{state / 1e6:.1f}",
                    "yes" if canon(table) == base else "NO"])
        print(out[-1], flush=True)

    # Recovery: an unbounded run of the same query is stopped with a savepoint once it has
    # read `events` events (its state is then about as large as above); the restored job is
    # timed from start(restore=...) until its source reads again (state loaded, tasks up).
    for backend in ("memory", "pebble"):
        sp = tempfile.mkdtemp(prefix="rb-sp-")
        shutil.rmtree(sp)
        env = rb.Environment(parallelism=PARALLELISM, runtime_mode="streaming", state_backend=backend)
        stream = queries(env, None)["big_state"]()  # unbounded: the job is still running at the savepoint
        job = stream.start()
        while job._h.progress()["rows_read"] < args.events * 0.92:  # bids are 92% of the events
            time.sleep(0.05)
        info = job.stop(savepoint=sp)
        size = sum(info.get("state_bytes", {}).values())
        t0 = time.perf_counter()
        job2 = stream.start(restore=sp)
        while job2._h.progress()["rows_read"] == 0:
            time.sleep(0.002)
        t_back = time.perf_counter() - t0
        job2.cancel()
        shutil.rmtree(sp, ignore_errors=True)
        out.append([f"restore from a savepoint ({backend}) until the source reads again", "—",
                    f"{t_back:.2f}", "—", f"{size / 1e6:.1f}", "—"])
        print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--events", type=int, default=10_000_000, help="Nexmark events per run (default 10M)")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()
    import riverbed as rb

    t0 = time.time()
    load0 = os.getloadavg()[0]
    rows = measure(args)
    big = big_state(args)
    load1 = os.getloadavg()[0]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    lines = [
        SECTION,
        "",
        "Nexmark q5, q7 and q8 without checkpoints and with checkpoints every 10 s and 1 s on each state "
        "backend (`python bench/checkpoint_bench.py`, in `make bench`).",
        "",
        f"- Machine: {machine()}; load average (1 min) "
        f"{load0:.1f} at the start and {load1:.1f} at the end (the higher, the noisier).",
        f"- riverbed {rb.__version__} ({commit}); parallelism {PARALLELISM}; streaming mode; "
        f"{args.events:,} Nexmark events from the generator (`env.nexmark(max_events=...)`, not paced), "
        "every result collected into Arrow. One run per line, so small differences are noise.",
        "- Each checkpointed answer is compared with the run without checkpoints (same rows).",
        "",
        "| query | backend | interval | wall (s) | vs none | checkpoints | mean duration (ms) "
        "| largest (MB) | same answer? |",
        "|---|---|---|---:|---:|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += [
        "",
        "Large keyed state: a 60 s tumbling count and max per (bidder, auction) pair; Pebble's "
        "memory cap (`state_memory_limit`) set to a tenth of the state the memory backend "
        "checkpointed. Recovery: an unbounded run of the same query is stopped with a savepoint "
        "after reading as many bids, then restored; the time is from `start(restore=...)` until "
        "its source reads again (state loaded, tasks running).",
        "",
        "| run | checkpoints | wall (s) | mean checkpoint (ms) | state (MB) | same answer? |",
        "|---|---:|---:|---:|---:|---|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in big]
    lines += ["", f"Whole run: {time.time() - t0:.0f} s."]
    write_section(args.out, SECTION, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
