"""Go profiles of the engine (RIVERBED_CPUPROFILE / RIVERBED_HEAPPROFILE, `make profile`)."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest

import riverbed as rb
from riverbed import _lib


def _functions(path: str) -> bytes:
    """The profile's decompressed protobuf (pprof files are gzipped protobuf): function
    names are plain strings in its string table."""
    with open(path, "rb") as f:
        head = f.read(2)
    assert head == b"\x1f\x8b", f"{path} is not a gzipped pprof profile"
    with gzip.open(path) as f:
        return f.read()


def test_cpu_profile_covers_the_engine_code_a_job_ran(tmp_path):
    path = str(tmp_path / "cpu.pprof")
    _lib.cpu_profile_start(path)
    try:
        with pytest.raises(rb.RiverbedError, match="already being written"):
            _lib.cpu_profile_start(str(tmp_path / "other.pprof"))
        env = rb.Environment(parallelism=2)
        for _ in range(20):
            t = env.datagen({"k": rb.Int64, "v": rb.Float64}, number_of_rows=200_000).group_by("k").agg(
                rb.col("v").sum().alias("s")).collect(progress=False)
            assert t.num_rows > 0
    finally:
        _lib.cpu_profile_stop()
    _lib.cpu_profile_stop()  # none running: nothing to do
    data = _functions(path)
    assert b"runtime/pprof" in data or b"riverbed" in data
    assert b"github.com/riverbed-engine/riverbed/engine" in data


def test_heap_profile_and_bad_kind(tmp_path):
    path = str(tmp_path / "heap.pprof")
    rb.datagen({"x": rb.Int64}, number_of_rows=10).collect(progress=False)
    _lib.write_profile("heap", path)
    assert b"github.com/riverbed-engine/riverbed" in _functions(path)
    with pytest.raises(rb.RiverbedError, match="no profile named 'cpu'|no profile named \"cpu\""):
        _lib.write_profile("cpu", str(tmp_path / "x"))
    with pytest.raises(rb.RiverbedError, match="heap profile .*missing"):
        _lib.write_profile("heap", str(tmp_path / "missing" / "heap.pprof"))


def test_profiles_from_the_environment_are_written_at_exit(tmp_path):
    cpu, heap = tmp_path / "cpu.pprof", tmp_path / "heap.pprof"
    # Runs jobs until the process has spent 1 s of CPU: the profile samples at 100 Hz, so a
    # fixed small workload on a loaded machine could leave it without a single engine sample.
    code = ("import time, riverbed as rb\n"
            "t0 = time.process_time()\n"
            "while time.process_time() - t0 < 1.0:\n"
            "    rb.datagen({'k': rb.Int64}, number_of_rows=200_000).group_by('k').agg("
            "rb.count().alias('n')).collect(progress=False)\n")
    env = {**os.environ, "RIVERBED_CPUPROFILE": str(cpu), "RIVERBED_HEAPPROFILE": str(heap)}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=300)
    assert b"github.com/riverbed-engine/riverbed" in _functions(str(cpu))
    assert b"github.com/riverbed-engine/riverbed" in _functions(str(heap))
