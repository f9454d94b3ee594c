"""Running jobs: live results, metrics, stop and cancel."""

from __future__ import annotations

import collections
import os
import threading
import time
import warnings
import weakref
from collections.abc import Iterator
from typing import Any, Literal

import pyarrow as pa

from . import _lib
from .errors import LateRowsWarning, PlanError, RiverbedError
from .window import Duration, duration

_END = object()

#: Default of ``Environment(buffer_bytes=...)``: bytes of batches a job may hold in its queues.
DEFAULT_BUFFER_BYTES = 64 << 20


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
    raise PlanError(f"cannot read {d!r} as a duration; use e.g. '5s' or a number of seconds")


def _nbytes(item: Any) -> int:
    """Bytes of a result item: a batch, or an (output, batch) pair."""
    return int(item[1].nbytes if isinstance(item, tuple) else item.nbytes)


class _Results:
    """Reads a job's result stream in a background thread, so that the thread that waits for
    results stays interruptible (Ctrl-C) and can time out.

    Batches read and not yet taken are kept while they hold less than ``limit`` bytes (at
    least one batch is kept), so an unread job backpressures the engine; with ``keep_all``
    (after ``stop()`` or ``wait()``, or for ``collect()``) the thread reads on regardless, so
    the job can end; after :meth:`cancel` it discards. The thread refers to this object
    only, never to the :class:`Job`, so a Job dropped while it runs can be collected (and
    is then cancelled).
    """

    def __init__(self, handle: _lib.JobHandle, limit: int | None, outputs: int = 0):
        self.h = handle
        # outputs > 0: a job with several outputs, whose items are (output, batch) pairs.
        self.outputs = outputs
        self.limit = limit
        self.pending: collections.deque[Any] = collections.deque()
        self.pending_bytes = 0
        self.cond = threading.Condition()
        self.keep_all = limit is None
        self.discard = False
        self.abandoned = False
        self.error: BaseException | _Reported | None = None
        self.done = threading.Event()
        self.ended_at: float | None = None  # wall-clock time the result stream ended
        self._reader: pa.RecordBatchReader | None = None if outputs else handle.reader()
        self.schema: pa.Schema | None = self._reader.schema if self._reader is not None else None
        self.thread = threading.Thread(target=self._pump, name=f"riverbed-job-{handle.id}", daemon=True)
        self.thread.start()

    def _full(self) -> bool:
        if self.keep_all or self.discard or not self.pending:
            return False
        return self.limit is not None and self.pending_bytes >= self.limit

    def _put(self, item: Any) -> None:
        with self.cond:
            while self._full():
                self.cond.wait()
            if not self.discard or item is _END:
                self.pending.append(item)
                if item is not _END:
                    self.pending_bytes += _nbytes(item)
            self.cond.notify_all()

    def get(self, timeout: float | None, *, cancel_on_interrupt: bool = True) -> Any:
        """The next batch, or ``_END``; raises TimeoutError after ``timeout`` seconds. The
        wait is interruptible: a KeyboardInterrupt propagates, and cancels the job unless
        ``cancel_on_interrupt`` is false."""
        try:
            with self.cond:
                if not self.cond.wait_for(lambda: len(self.pending) > 0, timeout):
                    raise TimeoutError
                item = self.pending[0]
                if item is not _END:  # the end mark stays, so later calls end at once too
                    self.pending.popleft()
                    self.pending_bytes -= _nbytes(item)
                self.cond.notify_all()
                return item
        except KeyboardInterrupt:
            if cancel_on_interrupt:
                self.cancel()
            raise

    def _pump(self) -> None:
        # The reader is referenced from this frame only, and dropped before the end is
        # signalled: pyarrow releases the GIL to free it, which a daemon thread must not do
        # once the interpreter may be shutting down (the thread would be killed inside C++).
        reader, self._reader = self._reader, None
        batch: Any = None
        try:
            while True:
                if reader is None:  # several outputs: (output, batch) pairs
                    batch = self.h.next_output()
                    if batch is None:
                        break
                else:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                self._put(batch)
        except Exception as e:  # noqa: BLE001 - surfaced on the next call
            err = None if self.abandoned else self.h.error()
            self.error = err if err is not None else e
            if err is not None and err.__cause__ is None:
                err.__cause__ = e
        finally:
            if reader is not None:
                reader.close()
            del reader, batch
            self.ended_at = time.time()
            self.done.set()
            self._put(_END)
            if self.abandoned:
                self.free()

    def read_all(self) -> list[pa.RecordBatch]:
        self.keep_all = True
        out: list[pa.RecordBatch] = []
        while True:
            item = self.get(None)
            if item is _END:
                self.raise_error()
                return out
            out.append(item)

    def raise_error(self) -> None:
        if self.error is not None and not isinstance(self.error, _Reported):
            err = self.error
            self.error = _Reported(err)
            raise err

    def cancel(self) -> None:
        """Cancel the job and drop unread results; does not wait for the job to end."""
        with self.cond:
            self.discard = True
            self.pending = collections.deque(x for x in self.pending if x is _END)
            self.pending_bytes = 0
            self.cond.notify_all()
        if not _lib.forked():
            try:
                self.h.cancel()
            except RiverbedError:
                pass

    def keep_reading(self) -> None:
        with self.cond:
            self.keep_all = True
            self.cond.notify_all()

    def reading_while(self, fn: Any) -> Any:
        """Call fn while reading results beyond the limit: a checkpoint's barrier travels
        behind the batches queued before it, so it cannot reach the end of a job whose
        unread results hold it back. At most what the job's queues held is read ahead."""
        with self.cond:
            was = self.keep_all
            self.keep_all = True
            self.cond.notify_all()
        try:
            return fn()
        finally:
            with self.cond:
                self.keep_all = was
                self.cond.notify_all()

    def free(self) -> None:
        if not _lib.forked():
            try:
                self.h.free()
            except RiverbedError:
                pass

    def abandon(self) -> None:
        """The owner is gone: cancel the job; the reading thread frees it when it ends."""
        if _lib.forked():
            return
        self.abandoned = True
        self.cancel()
        if self.done.is_set():
            self.free()


def _in_udf() -> bool:
    from .udf import in_user_function

    return in_user_function()


class Job:
    """A running pipeline, from :meth:`Stream.start`. It runs in the engine's threads; this
    object reads its results in a background thread, so a notebook stays responsive.

    Errors of the job surface on the next call (``results``, ``wait``, ``metrics``...) with
    the cause. Results not read yet are held up to a quarter of the environment's
    ``buffer_bytes`` (the engine's own queues hold the rest), after which the job waits
    for them to be read. A Job that is dropped (garbage-collected) while it runs is
    cancelled.

    In Jupyter, a cell that ends with a job shows its live view (see :meth:`view`).
    """

    def __init__(self, handle: _lib.JobHandle, buffer_bytes: int | None = None, outputs: int = 0):
        limit = max(1, (buffer_bytes or DEFAULT_BUFFER_BYTES) // 4)
        self._r = _Results(handle, limit, outputs)
        self._h = handle
        self._started = time.time()
        self._views: list[Any] = []
        self._finalizer = weakref.finalize(self, self._r.abandon)

    def _check(self) -> None:
        _lib.check_fork()

    def _raise(self) -> None:
        self._r.raise_error()

    @property
    def schema(self) -> pa.Schema:
        """The schema of the result batches.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1]}).with_columns(y=rb.col("x") * 0.5).start().schema
        x: int64
        y: double
        """
        if self._r.schema is None:
            raise RiverbedError("a job with several outputs has a schema per output: see MultiJob.schemas")
        return self._r.schema

    @property
    def status(self) -> Literal["running", "finished", "failed", "cancelled"]:
        """``running``, ``finished``, ``failed`` or ``cancelled``.

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.from_pydict({"x": [1]}).start()
        >>> job.wait()
        True
        >>> job.status
        'finished'
        """
        self._check()
        if not self._r.done.is_set():
            return "running"
        err = self._r.error.err if isinstance(self._r.error, _Reported) else self._r.error
        if err is None:
            return "finished"
        from .errors import CancelledError

        return "cancelled" if isinstance(err, CancelledError) else "failed"

    def results(self, timeout: Duration | float | None = None, *, max_batches: int | None = None
                ) -> Iterator[pa.RecordBatch]:
        """Yield result batches as they are produced.

        Iteration ends when the job ends, after ``timeout`` (total time, e.g. ``"5s"``,
        counted from the call, also while batches are ready) has passed, or after
        ``max_batches`` batches; the job keeps running in the last two cases. Ctrl-C
        (KeyboardInterrupt) interrupts the wait at once; the job keeps running (cancel it
        with :meth:`cancel`). Each batch is given once: a later call (or :meth:`collect`)
        goes on from where this one stopped, and once the end was read gives nothing.

        The batches are plain ``pyarrow.RecordBatch``es; in a notebook ``display(batch)``
        renders one as an HTML table (:meth:`show_results` keeps the latest rows in one
        table refreshed in place).

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.from_pydict({"x": [1, 2, 3]}).start()
        >>> sum(b.num_rows for b in job.results(timeout="60s"))
        3
        """
        self._check()
        limit = _seconds(timeout)
        deadline = None if limit is None else time.monotonic() + limit
        n = 0
        while max_batches is None or n < max_batches:
            wait = None
            if deadline is not None:
                wait = deadline - time.monotonic()
                if wait <= 0:
                    return
            try:
                item = self._r.get(wait, cancel_on_interrupt=False)
            except TimeoutError:
                return
            if item is _END:
                self._finish_views()
                self._raise()
                return
            n += 1
            yield item

    def show_results(self, rows: int = 20, *, timeout: Duration | float | None = None,
                     max_batches: int | None = None) -> pa.Table:
        """Read results as :meth:`results` does (until the job ends, ``timeout`` passes or
        ``max_batches`` were read) and show the latest ``rows`` rows as one table refreshed
        in place in a notebook, its final state left in the output. Returns those latest
        rows. The results it reads are not returned by a later :meth:`results`. Interrupting
        the cell ends the reading (the job keeps running).

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.from_pydict({"x": [1, 2, 3]}).start()
        >>> job.show_results(2)["x"].to_pylist()
        [2, 3]
        """
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
            raise PlanError(f"rows must be a positive integer, got {rows!r}")
        from ._display import ResultsTail

        tail = ResultsTail(rows, self.schema)
        try:
            for batch in self.results(timeout, max_batches=max_batches):
                tail.add(batch)
        finally:
            tail.render(final=True)
        return tail.table()

    def collect(self, timeout: Duration | float | None = None) -> pa.Table:
        """Gather the results produced until the job ends (or ``timeout``) into a Table.
        Warns (:class:`LateRowsWarning`) if the ended job dropped late rows.

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.from_pydict({"x": [1, 2]}).start()
        >>> job.collect()["x"].to_pylist()
        [1, 2]
        """
        table = pa.Table.from_batches(list(self.results(timeout)), schema=self.schema)
        if self._r.done.is_set() and self._r.error is None:
            from .stream import late_rows_message

            msg = late_rows_message(self._h.metrics()["operators"])
            if msg is not None:
                warnings.warn(msg, LateRowsWarning, stacklevel=2)
        return table

    def metrics(self, as_dict: bool = False) -> pa.Table | list[dict[str, Any]]:
        """Per-operator metrics: the operator's ``id`` (under which :meth:`checkpoints` gives
        its ``state_bytes``; null for a source's reading step), records and batches in and
        out, current watermark, late records, windows fired, and backpressure (seconds
        blocked on a full queue). A pyarrow Table (one row per operator), or a list of dicts
        with ``as_dict=True``.

        With ``state_backend="pebble"``, operators that hold rows report ``spilled_bytes``
        (written to their spill stores), ``spill_read_bytes`` (read back) and
        ``spill_resident_bytes`` (rows held in memory now) and ``spill_index_bytes`` (a
        join's or dedup's index of its rows: keys, rows by key), which together stay within
        ``state_memory_limit`` per subtask (less its spill store's buffers) unless the index
        alone outgrows it; these are 0 for a job that does not spill.

        A Kafka read's row also has ``lag`` (records behind the high watermarks, summed
        over its partitions), ``records_per_second`` and ``bytes_per_second`` (fetched,
        summed over its partitions), ``dead_letters``, ``lost_records`` (offsets gone
        before they were read, with ``on_data_loss="skip"``), ``partitions`` (per
        partition: ``topic``, ``partition``, the ``subtask`` reading it, ``last_offset``
        read, ``next_offset``, ``high_watermark`` (from the latest fetch, or listed when
        metrics are read), ``lag``, ``records`` and ``bytes`` (of keys and values) fetched,
        ``records_per_second`` and ``bytes_per_second`` (those fetched in the last 10
        seconds over that time, or since the partition began to be read if that is less:
        0 when nothing came for 10 s), ``dead_letters``, ``lost_records``; unknown values
        are null) and,
        with ``group_id``,
        ``group_commits`` (offset commits to the consumer group); other rows have nulls.

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.from_pydict({"x": [1, 2, 3]}).filter(rb.col("x") > 1).start()
        >>> job.wait()
        True
        >>> {m["operator"]: (m["records_in"], m["records_out"]) for m in job.metrics(as_dict=True)}["filter"]
        (3, 2)
        """
        self._check()
        self._raise()
        rows = self._metrics_rows()
        if as_dict:
            return rows
        return pa.Table.from_pylist(rows, schema=_METRICS_SCHEMA)

    def _metrics_rows(self) -> list[dict[str, Any]]:
        """The engine's metrics as dicts (watermark as a datetime or None, backpressure in
        seconds), without raising the job's own error."""
        return self._metrics_doc()[0]

    def _metrics_doc(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The operators' metrics (as :meth:`_metrics_rows`) and the checkpoint counters
        (as :meth:`checkpoint_metrics`), read at one moment."""
        doc = self._h.metrics()
        rows = []
        for o in doc["operators"]:
            wm = o.pop("watermark")
            o["watermark"] = None if wm <= -(2**63) or wm >= 2**63 - 1 else pa.scalar(wm, pa.timestamp("us")).as_py()
            o["backpressure_s"] = o.pop("backpressure_ns") / 1e9
            o.setdefault("id", None)
            src = o.pop("source", None) or {}
            parts = src.get("partitions")
            if parts is not None:  # a Kafka read: -1 means not known yet
                for pm in parts:
                    for k in ("last_offset", "high_watermark", "lag"):
                        if pm[k] < 0:
                            pm[k] = None
            o["lag"] = src.get("lag")
            o["records_per_second"] = src.get("records_per_second")
            o["bytes_per_second"] = src.get("bytes_per_second")
            o["dead_letters"] = src.get("dead_letters")
            o["lost_records"] = src.get("lost_records")
            o["partitions"] = parts
            o["group_commits"] = src.get("group_commits")
            rows.append(o)
        return rows, dict(doc.get("checkpoints") or {})

    def stop(self, *, drain: bool = False, savepoint: str | os.PathLike[str] | None = None,
             timeout: Duration | float | None = None) -> dict[str, Any] | None:
        """Stop the sources and let the job end cleanly. With ``drain=True`` every pending
        window fires (as at the end of a bounded input); otherwise pending windows do not
        fire. Waits up to ``timeout`` (default: no limit) for the job to end; results
        produced until then remain readable. Called from the job's own ``map_batches``
        function, it does not wait (the job can only end after the function returns).

        With ``checkpoint_dir`` set, the job ends with a checkpoint that covers everything
        its sinks got, and the exactly-once sinks commit all of it: with ``drain=True`` a
        final checkpoint after the drain (Flink's stop-with-savepoint ``--drain``; a
        restore reads on from where the sources stopped, with every window fired); without,
        a checkpoint whose barrier the sources stop right after, pending windows in its
        state, so that ``start(restore="latest")`` resumes exactly there (Flink's
        stop-with-savepoint). Without ``checkpoint_dir``, stopping without drain drops
        pending windows. See docs/fault-tolerance.md.

        With ``savepoint=path`` (stop-with-savepoint, as Flink's ``stop --savepointPath``):
        a savepoint is written into ``path`` (which must not exist or be empty), the sources
        stop right after its barrier, and the job ends without firing pending windows, its
        sinks committing what came before the savepoint. Restart with
        ``start(restore=path)``, at any parallelism. Returns the savepoint's record (see
        :meth:`checkpoints`). If the savepoint fails, the job goes on running and the
        error is raised.

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.datagen({"id": rb.Int64}, rows_per_second=1000).start()  # unbounded
        >>> job.stop(timeout="60s")
        >>> job.status
        'finished'
        """
        self._check()
        if savepoint is not None:
            if drain:
                raise PlanError("stop(savepoint=...) cannot drain: the savepoint keeps pending windows in its state")
            self._r.keep_reading()
            rec = self._h.savepoint(os.fspath(savepoint), True)
            if not _in_udf() and self._r.done.wait(_seconds(timeout)):
                self._finish_views()
                self._raise()
            return rec
        self._r.keep_reading()  # keep reading, so the engine can finish
        self._h.stop(drain)
        if not _in_udf():
            if self._r.done.wait(_seconds(timeout)):
                self._finish_views()
        return None

    def checkpoint(self) -> dict[str, Any]:
        """Take a checkpoint now (the environment must set ``checkpoint_dir``) and wait for
        it; returns its record (see :meth:`checkpoints`).

        Examples
        --------
        >>> import riverbed as rb, tempfile
        >>> env = rb.Environment(checkpoint_dir=tempfile.mkdtemp())
        >>> job = env.datagen({"id": rb.Int64}, rows_per_second=1000).start()
        >>> job.checkpoint()["kind"]
        'checkpoint'
        >>> job.cancel()
        """
        self._check()
        self._raise()
        return dict(self._r.reading_while(self._h.checkpoint))

    def savepoint(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        """Write a savepoint of the running job into directory ``path`` (which must not exist
        or be empty) and wait for it: a self-contained, portable checkpoint (source positions
        and operator state by key group) that ``start(restore=path)`` resumes from, at any
        parallelism. The job goes on running. Returns its record (see :meth:`checkpoints`).

        Examples
        --------
        >>> import riverbed as rb, tempfile, os
        >>> job = rb.datagen({"id": rb.Int64}, rows_per_second=1000).start()
        >>> record = job.savepoint(os.path.join(tempfile.mkdtemp(), "sp"))
        >>> record["kind"], os.path.exists(os.path.join(record["path"], "_metadata"))
        ('savepoint', True)
        >>> job.cancel()
        """
        self._check()
        self._raise()
        p = os.fspath(path)
        return dict(self._r.reading_while(lambda: self._h.savepoint(p, False)))

    def checkpoints(self, as_dict: bool = False) -> pa.Table | list[dict[str, Any]]:
        """The checkpoints and savepoints this job has completed, oldest first: ``id``,
        ``kind`` ("checkpoint" or "savepoint"), ``path``, ``time``, ``duration_s``,
        ``size_bytes`` and ``state_bytes`` (bytes of state per operator id). A pyarrow Table,
        or a list of dicts with ``as_dict=True``.

        Examples
        --------
        >>> import riverbed as rb, tempfile
        >>> env = rb.Environment(checkpoint_dir=tempfile.mkdtemp())
        >>> job = env.datagen({"id": rb.Int64}, rows_per_second=1000).start()
        >>> first, second = job.checkpoint(), job.checkpoint()
        >>> job.checkpoints()["id"].to_pylist() == [first["id"], second["id"]]
        True
        >>> job.cancel()
        """
        self._check()
        rows = []
        for c in self._h.checkpoints():
            rows.append({"id": c["id"], "kind": c["kind"], "path": c["path"],
                         "time": pa.scalar(c["time_unix_ms"], pa.timestamp("ms", tz="UTC")).as_py(),
                         "duration_s": c["duration_ms"] / 1e3, "size_bytes": c["size_bytes"],
                         "state_bytes": sorted((c.get("state_bytes") or {}).items())})
        if as_dict:
            return rows
        return pa.Table.from_pylist(rows, schema=_CHECKPOINTS_SCHEMA)

    def checkpoint_metrics(self) -> dict[str, Any]:
        """The job's checkpoint counters: ``completed``, ``failed``, ``in_progress``,
        ``last_id``, ``last_duration_ms``, ``last_size_bytes`` and ``last_failure`` (the
        message of the latest failed checkpoint).

        Examples
        --------
        >>> import riverbed as rb, tempfile
        >>> env = rb.Environment(checkpoint_dir=tempfile.mkdtemp())
        >>> job = env.datagen({"id": rb.Int64}, rows_per_second=1000).start()
        >>> _ = job.checkpoint()
        >>> m = job.checkpoint_metrics()
        >>> m["completed"], m["failed"]
        (1, 0)
        >>> job.cancel()
        """
        self._check()
        return dict(self._h.metrics().get("checkpoints", {}))

    def cancel(self) -> None:
        """Cancel the job at once; unread results are discarded. Waits for the job to end,
        except when called from the job's own ``map_batches`` function (the job ends once
        the function returns).

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.datagen({"id": rb.Int64}, rows_per_second=1000).start()
        >>> job.cancel()
        >>> job.status
        'cancelled'
        """
        self._check()
        self._r.cancel()
        if _in_udf():
            return
        self._r.done.wait()
        from .errors import CancelledError

        if isinstance(self._r.error, CancelledError):
            self._r.error = _Reported(self._r.error)
        self._finish_views()

    def wait(self, timeout: Duration | float | None = None) -> bool:
        """Block until the job ends (True) or ``timeout`` passes (False). Raises the job's
        error. Results not read yet are kept in memory (read them with :meth:`results`).

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.from_pydict({"x": [1, 2]}).start()
        >>> job.wait(timeout="60s")
        True
        >>> job.collect().num_rows  # results read after the end are kept
        2
        """
        self._check()
        if _in_udf() and timeout is None:
            raise RiverbedError("wait() without a timeout cannot be called from a map_batches function: "
                                "the job cannot end while the function runs")
        self._r.keep_reading()  # keep reading results, or an unread job could never end
        ended = self._r.done.wait(_seconds(timeout))
        if ended:
            self._finish_views()
            self._raise()
        return ended

    def _finish_views(self) -> None:
        """Leave each live view's final state (static HTML), from the calling thread: in a
        notebook, the cell that stopped or waited for the job is running, so the update lands
        in the saved output even though the view's own thread has not noticed the end yet."""
        if _in_udf():
            return
        for v in self._views:
            v.finish()

    def view(self, *, interval: Duration | float = 0.5, buttons: bool | None = None) -> Any:
        """Show a live view of the job in Jupyter: per operator rows/s, rows in and out,
        watermark and its lag behind the wall clock, backpressure, late rows and windows
        fired, with a sparkline of the sources' throughput. It refreshes every ``interval``
        from a background thread (the kernel stays free) and is left as static HTML when the
        job ends, so a saved notebook shows the final state. With ipywidgets installed (and
        ``buttons`` not False) Stop and Cancel buttons sit under it while the job runs.

        Displaying a Job (a cell ending with ``job``) does the same. Outside a notebook,
        ``job._repr_html_()`` gives one snapshot.

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.from_pydict({"x": [1, 2, 3]}).start()
        >>> job.collect().num_rows
        3
        >>> "riverbed job" in job._repr_html_()
        True
        """
        from ._display import JobView, _ipython

        if _ipython() is None:
            raise RiverbedError("job.view() shows a live view in Jupyter (IPython); outside a notebook read "
                                "job.metrics() or job._repr_html_()")
        v = JobView(self, interval=_seconds(interval) or 0.5, buttons=buttons)
        self._views.append(v)
        return v.start()

    def _ipython_display_(self) -> None:
        self.view()

    def __repr__(self) -> str:
        status: str
        try:
            status = self.status
        except RiverbedError:
            status = "unusable (forked process)"
        return f"<riverbed.Job {self._h.id} {status}>"

    def _repr_html_(self) -> str:
        from ._display import job_html

        counters: dict[str, Any] = {}
        last = None
        try:
            m, counters = self._metrics_doc()
            cps = self._h.checkpoints() if counters.get("completed") else []
            last = cps[-1] if cps else None
        except RiverbedError as e:
            m = []
            note = str(e)
        else:
            note = ""
        if isinstance(self._r.error, BaseException) and not note:
            note = str(self._r.error)
        return job_html(self._h.id, self.status, self._elapsed(), m, note, checkpoints=counters,
                        last_checkpoint=last)

    def _elapsed(self) -> float:
        """Seconds the job has run: until its end once it has ended."""
        end = self._r.ended_at if self._r.done.is_set() and self._r.ended_at is not None else time.time()
        return max(0.0, end - self._started)


class MultiJob(Job):
    """A job with several outputs, from :func:`riverbed.start_all`: the rows and the dead
    letters of one unbounded Kafka read, a result and its late rows, several lazy sinks.
    The outputs are computed in one run (a source they share is read once).

    :meth:`results` yields ``(output, batch)`` pairs, ``output`` being the index of the
    stream in the list given to ``start_all``; :meth:`collect` returns one table per
    output. Everything else (metrics, checkpoints, savepoints, stop, cancel) is as for
    :class:`Job`.

    Examples
    --------
    >>> import riverbed as rb
    >>> from riverbed import col
    >>> s = rb.from_pydict({"x": [1, 2, 3, 4]})
    >>> job = rb.start_all([s.filter(col("x") <= 2), s.filter(col("x") > 2)])
    >>> sorted((i, b.num_rows) for i, b in job.results(timeout="60s"))
    [(0, 2), (1, 2)]
    """

    def __init__(self, handle: _lib.JobHandle, outputs: int, schemas: list[pa.Schema],
                 buffer_bytes: int | None = None):
        super().__init__(handle, buffer_bytes, outputs)
        self._schemas = schemas

    @property
    def schemas(self) -> list[pa.Schema]:
        """The schema of each output, in order.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2]})
        >>> job = rb.start_all([s, s.select((rb.col("x") / 2).alias("half"))])
        >>> [str(schema) for schema in job.schemas]
        ['x: int64', 'half: double']
        >>> job.wait()
        True
        """
        return list(self._schemas)

    def results(self, timeout: Duration | float | None = None, *,  # type: ignore[override]
                max_batches: int | None = None) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Yield ``(output, batch)`` pairs as batches are produced, in the order the engine
        produces them (the outputs interleave). Ends as :meth:`Job.results` does: when the
        job ends, after ``timeout`` (total), or after ``max_batches`` batches.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2]})
        >>> job = rb.start_all([s, s.select((rb.col("x") * 10).alias("y"))])
        >>> sorted((i, b.column(0).to_pylist()) for i, b in job.results(timeout="60s"))
        [(0, [1, 2]), (1, [10, 20])]
        """
        yield from super().results(timeout, max_batches=max_batches)  # type: ignore[misc]

    def collect(self, timeout: Duration | float | None = None) -> list[pa.Table]:  # type: ignore[override]
        """Gather the results produced until the job ends (or ``timeout``): one Table per
        output, in order.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2, 3]})
        >>> [t.num_rows for t in rb.start_all([s, s.limit(1)]).collect()]
        [3, 1]
        """
        out: list[list[pa.RecordBatch]] = [[] for _ in self._schemas]
        for i, b in self.results(timeout):
            out[i].append(b)
        return [pa.Table.from_batches(bs, schema=bs[0].schema if bs else sch)
                for bs, sch in zip(out, self._schemas)]

    def show_results(self, rows: int = 20, *, timeout: Duration | float | None = None,
                     max_batches: int | None = None) -> pa.Table:
        """Not for several outputs: raises; read :meth:`results` (pairs of output and
        batch) or :meth:`collect`, or show one output with ``stream.start().show_results()``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2, 3]})
        >>> job = rb.start_all([s, s.limit(1)])
        >>> job.show_results()
        Traceback (most recent call last):
        ...
        riverbed.errors.RiverbedError: show_results() shows one output; a MultiJob's results() yields (output, ...
        >>> [t.num_rows for t in job.collect()]
        [3, 1]
        """
        raise RiverbedError("show_results() shows one output; a MultiJob's results() yields (output, batch) pairs")


class _Reported:
    """An error already raised once (kept for status)."""

    def __init__(self, err: BaseException):
        self.err = err


_CHECKPOINTS_SCHEMA = pa.schema([
    ("id", pa.int64()), ("kind", pa.string()), ("path", pa.string()), ("time", pa.timestamp("ms", tz="UTC")),
    ("duration_s", pa.float64()), ("size_bytes", pa.int64()),
    ("state_bytes", pa.map_(pa.string(), pa.int64())),
])

_METRICS_SCHEMA = pa.schema([
    ("stage", pa.int64()), ("index", pa.int64()), ("operator", pa.string()), ("id", pa.string()),
    ("parallelism", pa.int64()),
    ("records_in", pa.int64()), ("batches_in", pa.int64()), ("records_out", pa.int64()),
    ("batches_out", pa.int64()), ("late_records", pa.int64()), ("windows_fired", pa.int64()),
    ("watermark", pa.timestamp("us")), ("backpressure_s", pa.float64()),
    ("spilled_bytes", pa.int64()), ("spill_read_bytes", pa.int64()), ("spill_resident_bytes", pa.int64()),
    ("spill_index_bytes", pa.int64()),
    ("lag", pa.int64()), ("records_per_second", pa.float64()), ("bytes_per_second", pa.float64()),
    ("dead_letters", pa.int64()), ("lost_records", pa.int64()),
    ("partitions", pa.list_(pa.struct([
        ("topic", pa.string()), ("partition", pa.int32()), ("subtask", pa.int64()),
        ("last_offset", pa.int64()), ("next_offset", pa.int64()), ("high_watermark", pa.int64()),
        ("lag", pa.int64()), ("records", pa.int64()), ("bytes", pa.int64()),
        ("records_per_second", pa.float64()), ("bytes_per_second", pa.float64()), ("dead_letters", pa.int64()),
        ("lost_records", pa.int64())]))),
    ("group_commits", pa.struct([("committed", pa.int64()), ("failed", pa.int64()),
                                 ("last_checkpoint", pa.int64()), ("last_error", pa.string())])),
])
