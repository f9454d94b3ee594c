"""Window specifications: tumbling, sliding, session and cumulate windows."""

from __future__ import annotations

import datetime as _dt
from typing import Any, Literal, Union

from .errors import PlanError, TypeMismatchError

Duration = Union[str, int, _dt.timedelta]
TimeCharacteristic = Literal["event", "processing"]


def duration(d: Duration, what: str = "duration") -> str:
    """Normalize a duration for the plan: strings such as ``"10s"``, ``"1m"``, ``"500ms"``,
    ``"2h"``, ``"1d"``; an ``int`` of milliseconds; or a ``datetime.timedelta``."""
    if isinstance(d, str):
        return d
    if isinstance(d, bool):
        raise TypeMismatchError(f"{what} must be a duration such as '10s', not {d!r}")
    if isinstance(d, int):
        return f"{d}ms"
    if isinstance(d, _dt.timedelta):
        return f"{int(d / _dt.timedelta(microseconds=1))}us"
    raise TypeMismatchError(
        f"{what} must be a duration such as '10s', an int of milliseconds or a timedelta, got {d!r}")


class Window:
    """A window specification; make one with :func:`tumbling`, :func:`sliding`,
    :func:`session` or :func:`cumulate`."""

    def __init__(self, spec: dict[str, Any]):
        self._spec = spec

    def _to_plan(self) -> dict[str, Any]:
        return self._spec

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._spec.items() if k != "kind")
        return f"rb.{self._spec['kind']}({args})"


def _common(spec: dict[str, Any], offset: Duration | None, time: TimeCharacteristic, on: str | None) -> Window:
    if time not in ("event", "processing"):
        raise PlanError(f"time must be 'event' or 'processing', got {time!r}")
    if offset is not None:
        spec["offset"] = duration(offset, "offset")
    if time != "event":
        spec["time"] = time
    if on is not None:
        spec["on"] = on
    return Window(spec)


def tumbling(size: Duration, *, offset: Duration | None = None, time: TimeCharacteristic = "event",
             on: str | None = None) -> Window:
    """Fixed, non-overlapping windows of ``size``: ``[k*size, (k+1)*size)``.

    ``on`` names the event-time column (default: the source's ``event_time``);
    ``time="processing"`` uses the wall clock instead.

    Examples
    --------
    >>> import riverbed as rb, datetime as dt
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> s = rb.from_pydict({"ts": [t0, t0 + dt.timedelta(seconds=30), t0 + dt.timedelta(seconds=70)]},
    ...                    event_time="ts")
    >>> out = s.window(rb.tumbling("1m")).agg(rb.count().alias("n")).collect()
    >>> sorted((r["window_start"].time().isoformat(), r["n"]) for r in out.to_pylist())
    [('00:00:00', 2), ('00:01:00', 1)]
    """
    return _common({"kind": "tumbling", "size": duration(size, "size")}, offset, time, on)


def sliding(size: Duration, every: Duration, *, offset: Duration | None = None,
            time: TimeCharacteristic = "event", on: str | None = None) -> Window:
    """Windows of ``size`` starting ``every`` interval; a row belongs to ``size / every`` windows.

    Examples
    --------
    >>> import riverbed as rb, datetime as dt
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> s = rb.from_pydict({"ts": [t0, t0 + dt.timedelta(seconds=30), t0 + dt.timedelta(seconds=70)]},
    ...                    event_time="ts")
    >>> out = s.window(rb.sliding("1m", "30s")).agg(rb.count().alias("n")).collect()
    >>> [(r["window_start"].time().isoformat(), r["n"]) for r in out.sort_by("window_start").to_pylist()]
    [('23:59:30', 1), ('00:00:00', 2), ('00:00:30', 2), ('00:01:00', 1)]
    """
    return _common({"kind": "sliding", "size": duration(size, "size"), "slide": duration(every, "every")},
                   offset, time, on)


def session(gap: Duration, *, on: str | None = None) -> Window:
    """Per-key sessions: a row at time t opens ``[t, t + gap)``; overlapping sessions merge.

    Examples
    --------
    >>> import riverbed as rb, datetime as dt
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> s = rb.from_pydict({"user": [1, 1, 1], "ts": [t0 + dt.timedelta(seconds=x) for x in (0, 30, 200)]},
    ...                    event_time="ts")
    >>> out = s.key_by("user").window(rb.session("1m")).agg(rb.count().alias("n")).collect()
    >>> sorted(((r["window_start"] - t0).seconds, (r["window_end"] - t0).seconds, r["n"]) for r in out.to_pylist())
    [(0, 90, 2), (200, 260, 1)]
    """
    return _common({"kind": "session", "gap": duration(gap, "gap")}, None, "event", on)


def cumulate(step: Duration, max_size: Duration, *, offset: Duration | None = None,
             time: TimeCharacteristic = "event", on: str | None = None) -> Window:
    """Windows that grow by ``step`` from a fixed start up to ``max_size`` (Flink's CUMULATE):
    for a day with hourly steps, ``[00:00, 01:00)``, ``[00:00, 02:00)``, ... ``[00:00, 24:00)``.

    Examples
    --------
    >>> import riverbed as rb, datetime as dt
    >>> t0 = dt.datetime(2026, 1, 1)
    >>> s = rb.from_pydict({"ts": [t0, t0 + dt.timedelta(seconds=70)]}, event_time="ts")
    >>> out = s.window(rb.cumulate("1m", "3m")).agg(rb.count().alias("n")).collect()
    >>> sorted(((r["window_end"] - t0).seconds // 60, r["n"]) for r in out.to_pylist())
    [(1, 1), (2, 2), (3, 2)]
    """
    return _common({"kind": "cumulate", "step": duration(step, "step"), "size": duration(max_size, "max_size")},
                   offset, time, on)
