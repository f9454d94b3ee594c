"""The example notebooks run in a real Jupyter kernel (nbclient) without errors or warnings,
and their saved outputs hold the HTML a reader should see: the plan, result tables, the job
view in its final state, and the final progress line."""

from __future__ import annotations

import importlib.util
import os

import pytest

from html_check import parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

_spec = importlib.util.spec_from_file_location("examples_execute", os.path.join(ROOT, "examples", "execute.py"))
assert _spec is not None and _spec.loader is not None
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)


def _outputs(nb):
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            for out in cell.get("outputs", []):
                yield i, out


def _html(nb) -> list[tuple[int, str]]:
    return [(i, out["data"]["text/html"]) for i, out in _outputs(nb)
            if out.get("output_type") in ("display_data", "execute_result") and "text/html" in out.get("data", {})]


def _clean(nb) -> None:
    for i, out in _outputs(nb):
        assert out["output_type"] != "error", f"cell {i}: {out.get('ename')}: {out.get('evalue')}"
        assert not (out["output_type"] == "stream" and out["name"] == "stderr"), f"cell {i} wrote: {out['text']}"
    for _, h in _html(nb):
        if "riverbed" in h:
            parse(h)  # well-formed


@pytest.fixture(scope="module")
def batch_nb():
    return execute.execute("batch_exploration.ipynb")


@pytest.fixture(scope="module")
def live_nb():
    return execute.execute("live_streaming.ipynb")


def test_batch_exploration_notebook(batch_nb):
    _clean(batch_nb)
    html = _html(batch_nb)
    plans = [h for _, h in html if "riverbed-plan" in h]
    assert plans and "logical plan" in plans[0] and "aggregate" in plans[0]
    progress = [h for _, h in html if "riverbed-progress" in h]
    assert len(progress) == 1 and "done" in progress[0] and "rows read" in progress[0]
    results = [h for _, h in html if "riverbed-result" in h]
    assert len(results) >= 2 and "avg_price" in results[0]
    # print(explain()) shows the plan's text, one line each
    printed = [out["text"] for _, out in _outputs(batch_nb) if out["output_type"] == "stream"]
    assert any(t.startswith("logical plan:\n") for t in printed)


def test_live_streaming_notebook(live_nb):
    _clean(live_nb)
    html = _html(live_nb)
    views = [(i, h) for i, h in html if "riverbed-job" in h]
    assert len(views) == 1, "the job view is one output, updated in place"
    i, view = views[0]
    assert "finished" in view and "rows/s (avg)" in view and "<svg" in view
    assert "None" not in view
    # the saved view is static HTML, not a widget that a saved notebook cannot show
    out = [o for j, o in _outputs(live_nb) if j == i and "text/html" in o.get("data", {})][0]
    assert "application/vnd.jupyter.widget-view+json" not in out["data"]
    batches = [h for _, h in html if "riverbed-result" in h and "RecordBatch" in h]
    assert batches and "max_price" in batches[0]
    assert any("finished" in o.get("data", {}).get("text/plain", "") for _, o in _outputs(live_nb))
    tails = [h for _, h in html if "riverbed-tail" in h]
    assert len(tails) == 1 and "done: latest 8 of" in tails[0]
