"""The notebook experience: plans, result tables, the live job view, progress, lazy imports
and the API papercuts a notebook user meets first (types with or without (), from_arrow of
any Arrow object, keywords visible to completion)."""

from __future__ import annotations

import datetime as dt
import inspect
import math
import os
import subprocess
import sys
import threading
import time
import urllib.parse

import pyarrow as pa
import pytest

import riverbed as rb
from html_check import parse
from riverbed import _display, col


# -- explain ------------------------------------------------------------------------------
def test_explain_is_a_str_that_shows_with_newlines_and_escaped_html():
    name = "<b>x&y</b>"
    s = rb.from_pydict({name: [1, 2, 3]}).filter(col(name) > 1)
    plan = s.explain()
    assert isinstance(plan, str) and "logical plan" in plan and "physical plan" in plan
    assert repr(plan) == str(plan) and "\n" in repr(plan)  # a notebook's text/plain shows real lines
    h = plan._repr_html_()
    tree = parse(h)
    assert name not in h and "&lt;b&gt;x&amp;y&lt;/b&gt;" in h
    shown = "".join(tree.text)
    for line in str(plan).splitlines():  # every line of the text is in the HTML, nesting drawn as └─
        assert line.strip() in shown
    assert "└─" in shown
    assert s._repr_html_() == h


# -- result tables ---------------------------------------------------------------------------
def _table() -> pa.Table:
    return pa.table({
        "price": [24223.38999999995, None, -0.1 + 0.2, 1e20, 3.0],
        "name": ["<script>alert(1)</script>", "a & b", None, "ü", ""],
        "ts": pa.array([dt.datetime(2026, 1, 1, 12, 0, 0, 123000)] * 5, pa.timestamp("us")),
        "n": pa.array([1, 2, None, 4, 5], pa.int64()),
        **{f"wide_{i}": [float(i)] * 5 for i in range(30)},
    })


def _expected_cell(v) -> str:
    """The oracle: floats equal the data rounded to 6 decimals, others as Python prints them."""
    if v is None:
        return "null"
    return str(v)


@pytest.mark.parametrize("kind", ["table", "batch"])
def test_result_html_shows_the_data_escaped_rounded_and_scrolling(kind):
    t = _table()
    obj = t if kind == "table" else t.to_batches()[0]
    h = _display.table_html(obj)
    tree = parse(h)
    assert "<script>" not in h and "&lt;script&gt;" in h
    assert "overflow-x: auto" in h  # 34 columns scroll instead of overflowing
    assert [x.split(t.schema.field(i).type.__str__())[0] for i, x in enumerate(tree.header)] == t.column_names
    body = [r for r in tree.rows if r]
    assert len(body) == t.num_rows
    for c, name in enumerate(t.column_names):
        for r, v in enumerate(t.column(name).to_pylist()):
            cell = body[r][c]
            if isinstance(v, float):
                assert float(cell) == pytest.approx(round(v, 6) if abs(v) < 1e15 else v, rel=1e-6), (name, r, cell)
                assert len(cell.split(".")[-1]) <= 6 or "e" in cell
            else:
                assert cell == _expected_cell(v), (name, r)
    assert body[0][0] == "24223.39"


def test_result_html_shows_values_python_cannot_hold_and_nested_values_by_the_same_rules():
    # Dates and timestamps beyond Python's range failed the whole table; they show as
    # pyarrow's repr shows them. Nested values follow the display rules (floats rounded,
    # null for nulls) rather than Python's repr.
    t = pa.table({
        "ts": pa.array([10**12, 0, None], pa.timestamp("s")),
        "d": pa.array([2**31 - 1, 0, None], pa.date32()),
        "s": pa.array([{"f": 0.30000000000000004, "l": [2.5, None], "t": "a<b"}, None, {"f": None, "l": [], "t": ""}]),
        "m": pa.array([[("k", 1)], [], None], pa.map_(pa.string(), pa.int64())),
    })
    body = [r for r in parse(_display.table_html(t)).rows if r]
    want_ts = str(pa.array([10**12], pa.timestamp("s"))).split("\n")[1].strip()  # pyarrow's own text
    assert body[0][:2] == [want_ts, "<value out of range: 2147483647>"]
    assert body[1][:2] == ["1970-01-01 00:00:00", "1970-01-01"]
    assert body[0][2] == "{f: 0.3, l: [2.5, null], t: 'a<b'}"
    assert body[2][2] == "{f: null, l: [], t: ''}"
    assert [body[0][3], body[2][3], body[1][2]] == ["{'k': 1}", "null", "null"]


def test_long_tables_show_their_first_rows_and_say_so():
    t = pa.table({"x": list(range(100))})
    tree = parse(_display.table_html(t, max_rows=7))
    assert [int(r[0]) for r in tree.rows if r] == list(range(7))
    assert "100 rows × 1 columns (first 7 shown)" in "".join(tree.text)


def test_ipython_renders_tables_and_result_batches_as_html():
    shell_mod = pytest.importorskip("IPython.core.interactiveshell")
    ip = shell_mod.InteractiveShell.instance()
    try:
        _display.register_notebook_formatters()
        job = rb.from_pydict({"x": [1.5, 2.25]}).start()
        (batch,) = list(job.results())
        data, _ = ip.display_formatter.format(batch)
        assert "text/html" in data
        tree = parse(data["text/html"])
        assert [r[0] for r in tree.rows if r] == ["1.5", "2.25"]
        assert isinstance(batch, pa.RecordBatch)  # pyarrow users keep their type
    finally:
        shell_mod.InteractiveShell.clear_instance()


def test_float_display_rounding():
    for v in [0.1 + 0.2, 24223.38999999995, -1.0000004, 123456.0, 0.0, -0.0]:
        assert float(_display.format_float(v)) == round(v, 6)
    assert _display.format_float(float("nan")) == "nan"
    assert _display.format_float(1e-9) == "1e-09"


def test_human_units():
    assert _display.human_duration(0.0123) == "12.3 ms"
    assert _display.human_duration(75) == "1 min 15 s"
    assert _display.human_duration(2 * 86400 + 3 * 3600) == "2 d 3 h"
    assert _display.human_duration(None) == "—"
    assert _display.human_count(1_234_567) == "1.23M"


# -- the job view ----------------------------------------------------------------------------
class _Recorder:
    """Stands in for an IPython display handle: keeps every render."""

    def __init__(self):
        self.renders: list[str] = []
        self.changed = threading.Condition()

    def publish(self, obj):
        self.update(obj)
        return self

    def update(self, obj):
        bundle = obj._repr_mimebundle_()
        assert set(bundle) == {"text/plain", "text/html"}
        with self.changed:
            self.renders.append(bundle["text/html"])
            self.changed.notify_all()


def _ops(h: str) -> dict[str, dict[str, str]]:
    tree = parse(h)
    cols = [c for c in tree.header]
    return {r[0]: dict(zip(cols, r)) for r in tree.rows if r and len(r) == len(cols)}


def test_live_view_refreshes_while_the_job_runs_and_ends_static():
    s = rb.datagen({"id": rb.Int64, "ts": rb.Timestamp("ms")}, rows_per_second=400, seed=1)
    job = s.filter(col("id") >= 0).start(runtime_mode="streaming")
    rec = _Recorder()
    view = _display.JobView(job, interval=0.05, publish=rec.publish)
    job._views.append(view)
    view.start()

    def source_rows(h):
        return int(_ops(h)["datagen"]["rows out"].replace(",", ""))

    got = 0
    try:
        with rec.changed:  # at least two renders that show different row counts
            assert rec.changed.wait_for(lambda: len({source_rows(h) for h in rec.renders}) >= 2, timeout=120)
        # read some results while it runs
        for b in job.results(max_batches=3):
            got += b.num_rows
    finally:
        job.stop()
    got += sum(b.num_rows for b in job.results())
    assert view.finished.is_set()
    final = rec.renders[-1]
    assert "finished" in final and "running" in rec.renders[0]
    ops = _ops(final)
    assert int(ops["collect"]["rows in"].replace(",", "")) == got  # what the view shows is what was read
    assert "None" not in final
    assert ops["collect"]["watermark"] == "—" or ops["collect"]["watermark"].startswith("20")
    assert ops["datagen"]["watermark"].startswith("2026-01-01")
    assert ops["datagen"]["state size"] == "—" and "checkpoints: off" in final  # no checkpoint_dir
    assert "<svg" in final and "polyline" in final  # the throughput sparkline
    n = len(rec.renders)
    view._stop.wait(0.3)  # the view's thread has ended: no render after the final one
    assert len(rec.renders) == n


def _files_bytes(root: str) -> int:
    """Bytes of the files under root but a checkpoint's manifest (_metadata): the oracle for
    the sizes the view reports, read from the checkpoint directory on disk."""
    n = 0
    for d, _, files in os.walk(root):
        n += sum(os.path.getsize(os.path.join(d, f)) for f in files if f != "_metadata")
    return n


def test_live_view_shows_state_size_and_checkpoints(tmp_path):
    env = rb.Environment(parallelism=2, checkpoint_dir=tmp_path / "ck")  # checkpoints on demand
    s = env.datagen({"k": rb.Int64, "ts": rb.Timestamp("ms")}, rows_per_second=2000, seed=3,
                    fields={"k": {"min": 1, "max": 50}})
    job = s.key_by("k").window(rb.tumbling("1h")).agg(rb.count().alias("n")).start(runtime_mode="streaming")
    rec = _Recorder()
    view = _display.JobView(job, interval=3600, publish=rec.publish)  # rendered by hand below
    try:
        view.start()
        first = rec.renders[0]
        assert "checkpoints: none yet" in first
        assert {o["state size"] for o in _ops(first).values()} == {"—"}
        while not any(m["records_in"] for m in job.metrics(as_dict=True) if m["operator"].startswith("window")):
            time.sleep(0.05)  # until the window operator holds keys
        job.checkpoint()
        last = job.checkpoint()
        view._render(final=False)
        metrics = job.metrics(as_dict=True)
    finally:
        job.cancel()
    h = rec.renders[-1]
    text = "".join(parse(h).text)
    on_disk = _files_bytes(last["path"])
    assert f"checkpoints: 2 completed; latest checkpoint #{last['id']}: {_display.human_bytes(on_disk)} in" in text
    # each operator's state size is the size of its folder in the checkpoint, read from disk
    by_id = {}
    for name in os.listdir(last["path"]):
        if name.startswith("op-"):
            by_id[urllib.parse.unquote(name[3:])] = _files_bytes(os.path.join(last["path"], name))
    ops = _ops(h)
    stateful = [m for m in metrics if m["id"] in by_id]
    assert stateful and all(m["operator"].startswith("window") for m in stateful), (by_id, metrics)
    for m in metrics:
        want = _display.human_bytes(by_id[m["id"]]) if m["id"] in by_id else "—"
        assert ops[m["operator"]]["state size"] == want, m["operator"]
    assert by_id[stateful[0]["id"]] > 0


def test_view_of_a_failed_job_shows_the_error():
    def boom(b):
        raise ValueError("no <good>")

    job = rb.from_pydict({"x": [1]}).map_batches(boom).start()
    with pytest.raises(rb.UserFunctionError):
        job.wait()
    rec = _Recorder()
    view = _display.JobView(job, publish=rec.publish).start()
    assert view.finished.is_set()
    h = rec.renders[-1]
    parse(h)
    assert "failed" in h and "no &lt;good&gt;" in h


def test_stop_and_cancel_buttons_end_the_job():
    pytest.importorskip("ipywidgets")
    for which in ("stop", "cancel"):
        job = rb.datagen({"id": rb.Int64}, rows_per_second=100).start()
        view = _display.JobView(job, publish=_Recorder().publish)
        box, body, stop, cancel = _display._widgets(view, "<b>x</b>")
        (stop if which == "stop" else cancel).click()
        assert job._r.done.wait(120)
        assert job.status == ("finished" if which == "stop" else "cancelled")


def test_displaying_a_job_starts_a_view():
    shell_mod = pytest.importorskip("IPython.core.interactiveshell")
    ip = shell_mod.InteractiveShell.instance()
    published = []
    try:
        import IPython.display as d

        real = d.display

        def fake(obj, display_id=None, **kw):
            published.append(obj)
            return _Recorder().publish(obj) if hasattr(obj, "_repr_mimebundle_") else None

        d.display = fake
        try:
            job = rb.from_pydict({"x": [1, 2]}).start()
            job.collect()
            job._ipython_display_()
        finally:
            d.display = real
        assert job._views and job._views[0].finished.is_set()
        assert "finished" in job._views[0].last_html
    finally:
        shell_mod.InteractiveShell.clear_instance()
        assert ip is not None


# -- progress --------------------------------------------------------------------------------
def test_progress_text_never_shows_none():
    p = {"rows_read": 1500, "rows_out": 10, "splits_done": 1, "splits_pruned": 2, "files_done": 3,
         "total_rows": 3000, "total_splits": 4, "total_files": 4, "done": 1}
    text = _display.progress_text(p, 1.5, final=True)
    assert text == "riverbed: done, 1,500 / 3,000 rows read, 3/4 files, 2 row groups skipped, 10 rows out, 1.5 s"
    parse(_display.progress_html(p, 1.5, final=True))
    h = _display.job_html(1, "running", 1.0, [{"operator": "x", "parallelism": 1, "records_in": 0, "records_out": 0,
                                               "late_records": 0, "windows_fired": 0, "watermark": None,
                                               "backpressure_s": 0.0}])
    assert "None" not in h and "—" in h


def test_progress_counts_from_the_job_start_and_says_how_it_ended(monkeypatch):
    # The line is shown only after a moment; its clock counted from then, so a 1.9 s
    # collect said 1.3 s. An interrupted or failed job's line said it was still running.
    p = {"rows_read": 5, "rows_out": 5, "splits_done": 0, "splits_pruned": 0, "files_done": 0,
         "total_rows": 10, "total_splits": 0, "total_files": 0, "done": 0}
    shown: list = []

    class Handle:
        def update(self, obj):
            shown.append(obj)

    ipd = pytest.importorskip("IPython.display")
    monkeypatch.setattr(ipd, "display", lambda obj, display_id=True: shown.append(obj) or Handle())
    monkeypatch.setattr(_display, "in_notebook", lambda: True)
    bar = _display.progress_bar(None, p, explicit=False, started=time.monotonic() - 2.0)
    _display.progress_bar(bar, p, explicit=True, final=True, ended="cancelled")
    first, last = shown[0].text, shown[-1].text
    assert float(first.rsplit(", ", 1)[1].split()[0]) >= 2.0, first
    assert last.startswith("riverbed: cancelled, 5 / 10 rows read"), last
    assert "value='0.500'" in shown[-1].html  # not a full bar: it did not finish
    assert _display.progress_text(p, 1.0, final=True, ended="failed").startswith("riverbed: failed, ")
    tqdm = pytest.importorskip("tqdm")
    del tqdm
    monkeypatch.setattr(_display, "in_notebook", lambda: False)
    t = _display.progress_bar(None, p, explicit=True, started=time.monotonic() - 3.0)
    try:
        assert t.format_dict["elapsed"] >= 3.0
    finally:
        t.close()


# -- first result fast -------------------------------------------------------------------------
def test_import_does_not_load_ipython_pandas_or_polars():
    # pyarrow itself imports pandas when it builds arrays from Python lists (pa.array), so the
    # one-row job here reads generated data.
    code = ("import sys, riverbed as rb; heavy = ('IPython', 'pandas', 'polars', 'ipywidgets', 'tqdm');"
            "print(sorted(m for m in heavy if m in sys.modules));"
            "t = rb.datagen({'x': rb.Int64}, number_of_rows=1).collect(); assert t.num_rows == 1;"
            "print(sorted(m for m in heavy if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["[]", "[]"]


# -- API papercuts -----------------------------------------------------------------------------
def test_types_with_or_without_call():
    assert rb.Int64() == rb.Int64 and rb.Utf8() is rb.Utf8
    assert rb.Timestamp == rb.Timestamp() == rb.Timestamp("us")
    assert rb.Timestamp("ms", "UTC").to_arrow() == pa.timestamp("ms", tz="UTC")
    assert rb.Duration.to_arrow() == pa.duration("us") and rb.Duration("ms").to_arrow() == pa.duration("ms")
    assert rb.Decimal(10, 2).to_arrow() == pa.decimal128(10, 2)
    assert repr(rb.Timestamp("ms")) == "rb.Timestamp('ms')"
    for a, b in [(rb.Timestamp, rb.Int64), (rb.Timestamp(), rb.Int64())]:
        t = rb.datagen({"ts": a, "x": b}, number_of_rows=3).collect()
        assert t.schema.field("ts").type == pa.timestamp("us") and t.schema.field("x").type == pa.int64()
    src = rb.from_pydict({"s": ["2026-01-02 03:04:05"]})
    for typ in (rb.Timestamp, rb.Timestamp("ms")):
        got = src.select(col("s").cast(typ)).collect()
        assert got["s"].to_pylist() == [dt.datetime(2026, 1, 2, 3, 4, 5)]
        assert got.schema.field("s").type == typ.to_arrow()
    out = rb.from_pydict({"x": [1.0]}).map_batches(lambda b: b, schema={"x": rb.Float64()}).collect()
    assert out["x"].to_pylist() == [1.0]


class _Stream:
    def __init__(self, t):
        self.t = t

    def __arrow_c_stream__(self, requested_schema=None):
        return self.t.__arrow_c_stream__(requested_schema)


class _Array:
    def __init__(self, b):
        self.b = b

    def __arrow_c_array__(self, requested_schema=None):
        return self.b.__arrow_c_array__(requested_schema)


def test_from_arrow_accepts_lazyframes_and_arrow_capsules():
    pl = pytest.importorskip("polars")
    t = pa.table({"x": [3, 1, 2], "y": ["a", "b", "c"]})
    want = sorted(t.to_pylist(), key=lambda r: r["x"])
    lazy = pl.LazyFrame({"x": [3, 1, 2], "y": ["a", "b", "c"]}).filter(pl.col("x") > 0)
    for data in (lazy, _Stream(t), _Array(t.to_batches()[0])):
        got = rb.from_arrow(data).collect()
        assert sorted(got.to_pylist(), key=lambda r: r["x"]) == want
    with pytest.raises(TypeError, match=r"cannot read object as Arrow data"):
        rb.from_arrow(object())
    with pytest.raises(TypeError, match=r"polars\..*Series"):
        rb.from_arrow(pl.Series("a", [1]))


def test_public_functions_show_every_keyword():
    readers = {rb.read_parquet: {"columns", "event_time", "max_out_of_orderness", "idle_timeout"},
               rb.from_arrow: {"event_time", "max_out_of_orderness", "idle_timeout", "bounded"},
               rb.from_pandas: {"event_time", "max_out_of_orderness", "idle_timeout"},
               rb.from_pydict: {"event_time", "max_out_of_orderness", "idle_timeout"}}
    for fn, keys in readers.items():
        params = inspect.signature(fn).parameters
        assert keys <= set(params), fn.__name__
    for cls in (rb.Stream, rb.Environment, rb.Job):
        for name, fn in inspect.getmembers(cls, inspect.isfunction):
            if name.startswith("_"):
                continue
            if name in ("with_columns", "agg"):  # **named: output column name = expression, as in Polars
                continue
            if name == "sql":  # **tables: table name in the query = stream or data
                continue
            if name == "pipe":  # pipe(fn, *args, **kwargs) passes them on to fn, as Polars' pipe
                continue
            kinds = {p.kind for p in inspect.signature(fn).parameters.values()}
            assert inspect.Parameter.VAR_KEYWORD not in kinds, f"{cls.__name__}.{name} hides keywords behind **"
    for name in rb.__all__:
        fn = getattr(rb, name)
        if inspect.isfunction(fn) and name != "sql":  # rb.sql(query, **tables), as Environment.sql
            kinds = {p.kind for p in inspect.signature(fn).parameters.values()}
            assert inspect.Parameter.VAR_KEYWORD not in kinds, name
            assert all(p.annotation is not inspect.Parameter.empty for p in inspect.signature(fn).parameters.values()
                       if p.kind not in (p.VAR_POSITIONAL,)), name


def test_every_public_method_is_annotated():
    # IDE completion and type checkers see every parameter's and result's type.
    from riverbed import expr

    classes = [getattr(rb, n) for n in rb.__all__
               if inspect.isclass(getattr(rb, n)) and not issubclass(getattr(rb, n), (BaseException, Warning))]
    checked = 0
    for cls in classes + [expr.StringNamespace, expr.DateTimeNamespace, expr.When, expr.Then]:
        for name, v in vars(cls).items():
            fn = v.fget if isinstance(v, property) else v
            if not inspect.isfunction(fn) or (name.startswith("_") and name != "__init__"):
                continue
            sig = inspect.signature(fn)
            missing = [p.name for p in sig.parameters.values() if p.name != "self" and p.annotation is p.empty]
            assert not missing, f"{cls.__name__}.{name}: parameters without a type: {missing}"
            has_result = name == "__init__" or sig.return_annotation is not sig.empty
            assert has_result, f"{cls.__name__}.{name}: no result type"
            checked += 1
    assert checked > 140  # the enumeration itself works


def test_float_cells_are_finite_numbers_or_named():
    t = pa.table({"f": [math.inf, -math.inf, math.nan]})
    cells = [r[0] for r in parse(_display.table_html(t)).rows if r]
    assert cells == ["inf", "-inf", "nan"]


def test_show_results_keeps_the_latest_rows_in_one_refreshed_table():
    env = rb.Environment(parallelism=1, batch_size=7)
    job = env.datagen({"id": rb.Int64}, rows_per_second=2000,
                      fields={"id": {"kind": "sequence", "min": 1}}).start()
    rec = _Recorder()
    tail = _display.ResultsTail(5, job.schema, interval=0, publish=rec.publish)
    read = 0
    try:
        for b in job.results(max_batches=20):
            read += b.num_rows
            tail.add(b)
    finally:
        job.cancel()
    tail.render(final=True)
    assert len(rec.renders) >= 2
    tree = parse(rec.renders[-1])
    shown = [int(r[0]) for r in tree.rows if r]
    assert shown == list(range(read - 4, read + 1))  # the sequence's last five, in order
    assert f"latest 5 of {read:,} rows read" in "".join(tree.text)
    assert tail.table()["id"].to_pylist() == shown


def test_show_results_returns_the_latest_rows():
    job = rb.from_pydict({"x": list(range(50))}).start()
    assert job.show_results(3)["x"].to_pylist() == [47, 48, 49]
    with pytest.raises(ValueError, match="rows must be a positive integer"):
        job.show_results(0)


def test_view_outside_a_notebook_says_what_to_use():
    job = rb.from_pydict({"x": [1]}).start()
    job.wait()
    if _display._ipython() is None:
        with pytest.raises(rb.RiverbedError, match=r"job.view\(\) shows a live view in Jupyter"):
            job.view()
    h = job._repr_html_()  # one snapshot, anywhere
    assert "finished" in h
    assert _ops(h)["collect"]["rows in"] == "1"


def test_without_ipywidgets_the_view_is_plain_html(monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets raises ImportError
    job = rb.from_pydict({"x": [1]}).start()
    job.wait()
    view = _display.JobView(job, publish=_Recorder().publish)
    assert _display._widgets(view, "<b>x</b>") is None
