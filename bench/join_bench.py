"""Join benchmark: a hash join of 20M fact rows with a 1M-row dimension, then a group-by, in
riverbed, DuckDB and Polars.

Generates (once) Parquet files: ``fact`` with N rows (``--rows``, default 20M) of a key drawn
uniformly from the dimension's keys, an amount and a quantity, in 16 files; ``dim`` with M rows
(``--dim-rows``, default 1M) of a unique key, a category (one of 100) and a weight. Then runs, in
one process and one run,

    fact JOIN dim ON key -> group_by(category) -> count, sum(amount), sum(quantity * weight)

on each engine (each with all cores), the engines taking turns run by run, the median of
``--repeat`` runs; checks that the three give the same answer; and writes wall and CPU times
and ratios to bench/RESULTS.md with the load average of the machine (other work on a shared
machine inflates every time; compare within the run).

    python bench/join_bench.py [--rows 20000000] [--dim-rows 1000000] [--repeat 3] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import time
from typing import Callable

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

import riverbed as rb
from results_md import machine, write_section  # bench/ is the script's directory
from riverbed import col

HERE = os.path.dirname(os.path.abspath(__file__))
SECTION = "## Hash join: 20M x 1M rows (`python bench/join_bench.py`)"


def generate(path: str, rows: int, dim_rows: int, files: int = 16, seed: int = 7) -> tuple[str, str]:
    """The fact and dimension directories under path (written once per size)."""
    fact, dim = os.path.join(path, "fact"), os.path.join(path, "dim")
    marker = os.path.join(path, f"_complete_{rows}_{dim_rows}")
    if os.path.exists(marker):
        return fact, dim
    rng = np.random.default_rng(seed)
    for d in (fact, dim):
        os.makedirs(d, exist_ok=True)
        for f in os.listdir(d):
            os.remove(os.path.join(d, f))
    keys = rng.permutation(dim_rows).astype(np.int64) * 7 + 3  # unique, not dense
    pq.write_table(pa.table({
        "key": pa.array(keys),
        "category": pa.array([f"cat-{c:03d}" for c in rng.integers(0, 100, dim_rows)]),
        "weight": pa.array(rng.integers(1, 10, dim_rows), pa.int64()),
    }), os.path.join(dim, "part-000.parquet"), row_group_size=250_000)
    per = rows // files
    for i in range(files):
        n = per if i < files - 1 else rows - per * (files - 1)
        pq.write_table(pa.table({
            "key": pa.array(keys[rng.integers(0, dim_rows, n)]),
            "amount": pa.array(np.round(rng.uniform(0, 100, n), 2)),
            "quantity": pa.array(rng.integers(1, 50, n), pa.int64()),
        }), os.path.join(fact, f"part-{i:03d}.parquet"), row_group_size=1_000_000)
    open(marker, "w").close()
    return fact, dim


def riverbed_query(fact: str, dim: str) -> pa.Table:
    return (rb.read_parquet(fact).join(rb.read_parquet(dim), on="key")
            .group_by("category")
            .agg(rb.count().alias("n"), col("amount").sum().alias("amount"),
                 (col("quantity") * col("weight")).sum().alias("weighted"))
            .collect(progress=False))


def duckdb_query(con: duckdb.DuckDBPyConnection, fact: str, dim: str) -> pa.Table:
    out = con.sql(f"""
        SELECT d.category, count(*) AS n, sum(f.amount) AS amount, sum(f.quantity * d.weight) AS weighted
        FROM read_parquet('{fact}/*.parquet') f JOIN read_parquet('{dim}/*.parquet') d ON f.key = d.key
        GROUP BY d.category""").arrow()
    return out.read_all() if isinstance(out, pa.RecordBatchReader) else out


def polars_query(fact: str, dim: str) -> pa.Table:
    return (pl.scan_parquet(f"{fact}/*.parquet").join(pl.scan_parquet(f"{dim}/*.parquet"), on="key")
            .group_by("category")
            .agg(pl.len().alias("n"), pl.col("amount").sum().alias("amount"),
                 (pl.col("quantity") * pl.col("weight")).sum().alias("weighted"))
            .collect().to_arrow())


def same_answer(a: pa.Table, b: pa.Table, what: str) -> None:
    a, b = a.sort_by("category"), b.sort_by("category")
    assert a.num_rows == b.num_rows == 100, f"{what}: {a.num_rows} groups against {b.num_rows}"
    assert a["category"].cast(pa.string()).equals(b["category"].cast(pa.string())), f"{what}: categories"
    for c in ("n", "weighted"):
        assert a[c].cast(pa.int64()).equals(b[c].cast(pa.int64())), f"{what}: column {c} differs"
    x, y = a["amount"].to_numpy(), b["amount"].to_numpy()
    assert np.allclose(x, y, rtol=1e-9), f"{what}: amount differs"


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--dim-rows", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true", help="print the table, do not write --out")
    args = ap.parse_args()
    t = time.perf_counter()
    fact, dim = generate(os.path.join(HERE, "data", "join"), args.rows, args.dim_rows)
    print(f"data ready in {time.perf_counter() - t:.1f}s")
    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")
    engines: list[tuple[str, Callable[[], pa.Table]]] = [
        ("riverbed", lambda: riverbed_query(fact, dim)),
        ("DuckDB", lambda: duckdb_query(con, fact, dim)),
        ("Polars", lambda: polars_query(fact, dim)),
    ]
    answers = {name: fn() for name, fn in engines}  # warm-up: file cache, library load
    same_answer(answers["riverbed"], answers["DuckDB"], "riverbed")
    same_answer(answers["Polars"], answers["DuckDB"], "Polars")
    runs: dict[str, list[tuple[float, float]]] = {name: [] for name, _ in engines}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeat):  # the engines take turns, so that load changes weigh on each alike
        for name, fn in engines:
            w, c = time.perf_counter(), cpu()
            fn()
            runs[name].append((time.perf_counter() - w, cpu() - c))
            loads.append(os.getloadavg()[0])
    med = {name: (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs))
           for name, rs in runs.items()}
    rows = []
    for name, (w, c) in med.items():
        rows.append(f"| {name} | {w:.2f} | {c:.2f} | {w / med['DuckDB'][0]:.2f}x | {w / med['Polars'][0]:.2f}x |")
        print(f"{name:9s} wall {w:6.2f}s cpu {c:6.2f}s")
    text = "\n".join([
        SECTION,
        "",
        f"- Machine: {machine()}. Load average (1 min) during the run: {min(loads):.1f} to {max(loads):.1f} "
        f"on {os.cpu_count()} cores (above the core count, other work shared the machine; compare within the run).",
        f"- Data: {args.rows:,} fact rows (a key drawn uniformly from the dimension's, an amount, a quantity; 16 "
        f"Parquet files) and {args.dim_rows:,} dimension rows (a unique key, one of 100 categories, a weight).",
        "- Query: fact JOIN dim ON key, then per category: count, sum(amount), sum(quantity * weight). "
        f"Each engine on all cores; median of {args.repeat} runs, engines taking turns; the three answers are equal.",
        "",
        "| engine | wall (s) | CPU (s) | / DuckDB | / Polars |",
        "|---|---:|---:|---:|---:|",
        *rows,
        "",
    ])
    print(text)
    if not args.no_write:
        write_section(args.out, SECTION, text)


if __name__ == "__main__":
    main()
