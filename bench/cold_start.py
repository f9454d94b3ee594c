"""Cold start: the time from starting a fresh Python interpreter to the first row of a one-row
query, in riverbed, Polars and DuckDB; and the time to import each. The median of several
runs of each, interleaved so that a busy moment on the machine hits every tool alike.
Writes the "Cold start" section of bench/RESULTS.md (``make bench`` runs it).

    python bench/cold_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_md import machine, write_section  # noqa: E402  (bench/ is the script's directory)

HERE = os.path.dirname(os.path.abspath(__file__))

# Each query keeps one row of one, through a filter, and checks it got it.
QUERIES: dict[str, tuple[str, str]] = {
    "python (no import)": ("pass", "pass"),
    "riverbed, from_pydict": (
        "import riverbed",
        "import riverbed as rb; t = rb.from_pydict({'x': [1]}).filter(rb.col('x') > 0).collect(); "
        "assert t.num_rows == 1",
    ),
    "riverbed, datagen": (
        "import riverbed",
        "import riverbed as rb; t = rb.datagen({'x': rb.Int64}, number_of_rows=1).filter(rb.col('x') > -1)"
        ".collect(); assert t.num_rows == 1",
    ),
    "polars": (
        "import polars",
        "import polars as pl; df = pl.DataFrame({'x': [1]}).lazy().filter(pl.col('x') > 0).collect(); "
        "assert df.height == 1",
    ),
    "duckdb": (
        "import duckdb",
        "import duckdb; r = duckdb.sql('select x from (values (1)) t(x) where x > 0').fetchall(); assert len(r) == 1",
    ),
}


# The phases of riverbed's first row, timed inside one fresh interpreter: pyarrow's import,
# riverbed's own modules, loading the engine library (the Go runtime and the package init of
# every linked Go package run then), and planning and running the one-row query.
PHASES_CODE = (
    "import time; t0 = time.perf_counter(); import pyarrow; t1 = time.perf_counter(); "
    "import riverbed as rb; t2 = time.perf_counter(); from riverbed import _lib; _lib.version(); "
    "t3 = time.perf_counter(); "
    "t = rb.datagen({'x': rb.Int64}, number_of_rows=1).filter(rb.col('x') > -1).collect(); "
    "t4 = time.perf_counter(); assert t.num_rows == 1; "
    "print(t1 - t0, t2 - t1, t3 - t2, t4 - t3)"
)
PHASES = ["import pyarrow", "import riverbed (its own modules)", "load the engine library", "plan and run the query"]


# What the figures above led to, kept with them in RESULTS.md.
NOTES = """
What was measured and cut (issue 13's target: the first row of a one-row job within 0.3 s):

- `import riverbed` imports pyarrow and riverbed's own modules only (plus `json` and `base64`):
  IPython only if it is already loaded, tqdm when a progress bar first shows, pandas and polars in
  `to_pandas()`/`to_polars()`/`from_pandas()`; `html` and `decimal` are no longer imported (HTML
  escaping without the `html` module; a `Decimal` literal is recognised only once `decimal` is
  loaded). riverbed's own modules take a few milliseconds once byte-compiled; most of the
  import is pyarrow's, which imports numpy.
- Loading the engine library: opening it takes milliseconds (its code is mapped, not read), and
  the first call waits for the Go runtime and package init, measured with `GODEBUG=inittrace=1`.
  The largest init is Prometheus' client (its default registry, linked through Pebble's metrics),
  then go-json's and arrow's compute registry: milliseconds in all, left as they are, since the
  packages that bring them are needed. The library is built with `-trimpath -ldflags="-s -w"`
  (`make lib`, the wheel): no symbol tables or DWARF, which are not loaded at run time anyway.
- The library is still loaded on the first call that needs it, never at import: a process that
  imports riverbed and forks (multiprocessing) keeps working in its children.
- Before and after, CPU time of `riverbed, datagen` (median of 7, measured once side by side on
  this machine at a load average near 20 on 2 cores): 390 ms before (riverbed's modules compiled
  from source in every run, as this benchmark measured them until now), 328 ms with them
  byte-compiled, 317 ms now; `import pyarrow` alone took 283 ms and `python -c pass` 22 ms. So
  riverbed's own part of the first row (its modules, the engine's load and init, planning and
  running the query) went from about 107 ms to 34 ms of CPU; the rest is pyarrow and numpy.
  On an idle machine the wall time of a first row is close to its CPU time: pyarrow's import
  plus some 35 ms of riverbed's.
"""


def _phases() -> list[float]:
    env = dict(os.environ, RIVERBED_PROGRESS="0")
    out = subprocess.run([sys.executable, "-c", PHASES_CODE], check=True, env=env, capture_output=True, text=True)
    return [float(x) for x in out.stdout.split()]


def go_init(runs: int = 5) -> tuple[float, list[tuple[str, float]]]:
    """Milliseconds of Go package initialization when the engine library loads (median over
    runs, from the runtime's GODEBUG=inittrace=1 report) and the packages that take longest."""
    code = "from riverbed import _lib; _lib.lib()"
    totals, per_pkg = [], {}
    for _ in range(runs):
        env = dict(os.environ, GODEBUG="inittrace=1")
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        total = 0.0
        for line in r.stderr.splitlines():
            # init github.com/x/y @12 ms, 0.41 ms clock, 12345 bytes, 67 allocs
            if not line.startswith("init "):
                continue
            parts = line.split()
            ms = float(parts[4])
            total += ms
            per_pkg.setdefault(parts[1], []).append(ms)
        totals.append(total)
    top = sorted(((k, statistics.median(v)) for k, v in per_pkg.items()), key=lambda kv: -kv[1])[:6]
    return statistics.median(totals), top


def _run(code: str) -> tuple[float, float]:
    """Wall time and CPU time (user + system, all threads) of ``python -c code``."""
    env = dict(os.environ, RIVERBED_PROGRESS="0")
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)


def byte_compile_riverbed() -> str:
    """Byte-compile riverbed's modules, as installing a wheel does (pip writes the .pyc
    files): otherwise, with PYTHONDONTWRITEBYTECODE set or a read-only tree, every run would
    compile riverbed from source, which no installed riverbed does, while the other tools
    are installed compiled."""
    out = subprocess.run([sys.executable, "-c", "import os, riverbed; print(os.path.dirname(riverbed.__file__))"],
                         check=True, capture_output=True, text=True).stdout.strip()
    compileall.compile_dir(out, quiet=1)
    return out


def _available(module: str) -> bool:
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    return r.returncode == 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=9, help="runs of each (default 9); the median is reported")
    ap.add_argument("--no-write", action="store_true", help="print the table only, do not update RESULTS.md")
    args = ap.parse_args()

    byte_compile_riverbed()
    queries = {k: v for k, v in QUERIES.items() if v[0] == "pass" or _available(v[0].split()[1])}
    for imp, q in queries.values():  # warm the file cache (and fail early on a broken query)
        _run(imp)
        _run(q)
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    imports: dict[str, list[float]] = {k: [] for k in queries}
    firsts: dict[str, list[float]] = {k: [] for k in queries}
    cpus: dict[str, list[float]] = {k: [] for k in queries}
    for _ in range(args.runs):
        for k, (imp, q) in queries.items():
            imports[k].append(_run(imp)[0])
            wall, cpu = _run(q)
            firsts[k].append(wall)
            cpus[k].append(cpu)

    phases = [_phases() for _ in range(args.runs)]
    init_ms, init_top = go_init()
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    def versions() -> str:
        out = [f"Python {platform.python_version()}"]
        for mod in ("riverbed", "polars", "duckdb", "pyarrow"):
            r = subprocess.run([sys.executable, "-c", f"import {mod}; print({mod}.__version__)"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                out.append(f"{mod} {r.stdout.strip()}")
        return ", ".join(out)

    rows = ["| tool | query | import (ms) | first row (ms) | first row, CPU time (ms) |", "|---|---|---:|---:|---:|"]
    for k, (_, q) in queries.items():
        query = q.split("; ", 1)[1].rsplit("; assert", 1)[0] if k != "python (no import)" else "—"
        rows.append(f"| {k} | `{query}` | {statistics.median(imports[k]) * 1e3:,.0f} | "
                    f"{statistics.median(firsts[k]) * 1e3:,.0f} | {statistics.median(cpus[k]) * 1e3:,.0f} |")
    table = "\n".join(rows)
    prow = ["| phase of `riverbed, datagen` | ms |", "|---|---:|"]
    for i, name in enumerate(PHASES):
        prow.append(f"| {name} | {statistics.median(p[i] for p in phases) * 1e3:,.0f} |")
    top = ", ".join(f"{k} {v:.1f}" for k, v in init_top)
    prow.append(f"| of which Go package init (GODEBUG=inittrace=1) | {init_ms:,.0f} |")
    table += "\n\n" + "\n".join(prow) + f"\n\nSlowest Go package inits (ms): {top}.\n"
    print(table)
    if args.no_write:
        return
    text = (
        "## Cold start: first row from a fresh interpreter (`python bench/cold_start.py`)\n\n"
        f"- Machine: {machine()}.\n"
        f"- Versions: {versions()}.\n"
        f"- Time: wall time of `python -c \"<query>\"` (interpreter start, imports, loading the engine, "
        f"planning and running a one-row query, exit), and of `python -c \"import <tool>\"` alone; "
        f"median of {args.runs} runs each, the tools interleaved, after one warm-up run each "
        f"(warm file cache). `RIVERBED_PROGRESS=0`. Load average (1 min) at the start and end: "
        f"{load_start:.1f} and {load_end:.1f} on {os.cpu_count()} cores; other work on a busy machine "
        f"inflates every wall time, so compare the tools within one run; the CPU time (user and system, "
        f"all threads of the process) is the least disturbed by it.\n"
        "- riverbed's modules are byte-compiled first, as installing a wheel does (the other tools are "
        "installed compiled): with `PYTHONDONTWRITEBYTECODE` set, a checkout would otherwise compile riverbed "
        "from source in every run.\n"
        "- `riverbed, from_pydict` includes pyarrow importing pandas when it builds an array from a Python "
        "list (`pa.array([1])` does so whenever pandas is installed, even for numpy input); `riverbed, "
        "datagen` builds no array in Python and shows the cost without it.\n"
        "- The phases are timed inside one interpreter (medians of the runs): loading the engine library "
        "includes its first call, which waits for the Go runtime and the package init of every linked Go "
        "package (run in a thread of their own when the library is opened).\n\n"
        f"{table}\n"
        f"{NOTES}"
    )
    write_section(os.path.join(HERE, "RESULTS.md"), "## Cold start", text)


if __name__ == "__main__":
    main()
