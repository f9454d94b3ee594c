"""The C boundary and job control: malformed input data, Ctrl-C, timeouts, cancel and stop
of blocked live sources, byte-bounded job buffers, fork, panics, dropped jobs.

Scenarios that could crash or hang the process run in a subprocess with a timeout, so a
regression fails the test instead of killing or hanging pytest.
"""

from __future__ import annotations

import gc
import os
import select
import signal
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

PYTHON_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python")


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_PATH + os.pathsep + env.get("PYTHONPATH", "")
    env["RIVERBED_PROGRESS"] = "0"
    return env


def run_python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=child_env())


# -- 7: batches that do not match their schema ------------------------------------------------

@pytest.mark.parametrize("rows", [3, 5_000_000], ids=["small", "large"])
def test_batch_not_matching_the_stream_schema_is_a_data_error(rows):
    """int8 data under an int64 schema: reading it as int64 read past the buffer (garbage for
    small arrays, a segfault for large ones)."""
    r = run_python(f"""
        import pyarrow as pa, riverbed as rb
        schema = pa.schema([("x", pa.int64())])
        def gen():
            yield pa.record_batch([pa.array(range(10), pa.int64())], names=["x"])
            yield pa.record_batch([pa.array([1] * {rows}, pa.int8())], names=["x"])
        try:
            t = rb.from_arrow(pa.RecordBatchReader.from_batches(schema, gen())).collect()
            print("no error", t.num_rows)
        except rb.DataError as e:
            print("DataError:", e)
            print("cause:", type(e.__cause__).__name__)
    """)
    assert r.returncode == 0, r.stderr[-3000:]
    out = r.stdout
    assert "DataError:" in out, out
    assert "from_arrow input 0, batch 1: column 'x' holds int8 data, but the stream's schema declares int64" in out
    assert "Traceback" not in out  # the message is the check's, not pyarrow's rendering of it
    assert "cause: DataError" in out


def bad_strings() -> pa.Array:
    """Three strings whose offsets go backwards: pyarrow builds it (its cheap check looks at
    the first and last offset only); reading the middle value reads out of bounds."""
    offsets = pa.py_buffer(pa.array([0, 4, 1, 5], pa.int32()).buffers()[1])
    return pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(b"hello")])


def test_malformed_table_column_is_a_data_error():
    t = pa.table({"ok": pa.array(range(3)), "bad": bad_strings()})
    with pytest.raises(rb.DataError, match=r'batch 0: column "bad" \(utf8\) is malformed: offsets decrease'):
        rb.from_arrow(t).collect()


def test_malformed_offsets_are_a_data_error():
    """In a live stream: the engine's check of every offset names the column and batch."""
    bad = bad_strings()
    good = pa.array(["a", "b", "c"])
    schema = pa.schema([("s", pa.string())])
    reader = pa.RecordBatchReader.from_batches(schema, [pa.record_batch([good], schema=schema),
                                                        pa.record_batch([bad], schema=schema)])
    with pytest.raises(rb.DataError, match=r'batch 1: column "s" \(utf8\) is malformed: offsets decrease'):
        rb.from_arrow(reader).collect()


def test_valid_live_stream_passes_unchanged():
    """The checks let good data through untouched (oracle: the input itself)."""
    batches = [pa.record_batch({"x": pa.array(range(i, i + 100)), "s": pa.array([str(j) for j in range(100)]),
                                "d": pa.array(["a", "b"] * 50).dictionary_encode()}) for i in range(0, 1000, 100)]
    reader = pa.RecordBatchReader.from_batches(batches[0].schema, batches)
    out = rb.Environment(parallelism=2, batch_size=64).from_arrow(reader).collect()
    assert out.equals(pa.Table.from_batches(batches))


# -- 11: Ctrl-C cancels the job on every path --------------------------------------------------

# A long bounded job that produces no result for a long time (a filter drops every row), so
# the caller waits inside the engine, not between batches.
SLOW_JOB = """
import time, pyarrow as pa, riverbed as rb
slow = (rb.datagen({"id": rb.Int64}, rows_per_second=1000, number_of_rows=10_000_000,
                   fields={"id": {"kind": "sequence", "min": 1}})
        .filter(rb.col("id") < 0))
"""

CTRL_C_PATHS = {
    "collect": "slow.collect(progress=False)",
    "collect_progress": "slow.collect(progress=True)",
    "to_reader": "for b in slow.to_reader(): pass",
    "pa_table": "pa.table(slow)",
    "job_results": "for b in slow.start().results(): pass",
    "job_wait": "slow.start().wait()",
    "collect_all": "rb.collect_all([slow, slow.select('id')], progress=False)",
    "write_parquet": "import tempfile; slow.write_parquet(tempfile.mkdtemp() + '/out')",
}


@pytest.mark.parametrize("path", list(CTRL_C_PATHS))
def test_ctrl_c_cancels_the_job_promptly(path):
    code = SLOW_JOB + textwrap.dedent(f"""
        t0 = 0
        try:
            print("ready", flush=True)
            {CTRL_C_PATHS[path]}
            print("ended without interrupt", flush=True)
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
        # The engine is still usable afterwards.
        print("next", rb.from_pydict({{"x": [1, 2]}}).collect()["x"].to_pylist(), flush=True)
        # Ends here: the interpreter's teardown is not what this checks (pyarrow's C++ thread
        # pools now and then abort it with "terminate called without an active exception").
        import os; os._exit(0)
    """)
    p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=child_env())
    try:
        ready, _, _ = select.select([p.stdout], [], [], 60)
        assert ready and p.stdout.readline().strip() == "ready", "the child did not start"
        time.sleep(1.0)  # let it block inside the job
        assert p.poll() is None
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=90)
        took = time.monotonic() - sent
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, (out, err[-3000:])
    assert out.split("\n")[:2] == ["KeyboardInterrupt", "next [1, 2]"], (out, err[-2000:])
    # The job would run for hours (10M rows at 1000/s); the bound is loose for loaded machines.
    assert took < 30, f"Ctrl-C took {took:.1f} s to end the job"


# -- 12: results(timeout=) is total time -------------------------------------------------------

def test_results_timeout_expires_while_batches_are_buffered():
    job = rb.Environment(parallelism=1, batch_size=100).datagen({"id": rb.Int64}).start()
    try:
        first = next(job.results(timeout="30s", max_batches=1))  # the job is producing
        assert first.num_rows > 0
        start = time.monotonic()
        n = 0
        for _ in job.results(timeout=1.0):
            n += 1
            time.sleep(0.2)  # slower than the job: batches are always waiting
        took = time.monotonic() - start
        assert n >= 2
        assert took < 2.0, f"results(timeout=1) ran {took:.1f} s"
    finally:
        job.cancel()


# -- 13: cancel and stop while a live source blocks; a UDF that cancels its own job -------------

BLOCKED_SOURCE = """
import threading, time, pyarrow as pa, riverbed as rb
schema = pa.schema([("x", pa.int64())])
never = threading.Event()
def gen():
    yield pa.record_batch([pa.array(range(10))], schema=schema)
    never.wait()  # a live producer with nothing more to say
job = rb.from_arrow(pa.RecordBatchReader.from_batches(schema, gen())).start()
first = next(job.results(timeout="30s", max_batches=1))
assert first.column(0).to_pylist() == list(range(10))
t0 = time.monotonic()
"""


@pytest.mark.parametrize("how", ["cancel", "stop"])
def test_cancel_and_stop_return_while_a_live_source_blocks(how):
    r = run_python(BLOCKED_SOURCE + textwrap.dedent(f"""
        job.{how}()
        print("returned", round(time.monotonic() - t0, 1), job.status, flush=True)
        print("next", rb.from_pydict({{"x": [1]}}).collect()["x"].to_pylist(), flush=True)
    """), timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.split("\n")
    word, seconds, status = lines[0].split()
    assert word == "returned" and float(seconds) < 5
    assert status == ("cancelled" if how == "cancel" else "finished")
    assert lines[1] == "next [1]"


@pytest.mark.parametrize("cancel", [True, False], ids=["cancelled", "left-running"])
def test_exit_while_a_live_source_waits_in_python(cancel):
    """A live generator that waits for data in Python (sleeping) while the interpreter
    exits: the engine's reading thread woke up in a finalizing interpreter and aborted the
    process ("Fatal Python error: PyGILState_Release"), after cancel() or with the job left
    running."""
    for _ in range(3):
        r = run_python(f"""
            import time, pyarrow as pa, riverbed as rb
            schema = pa.schema([("x", pa.int64())])
            def gen():
                yield pa.record_batch([pa.array([1])], schema=schema)
                while True:
                    time.sleep(0.05)  # a live source with no new data
            job = rb.from_arrow(pa.RecordBatchReader.from_batches(schema, gen()), bounded=False).start()
            print(sum(b.num_rows for b in job.results(timeout="1s")), flush=True)
            if {cancel}:
                job.cancel()
            print("exiting", job.status, flush=True)
        """, timeout=60)
        assert r.returncode == 0, r.stderr[-3000:]
        assert "Fatal Python error" not in r.stderr
        assert r.stdout.split() == ["1", "exiting", "cancelled" if cancel else "running"], r.stdout


def test_udf_that_cancels_its_own_job():
    r = run_python("""
        import threading, time, pyarrow as pa, riverbed as rb
        holder = {}
        started = threading.Event()
        calls = []
        def fn(b):
            calls.append(b.num_rows)
            if len(calls) == 3:
                started.wait(10)
                holder["job"].cancel()  # must not wait for the job it runs in
            return b
        job = rb.Environment(parallelism=1, batch_size=100).datagen({"id": rb.Int64}).map_batches(fn).start()
        holder["job"] = job
        started.set()
        t0 = time.monotonic()
        try:
            job.wait(timeout=20)
        except rb.CancelledError:
            pass
        print(job.status, round(time.monotonic() - t0, 1), flush=True)
    """, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    status, seconds = r.stdout.split()
    assert status == "cancelled" and float(seconds) < 10


# -- 14: job buffers bounded in bytes ----------------------------------------------------------

def settled() -> int:
    last = -1
    for _ in range(100):
        now = rb._allocated_bytes()
        if now == last:
            return now
        last = now
        time.sleep(0.05)
    return last


def stalled(job: rb.Job) -> None:
    """Wait until an unread job stops producing (its buffers are full)."""
    deadline = time.monotonic() + 30
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        m = job.metrics(as_dict=True)
        n = sum(o["records_out"] for o in m)
        if n != last:
            last, since = n, time.monotonic()
        elif n > 0 and time.monotonic() - since > 1.0:
            return
        time.sleep(0.05)
    pytest.fail("the unread job did not stall")


def test_unread_jobs_hold_at_most_their_buffer_bytes():
    """Unread Nexmark jobs: each holds about its configured buffer (engine memory counted by
    rb_allocated_bytes), not 64 batches (about 1 GB with the default batch size). Measured in
    a fresh process: the engine's allocation count is per process, and jobs of other tests
    still winding down would be counted too."""
    if os.environ.get("RIVERBED_MEASURE_UNREAD") != "1":
        env = dict(os.environ, RIVERBED_MEASURE_UNREAD="1")
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                              f"{__file__}::test_unread_jobs_hold_at_most_their_buffer_bytes"],
                             env=env, capture_output=True, text=True, timeout=300,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return
    bound = 8 << 20
    batch_rows = 4096
    env = rb.Environment(parallelism=2, batch_size=batch_rows, buffer_bytes=bound)
    gc.collect()
    base = settled()
    jobs = []
    try:
        for _ in range(3):
            job = env.nexmark().bids().start()
            jobs.append(job)
            stalled(job)
        held = settled() - base  # once no batch is in flight
        batch = next(jobs[0].results(max_batches=1))
        per_batch = batch.nbytes
        # Besides the bound, each of a job's few queues always takes one batch, and each
        # subtask holds the batch it is working on (12 batches); in whole-suite runs up to
        # 16 were seen (the cause is not known yet), far below the 64 per queue
        # (about 1 GB) this test guards against.
        slack = 24 * per_batch
        assert per_batch * 4 < bound
        assert held <= len(jobs) * (bound + slack), (held, per_batch)
        assert held >= len(jobs) * bound // 2  # the buffers are used: the bound is what holds
    finally:
        for job in jobs:
            job.cancel()


def test_unbounded_stream_is_refused_by_to_reader_and_pa_table():
    s = rb.datagen({"id": rb.Int64})
    with pytest.raises(rb.PlanError, match="unbounded"):
        s.to_reader()
    with pytest.raises(rb.PlanError, match="unbounded"):
        pa.table(s)
    bounded = rb.datagen({"id": rb.Int64}, number_of_rows=10, fields={"id": {"kind": "sequence", "min": 1}})
    assert pa.table(bounded).column("id").to_pylist() == list(range(1, 11))
    assert pa.Table.from_batches(list(bounded.to_reader())).column("id").to_pylist() == list(range(1, 11))


def test_buffer_bytes_must_be_positive():
    with pytest.raises(ValueError, match="buffer_bytes"):
        rb.Environment(buffer_bytes=0)


# -- 15: fork ----------------------------------------------------------------------------------

FORK_CHILD_CALLS = {
    "job.results": lambda job: next(job.results(timeout=1)),
    "job.wait": lambda job: job.wait(),
    "job.status": lambda job: job.status,
    "job.metrics": lambda job: job.metrics(),
    "job.cancel": lambda job: job.cancel(),
    "job.stop": lambda job: job.stop(),
    "job.collect": lambda job: job.collect(timeout=1),
    "collect": lambda job: rb.from_pydict({"x": [1]}).collect(),
    "schema": lambda job: rb.from_pydict({"x": [1]}).schema,
    "to_reader": lambda job: rb.from_pydict({"x": [1]}).to_reader(),
    "start": lambda job: rb.from_pydict({"x": [1]}).start(),
}


@pytest.mark.skipif(sys.platform != "linux", reason="fork")
def test_every_entry_point_in_a_forked_child_raises_the_fork_error():
    job = rb.datagen({"id": rb.Int64}, rows_per_second=10).start()
    try:
        next(job.results(timeout="30s", max_batches=1))
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: report each call's outcome, then leave at once
            try:
                lines = []
                for name, fn in FORK_CHILD_CALLS.items():
                    try:
                        fn(job)
                        lines.append(f"{name}: no error")
                    except rb.RiverbedError as e:
                        ok = "fork" in str(e) and "spawn" in str(e)
                        lines.append(f"{name}: {'fork error' if ok else e}")
                    except BaseException as e:  # noqa: BLE001
                        lines.append(f"{name}: {type(e).__name__} {e}")
                os.write(w, "\n".join(lines).encode())
            finally:
                os._exit(0)
        os.close(w)
        deadline = time.monotonic() + 30
        chunks = []
        while time.monotonic() < deadline:
            ready, _, _ = select.select([r], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            chunk = os.read(r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(r)
        done = 0
        while done == 0 and time.monotonic() < deadline + 5:
            done, _ = os.waitpid(pid, os.WNOHANG)
            time.sleep(0.01)
        if done == 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung: " + b"".join(chunks).decode())
        got = dict(line.split(": ", 1) for line in b"".join(chunks).decode().split("\n"))
        assert got == {name: "fork error" for name in FORK_CHILD_CALLS}
    finally:
        job.cancel()


# -- panics, inputs moved on every path, dropped jobs -------------------------------------------

def test_panic_in_a_validation_call_does_not_disable_the_library():
    require_test_hooks()
    r = run_python("""
        import riverbed as rb
        from riverbed import _lib
        try:
            _lib.debug_panic(2)
        except rb.InternalError as e:
            assert "debug panic requested" in str(e), e
            print("caught")
        print(rb.from_pydict({"x": [1, 2]}).collect()["x"].to_pylist())
    """)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split("\n")[:2] == ["caught", "[1, 2]"]


def test_inputs_are_released_when_the_library_refuses_a_call():
    """The header promises that input streams are moved on every path: also when the
    library refuses every call after an internal error."""
    require_test_hooks()
    r = run_python("""
        import gc, weakref, pyarrow as pa, riverbed as rb
        from riverbed import _lib
        try:
            _lib.debug_panic(0)
        except rb.InternalError:
            pass
        schema = pa.schema([("x", pa.int64())])
        def gen():
            yield pa.record_batch([pa.array([1])], schema=schema)
        g = gen()
        alive = weakref.ref(g)
        reader = pa.RecordBatchReader.from_batches(schema, g)
        del g
        try:
            _lib.JobHandle({"version": 1, "root": {"op": "scan_arrow", "source": 0}}, [reader])
        except rb.InternalError:
            print("refused")
        del reader
        gc.collect()
        print("released" if alive() is None else "leaked")
    """)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.split() == ["refused", "released"]


def test_inputs_are_released_after_a_plan_error():
    schema = pa.schema([("x", pa.int64())])

    def gen():
        yield pa.record_batch([pa.array([1])], schema=schema)

    import weakref

    g = gen()
    alive = weakref.ref(g)
    reader = pa.RecordBatchReader.from_batches(schema, g)
    del g
    with pytest.raises(rb.ColumnNotFoundError):
        rb.from_arrow(reader).filter(col("nope") > 1).collect()
    del reader
    gc.collect()
    assert alive() is None


def test_dropped_running_job_is_cancelled_and_freed():
    rb.from_pydict({"x": [1]}).collect()
    gc.collect()
    base = settled()
    job = rb.Environment(parallelism=2, batch_size=1000, buffer_bytes=4 << 20).nexmark().bids().start()
    next(job.results(timeout="30s", max_batches=1))
    assert rb._allocated_bytes() > base
    del job
    gc.collect()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
            rb._allocated_bytes() != base or any(t.name.startswith("riverbed-job-") for t in threading.enumerate())):
        time.sleep(0.05)
    assert rb._allocated_bytes() == base
    assert not [t.name for t in threading.enumerate() if t.name.startswith("riverbed-job-")]


def test_result_reader_closed_early_cancels_the_job():
    """to_reader() closed before its end: the job is cancelled and its memory freed."""
    rb.from_pydict({"x": [1]}).collect()
    gc.collect()
    base = settled()
    s = rb.Environment(parallelism=2, batch_size=1000).nexmark(max_events=10_000_000).bids()
    reader = s.to_reader()
    assert reader.read_next_batch().num_rows > 0
    reader.close()
    del reader
    gc.collect()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and rb._allocated_bytes() != base:
        time.sleep(0.05)
    assert rb._allocated_bytes() == base


def test_library_still_loaded_once():
    assert _lib.lib() is _lib.lib()
