"""Parquet batch benchmark: the same filter + group-by in riverbed, DuckDB and Polars.

Generates (once) a Parquet dataset of N rows (default 20M): a key with ~1M distinct values,
a timestamp and two numeric columns, in 16 files. Then runs, in one process and one run,

    filter(amount > 0) -> group_by(user_id) -> count, sum(amount), max(price), max(ts)

on each engine, best of R repetitions, and writes wall times and ratios to bench/RESULTS.md.
Extra riverbed rows break its time down (scan only; scan + filter) to show what dominates.

    python bench/parquet_bench.py [--rows 20000000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import riverbed as rb
from results_md import machine, write_section  # bench/ is the script's directory
from riverbed import col

HERE = os.path.dirname(os.path.abspath(__file__))
SECTION = "## Parquet batch: filter + group-by (`make bench`)"


def generate(path: str, rows: int, files: int = 16, seed: int = 42) -> None:
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
            "user_id": pa.array(rng.integers(0, 1_000_000, n), pa.int64()),
            "ts": pa.array(t0 + np.sort(rng.integers(0, 86_400_000_000 * 30, n)), pa.timestamp("us")),
            "amount": pa.array(np.round(rng.normal(20, 25, n), 2)),
            "price": pa.array(rng.integers(1, 100_000, n), pa.int64()),
        })
        pq.write_table(t, os.path.join(path, f"part-{i:03d}.parquet"), row_group_size=1_000_000)
    open(marker, "w").close()


def best(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return min(times), out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args()

    data = os.path.join(HERE, "data", "orders")
    t = time.perf_counter()
    generate(data, args.rows)
    print(f"dataset ready in {time.perf_counter() - t:.1f}s: {data}")
    glob = os.path.join(data, "*.parquet")

    def riverbed_query():
        return (rb.read_parquet(data).filter(col("amount") > 0).group_by("user_id")
                .agg(rb.count().alias("n"), col("amount").sum().alias("total"),
                     col("price").max().alias("max_price"), col("ts").max().alias("last_ts"))
                .collect(progress=False))

    def riverbed_scan():
        return rb.read_parquet(data, columns=["user_id", "amount", "price", "ts"]).collect(progress=False)

    def riverbed_scan_filter():
        return rb.read_parquet(data).filter(col("amount") > 0).select("user_id", "amount", "price", "ts").collect(
            progress=False)

    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")

    def duckdb_query():
        out = con.sql(f"""
            SELECT user_id, count(*) AS n, sum(amount) AS total, max(price) AS max_price, max(ts) AS last_ts
            FROM read_parquet('{glob}') WHERE amount > 0 GROUP BY user_id""").arrow()
        return out.read_all() if isinstance(out, pa.RecordBatchReader) else out

    def polars_query():
        return (pl.scan_parquet(glob).filter(pl.col("amount") > 0).group_by("user_id")
                .agg(pl.len().alias("n"), pl.col("amount").sum().alias("total"),
                     pl.col("price").max().alias("max_price"), pl.col("ts").max().alias("last_ts"))
                .collect())

    rows = []
    results = {}
    for name, fn in [("riverbed", riverbed_query), ("DuckDB", duckdb_query), ("Polars", polars_query)]:
        secs, out = best(fn, args.repeat)
        results[name] = out
        rows.append((name, secs))
        print(f"{name:10s} {secs:7.3f}s")
    # Same answer from all three (group count and total count).
    rbt = results["riverbed"]
    ddb = results["DuckDB"]
    if isinstance(ddb, pa.RecordBatchReader):
        ddb = ddb.read_all()
    assert rbt.num_rows == ddb.num_rows == results["Polars"].height, "engines disagree on the number of groups"
    assert sum(rbt["n"].to_pylist()) == sum(ddb["n"].to_pylist())

    parts = []
    for name, fn in [("riverbed scan only (4 columns to Arrow)", riverbed_scan),
                     ("riverbed scan + filter", riverbed_scan_filter)]:
        secs, _ = best(fn, args.repeat)
        parts.append((name, secs))
        print(f"{name:40s} {secs:7.3f}s")

    rbs = dict(rows)["riverbed"]
    git = ["git", "rev-parse", "--short", "HEAD"]
    commit = subprocess.run(git, capture_output=True, text=True, cwd=HERE).stdout.strip()
    lines = [
        SECTION,
        "",
        f"- Machine: {machine()}.",
        f"- Data: {args.rows:,} rows in 16 Parquet files (snappy, 1M-row row groups), written by pyarrow: "
        "`user_id` int64 with ~1M distinct values, `ts` timestamp[us], `amount` float64, `price` int64.",
        "- Query: `filter(amount > 0)`, `group_by(user_id)`, `count`, `sum(amount)`, `max(price)`, `max(ts)` "
        f"({rbt.num_rows:,} groups). Each engine uses all cores; best of {args.repeat} runs, warm file cache, "
        "all three in one process and one run.",
        f"- Versions: riverbed {rb.__version__} ({commit}), DuckDB {duckdb.__version__}, Polars {pl.__version__}, "
        f"pyarrow {pa.__version__}.",
        "",
        "| engine | wall time (s) | riverbed / engine |",
        "|---|---:|---:|",
    ]
    for name, secs in rows:
        lines.append(f"| {name} | {secs:.3f} | {rbs / secs:.2f}x |")
    lines += ["", "Where riverbed's time goes (same data, same machine):", "",
              "| riverbed stage | wall time (s) | share of full query |", "|---|---:|---:|"]
    for name, secs in parts:
        lines.append(f"| {name} | {secs:.3f} | {secs / rbs:.0%} |")
    lines.append(f"| full query | {rbs:.3f} | 100% |")
    write_section(args.out, SECTION, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
