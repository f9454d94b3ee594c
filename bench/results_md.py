"""Shared by the benchmarks: the machine's description and writing one section of
bench/RESULTS.md while keeping the others."""

from __future__ import annotations

import os
import platform


def machine() -> str:
    """Cores, CPU model, memory and OS of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}"


def write_section(path: str, title: str, text: str) -> None:
    """Replace the section that starts with the line ``title`` (a "## ..." heading) by
    ``text``, or append it; other sections stay as they are. Subsections of the old
    section ("### ..." headings: analyses written by hand, runs of other scripts) that
    ``text`` does not have are kept after it."""
    old = ""
    if os.path.exists(path):
        with open(path) as f:
            old = f.read()
    if title in old:
        start = old.index(title)
        nxt = old.find("\n## ", start + len(title))
        section = old[start:] if nxt < 0 else old[start:nxt]
        kept = [sub for sub in section.split("\n### ")[1:] if "### " + sub.split("\n", 1)[0] not in text]
        if kept:
            text = text.rstrip("\n") + "\n" + "".join("\n### " + sub.rstrip("\n") + "\n" for sub in kept)
        new = old[:start] + text + ("" if nxt < 0 else old[nxt:])
    else:
        if not old:
            old = "# Benchmark results\n"
        new = old.rstrip("\n") + "\n\n" + text
    with open(path, "w") as f:
        f.write(new.rstrip("\n") + "\n")


def _status_kb(pid: int | str, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_mb(pid: int | str = "self") -> float | None:
    """A process's peak resident set size (VmHWM) in MB, None where unknown."""
    kb = _status_kb(pid, "VmHWM")
    return None if kb is None else kb / 1024


def rss_mb(pid: int | str = "self") -> float | None:
    """A process's resident set size now (VmRSS) in MB, None where unknown."""
    kb = _status_kb(pid, "VmRSS")
    return None if kb is None else kb / 1024
