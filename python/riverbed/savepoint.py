"""Reading the state of a savepoint or checkpoint as Arrow tables (as Flink's State
Processor API reads a savepoint): for checking what a job holds, debugging, or
bootstrapping an analysis from a live job's state. See docs/fault-tolerance.md."""

from __future__ import annotations

import datetime as _dt
import html
import os
from typing import Any

import pyarrow as pa

from . import _lib
from .errors import PlanError


class Savepoint:
    """A savepoint or checkpoint directory opened for reading (see :func:`read_savepoint`).

    Attributes: ``path``, ``kind`` ("savepoint" or "checkpoint"), ``id``, ``created`` (a UTC
    datetime), ``max_parallelism`` (the number of key groups) and ``operators`` (the ids of
    the operators with state, as in ``Stream.uid`` and the checkpoint records).
    """

    def __init__(self, path: str, info: dict[str, Any]):
        self.path = path
        self.kind: str = info["kind"]
        self.id: int = info["id"]
        self.created = _dt.datetime.fromtimestamp(info["created_unix_ms"] / 1e3, tz=_dt.timezone.utc)
        self.max_parallelism: int = info["max_parallelism"]
        self._tables: list[dict[str, Any]] = info["tables"]
        self.operators: list[str] = sorted({t["operator"] for t in self._tables})

    def tables(self) -> pa.Table:
        """The state tables, one row per (operator, table): ``operator``, ``table``, ``kind``
        ("value", "list", "map", or "timers") and ``files`` (how many key-group files hold it).

        >>> import riverbed as rb, tempfile, os
        >>> sp = os.path.join(tempfile.mkdtemp(), "sp")
        >>> job = (rb.nexmark(10_000).bids().key_by("auction")
        ...          .window(rb.tumbling("10s")).agg(rb.count().alias("n")).start())
        >>> _ = list(job.results(timeout=0.5))
        >>> _ = job.stop(savepoint=sp)
        >>> rb.read_savepoint(sp).tables().column("operator").to_pylist()
        ['window_agg-0']
        """
        return pa.table({
            "operator": [t["operator"] for t in self._tables],
            "table": [t["table"] for t in self._tables],
            "kind": [t["kind"] for t in self._tables],
            "files": pa.array([len(t["files"]) for t in self._tables], pa.int64()),
        })

    def state(self, operator: str, table: str | None = None) -> pa.Table:
        """Every entry of one state table of ``operator`` as a pyarrow Table, over all key
        groups. ``table`` may be left out when the operator has one table (besides its
        timers, ``"_timers"``, and a group_by's groups spilled to disk under
        ``state_backend="pebble"``, ``"groups.spilled.v1"``: partial states, a group
        possibly in several rows, merged with ``"groups.v1"`` on restore).

        Operators' rows come back in their own typed columns after a ``key_group`` column
        (a window's key columns, ``window_start``/``window_end`` in microseconds, ``fired``
        and its accumulators; a join's buffered rows; a process function's declared state);
        an accumulator that is not one plain value (a sum with its count, a set of distinct
        values, a sketch) is its encoded state, a binary column ``acc:<name>``. Timers
        (table ``"_timers"``) give ``domain`` (0 event time, 1 processing time),
        ``key_group``, ``key``, ``namespace`` and ``timestamp``.

        >>> import riverbed as rb, tempfile, os
        >>> sp = os.path.join(tempfile.mkdtemp(), "sp")
        >>> job = (rb.nexmark(10_000).bids().key_by("auction")
        ...          .window(rb.tumbling("10s")).agg(rb.count().alias("n")).start())
        >>> _ = list(job.results(timeout=0.5))
        >>> _ = job.stop(savepoint=sp)
        >>> panes = rb.read_savepoint(sp).state("window_agg-0")
        >>> {"key_group", "auction", "window_start", "window_end", "fired"} <= set(panes.column_names)
        True
        """
        names = [t["table"] for t in self._tables if t["operator"] == operator]
        if not names:
            raise KeyError(f"{self.path} has no state of operator {operator!r}; operators with state: "
                           f"{', '.join(self.operators) or 'none'}")
        if table is None:
            # Timers and what an operator spilled to disk (a group_by's groups.spilled.v1)
            # are named explicitly.
            user = [n for n in names if n != "_timers" and ".spilled." not in n]
            if len(user) != 1:
                raise PlanError(f"operator {operator!r} has the state tables {', '.join(names)}; "
                                 "name one with table=")
            table = user[0]
        elif table not in names:
            raise KeyError(f"operator {operator!r} has no state table {table!r}; its tables: {', '.join(names)}")
        return _lib.snapshot_read(self.path, operator, table).read_all()

    def __repr__(self) -> str:
        lines = [f"{self.kind} {self.path} (id {self.id}, {self.created:%Y-%m-%d %H:%M:%S} UTC, "
                 f"{self.max_parallelism} key groups)"]
        lines += [f"  {t['operator']}: {t['table']} ({t['kind']})" for t in self._tables]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{html.escape(t['operator'])}</td><td>{html.escape(t['table'])}</td>"
                       f"<td>{html.escape(t['kind'])}</td><td>{len(t['files'])}</td></tr>" for t in self._tables)
        return (f"<div><b>{html.escape(self.kind)}</b> <code>{html.escape(self.path)}</code> "
                f"(id {self.id}, {self.created:%Y-%m-%d %H:%M:%S} UTC, {self.max_parallelism} key groups)"
                f"<table><tr><th>operator</th><th>table</th><th>kind</th><th>files</th></tr>{rows}</table></div>")


def read_savepoint(path: str | os.PathLike[str]) -> Savepoint:
    """Open a savepoint (``job.savepoint(path)``, ``job.stop(savepoint=path)``) or a
    checkpoint of the memory backend (``<checkpoint_dir>/chk-N``) to read its state as
    Arrow tables. The files are verified against the manifest first; a damaged or
    incomplete directory raises DataError or InputNotFoundError naming the file.
    Checkpoints of the Pebble backend are in Pebble's own format: take a savepoint.

    >>> import riverbed as rb, tempfile, os
    >>> sp = os.path.join(tempfile.mkdtemp(), "sp")
    >>> job = (rb.nexmark(10_000).bids().key_by("auction")
    ...          .window(rb.tumbling("10s")).agg(rb.count().alias("n")).start())
    >>> _ = list(job.results(timeout=0.5))
    >>> _ = job.stop(savepoint=sp)
    >>> s = rb.read_savepoint(sp)
    >>> s.kind, s.operators
    ('savepoint', ['window_agg-0'])
    """
    p = os.fspath(path)
    return Savepoint(p, _lib.snapshot_describe(p))
