"""Sort benchmark: a sort of N rows (default 20M) in riverbed, DuckDB and Polars, side by side.

Generates (once per row count, with numpy) a Parquet file of N rows into bench/data/: an int64
key with about N/10 distinct values (many ties) and a string payload of 16 to 24 characters.
Then sorts it, on each engine, by the key and by the payload, best of ``--repeat`` runs (warm
file cache, all cores, every result brought into Python as Arrow):

- riverbed: ``rb.read_parquet(path).sort(...).collect()`` (a local sort per core and a merge), in
  memory, and with ``state_backend="pebble"`` and ``state_memory_limit`` (``--cap``, default
  256 MiB per subtask), an external sort whose runs go to disk;
- DuckDB: ``SELECT * FROM read_parquet(path) ORDER BY ...``;
- Polars: ``pl.scan_parquet(path).sort(..., maintain_order=True)`` (stable, as riverbed's).

It checks that every engine's sort keys come out in DuckDB's order and that riverbed's rows equal
Polars' stable sort row for row, and writes seconds and ratios to bench/RESULTS.md (``--out``;
``--no-write`` prints only).

    python bench/sort_bench.py [--rows 20000000] [--repeat 2] [--cap 268435456] [--no-write]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from functools import partial
from typing import Callable, TypeVar

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import riverbed as rb
from results_md import machine, write_section  # bench/ is the script's directory

HERE = os.path.dirname(os.path.abspath(__file__))
T = TypeVar("T")
SECTION = "## Sort (`python bench/sort_bench.py`)"


def generate(path: str, rows: int) -> None:
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = np.random.default_rng(42)
    writer = None
    step = 1_000_000
    for at in range(0, rows, step):
        n = min(step, rows - at)
        key = rng.integers(0, max(rows // 10, 1), n, dtype=np.int64)
        width = rng.integers(16, 25, n)
        letters = rng.integers(97, 123, (n, 24), dtype=np.uint8)
        payload = pa.array([bytes(r[:w]).decode() for r, w in zip(letters, width)], pa.string())
        t = pa.table({"key": pa.array(key), "payload": payload})
        if writer is None:
            writer = pq.ParquetWriter(path + ".tmp", t.schema)
        writer.write_table(t, row_group_size=step)
    assert writer is not None
    writer.close()
    os.replace(path + ".tmp", path)


def best(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if len(times) < repeat:
            del out  # freed before the next run
    return min(times), out


def riverbed_sort(path: str, key: str) -> pa.Table:
    return rb.read_parquet(path).sort(key).collect()


def duckdb_sort(con: duckdb.DuckDBPyConnection, path: str, key: str) -> pa.Table:
    return con.sql(f"select * from read_parquet('{path}') order by {key}").to_arrow_table()


def polars_sort(path: str, key: str) -> pa.Table:
    return pl.scan_parquet(path).sort(key, maintain_order=True).collect().to_arrow()


def external_sort(env: rb.Environment, path: str, key: str) -> pa.Table:
    return env.read_parquet(path).sort(key).collect()


def spilled_bytes(env: rb.Environment, path: str, key: str) -> int:
    """What the external sort spills, from a started job's metrics (a started job may be
    asked for a savepoint, so it sorts on one subtask: the bytes are those of the same
    rows in runs, not the time of the parallel sort)."""
    job = env.read_parquet(path).sort(key).start()
    for _ in job.results():
        pass
    return sum(m["spilled_bytes"] for m in job.metrics(as_dict=True) if m["operator"].startswith("sort"))


def load() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:
        return float("nan")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--cap", type=int, default=256 << 20, help="state_memory_limit of the external sort, in bytes")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--no-write", action="store_true", help="print the table, do not write --out")
    args = ap.parse_args()

    path = os.path.join(HERE, "data", f"sort-{args.rows}.parquet")
    t = time.perf_counter()
    generate(path, args.rows)
    size = os.path.getsize(path)
    print(f"{args.rows:,} rows ready in {time.perf_counter() - t:.1f}s: {path} ({size / 1e6:.0f} MB)")
    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")
    # Without checkpoint_dir (a job that checkpoints sorts on one subtask); the runs go to
    # a directory of the system's temporary one.
    external = rb.Environment(state_backend="pebble", state_memory_limit=args.cap)

    loads = [load()]
    rows = []
    for key in ("key", "payload"):
        r_secs, _ = best(partial(riverbed_sort, path, key), args.repeat)
        x_secs, x_tab = best(partial(external_sort, external, path, key), args.repeat)
        spilled = spilled_bytes(external, path, key)
        d_secs, d_out = best(partial(duckdb_sort, con, path, key), args.repeat)
        p_secs, p_out = best(partial(polars_sort, path, key), args.repeat)
        want_keys = d_out.column(key)
        d_out = None
        r_out = riverbed_sort(path, key)
        same = {
            "riverbed": r_out.column(key).equals(want_keys) and r_out.equals(p_out.cast(r_out.schema)),
            "external": x_tab.column(key).equals(want_keys) and x_tab.equals(r_out),
            "Polars": pc.cast(p_out.column(key), want_keys.type).equals(want_keys),
        }
        r_out = x_tab = p_out = None
        rows.append((key, r_secs, x_secs, d_secs, p_secs, spilled, same))
        loads.append(load())
        print(f"by {key:8s} riverbed {r_secs:7.3f}s  external {x_secs:7.3f}s ({spilled / 1e6:.0f} MB spilled)  "
              f"DuckDB {d_secs:7.3f}s  Polars {p_secs:7.3f}s  same order: {same}")
    if args.no_write:
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    lines = [
        SECTION,
        "",
        f"- Machine: {machine()}. Load average (1 min) during the run: {min(loads):.1f} to {max(loads):.1f} "
        f"on {os.cpu_count()} cores (above the core count, other work shared the machine and every time is "
        "inflated; compare the engines within the run).",
        f"- Data: {args.rows:,} rows in one Parquet file ({size / 1e6:.0f} MB): an int64 `key` with about "
        f"{max(args.rows // 10, 1):,} distinct values (ties) and a string `payload` of 16 to 24 letters.",
        "- Query: every row, sorted by `key` or by `payload`, brought into Python as Arrow. riverbed's sort is "
        "stable (as Polars' with `maintain_order=True`); its external sort has `state_backend=\"pebble\"` and "
        f"`state_memory_limit` {args.cap >> 20} MiB (sorted runs on disk, merged). DuckDB's ORDER BY is not "
        f"stable. Each engine uses all cores (riverbed: a sort per core, then a merge on one); best of "
        f"{args.repeat} runs, warm file cache. \"spilled\": the bytes of the runs the external sort wrote.",
        f"- Versions: riverbed {rb.__version__} ({commit}), DuckDB {duckdb.__version__}, Polars {pl.__version__}, "
        f"pyarrow {pa.__version__}.",
        "",
        "| sort by | riverbed (s) | riverbed external (s) | spilled (MB) | DuckDB (s) | Polars (s) "
        "| riverbed / DuckDB | riverbed / Polars | same order |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, r, x, d, p, spilled, same in rows:
        ok = "yes" if all(same.values()) else "no: " + ", ".join(k for k, v in same.items() if not v)
        lines.append(f"| `{key}` | {r:.3f} | {x:.3f} | {spilled / 1e6:.0f} | {d:.3f} | {p:.3f} | {r / d:.2f}x "
                     f"| {r / p:.2f}x | {ok} |")
    lines += ["", "\"same order\": every engine's keys in DuckDB's order, and riverbed's rows (in memory and "
              "external) equal to Polars' stable sort row for row."]
    write_section(args.out, SECTION, "\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
