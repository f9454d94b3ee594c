"""Running jobs: live results, metrics, stop and cancel."""

from __future__ import annotations

import collections
import threading
import time
import warnings
from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa

from . import _lib
from .errors import LateRowsWarning, RiverbedError
from .window import Duration, duration

_END = object()


def _seconds(d: Duration | float | None) -> float | None:
    if d is None:
        return None
    if isinstance(d, (int, float)) and not isinstance(d, bool):
        return float(d)
    s = duration(d)
    units = [("ms", 1e-3), ("us", 1e-6), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86400.0)]
    for suffix, mul in units:
        if s.endswith(suffix) and s[: -len(suffix)].replace(".", "", 1).isdigit():
            return float(s[: -len(suffix)]) * mul
    raise ValueError(f"cannot read {d!r} as a duration; use e.g. '5s' or a number of seconds")


class Job:
    """A running pipeline, from :meth:`Stream.start`. It runs in the engine's threads; this
    object reads its results in a background thread, so a notebook stays responsive.

    Errors of the job surface on the next call (``results``, ``wait``, ``metrics``...) with
    the cause.
    """

    def __init__(self, handle: _lib.JobHandle, buffer: int = 64):
        self._h = handle
        # Batches read from the engine and not yet taken. The reader thread waits while
        # `buffer` are pending (so an unread job backpressures the engine), except after
        # stop(), when it keeps reading so the job can end; after cancel() it discards.
        self._buffer = buffer
        self._pending: collections.deque[Any] = collections.deque()
        self._cond = threading.Condition()
        self._unbounded = False
        self._discard = False
        self._error: BaseException | _Reported | None = None
        self._done = threading.Event()
        self._started = time.time()
        self._schema: pa.Schema | None = None
        reader = handle.reader()
        self._schema = reader.schema
        self._thread = threading.Thread(target=self._pump, args=(reader,), name=f"riverbed-job-{handle.id}",
                                        daemon=True)
        self._thread.start()

    def _put(self, item: Any) -> None:
        with self._cond:
            while len(self._pending) >= self._buffer and not (self._unbounded or self._discard):
                self._cond.wait()
            if not self._discard or item is _END:
                self._pending.append(item)
            self._cond.notify_all()

    def _get(self, timeout: float | None) -> Any:
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._pending) > 0, timeout):
                raise TimeoutError
            item = self._pending[0]
            if item is not _END:  # the end mark stays, so later calls end at once too
                self._pending.popleft()
            self._cond.notify_all()
            return item

    def _pump(self, reader: pa.RecordBatchReader) -> None:
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    break
                self._put(batch)
        except Exception as e:  # noqa: BLE001 - surfaced on the next call
            err = self._h.error()
            self._error = err if err is not None else e
            if err is not None and err.__cause__ is None:
                err.__cause__ = e
        finally:
            reader.close()
            self._done.set()
            self._put(_END)

    def _raise(self) -> None:
        if self._error is not None and not isinstance(self._error, _Reported):
            err = self._error
            self._error = _Reported(err)
            raise err

    @property
    def schema(self) -> pa.Schema:
        """The schema of the result batches."""
        assert self._schema is not None
        return self._schema

    @property
    def status(self) -> Literal["running", "finished", "failed", "cancelled"]:
        """``running``, ``finished``, ``failed`` or ``cancelled``."""
        if not self._done.is_set():
            return "running"
        err = self._error.err if isinstance(self._error, _Reported) else self._error
        if err is None:
            return "finished"
        from .errors import CancelledError

        return "cancelled" if isinstance(err, CancelledError) else "failed"

    def results(self, timeout: Duration | float | None = None, *, max_batches: int | None = None
                ) -> Iterator[pa.RecordBatch]:
        """Yield result batches as they are produced.

        Iteration ends when the job ends, after ``timeout`` (total time, e.g. ``"5s"``) has
        passed, or after ``max_batches`` batches; the job keeps running in the last two cases.
        """
        limit = _seconds(timeout)
        deadline = None if limit is None else time.monotonic() + limit
        n = 0
        while max_batches is None or n < max_batches:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                item = self._get(wait)
            except TimeoutError:
                return
            if item is _END:
                self._raise()
                return
            n += 1
            yield item

    def collect(self, timeout: Duration | float | None = None) -> pa.Table:
        """Gather the results produced until the job ends (or ``timeout``) into a Table.
        Warns (:class:`LateRowsWarning`) if the ended job dropped late rows."""
        table = pa.Table.from_batches(list(self.results(timeout)), schema=self.schema)
        if self._done.is_set() and self._error is None:
            from .stream import late_rows_message

            msg = late_rows_message(self._h.metrics()["operators"])
            if msg is not None:
                warnings.warn(msg, LateRowsWarning, stacklevel=2)
        return table

    def metrics(self, as_dict: bool = False) -> pa.Table | list[dict[str, Any]]:
        """Per-operator metrics: records and batches in and out, current watermark, late
        records, windows fired, and backpressure (seconds blocked on a full queue). A
        pyarrow Table (one row per operator), or a list of dicts with ``as_dict=True``."""
        self._raise()
        ops = self._h.metrics()["operators"]
        rows = []
        for o in ops:
            wm = o.pop("watermark")
            o["watermark"] = None if wm <= -(2**63) or wm >= 2**63 - 1 else pa.scalar(wm, pa.timestamp("us")).as_py()
            o["backpressure_s"] = o.pop("backpressure_ns") / 1e9
            rows.append(o)
        if as_dict:
            return rows
        return pa.Table.from_pylist(rows, schema=_METRICS_SCHEMA)

    def stop(self, *, drain: bool = False, timeout: Duration | float | None = None) -> None:
        """Stop the sources and let the job end cleanly. With ``drain=True`` every pending
        window fires (as at the end of a bounded input); otherwise pending windows are
        dropped, as Flink's stop without ``--drain``. Waits up to ``timeout`` (default: no
        limit) for the job to end; results produced until then remain readable."""
        with self._cond:
            self._unbounded = True  # keep reading, so the engine can finish
            self._cond.notify_all()
        self._h.stop(drain)
        self._done.wait(_seconds(timeout))

    def cancel(self) -> None:
        """Cancel the job at once; unread results are discarded."""
        with self._cond:
            self._discard = True
            self._pending.clear()
            self._cond.notify_all()
        self._h.cancel()
        self._done.wait()
        from .errors import CancelledError

        if isinstance(self._error, CancelledError):
            self._error = _Reported(self._error)

    def wait(self, timeout: Duration | float | None = None) -> bool:
        """Block until the job ends (True) or ``timeout`` passes (False). Raises the job's
        error. Results not read yet are kept in memory (read them with :meth:`results`)."""
        with self._cond:
            self._unbounded = True  # keep reading results, or an unread job could never end
            self._cond.notify_all()
        ended = self._done.wait(_seconds(timeout))
        if ended:
            self._raise()
        return ended

    def __del__(self) -> None:
        try:
            if not self._done.is_set():
                self._h.cancel()
            self._h.free()
        except Exception:
            pass

    def __repr__(self) -> str:
        return f"<riverbed.Job {self._h.id} {self.status}>"

    def _repr_html_(self) -> str:
        from ._display import job_html

        try:
            m = self.metrics(as_dict=True)
        except RiverbedError as e:
            m = []
            note = str(e)
        else:
            note = ""
        return job_html(self._h.id, self.status, time.time() - self._started, m, note)  # type: ignore[arg-type]


class _Reported:
    """An error already raised once (kept for status)."""

    def __init__(self, err: BaseException):
        self.err = err


_METRICS_SCHEMA = pa.schema([
    ("stage", pa.int64()), ("index", pa.int64()), ("operator", pa.string()), ("parallelism", pa.int64()),
    ("records_in", pa.int64()), ("batches_in", pa.int64()), ("records_out", pa.int64()),
    ("batches_out", pa.int64()), ("late_records", pa.int64()), ("windows_fired", pa.int64()),
    ("watermark", pa.timestamp("us")), ("backpressure_s", pa.float64()),
])
