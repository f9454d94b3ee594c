"""A plain-Python reference for riverbed's event-time windows (the "golden semantics").

Everything here follows the engine's documented contract, not its code:

* event time is in integer microseconds; windows are half-open ``[start, end)``;
* ``tumbling(size)``: ``start = floor(ts / size) * size``;
* ``sliding(size, every)``: every window whose start is a multiple of ``every`` with
  ``start <= ts < start + size``;
* ``cumulate(step, max)``: ``start = floor(ts / max) * max``; windows ``[start, start + k*step)``
  for ``k = 1 .. max/step`` with ``end > ts``;
* ``session(gap)``: per key, each row opens ``[ts, ts + gap)``; overlapping windows merge
  (``a.start < b.end and b.start < a.end``), the output window is ``[min start, max end)``;
* a source *split* (the whole in-memory input, or one Parquet file) is emitted in batches of
  ``batch_size`` rows; the watermark of a split before a batch is the largest event time of
  the split's earlier batches minus ``max_out_of_orderness`` minus 1 µs (minus infinity
  before the first batch) — rows of one batch do not see each other;
* a row is dropped for window ``w`` if ``w.end - 1 + allowed_lateness <= watermark``; a row
  dropped for all its windows is *late* (session windows judge a row on its own window
  ``[ts, ts + gap)`` only);
* the golden result is, per ``(key, window_start, window_end)``, the aggregation of every
  row that was not dropped for that window; aggregations skip nulls as in ``group_by`` and
  ``first``/``last`` follow input order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

US = 1
MS = 1_000
SECOND = 1_000_000

NEG_INF = None  # the watermark before a split's first batch


# -- windows ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class WindowSpec:
    """A window in microseconds: kind is tumbling / sliding / cumulate / session."""

    kind: str
    size: int = 0   # tumbling, sliding; the max size of cumulate
    every: int = 0  # sliding
    step: int = 0   # cumulate
    gap: int = 0    # session

    def windows(self, ts: int) -> list[tuple[int, int]]:
        """The windows ``[start, end)`` that a row at event time ``ts`` belongs to (for a
        session: the row's own window)."""
        if self.kind == "tumbling":
            start = (ts // self.size) * self.size
            return [(start, start + self.size)]
        if self.kind == "sliding":
            out = []
            start = (ts // self.every) * self.every  # the latest start <= ts
            while start > ts - self.size:
                out.append((start, start + self.size))
                start -= self.every
            return sorted(out)
        if self.kind == "cumulate":
            assert self.size % self.step == 0
            start = (ts // self.size) * self.size
            return [(start, start + k * self.step) for k in range(1, self.size // self.step + 1)
                    if start + k * self.step > ts]
        if self.kind == "session":
            return [(ts, ts + self.gap)]
        raise ValueError(self.kind)


def tumbling(size: int) -> WindowSpec:
    return WindowSpec("tumbling", size=size)


def sliding(size: int, every: int) -> WindowSpec:
    return WindowSpec("sliding", size=size, every=every)


def cumulate(step: int, max_size: int) -> WindowSpec:
    return WindowSpec("cumulate", size=max_size, step=step)


def session(gap: int) -> WindowSpec:
    return WindowSpec("session", gap=gap)


# -- splits, batches and watermarks -----------------------------------------------------------

def batch_layout(n_rows: int, batch_size: int, splits: Sequence[int] | None = None) -> list[tuple[int, int]]:
    """``(split index, batch index within the split)`` of every row, for splits of the given
    sizes (in input order; ``None``: one split holding everything)."""
    sizes = [n_rows] if splits is None else list(splits)
    assert sum(sizes) == n_rows, (sizes, n_rows)
    out = []
    for s, size in enumerate(sizes):
        out += [(s, i // batch_size) for i in range(size)]
    return out


def split_watermarks(ts: Sequence[int], batch_size: int, bound: int,
                     splits: Sequence[int] | None = None) -> list[int | None]:
    """The watermark of each row's split before the row's batch (``None`` = minus infinity)."""
    layout = batch_layout(len(ts), batch_size, splits)
    out: list[int | None] = []
    seen_max: int | None = None  # largest ts of the split's earlier batches
    batch_max: int | None = None  # largest ts of the current batch so far
    cur = None
    for t, where in zip(ts, layout):
        if where != cur:
            if cur is None or where[0] != cur[0]:
                seen_max, batch_max = None, None  # a new split starts from nothing
            elif batch_max is not None:
                seen_max = batch_max if seen_max is None else max(seen_max, batch_max)
                batch_max = None
            cur = where
        out.append(None if seen_max is None else seen_max - bound - 1)
        batch_max = t if batch_max is None else max(batch_max, t)
    return out


def dropped(window_end: int, watermark: int | None, lateness: int) -> bool:
    """Whether a row is too late for a window ending at ``window_end``."""
    return watermark is not None and window_end - 1 + lateness <= watermark


# -- aggregations -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Agg:
    """An aggregation of the reference: ``kind`` is count_rows (``rb.count()``) or
    count / sum / min / max / mean / first / last of ``column``."""

    name: str
    kind: str
    column: str | None = None

    def compute(self, rows: list[dict[str, Any]]) -> Any:
        if self.kind == "count_rows":
            return len(rows)
        vals = [r[self.column] for r in rows if r[self.column] is not None]
        if self.kind == "count":
            return len(vals)
        if not vals:
            return None
        if self.kind == "sum":
            return sum(vals)
        if self.kind == "min":
            return min(vals)
        if self.kind == "max":
            return max(vals)
        if self.kind == "mean":
            return math.fsum(vals) / len(vals)
        if self.kind == "first":
            return vals[0]
        if self.kind == "last":
            return vals[-1]
        raise ValueError(self.kind)


# -- the reference --------------------------------------------------------------------------------

@dataclass
class Reference:
    """What a window aggregation must produce."""

    results: dict[tuple, dict[str, Any]]  # (key..., start, end) -> {agg name: value}
    late: list[dict[str, Any]]             # the late input rows, in input order
    accepted: list[int] = field(default_factory=list)  # indexes of the rows that are not late
    behind: list[int] = field(default_factory=list)    # non-late rows at or below their watermark


def reference(rows: Sequence[dict[str, Any]], spec: WindowSpec, *, keys: Sequence[str], time: str,
              aggs: Sequence[Agg], batch_size: int, bound: int, lateness: int = 0,
              splits: Sequence[int] | None = None, to_micros: Callable[[Any], int] | None = None) -> Reference:
    """Run the contract over ``rows`` (dicts, in input order).

    ``time`` names the event-time column (values are µs integers, or converted with
    ``to_micros``); ``splits`` gives the sizes of the source splits in input order
    (``None``: one split, as an in-memory input)."""
    conv = to_micros or (lambda v: v)
    ts = [conv(r[time]) for r in rows]
    wms = split_watermarks(ts, batch_size, bound, splits)
    key_of = [tuple(r[k] for k in keys) for r in rows]

    late: list[dict[str, Any]] = []
    accepted: list[int] = []
    behind: list[int] = []
    members: dict[tuple, list[int]] = {}  # (key..., start, end) -> row indexes (input order)

    session_rows: dict[tuple, list[int]] = {}
    for i, r in enumerate(rows):
        wm = wms[i]
        ok = [w for w in spec.windows(ts[i]) if not dropped(w[1], wm, lateness)]
        if not ok:
            late.append(dict(r))
            continue
        accepted.append(i)
        if wm is not None and ts[i] <= wm:
            behind.append(i)
        if spec.kind == "session":
            session_rows.setdefault(key_of[i], []).append(i)
        else:
            for w in ok:
                members.setdefault(key_of[i] + w, []).append(i)

    if spec.kind == "session":
        for key, idx in session_rows.items():
            for start, end, group in merge_sessions([(ts[i], ts[i] + spec.gap, i) for i in idx]):
                members[key + (start, end)] = sorted(group)

    results = {w: {a.name: a.compute([rows[i] for i in idx]) for a in aggs} for w, idx in members.items()}
    return Reference(results=results, late=late, accepted=accepted, behind=behind)


def merge_sessions(windows: Iterable[tuple[int, int, int]]) -> list[tuple[int, int, list[int]]]:
    """Merge ``(start, end, row)`` windows that overlap (transitively) into
    ``(start, end, rows)`` sessions."""
    out: list[tuple[int, int, list[int]]] = []
    for start, end, i in sorted(windows):
        if out and start < out[-1][1]:
            s, e, g = out[-1]
            out[-1] = (s, max(e, end), g + [i])
        else:
            out.append((start, end, [i]))
    return out


def session_ambiguities(rows: Sequence[dict[str, Any]], gap: int, *, keys: Sequence[str], time: str,
                        batch_size: int, bound: int, lateness: int,
                        splits: Sequence[int] | None = None) -> list[int]:
    """Rows that could make the *emitted* session windows depend on timing.

    A row at or below its split's watermark (but not late) may reach the window operator
    after a session it overlaps has fired; if it then extends or merges that session, the
    superseded window stays in the result stream under its old bounds. Test data avoids
    this: every such row must either repeat the key and event time of a row of an earlier
    batch of its split that was ahead of its watermark (so it falls inside that row's
    session), or overlap no other accepted row of its key at all. Returns the indexes of
    the rows that do neither (empty for unambiguous data)."""
    spec = session(gap)
    ref = reference(rows, spec, keys=keys, time=time, aggs=[], batch_size=batch_size, bound=bound,
                    lateness=lateness, splits=splits)
    layout = batch_layout(len(rows), batch_size, splits)
    ts = [r[time] for r in rows]
    key_of = [tuple(r[k] for k in keys) for r in rows]
    behind = set(ref.behind)
    ahead = [i for i in ref.accepted if i not in behind]
    bad = []
    for q in ref.behind:
        dup = any(key_of[j] == key_of[q] and ts[j] == ts[q] and layout[j][0] == layout[q][0]
                  and layout[j][1] < layout[q][1] for j in ahead)
        if dup:
            continue
        alone = all(key_of[j] != key_of[q] or j == q or not (ts[j] < ts[q] + gap and ts[q] < ts[j] + gap)
                    for j in ref.accepted)
        if not alone:
            bad.append(q)
    return bad
