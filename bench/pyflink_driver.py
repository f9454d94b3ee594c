"""What the benchmarks that compare with PyFlink share.

PyFlink runs in its own virtual environment (``bench/.cache/pyflink-venv``, made by
``bench/pyflink_setup.sh`` with the Flink connector jars in ``bench/.cache/jars``). A
benchmark runs its PyFlink half by starting itself in that environment with
``--flink-worker CONFIG``; the worker writes its results as JSON, which :func:`run_worker`
returns. No riverbed import here: the worker imports this module too.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, ".cache")
FLINK_PY = os.path.join(CACHE, "pyflink-venv", "bin", "python")
JARS = os.path.join(CACHE, "jars")


def best_of(fn: Callable[..., Any], repeat: int, long: float) -> tuple[float, list[float], Any]:
    """Best wall time of up to ``repeat`` runs; a run longer than ``long`` seconds is not repeated."""
    times: list[float] = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
        if times[-1] > long:
            break
    return min(times), times, out


def ensure_pyflink(flink_python: str) -> None:
    """Set PyFlink and its jars up (once) unless they are there."""
    if os.path.exists(flink_python) and glob.glob(os.path.join(JARS, "flink-sql-parquet-*.jar")):
        return
    print("setting up PyFlink (bench/pyflink_setup.sh)...", file=sys.stderr, flush=True)
    subprocess.run(["bash", os.path.join(HERE, "pyflink_setup.sh")], check=True)


def flink_heap_gb() -> int:
    """JVM heap for PyFlink: Nexmark q7 keeps every bid in (heap) join state, about 13 GiB at 20M events."""
    try:
        with open("/proc/meminfo") as f:
            total_gb = int(f.readline().split()[1]) / 1024 / 1024
    except OSError:
        total_gb = 8
    return max(2, min(14, int(total_gb * 0.6)))


def run_worker(script: str, name: str, cfg: dict[str, Any], flink_python: str) -> dict[str, Any]:
    """Run ``script --flink-worker`` in the PyFlink environment with ``cfg`` (plus ``jars`` and
    ``out``) and return the JSON it wrote. Its stdout (JVM noise) goes to
    ``bench/.cache/<name>_worker.log``, its progress to stderr."""
    os.makedirs(CACHE, exist_ok=True)
    cfg_path = os.path.join(CACHE, f"{name}_job.json")
    out_path = os.path.join(CACHE, f"{name}_result.json")
    if os.path.exists(out_path):
        os.remove(out_path)
    with open(cfg_path, "w") as f:
        json.dump({**cfg, "jars": JARS, "out": out_path}, f)
    log = os.path.join(CACHE, f"{name}_worker.log")
    with open(log, "w") as lf:
        # The local mini-cluster runs in the gateway JVM; JVM_ARGS sets its heap.
        env = {**os.environ, "PYTHONPATH": "", "JVM_ARGS": f"-Xmx{flink_heap_gb()}g"}
        rc = subprocess.run([flink_python, os.path.abspath(script), "--flink-worker", cfg_path],
                            stdout=lf, env=env).returncode
    if rc != 0 or not os.path.exists(out_path):
        raise RuntimeError(f"the PyFlink run failed (exit {rc}); see bench/.cache/{name}_worker.log")
    with open(out_path) as f:
        return json.load(f)
