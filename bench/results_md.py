"""Writing one section of bench/RESULTS.md while keeping the others."""

from __future__ import annotations

import os


def write_section(path: str, title: str, text: str) -> None:
    """Replace the section that starts with the line ``title`` (a "## ..." heading) by
    ``text``, or append it; other sections stay as they are."""
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if title in old:
        start = old.index(title)
        nxt = old.find("\n## ", start + len(title))
        new = old[:start] + text + ("" if nxt < 0 else old[nxt:])
    else:
        if not old:
            old = "# Benchmark results\n"
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new.rstrip("\n") + "\n")
