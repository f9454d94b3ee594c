"""Render the executed example notebooks to HTML (nbconvert) and take a screenshot of each in
headless Chromium, into docs/images/, so readers see what a notebook looks like.

    python examples/screenshot.py          # needs nbconvert (pip) and Chromium

Chromium comes from the distribution's packages: ``scripts/install-chromium.sh`` installs it
(``make screenshots`` runs it). Run ``make examples`` first so that the notebooks carry fresh
outputs. The test suite (tests/test_examples.py) takes screenshots with the same functions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "docs", "images")
WIDTH = 1280
NOTEBOOKS = {"batch_exploration.ipynb": 2350, "live_streaming.ipynb": 1900, "feature_pipeline.ipynb": 2000}  # heights


def find_chromium() -> str | None:
    """The path of Chromium (or Chrome) on PATH, or None."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(nb: Any, png: str, height: int, browser: str) -> None:
    """Render notebook ``nb`` (an nbformat node) with nbconvert's lab template and write a
    screenshot of its first ``height`` pixels (``WIDTH`` wide) into ``png``."""
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    with tempfile.TemporaryDirectory() as tmp:
        page = os.path.join(tmp, "page.html")
        with open(page, "w", encoding="utf-8") as f:
            f.write(body)
        subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                        "--force-device-scale-factor=1", f"--user-data-dir={os.path.join(tmp, 'profile')}",
                        f"--window-size={WIDTH},{height}", f"--screenshot={png}", "file://" + page],
                       check=True, capture_output=True, timeout=300)


def main() -> int:
    import nbformat

    browser = find_chromium()
    if browser is None:
        raise SystemExit("screenshot.py needs Chromium on PATH: scripts/install-chromium.sh installs it")
    os.makedirs(OUT, exist_ok=True)
    for name, height in NOTEBOOKS.items():
        nb = nbformat.read(os.path.join(HERE, name), as_version=4)
        png = os.path.join(OUT, name.replace(".ipynb", ".png"))
        screenshot(nb, png, height, browser)
        print(f"{os.path.relpath(png, os.path.dirname(HERE))}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
