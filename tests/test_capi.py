"""The C ABI: panics become exceptions, memory is not leaked, the GIL is released, a
forked child gets a clear error instead of a hang."""

import multiprocessing
import os
import subprocess
import sys
import textwrap
import threading
import time

import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import _lib, col
from testhooks import require_test_hooks


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)


def test_panic_in_api_call_becomes_exception_and_process_survives():
    require_test_hooks()
    r = run_python("""
        import riverbed as rb
        from riverbed import _lib
        try:
            _lib.debug_panic(0)
        except rb.InternalError as e:
            assert "panic: debug panic requested" in str(e), e
            print("caught")
        # The library refuses further calls rather than limp on, with a clear message.
        try:
            rb.from_pydict({"x": [1]}).collect()
        except rb.InternalError as e:
            assert "cannot be used after an internal error" in str(e), e
            print("refused")
        print("alive")
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["caught", "refused", "alive"]


def test_ordinary_engine_error_maps_to_class():
    require_test_hooks()
    with pytest.raises(rb.PlanError, match="debug error"):
        _lib.debug_panic(1)


def test_panic_inside_job_fails_only_that_job():
    require_test_hooks()
    from riverbed.expr import Expr

    boom = Expr({"fn": "debug_panic", "args": []})
    with pytest.raises(rb.InternalError, match="panic in .*debug_panic evaluated"):
        rb.from_pydict({"x": list(range(10))}).filter(boom).collect()
    # The next job works.
    assert rb.from_pydict({"x": [1, 2]}).filter(col("x") > 1).collect()["x"].to_pylist() == [2]


def test_round_trips_leak_nothing():
    """10,000 batches through the engine and back: neither side keeps a byte."""
    batches = [pa.record_batch({"x": pa.array(range(i, i + 64)), "s": pa.array([str(i)] * 64)}) for i in range(10_000)]
    table = pa.Table.from_batches(batches)
    env = rb.Environment(parallelism=2, batch_size=64)
    # warm up (lazy library load, pyarrow pools)
    env.from_arrow(table.slice(0, 10)).collect()
    engine_before = rb._allocated_bytes()
    arrow_before = pa.total_allocated_bytes()
    out = env.from_arrow(table).with_columns(y=col("x") * 2).filter(col("x") >= 0).collect(progress=False)
    assert out.num_rows == table.num_rows
    assert out.column("y").to_pylist()[:3] == [0, 2, 4]
    assert len(out.to_batches()) >= 10_000
    assert rb._allocated_bytes() > engine_before  # the results live in engine memory ...
    del out
    assert rb._allocated_bytes() == engine_before  # ... until pyarrow releases them
    assert pa.total_allocated_bytes() <= arrow_before


def test_input_buffers_are_not_copied():
    """A pass-through pipeline hands back the caller's own buffers."""
    t = pa.table({"x": pa.array(range(1000), pa.int64())})
    out = rb.Environment(parallelism=1).from_arrow(t).collect(progress=False)
    src = t.column("x").chunk(0).buffers()[1].address
    dst = out.column("x").chunk(0).buffers()[1].address
    assert src == dst


def test_long_job_releases_the_gil():
    """While the engine works, other Python threads keep running."""
    t = pa.table({"k": pa.array(range(3_000_000)), "v": pa.array(range(3_000_000), pa.float64())})
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.005)

    th = threading.Thread(target=ticker)
    th.start()
    try:
        out = rb.from_arrow(t).group_by("k").agg(col("v").sum()).collect(progress=False)
    finally:
        stop.set()
        th.join()
    assert out.num_rows == 3_000_000
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) > 5 and max(gaps) < 0.5, f"the ticker thread stalled for {max(gaps):.2f}s"


def _child(q):
    try:
        rb.from_pydict({"x": [1]}).collect()
        q.put("ran")
    except rb.RiverbedError as e:
        q.put(str(e))


@pytest.mark.skipif(sys.platform != "linux", reason="fork start method")
def test_forked_child_gets_clear_error():
    rb.from_pydict({"x": [1]}).collect()  # load the engine in this process
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(60)
    assert p.exitcode == 0
    msg = q.get(timeout=5)
    assert "spawn" in msg and "fork" in msg


def test_spawned_child_works():
    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    p.join(120)
    assert q.get(timeout=5) == "ran"


def test_missing_library_message(tmp_path):
    r = run_python(f"""
        import os
        os.environ["RIVERBED_LIBRARY"] = {str(tmp_path / "nope.so")!r}
        import riverbed as rb
        try:
            rb.from_pydict({{"x": [1]}}).collect()
        except rb.RiverbedError as e:
            print("missing" if "library is missing" in str(e) else str(e))
    """)
    assert r.stdout.strip() == "missing", r.stderr


def test_versions():
    assert rb.engine_version() == rb.__version__
    assert _lib.plan_version() == 1
    assert os.path.exists(_lib.library_path())


def test_test_hooks_exist_only_in_the_test_build():
    """rb_debug_panic and the plan function debug_panic are compiled only into the test build
    (go build -tags riverbed_testhooks); the library in the package, which users get, lacks them."""
    import os
    import shutil
    import subprocess

    nm = shutil.which("nm")
    shipped = os.path.join(os.path.dirname(os.path.abspath(_lib.__file__)), "libriverbed.so")
    if nm is None or not os.path.exists(shipped) or os.path.samefile(shipped, _lib.library_path()):
        pytest.skip("needs nm and a test build of the library next to the shipped one (make test)")

    def exported(path: str) -> set[str]:
        out = subprocess.run([nm, "-D", "--defined-only", path], capture_output=True, text=True, check=True).stdout
        return {line.split()[-1] for line in out.splitlines() if line.strip()}

    assert "rb_job_start" in exported(shipped)
    assert "rb_debug_panic" not in exported(shipped)
    assert "rb_debug_panic" in exported(_lib.library_path())
    assert "debug_panic evaluated" not in open(shipped, "rb").read().decode("latin-1")
