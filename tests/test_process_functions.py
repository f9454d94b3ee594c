"""Keyed process functions (key_by(...).process): Flink's fraud-detection walkthrough in
both forms against a plain-Python reference of Flink's logic, from memory, Parquet, a live
reader and through kill -9 + restore; timers, TTL, list and map state, late elements,
side outputs, errors; and per-row map / flat_map / filter against plain Python."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

if os.path.dirname(os.path.abspath(__file__)) not in sys.path:
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import procfn_common as fc  # noqa: E402
import riverbed as rb  # noqa: E402
from riverbed import col  # noqa: E402

FORMS = ["element", "vectorized"]


@pytest.fixture(scope="module")
def transactions():
    table, planted = fc.generate(seed=11)
    want = fc.reference(table)
    assert len(want) >= 40, "too few alerts planted"
    assert {"alert", "edge", "over", "cleared", "timeout"} <= set(planted)
    return table, want


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("parallelism", [1, 4])
def test_fraud_in_memory(transactions, form, parallelism):
    table, want = transactions
    env = rb.Environment(parallelism=parallelism, batch_size=500)
    out = fc.detector(env.from_arrow(table, event_time="ts"), form).collect()
    assert fc.alerts(out) == want


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("parallelism", [1, 4])
def test_fraud_parquet(transactions, form, parallelism, tmp_path):
    table, want = transactions
    # Several files, out of time order: batch mode must not care.
    shuffled = table.take(pa.array(list(reversed(range(table.num_rows)))))
    per = -(-table.num_rows // 3)
    for i in range(3):
        pq.write_table(shuffled.slice(i * per, per), tmp_path / f"tx-{i}.parquet", row_group_size=700)
    env = rb.Environment(parallelism=parallelism, batch_size=500)
    out = fc.detector(env.read_parquet(tmp_path, event_time="ts"), form).collect()
    assert fc.alerts(out) == want


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("parallelism", [1, 4])
def test_fraud_unbounded_generator(transactions, form, parallelism):
    """A live RecordBatchReader fed by a generator, in streaming mode: events are in time
    order, so none is late and the alerts are the reference's."""
    table, want = transactions

    def batches():
        yield from table.to_batches(max_chunksize=300)

    reader = pa.RecordBatchReader.from_batches(table.schema, batches())
    env = rb.Environment(parallelism=parallelism)
    stream = env.from_arrow(reader, event_time="ts", bounded=False)
    job = fc.detector(stream, form).start()
    out = job.collect(timeout=120)
    assert fc.alerts(out) == want


def test_both_forms_give_identical_rows(transactions):
    table, _ = transactions
    s = rb.from_arrow(table, event_time="ts")
    a, b = (fc.detector(s, f).collect() for f in FORMS)
    assert a.sort_by([("account_id", "ascending"), ("ts", "ascending")]).equals(
        b.sort_by([("account_id", "ascending"), ("ts", "ascending")]))


def test_explain_names_the_state(transactions):
    table, _ = transactions
    text = str(fc.detector(rb.from_arrow(table, event_time="ts"), "element").explain())
    assert "process" in text and "flag bool" in text and "timer-state int64" in text


# -- timers ------------------------------------------------------------------------------

T0 = dt.datetime(2026, 1, 1)
T0_MS = fc.EPOCH_MS


class TimerLog(rb.KeyedProcessFunction):
    """Registers timers at offsets given by each element (some twice, some deleted) and
    logs every firing with the watermark it saw."""

    def process_element(self, value, ctx):
        ts = ctx.timestamp()
        for off in value.register:
            ctx.timer_service().register_event_time_timer(ts + off)
        for off in value.delete:
            ctx.timer_service().delete_event_time_timer(ts + off)
        yield (ctx.get_current_key(), "element", ts, ctx.timer_service().current_watermark())

    def on_timer(self, timestamp, ctx):
        assert ctx.time_domain() == rb.TimeDomain.EVENT_TIME
        assert timestamp <= ctx.timer_service().current_watermark()
        yield (ctx.get_current_key(), "timer", timestamp, ctx.timer_service().current_watermark())
        if timestamp % 7 == 0:  # a timer registering a timer already due fires in this watermark
            ctx.timer_service().register_event_time_timer(timestamp - 1)


LOG = {"k": rb.Utf8, "what": rb.Utf8, "t": rb.Int64, "wm": rb.Int64}


def timer_reference(rows):
    """Per key: events in time order; a timer fires before an element at a later time;
    each timer once; deleted ones never; at the end all remaining ones."""
    out = {}
    by = {}
    for r in rows:
        by.setdefault(r["k"], []).append(r)
    for k, rs in by.items():
        rs.sort(key=lambda r: r["ms"])
        timers: set[int] = set()
        seq = []

        def fire_until(limit, timers=timers, seq=seq):
            while timers and min(timers) < limit:
                t = min(timers)
                timers.discard(t)
                seq.append(("timer", t))
                if t % 7 == 0:
                    timers.add(t - 1)

        for r in rs:
            fire_until(r["ms"])
            seq.append(("element", r["ms"]))
            for off in r["register"]:
                timers.add(r["ms"] + off)
            for off in r["delete"]:
                timers.discard(r["ms"] + off)
        fire_until(float("inf"))
        out[k] = seq
    return out


@pytest.mark.parametrize("parallelism", [1, 3])
def test_event_time_timers_fire_in_order(parallelism):
    import random

    rng = random.Random(5)
    rows = []
    for i in range(300):
        ms = rng.randrange(0, 100_000)
        reg = [rng.choice([1, 10, 100, 1000, 7000, 70]) for _ in range(rng.randrange(0, 3))]
        dele = [rng.choice([10, 1000]) for _ in range(rng.randrange(0, 2))]
        rows.append({"k": rng.choice("abcde"), "ms": ms, "register": reg, "delete": dele, "i": i})
    table = pa.table({"k": [r["k"] for r in rows],
                      "ts": pa.array([T0_MS + r["ms"] for r in rows], pa.int64()).cast(pa.timestamp("ms")),
                      "register": [r["register"] for r in rows], "delete": [r["delete"] for r in rows]})
    for r in rows:
        r["ms"] += T0_MS
    env = rb.Environment(parallelism=parallelism, batch_size=64)
    out = env.from_arrow(table, event_time="ts").key_by("k").process(TimerLog(), output_schema=LOG).collect()
    got = {}
    for r in out.to_pylist():
        got.setdefault(r["k"], []).append((r["what"], r["t"]))
    want = timer_reference(rows)
    # Across keys rows come in no particular order; per key they come in processing order.
    assert got == want


class ProcTimer(rb.KeyedProcessFunction):
    def process_element(self, value, ctx):
        now = ctx.timer_service().current_processing_time()
        ctx.timer_service().register_processing_time_timer(now + 100)
        ctx.timer_service().register_processing_time_timer(now + 10_000_000)  # deleted below
        ctx.timer_service().delete_processing_time_timer(now + 10_000_000)
        yield (ctx.get_current_key(), "element", now, 0)

    def on_timer(self, timestamp, ctx):
        assert ctx.time_domain() == rb.TimeDomain.PROCESSING_TIME
        yield (ctx.get_current_key(), "timer", timestamp, ctx.timer_service().current_processing_time())


def test_processing_time_timers_fire_on_the_wall_clock():
    schema = pa.schema([("k", pa.string())])
    done = __import__("threading").Event()

    def batches():
        yield pa.record_batch({"k": ["a", "b"]}, schema=schema)
        done.wait(30)  # the stream stays open until both timers have fired

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    job = rb.from_arrow(reader, bounded=False).key_by("k").process(ProcTimer(), output_schema=LOG).start()
    rows = []
    deadline = time.monotonic() + 60
    while sum(r["what"] == "timer" for r in rows) < 2 and time.monotonic() < deadline:
        for b in job.results(timeout="1s"):
            rows += b.to_pylist()
    done.set()
    job.wait(30)
    timers = sorted(r["k"] for r in rows if r["what"] == "timer")
    assert timers == ["a", "b"]
    for r in rows:
        if r["what"] == "timer":
            assert r["wm"] >= r["t"]  # fired once the wall clock passed it


# -- state -------------------------------------------------------------------------------

class ListMap(rb.KeyedProcessFunction):
    def open(self, ctx):
        self.seen = ctx.get_list_state(rb.ListStateDescriptor("seen", rb.Int64))
        self.per_merchant = ctx.get_map_state(rb.MapStateDescriptor("per_merchant", rb.Utf8, rb.Int64))

    def process_element(self, value, ctx):
        self.seen.add(value.x)
        self.per_merchant.put(value.m, (self.per_merchant.get(value.m) or 0) + 1)
        if value.x % 5 == 0:
            self.seen.clear()
        if value.x % 7 == 0:
            self.per_merchant.remove(value.m)
        yield {"k": ctx.get_current_key(), "x": value.x, "seen": self.seen.get(),
               "merchants": [{"m": m, "n": n} for m, n in sorted(self.per_merchant.items())]}


def test_list_and_map_state(tmp_path):
    import random

    rng = random.Random(3)
    n = 400
    ks = [rng.choice("pqrs") for _ in range(n)]
    xs = list(range(1, n + 1))
    ms_ = [rng.choice(["m1", "m2", "m3"]) for _ in range(n)]
    ts = [T0 + dt.timedelta(seconds=i) for i in range(n)]
    table = pa.table({"k": ks, "x": xs, "m": ms_, "ts": ts})
    schema = {"k": rb.Utf8, "x": rb.Int64, "seen": pa.list_(pa.int64()),
              "merchants": pa.list_(pa.struct([("m", pa.string()), ("n", pa.int64())]))}
    env = rb.Environment(parallelism=2, batch_size=50)
    out = env.from_arrow(table, event_time="ts").key_by("k").process(ListMap(), output_schema=schema).collect()
    want = []
    seen: dict[str, list[int]] = {}
    per: dict[str, dict[str, int]] = {}
    for k, x, m in zip(ks, xs, ms_):
        s = seen.setdefault(k, [])
        s.append(x)
        p = per.setdefault(k, {})
        p[m] = p.get(m, 0) + 1
        if x % 5 == 0:
            s.clear()
        if x % 7 == 0:
            p.pop(m)
        want.append((k, x, list(s), sorted(p.items())))
    got = [(r["k"], r["x"], r["seen"], [(d["m"], d["n"]) for d in r["merchants"]]) for r in out.to_pylist()]
    assert sorted(got) == sorted(want)


class Counter(rb.KeyedProcessFunction):
    def open(self, ctx):
        self.short = ctx.get_state(rb.ValueStateDescriptor("short", rb.Int64, ttl="300ms"))
        self.long = ctx.get_state(rb.ValueStateDescriptor("long", rb.Int64).enable_time_to_live("1h"))

    def process_element(self, value, ctx):
        s = (self.short.value() or 0) + 1
        lg = (self.long.value() or 0) + 1
        self.short.update(s)
        self.long.update(lg)
        yield (ctx.get_current_key(), s, lg)


def test_state_ttl_expires_in_processing_time():
    schema = pa.schema([("k", pa.string())])
    gate = __import__("threading").Event()

    def batches():
        yield pa.record_batch({"k": ["a", "a", "b"]}, schema=schema)
        gate.wait(30)
        time.sleep(1.0)  # well over the short TTL: no timing assertion, only a lower bound
        yield pa.record_batch({"k": ["a", "b"]}, schema=schema)

    reader = pa.RecordBatchReader.from_batches(schema, batches())
    out_schema = {"k": rb.Utf8, "short": rb.Int64, "long": rb.Int64}
    job = rb.from_arrow(reader, bounded=False).key_by("k").process(Counter(), output_schema=out_schema).start()
    first = []
    deadline = time.monotonic() + 60
    while len(first) < 3 and time.monotonic() < deadline:
        for b in job.results(timeout="1s", max_batches=1):
            first += b.to_pylist()
    gate.set()
    rest = job.collect(timeout=60).to_pylist()
    got = sorted((r["k"], r["short"], r["long"]) for r in first + rest)
    # Before the pause: counts 1, 2 (a) and 1 (b). After it the short state expired (counts
    # start again), the long one did not.
    assert got == sorted([("a", 1, 1), ("a", 2, 2), ("b", 1, 1), ("a", 1, 3), ("b", 1, 2)])


# -- late elements and watermarks ---------------------------------------------------------

class Echo(rb.KeyedProcessFunction):
    def process_element(self, value, ctx):
        yield (ctx.get_current_key(), value.i, ctx.timestamp())


def test_late_elements_are_dropped_and_counted():
    """Streaming mode: a row at or behind its split's watermark (largest time so far minus
    max_out_of_orderness minus 1 µs, advanced per batch) is dropped and counted; the others
    are processed in event-time order."""
    import random

    rng = random.Random(9)
    batches = []
    i = 0
    for b in range(30):
        rows = []
        for _ in range(rng.randrange(1, 8)):
            ms = b * 1000 + rng.randrange(-3000, 1000)
            rows.append({"k": rng.choice("xy"), "i": i, "ts": T0 + dt.timedelta(milliseconds=ms)})
            i += 1
        batches.append(rows)
    delay_ms = 1000
    wm = None
    late = set()
    kept = []
    for rows in batches:
        for r in rows:
            if wm is not None and r["ts"] <= wm:
                late.add(r["i"])
            else:
                kept.append(r)
        mx = max(r["ts"] for r in rows)
        cand = mx - dt.timedelta(milliseconds=delay_ms, microseconds=1)
        wm = cand if wm is None else max(wm, cand)
    assert late and kept
    schema = pa.schema([("k", pa.string()), ("i", pa.int64()), ("ts", pa.timestamp("ms"))])
    reader = pa.RecordBatchReader.from_batches(schema, [pa.RecordBatch.from_pylist(r, schema=schema) for r in batches])
    s = rb.from_arrow(reader, event_time="ts", max_out_of_orderness=f"{delay_ms}ms", bounded=False)
    job = s.key_by("k").process(Echo(), output_schema={"k": rb.Utf8, "i": rb.Int64, "t": rb.Int64}).start()
    with pytest.warns(rb.LateRowsWarning, match="by process"):
        out = job.collect(timeout=60).to_pylist()
    assert sorted(r["i"] for r in out) == sorted(r["i"] for r in kept)
    late_count = sum(m["late_records"] for m in job.metrics(as_dict=True) if "process" in m["operator"])
    assert late_count == len(late)
    # Per key, elements come in event-time order (then input order).
    for k in "xy":
        got = [r["i"] for r in out if r["k"] == k]
        want = [r["i"] for r in sorted((r for r in kept if r["k"] == k), key=lambda r: (r["ts"], r["i"]))]
        assert got == want


# -- side outputs, errors ------------------------------------------------------------------

SMALL = rb.OutputTag("small", {"account_id": rb.Int64, "amount": rb.Float64})


class WithSide(fc.FraudDetector):
    def process_element(self, transaction, ctx):
        if transaction.amount < fc.SMALL_AMOUNT:
            ctx.output(SMALL, {"account_id": ctx.get_current_key(), "amount": transaction.amount})
        yield from super().process_element(transaction, ctx)


def test_side_outputs(transactions):
    table, want = transactions
    out = rb.Environment(parallelism=3).from_arrow(table, event_time="ts").key_by("account_id").process(
        WithSide(), output_schema=fc.ALERT_SCHEMA, side_outputs=[SMALL])
    main, side = rb.collect_all([out, out.side_output(SMALL)])
    assert fc.alerts(main) == want
    small = table.filter(pa.compute.less(table["amount"], fc.SMALL_AMOUNT))
    assert sorted(zip(side["account_id"].to_pylist(), side["amount"].to_pylist())) == \
        sorted(zip(small["account_id"].to_pylist(), small["amount"].to_pylist()))
    assert side.column_names == ["account_id", "amount"]
    with pytest.raises(ValueError, match="not a side output"):
        out.side_output(rb.OutputTag("other", {"x": rb.Int64}))


class Boom(rb.KeyedProcessFunction):
    def process_element(self, value, ctx):
        if value.k == "bad" and value.i == 3:
            raise ZeroDivisionError("no good")
        yield (ctx.get_current_key(), value.i, ctx.timestamp())


def test_error_names_key_and_timestamp_and_keeps_the_traceback():
    t = pa.table({"k": ["ok", "bad", "bad", "bad"], "i": [1, 2, 3, 4],
                  "ts": [T0, T0, T0 + dt.timedelta(seconds=5), T0 + dt.timedelta(seconds=9)]})
    s = rb.from_arrow(t, event_time="ts").key_by("k").process(
        Boom(), output_schema={"k": rb.Utf8, "i": rb.Int64, "t": rb.Int64})
    with pytest.raises(rb.UserFunctionError) as ei:
        s.collect()
    msg = str(ei.value)
    assert "'bad'" in msg and str(T0_MS + 5000) in msg and "ZeroDivisionError" in msg
    cause = ei.value.__cause__
    assert isinstance(cause, rb.ProcessFunctionError)
    assert isinstance(cause.__cause__, ZeroDivisionError)
    import traceback

    tb = "".join(traceback.format_exception(type(cause.__cause__), cause.__cause__, cause.__cause__.__traceback__))
    assert "process_element" in tb and 'raise ZeroDivisionError("no good")' in tb
    # The library keeps working.
    assert rb.from_pydict({"x": [1, 2]}).collect().num_rows == 2


def test_vectorized_error_names_the_call():
    def explode(b):
        raise KeyError("missing")

    t = pa.table({"k": ["a", "b"], "ts": [T0, T0 + dt.timedelta(seconds=1)]})
    s = rb.Environment(parallelism=1).from_arrow(t, event_time="ts").key_by("k").process(
        explode, output_schema={"k": rb.Utf8})
    with pytest.raises(rb.UserFunctionError) as ei:
        s.collect()
    msg = str(ei.value)
    assert "explode raised KeyError" in msg and "2 keys" in msg and str(T0_MS) in msg
    assert isinstance(ei.value.__cause__.__cause__, KeyError)


def test_bad_declarations_are_refused():
    s = rb.from_pydict({"k": [1]})
    with pytest.raises(TypeError, match="instance"):
        s.key_by("k").process(fc.FraudDetector, output_schema=fc.ALERT_SCHEMA)
    with pytest.raises(ValueError, match="declares its state in open"):
        s.key_by("k").process(fc.FraudDetector(), output_schema=fc.ALERT_SCHEMA, state=fc.FRAUD_STATE)

    def wrong(b):
        return rb.ProcessResult(output={"nope": [1] * b.elements.num_rows})

    with pytest.raises(rb.UserFunctionError, match="nope"):
        s.key_by("k").process(wrong, output_schema={"k": rb.Int64}).collect()


class Lifecycle(rb.KeyedProcessFunction):
    def __init__(self, log):
        self.log = log

    def open(self, runtime_context):
        self.log.append("open")
        self.n = runtime_context.get_state(rb.ValueStateDescriptor("n", rb.Int64))

    def process_element(self, value, ctx):
        self.n.update((self.n.value() or 0) + 1)
        yield (value.k, self.n.value())

    def close(self):
        self.log.append("close")


def test_open_once_when_built_and_close_once_when_dropped():
    """As the docstrings say: open() runs once when process() builds the pipeline, close()
    once when the pipeline (its streams and the jobs that ran it) is dropped."""
    import gc
    from collections import Counter

    log: list[str] = []
    data = {"k": [1, 2, 1, 3]}
    want = sorted(Counter(data["k"]).items())
    out = rb.Environment(parallelism=2).from_pydict(data).key_by("k").process(
        Lifecycle(log), output_schema={"k": rb.Int64, "n": rb.Int64})
    assert log == ["open"]
    for _ in range(2):  # each run starts from empty state; the function is not reopened
        got = out.collect().group_by("k").aggregate([("n", "max")]).sort_by("k")
        assert list(zip(got["k"].to_pylist(), got["n_max"].to_pylist())) == want
    job = out.start()
    assert job.collect().num_rows == len(data["k"])
    del out
    gc.collect()
    assert log == ["open"]  # the job still holds the pipeline
    del job
    for _ in range(100):  # the job's reading thread may take a moment to let go of it
        gc.collect()
        if "close" in log:
            break
        time.sleep(0.05)
    assert log == ["open", "close"]

    # collect() leaves nothing behind: dropping the stream closes the function at once.
    log.clear()
    s = rb.from_pydict(data).key_by("k").process(Lifecycle(log), output_schema={"k": rb.Int64, "n": rb.Int64})
    s.collect()
    del s
    assert log == ["open", "close"]


# -- per-row map / flat_map / filter ------------------------------------------------------

def test_map_flat_map_filter_per_row():
    data = {"name": ["ann", "bob", None, "cy"], "n": [1, 2, 3, 0]}
    s = rb.Environment(parallelism=2).from_pydict(data)
    got = s.map(lambda r: {"name": (r.name or "?").upper(), "twice": r.n * 2}).collect().to_pylist()
    assert sorted(got, key=str) == sorted(
        [{"name": (a or "?").upper(), "twice": b * 2} for a, b in zip(data["name"], data["n"])], key=str)
    got = s.map(lambda r: (r["n"], str(r["n"])), output_schema={"n": rb.Int64, "s": rb.Utf8}).collect()
    assert got.schema.field("s").type == pa.string() and sorted(got["s"].to_pylist()) == ["0", "1", "2", "3"]
    fm = s.flat_map(lambda r: [{"i": r.n, "j": j} for j in range(r.n)]).collect().to_pylist()
    assert sorted((d["i"], d["j"]) for d in fm) == sorted((n, j) for n in data["n"] for j in range(n))
    f = s.filter(lambda r: r.n % 2 == 1).collect().to_pylist()
    assert sorted(d["n"] for d in f) == [1, 3]
    assert s.filter(col("n") > 1).collect().num_rows == 2
    with pytest.raises(rb.PlanError, match="output_schema"):
        rb.from_pydict({"x": [1]}).filter(col("x") > 5).map(lambda r: {"y": 1})


# -- kill -9 and restore ---------------------------------------------------------------------

HERE = Path(__file__).resolve()


def _child(data: str, ckpt: str, out: str, parallelism: int, form: str) -> None:
    def slow(b):
        time.sleep(0.04)
        return b

    env = rb.Environment(parallelism=parallelism, batch_size=100, checkpoint_dir=ckpt, checkpoint_interval="100ms")
    s = env.read_parquet(data, event_time="ts").map_batches(slow)
    if form == "history":
        s = s.key_by("account_id").process(fc.History(), output_schema=fc.HISTORY_SCHEMA)
    else:
        s = fc.detector(s, form)
    job = s.write_parquet(out, lazy=True).start(restore="latest")
    print("started", flush=True)
    job.wait()


@pytest.mark.parametrize("form", FORMS + ["history"])
def test_fraud_through_kill_9_and_restore(transactions, tmp_path, form):
    """kill -9 after a completed checkpoint, twice, restarting at other parallelisms: the
    committed output equals the reference (for "history": list and map state)."""
    import chaos

    table, want = transactions
    data = tmp_path / "data"
    data.mkdir()
    per = -(-table.num_rows // 4)
    for i in range(4):
        pq.write_table(table.slice(i * per, per), data / f"tx-{i}.parquet", row_group_size=300)
    ckpt, out = tmp_path / "ckpt", tmp_path / "out"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path), RIVERBED_PROGRESS="0")
    kills = 0
    restored = []
    for attempt, par in enumerate([1, 3, 2, 4, 2, 3]):
        proc = subprocess.Popen([sys.executable, str(HERE), "child", str(data), str(ckpt), str(out), str(par), form],
                                env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.stdout.readline()
        if attempt < 2:
            restored.append(len(chaos.complete_checkpoints(ckpt)))
            seen = set(chaos.complete_checkpoints(ckpt))
            stop = time.monotonic() + 60
            while proc.poll() is None and time.monotonic() < stop and not set(chaos.complete_checkpoints(ckpt)) - seen:
                time.sleep(0.005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.communicate(timeout=60)
                kills += 1
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        break
    assert kills >= 1
    got = pq.read_table(sorted(str(p) for p in out.glob("*.parquet")))
    if form == "history":
        assert fc.history_rows(got) == fc.history_reference(table)
    else:
        assert fc.alerts(got) == want


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "child":
    _child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6])


def test_the_docs_fraud_detectors_run_as_written(transactions, tmp_path, monkeypatch):
    """The two fraud detectors of docs/process-functions.md, executed as written over
    transactions/ in the working directory, give the reference's alerts."""
    import re

    table, want = transactions
    (tmp_path / "transactions").mkdir()
    pq.write_table(table, tmp_path / "transactions" / "tx.parquet", row_group_size=1000)
    monkeypatch.chdir(tmp_path)
    text = (HERE.parent.parent / "docs" / "process-functions.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    ns: dict = {}
    ran = 0
    for code in blocks:
        if "alerts = " not in code:
            continue
        exec(compile(code, "docs/process-functions.md", "exec"), ns)
        assert fc.alerts(ns["alerts"]) == want
        ran += 1
    assert ran == 2
    # And the README's.
    (tmp_path / "tx").mkdir()
    pq.write_table(table, tmp_path / "tx" / "tx.parquet")
    readme = (HERE.parent.parent / "README.md").read_text()
    code = next(b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "class FraudDetector" in b)
    ns = {"rb": rb}
    exec(compile(code, "README.md", "exec"), ns)
    assert fc.alerts(ns["alerts"].collect()) == want
