"""Checkpoint cost, state backends and recovery time (`make bench-checkpoint`).

Runs Nexmark q5, q7 and q8 over riverbed's generator in streaming mode without checkpoints,
with checkpoints every 10 s and every 1 s, on the memory and the Pebble backend; then a job
with large keyed state (a keyed window per bidder and auction) on Pebble with a memory cap
a tenth of its state; then the time a job takes to restore from a savepoint of that state
and read its first batch again. Writes a section of bench/RESULTS.md.

A second section (`--only spill` runs it alone) sets state larger than memory against
memory: a streaming join whose state is ten times its memory cap, on the Pebble backend
(rows beyond the cap spilled to disk) and on the memory backend, each run in a child
process whose peak RSS is measured; and the same sources without the join, for the memory
a job takes besides its state.

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
import threading
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from results_md import machine, peak_rss_mb, write_section  # noqa: E402  (bench/ is the script's directory)

PARALLELISM = 2
SECTION = "## Checkpoints: cost, state backends, recovery"
SPILL_SECTION = "## State larger than memory: spilling join state (Pebble) against memory"
SPILL_PAYLOAD = 2000  # bytes of text per row: the rows, not the join's index, are most of the state
SPILL_BATCH = 4096


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


def drain(job: Any) -> None:
    """Reads a running job's results until it ends (stopped or cancelled)."""
    try:
        for _ in job.results():
            pass
    except Exception:  # noqa: BLE001  (a cancelled job ends its results with an error)
        pass


def big_state(args: argparse.Namespace) -> list[list[str]]:
    """Pebble with a memory cap a tenth of the state, against memory; then recovery time."""
    import riverbed as rb

    out: list[list[str]] = []
    base_t, base_table, _ = run({}, "big_state", args.state_events)
    base = canon(base_table)
    out.append(["memory, no checkpoints", "—", f"{base_t:.2f}", "—", "—", "—"])
    sizes: dict[str, float] = {}
    for backend in ("memory", "pebble"):
        d = tempfile.mkdtemp(prefix="rb-ckpt-")
        kw: dict[str, Any] = {"checkpoint_dir": d, "checkpoint_interval": "2s", "state_backend": backend}
        if backend == "pebble":
            kw["state_memory_limit"] = max(1 << 20, int(sizes.get("memory", 64e6) / 10))
        try:
            t, table, ckpts = run(kw, "big_state", args.state_events)
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
        # The windows' results are read as they come (else they fill the buffers and hold the job).
        threading.Thread(target=drain, args=(job,), daemon=True).start()
        while job._h.progress()["rows_read"] < args.state_events * 0.92:  # bids are 92% of the events
            time.sleep(0.05)
        info = job.stop(savepoint=sp)
        size = sum(info.get("state_bytes", {}).values())
        t0 = time.perf_counter()
        job2 = stream.start(restore=sp)
        threading.Thread(target=drain, args=(job2,), daemon=True).start()
        while job2._h.progress()["rows_read"] == 0:
            time.sleep(0.002)
        t_back = time.perf_counter() - t0
        job2.cancel()
        shutil.rmtree(sp, ignore_errors=True)
        out.append([f"restore from a savepoint ({backend}) until the source reads again", "—",
                    f"{t_back:.2f}", "—", f"{size / 1e6:.1f}", "—"])
        print(out[-1], flush=True)
    return out


def spill_stream(env: Any, rows: int, pattern: str, join: bool = True, payload: int = SPILL_PAYLOAD) -> Any:
    """Two generated inputs of `rows` rows (an id, a key, `payload` bytes of text)
    joined on the key (inner, streaming: the join keeps every row of both sides). With
    pattern "recent", a right row matches the left row 1000 rows back (a payment after
    its order): lookups hit recently added state. With "anywhere", keys are spread so
    that lookups hit rows anywhere in the state. join=False unions the inputs instead (the
    same pipeline without state)."""
    import riverbed as rb
    from riverbed import col

    def side(tag: str) -> Any:
        s = env.datagen({"x": rb.Int64}, fields={"x": {"kind": "sequence", "min": 0}}, number_of_rows=rows)
        if pattern == "recent":
            k = col("x") if tag == "l" else col("x") - 1000
        else:
            k = (col("x") * 7 % rows) if tag == "l" else (col("x") * 2 % rows)
        pad = rb.lit("p" * payload)
        return s.select(col("x").alias("id"), k.alias("k"), rb.concat_str([col("x").cast(rb.Utf8), pad]).alias("p"))

    if not join:
        return side("l").union(side("r")).select("id", "k")
    return side("l").join(side("r"), on="k", suffix="_r").select("id", "id_r")


def spill_child(argv: list[str]) -> None:
    """One measured run (in a child process): prints rows out, seconds and the peak of the
    join's state in memory by the engine's own accounting (`spill_resident_bytes` and
    `spill_index_bytes`: rows and index, over its subtasks) as JSON."""
    import json
    import threading

    import riverbed as rb

    backend, rows, cap, pattern, payload = argv[0], int(argv[1]), int(argv[2]), argv[3], int(argv[4])
    kw: dict[str, Any] = {"state_backend": backend} if backend != "none" else {}
    if backend == "pebble":
        kw["state_memory_limit"] = cap
    if os.environ.get("BENCH_BUFFER_BYTES"):
        kw["buffer_bytes"] = int(os.environ["BENCH_BUFFER_BYTES"])
    env = rb.Environment(parallelism=PARALLELISM, batch_size=SPILL_BATCH, runtime_mode="streaming", **kw)
    stream = spill_stream(env, rows, pattern, join=backend != "none", payload=payload)
    t0 = time.perf_counter()
    job = stream.start()
    held = [0]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            try:
                held[0] = max(held[0], sum(m["spill_resident_bytes"] + m["spill_index_bytes"]
                                           for m in job.metrics(as_dict=True)))
            except Exception:  # the job ended between the check and the call
                return

    w = threading.Thread(target=watch, daemon=True)
    w.start()
    n = sum(b.num_rows for b in job.results())
    done.set()
    w.join()
    print(json.dumps({"rows_out": n, "seconds": time.perf_counter() - t0, "held": held[0], "rss": peak_rss_mb()}))


def spill_run(backend: str, rows: int, cap: int, pattern: str, payload: int = SPILL_PAYLOAD,
              env: dict[str, str] | None = None) -> tuple[float, float, int, int]:
    """Runs spill_child in a child process (with env added to its environment): (seconds,
    peak RSS in MB, rows out, peak state in memory by the engine's accounting in bytes)."""
    import json

    proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--spill-child", backend, str(rows),
                             str(cap), pattern, str(payload)], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    out = proc.stdout.read() if proc.stdout else ""
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise RuntimeError(f"the {backend} run failed (status {status})")
    res = json.loads(out.strip().splitlines()[-1])
    # The child's own peak (VmHWM): a child's ru_maxrss starts from its parent's RSS (the
    # exec after a vfork carries the parent's high-water mark over).
    rss = res["rss"] if res.get("rss") is not None else usage.ru_maxrss / 1024
    return res["seconds"], rss, res["rows_out"], res["held"]


def spill(args: argparse.Namespace) -> tuple[list[list[str]], dict[str, Any]]:
    """The join over state ten times its cap, Pebble against memory, best of args.repeat."""
    rows = args.spill_rows
    state = 2 * rows * (SPILL_PAYLOAD + 30)  # both sides' rows: payload, id, key, offsets
    cap = state // (10 * PARALLELISM)  # per stateful operator subtask
    out: list[list[str]] = []
    fixed = {"MALLOC_MMAP_THRESHOLD_": "131072"}
    allocators = {"default": {}, "glibc, fixed mmap threshold": fixed,
                  "glibc, fixed mmap threshold; `buffer_bytes` 8 MiB": {**fixed, "BENCH_BUFFER_BYTES": str(8 << 20)}}
    for pattern in ("recent", "anywhere"):
        for alloc, env in allocators.items():
            base_t = base_rss = None
            for backend in ("none", "memory", "pebble"):
                runs = [spill_run(backend, rows, cap, pattern, env=env) for _ in range(args.repeat)]
                t = min(r[0] for r in runs)
                rss = max(r[1] for r in runs)
                held = max(r[3] for r in runs)
                if backend == "none":
                    base_rss = rss
                if backend == "memory":
                    base_t = t
                name = {"none": "no join (the sources alone)", "memory": "memory",
                        "pebble": f"pebble, cap {cap / 1e6:.1f} MB per subtask"}[backend]
                out.append([pattern, alloc, name, f"{rows * 2 / t / 1e3:.0f}", f"{rss:.0f}",
                            f"{rss - base_rss:.0f}" if base_rss is not None and backend != "none" else "—",
                            f"{base_t / t:.2f}x" if base_t and backend == "pebble" else "—",
                            f"{held / 1e6:.1f}" if backend == "pebble" else "—",
                            str(runs[0][2]) if backend != "none" else "—"])
                print(out[-1], flush=True)
    return out, {"rows": rows, "state": state, "cap": cap}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--events", type=int, default=100_000_000,
                    help="Nexmark events per run of q5/q7/q8 (default 100M: long enough for several 10 s checkpoints)")
    ap.add_argument("--state-events", type=int, default=10_000_000,
                    help="Nexmark events of the large-state runs and the recovery (default 10M)")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--only", choices=["checkpoints", "spill"], help="run one of the two sections")
    ap.add_argument("--spill-rows", type=int, default=100_000, help="rows per join input in the spill section")
    ap.add_argument("--repeat", type=int, default=2, help="runs per line of the spill section (best time, "
                    "largest RSS)")
    ap.add_argument("--spill-child", nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.spill_child:
        spill_child(args.spill_child)
        return
    import riverbed as rb

    if args.only != "checkpoints":
        write_spill(args)
    if args.only == "spill":
        return
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
        "every result collected into Arrow. One run per line, so small differences are noise. "
        "A checkpoint is also taken when the input ends, so a run shorter than the interval counts one.",
        "- Each checkpointed answer is compared with the run without checkpoints (same rows).",
        "- At the barrier a task saves its operators' state into fresh backends (a copy: the synchronous "
        "part) and passes the barrier on; the files are written in the background (the asynchronous part). "
        "A checkpoint's duration runs until every write has ended; the save is time the task does not "
        "process rows, and for q8 at 1 s (tens of MB of rows of the open windows) it is most of the cost.",
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
        f"checkpointed; {args.state_events:,} events. Recovery: an unbounded run of the same query "
        "is stopped with a savepoint "
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


def spill_store_mb(cap: int) -> float:
    """The part of a subtask's memory cap given to its spill store, in MB (as the engine's
    spillStoreMemory: an eighth, at least 2 MiB, at most 64 MiB)."""
    return min(max(cap // 8, 2 << 20), 64 << 20) / 1e6


def write_spill(args: argparse.Namespace) -> None:
    import riverbed as rb

    t0 = time.time()
    up0 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    rows, info = spill(args)
    up1 = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    lines = [
        SPILL_SECTION,
        "",
        "A streaming inner join of two generated inputs keeps every row of both; its state is ten times "
        "the memory cap (`state_memory_limit`) of each of its subtasks. With `state_backend=\"pebble\"` "
        "the rows beyond the cap are spilled to a Pebble store on local disk and read back when a "
        "lookup needs them; with the memory backend they all stay in memory. Each run is a child "
        "process; its peak RSS includes Python, pyarrow and the library. \"No join\" is the same "
        "sources unioned: the memory a job takes besides its state (batches in flight, buffers). "
        "(`python bench/checkpoint_bench.py --only spill`, in `make bench`.)",
        "",
        f"- Machine: {machine()}.",
        f"- `uptime` at the start: {up0}; at the end: {up1} (shared machine: the higher the load, the noisier).",
        f"- riverbed {rb.__version__} ({commit}); parallelism {PARALLELISM}; streaming mode; batch size "
        f"{SPILL_BATCH}; {info['rows']:,} rows per input of {SPILL_PAYLOAD} bytes of text each: about "
        f"{info['state'] / 1e6:.0f} MB of rows held by the join, {info['state'] / PARALLELISM / 1e6:.0f} MB "
        f"per subtask, against a cap of {info['cap'] / 1e6:.1f} MB per subtask. Best time of {args.repeat} "
        "runs, largest peak RSS.",
        "- *recent*: each right row matches the left row 1000 rows back (lookups hit recent state, "
        "the old rows are never read again); *anywhere*: lookups hit rows anywhere in the state.",
        "- *allocator*: the library allocates Arrow buffers with C `malloc`; glibc keeps memory "
        "that was freed in its arenas, which raises every run's RSS, more so when buffers come "
        "and go (spilling). `MALLOC_MMAP_THRESHOLD_=131072` (a glibc setting) gives large buffers "
        "back to the system when freed: those lines show the memory the job really holds. "
        "With `buffer_bytes` 8 MiB (an `Environment` option; 64 MiB by default) the queues between "
        "operators hold less: the lines show how much of the rest is batches in flight.",
        "- What the cap bounds (per subtask) is the join's state in memory: the rows it keeps in "
        "memory, its index of them (keys, rows by key: tens of bytes per row) and its spill store's "
        "buffers (Pebble's memtables and block cache, sized from the cap: "
        f"{spill_store_mb(info['cap']):.1f} MB of it here). *State in memory* is the peak of the "
        "first two, over both subtasks, by the engine's own accounting (`spill_resident_bytes` plus "
        f"`spill_index_bytes` of `job.metrics()`), against {PARALLELISM} x (cap - store) = "
        f"{PARALLELISM * (info['cap'] / 1e6 - spill_store_mb(info['cap'])):.1f} MB, plus the batch "
        "arriving at each subtask, counted before colder rows make room for it. Above the state, a "
        "spilling job holds batches waiting between operators (up to `buffer_bytes`, 64 MiB; the "
        "queues in front of the join fill when it is the slowest step), the Go heap's room to grow "
        "(the index is Go memory; the collector lets the heap reach twice what is live) and the "
        "batches the join builds to emit (with spilling, at most a sixteenth of the cap each).",
        "",
        "| lookups | allocator | backend | input rows/s (thousands) | peak RSS (MB) | above no join (MB) "
        "| throughput vs memory | state in memory (MB, peak) | rows out |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    lines += ["", f"Whole run: {time.time() - t0:.0f} s."]
    write_section(args.out, SPILL_SECTION, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
