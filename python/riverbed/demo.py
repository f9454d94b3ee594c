"""A demo job on generated data: ``python -m riverbed.demo``.

Writes a small Parquet dataset of orders (no external service needed), then runs the same
pipeline three ways — over the Parquet files, over the in-memory table, and as a Parquet
backfill into an output directory — and checks that they agree.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import riverbed as rb
from riverbed import col


def generate(directory: str, files: int = 8, rows_per_file: int = 250_000, seed: int = 7) -> pa.Table:
    rng = np.random.default_rng(seed)
    parts = []
    start = np.datetime64("2026-01-01T00:00:00", "ms").astype("int64")
    for i in range(files):
        n = rows_per_file
        t = pa.table({
            "user_id": pa.array(rng.integers(0, 50_000, n), pa.int64()),
            "amount": pa.array(np.round(rng.normal(20, 15, n), 2), pa.float64()),
            "country": pa.array(rng.choice(["DE", "FR", "US", "JP", "BR"], n)),
            "ts": pa.array(start + np.sort(rng.integers(0, 86_400_000 * 30, n)), pa.timestamp("ms")),
        })
        pq.write_table(t, os.path.join(directory, f"orders-{i:03d}.parquet"), row_group_size=100_000)
        parts.append(t)
    return pa.concat_tables(parts)


def pipeline(s: rb.Stream) -> rb.Stream:
    return (s.filter(col("amount") > 0)
             .with_columns((col("amount") * 100).cast(rb.Int64).alias("cents"))
             .group_by("user_id")
             .agg(rb.count().alias("n"), col("amount").sum().alias("total"),
                  col("cents").max().alias("max_cents"), col("ts").max().alias("last_ts")))


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="riverbed-demo-") as d:
        data = os.path.join(d, "orders")
        os.makedirs(data)
        print(f"riverbed {rb.__version__}: generating 2,000,000 orders in 8 Parquet files ...")
        table = generate(data)

        t0 = time.perf_counter()
        from_files = pipeline(rb.read_parquet(data)).collect()
        t1 = time.perf_counter()
        in_memory = pipeline(rb.from_arrow(table)).collect()
        t2 = time.perf_counter()
        written = pipeline(rb.read_parquet(data)).write_parquet(os.path.join(d, "out"))
        t3 = time.perf_counter()
        backfill = rb.read_parquet(os.path.join(d, "out")).collect()

        def canon(t: pa.Table) -> pa.Table:
            return t.sort_by("user_id")

        def agree(a: pa.Table, b: pa.Table) -> bool:
            # Sums of floats may differ in the last bits with the order rows were added in.
            a, b = canon(a), canon(b)
            exact = [c for c in a.column_names if c != "total"]
            return a.select(exact).equals(b.select(exact)) and bool(
                np.allclose(a["total"].to_numpy(), b["total"].to_numpy(), rtol=1e-12))

        same = agree(from_files, in_memory) and agree(from_files, backfill)
        print(f"\nParquet -> group_by: {from_files.num_rows:,} users in {t1 - t0:.2f}s")
        print(f"in-memory table:     {in_memory.num_rows:,} users in {t2 - t1:.2f}s")
        print(f"Parquet backfill:    {written['rows'].to_pylist()} rows into {len(written)} file(s) in {t3 - t2:.2f}s")
        print("\ntop users by total:")
        print(canon(from_files).sort_by([("total", "descending")]).slice(0, 5).to_pandas().to_string(index=False))
        print("\nplan:")
        print(pipeline(rb.read_parquet(data)).explain())
        print("all three runs agree" if same else "MISMATCH between runs")
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
