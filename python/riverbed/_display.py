"""Notebook and terminal display: HTML for results and plans, progress bars."""

from __future__ import annotations

import html
from typing import Any

import pyarrow as pa


def plan_html(text: str) -> str:
    return (
        "<div><b>riverbed plan</b><pre style='font-size: 12px; line-height: 1.3'>"
        + html.escape(text)
        + "</pre></div>"
    )


def table_html(t: pa.Table, max_rows: int = 20) -> str:
    """An HTML table of the first rows of a pyarrow Table, with types under the names."""
    head = t.slice(0, max_rows).to_pylist()
    cols = t.schema
    parts = ["<div><table border='1' class='dataframe'><thead><tr>"]
    for f in cols:
        parts.append(f"<th>{html.escape(f.name)}<br><small>{html.escape(str(f.type))}</small></th>")
    parts.append("</tr></thead><tbody>")
    for row in head:
        parts.append("<tr>" + "".join(
            f"<td>{'<i>null</i>' if row[f.name] is None else html.escape(str(row[f.name]))}</td>" for f in cols
        ) + "</tr>")
    parts.append("</tbody></table>")
    more = t.num_rows - len(head)
    parts.append(f"<small>{t.num_rows:,} rows × {t.num_columns} columns"
                 + (f" (first {len(head)} shown)" if more > 0 else "") + "</small></div>")
    return "".join(parts)


def progress_bar(bar: Any, p: dict[str, int], *, explicit: bool, final: bool = False) -> Any:
    """Create or update a tqdm bar from job progress counters."""
    if bar is None:
        if final and not explicit:
            return None
        from tqdm.auto import tqdm

        total = p["total_rows"] or None
        bar = tqdm(total=total, unit=" rows", unit_scale=True, desc="riverbed",
                   delay=0 if explicit else 0.5, leave=explicit, dynamic_ncols=True)
    if p["total_files"]:
        post = f"{p['files_done']}/{p['total_files']} files"
        if p["splits_pruned"]:
            post += f", {p['splits_pruned']} row groups skipped"
        bar.set_postfix_str(post, refresh=False)
    delta = p["rows_read"] - bar.n
    if delta > 0:
        bar.update(delta)
    return bar


def register_notebook_formatters() -> None:
    """Render pyarrow Tables (riverbed's results) as HTML tables in IPython/Jupyter."""
    try:
        from IPython import get_ipython  # type: ignore[import-not-found]
    except ImportError:
        return
    ip = get_ipython()
    if ip is None:
        return
    formatter = ip.display_formatter.formatters.get("text/html")
    if formatter is not None:
        formatter.for_type(pa.Table, table_html)


def job_html(job_id: int, status: str, elapsed: float, metrics: list[dict[str, Any]], note: str = "") -> str:
    """HTML for a running job: status, elapsed time and per-operator metrics."""
    head = f"<b>riverbed job {job_id}</b>: {html.escape(status)}, {elapsed:.1f}s"
    cols = ["operator", "parallelism", "records_in", "records_out", "late_records", "windows_fired",
            "watermark", "backpressure_s"]
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(m.get(c, '')))}</td>" for c in cols) + "</tr>" for m in metrics)
    table = ("<table border='1'><thead><tr>" + "".join(f"<th>{c}</th>" for c in cols)
             + f"</tr></thead><tbody>{rows}</tbody></table>")
    return f"<div>{head}{table}{'<pre>' + html.escape(note) + '</pre>' if note else ''}</div>"
