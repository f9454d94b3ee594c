"""Parquet batch benchmark: the same filter + group-by in riverbed, DuckDB and Polars.

Generates (once per key cardinality) a Parquet dataset of N rows (default 20M): a key with
K distinct values (``--keys``, default 1,000, 1,000,000 and 10,000,000), a timestamp and two numeric
columns, in 16 files. Then runs, in one process and one run,

    filter(amount > 0) -> group_by(user_id) -> count, sum(amount), max(price), max(ts)

on each engine, the median of R repetitions (``--repeat``, default 3), checks that the three
give the same groups and aggregates, and writes wall times and ratios to bench/RESULTS.md
with the load average of the machine next to them (other work on a shared machine inflates
every time). Extra riverbed rows break its time down (scan only; scan + filter).

``--baseline LIB`` also runs riverbed's query with another build of the engine library (say,
the commit before a change), in a child process (a process holds one Go runtime), interleaved
with this build's runs, for a before/after table.

    python bench/parquet_bench.py [--rows 20000000] [--keys 1000 1000000 10000000] [--repeat 3] [--baseline LIB]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from results_md import machine, peak_rss_mb, rss_mb, write_section  # bench/ is the script's directory

# The engines are imported where they are used, so that a child process measuring one
# engine's memory (--memory) loads that engine only.

HERE = os.path.dirname(os.path.abspath(__file__))
SECTION = "## Parquet batch: filter + group-by (`make bench`)"


def dataset(keys: int) -> str:
    """The dataset's directory (the 1M-key one keeps its historical name)."""
    return os.path.join(HERE, "data", "orders" if keys == 1_000_000 else f"orders-{keys}")


def generate(path: str, rows: int, keys: int = 1_000_000, files: int = 16, seed: int = 42) -> None:
    marker = os.path.join(path, f"_complete_{rows}")
    if os.path.exists(marker):
        return
    os.makedirs(path, exist_ok=True)
    for f in os.listdir(path):
        os.remove(os.path.join(path, f))
    rng = np.random.default_rng(seed)
    per = rows // files
    t0 = np.datetime64("2026-01-01T00:00:00", "us").astype(np.int64)
    for i in range(files):
        n = per if i < files - 1 else rows - per * (files - 1)
        t = pa.table({
            "user_id": pa.array(rng.integers(0, keys, n), pa.int64()),
            "ts": pa.array(t0 + np.sort(rng.integers(0, 86_400_000_000 * 30, n)), pa.timestamp("us")),
            "amount": pa.array(np.round(rng.normal(20, 25, n), 2)),
            "price": pa.array(rng.integers(1, 100_000, n), pa.int64()),
        })
        pq.write_table(t, os.path.join(path, f"part-{i:03d}.parquet"), row_group_size=1_000_000)
    open(marker, "w").close()


def riverbed_stream(data: str) -> Any:
    import riverbed as rb
    from riverbed import col

    return (rb.read_parquet(data).filter(col("amount") > 0).group_by("user_id")
            .agg(rb.count().alias("n"), col("amount").sum().alias("total"),
                 col("price").max().alias("max_price"), col("ts").max().alias("last_ts")))


def riverbed_query(data: str) -> pa.Table:
    return riverbed_stream(data).collect(progress=False)


def duckdb_query(glob: str, con: Any = None) -> pa.Table:
    import duckdb

    if con is None:
        con = duckdb.connect()
        con.execute(f"SET threads TO {os.cpu_count()}")
    out = con.sql(f"""
        SELECT user_id, count(*) AS n, sum(amount) AS total, max(price) AS max_price, max(ts) AS last_ts
        FROM read_parquet('{glob}') WHERE amount > 0 GROUP BY user_id""").arrow()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def polars_query(glob: str) -> pa.Table:
    import polars as pl

    return (pl.scan_parquet(glob).filter(pl.col("amount") > 0).group_by("user_id")
            .agg(pl.len().alias("n"), pl.col("amount").sum().alias("total"),
                 pl.col("price").max().alias("max_price"), pl.col("ts").max().alias("last_ts"))
            .collect().to_arrow())


def memory_child(engine: str, data: str) -> None:
    """--memory: one run of one engine's query in this fresh process; print its resident
    memory (MB) after the engine's import and at its peak, as JSON."""
    glob = os.path.join(data, "*.parquet")
    if engine == "riverbed":
        import riverbed  # noqa: F401 - the import's memory is counted before the query
        run = lambda: riverbed_query(data)  # noqa: E731
    elif engine == "DuckDB":
        import duckdb  # noqa: F401
        run = lambda: duckdb_query(glob)  # noqa: E731
    else:
        import polars  # noqa: F401
        run = lambda: polars_query(glob)  # noqa: E731
    before = rss_mb()
    rows = run().num_rows
    print(json.dumps({"before": before, "peak": peak_rss_mb(), "groups": rows}))


def peak_memory(engine: str, data: str) -> dict[str, float]:
    """One engine's query in a fresh child process: its resident memory after the import and
    at its peak (MB)."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory", engine, data],
                       capture_output=True, text=True, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def pre_aggregation(data: str) -> tuple[int, int]:
    """Rows into and out of riverbed's pre-aggregation (an untimed run, from its metrics)."""
    job = riverbed_stream(data).start()
    job.collect()
    ms = [m for m in job.metrics(as_dict=True) if m["operator"] == "pre-aggregate"]
    return sum(m["records_in"] for m in ms), sum(m["records_out"] for m in ms)


def load() -> float:
    return os.getloadavg()[0]


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(fn, repeat: int) -> tuple[list[float], object, float, float, list[float]]:
    """Run fn repeat times: the wall times, the last answer, the load average before and
    after, and the CPU times of the process (all its threads) per run."""
    times, cpus, out = [], [], None
    l0 = load()
    for _ in range(repeat):
        t, c = time.perf_counter(), cpu()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(cpu() - c)
    return times, out, l0, load(), cpus


def child(data: str, repeat: int) -> None:
    """--child: time riverbed's query with the library in RIVERBED_LIBRARY, print JSON."""
    times, out, l0, l1, cpus = timed(lambda: riverbed_query(data), repeat)
    assert isinstance(out, pa.Table)
    print(json.dumps({"times": times, "cpus": cpus, "groups": out.num_rows, "n": pc.sum(out["n"]).as_py(),
                      "load": [l0, l1]}))


def by_key(t: pa.Table) -> pa.Table:
    return t.select(["user_id", "n", "total", "max_price", "last_ts"]).sort_by("user_id")


def same_answer(a: pa.Table, b: pa.Table, what: str) -> None:
    a, b = by_key(a), by_key(b)
    assert a.num_rows == b.num_rows, f"{what}: {a.num_rows} groups against {b.num_rows}"
    for c in ["user_id", "n", "max_price"]:
        assert a[c].cast(pa.int64()).equals(b[c].cast(pa.int64())), f"{what}: column {c} differs"
    ts = pa.timestamp("us")
    assert a["last_ts"].cast(ts).equals(b["last_ts"].cast(ts)), f"{what}: last_ts differs"
    x, y = a["total"].to_numpy(), b["total"].to_numpy()
    assert np.allclose(x, y, rtol=1e-9, atol=1e-6), f"{what}: total differs"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--keys", type=int, nargs="+", default=[1_000, 1_000_000, 10_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", help="another build of the engine library, timed in a child process")
    ap.add_argument("--baseline-name", default="before", help="what to call the baseline in the tables")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--memory", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.repeat)
        return
    if args.memory:
        memory_child(*args.memory)
        return

    import duckdb
    import polars as pl

    import riverbed as rb
    from riverbed import col

    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")

    def baseline_run(data: str) -> tuple[float, float]:
        """One timed run of riverbed's query with the baseline library (after a warm-up run)."""
        env = dict(os.environ, RIVERBED_LIBRARY=os.path.abspath(args.baseline))
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", data, "--repeat", "2"],
                           env=env, capture_output=True, text=True, check=True)
        r = json.loads(p.stdout.strip().splitlines()[-1])
        return r["times"][-1], r["cpus"][-1]

    results = []  # per cardinality: keys, groups, {engine: (median, times, load0, load1, median cpu)}, pre
    parts = []
    for keys in args.keys:
        data = dataset(keys)
        t = time.perf_counter()
        generate(data, args.rows, keys)
        print(f"{keys:,} keys: dataset ready in {time.perf_counter() - t:.1f}s: {data}")
        glob = os.path.join(data, "*.parquet")
        answers = {}
        engines = [("riverbed", lambda data=data: riverbed_query(data))]
        if args.baseline:
            engines.append((f"riverbed {args.baseline_name}", None))
        engines += [("DuckDB", lambda glob=glob: duckdb_query(glob, con)),
                    ("Polars", lambda glob=glob: polars_query(glob))]
        # The engines take turns, run by run, so that a change of load in the machine's other work weighs
        # on each alike.
        runs: dict[str, list[tuple[float, float, float, float]]] = {name: [] for name, _ in engines}
        for name, fn in engines:  # warm-up (file cache, library load)
            if fn is not None:
                answers[name] = fn()
        for _ in range(args.repeat):
            for name, fn in engines:
                l0 = load()
                if fn is None:
                    secs, cpu_s = baseline_run(data)
                else:
                    (secs,), out, _, _, (cpu_s,) = timed(fn, 1)
                    answers[name] = out
                runs[name].append((secs, cpu_s, l0, load()))
        row: dict[str, tuple[float, list[float], float, float, float]] = {}
        for name, rs in runs.items():
            times = [r[0] for r in rs]
            row[name] = (statistics.median(times), times, min(r[2] for r in rs), max(r[3] for r in rs),
                         statistics.median(r[1] for r in rs))
            print(f"  {name:18s} median {row[name][0]:7.3f}s  runs {' '.join(f'{x:.3f}' for x in times)}"
                  f"  cpu {row[name][4]:.2f}s  load {row[name][2]:.1f} .. {row[name][3]:.1f}")
        rbt = answers["riverbed"]
        same_answer(rbt, answers["DuckDB"], f"{keys} keys: riverbed vs DuckDB")
        same_answer(answers["Polars"], answers["DuckDB"], f"{keys} keys: Polars vs DuckDB")
        pre = pre_aggregation(data)
        print(f"  riverbed pre-aggregation: {pre[0]:,} rows in, {pre[1]:,} out")
        mems = {name: peak_memory(name, data) for name in ("riverbed", "DuckDB", "Polars")}
        for name, m in mems.items():
            assert m["groups"] == rbt.num_rows, f"{keys} keys: {name}'s memory run gave {m['groups']} groups"
            print(f"  {name:18s} peak RSS {m['peak']:7.0f} MB  (after import {m['before']:.0f} MB)")
        results.append((keys, rbt.num_rows, row, pre, mems))
        if keys == 1_000_000 or len(args.keys) == 1:
            for name, fn in [
                ("riverbed scan only (4 columns to Arrow)",
                 lambda data=data: rb.read_parquet(data, columns=["user_id", "amount", "price", "ts"])
                 .collect(progress=False)),
                ("riverbed scan + filter",
                 lambda data=data: rb.read_parquet(data).filter(col("amount") > 0)
                 .select("user_id", "amount", "price", "ts").collect(progress=False))]:
                times, _, l0, l1, _ = timed(fn, args.repeat)
                parts.append((keys, name, statistics.median(times), row["riverbed"][0], l0, l1))
                print(f"  {name:40s} {statistics.median(times):7.3f}s")

    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, cwd=HERE).stdout.strip()
    lines = [
        SECTION,
        "",
        f"- Machine: {machine()}.",
        f"- Data: {args.rows:,} rows in 16 Parquet files per dataset (snappy, 1M-row row groups), written by "
        "pyarrow: `user_id` int64 uniform over K distinct values (one dataset per K), `ts` timestamp[us], "
        "`amount` float64 (normal, about 79% of rows > 0), `price` int64.",
        "- Query: `filter(amount > 0)`, `group_by(user_id)`, `count`, `sum(amount)`, `max(price)`, `max(ts)`. "
        f"Each engine uses all cores; median of {args.repeat} runs after a warm-up run, warm file cache, the "
        "engines taking turns run by run in one process (a baseline build of riverbed in a child process, with "
        "a warm-up run of its own); the three answers are checked equal group by group (sums to 1e-9 relative).",
        "- Load: the lowest and highest 1-minute load average around each engine's runs; above the core count, other "
        "work shared the machine and every time is inflated (compare the engines within one row). CPU time is "
        "the process's (user and system, all threads) per run, median: less disturbed by other work than wall "
        "time.",
        f"- Versions: riverbed {rb.__version__} ({commit}), DuckDB {duckdb.__version__}, Polars {pl.__version__}, "
        f"pyarrow {pa.__version__}.",
        "",
        "| keys (groups) | engine | wall time (s), median | runs (s) | CPU time (s), median | load (low / high) "
        "| riverbed / engine (wall) |",
        "|---|---|---:|---|---:|---|---:|",
    ]
    for keys, groups, row, _, _ in results:
        rbs = row["riverbed"][0]
        for name, (med, times, l0, l1, cpu_s) in row.items():
            lines.append(f"| {keys:,} ({groups:,}) | {name} | {med:.3f} | {' / '.join(f'{x:.2f}' for x in times)} "
                         f"| {cpu_s:.2f} | {l0:.1f} / {l1:.1f} | {rbs / med:.2f}x |")
    if args.baseline:
        b = f"riverbed {args.baseline_name}"
        lines += ["", f"Before and after ({b} against this build, same run):", "",
                  f"| keys | {b} (s) | riverbed (s) | riverbed / {args.baseline_name} | CPU s, {args.baseline_name} "
                  f"→ riverbed | {args.baseline_name} / DuckDB | riverbed / DuckDB | {args.baseline_name} / Polars "
                  "| riverbed / Polars |",
                  "|---|---:|---:|---:|---|---:|---:|---:|---:|"]
        for keys, _, row, _, _ in results:
            old, new, d, p = row[b][0], row["riverbed"][0], row["DuckDB"][0], row["Polars"][0]
            lines.append(f"| {keys:,} | {old:.3f} | {new:.3f} | {new / old:.2f} | {row[b][4]:.2f} → "
                         f"{row['riverbed'][4]:.2f} | {old / d:.2f}x | {new / d:.2f}x | {old / p:.2f}x "
                         f"| {new / p:.2f}x |")
    lines += ["", "Memory: each engine's query once more, alone in a fresh Python process that imports only that "
              "engine (and pyarrow); its resident set size after the import and at its peak (Linux `VmHWM`), and "
              "the difference, what the query itself took:", "",
              "| keys | engine | peak RSS (MB) | after import (MB) | query's own (MB) "
              "| riverbed / engine (query's own) |",
              "|---|---|---:|---:|---:|---:|"]
    for keys, _, _, _, mems in results:
        own = {name: m["peak"] - m["before"] for name, m in mems.items()}
        for name, m in mems.items():
            lines.append(f"| {keys:,} | {name} | {m['peak']:.0f} | {m['before']:.0f} | {own[name]:.0f} "
                         f"| {own['riverbed'] / max(own[name], 1):.2f}x |")
    lines += ["", "riverbed pre-aggregates in each scan subtask before its hash exchange (docs/design-runtime.md) "
              "and stops when a sample shows keys that hardly repeat within a subtask; rows into and out of its "
              "pre-aggregation (from the job's metrics):", "",
              "| keys | rows in | rows out (partial states + rows passed through) | rows out / in |",
              "|---|---:|---:|---:|"]
    for keys, _, _, (pin, pout), _ in results:
        lines.append(f"| {keys:,} | {pin:,} | {pout:,} | {pout / max(pin, 1):.4f} |")
    lines += ["", "Where keys repeat within a subtask's input, the exchange carries one partial state per key and "
              "subtask instead of every row, and the group_by merges them; what remains of riverbed's time is then "
              "mostly its Parquet scan and filter (below). Where almost every key in a subtask's sample is new, rows "
              "pass through and the group_by aggregates them as before: its time goes to random memory accesses "
              "over millions of groups per subtask, one for the key's group (the direct array of one integer key, "
              "or the hash table) and one for the group's states, kept side by side (the row layout, "
              "docs/design-runtime.md)."]
    if parts:
        lines += ["", "Where riverbed's time goes (same data, same machine):", "",
                  "| keys | riverbed stage | wall time (s), median | share of full query | load before / after |",
                  "|---|---|---:|---:|---|"]
        for keys, name, secs, full, l0, l1 in parts:
            lines.append(f"| {keys:,} | {name} | {secs:.3f} | {secs / full:.0%} | {l0:.1f} / {l1:.1f} |")
    write_section(args.out, SECTION, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
