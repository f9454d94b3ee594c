"""Notebook and terminal display: plans, result tables, progress and the live job view.

Nothing here imports IPython, ipywidgets, pandas or polars at module level: a plain script
that imports riverbed pays for none of them. IPython is used only when it is already loaded
(a notebook or an IPython shell has imported it before riverbed).
"""

from __future__ import annotations

import datetime as _dt
import math
import sys
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

import pyarrow as pa

if TYPE_CHECKING:  # pragma: no cover
    from .job import Job

#: What a value that does not exist (yet) shows as: no watermark, no state size, no checkpoint.
MISSING = "—"

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def _escape(s: str) -> str:
    """``html.escape(s)``, without importing the html module (its import compiles a regular
    expression and builds the table of entities: time that every ``import riverbed`` paid)."""
    return s.translate(_ESCAPES)

_TABLE_STYLE = (
    "<style>.riverbed-table td, .riverbed-table th {text-align: right; white-space: nowrap; "
    "font-variant-numeric: tabular-nums; padding: 2px 8px}"
    " .riverbed-table th small {font-weight: normal; color: #777}</style>"
)


# -- plans --------------------------------------------------------------------------------
class Plan(str):
    """The text of :meth:`Stream.explain`: a ``str`` (so ``print``, ``in``, ``==`` and every
    string method work as on the plain text) that also shows itself readably in a notebook:
    ``repr`` is the text itself with real line breaks, and ``_repr_html_`` renders it as a
    monospace tree.

    Examples
    --------
    >>> import riverbed as rb
    >>> plan = rb.from_pydict({"x": [1, 2]}).filter(rb.col("x") > 1).explain()
    >>> "logical plan" in plan and isinstance(plan, str)
    True
    >>> plan._repr_html_().startswith("<div")
    True
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        return plan_html(str(self))


def _tree_line(line: str) -> str:
    """One escaped line of a plan, its indentation drawn as a tree branch."""
    stripped = line.lstrip(" ")
    depth = (len(line) - len(stripped)) // 2
    text = _escape(stripped)
    if stripped.endswith(":") and depth == 0:
        return f"<b>{text}</b>"
    if depth <= 1:
        return "  " * depth + text
    return "  " * (depth - 1) + "└─ " + text


def plan_html(text: str) -> str:
    """A plan's text as HTML: escaped, monospace, section titles in bold, nesting as a tree."""
    body = "\n".join(_tree_line(line) for line in text.splitlines())
    return (
        "<div class='riverbed-plan'><b>riverbed plan</b>"
        "<pre style='font-family: monospace; font-size: 12px; line-height: 1.35; overflow-x: auto; "
        f"white-space: pre'>{body}</pre></div>"
    )


# -- values ---------------------------------------------------------------------------------
def format_float(v: float, digits: int = 6) -> str:
    """A float rounded for display only: at most ``digits`` decimals (``24223.38999999995``
    shows as ``24223.39``); very large or small magnitudes in scientific notation."""
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v != 0 and (abs(v) >= 1e15 or abs(v) < 10.0 ** -digits):
        return f"{v:.{digits}g}"
    s = f"{v:.{digits}f}".rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


class _Shown(str):
    """Text shown as is: a value Python cannot hold (a date or timestamp out of its range),
    as pyarrow's repr prints it."""


def format_value(v: Any) -> str:
    """The display text of one Python value of a result column: floats rounded, long bytes
    cut, nulls as null, inside structs, lists and maps too; everything else (timestamps,
    durations, decimals) exactly as Python prints it."""
    if isinstance(v, _Shown):
        return str(v)
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, bytes):
        return v[:32].hex() + ("…" if len(v) > 32 else "")
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_nested(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list):
        if v and all(isinstance(x, tuple) and len(x) == 2 for x in v):  # a map's (key, value) pairs
            return "{" + ", ".join(f"{_nested(k)}: {_nested(x)}" for k, x in v) + "}"
        return "[" + ", ".join(_nested(x) for x in v) + "]"
    return str(v)


def _nested(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, str) and not isinstance(v, _Shown):
        return repr(v)
    return format_value(v)


def _column_values(c: pa.ChunkedArray | pa.Array) -> list[Any]:
    """The Python values of a column, a value Python cannot hold (a date or timestamp out of
    its range) as pyarrow's repr prints it, instead of failing the whole table."""
    try:
        return c.to_pylist()
    except (OverflowError, ValueError):
        out: list[Any] = []
        for x in c:
            try:
                out.append(x.as_py())
            except (OverflowError, ValueError):
                raw = getattr(x, "value", None)  # the stored integer (str(x) fails too)
                out.append(_Shown("<value out of range>" if raw is None else f"<value out of range: {raw}>"))
        return out


def human_duration(seconds: float | None) -> str:
    """``0.0123`` → ``"12.3 ms"``, ``75`` → ``"1 min 15 s"``, ``None`` → ``"—"``."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return MISSING
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s == 0:
        return "0 s"
    if s < 1e-3:
        return f"{sign}{s * 1e6:.3g} µs"
    if s < 1:
        return f"{sign}{s * 1e3:.3g} ms"
    if s < 60:
        return f"{sign}{s:.3g} s"
    if s < 3600:
        return f"{sign}{int(s // 60)} min {int(s % 60)} s"
    if s < 86400:
        return f"{sign}{int(s // 3600)} h {int(s % 3600 // 60)} min"
    return f"{sign}{int(s // 86400)} d {int(s % 86400 // 3600)} h"


def human_count(n: float) -> str:
    """``1234567`` → ``"1.23M"``; small numbers as they are."""
    n = float(n)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= div:
            return f"{n / div:.3g}{suffix}"
    return f"{n:.3g}" if n != int(n) else str(int(n))


def human_bytes(n: float | None) -> str:
    """``0`` → ``"0 B"``, ``12_345`` → ``"12.1 KiB"``, ``None`` → ``"—"``."""
    if n is None:
        return MISSING
    v = float(n)
    for div, suffix in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(v) >= div:
            return f"{v / div:.3g} {suffix}"
    return f"{int(v)} B"


def checkpoints_text(counters: dict[str, Any] | None, last: dict[str, Any] | None,
                     now: _dt.datetime | None = None) -> str:
    """One line about a job's checkpoints: ``off``, ``none yet`` or how many completed
    and failed, with the latest one's size, duration and age."""
    c = counters or {}
    done, failed = int(c.get("completed") or 0), int(c.get("failed") or 0)
    if not c.get("enabled") and not done and not failed:
        return "checkpoints: off"
    parts = [f"{done:,} completed" if done else "none yet"]
    if failed:
        parts.append(f"{failed:,} failed")
    if c.get("in_progress"):
        parts.append("one in progress")
    text = "checkpoints: " + ", ".join(parts)
    if last:
        text += (f"; latest {last.get('kind', 'checkpoint')} #{last['id']}: {human_bytes(last.get('size_bytes'))}"
                 f" in {human_duration(last.get('duration_ms', 0) / 1e3)}")
        t = last.get("time_unix_ms")
        if t:
            now = now or _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
            when = _dt.datetime(1970, 1, 1) + _dt.timedelta(milliseconds=t)
            text += f", {human_duration(max(0.0, (now - when).total_seconds()))} ago"
    if failed and c.get("last_failure"):
        text += f"; last failure: {c['last_failure']}"
    return text


def human_time(t: _dt.datetime | None) -> str:
    """A watermark or other instant, to the millisecond; ``None`` shows as ``"—"``."""
    if t is None:
        return MISSING
    return t.isoformat(sep=" ", timespec="milliseconds")


# -- tables ---------------------------------------------------------------------------------
def table_html(t: pa.Table | pa.RecordBatch, max_rows: int = 20) -> str:
    """An HTML table of the first rows of a pyarrow Table or RecordBatch, with types under
    the names. Values are escaped; floats are rounded for display only; a wide table scrolls
    horizontally instead of overflowing."""
    shown = t.slice(0, max_rows)
    data = [_column_values(c) for c in shown.columns]
    cols = t.schema
    kind = "RecordBatch" if isinstance(t, pa.RecordBatch) else "Table"
    parts = [f"<div class='riverbed-result' style='overflow-x: auto; max-width: 100%'>{_TABLE_STYLE}"
             f"<table border='1' class='dataframe riverbed-table'><thead><tr>"]
    for f in cols:
        parts.append(f"<th>{_escape(f.name)}<br><small>{_escape(str(f.type))}</small></th>")
    parts.append("</tr></thead><tbody>")
    for r in range(shown.num_rows):
        cells = ("<td><i>null</i></td>" if c[r] is None else f"<td>{_escape(format_value(c[r]))}</td>"
                 for c in data)
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    more = t.num_rows - shown.num_rows
    parts.append(f"<small>pyarrow {kind}: {t.num_rows:,} rows × {t.num_columns} columns"
                 + (f" (first {shown.num_rows} shown)" if more > 0 else "") + "</small></div>")
    return "".join(parts)


# -- notebook detection and formatters --------------------------------------------------------
def _ipython() -> Any:
    """The running IPython shell, if IPython is already imported and active; never imports it."""
    mod = sys.modules.get("IPython")
    if mod is None:
        return None
    try:
        return mod.get_ipython()
    except Exception:  # noqa: BLE001 - a broken IPython must not break riverbed
        return None


def in_notebook() -> bool:
    """True inside a Jupyter kernel (which renders HTML), false in scripts and terminal IPython."""
    ip = _ipython()
    return ip is not None and hasattr(ip, "kernel")


def register_notebook_formatters() -> None:
    """Render pyarrow Tables and RecordBatches (riverbed's results, including the batches of
    ``job.results()``) as HTML tables in IPython/Jupyter. Does nothing outside IPython."""
    ip = _ipython()
    if ip is None:
        return
    formatter = ip.display_formatter.formatters.get("text/html")
    if formatter is not None:
        formatter.for_type(pa.Table, table_html)
        formatter.for_type(pa.RecordBatch, table_html)


# -- progress ---------------------------------------------------------------------------------
def progress_text(p: dict[str, int], elapsed: float, *, final: bool, ended: str = "done") -> str:
    """One line of progress: rows read (of the total when known), files, row groups skipped;
    a final line starts with how the job ended (``ended``: done, cancelled, failed)."""
    rows = f"{p['rows_read']:,}" + (f" / {p['total_rows']:,}" if p.get("total_rows") else "") + " rows read"
    parts = [rows]
    if p.get("total_files"):
        parts.append(f"{p['files_done']}/{p['total_files']} files")
    if p.get("splits_pruned"):
        parts.append(f"{p['splits_pruned']} row groups skipped")
    parts.append(f"{p.get('rows_out', 0):,} rows out")
    parts.append(human_duration(elapsed))
    return (f"riverbed: {ended}, " if final else "riverbed: ") + ", ".join(parts)


def progress_html(p: dict[str, int], elapsed: float, *, final: bool, ended: str = "done") -> str:
    total = p.get("total_rows") or 0
    frac = 1.0 if final and ended == "done" else (min(1.0, p["rows_read"] / total) if total else None)
    bar = ""
    if frac is not None:
        bar = (f"<progress value='{frac:.3f}' max='1' style='width: 16em; vertical-align: middle'></progress> "
               f"{frac:.0%} ")
    return (f"<div class='riverbed-progress' style='font-family: monospace; font-size: 12px'>{bar}"
            f"{_escape(progress_text(p, elapsed, final=final, ended=ended))}</div>")


class _HTMLText:
    """A display object with both text and HTML, so exported notebooks show either."""

    def __init__(self, text: str, html_: str):
        self.text, self.html = text, html_

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {"text/plain": self.text, "text/html": self.html}

    def __repr__(self) -> str:
        return self.text


class NotebookProgress:
    """The progress of ``collect()`` in a notebook: an HTML line updated in place (a display
    handle, not a widget), whose final state stays as static output in the saved notebook."""

    def __init__(self, delay: float, start: float | None = None):
        self.delay = delay
        self.start = time.monotonic() if start is None else start
        self.handle: Any = None

    def update(self, p: dict[str, int], *, final: bool = False, ended: str = "done") -> None:
        elapsed = time.monotonic() - self.start
        if self.handle is None and not final and elapsed < self.delay:
            return
        obj = _HTMLText(progress_text(p, elapsed, final=final, ended=ended),
                        progress_html(p, elapsed, final=final, ended=ended))
        if self.handle is None:
            if final and elapsed < self.delay:
                return
            from IPython.display import display  # type: ignore[import-not-found]

            self.handle = display(obj, display_id=True)
        else:
            self.handle.update(obj)

    def close(self) -> None:
        pass


def progress_bar(bar: Any, p: dict[str, int], *, explicit: bool, final: bool = False,
                 started: float | None = None, ended: str = "done") -> Any:
    """Create or update the progress display of a job: an HTML line in a notebook, a tqdm
    bar in a terminal. Its final state is left in place, so a saved notebook or a terminal's
    scrollback shows what ran, and how it ended (``ended``: done, cancelled, failed). The
    caller creates it only for a job that runs longer than a moment (or when progress was
    asked for), so quick jobs import neither tqdm nor IPython; ``started`` (monotonic) is
    when the job started, which the elapsed time counts from."""
    if bar is None and in_notebook():
        bar = NotebookProgress(0, started)
    if isinstance(bar, NotebookProgress):
        bar.update(p, final=final, ended=ended)
        return bar
    if bar is None:
        if final and not explicit:
            return None
        from tqdm import tqdm

        total = p["total_rows"] or None
        bar = tqdm(total=total, unit=" rows", unit_scale=True, desc="riverbed", leave=True, dynamic_ncols=True)
        if started is not None:
            bar.start_t = started - time.monotonic() + bar._time()  # count from the job's start
    if p["total_files"]:
        post = f"{p['files_done']}/{p['total_files']} files"
        if p["splits_pruned"]:
            post += f", {p['splits_pruned']} row groups skipped"
        bar.set_postfix_str(post, refresh=False)
    delta = p["rows_read"] - bar.n
    if delta > 0:
        bar.update(delta)
    if final and ended != "done":
        bar.set_description_str(f"riverbed ({ended})", refresh=True)
    return bar


# -- the job view -------------------------------------------------------------------------------
def sparkline(values: list[float], width: int = 160, height: int = 28) -> str:
    """An inline SVG line of ``values`` (e.g. rows/s over the last minute); empty input draws
    a flat line."""
    vals = [0.0 if (v is None or math.isnan(v)) else float(v) for v in values] or [0.0]
    top = max(vals) or 1.0
    n = len(vals)
    step = width / max(1, n - 1)
    pts = " ".join(f"{i * step:.1f},{height - 2 - (v / top) * (height - 4):.1f}" for i, v in enumerate(vals))
    return (f"<svg class='riverbed-sparkline' width='{width}' height='{height}' viewBox='0 0 {width} {height}' "
            f"xmlns='http://www.w3.org/2000/svg' style='vertical-align: middle'>"
            f"<polyline fill='none' stroke='#1f77b4' stroke-width='1.5' points='{pts}'/></svg>")


class Sample:
    """One reading of a job's metrics, taken at monotonic time ``at`` (wall clock ``wall``)."""

    def __init__(self, metrics: list[dict[str, Any]], at: float, wall: _dt.datetime):
        self.metrics, self.at, self.wall = metrics, at, wall

    def source_rows(self) -> int:
        """Rows produced by the sources (operators that read no rows from another)."""
        return sum(m["records_out"] for m in self.metrics if m["records_in"] == 0)


def _op_key(m: dict[str, Any]) -> tuple[Any, ...]:
    return (m.get("stage"), m.get("index"), m.get("operator"))


def job_html(job_id: int, status: str, elapsed: float, metrics: list[dict[str, Any]], note: str = "",
             prev: Sample | None = None, now: Sample | None = None, history: list[float] | None = None,
             results_rows: int | None = None, checkpoints: dict[str, Any] | None = None,
             last_checkpoint: dict[str, Any] | None = None) -> str:
    """HTML for a job: status, elapsed time, a throughput sparkline, a line about its
    checkpoints (``checkpoints`` are the engine's counters, ``last_checkpoint`` the record of
    the latest one) and one row per operator (rows/s over the last interval while running,
    on average once ended; rows in and out, watermark and its lag behind the wall clock,
    backpressure, late rows, windows fired, and the operator's state size in the latest
    checkpoint, "—" before the first one or for an operator without state)."""
    colour = {"running": "#2ca02c", "finished": "#1f77b4", "failed": "#d62728", "cancelled": "#7f7f7f"}
    head = (f"<b>riverbed job {job_id}</b> <span style='color: {colour.get(status, '#000')}'>● "
            f"{_escape(status)}</span>, {_escape(human_duration(elapsed))}")
    running = status == "running"
    if history:
        if running:
            label = f"{human_count(history[-1])} rows/s from the sources"
        else:  # a finished job shows its average, not the idle last moment
            total = sum(m["records_out"] for m in metrics if m["records_in"] == 0)
            label = f"{human_count(total / elapsed if elapsed > 0 else 0)} rows/s from the sources on average"
        head += f" &nbsp; {sparkline(history)} {_escape(label)}"
    if results_rows is not None:
        head += f" &nbsp; {results_rows:,} result rows read"
    wall_now = now.wall if now else None
    head += (f"<div class='riverbed-checkpoints'>"
             f"{_escape(checkpoints_text(checkpoints, last_checkpoint, wall_now))}</div>")
    state = dict((last_checkpoint or {}).get("state_bytes") or {})
    before = {_op_key(m): m for m in (prev.metrics if prev else [])}
    dt = (now.at - prev.at) if (now and prev) else 0.0
    wall = now.wall if now else _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None)
    cols = ["operator", "parallelism", "rows/s" if running else "rows/s (avg)", "rows in", "rows out", "state size",
            "watermark", "watermark lag", "backpressure", "late rows", "windows fired"]
    tips = {"state size": "the operator's state in the latest checkpoint or savepoint",
            "backpressure": "share of the last interval blocked on a full output queue (total blocked time)",
            "watermark lag": "wall clock minus the watermark"}
    rows = []
    for m in metrics:
        p = before.get(_op_key(m))
        src = m["records_in"] == 0
        key = "records_out" if src else "records_in"
        if not running and elapsed > 0:
            op_rate = human_count(m[key] / elapsed)
            bp = human_duration(m["backpressure_s"]) if m.get("backpressure_s") else "0 s"
        elif p is not None and dt > 0:
            op_rate = human_count(max(0, m[key] - p[key]) / dt)
            blocked = max(0.0, m["backpressure_s"] - p["backpressure_s"]) / (dt * max(1, m.get("parallelism") or 1))
            bp = f"{min(1.0, blocked):.0%} ({human_duration(m['backpressure_s'])})"
        else:
            op_rate = MISSING
            bp = human_duration(m["backpressure_s"]) if m.get("backpressure_s") else "0 s"
        wm = m.get("watermark")
        lag = human_duration((wall - wm).total_seconds()) if isinstance(wm, _dt.datetime) else MISSING
        vals = [m["operator"], m.get("parallelism", ""), op_rate, f"{m['records_in']:,}", f"{m['records_out']:,}",
                human_bytes(state[m["id"]]) if m.get("id") in state else MISSING,
                human_time(wm) if isinstance(wm, _dt.datetime) else MISSING, lag, bp,
                f"{m.get('late_records', 0):,}", f"{m.get('windows_fired', 0):,}"]
        rows.append("<tr>" + "".join(f"<td>{_escape(str(v))}</td>" for v in vals) + "</tr>")
    table = (f"<div style='overflow-x: auto; max-width: 100%'><table border='1' class='riverbed-table'>"
             f"<thead><tr>{''.join(_th(c, tips.get(c)) for c in cols)}</tr></thead>"
             f"<tbody>{''.join(rows)}</tbody></table></div>")
    foot = f"<pre>{_escape(note)}</pre>" if note else ""
    return f"<div class='riverbed-job'>{_TABLE_STYLE}{head}{table}{kafka_partitions_html(metrics)}{foot}</div>"


def kafka_partitions_html(metrics: list[dict[str, Any]]) -> str:
    """A table of the partitions of the job's Kafka reads: last offset read, high watermark,
    lag, records, records/s and dead letters (empty without a Kafka read)."""
    rows = []
    for m in metrics:
        for p in m.get("partitions") or []:
            vals = [p["topic"], p["partition"], p["subtask"],
                    MISSING if p["last_offset"] is None else f"{p['last_offset']:,}",
                    MISSING if p["high_watermark"] is None else f"{p['high_watermark']:,}",
                    MISSING if p["lag"] is None else f"{p['lag']:,}",
                    f"{p['records']:,}", human_count(p.get("records_per_second") or 0), f"{p['dead_letters']:,}"]
            rows.append("<tr>" + "".join(f"<td>{_escape(str(v))}</td>" for v in vals) + "</tr>")
        gc = m.get("group_commits")
        if gc:
            rows.append(f"<tr><td colspan='9'>consumer group commits: {gc['committed']:,} done, "
                        f"{gc['failed']:,} failed{_escape(': ' + gc['last_error']) if gc.get('last_error') else ''}"
                        "</td></tr>")
    if not rows:
        return ""
    cols = ["topic", "partition", "subtask", "last offset", "high watermark", "lag", "records", "records/s",
            "dead letters"]
    return (f"<div style='overflow-x: auto; max-width: 100%'><table border='1' class='riverbed-table'>"
            f"<thead><tr>{''.join(f'<th>{c}</th>' for c in cols)}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _th(name: str, tip: str | None) -> str:
    return f"<th title='{_escape(tip)}'>{name}</th>" if tip else f"<th>{name}</th>"


def job_text(job_id: int, status: str, elapsed: float, metrics: list[dict[str, Any]],
             checkpoints: dict[str, Any] | None = None, last_checkpoint: dict[str, Any] | None = None) -> str:
    """A plain-text summary of a job, for exports and terminals that do not render HTML."""
    ops = ", ".join(f"{m['operator']} {m['records_out']:,} out" for m in metrics)
    text = f"riverbed job {job_id}: {status}, {human_duration(elapsed)}" + (f" ({ops})" if ops else "")
    if checkpoints and (checkpoints.get("enabled") or checkpoints.get("completed")):
        text += "; " + checkpoints_text(checkpoints, last_checkpoint)
    return text


class JobView:
    """A view of a job that refreshes itself while the job runs, from a background thread (the
    kernel stays free), and ends as static HTML when the job ends, so a saved notebook shows
    the final state. Made by displaying a :class:`Job` in Jupyter, or by :meth:`Job.view`.

    ``publish(obj)`` shows the first render and returns a handle with ``update(obj)``; by
    default an IPython display handle. With ipywidgets installed, Stop and Cancel buttons
    sit under the view while the job runs.
    """

    def __init__(self, job: Job, interval: float = 0.5, publish: Callable[[Any], Any] | None = None,
                 buttons: bool | None = None):
        self._job = weakref.ref(job)
        self.job_id = job._h.id
        self.interval = interval
        self.samples: deque[Sample] = deque(maxlen=2)
        self.history: deque[float] = deque(maxlen=120)
        self.renders = 0
        self.finished = threading.Event()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._publish = publish
        self._handle: Any = None
        self._widgets: Any = None
        self._buttons = buttons
        self._checkpoints_seen = 0
        self._last_checkpoint: dict[str, Any] | None = None
        self.last_html = ""

    # rendering
    def _snapshot(self, job: Job) -> tuple[str, str]:
        from .errors import RiverbedError

        status = job.status
        note = ""
        counters: dict[str, Any] = {}
        try:
            metrics, counters = job._metrics_doc()
            done = int(counters.get("completed") or 0)
            if done != self._checkpoints_seen:  # a new checkpoint landed: read its record once
                cps = job._h.checkpoints()
                self._last_checkpoint = cps[-1] if cps else None
                self._checkpoints_seen = done
        except RiverbedError as e:
            metrics, note = [], str(e)
        err = getattr(job._r.error, "err", job._r.error)  # the job's own error, raised or not yet
        if err is not None and status != "cancelled":
            note = f"{type(err).__name__}: {err}"
        now = Sample(metrics, time.monotonic(), _dt.datetime.now(_dt.timezone.utc).replace(tzinfo=None))
        prev = self.samples[-1] if self.samples else None
        if prev is not None and now.at > prev.at:
            self.history.append(max(0, now.source_rows() - prev.source_rows()) / (now.at - prev.at))
        self.samples.append(now)
        elapsed = job._elapsed()
        h = job_html(self.job_id, status, elapsed, metrics, note, prev, now, list(self.history),
                     checkpoints=counters, last_checkpoint=self._last_checkpoint)
        return job_text(self.job_id, status, elapsed, metrics, counters, self._last_checkpoint), h

    def _render(self, *, final: bool) -> None:
        job = self._job()
        if job is None:
            return
        text, h = self._snapshot(job)
        self.last_html = h
        obj = _HTMLText(text, h)
        if self._widgets is not None and not final:
            self._widgets[1].value = h
        elif self._handle is None:
            self._handle = self._show(obj, final)
        else:
            self._handle.update(obj)
        self.renders += 1

    def _show(self, obj: _HTMLText, final: bool) -> Any:
        if self._publish is not None:
            return self._publish(obj)
        from IPython.display import display  # type: ignore[import-not-found]

        if not final and self._buttons is not False:
            w = _widgets(self, obj.html)
            if w is not None:
                self._widgets = w
                return display(w[0], display_id=True)
        return display(obj, display_id=True)

    # lifecycle
    def start(self) -> JobView:
        """Show the view and refresh it every ``interval`` seconds until the job ends."""
        with self._lock:
            self._render(final=self._done())
        if self._done():
            self.finish()
            return self
        threading.Thread(target=self._loop, name=f"riverbed-view-{self.job_id}", daemon=True).start()
        return self

    def _done(self) -> bool:
        job = self._job()
        return job is None or job._r.done.is_set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            if self._done():
                break
            with self._lock:
                if self.finished.is_set():
                    return
                try:
                    self._render(final=False)
                except Exception:  # noqa: BLE001 - a failed refresh must not kill the kernel's thread
                    pass
        self.finish()

    def finish(self) -> None:
        """Render the final state once, as static HTML (replacing the buttons), and stop."""
        self._stop.set()
        with self._lock:
            if self.finished.is_set():
                return
            self._widgets_final()
            self._render(final=True)
            self.finished.set()

    def _widgets_final(self) -> None:
        if self._widgets is not None:
            self._widgets = None  # the handle now shows static HTML instead of the widgets


def _widgets(view: JobView, first_html: str) -> Any:
    """A VBox of the view's HTML and Stop/Cancel buttons, or None without ipywidgets."""
    try:
        import ipywidgets as w  # type: ignore[import-not-found, import-untyped]
    except ImportError:
        return None
    body = w.HTML(value=first_html)
    stop = w.Button(description="Stop", tooltip="stop the sources and let the job end cleanly (job.stop())")
    cancel = w.Button(description="Cancel", button_style="danger", tooltip="cancel the job at once (job.cancel())")

    def on_stop(_: Any) -> None:
        job = view._job()
        if job is not None:
            threading.Thread(target=job.stop, daemon=True).start()

    def on_cancel(_: Any) -> None:
        job = view._job()
        if job is not None:
            threading.Thread(target=job.cancel, daemon=True).start()

    stop.on_click(on_stop)
    cancel.on_click(on_cancel)
    return w.VBox([body, w.HBox([stop, cancel])]), body, stop, cancel


class ResultsTail:
    """The latest ``rows`` result rows of a job as one table, refreshed in place (at most every
    ``interval`` seconds) while results are read; see :meth:`Job.show_results`."""

    def __init__(self, rows: int, schema: pa.Schema, interval: float = 0.25,
                 publish: Callable[[Any], Any] | None = None):
        self.rows = rows
        self.schema = schema
        self.interval = interval
        self.batches: deque[pa.RecordBatch] = deque()
        self.kept = 0
        self.total = 0
        self.renders = 0
        self._publish = publish
        self._handle: Any = None
        self._shown = 0.0

    def add(self, batch: pa.RecordBatch) -> None:
        if batch.num_rows == 0:
            return
        self.total += batch.num_rows
        self.batches.append(batch)
        self.kept += batch.num_rows
        while self.batches and self.kept - self.batches[0].num_rows >= self.rows:
            self.kept -= self.batches.popleft().num_rows
        if time.monotonic() - self._shown >= self.interval:
            self.render(final=False)

    def table(self) -> pa.Table:
        """The latest ``rows`` rows read."""
        t = pa.Table.from_batches(list(self.batches), schema=self.schema)
        return t.slice(max(0, t.num_rows - self.rows))

    def render(self, *, final: bool) -> None:
        t = self.table()
        what = "done: " if final else "reading: "
        caption = f"riverbed results, {what}latest {t.num_rows:,} of {self.total:,} rows read"
        h = (f"<div class='riverbed-tail'><b>{_escape(caption)}</b>"
             f"{table_html(t, max_rows=self.rows)}</div>")
        obj = _HTMLText(caption, h)
        if self._handle is None:
            if self._publish is not None:
                self._handle = self._publish(obj)
            elif _ipython() is not None:
                from IPython.display import display  # type: ignore[import-not-found]

                self._handle = display(obj, display_id=True)
            else:
                return
        else:
            self._handle.update(obj)
        self._shown = time.monotonic()
        self.renders += 1
