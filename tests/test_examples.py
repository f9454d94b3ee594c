"""The example notebooks run in a real Jupyter kernel (nbclient) without errors or warnings,
and their saved outputs hold the HTML a reader should see: the plan, result tables, the job
view in its final state (with state sizes and checkpoints), and the final progress line.
An executed notebook rendered by nbconvert is photographed in headless Chromium, and the
pictures kept in docs/images/ are checked to be real renderings.

The Kafka feature pipeline runs on the broker RIVERBED_KAFKA_BROKERS names (``make test``
starts one); without it this module starts its own with kafka/testbroker/broker.sh, as
tests/test_kafka.py does."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re

import numpy as np
import pytest

from html_check import parse
from png_check import read_png

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

_spec = importlib.util.spec_from_file_location("examples_execute", os.path.join(ROOT, "examples", "execute.py"))
assert _spec is not None and _spec.loader is not None
execute = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(execute)
_shot_path = os.path.join(ROOT, "examples", "screenshot.py")
_shot_spec = importlib.util.spec_from_file_location("examples_screenshot", _shot_path)
assert _shot_spec is not None and _shot_spec.loader is not None
shots = importlib.util.module_from_spec(_shot_spec)
_shot_spec.loader.exec_module(shots)


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


@contextlib.contextmanager
def _environ(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="module")
def feature_nb(kafka_brokers):
    with _environ(RIVERBED_KAFKA_BROKERS=kafka_brokers):  # the kernel inherits it
        return execute.execute("feature_pipeline.ipynb")


def test_batch_exploration_notebook(batch_nb):
    _clean(batch_nb)
    html = _html(batch_nb)
    plans = [h for _, h in html if "riverbed-plan" in h]
    assert plans and "logical plan" in plans[0] and "aggregate" in plans[0]
    # the cell that asks for progress leaves its final state, one line (other cells show one
    # too when they run longer than half a second, which depends on the machine's load)
    asked = next(i for i, c in enumerate(batch_nb.cells) if "progress=True" in c.source)
    progress = [h for i, h in html if i == asked and "riverbed-progress" in h]
    assert len(progress) == 1 and "done" in progress[0] and "rows read" in progress[0]
    assert all("done" in h for _, h in html if "riverbed-progress" in h)  # only final states are left
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
    _check_state_and_checkpoints(view)


def _view_ops(view: str) -> dict[str, dict[str, str]]:
    """The rows of the view's operator table (the first table: a Kafka read adds a table of
    its partitions after it)."""
    second = view.find("<table", view.find("<table") + 1)
    if second >= 0:  # drop the partitions table with the div around it
        start = view.rfind("<div", 0, second)
        end = view.index("</table></div>", second) + len("</table></div>")
        view = view[:start] + view[end:]
    tree = parse(view)
    return {r[0]: dict(zip(tree.header, r)) for r in tree.rows if r and len(r) == len(tree.header)}


def _check_state_and_checkpoints(view: str, *, state: bool = True) -> None:
    """The final job view names its checkpoints and shows the window operator's state size
    (``state=False``: a job stopped draining, whose last checkpoint holds no window)."""
    text = "".join(parse(view).text)
    m = re.search(r"checkpoints: ([\d,]+) completed", text)
    assert m and int(m.group(1).replace(",", "")) >= 1, text
    if not state:
        return
    ops = _view_ops(view)
    win = [o for name, o in ops.items() if name.startswith("window")]
    assert win and re.fullmatch(r"[\d.]+ (B|KiB|MiB|GiB)", win[0]["state size"]), win


def test_feature_pipeline_notebook(feature_nb):
    _clean(feature_nb)
    # it imports the example module's function rather than a copy of it
    assert any("import feature_pipeline as fp" in c.source for c in feature_nb.cells)
    html = _html(feature_nb)
    plans = [h for _, h in html if "riverbed-plan" in h]
    assert plans and "kafka" in plans[0] and "window" in plans[0] and "asof" in plans[0]
    views = [h for _, h in html if "riverbed-job" in h]
    assert len(views) == 1 and "finished" in views[0] and "None" not in views[0]
    _check_state_and_checkpoints(views[0], state=False)  # stopped draining: no window left open
    # the training set and the served features, shown as Polars frames
    frames = [h for _, h in html if "shape: (" in h and "clicks_10m" in h and "spend_1h" in h]
    assert len(frames) >= 2, [h[:200] for _, h in html]
    # the last cell compares the features served online with the training set: equal
    outs = [o for _, o in _outputs(feature_nb) if o["output_type"] == "execute_result"]
    assert outs[-1]["data"]["text/plain"] == "True"
    printed = "".join(o["text"] for _, o in _outputs(feature_nb) if o["output_type"] == "stream")
    m = re.search(r"(\d+) training rows from Parquet, (\d+) rows served live from Kafka", printed)
    assert m and m.group(1) == m.group(2) and int(m.group(1)) > 0, printed


# -- screenshots ---------------------------------------------------------------------------------
_BLUE = np.array([0x1F, 0x77, 0xB4])  # the job view's sparkline and "finished" status


def _blue_pixels(png: str) -> int:
    img = read_png(png)[..., :3].astype(int)
    return int((np.abs(img - _BLUE).sum(axis=2) < 40).sum())


def _browser() -> str:
    pytest.importorskip("nbconvert", reason="the screenshot test needs nbconvert (pip install riverbed[test])")
    browser = shots.find_chromium()
    if browser is None:
        pytest.skip("the screenshot test needs Chromium: scripts/install-chromium.sh installs Debian's chromium "
                    "package (make test-py runs it where it can)")
    return browser


def test_screenshot_of_an_executed_notebook_in_headless_chromium(live_nb, tmp_path):
    browser = _browser()
    png = str(tmp_path / "live.png")
    shots.screenshot(live_nb, png, 1600, browser)
    img = read_png(png)
    assert img.shape[:2] == (1600, shots.WIDTH)
    ink = (img[..., :3].min(axis=2) < 128).mean()
    assert 0.005 < ink < 0.5, ink  # text was drawn, and the page is not one dark block
    # The oracle for "the job view rendered": the same notebook without the view's output,
    # photographed alike, has far fewer pixels of the view's blue (sparkline and status).
    without = live_nb.copy()
    without.cells = [c.copy() for c in live_nb.cells]
    for c in without.cells:
        if c.cell_type == "code":
            c.outputs = [o for o in c.get("outputs", [])
                         if "riverbed-job" not in o.get("data", {}).get("text/html", "")]
    png2 = str(tmp_path / "without_view.png")
    shots.screenshot(without, png2, 1600, browser)
    # (removing the view can only bring more of the page below into the picture)
    with_view, without_view = _blue_pixels(png), _blue_pixels(png2)
    assert with_view - without_view > 100, (with_view, without_view)


@pytest.mark.parametrize("name", list(shots.NOTEBOOKS))
def test_screenshots_in_the_docs_are_renderings(name):
    png = os.path.join(shots.OUT, name.replace(".ipynb", ".png"))
    assert os.path.exists(png), f"{png} is missing: make examples screenshots"
    img = read_png(png)
    assert img.shape[:2] == (shots.NOTEBOOKS[name], shots.WIDTH)
    assert 0.005 < (img[..., :3].min(axis=2) < 128).mean() < 0.5  # text drawn on a light page
