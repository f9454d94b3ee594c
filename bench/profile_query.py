"""CPU profile of one Nexmark query (`make profile Q=q5`).

Runs the query as bench/nexmark_bench.py does (riverbed over the benchmark's Parquet
events, generated once) with a Go CPU profile of the engine around the run, writes it to
build/profiles/<query>.cpu.pprof and prints where the time goes (`go tool pprof -top`).
Open it with `go tool pprof -http=: python/riverbed/libriverbed.so <profile>` for a graph.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from nexmark_bench import QUERIES, generate, riverbed_queries  # noqa: E402  (bench/ is the script's directory)


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("query", choices=QUERIES)
    ap.add_argument("--events", type=int, default=20_000_000, help="Nexmark events (default 20M, as the benchmark)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(HERE), "build", "profiles"))
    ap.add_argument("--top", type=int, default=30, help="lines of the summary printed")
    args = ap.parse_args()

    import riverbed as rb
    from riverbed import _lib

    root = os.path.join(HERE, "data", f"nexmark-{args.events}")
    generate(root, args.events)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, f"{args.query}.cpu.pprof")
    stream = riverbed_queries(root)[args.query]()
    _lib.cpu_profile_start(path)
    t0 = time.perf_counter()
    try:
        rows = stream.collect(progress=False).num_rows
    finally:
        _lib.cpu_profile_stop()
    print(f"riverbed {rb.__version__} {args.query}: {rows:,} rows in {time.perf_counter() - t0:.2f} s; "
          f"profile in {path}", flush=True)
    go = shutil.which("go")
    if go:
        lib = os.path.join(os.path.dirname(rb.__file__), "libriverbed.so")
        subprocess.run([go, "tool", "pprof", "-top", f"-nodecount={args.top}", lib, path], check=False)


if __name__ == "__main__":
    main()
