"""Render the executed example notebooks to HTML (nbconvert) and take a screenshot of each in
headless Chromium, into docs/images/, so readers see what a notebook looks like.

    python examples/screenshot.py          # needs nbconvert (pip) and chromium (Debian: apt install chromium)

Run ``make examples`` first so that the notebooks carry fresh outputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(os.path.dirname(HERE), "docs", "images")
NOTEBOOKS = {"batch_exploration.ipynb": 2350, "live_streaming.ipynb": 1750}  # page height in pixels


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise SystemExit("screenshot.py needs Chromium on PATH (Debian: apt install chromium)")


def main() -> int:
    import nbformat
    from nbconvert import HTMLExporter

    browser = chromium()
    os.makedirs(OUT, exist_ok=True)
    exporter = HTMLExporter(template_name="lab")
    with tempfile.TemporaryDirectory() as tmp:
        for name, height in NOTEBOOKS.items():
            nb = nbformat.read(os.path.join(HERE, name), as_version=4)
            body, _ = exporter.from_notebook_node(nb)
            page = os.path.join(tmp, name.replace(".ipynb", ".html"))
            with open(page, "w", encoding="utf-8") as f:
                f.write(body)
            png = os.path.join(OUT, name.replace(".ipynb", ".png"))
            subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                            f"--user-data-dir={os.path.join(tmp, 'profile')}",
                            f"--window-size=1280,{height}", f"--screenshot={png}", "file://" + page],
                           check=True, capture_output=True, timeout=300)
            print(f"{os.path.relpath(png, os.path.dirname(HERE))}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
