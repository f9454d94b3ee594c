"""Streams: lazily built pipelines, run by the engine when collected."""

from __future__ import annotations

import atexit
import os
import threading
import time
import warnings
import weakref
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import pyarrow as pa

from . import _lib
from . import process as _process
from ._display import Plan, plan_html, progress_bar
from .errors import ColumnNotFoundError, DataError, LateRowsWarning, PlanError, RiverbedError, TypeMismatchError
from .expr import Expr, _ddof, _output_name, _to_expr, col, count, lit

if TYPE_CHECKING:  # pragma: no cover
    import pandas
    import polars

    from .generators import Nexmark
    from .job import Job, MultiJob
    from .kafka import DeliveryGuarantee, KafkaStream
    from .window import Duration, Window

#: What ``from_arrow`` reads: pyarrow tables, batches and readers, polars and pandas
#: frames, and any object with ``__arrow_c_stream__`` or ``__arrow_c_array__``.
ArrowLike = Any
WriteMode = Literal["error", "append", "overwrite"]
RuntimeMode = Literal["automatic", "batch", "streaming"]
StateBackend = Literal["memory", "pebble"]
AsofStrategy = Literal["backward", "forward", "nearest"]
WindowJoinHow = Literal["inner", "left", "right", "full", "semi", "anti"]
JoinStrategy = Literal["auto", "hash", "broadcast"]


def _restore_options(restore: str | os.PathLike[str] | None, allow_non_restored_state: bool,
                     allow_plan_change: bool) -> dict[str, Any]:
    """The plan options of a run's ``restore=`` arguments (see docs/fault-tolerance.md)."""
    opts: dict[str, Any] = {}
    if restore is not None:
        if not isinstance(restore, (str, os.PathLike)):
            raise TypeMismatchError(f"restore takes 'latest' or a path, got {type(restore).__name__}")
        opts["restore"] = os.fspath(restore)
    if allow_non_restored_state:
        opts["allow_non_restored_state"] = True
    if allow_plan_change:
        opts["allow_plan_change"] = True
    return opts


class _Source:
    """An in-memory input: a pyarrow Table (re-readable) or a one-shot stream."""

    def __init__(self, data: pa.Table | pa.RecordBatchReader):
        self.data = data
        self.used = False

    @property
    def schema(self) -> pa.Schema:
        return self.data.schema

    def reader(self, index: int, errors: list[BaseException]) -> pa.RecordBatchReader:
        if isinstance(self.data, pa.Table):
            _validate_columns(self.data.schema.names, self.data.columns, f"from_arrow input {index}")
            return self.data.to_reader()
        if self.used:
            raise RiverbedError(
                "this stream reads a one-shot Arrow stream (RecordBatchReader) that an earlier "
                "run already consumed; pass a pyarrow Table (or call .collect() once) to read it again"
            )
        self.used = True
        return _checked_reader(self.data, index, errors)


def _validate_columns(names: Sequence[str], columns: Sequence[Any], where: str) -> None:
    """Check that each column's buffers are as large as its type and length need (pyarrow's
    validate: a cheap check of sizes, not of every value). The C Data Interface carries no
    buffer sizes, so only the producer can check them; the engine checks the values."""
    for name, c in zip(names, columns):
        try:
            c.validate()
        except pa.ArrowException as e:
            raise DataError(f"{where}: column {name!r} is malformed: {e}") from None


def _batch_problem(batch: pa.RecordBatch, schema: pa.Schema, where: str) -> str | None:
    """What is wrong with a batch of a stream of the given schema, or None."""
    if batch.num_columns != len(schema):
        return f"{where}: the batch has {batch.num_columns} columns, but the stream's schema declares {len(schema)}"
    for f, got in zip(schema, batch.schema):
        if not got.type.equals(f.type):
            return f"{where}: column {f.name!r} holds {got.type} data, but the stream's schema declares {f.type}"
    try:
        _validate_columns(schema.names, batch.columns, where)
    except DataError as e:
        return str(e)
    return None


class _InterpreterExit(BaseException):
    """Raised in a thread of the engine that is reading a live input when the interpreter
    exits (not an Exception: the caller's stream should not catch it)."""


class _LiveRead:
    """A live input as the engine reads it: the thread inside its read (None between
    reads), whether the exit interrupted it, and whether the engine has released it."""

    def __init__(self) -> None:
        self.thread: int | None = None
        self.interrupted = False  # _InterpreterExit was sent to (or raised in) its reader
        self.released = False


# The live inputs handed to the engine and not yet released: at interpreter exit their
# reads are ended first, as a thread of the engine still in Python code once the
# interpreter is finalizing aborts the process.
_live: set[_LiveRead] = set()
_live_lock = threading.Lock()
_exiting = False


def _end_reads_at_exit(wait: float = 1.0, release_wait: float = 0.2) -> None:
    """At interpreter exit, end the reads of live inputs (a cancelled job's generator
    waiting for data, or a job left running): a read running now is interrupted with
    _InterpreterExit (once, sent under the lock its reader clears its thread under, so it
    reaches no other code), and a later one raises it at once. The exit waits up to
    ``wait`` seconds for the interrupted reads to return, then up to ``release_wait`` for
    the engine to release their inputs (a cancelled job's may never be). A read blocked in C
    code (a lock waited on without a timeout) cannot be interrupted; it stays blocked, as
    the interpreter's own threads do, and ends with the process."""
    import ctypes

    global _exiting
    with _live_lock:
        _exiting = True
        for r in _live:
            if r.thread is not None:
                r.interrupted = True
                ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(r.thread),
                                                           ctypes.py_object(_InterpreterExit))
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with _live_lock:
            if not any(r.thread is not None for r in _live):
                break
        time.sleep(0.01)
    deadline = time.monotonic() + release_wait
    while time.monotonic() < deadline:
        with _live_lock:
            if not any(r.interrupted for r in _live):
                return
        time.sleep(0.01)


atexit.register(_end_reads_at_exit)


def _checked_reader(reader: pa.RecordBatchReader, index: int, errors: list[BaseException]) -> pa.RecordBatchReader:
    """A live stream whose batches are checked against its schema before the engine reads
    them: a batch whose columns do not have the declared types (or whose buffers are too
    small for them) ends the stream with a DataError that names the batch and column, also
    kept in ``errors`` (the job's error then has it as its cause)."""
    schema = reader.schema
    live = _LiveRead()

    def batches() -> Iterable[pa.RecordBatch]:
        i = 0
        try:
            while True:
                try:
                    with _live_lock:
                        if _exiting:
                            live.interrupted = True
                            raise _InterpreterExit
                        live.thread = threading.get_ident()
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                except _InterpreterExit:
                    raise
                except Exception as e:  # the caller's stream (a generator) raised: kept as the cause
                    errors.append(e)
                    raise DataError(f"from_arrow input {index}, after batch {i}: the stream raised "
                                    f"{type(e).__name__}: {e}") from e
                finally:
                    with _live_lock:
                        live.thread = None
                problem = _batch_problem(batch, schema, f"from_arrow input {index}, batch {i}")
                if problem is not None:
                    del batch
                    errors.append(DataError(problem))
                    raise DataError(problem)
                i += 1
                yield batch
        finally:
            reader.close()  # the caller's stream is done with, here and now

    def released() -> None:
        with _live_lock:
            live.released = True
            _live.discard(live)

    gen = batches()
    with _live_lock:
        _live.add(live)
    fin = weakref.finalize(gen, released)  # the engine released the stream (and with it gen)
    fin.atexit = False  # not called at exit: _end_reads_at_exit waits for it
    return pa.RecordBatchReader.from_batches(schema, gen)


def _event_time(node: dict[str, Any], event_time: str | None, max_out_of_orderness: Any,
                idle_timeout: Any) -> dict[str, Any]:
    """Add a source's event-time settings to its plan node."""
    from .window import duration

    if event_time is not None:
        if not isinstance(event_time, str):
            raise TypeMismatchError(f"event_time must be a column name, got {event_time!r}")
        node["event_time"] = event_time
    if max_out_of_orderness is not None:
        node["max_out_of_orderness"] = duration(max_out_of_orderness, "max_out_of_orderness")
    if idle_timeout is not None:
        node["idle_timeout"] = duration(idle_timeout, "idle_timeout")
    return node


class Environment:
    """Where pipelines run: parallelism, batch size and runtime mode for every stream made
    from it.

    Parameters
    ----------
    parallelism
        Parallel subtasks per operator; ``None`` means the number of cores.
    batch_size
        Most rows a source puts in one batch (default 65536).
    buffer_bytes
        Most bytes of batches a job holds in its queues: between its operators and in
        results not read yet (default 64 MiB). A queue always takes one batch, however
        large; beyond the bound the job waits for its results to be read.
    runtime_mode
        As Flink's ``execution.runtime-mode``. ``"batch"``: event-time operators (windows,
        joins, dedup, top-N) see all of a bounded input before they decide, so no row is
        late and results do not depend on batch size, file split or parallelism.
        ``"streaming"``: bounded input is replayed as a stream, with watermarks and
        lateness, as a live job would compute it. ``"automatic"`` (default): batch when
        every source is bounded (Parquet files, in-memory tables, generators with a row
        count), else streaming. ``collect()``, ``start()``, ``to_reader()`` and
        ``write_parquet()`` take ``runtime_mode=`` to override it for one run.
    max_parallelism
        The number of key groups keyed state is split into (default 128): the most
        parallel subtasks a keyed operator can have, fixed for the life of a job and its
        checkpoints.
    checkpoint_dir
        Turns on exactly-once checkpoints: every ``checkpoint_interval`` the job writes a
        consistent snapshot (source positions and operator state) into this directory,
        keeping the last ``checkpoints_retained`` (default 3). A job started with
        ``restore="latest"`` resumes from the newest one. See docs/fault-tolerance.md.
    checkpoint_interval
        Time between checkpoints ("10s" default, "1m", or seconds).
    checkpoint_timeout
        How long a checkpoint or savepoint may take before it is aborted ("10m" default,
        as Flink's ``execution.checkpointing.timeout``): its files are removed, it counts
        as failed in ``job.checkpoint_metrics()``, and the job goes on; the next periodic
        one starts at its time.
    state_backend
        Where operators' keyed state goes at a checkpoint: ``"memory"`` (default) or
        ``"pebble"`` (an embedded LSM store on disk; its checkpoints share unchanged files).
        With ``"pebble"``, the rows operators hold (join sides, dedup, top-N, sorts, process
        functions' elements) beyond ``state_memory_limit`` are spilled to disk: state
        larger than memory. Aggregations' and windows' accumulators stay in memory.
    state_memory_limit
        With ``"pebble"``: the memory cap, in bytes, of the state each stateful operator
        subtask holds in memory: its rows, a join's or dedup's index of them (keys, rows
        by key) and its spill store's buffers (and of each Pebble store; default 64 MiB).

    Examples
    --------
    >>> import riverbed as rb
    >>> env = rb.Environment(parallelism=2)
    >>> env.from_pydict({"x": [1, 2, 3]}).filter(rb.col("x") > 1).collect().num_rows
    2
    """

    def __init__(self, parallelism: int | None = None, *, batch_size: int | None = None,
                 buffer_bytes: int | None = None, runtime_mode: RuntimeMode = "automatic",
                 max_parallelism: int | None = None,
                 checkpoint_dir: str | os.PathLike[str] | None = None,
                 checkpoint_interval: Duration | None = None,
                 checkpoint_timeout: Duration | None = None,
                 checkpoints_retained: int | None = None,
                 state_backend: StateBackend = "memory", state_memory_limit: int | None = None):
        if parallelism is not None and (not isinstance(parallelism, int) or parallelism < 1):
            raise PlanError(f"parallelism must be a positive integer or None, got {parallelism!r}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise PlanError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        if buffer_bytes is not None and (not isinstance(buffer_bytes, int) or isinstance(buffer_bytes, bool)
                                         or buffer_bytes < 1):
            raise PlanError(f"buffer_bytes must be a positive integer or None, got {buffer_bytes!r}")
        _check_mode(runtime_mode)
        for name, v in (("max_parallelism", max_parallelism), ("checkpoints_retained", checkpoints_retained),
                        ("state_memory_limit", state_memory_limit)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise PlanError(f"{name} must be a positive integer or None, got {v!r}")
        if state_backend not in ("memory", "pebble"):
            raise PlanError(f"state_backend must be 'memory' or 'pebble', got {state_backend!r}")
        for name, d in (("checkpoint_interval", checkpoint_interval), ("checkpoint_timeout", checkpoint_timeout)):
            if d is not None and checkpoint_dir is None:
                raise PlanError(f"{name} needs checkpoint_dir (where checkpoints are written)")
        self.max_parallelism = max_parallelism
        self.checkpoint_dir = os.fspath(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_interval = checkpoint_interval
        self.checkpoint_timeout = checkpoint_timeout
        self.checkpoints_retained = checkpoints_retained
        self.state_backend = state_backend
        self.state_memory_limit = state_memory_limit
        self.parallelism = parallelism
        self.batch_size = batch_size
        self.buffer_bytes = buffer_bytes
        self.runtime_mode = runtime_mode

    @property
    def _buffer_bytes(self) -> int:
        from .job import DEFAULT_BUFFER_BYTES

        return self.buffer_bytes or DEFAULT_BUFFER_BYTES

    def _options(self, runtime_mode: RuntimeMode | None = None) -> dict[str, Any]:
        opts: dict[str, Any] = {}
        if self.parallelism:
            opts["parallelism"] = self.parallelism
        if self.batch_size:
            opts["batch_size"] = self.batch_size
        # The engine's queues get three quarters of the budget; a Job reads ahead the rest.
        opts["buffer_bytes"] = max(1, self._buffer_bytes - self._buffer_bytes // 4)
        mode = runtime_mode if runtime_mode is not None else self.runtime_mode
        if mode != "automatic":
            opts["runtime_mode"] = mode  # the engine validates it
        if self.max_parallelism:
            opts["max_parallelism"] = self.max_parallelism
        if self.checkpoint_dir is not None:
            opts["checkpoint_dir"] = self.checkpoint_dir
            from .window import duration

            if self.checkpoint_interval is not None:
                opts["checkpoint_interval"] = duration(self.checkpoint_interval, "checkpoint_interval")
            if self.checkpoint_timeout is not None:
                opts["checkpoint_timeout"] = duration(self.checkpoint_timeout, "checkpoint_timeout")
        if self.checkpoints_retained:
            opts["checkpoints_retained"] = self.checkpoints_retained
        if self.state_backend != "memory":
            opts["state_backend"] = self.state_backend
        if self.state_memory_limit:
            opts["state_memory_limit"] = self.state_memory_limit
        return opts

    def read_parquet(self, path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                     columns: Sequence[str] | None = None, event_time: str | None = None,
                     max_out_of_orderness: Any = None, idle_timeout: Any = None) -> Stream:
        """Read Parquet files: a file, a glob (``"data/*.parquet"``) or a directory (every
        ``*.parquet`` below it), or a list of those. Files are read in parallel, split by row
        group; only the columns the pipeline uses are decoded, and row groups whose
        statistics rule out a filter are skipped. Every codec, encoding and data page
        version is read; Arrow types recorded by the writer (``ARROW:schema``) are restored
        as pyarrow does; decimals are read as ``decimal128``/``decimal256``. Nested columns
        (struct, list, map) cannot be read yet, but do not stop the other columns of a file
        from being read: leave them out with ``columns=`` or a ``select``.

        ``event_time`` names the column that carries event time (for windows); watermarks
        trail the largest event time seen by ``max_out_of_orderness`` (e.g. ``"5s"``).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa, pyarrow.parquet as pq, tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> pq.write_table(pa.table({"x": [1, 2, 3]}), os.path.join(d, "a.parquet"))
        >>> rb.read_parquet(d).filter(rb.col("x") >= 2).collect()["x"].to_pylist()
        [2, 3]
        """
        if isinstance(path, (list, tuple)):
            paths = [os.fspath(p) for p in path]
        else:
            paths = [os.fspath(path)]  # type: ignore[arg-type]
        if not paths:
            raise PlanError("read_parquet needs at least one path")
        node: dict[str, Any] = {"op": "scan_parquet", "paths": paths}
        if columns is not None:
            if isinstance(columns, str):
                raise TypeMismatchError("columns must be a list of names, not a string")
            if not list(columns):
                raise PlanError("read_parquet: columns= must name at least one column (a stream has columns; "
                                 "to count rows, read one and use rb.count())")
            node["columns"] = list(columns)
        return Stream(self, _event_time(node, event_time, max_out_of_orderness, idle_timeout), [])

    def read_csv(self, path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                 schema: Any = None, columns: Sequence[str] | None = None, has_header: bool = True,
                 separator: str = ",", null_values: str | Sequence[str] | None = None,
                 comment_prefix: str | None = None, infer_schema_length: int | None = 100,
                 event_time: str | None = None, max_out_of_orderness: Duration | None = None,
                 idle_timeout: Duration | None = None) -> Stream:
        """Read CSV files: a file, a glob (``"data/*.csv"``) or a directory (every ``*.csv``,
        ``*.tsv`` and ``*.txt`` below it, gzipped ``*.gz`` too), or a list of those. Files are
        read in parallel, one file per task, and decoded in the engine (RFC 4180 quoting:
        a quoted field's line breaks kept as they are; ``\\n`` or ``\\r\\n`` line ends; a
        UTF-8 byte order mark skipped).

        ``schema`` (a ``pyarrow.Schema`` or a dict of column name to type) gives the
        columns; without it they are inferred from the first ``infer_schema_length`` rows
        (``None``: every row), as pyarrow and DuckDB do: integers are ``Int64``, other
        numbers ``Float64``, ``true``/``false`` ``Boolean``, ``YYYY-MM-DD`` ``Date``,
        timestamps ``Timestamp("us")`` (``Timestamp("us", "UTC")`` when each has a zone
        offset), anything else (and a column null in every sampled row) ``String``. A
        ``Boolean`` column given by the schema also reads ``1`` and ``0`` (as pyarrow). With
        ``has_header`` (default) the first line of each file names its columns, which are
        matched by name (files may order them differently; a file lacking one is a
        ``SchemaError`` naming it); without, columns are ``column_1``, ``column_2``, ... or
        the schema's names in order. An empty field is null in every column (as Polars and
        DuckDB read it), as is any text in ``null_values``; a quoted empty field too. Empty
        lines are skipped, except in a file of one column, where an empty line is its null.
        ``comment_prefix`` starts lines to skip; ``separator`` is one character.

        A malformed line raises :class:`DataError` naming the file, line, character and
        column (``file "a.csv" line 7, character 3: column "amount": "x" is not a int64``).
        ``event_time`` and ``max_out_of_orderness`` are as for :meth:`read_parquet`; each file
        is a watermark lane. A checkpoint stores the row reached in each file.

        Examples
        --------
        >>> import riverbed as rb, tempfile, os
        >>> d = tempfile.mkdtemp()
        >>> with open(os.path.join(d, "a.csv"), "w") as f:
        ...     _ = f.write("x,name\\n1,ann\\n2,\\n")
        >>> rb.read_csv(d).collect().to_pylist()
        [{'x': 1, 'name': 'ann'}, {'x': 2, 'name': None}]
        """
        from .textfiles import read_node

        node = read_node("scan_csv", path, schema, columns, infer_schema_length,
                         {"has_header": has_header, "separator": separator, "null_values": null_values,
                          "comment_prefix": comment_prefix})
        return Stream(self, _event_time(node, event_time, max_out_of_orderness, idle_timeout), [])

    def read_ndjson(self, path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                    schema: Any = None, columns: Sequence[str] | None = None,
                    infer_schema_length: int | None = 100, event_time: str | None = None,
                    max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None) -> Stream:
        """Read newline-delimited JSON files (one object per line; blank lines skipped): a
        file, a glob or a directory (every ``*.ndjson``, ``*.jsonl`` and ``*.json`` below it,
        gzipped ``*.gz`` too), or a list of those, in parallel, one file per task.

        ``schema`` (a ``pyarrow.Schema`` or a dict of column name to type, structs and lists
        included) gives the columns, which are looked up by name in each object (fields it
        lacks, and JSON nulls, are null; other fields are ignored); timestamps are read from
        RFC 3339 text or integers in the column's unit, dates from ``YYYY-MM-DD``. Without a
        schema it is inferred from the first ``infer_schema_length`` objects (``None``: all)
        as :func:`read_kafka` infers JSON: integers ``Int64``, other numbers ``Float64``,
        strings ``String``, objects structs, arrays lists, fields in the order the objects
        give them.

        A malformed line raises :class:`DataError` naming the file, line and field
        (``file "a.ndjson" line 3: field "user.id": expected int64, got JSON string "x"``).
        ``event_time`` and ``max_out_of_orderness`` are as for :meth:`read_parquet`.

        Examples
        --------
        >>> import riverbed as rb, tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "a.ndjson")
        >>> with open(p, "w") as f:
        ...     _ = f.write('{"x": 1, "u": {"id": 7}}\\n{"x": 2}\\n')
        >>> rb.read_ndjson(p).select(rb.col("x"), rb.col("u")).collect().to_pylist()
        [{'x': 1, 'u': {'id': 7}}, {'x': 2, 'u': None}]
        """
        from .textfiles import read_node

        node = read_node("scan_ndjson", path, schema, columns, infer_schema_length)
        return Stream(self, _event_time(node, event_time, max_out_of_orderness, idle_timeout), [])

    def from_arrow(self, data: ArrowLike, *, event_time: str | None = None,
                   max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None,
                   bounded: bool | None = None) -> Stream:
        """Use Arrow data: a pyarrow Table, RecordBatch or RecordBatchReader, a polars
        DataFrame or LazyFrame (collected first), a pandas DataFrame, or anything with
        ``__arrow_c_stream__`` / ``__arrow_c_array__`` (DuckDB relations, nanoarrow, ...);
        anything else raises a TypeError naming its type. Buffers
        are handed to the engine without copying, after a check: a batch whose columns do not
        have the declared types, or whose buffers or offsets are malformed, raises
        :class:`DataError` naming the batch and the column. A ``RecordBatchReader`` may be a
        live stream (a generator); ``cancel()`` and ``stop()`` of its job do not wait for it.
        When the interpreter exits, a read of it still running (a generator waiting for
        data) is interrupted with an exception that is not an ``Exception`` (its ``finally``
        blocks run), and the exit waits up to a second for it.

        ``bounded`` says whether the input ends. By default a table is bounded and a
        ``RecordBatchReader`` may be live, which decides the ``"automatic"`` runtime mode
        (see :class:`Environment`): it streams, but operators that need the whole input
        (``group_by``, ``sort``) still give their answer when the reader ends. Pass
        ``bounded=True`` for a reader over finite data (e.g. a file) to run it in batch
        mode, and ``bounded=False`` for a live reader that never ends: the stream is then
        unbounded, as a generator or Kafka topic (``group_by`` emits an updating result,
        ``collect()`` is refused: use ``start()``).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> s = rb.from_arrow(pa.table({"x": [1, 2]}))
        >>> s.with_columns((rb.col("x") * 10).alias("y")).collect()["y"].to_pylist()
        [10, 20]
        """
        return _arrow_stream(self, _as_arrow(data), event_time, max_out_of_orderness, idle_timeout, bounded)

    def from_pandas(self, df: pandas.DataFrame, *, event_time: str | None = None,
                    max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None) -> Stream:
        """Use a pandas DataFrame (converted to Arrow; the index is dropped). Takes the
        event-time options of :meth:`from_arrow`.

        Examples
        --------
        >>> import riverbed as rb, pandas as pd
        >>> rb.Environment().from_pandas(pd.DataFrame({"x": [1, 2]})).collect().num_rows
        2
        """
        table = pa.Table.from_pandas(df, preserve_index=False)
        if table.num_columns == 0 and len(df):  # rows without columns: pyarrow's conversion drops them
            table = pa.table({"_": pa.nulls(len(df))}).drop_columns(["_"])
        return _arrow_stream(self, table, event_time,
                             max_out_of_orderness, idle_timeout)

    def from_pydict(self, data: dict[str, Sequence[Any]], *, event_time: str | None = None,
                    max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None) -> Stream:
        """Use a dict of column name to values. Takes the event-time options of :meth:`from_arrow`.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.Environment().from_pydict({"x": [1, 2]}).collect()["x"].to_pylist()
        [1, 2]
        """
        return _arrow_stream(self, pa.table(data), event_time, max_out_of_orderness, idle_timeout)

    def read_kafka(self, brokers: str | Sequence[str], topic: str | Sequence[str] | None = None, *,
                   pattern: str | None = None, format: str = "json", schema: Any = None,
                   start: Any = "earliest", end: Any = None, metadata: Any = None,
                   event_time: str | None = None, max_out_of_orderness: Duration | None = None,
                   idle_timeout: Duration | None = None, on_bad_record: str = "fail",
                   options: dict[str, Any] | None = None, csv_delimiter: str | None = None,
                   sample_size: int | None = None, group_id: str | None = None,
                   schema_registry: str | None = None, on_data_loss: str = "fail",
                   writer_schema: Any = None, upsert: bool = False,
                   key: str | Sequence[str] | None = None) -> KafkaStream:
        """Read Kafka topics: see :func:`riverbed.read_kafka`.

        Examples
        --------
        >>> import riverbed as rb
        >>> env = rb.Environment(parallelism=2)
        >>> s = env.read_kafka("localhost:9092", "clicks", schema={"user": rb.Int64, "url": rb.Utf8})
        >>> s.columns
        ['user', 'url']
        """
        from .kafka import read_kafka

        return read_kafka(brokers, topic, pattern=pattern, format=format, schema=schema,  # type: ignore[arg-type]
                          start=start, end=end, metadata=metadata, event_time=event_time,
                          max_out_of_orderness=max_out_of_orderness, idle_timeout=idle_timeout,
                          on_bad_record=on_bad_record, options=options,  # type: ignore[arg-type]
                          csv_delimiter=csv_delimiter, sample_size=sample_size, group_id=group_id,
                          schema_registry=schema_registry, env=self, writer_schema=writer_schema,
                          on_data_loss=on_data_loss, upsert=upsert, key=key)  # type: ignore[arg-type]

    def datagen(self, schema: dict[str, Any], *, rows_per_second: float | None = None,
                number_of_rows: int | None = None, seed: int = 0, fields: dict[str, dict[str, Any]] | None = None,
                event_time: str | None = None, max_out_of_orderness: Any = None) -> Stream:
        """Generated rows (Flink's ``datagen``): see :func:`riverbed.datagen`.

        Examples
        --------
        >>> import riverbed as rb
        >>> env = rb.Environment(parallelism=1)
        >>> s = env.datagen({"id": rb.Int64}, number_of_rows=3, fields={"id": {"kind": "sequence", "min": 10}})
        >>> s.collect()["id"].to_pylist()
        [10, 11, 12]
        """
        from .generators import datagen_node

        node = datagen_node(schema, rows_per_second, number_of_rows, seed, fields, event_time, max_out_of_orderness)
        return Stream(self, node, [], unbounded=number_of_rows is None)

    def sql(self, query: str, **tables: Any) -> Stream:
        """Run a Flink-dialect SQL query: the tables are the keyword arguments (streams, or
        pyarrow/pandas/Polars data) and any ``CREATE TABLE ... WITH ('connector' = ...)``
        before the query. The engine compiles it into the same plan as the Python API, so
        the result is a :class:`Stream`: filter it, join it, write it, or use it as a table of
        another query. Errors give the SQL line and column. See docs/sql.md.

        Examples
        --------
        >>> import riverbed as rb
        >>> env = rb.Environment(parallelism=2)
        >>> orders = env.from_pydict({"user": [1, 2, 1], "amount": [5.0, 3.0, 7.5]})
        >>> t = env.sql("SELECT user, SUM(amount) AS total FROM orders GROUP BY user ORDER BY user",
        ...             orders=orders).collect()
        >>> t.to_pylist()
        [{'user': 1, 'total': 12.5}, {'user': 2, 'total': 3.0}]
        """
        from ._sql import sql

        return sql(self, query, tables)

    def nexmark(self, events_per_second: float | None = None, *, max_events: int | None = None,
                seed: int = 0) -> Nexmark:
        """The Nexmark benchmark's event generator: see :func:`riverbed.nexmark`.

        Examples
        --------
        >>> import riverbed as rb
        >>> events = rb.Environment(parallelism=1).nexmark(max_events=100)
        >>> events.bids().collect().num_rows  # 46 events in 50 are bids
        92
        """
        from .generators import Nexmark

        return Nexmark(self, events_per_second, max_events, seed)


def _check_mode(runtime_mode: Any) -> None:
    if not isinstance(runtime_mode, str):
        raise TypeMismatchError(f"runtime_mode must be 'automatic', 'batch' or 'streaming', got {runtime_mode!r}")


def _arrow_stream(env: Environment, data: pa.Table | pa.RecordBatchReader, event_time: str | None = None,
                  max_out_of_orderness: Any = None, idle_timeout: Any = None, bounded: bool | None = None) -> Stream:
    src = _Source(data)
    # A table is bounded; a RecordBatchReader may be live (automatic mode streams it), and
    # is live (unbounded, as a generator) when the caller says so with bounded=False.
    live = bounded is False
    if bounded is None:
        bounded = isinstance(data, pa.Table)
    node = _event_time({"op": "scan_arrow", "_src": src, "bounded": bool(bounded),
                        "table": isinstance(data, pa.Table)},
                       event_time, max_out_of_orderness, idle_timeout)
    if live:
        node["live"] = True
    if isinstance(data, pa.Table):
        node["rows"] = data.num_rows  # for the planner's estimates (join strategy)
    return Stream(env, node, [src], unbounded=live)


_default_env = Environment()


def read_parquet(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                 columns: Sequence[str] | None = None, event_time: str | None = None,
                 max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None) -> Stream:
    """Read Parquet files with the default environment. See :meth:`Environment.read_parquet`.

    Examples
    --------
    >>> import riverbed as rb, pyarrow as pa, pyarrow.parquet as pq, tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> pq.write_table(pa.table({"x": [1, 2]}), os.path.join(d, "a.parquet"))
    >>> rb.read_parquet(d, columns=["x"]).collect().num_rows
    2
    """
    return _default_env.read_parquet(path, columns=columns, event_time=event_time,
                                     max_out_of_orderness=max_out_of_orderness, idle_timeout=idle_timeout)


def read_parquet_snapshot(path: str | os.PathLike[str], *, columns: Sequence[str] | None = None) -> Stream:
    """Read the latest committed snapshot that :meth:`Stream.write_parquet_snapshot` wrote
    into directory ``path``: the one its ``_latest`` file names (a snapshot committed
    later, while this reads, is not seen; one that ``keep`` removes meanwhile is an error).

    Examples
    --------
    >>> import riverbed as rb, tempfile
    >>> out = tempfile.mkdtemp()
    >>> _ = rb.from_pydict({"k": [1, 1, 2]}).write_parquet_snapshot(out)
    >>> sorted(rb.read_parquet_snapshot(out).collect()["k"].to_pylist())
    [1, 1, 2]
    """
    pointer = os.path.join(os.fspath(path), "_latest")
    try:
        with open(pointer, encoding="utf-8") as f:
            name = f.read().strip()
    except FileNotFoundError:
        raise FileNotFoundError(f"{os.fspath(path)!r} has no committed snapshot (no _latest file): "
                                "write_parquet_snapshot commits one at each completed checkpoint") from None
    if not name.startswith("snapshot-") or os.sep in name or "/" in name:
        raise PlanError(f"{pointer!r} does not name a snapshot: {name!r}")
    return read_parquet(os.path.join(os.fspath(path), name), columns=columns)


def read_csv(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
             schema: Any = None, columns: Sequence[str] | None = None, has_header: bool = True,
             separator: str = ",", null_values: str | Sequence[str] | None = None,
             comment_prefix: str | None = None, infer_schema_length: int | None = 100,
             event_time: str | None = None, max_out_of_orderness: Duration | None = None,
             idle_timeout: Duration | None = None) -> Stream:
    """Read CSV files with the default environment. See :meth:`Environment.read_csv`.

    Examples
    --------
    >>> import riverbed as rb, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.csv")
    >>> with open(p, "w") as f:
    ...     _ = f.write("1;x\\n2;y\\n")
    >>> rb.read_csv(p, has_header=False, separator=";").collect().column_names
    ['column_1', 'column_2']
    """
    return _default_env.read_csv(path, schema=schema, columns=columns, has_header=has_header,
                                 separator=separator, null_values=null_values, comment_prefix=comment_prefix,
                                 infer_schema_length=infer_schema_length, event_time=event_time,
                                 max_out_of_orderness=max_out_of_orderness, idle_timeout=idle_timeout)


def read_ndjson(path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]], *,
                schema: Any = None, columns: Sequence[str] | None = None,
                infer_schema_length: int | None = 100, event_time: str | None = None,
                max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None) -> Stream:
    """Read newline-delimited JSON files with the default environment. See
    :meth:`Environment.read_ndjson`.

    Examples
    --------
    >>> import riverbed as rb, tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "a.jsonl")
    >>> with open(p, "w") as f:
    ...     _ = f.write('{"x": 1}\\n{"x": 2.5}\\n')
    >>> rb.read_ndjson(p).collect()["x"].to_pylist()
    [1.0, 2.5]
    """
    return _default_env.read_ndjson(path, schema=schema, columns=columns, infer_schema_length=infer_schema_length,
                                    event_time=event_time, max_out_of_orderness=max_out_of_orderness,
                                    idle_timeout=idle_timeout)


def from_arrow(data: ArrowLike, *, event_time: str | None = None, max_out_of_orderness: Duration | None = None,
               idle_timeout: Duration | None = None, bounded: bool | None = None) -> Stream:
    """Use Arrow data with the default environment. See :meth:`Environment.from_arrow`.

    Examples
    --------
    >>> import riverbed as rb, pyarrow as pa
    >>> rb.from_arrow(pa.table({"x": [1, 2]})).collect().num_rows
    2
    """
    return _default_env.from_arrow(data, event_time=event_time, max_out_of_orderness=max_out_of_orderness,
                                   idle_timeout=idle_timeout, bounded=bounded)


def sql(query: str, **tables: Any) -> Stream:
    """Run a Flink-dialect SQL query with the default environment. See :meth:`Environment.sql`.

    Examples
    --------
    >>> import riverbed as rb
    >>> bids = rb.from_pydict({"auction": [1, 1, 2], "price": [10, 30, 20]})
    >>> rb.sql("SELECT auction, MAX(price) AS top FROM bids GROUP BY auction ORDER BY auction",
    ...        bids=bids).collect().to_pylist()
    [{'auction': 1, 'top': 30}, {'auction': 2, 'top': 20}]
    """
    return _default_env.sql(query, **tables)


def from_pandas(df: pandas.DataFrame, *, event_time: str | None = None,
                max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None) -> Stream:
    """Use a pandas DataFrame with the default environment. See :meth:`Environment.from_pandas`.

    Examples
    --------
    >>> import riverbed as rb, pandas as pd
    >>> rb.from_pandas(pd.DataFrame({"x": [1, 2]})).collect()["x"].to_pylist()
    [1, 2]
    """
    return _default_env.from_pandas(df, event_time=event_time, max_out_of_orderness=max_out_of_orderness,
                                    idle_timeout=idle_timeout)


def from_pydict(data: dict[str, Sequence[Any]], *, event_time: str | None = None,
                max_out_of_orderness: Duration | None = None, idle_timeout: Duration | None = None) -> Stream:
    """Use a dict of columns with the default environment. See :meth:`Environment.from_pydict`.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.from_pydict({"x": [1, 2]}).collect().num_rows
    2
    """
    return _default_env.from_pydict(data, event_time=event_time, max_out_of_orderness=max_out_of_orderness,
                                    idle_timeout=idle_timeout)


def concat(items: Sequence[Stream], *, how: str = "vertical") -> Stream:
    """The rows of the streams one after the other, as Polars' ``pl.concat``: ``how`` is
    ``"vertical"`` (the same columns and types, :meth:`Stream.union`), ``"vertical_relaxed"``
    (columns of different number types cast to a common one: int64 for integers, float64
    once one is a float) or ``"diagonal"`` (the union of the columns, in order of first
    appearance; a stream without one has nulls there).

    Examples
    --------
    >>> import riverbed as rb
    >>> a, b = rb.from_pydict({"x": [1], "y": ["a"]}), rb.from_pydict({"x": [2]})
    >>> sorted(rb.concat([a, b], how="diagonal").collect().to_pylist(), key=lambda r: r["x"])
    [{'x': 1, 'y': 'a'}, {'x': 2, 'y': None}]
    """
    streams = list(items) if not isinstance(items, Stream) else [items]
    if not streams or not all(isinstance(x, Stream) for x in streams):
        raise TypeMismatchError("concat takes a list of streams")
    if how not in ("vertical", "vertical_relaxed", "diagonal"):
        raise PlanError(f'concat: how must be "vertical", "vertical_relaxed" or "diagonal", got {how!r}')
    if len(streams) == 1:
        return streams[0]
    if how != "vertical":
        schemas = [x.schema for x in streams]
        names: list[str] = []
        types: dict[str, list[pa.DataType]] = {}
        for sc in schemas:
            for f in sc:
                if f.name not in types:
                    names.append(f.name)
                    types[f.name] = []
                types[f.name].append(f.type)
        if how == "vertical_relaxed":
            for i, sc in enumerate(schemas):
                if sc.names != schemas[0].names:
                    raise PlanError(f"concat: stream {i} has columns {sc.names}, stream 0 {schemas[0].names}; "
                                    'how="diagonal" fills the missing ones with nulls')
        want: dict[str, pa.DataType] = {}
        for name in names:
            ts = types[name]
            if all(t == ts[0] for t in ts):
                want[name] = ts[0]
            elif all(pa.types.is_integer(t) or pa.types.is_floating(t) for t in ts):
                want[name] = pa.float64() if any(pa.types.is_floating(t) for t in ts) else pa.int64()
            else:
                raise TypeMismatchError(f"concat: column {name!r} has types {sorted(set(map(str, ts)))} with no "
                                        "common type; cast them first")
        fitted = []
        for x, sc in zip(streams, schemas):
            exprs = []
            for name in names:
                if name not in sc.names:
                    exprs.append(lit(None).cast(want[name]).alias(name))
                elif sc.field(name).type != want[name]:
                    exprs.append(col(name).cast(want[name]).alias(name))
                else:
                    exprs.append(col(name))
            fitted.append(x.select(*exprs))
        streams = fitted
    return streams[0].union(*streams[1:])


def _per_column(schema: pa.Schema, skip: set[str], agg: Any, numeric: bool) -> list[Expr]:
    """agg of each column of schema not in skip (nor an updating stream's op column); with
    numeric, a column that is not a number (or a boolean) gives null instead, as in Polars."""
    exprs = []
    for f in schema:
        if f.name in skip or f.name == "__op":
            continue
        t = f.type
        if numeric and not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
                            or pa.types.is_boolean(t)):
            try:
                exprs.append(lit(None).cast(t).alias(f.name))
            except TypeMismatchError:  # a type no cast reaches (lists, structs): a null column
                exprs.append(lit(None).alias(f.name))
        else:
            exprs.append(agg(col(f.name)).alias(f.name))
    return exprs


def _as_arrow(data: Any) -> pa.Table | pa.RecordBatchReader:
    if isinstance(data, pa.Table):
        return _normalize(data)
    if isinstance(data, pa.RecordBatch):
        return _normalize(pa.Table.from_batches([data]))
    if isinstance(data, pa.RecordBatchReader):
        return data
    cls = type(data)
    mod = cls.__module__ or ""
    if mod.startswith("polars") and cls.__name__ == "LazyFrame":
        data = data.collect()
        cls, mod = type(data), type(data).__module__ or ""
    if mod.startswith("pandas") and cls.__name__ == "DataFrame":
        return pa.Table.from_pandas(data, preserve_index=False)
    name = cls.__name__ if mod == "builtins" else f"{mod}.{cls.__name__}"
    try:
        if hasattr(data, "__arrow_c_stream__"):
            return _normalize(pa.table(data))
        if hasattr(data, "__arrow_c_array__"):
            return _normalize(pa.Table.from_batches([pa.record_batch(data)]))
    except (TypeError, ValueError, pa.ArrowException) as e:
        bad = _unreadable_column(data)
        if bad is not None:
            raise TypeMismatchError(f"cannot read {name}: its column {bad[0]!r} ({bad[1]}) has a type Arrow "
                                    f"cannot carry ({e}); cast it or leave it out") from e
        raise TypeMismatchError(f"cannot read {name} as a table: its Arrow data is not a table of "
                        f"columns ({e}); pass a DataFrame, a pyarrow Table or RecordBatch") from e
    raise TypeMismatchError(
        f"cannot read {name} as Arrow data; pass a pyarrow Table, RecordBatch or "
        "RecordBatchReader, a polars DataFrame or LazyFrame, a pandas DataFrame, or an object with "
        "__arrow_c_stream__ or __arrow_c_array__"
    )


def _unreadable_column(data: Any) -> tuple[str, str] | None:
    """The first column (name, type) of a data frame (Polars) that pyarrow cannot import
    alone, or None."""
    columns, select = getattr(data, "columns", None), getattr(data, "select", None)
    if not isinstance(columns, list) or not callable(select):
        return None
    schema = getattr(data, "schema", {})
    for c in columns:
        try:
            pa.table(select(c))
        except (TypeError, ValueError, pa.ArrowException):
            return str(c), str(schema.get(c, "?")) if hasattr(schema, "get") else "?"
        except Exception:
            return None
    return None


def _normalize(t: pa.Table) -> pa.Table:
    """Cast view types, which the engine does not read yet, to their classic forms."""
    fields = []
    changed = False
    for f in t.schema:
        typ = f.type
        if hasattr(pa.types, "is_string_view") and pa.types.is_string_view(typ):
            typ, changed = pa.large_string(), True
        elif hasattr(pa.types, "is_binary_view") and pa.types.is_binary_view(typ):
            typ, changed = pa.large_binary(), True
        fields.append(f.with_type(typ))
    return t.cast(pa.schema(fields, metadata=t.schema.metadata)) if changed else t


def _as_dict(r: Any, names: list[str] | None) -> dict[str, Any]:
    if isinstance(r, dict):
        if names is not None and (len(r) != len(names) or any(n not in r for n in names)):
            missing = [n for n in names if n not in r]
            extra = [k for k in r if k not in names]
            raise PlanError(f"a row has the keys {list(r)} but the output has the columns {names}"
                            + (f": missing {missing}" if missing else "") + (f", unexpected {extra}" if extra else "")
                            + " (give every column, None for a null)")
        return r
    if isinstance(r, (tuple, list)) and names is not None:
        if len(r) != len(names):
            raise PlanError(f"a row has {len(r)} values for the {len(names)} columns {names}")
        return dict(zip(names, r))
    raise TypeMismatchError(f"rows must be dicts{'' if names is None else ' or tuples'}, got {type(r).__name__}")


def _exprs(items: Iterable[Any], what: str) -> list[dict[str, Any]]:
    out = []
    for e in items:
        if isinstance(e, str):
            e = col(e)
        elif not isinstance(e, Expr):
            raise TypeMismatchError(f"{what} takes column names or expressions, got {type(e).__name__} {e!r}")
        out.append(e._to_plan())
    return out


def _flatten(args: tuple[Any, ...]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        if isinstance(a, (list, tuple)):
            out.extend(a)
        else:
            out.append(a)
    return out


def _flags(v: bool | Sequence[bool], n: int, what: str) -> list[bool]:
    """One flag per key from a bool or a sequence of them."""
    if not isinstance(v, (bool, list, tuple)):
        raise TypeMismatchError(f"{what} takes a bool or one bool per key ({n}), got {v!r}")
    vals = [v] if isinstance(v, bool) else list(v)
    if not all(isinstance(x, bool) for x in vals) or len(vals) not in (1, n):
        raise PlanError(f"{what} takes a bool or one bool per key ({n}), got {v!r}")
    return vals * n if len(vals) == 1 else vals


def _count(n: Any, what: str) -> None:
    """Checks a row count argument (limit, tail, top_k): an integer from 0 to 2**53."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise PlanError(f"{what} takes a non-negative integer, got {n!r}")
    if n >= 2**53:
        raise PlanError(f"{what}: {n} is out of range (below 2**53)")


class Stream:
    """A pipeline: a source and the operators after it. Nothing runs until a result is
    asked for (:meth:`collect`, :meth:`to_pandas`, :meth:`write_parquet`, ...).

    Examples
    --------
    >>> import riverbed as rb
    >>> from riverbed import col
    >>> s = rb.from_pydict({"user": [1, 2, 1], "amount": [5.0, -1.0, 7.5]})
    >>> t = (s.filter(col("amount") > 0)
    ...       .group_by("user")
    ...       .agg(rb.count().alias("n"), col("amount").sum().alias("total"))
    ...       .collect())
    >>> t.to_pylist()
    [{'user': 1, 'n': 2, 'total': 12.5}]
    """

    def __init__(self, env: Environment, node: dict[str, Any], sources: list[_Source], *, unbounded: bool = False):
        self._env = env
        self._node = node
        self._sources = sources
        self._unbounded = unbounded

    def _then(self, node: dict[str, Any], *, unbounded: bool | None = None) -> Stream:
        node["input"] = self._node
        return Stream(self._env, node, self._sources,
                      unbounded=self._unbounded if unbounded is None else unbounded)

    # -- operators --------------------------------------------------------------
    def filter(self, predicate: Expr | Any) -> Stream:
        """Keep the rows where ``predicate`` is true (null counts as false). ``predicate`` is
        an expression, or a Python function of the row (an ``rb.Row``: fields by attribute,
        name or position) returning a bool, which runs per row (a convenience over
        :meth:`map_batches`; expressions run in the engine, much faster).

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> s = rb.from_pydict({"x": [1, 5, 7]})
        >>> s.filter(col("x") > 2).collect()["x"].to_pylist()
        [5, 7]
        >>> s.filter(lambda r: r.x % 5 == 0).collect()["x"].to_pylist()
        [5]
        """
        if callable(predicate) and not isinstance(predicate, Expr):
            fn = predicate

            def keep(b: pa.RecordBatch) -> pa.RecordBatch:
                return b.filter(pa.array([bool(fn(r)) for r in _process._rows(b)], pa.bool_()))

            keep.__name__ = getattr(fn, "__name__", "filter")
            return self.map_batches(keep)
        if not isinstance(predicate, Expr):
            raise TypeMismatchError(f"filter takes an expression such as col('x') > 0, got {type(predicate).__name__}")
        return self._then({"op": "filter", "predicate": predicate._to_plan()})

    def select(self, *exprs: Expr | str | Sequence[Expr | str]) -> Stream:
        """Compute exactly these output columns.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"a": [1, 2], "b": [3, 4]})
        >>> s.select("b", (rb.col("a") * 2).alias("a2")).collect().sort_by("b").to_pylist()
        [{'b': 3, 'a2': 2}, {'b': 4, 'a2': 4}]
        """
        items = _flatten(exprs)
        if not items:
            raise PlanError("select needs at least one column or expression")
        return self._then({"op": "select", "exprs": _exprs(items, "select")})

    def with_columns(self, *exprs: Expr | Sequence[Expr], **named: Expr) -> Stream:
        """Add columns (or replace those of the same name), keeping the others.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"a": [1, 2], "b": [3, 4]})
        >>> s.with_columns(c=rb.col("a") + rb.col("b")).collect().sort_by("a").to_pylist()
        [{'a': 1, 'b': 3, 'c': 4}, {'a': 2, 'b': 4, 'c': 6}]
        """
        items = _flatten(exprs) + [_to_expr(v).alias(k) for k, v in named.items()]
        if not items:
            raise PlanError("with_columns needs at least one expression")
        return self._then({"op": "with_columns", "exprs": _exprs(items, "with_columns")})

    def _need_bounded(self, what: str) -> None:
        if self._unbounded:
            raise PlanError(f"{what} needs a bounded stream (it numbers or summarizes all the rows), and this one is "
                            "unbounded: bound the source (max_events / number_of_rows) or add .limit(n)")

    def _each_column(self, agg: Any, numeric: bool = False) -> Stream:
        """One row: agg of every column (Polars' LazyFrame.sum() and the like)."""
        return self.select(*_per_column(self.schema, set(), agg, numeric))

    def sum(self) -> Stream:
        """One row: the sum of every column, as Polars' ``LazyFrame.sum()`` (null for a
        column that is not numeric). ``sum``, ``mean``, ``median``, ``std``, ``var``, ``min``,
        ``max``, ``count`` and ``null_count`` are :meth:`select` of that aggregation of every
        column; on an unbounded stream the row is an updating one.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"a": [1, 2, None], "s": ["x", "y", "z"]})
        >>> s.sum().collect().to_pylist()
        [{'a': 3, 's': None}]
        >>> s.max().collect().to_pylist()
        [{'a': 2, 's': 'z'}]
        >>> s.null_count().collect().to_pylist()
        [{'a': 1, 's': 0}]
        """
        return self._each_column(lambda c: c.sum(), numeric=True)

    def mean(self) -> Stream:
        """One row: the mean of every column (float64; null for a column that is not numeric).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).mean().collect().to_pylist()
        [{'a': 2.0}]
        """
        return self._each_column(lambda c: c.mean(), numeric=True)

    def median(self) -> Stream:
        """One row: the median of every column (float64; null for a column that is not numeric).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).median().collect().to_pylist()
        [{'a': 2.0}]
        """
        return self._each_column(lambda c: c.median(), numeric=True)

    def std(self, ddof: int = 1) -> Stream:
        """One row: the standard deviation of every column (null for a column that is not numeric).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).std().collect().to_pylist()
        [{'a': 1.0}]
        """
        d = _ddof(ddof)
        return self._each_column(lambda c: c.std(ddof=d), numeric=True)

    def var(self, ddof: int = 1) -> Stream:
        """One row: the variance of every column (null for a column that is not numeric).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).var().collect().to_pylist()
        [{'a': 1.0}]
        """
        d = _ddof(ddof)
        return self._each_column(lambda c: c.var(ddof=d), numeric=True)

    def min(self) -> Stream:
        """One row: the smallest value of every column.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).min().collect().to_pylist()
        [{'a': 1}]
        """
        return self._each_column(lambda c: c.min())

    def max(self) -> Stream:
        """One row: the largest value of every column.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).max().collect().to_pylist()
        [{'a': 3}]
        """
        return self._each_column(lambda c: c.max())

    def count(self) -> Stream:
        """One row: the number of non-null values of every column (int64).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).count().collect().to_pylist()
        [{'a': 3}]
        """
        return self._each_column(lambda c: c.count())

    def null_count(self) -> Stream:
        """One row: the number of nulls of every column (int64).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1, 2, 3]}).null_count().collect().to_pylist()
        [{'a': 0}]
        """
        return self._each_column(lambda c: c.is_null().sum().fill_null(0))

    def _row_fn(self, fn: Any, what: str, output_schema: Any, rows_of: Any) -> Stream:
        if not callable(fn):
            raise TypeMismatchError(f"{what} takes a function, got {type(fn).__name__}")
        if output_schema is None:
            if self._unbounded:
                raise PlanError(f"{what} over an unbounded stream needs output_schema=")
            sample = [r for row in _process._rows(self.limit(100).collect()) for r in rows_of(fn, row)]
            if not sample:
                raise PlanError(f"{what}: the sample gave no rows to infer the output from; give output_schema=")
            schema = pa.Table.from_pylist([_as_dict(r, None) for r in sample]).schema
        else:
            schema = _process._arrow_schema(output_schema, "output_schema")
        names = schema.names

        def run(b: pa.RecordBatch) -> pa.RecordBatch:
            out = [_as_dict(r, names) for row in _process._rows(b) for r in rows_of(fn, row)]
            return pa.RecordBatch.from_pylist(out, schema=schema)

        run.__name__ = getattr(fn, "__name__", what)
        return self.map_batches(run, schema=schema)

    def map(self, fn: Any, *, output_schema: Any = None) -> Stream:
        """Apply a Python function to each row: ``fn`` gets the row (an ``rb.Row``: fields by
        attribute, name or position) and returns the output row (a dict with every output
        column, ``None`` for a null, or a tuple in the order of ``output_schema``). Without
        ``output_schema`` (a ``pyarrow.Schema`` or dict of name to type) it is inferred from
        the function's output on the first 100 rows (bounded streams only; that runs the
        pipeline up to here once on them). A convenience over
        :meth:`map_batches`, which is much faster for vectorizable work.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2]}).map(lambda r: {"y": r.x * 10}).collect()["y"].to_pylist()
        [10, 20]
        """
        return self._row_fn(fn, "map", output_schema, lambda f, r: [f(r)])

    def flat_map(self, fn: Any, *, output_schema: Any = None) -> Stream:
        """Apply a Python function that returns any number of rows (an iterable) for each
        row; otherwise as :meth:`map`.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"w": ["a b", "c"]})
        >>> s.flat_map(lambda r: ({"word": w} for w in r.w.split())).collect()["word"].to_pylist()
        ['a', 'b', 'c']
        """
        return self._row_fn(fn, "flat_map", output_schema, lambda f, r: list(f(r) or []))

    def map_batches(self, fn: Any, *, schema: Any = None) -> Stream:
        """Apply a Python function to each batch: ``fn`` gets a ``pyarrow.RecordBatch`` and
        returns a RecordBatch (or a pandas DataFrame) with the columns of ``schema`` (a
        ``pyarrow.Schema`` or a dict of name to type; default: the input's schema).

        The function runs in the engine's threads and holds the GIL only while it runs. If
        it raises, the job stops and :class:`UserFunctionError` is raised with the original
        exception, traceback included, as its cause.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa, pyarrow.compute as pc
        >>> def double(b):
        ...     return pa.record_batch({"x": pc.multiply(b["x"], 2)})
        >>> rb.from_pydict({"x": [1, 2, 3]}).map_batches(double).collect()["x"].to_pylist()
        [2, 4, 6]
        """
        from . import udf
        from .datatypes import from_arrow, to_datatype

        if not callable(fn):
            raise TypeMismatchError(f"map_batches takes a function, got {type(fn).__name__}")
        node: dict[str, Any] = {"op": "map_batches"}
        pa_schema = None
        if schema is not None:
            if isinstance(schema, dict):
                pa_schema = pa.schema([(k, to_datatype(v).to_arrow()) for k, v in schema.items()])
            elif isinstance(schema, pa.Schema):
                pa_schema = schema
            else:
                raise TypeMismatchError("schema must be a pyarrow.Schema or a dict of column name to type")
            node["schema"] = [{"name": f.name, "type": from_arrow(f.type).plan_name} for f in pa_schema]
        # The function's results are cast to the declared schema (by default the input's)
        # where they convert safely: pandas and Polars give large strings for utf8.
        reg = udf.register(fn, pa_schema if pa_schema is not None else self.schema)
        node["udf"], node["_udf"] = reg.uid, reg
        return self._then(node)

    def _join(self, other: Stream, how: str, on: Any, left_on: Any, right_on: Any, suffix: str,
              **extra: Any) -> Stream:
        if not isinstance(other, Stream):
            raise TypeMismatchError(f"join takes a stream, got {type(other).__name__}")
        if on is not None:
            if left_on is not None or right_on is not None:
                raise PlanError("give either on= or left_on= and right_on=, not both")
            left_on = right_on = on
        if left_on is None or right_on is None:
            raise PlanError("give the join keys: on=... (or left_on=... and right_on=...)")
        lk = _exprs(_flatten((left_on,)), "join")
        rk = _exprs(_flatten((right_on,)), "join")
        node: dict[str, Any] = {"op": "join", "how": how, "left_on": lk, "right_on": rk, "suffix": suffix,
                                "inputs": [self._node, other._node], **extra}
        sources = list(self._sources) + [s for s in other._sources if s not in self._sources]
        return Stream(self._env, node, sources, unbounded=self._unbounded or other._unbounded)

    def join(self, other: Stream, on: Any = None, how: str = "inner", *, left_on: Any = None,
             right_on: Any = None, suffix: str = "_right", strategy: JoinStrategy = "auto",
             state_ttl: Duration | None = None, where: Expr | None = None, nulls_equal: bool = False) -> Stream:
        """Relational join on equal keys, with Polars' kinds and output columns: ``how`` is
        ``"inner"``, ``"left"``, ``"right"``, ``"full"``, ``"semi"``, ``"anti"`` or ``"cross"``
        (no keys). Null keys match nothing, unless ``nulls_equal=True`` (Polars' option, SQL's
        ``IS NOT DISTINCT FROM``): then null matches null. Inner and left joins keep the left keys, right
        joins the right keys, full joins both (the right ones with ``suffix`` if their names
        clash); other right columns whose names clash get ``suffix``.

        On bounded inputs the join reads the input it estimates smaller first and keeps it
        (the right one for left, semi and anti joins, the left one for right joins; both for
        full joins), then streams the other past it, emitting as it reads and keeping none of
        it: a join of a large table with a small one holds the small one. When the inputs
        share an upstream (a self-join) it keeps what arrives of the other before the first
        has ended.

        On unbounded streams the joins emit as rows arrive (their state holds both inputs;
        ``cross`` is refused). Inner and semi joins only add rows; left, right, full and anti
        joins give an updating result with an ``__op`` column (``"+I"``, ``"-D"``): a row
        padded with nulls is inserted at once and deleted when its first match arrives
        (see docs/changelog.md). Rows come in no particular order. Either input may itself
        be updating (the changelog of an unbounded ``group_by`` or of another join): its
        ``-U``/``-D`` rows take back an equal row and retract what it joined (as Flink's
        joins with retraction), and every kind then gives ``+I``/``-D`` changes.

        ``strategy`` says how the join is spread over parallel subtasks: ``"hash"``
        partitions both inputs by key; ``"broadcast"`` gives every subtask the whole of the
        smaller input (the right one for left, semi and anti joins, the left one for right
        joins; not possible for full joins) and leaves the other where it is, which saves
        shuffling the large input and spreads hot keys; ``"auto"`` (default) broadcasts in
        batch mode, in jobs that take no checkpoints or savepoints (so not in ``start()``),
        an input estimated at most about a million rows
        and a quarter of the other (estimates from Parquet footers, table lengths and file
        sizes; a filter counts as keeping a fifth of its input, a join as its larger
        input's rows), else hashes. The answer is the same either way; ``explain()`` shows which.

        ``state_ttl`` (unbounded joins on keys; as Flink's ``table.exec.state.ttl``): a row
        kept by the join that no row of the other side has matched for this long
        (processing time, from its arrival or last match; ``"1h"``, a ``timedelta`` or
        milliseconds) is dropped from the state and matches nothing more. What it already
        took part in stays in the result (a row padded with nulls stays padded), so a later
        row of its key stands alone. As ``group_by``'s ``state_ttl``, it is processing time
        and a bounded join ignores it.

        ``where`` is a further condition a pair of rows with equal keys must meet to match,
        as the rest of SQL's ``ON`` (``ON l.k = r.k AND l.a < r.b``): over the left columns
        and every right column, a right name that clashes with a left one taking ``suffix``
        (``col("qty_right")``); null counts as false. A left row whose every partner fails
        it is padded with nulls in a left join, dropped by a semi join and kept by an anti
        join (filtering after the join would not give that). Over unbounded inputs only
        inner joins take it.

        Examples
        --------
        >>> import riverbed as rb
        >>> orders = rb.from_pydict({"id": [1, 2, 3], "cust": ["a", "b", "z"]})
        >>> names = rb.from_pydict({"cust": ["a", "b"], "name": ["Ann", "Bob"]})
        >>> t = orders.join(names, on="cust", how="left").collect().sort_by("id")
        >>> t["name"].to_pylist()
        ['Ann', 'Bob', None]
        >>> bids = rb.nexmark(events_per_second=2_000).bids()
        >>> people = rb.nexmark(events_per_second=200).persons()
        >>> bids.join(people, left_on="bidder", right_on="id", state_ttl="1h").schema.names[:3]
        ['auction', 'bidder', 'price']
        >>> lines = rb.from_pydict({"order": [1, 1, 2], "supp": [7, 8, 7]})
        >>> multi = lines.join(lines, on="order", how="semi", where=rb.col("supp") != rb.col("supp_right"))
        >>> sorted(multi.collect()["supp"].to_pylist())
        [7, 8]
        """
        kinds = ("inner", "left", "right", "full", "semi", "anti", "cross")
        if how not in kinds:
            hint = " (event-time joins are join_window, join_interval and join_asof)" \
                if how in ("window", "interval", "asof") else ""
            raise PlanError(f"how must be one of {', '.join(map(repr, kinds))}, got {how!r}{hint}")
        if where is not None and not isinstance(where, Expr):
            raise TypeMismatchError(
                f"where takes an expression such as col('a') < col('b'), got {type(where).__name__}")
        cond: dict[str, Any] = {} if where is None else {"where": where._to_plan()}
        if how == "cross":
            if on is not None or left_on is not None or right_on is not None:
                raise PlanError("a cross join takes no keys")
            if state_ttl is not None:
                raise PlanError("state_ttl is an option of joins on keys, not of a cross join")
            if nulls_equal:
                raise PlanError("nulls_equal is an option of joins on keys, not of a cross join")
            if not isinstance(other, Stream):
                raise TypeMismatchError(f"join takes a stream, got {type(other).__name__}")
            node: dict[str, Any] = {"op": "join", "how": how, "suffix": suffix,
                                    "inputs": [self._node, other._node], **cond}
            sources = list(self._sources) + [s for s in other._sources if s not in self._sources]
            return Stream(self._env, node, sources, unbounded=self._unbounded or other._unbounded)
        if strategy not in ("auto", "hash", "broadcast"):
            raise PlanError(f"strategy must be 'auto', 'hash' or 'broadcast', got {strategy!r}")
        extra: dict[str, Any] = {} if strategy == "auto" else {"join_strategy": strategy}
        extra.update(cond)
        if not isinstance(nulls_equal, bool):
            raise TypeMismatchError(f"nulls_equal takes True or False, got {nulls_equal!r}")
        if nulls_equal:
            extra["nulls_equal"] = True
        if state_ttl is not None:
            from .window import duration

            extra["state_ttl"] = duration(state_ttl, "state_ttl")
        return self._join(other, how, on, left_on, right_on, suffix, **extra)

    def join_proctime(self, other: Stream, on: Any = None, how: Literal["inner", "left"] = "inner", *,
                      left_on: Any = None, right_on: Any = None, suffix: str = "_right") -> Stream:
        """Processing-time temporal join (SQL's ``FOR SYSTEM_TIME AS OF PROCTIME()``): each
        row is joined, when it arrives, with the **current version** of its key in ``other``
        — the latest row of ``other`` with equal keys seen so far — and never again; the
        result is append-only. ``other`` may be append-only (each row the new version of its
        key) or updating (an upsert read, a group_by: ``-D`` deletes the key). ``how`` is
        ``"inner"`` (rows without a version are dropped) or ``"left"`` (kept with nulls).
        The output is this stream's columns, then ``other``'s but its key columns.

        Which version a row sees depends on arrival: a bounded ``other`` is read whole
        before any row of this stream (unless the two share a source), so every row sees its
        key's last version; an unbounded one is read as it comes. The versions are keyed
        state, checkpointed. See docs/sql.md (processing-time temporal joins).

        Examples
        --------
        >>> import riverbed as rb
        >>> orders = rb.from_pydict({"id": [1, 2, 3], "cur": ["EUR", "USD", "JPY"]})
        >>> rates = rb.from_pydict({"cur": ["EUR", "USD"], "rate": [1.1, 1.0]})
        >>> t = orders.join_proctime(rates, on="cur", how="left").collect().sort_by("id")
        >>> t["rate"].to_pylist()
        [1.1, 1.0, None]
        """
        if how not in ("inner", "left"):
            raise PlanError(f"how must be 'inner' or 'left', got {how!r}")
        extra = {"proctime_how": how} if how == "left" else {}
        return self._join(other, "proctime", on, left_on, right_on, suffix, **extra)

    def join_window(self, other: Stream, on: Any = None, *, window: Window, how: WindowJoinHow = "inner",
                    left_on: Any = None, right_on: Any = None, suffix: str = "_right") -> Stream:
        """Window join: pairs of rows, one from each stream, with equal keys in the same
        window (``rb.tumbling``, ``rb.sliding``, ``rb.cumulate``), emitted when the window
        closes, with ``window_start`` and ``window_end``. Right columns whose names clash
        get ``suffix``.

        ``how`` has Polars' names, as in :meth:`join`, applied to the rows of each window:
        ``"inner"`` (default) pairs only; ``"left"`` (``"right"``, ``"full"``) also the rows
        of the left (right, either) stream with no match in their window, padded with nulls;
        ``"semi"`` (``"anti"``) each left row with (without) a match in its window, once,
        with the left columns only. Null keys match nothing. A right key of the same name
        as its left key is dropped, but for ``"right"`` (the left one is dropped) and
        ``"full"`` (both are kept, the right one with ``suffix``). Every kind emits each
        window once, when the watermark passes its end: the result only appends rows (no
        ``__op`` column), and a row in several windows (sliding, cumulate) is joined in each.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> clicks = rb.from_pydict({"user": [1, 2], "ts": [t0, t0]}, event_time="ts")
        >>> buys = rb.from_pydict({"user": [1, 1], "ts": [t0 + dt.timedelta(seconds=20), t0 + dt.timedelta(minutes=5)]},
        ...                       event_time="ts")
        >>> out = clicks.join_window(buys, on="user", window=rb.tumbling("1m")).collect()
        >>> [(r["user"], r["window_start"].time().isoformat()) for r in out.to_pylist()]
        [(1, '00:00:00')]
        >>> out = clicks.join_window(buys, on="user", window=rb.tumbling("1m"), how="left").collect()
        >>> sorted((r["user"], r["ts_right"] is None) for r in out.to_pylist())  # user 2: no buy
        [(1, False), (2, True)]
        """
        from .window import Window

        if not isinstance(window, Window):
            raise TypeMismatchError("window must be rb.tumbling(...), rb.sliding(...) or rb.cumulate(...)")
        return self._join(other, "window", on, left_on, right_on, suffix, window=window._to_plan(), window_how=how)

    def join_interval(self, other: Stream, on: Any = None, *, lower: Any, upper: Any, left_on: Any = None,
                      right_on: Any = None, suffix: str = "_right") -> Stream:
        """Interval join: each left row with every right row of equal keys whose event time
        is within ``[left + lower, left + upper]`` (e.g. ``lower="-5s", upper="10s"``).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> clicks = rb.from_pydict({"user": [1, 2], "ts": [t0, t0]}, event_time="ts")
        >>> buys = rb.from_pydict({"user": [1, 1], "ts": [t0 + dt.timedelta(seconds=20), t0 + dt.timedelta(minutes=5)]},
        ...                       event_time="ts")
        >>> out = clicks.join_interval(buys, on="user", lower="0s", upper="1m").collect()
        >>> [(r["user"], (r["ts_right"] - r["ts"]).seconds) for r in out.to_pylist()]
        [(1, 20)]
        """
        from .window import duration

        def signed(d: Any, what: str) -> str:
            if isinstance(d, str):
                return d
            if isinstance(d, int) and d < 0:
                return "-" + duration(-d, what)
            return duration(d, what)

        return self._join(other, "interval", on, left_on, right_on, suffix, lower=signed(lower, "lower"),
                          upper=signed(upper, "upper"))

    def join_asof(self, other: Stream, on: str | None = None, *, left_on: str | None = None,
                  right_on: str | None = None, by: Any = None, by_left: Any = None, by_right: Any = None,
                  strategy: AsofStrategy = "backward", tolerance: Duration | None = None,
                  suffix: str = "_right") -> Stream:
        """As-of join (point in time), with Polars' arguments: each left row with one right
        row of the same ``by`` key (``by_left``/``by_right`` when the names differ; none: every
        row one key) by time, or nulls if there is none — the join that feature pipelines
        need to avoid looking into the future.

        ``on`` names the time column of both inputs (``left_on``/``right_on`` when the names
        differ), a timestamp or date; without it each input's event time
        (``event_time=`` of its source) is used. ``strategy``: ``"backward"`` (default) takes
        the latest right row at or before the left row's time (of equal times the last in
        input order), ``"forward"`` the first at or after it, ``"nearest"`` the closer of the
        two (a tie takes the later, and of right rows with equal times the last, as in
        Polars). ``tolerance`` (``"5m"``, a ``timedelta``) leaves
        farther matches out. Output, as Polars': the left columns, then the right ones but
        the ``by`` keys and, with ``on=``, the time column; clashing names get ``suffix``.
        Times are compared in microseconds (nanosecond times are rounded down to them).

        In streaming mode the time columns must be the inputs' event time: a left row is
        emitted once the watermark has passed it (forward and nearest: once no right row
        still to come could match it better). ``on="k"`` with a key column is the old
        spelling of this method and is refused with a message saying to write ``by="k"``.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t = lambda m: dt.datetime(2024, 1, 1, 0, m)
        >>> trades = rb.from_pydict({"ts": [t(1), t(5), t(9)], "sym": ["a", "a", "b"]})
        >>> quotes = rb.from_pydict({"ts": [t(0), t(4), t(6)], "sym": ["a", "a", "b"], "px": [1.0, 2.0, 3.0]})
        >>> trades.join_asof(quotes, on="ts", by="sym").sort("ts").collect()["px"].to_pylist()
        [1.0, 2.0, 3.0]
        >>> trades.join_asof(quotes, on="ts", by="sym", strategy="forward").sort("ts").collect()["px"].to_pylist()
        [2.0, None, None]
        """
        from .window import duration

        if not isinstance(other, Stream):
            raise TypeMismatchError(f"join_asof takes a stream, got {type(other).__name__}")
        if on is not None:
            if left_on is not None or right_on is not None:
                raise PlanError("give either on= or left_on= and right_on= (the time columns), not both")
            left_on = right_on = on
        if (left_on is None) != (right_on is None):
            raise PlanError("give both left_on= and right_on= (the time columns), or on=")
        for name, v in (("on", left_on), ("left_on", left_on), ("right_on", right_on)):
            if v is not None and not isinstance(v, str):
                raise TypeMismatchError(f"{name}= names the time column (a string), got {v!r}; join keys go in by=")
        if by is not None:
            if by_left is not None or by_right is not None:
                raise PlanError("give either by= or by_left= and by_right=, not both")
            by_left = by_right = by
        if (by_left is None) != (by_right is None):
            raise PlanError("give both by_left= and by_right=, or by=")
        if strategy not in ("backward", "forward", "nearest"):
            raise PlanError(f"strategy must be 'backward', 'forward' or 'nearest', got {strategy!r}")
        node: dict[str, Any] = {"op": "join", "how": "asof", "suffix": suffix, "inputs": [self._node, other._node]}
        if by_left is not None:
            node["left_on"] = _exprs(_flatten((by_left,)), "join_asof")
            node["right_on"] = _exprs(_flatten((by_right,)), "join_asof")
        if left_on is not None:
            node["left_time"], node["right_time"] = left_on, right_on
        if strategy != "backward":
            node["strategy"] = strategy
        if tolerance is not None:
            node["tolerance"] = duration(tolerance, "tolerance")
        sources = list(self._sources) + [s for s in other._sources if s not in self._sources]
        return Stream(self._env, node, sources, unbounded=self._unbounded or other._unbounded)

    def deduplicate(self, *keys: str | Expr | Sequence[str | Expr], within: Any = None) -> Stream:
        """Keep the first row of each key; drop later rows of that key whose event time is
        less than ``within`` after the kept one (without ``within``: all of them).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> s = rb.from_pydict({"id": [1, 1, 2, 1], "v": ["a", "b", "c", "d"],
        ...                     "ts": [t0 + dt.timedelta(minutes=m) for m in (0, 1, 2, 30)]}, event_time="ts")
        >>> s.deduplicate("id").collect().sort_by("id")["v"].to_pylist()
        ['a', 'c']
        >>> s.deduplicate("id", within="10m").collect().sort_by("v")["v"].to_pylist()
        ['a', 'c', 'd']
        """
        from .window import duration

        items = _flatten(keys)
        if not items:
            raise PlanError("deduplicate needs the key columns")
        node: dict[str, Any] = {"op": "dedup", "keys": _exprs(items, "deduplicate")}
        if within is not None:
            node["within"] = duration(within, "within")
        return self._then(node)

    def group_by(self, *keys: str | Expr | Sequence[str | Expr], mini_batch: Duration | None = None,
                 state_ttl: Duration | None = None) -> GroupBy:
        """Group rows by key columns or expressions; follow with :meth:`GroupBy.agg`.

        On a bounded stream the result is one row per group, once the input has ended. On
        an unbounded stream the result is **updating** (a changelog, as Flink's dynamic
        tables): it has one more column, ``__op``, whose value says what each row does to
        the result table: ``"+I"`` (a new group), ``"-U"`` (retract the group's previous
        row), ``"+U"`` (its new row) and ``"-D"`` (the group left the result). Read the
        changes with ``start()`` and ``job.results()``; see docs/changelog.md. A group_by
        over such an updating stream takes its retracted rows back out of its groups
        (``count``, ``sum``, ``mean``, ``min``, ``max``, ``first``, ``last`` and
        ``n_unique``) and is updating too.

        Parameters
        ----------
        mini_batch
            Gather changes for this long (``"1s"``, a ``timedelta`` or milliseconds) and
            emit each group at most once per interval, as Flink's
            ``table.exec.mini-batch``; without it each input batch ends a mini-batch.
        state_ttl
            Drop a group's state when it has not been updated for this long (processing
            time, as Flink's ``table.exec.state.ttl``); the group is deleted from the result
            (``"-D"``) and a later row of its key starts it afresh (``"+I"``).

        Both apply to updating results only; a bounded group_by ignores them.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> bids = rb.nexmark(events_per_second=2_000).bids()
        >>> counts = bids.group_by("auction", mini_batch="200ms").agg(rb.count().alias("n"))
        >>> counts.schema.names
        ['auction', 'n', '__op']
        """
        from .window import duration

        node_opts: dict[str, Any] = {}
        if mini_batch is not None:
            node_opts["mini_batch"] = duration(mini_batch, "mini_batch")
        if state_ttl is not None:
            node_opts["state_ttl"] = duration(state_ttl, "state_ttl")
        return GroupBy(self, _exprs(_flatten(keys), "group_by"), node_opts)

    def key_by(self, *keys: str | Expr | Sequence[str | Expr]) -> KeyedStream:
        """Partition the stream by key (hash of the keys into key groups) for keyed windows.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> s = rb.from_pydict({"user": [1, 1, 2], "ts": [t0, t0 + dt.timedelta(seconds=70), t0]},
        ...                    event_time="ts")
        >>> out = s.key_by("user").window(rb.tumbling("1m")).agg(rb.count().alias("n")).collect()
        >>> sorted((r["user"], r["window_start"].minute, r["n"]) for r in out.to_pylist())
        [(1, 0, 1), (1, 1, 1), (2, 0, 1)]
        """
        items = _flatten(keys)
        if not items:
            raise PlanError("key_by needs at least one key")
        return KeyedStream(self, _exprs(items, "key_by"))

    def window(self, window: Window, *, allowed_lateness: Any = None, window_time: bool = False) -> WindowedStream:
        """Window the whole (non-keyed) stream; runs at parallelism 1. See :meth:`KeyedStream.window`.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> s = rb.from_pydict({"ts": [t0, t0 + dt.timedelta(seconds=90)], "v": [1, 2]}, event_time="ts")
        >>> out = s.window(rb.tumbling("1m")).agg(rb.col("v").sum().alias("total")).collect()
        >>> out.sort_by("window_start")["total"].to_pylist()
        [1, 2]
        """
        return WindowedStream(self, [], window, allowed_lateness, window_time)

    def union(self, *others: Stream) -> Stream:
        """Rows of this stream followed by those of ``others`` (same columns and types).

        Examples
        --------
        >>> import riverbed as rb
        >>> a, b = rb.from_pydict({"x": [1]}), rb.from_pydict({"x": [2, 3]})
        >>> sorted(a.union(b).collect()["x"].to_pylist())
        [1, 2, 3]
        """
        if not others:
            raise PlanError("union needs at least one other stream")
        nodes = [self._node]
        sources = list(self._sources)
        for o in others:
            if not isinstance(o, Stream):
                raise TypeMismatchError(f"union takes streams, got {type(o).__name__}")
            nodes.append(o._node)
            sources += [s for s in o._sources if s not in sources]
        unbounded = self._unbounded or any(o._unbounded for o in others)
        return Stream(self._env, {"op": "union", "inputs": nodes}, sources, unbounded=unbounded)

    def limit(self, n: int = 5) -> Stream:
        """The first ``n`` rows (in input order).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2, 3]}).limit(2).collect()["x"].to_pylist()
        [1, 2]
        """
        _count(n, "limit")
        return self._then({"op": "limit", "n": n}, unbounded=False)

    head = limit

    def slice(self, offset: int, length: int | None = None) -> Stream:
        """``length`` rows (all the rest when None) from row ``offset`` (in input order), as
        Polars: a negative ``offset`` counts from the end (and needs a bounded input, as
        :meth:`tail`).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2, 3, 4, 5]})
        >>> s.slice(1, 2).collect()["x"].to_pylist()
        [2, 3]
        >>> s.slice(-2).collect()["x"].to_pylist()
        [4, 5]
        """
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PlanError(f"slice takes an integer offset, got {offset!r}")
        if length is not None:
            _count(length, "slice")
        if offset < 0:
            _count(-offset, "slice")
            if length is None:
                return self.tail(-offset)
            return self._then({"op": "tail", "n": -offset, "length": length})
        _count(offset, "slice")
        if length is None:
            return self._then({"op": "limit", "n": 2**63 - 1, "offset": offset})
        return self._then({"op": "limit", "n": length, "offset": offset}, unbounded=False)

    def tail(self, n: int = 5) -> Stream:
        """The last ``n`` rows (in input order). Needs a bounded input.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2, 3]}).tail(2).collect()["x"].to_pylist()
        [2, 3]
        """
        _count(n, "tail")
        return self._then({"op": "tail", "n": n})

    def sort(self, by: Any, *more_by: Any, descending: bool | Sequence[bool] = False,
             nulls_last: bool | Sequence[bool] = False) -> Stream:
        """Rows sorted by columns or expressions (stable; as Polars: nulls first unless
        ``nulls_last``, NaN above every number). ``descending`` and ``nulls_last`` take one
        value or one per key. Needs a bounded input. In a job that takes no checkpoint or
        savepoint (``collect()`` without ``checkpoint_dir``), each parallel subtask sorts its
        rows and one merges them; otherwise the sort runs on one core. With
        ``state_backend="pebble"``, rows beyond ``state_memory_limit`` are sorted in runs
        written to disk and merged (an external sort; docs/fault-tolerance.md).

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"a": [2, None, 1], "b": ["x", "y", "z"]})
        >>> t.sort("a", nulls_last=True).collect()["b"].to_pylist()
        ['z', 'x', 'y']
        """
        keys = _exprs(_flatten((by,) + more_by), "sort")
        return self._then({"op": "sort", "keys": keys, "sort_descending": _flags(descending, len(keys), "descending"),
                           "nulls_last": _flags(nulls_last, len(keys), "nulls_last")})

    def top_k(self, k: int, *, by: Any, reverse: bool | Sequence[bool] = False, per: Any = None,
              row_number: str | None = None) -> Stream:
        """The ``k`` rows with the largest values of ``by`` (smallest with ``reverse=True``;
        ``by`` and ``reverse`` may list several keys; nulls last), largest first, as Polars.
        On a bounded stream this is a sort and a limit (``per`` is not taken there).

        On an unbounded stream it is Flink's streaming top-N: per value of ``per`` (column
        names; none: over all rows, on one core), the ``k`` best rows so far, as an
        **updating** result (a changelog with an ``__op`` column; see docs/changelog.md):
        a row that enters the top ``k`` is inserted (``+I``) and the row it pushes out is
        deleted (``-D``); with ``k=1`` the partition's row is updated (``-U``/``+U``).
        Tied rows rank in arrival order. With ``row_number="rownum"`` each row also has
        its row number (1 = first) in that column, and the rows whose number changes are
        updated (``-U``/``+U``), as Flink's top-N with its ``ROW_NUMBER()`` selected.
        Rows that never reach the top ``k`` change nothing.

        The input may itself be updating (say a ``group_by(...).agg(...)`` over an unbounded
        stream): this is then Flink's retract rank. Each partition holds all its rows; a
        ``-U``/``-D`` row takes out the first equal row held, and the row below moves up into
        the top ``k`` (its changes as above).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [3, 1, 2]}).top_k(2, by="x").collect()["x"].to_pylist()
        [3, 2]
        >>> g = rb.datagen({"k": rb.Int64, "v": rb.Int64}, rows_per_second=100)  # unbounded
        >>> g.top_k(3, by="v", per="k", row_number="rownum").columns
        ['k', 'v', 'rownum', '__op']
        >>> totals = g.group_by("k").agg(rb.col("v").sum().alias("total"))  # updating
        >>> totals.top_k(2, by="total").columns
        ['k', 'total', '__op']
        """
        _count(k, "top_k")
        keys = _flatten((by,))
        if not keys:
            raise PlanError("top_k needs at least one column in by=")
        if not self._unbounded:
            if per is not None or row_number is not None:
                raise PlanError("top_k: per= and row_number= rank the rows of an unbounded stream as they come (an "
                                "updating result); on a bounded stream use sort(...) and group_by(...).head(k) or "
                                "rb.col(...).rank().over(...)")
            return self.sort(*keys, descending=[not r for r in _flags(reverse, len(keys), "reverse")],
                             nulls_last=True).limit(k)
        return self._rank(k, keys, [not r for r in _flags(reverse, len(keys), "reverse")], per, row_number,
                          "top_k")

    def bottom_k(self, k: int, *, by: Any, reverse: bool | Sequence[bool] = False, per: Any = None,
                 row_number: str | None = None) -> Stream:
        """The ``k`` rows with the smallest values of ``by``, smallest first; on an unbounded
        stream an updating result, as :meth:`top_k`.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [3, 1, 2]}).bottom_k(2, by="x").collect()["x"].to_pylist()
        [1, 2]
        """
        _count(k, "bottom_k")
        keys = _flatten((by,))
        if not keys:
            raise PlanError("bottom_k needs at least one column in by=")
        flipped = [not r for r in _flags(reverse, len(keys), "reverse")]
        return self.top_k(k, by=by, reverse=flipped if len(flipped) > 1 else flipped[0], per=per,
                          row_number=row_number)

    def _rank(self, k: int, by: list[Any], descending: list[bool], per: Any, row_number: str | None,
              what: str, keep_last: bool = False, nulls_smallest: bool = False) -> Stream:
        """The streaming top-N node ("rank") over an unbounded stream; nulls rank last, or
        as the smallest values (nulls_smallest)."""
        if not isinstance(k, int) or isinstance(k, bool) or k <= 0:
            raise PlanError(f"{what}: k must be a positive integer, got {k!r}")
        if row_number is not None and not isinstance(row_number, str):
            raise TypeMismatchError(f"{what}: row_number takes a column name, got {row_number!r}")
        node: dict[str, Any] = {"op": "rank", "n": k, "order_by": _exprs(by, what), "descending": descending}
        if per is not None:
            node["keys"] = _exprs(_flatten((per,)), what)
        if keep_last:
            node["keep_last"] = True
        if nulls_smallest:
            node["nulls_first"] = [not d for d in descending]
        if row_number is not None:
            node["rank_column"] = row_number
        return self._then(node)

    def explode(self, columns: Any, *more_columns: str, empty_as_null: bool = False,
                keep_nulls: bool = True) -> Stream:
        """One row per element of list columns (others repeated), as Polars: a null list gives
        one row with null (none if ``keep_nulls=False``), an empty list no row (a null row with
        ``empty_as_null=True``). Lists exploded together must have equal lengths in each row.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": [1, 2, 3], "xs": [[1, 2], [], None]})
        >>> s.explode("xs").collect().sort_by("k").to_pylist()
        [{'k': 1, 'xs': 1}, {'k': 1, 'xs': 2}, {'k': 3, 'xs': None}]
        """
        cols = _flatten((columns,) + more_columns)
        if not cols or not all(isinstance(c, str) for c in cols):
            raise TypeMismatchError(f"explode takes column names, got {columns!r}")
        node: dict[str, Any] = {"op": "explode", "columns": cols}
        if empty_as_null:
            node["empty_as_null"] = True
        if not keep_nulls:
            node["drop_nulls"] = True
        return self._then(node)

    def drop(self, columns: Any, *more_columns: str, strict: bool = True) -> Stream:
        """All columns but the given ones (a missing name is an error unless ``strict=False``).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1], "b": [2], "c": [3]}).drop("b").columns
        ['a', 'c']
        """
        names = _flatten((columns,) + more_columns)
        if not all(isinstance(c, str) for c in names):
            raise TypeMismatchError(f"drop takes column names, got {columns!r}")
        have = self.columns
        missing = [c for c in names if c not in have]
        if missing and strict:
            raise ColumnNotFoundError(f"drop: no column {missing[0]!r}; the stream has columns {have}")
        keep = [c for c in have if c not in names]
        if not keep:
            raise PlanError("drop would remove every column")
        return self.select(*keep)

    def rename(self, mapping: dict[str, str]) -> Stream:
        """Columns renamed by ``{old: new}``; the others keep their names and places.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1], "b": [2]}).rename({"a": "x"}).columns
        ['x', 'b']
        """
        if not isinstance(mapping, dict) or \
                not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise TypeMismatchError("rename takes a dict of old column name to new name")
        have = self.columns
        for old in mapping:
            if old not in have:
                raise ColumnNotFoundError(f"rename: no column {old!r}; the stream has columns {have}")
        names = [mapping.get(c, c) for c in have]
        for n in names:
            if names.count(n) > 1:
                raise PlanError(f"rename: two columns would be named {n!r}; the stream has columns {have}")
        return self.select(*[col(c).alias(mapping.get(c, c)) for c in have])

    def describe(self, percentiles: Sequence[float] | None = (0.25, 0.5, 0.75), *,
                 interpolation: str = "nearest") -> pa.Table:
        """Summary statistics of every column, computed by one run of the pipeline (bounded
        input), as Polars' ``describe``: a table with a ``statistic`` column (``count``,
        ``null_count``, ``mean``, ``std``, ``min``, the percentiles, ``max``) and one column per
        input column: float64 for numbers and booleans (true as 1), text for the others (their
        count, null count, min and max). The mean of booleans is their share of true; the
        standard deviation and percentiles are of numbers only (Polars also gives the mean and
        percentiles of dates and times).

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"x": [1, 2, 3, None], "s": ["a", "b", None, "c"]}).describe()
        >>> t.column_names
        ['statistic', 'x', 's']
        >>> dict(zip(t["statistic"].to_pylist(), t["x"].to_pylist()))["mean"]
        2.0
        >>> dict(zip(t["statistic"].to_pylist(), t["s"].to_pylist()))["max"]
        'c'
        """
        self._need_bounded("describe()")
        qs = [] if percentiles is None else list(percentiles)
        for q in qs:
            if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0 <= q <= 1:
                raise PlanError(f"describe: percentiles are between 0 and 1, got {q!r}")
        fields = [f for f in self.schema if f.name != "__op"]
        if not fields:
            raise PlanError("describe needs at least one column")
        aggs: list[Expr] = []
        kinds = []
        for i, f in enumerate(fields):
            c, t = col(f.name), f.type
            number = pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            boolean = pa.types.is_boolean(t)
            nested = pa.types.is_nested(t) or pa.types.is_dictionary(t) and pa.types.is_nested(t.value_type)
            kinds.append("number" if number or boolean else "text")
            aggs += [c.count().alias(f"{i}:count"), c.is_null().sum().fill_null(0).alias(f"{i}:null_count")]
            if number or boolean:
                aggs.append(c.mean().alias(f"{i}:mean"))
            if number:
                aggs.append(c.std().alias(f"{i}:std"))
                aggs += [c.quantile(q, interpolation).alias(f"{i}:q{j}") for j, q in enumerate(qs)]
            if not nested:
                aggs += [c.min().alias(f"{i}:min"), c.max().alias(f"{i}:max")]
        row = self.select(*aggs).collect().to_pylist()[0]
        stats = ["count", "null_count", "mean", "std", "min"] + [f"{q * 100:g}%" for q in qs] + ["max"]
        keys = ["count", "null_count", "mean", "std", "min"] + [f"q{j}" for j in range(len(qs))] + ["max"]
        out: dict[str, pa.Array] = {"statistic": pa.array(stats, pa.string())}
        for i, (f, kind) in enumerate(zip(fields, kinds)):
            vals = [row.get(f"{i}:{k}") for k in keys]
            if kind == "number":
                out[f.name] = pa.array([None if v is None else float(v) for v in vals], pa.float64())
            else:
                out[f.name] = pa.array([None if v is None else str(v) for v in vals], pa.string())
        return pa.table(out)

    def reverse(self) -> Stream:
        """The rows in reverse input order, as Polars' ``reverse`` (bounded input: the rows are
        numbered as :meth:`with_row_index` does, then sorted).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2, 3]}).reverse().collect()["x"].to_pylist()
        [3, 2, 1]
        """
        self._need_bounded("reverse()")
        have = [c for c in self.columns if c != "__op"]
        name = "__rb_row"
        while name in have:
            name += "_"
        return self.with_row_index(name).sort(name, descending=True).select(*have)

    def unpivot(self, on: Any = None, *, index: Any = None, variable_name: str = "variable",
                value_name: str = "value") -> Stream:
        """From wide to long, as Polars' ``unpivot`` (pandas' ``melt``): for each column of
        ``on`` (default: every column not in ``index``) the rows with the ``index`` columns,
        the column's name in ``variable_name`` and its value in ``value_name`` (numbers of
        different types as int64 or float64, as :func:`concat` ``how="vertical_relaxed"``).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"id": [1, 2], "a": [10, 20], "b": [30, 40]})
        >>> sorted(s.unpivot(["a", "b"], index="id").collect().to_pylist(), key=lambda r: (r["variable"], r["id"]))
        ... # doctest: +NORMALIZE_WHITESPACE
        [{'id': 1, 'variable': 'a', 'value': 10}, {'id': 2, 'variable': 'a', 'value': 20},
         {'id': 1, 'variable': 'b', 'value': 30}, {'id': 2, 'variable': 'b', 'value': 40}]
        """
        have = [c for c in self.columns if c != "__op"]
        keep = [] if index is None else _flatten((index,))
        cols = [c for c in have if c not in keep] if on is None else _flatten((on,))
        for name in keep + cols:
            if not isinstance(name, str):
                raise TypeMismatchError(f"unpivot takes column names, got {name!r}")
            if name not in have:
                raise ColumnNotFoundError(f"unpivot: no column {name!r}; the stream has columns {have}")
        if not cols:
            raise PlanError("unpivot: no columns to unpivot")
        for name in (variable_name, value_name):
            if name in keep:
                raise PlanError(f"unpivot: {name!r} is an index column; give variable_name/value_name another name")
        parts = [self.select(*keep, lit(c).alias(variable_name), col(c).alias(value_name)) for c in cols]
        try:
            return concat(parts, how="vertical_relaxed")
        except TypeMismatchError:
            types = sorted({str(self.schema.field(c).type) for c in cols})
            raise TypeMismatchError(f"unpivot: the columns {cols} have types {types}, with no common type; cast them "
                                    "first (Polars casts them to text)") from None

    def pipe(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        """``function(self, *args, **kwargs)``: a chain of your own steps, as Polars' ``pipe``.

        Examples
        --------
        >>> import riverbed as rb
        >>> def doubled(s, name):
        ...     return s.with_columns((rb.col(name) * 2).alias(name))
        >>> rb.from_pydict({"a": [1, 2]}).pipe(doubled, "a").collect()["a"].to_pylist()
        [2, 4]
        """
        return function(self, *args, **kwargs)

    def collect_schema(self) -> pa.Schema:
        """The schema of the results, as :attr:`schema` (Polars' name).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1]}).collect_schema().names
        ['a']
        """
        return self.schema

    def cast(self, dtypes: Any) -> Stream:
        """Columns cast: ``{name: type}`` for some, or one type for every column, as Polars'
        ``cast`` (each a :meth:`Expr.cast`, with its rules and errors).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": [1], "b": [2]}).cast({"a": rb.Float64}).collect().to_pylist()
        [{'a': 1.0, 'b': 2}]
        """
        have = [c for c in self.columns if c != "__op"]
        if isinstance(dtypes, dict):
            for name in dtypes:
                if name not in have:
                    raise ColumnNotFoundError(f"cast: no column {name!r}; the stream has columns {have}")
            todo = dict(dtypes)
        else:
            todo = {c: dtypes for c in have}
        if not todo:
            return self
        return self.with_columns(*[col(c).cast(t).alias(c) for c, t in todo.items()])

    def drop_nulls(self, subset: Any = None) -> Stream:
        """The rows without a null in any of the columns ``subset`` (every column by default),
        as Polars' ``drop_nulls``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"a": [1, None, 3], "b": ["x", "y", None]})
        >>> s.drop_nulls().collect().to_pylist()
        [{'a': 1, 'b': 'x'}]
        >>> s.drop_nulls("a").collect()["a"].to_pylist()
        [1, 3]
        """
        have = [c for c in self.columns if c != "__op"]
        names = have if subset is None else _flatten((subset,))
        for name in names:
            if not isinstance(name, str):
                raise TypeMismatchError(f"drop_nulls takes column names, got {name!r}")
            if name not in have:
                raise ColumnNotFoundError(f"drop_nulls: no column {name!r}; the stream has columns {have}")
        if not names:
            return self
        keep = col(names[0]).is_not_null()
        for name in names[1:]:
            keep = keep & col(name).is_not_null()
        return self.filter(keep)

    def fill_null(self, value: Any = None, strategy: str | None = None, limit: int | None = None) -> Stream:
        """Nulls replaced by ``value`` in the columns it suits, as Polars' ``fill_null``: a
        number fills the numeric columns (a float only the float and decimal ones, so that no
        integer column changes type), a string the string columns, a boolean the boolean
        ones, a date or datetime the temporal ones; an expression fills every column. With
        ``strategy="forward"`` / ``"backward"``, every column takes the nearest value before
        / after each null, in input order (``limit`` rows at most; bounded input only).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"a": [1, None], "f": [None, 2.5], "s": [None, "x"]})
        >>> s.fill_null(0).collect().to_pylist()
        [{'a': 1, 'f': 0.0, 's': None}, {'a': 0, 'f': 2.5, 's': 'x'}]
        >>> s.fill_null("?").collect()["s"].to_pylist()
        ['?', 'x']
        >>> s.fill_null(strategy="backward").collect().to_pylist()
        [{'a': 1, 'f': 2.5, 's': 'x'}, {'a': None, 'f': 2.5, 's': 'x'}]
        """
        if strategy is not None:
            if value is not None:
                raise PlanError("fill_null takes a value or a strategy, not both")
            cols = [f.name for f in self.schema if f.name != "__op"]
            return self.with_columns(*[col(c).fill_null(strategy=strategy, limit=limit).alias(c) for c in cols])
        if limit is not None:
            raise PlanError("fill_null takes limit only with strategy='forward' or 'backward'")
        import datetime as _dt
        from decimal import Decimal

        def suits(t: pa.DataType) -> bool:
            if isinstance(value, Expr):
                return True
            if isinstance(value, bool):
                return pa.types.is_boolean(t)
            if isinstance(value, int):
                return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t)
            if isinstance(value, (float, Decimal)):
                return pa.types.is_floating(t) or pa.types.is_decimal(t)
            if isinstance(value, str):
                return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)
            if isinstance(value, (_dt.date, _dt.datetime)):
                return pa.types.is_temporal(t) and not pa.types.is_duration(t) and not pa.types.is_time(t)
            if isinstance(value, _dt.timedelta):
                return pa.types.is_duration(t)
            raise TypeMismatchError(f"fill_null takes a number, string, boolean, date, datetime, timedelta or "
                                    f"expression, got {type(value).__name__}")

        todo = [f.name for f in self.schema if f.name != "__op" and suits(f.type)]
        if not todo:
            return self
        return self.with_columns(*[col(c).fill_null(value).alias(c) for c in todo])

    def fill_nan(self, value: Any) -> Stream:
        """NaN replaced by ``value`` in the float columns, as Polars' ``fill_nan``.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [float("nan"), 1.0], "n": [1, 2]}).fill_nan(0.0).collect().to_pylist()
        [{'x': 0.0, 'n': 1}, {'x': 1.0, 'n': 2}]
        """
        todo = [f.name for f in self.schema if pa.types.is_floating(f.type)]
        if not todo:
            return self
        return self.with_columns(*[col(c).fill_nan(value).alias(c) for c in todo])

    def with_row_index(self, name: str = "index", offset: int = 0) -> Stream:
        """A first column ``name`` numbering the rows in input order from ``offset`` (uint32, as
        Polars' ``with_row_index``). Bounded input only: the rows are numbered on one core once
        they are all there (a window function, :meth:`Expr.over`).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"a": ["x", "y"]}).with_row_index().collect().to_pylist()
        [{'index': 0, 'a': 'x'}, {'index': 1, 'a': 'y'}]
        """
        from .datatypes import UInt32
        from .expr import row_number

        self._need_bounded("with_row_index()")
        if not isinstance(name, str):
            raise TypeMismatchError(f"with_row_index takes a column name, got {name!r}")
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise PlanError(f"with_row_index: offset must be a non-negative integer, got {offset!r}")
        have = self.columns
        if name in have:
            raise PlanError(f"with_row_index: the stream already has a column {name!r}; give another name")
        index = (row_number().over() + (offset - 1)).cast(UInt32).alias(name)
        return self.select(index, *[c for c in have if c != "__op"])

    def unnest(self, columns: Any, *more_columns: str) -> Stream:
        """Struct columns replaced, in place, by their fields (named after them), as Polars;
        a field of a null struct is null.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": [1, 2], "user": [{"id": 7, "name": "ann"}, None]})
        >>> s.unnest("user").collect().to_pylist()
        [{'k': 1, 'id': 7, 'name': 'ann'}, {'k': 2, 'id': None, 'name': None}]
        """
        names = _flatten((columns,) + more_columns)
        if not names or not all(isinstance(c, str) for c in names):
            raise TypeMismatchError(f"unnest takes column names, got {columns!r}")
        schema = self.schema
        have = schema.names
        for c in names:
            if c not in have:
                raise ColumnNotFoundError(f"unnest: no column {c!r}; the stream has columns {have}")
            if not pa.types.is_struct(schema.field(c).type):
                raise TypeMismatchError(f"unnest: column {c!r} is {schema.field(c).type}, not a struct")
        out: list[Expr] = []
        for f in schema:
            if f.name in names:
                out += [col(f.name).struct.field(sub.name) for sub in f.type]
            else:
                out.append(col(f.name))
        return self.select(*out)

    def unique(self, subset: Any = None, *, keep: str = "any", order_by: Any = None) -> Stream:
        """One row per distinct value of ``subset`` (default: all columns), as Polars: ``keep``
        is ``"first"``/``"last"`` (the whole first/last row of each value in input order),
        ``"any"``, or ``"none"`` (drop every value that occurs more than once). Rows come in
        input order. ``"first"``/``"any"`` also run on unbounded streams (a row is emitted when
        its value is first seen; the seen values are kept).

        ``order_by`` (columns or expressions) says which row is first or last: the row with
        the smallest (``"first"``) or largest (``"last"``) values of ``order_by`` (nulls
        smallest; tied rows in input order). On an unbounded stream, ``keep="last"`` (with
        or without ``order_by``) and ``keep="first"`` with ``order_by`` are Flink's
        deduplication: an **updating** result (a changelog with an ``__op`` column; see
        docs/changelog.md) that inserts (``+I``) each value's first row and updates it
        (``-U`` of the old row, ``+U`` of the new) when a row that replaces it comes — for
        ``"last"`` a row whose ``order_by`` values are not smaller (without ``order_by``:
        every later row), for ``"first"`` one whose values are smaller. ``keep="last"`` also
        takes an updating stream (a ``group_by`` result): a retracted row leaves and the next
        best row of its value takes its place, as :meth:`top_k`. ``"none"`` needs a bounded
        input.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": [1, 1, 2], "v": [1, 2, 3]})
        >>> s.unique("k", keep="first").collect().to_pylist()
        [{'k': 1, 'v': 1}, {'k': 2, 'v': 3}]
        >>> s.unique("k", keep="none").collect().to_pylist()
        [{'k': 2, 'v': 3}]
        >>> s.unique("k", keep="last", order_by="v").collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 2}, {'k': 2, 'v': 3}]
        >>> g = rb.datagen({"k": rb.Int64, "ts": rb.Timestamp("ms")}, rows_per_second=100)  # unbounded
        >>> g.unique("k", keep="last", order_by="ts").columns
        ['k', 'ts', '__op']
        """
        if keep not in ("any", "first", "last", "none"):
            raise PlanError(f"keep must be 'any', 'first', 'last' or 'none', got {keep!r}")
        have = self.columns
        # an updating stream's op column says what a row does, it is not one of its values
        keys = [c for c in have if not (self._unbounded and c == "__op")] if subset is None else _flatten((subset,))
        for k in keys:
            if not isinstance(k, str):
                raise TypeMismatchError(f"unique subset takes column names, got {k!r}")
            if k not in have:
                raise ColumnNotFoundError(f"unique: no column {k!r}; the stream has columns {have}")
        order = [] if order_by is None else _flatten((order_by,))
        if order and keep not in ("first", "last"):
            raise PlanError(f"unique: order_by says which row is first or last; it takes keep='first' or 'last', "
                             f"not {keep!r}")
        if self._unbounded and (keep == "last" or order):
            return self._rank(1, order, [keep == "last"] * len(order), keys, None, "unique",
                              keep_last=keep == "last", nulls_smallest=True)
        if order:
            # a stable sort puts each value's rows in order_by order, ties in input order
            return self.sort(*order).unique(keys, keep=keep)
        return self._then({"op": "unique", "keys": _exprs(keys, "unique"), "mode": keep})

    # -- planning -----------------------------------------------------------------
    def _plan(self, root: dict[str, Any] | None = None,
              runtime_mode: RuntimeMode | None = None) -> tuple[dict[str, Any], list[_Source]]:
        """The plan document, with scan_arrow nodes numbered by source."""
        return _plan_doc(self._env, [root or self._node], runtime_mode)

    @property
    def schema(self) -> pa.Schema:
        """The schema of the results (validates the pipeline; reads Parquet footers only).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1]}).with_columns((rb.col("x") > 0).alias("positive")).schema
        x: int64
        positive: bool
        """
        plan, srcs = self._plan()
        return _lib.plan_schema(plan, [s.schema for s in srcs])

    @property
    def columns(self) -> list[str]:
        """The names of the result columns.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1]}).with_columns((rb.col("x") * 2).alias("y")).columns
        ['x', 'y']
        """
        return self.schema.names

    def explain(self, *, runtime_mode: RuntimeMode | None = None) -> Plan:
        """The validated logical plan and the physical plan the engine would run (with its
        runtime mode).

        The result is a :class:`~riverbed._display.Plan`, a ``str`` subclass: ``print`` it,
        search it (``"hash from stage 0" in plan``) or compare it as text; in a notebook it
        shows with real line breaks, and as an HTML tree when it is a cell's result.

        Examples
        --------
        >>> import riverbed as rb
        >>> plan = rb.from_pydict({"x": [1, 2]}).filter(rb.col("x") > 1).explain()
        >>> print(plan)  # doctest: +ELLIPSIS
        logical plan:
          filter...
        >>> "physical plan" in plan
        True
        """
        plan, srcs = self._plan(runtime_mode=runtime_mode)
        return Plan(_lib.plan_explain(plan, [s.schema for s in srcs]))

    def _repr_html_(self) -> str:
        try:
            return plan_html(self.explain())
        except RiverbedError as e:
            return plan_html(f"invalid pipeline: {e}")

    def __repr__(self) -> str:
        return f"<riverbed.Stream {self._node['op']}>"

    # -- running ------------------------------------------------------------------
    def _start(self, root: dict[str, Any] | None = None, runtime_mode: RuntimeMode | None = None,
               extra: dict[str, Any] | None = None) -> _lib.JobHandle:
        _lib.check_fork()
        plan, srcs = _plan_doc(self._env, [root or self._node], runtime_mode, extra)
        errors: list[BaseException] = []
        readers = [s.reader(i, errors) for i, s in enumerate(srcs)]
        handle = _lib.JobHandle(plan, readers)
        handle.input_errors = errors
        handle.nodes = root or self._node  # keeps the plan's functions registered while it runs
        return handle

    def start(self, *, runtime_mode: RuntimeMode | None = None,
              restore: str | os.PathLike[str] | None = None, allow_non_restored_state: bool = False,
              allow_plan_change: bool = False) -> Job:
        """Start the pipeline and return at once with a :class:`Job` (results, metrics,
        checkpoints, savepoints, stop).

        This is how unbounded streams run; a bounded one may be started too (in batch mode,
        event-time results come when the input ends; pass ``runtime_mode="streaming"`` to
        get them as watermarks pass, as a live job would).

        ``restore="latest"`` resumes from the newest checkpoint in the environment's
        ``checkpoint_dir`` (or starts afresh if there is none); a path resumes from that
        checkpoint or savepoint, at any parallelism. ``allow_non_restored_state=True`` drops
        state of operators the plan no longer has (else it is an error naming them);
        ``allow_plan_change=True`` restores a checkpoint of a plan that reads other sources.
        See docs/fault-tolerance.md.

        Examples
        --------
        >>> import riverbed as rb
        >>> job = rb.datagen({"id": rb.Int64}, rows_per_second=1000).start()
        >>> next(job.results(timeout="60s")).num_rows > 0
        True
        >>> job.stop()
        >>> job.status
        'finished'
        """
        from .job import Job

        extra = _restore_options(restore, allow_non_restored_state, allow_plan_change)
        extra["savepoints"] = True  # the Job can take them: no broadcast join unless asked
        return Job(self._start(runtime_mode=runtime_mode, extra=extra), self._env._buffer_bytes)

    def uid(self, name: str) -> Stream:
        """Name the operator that made this stream with a stable id, under which its state
        is kept in checkpoints and savepoints (as Flink's ``uid``). Without one, an operator's
        id is its kind and its rank among the operators of that kind in the plan
        (``"window_agg-0"``), which adding or removing operators of other kinds leaves
        unchanged. Give stateful operators (windows, joins, dedup, top-N, aggregations,
        sinks) a uid when a job's plan may change between a savepoint and its restore.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": [1, 1, 2]}).group_by("k").agg(rb.count().alias("n")).uid("counts")
        >>> s.collect().num_rows
        2
        """
        if not isinstance(name, str) or not name:
            raise PlanError(f"uid takes a non-empty string, got {name!r}")
        self._node["uid"] = name
        return self

    def _check_bounded(self, what: str) -> None:
        if self._unbounded:
            raise PlanError(f"{what} needs a bounded stream, and this one is unbounded: use .start() and "
                            "job.results(), or bound the source (max_events / number_of_rows) or add .limit(n)")

    def collect(self, *, progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                restore: str | os.PathLike[str] | None = None, allow_non_restored_state: bool = False,
                allow_plan_change: bool = False) -> pa.Table:
        """Run the pipeline and return the results as a ``pyarrow.Table``.

        Parameters
        ----------
        progress
            Show a progress bar (rows and files read) while the job runs. ``None`` (the
            default) shows it for jobs that take longer than a moment, unless
            ``RIVERBED_PROGRESS=0`` is set.
        runtime_mode
            Override the environment's runtime mode for this run (see :class:`Environment`).
            If a streaming run drops late rows, a :class:`LateRowsWarning` says how many.
        restore, allow_non_restored_state, allow_plan_change
            Resume from a checkpoint or savepoint (see :meth:`start`). The table then holds
            the rows produced after it.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2]}).collect()
        pyarrow.Table
        x: int64
        ----
        x: [[1,2]]
        """
        self._check_bounded("collect()")
        job = self._start(runtime_mode=runtime_mode,
                          extra=_restore_options(restore, allow_non_restored_state, allow_plan_change))
        return _run_to_end(job, progress)

    def to_arrow(self, *, progress: bool | None = None, runtime_mode: RuntimeMode | None = None) -> pa.Table:
        """Alias of :meth:`collect`.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2]}).to_arrow().num_rows
        2
        """
        return self.collect(progress=progress, runtime_mode=runtime_mode)

    def to_pandas(self, *, progress: bool | None = None, runtime_mode: RuntimeMode | None = None) -> pandas.DataFrame:
        """Run the pipeline and return a pandas DataFrame (pandas is imported only here).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2]}).to_pandas()["x"].tolist()
        [1, 2]
        """
        return self.collect(progress=progress, runtime_mode=runtime_mode).to_pandas()

    def to_polars(self, *, progress: bool | None = None, runtime_mode: RuntimeMode | None = None) -> polars.DataFrame:
        """Run the pipeline and return a polars DataFrame (polars is imported only here).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2]}).to_polars()["x"].to_list()
        [1, 2]
        """
        import polars as pl

        return pl.from_arrow(self.collect(progress=progress, runtime_mode=runtime_mode))  # type: ignore[return-value]

    def to_reader(self, *, runtime_mode: RuntimeMode | None = None) -> pa.RecordBatchReader:
        """Run the pipeline and stream its results batch by batch (no progress bar).

        Batches are read ahead up to a quarter of the environment's ``buffer_bytes``. Ctrl-C
        (KeyboardInterrupt) while iterating cancels the job, as does closing the reader or
        dropping it before its end. A streaming run that dropped late rows warns
        (:class:`LateRowsWarning`) at the end of the stream.

        Examples
        --------
        >>> import riverbed as rb
        >>> reader = rb.from_pydict({"x": [1, 2, 3]}).to_reader()
        >>> sum(batch.num_rows for batch in reader)
        3
        """
        self._check_bounded("to_reader()")
        from .job import _Results

        job = self._start(runtime_mode=runtime_mode)
        try:
            res = _Results(job, max(1, self._env._buffer_bytes // 4))
        except BaseException:
            job.free()
            raise
        return pa.RecordBatchReader.from_batches(res.schema, _stream_batches(job, res))

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """Arrow PyCapsule stream of the results: pyarrow, polars and DuckDB read it directly.

        The pipeline runs to its end first, as :meth:`collect` (so that Ctrl-C while it runs
        raises KeyboardInterrupt in the caller, which an Arrow C stream could not carry);
        use :meth:`to_reader` to consume results while they are produced."""
        self._check_bounded("reading a stream through the Arrow PyCapsule interface (pa.table(stream))")
        return self.collect().__arrow_c_stream__(requested_schema)

    @overload
    def write_parquet(self, path: str | os.PathLike[str], *, mode: WriteMode = "error",
                      max_rows_per_file: int | None = None, max_bytes_per_file: int | None = None,
                      rollover_interval: Duration | None = None,
                      progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                      lazy: Literal[False] = False, restore: str | os.PathLike[str] | None = None,
                      allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> pa.Table: ...

    @overload
    def write_parquet(self, path: str | os.PathLike[str], *, mode: WriteMode = "error",
                      max_rows_per_file: int | None = None, max_bytes_per_file: int | None = None,
                      rollover_interval: Duration | None = None,
                      progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                      lazy: Literal[True], restore: str | os.PathLike[str] | None = None,
                      allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> Stream: ...

    def write_parquet(self, path: str | os.PathLike[str], *, mode: WriteMode = "error",
                      max_rows_per_file: int | None = None, max_bytes_per_file: int | None = None,
                      rollover_interval: Duration | None = None,
                      progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                      lazy: bool = False, restore: str | os.PathLike[str] | None = None,
                      allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> pa.Table | Stream:
        """Run the pipeline and write the results as Parquet files into directory ``path``.

        Files are written under hidden names (``.part-….parquet.inprogress``, which
        ``pyarrow.dataset``, DuckDB's ``*.parquet`` globs and :func:`read_parquet` skip) and
        renamed into place only when committed, so readers of the directory never see a
        partial or duplicated file. A bounded job commits once, at the end, when the whole
        job has succeeded: every file of every parallel subtask as one atomic commit (a
        failure rolls it back; a crash is completed by the next job that writes into the
        directory). An unbounded job (``lazy=True``, then ``.start()``) commits at each
        completed checkpoint when checkpointing is on (exactly once across failures and
        restores), and otherwise only when it ends by ``job.stop()``; see the streaming
        guide.

        ``mode`` says what to do when ``path`` already holds Parquet files (any that
        ``read_parquet(path)`` would read, in subdirectories too): ``"error"`` (default),
        ``"append"`` (refused with a ``SchemaError`` naming the column when the new data's
        columns or types differ from the files') or ``"overwrite"`` (the old files, in
        subdirectories too, are removed in the same commit). Parallel subtasks that produce no rows write no
        file; a job with no rows at all writes one empty file (unless appending to existing
        files), so that the directory reads back as an empty table with the pipeline's
        schema. The Arrow schema is stored in each file as pyarrow does, so types such as
        time zones survive.

        Parameters
        ----------
        max_rows_per_file
            Begin a new file once one holds this many rows (as pyarrow's
            ``write_dataset``).
        max_bytes_per_file
            Begin a new file once one's estimated size reaches this many bytes (the
            estimate counts data before compression, so files usually end up smaller).
        rollover_interval
            Begin a new file when one has been open this long (``"15m"``, a ``timedelta``
            or milliseconds), as Flink's rolling policy. Checkpoints also close the open
            files.

        Returns a table of the files written (``path``, ``rows``). ``runtime_mode``
        overrides the environment's (see :class:`Environment`).

        With ``lazy=True`` nothing runs yet: the sink is returned as a stream (of that
        summary table) to run with others as one job, as Polars' ``sink_parquet(lazy=True)``
        or a Flink statement set: ``rb.collect_all([a.write_parquet(p1, lazy=True),
        b.write_parquet(p2, lazy=True)])`` reads their common input once; a lazy sink can
        also be run with :meth:`start` (checkpoints, savepoints, ``restore=``).

        ``restore=`` resumes from a checkpoint or savepoint (see :meth:`start`).

        Examples
        --------
        >>> import riverbed as rb, pyarrow.parquet as pq, tempfile
        >>> out = tempfile.mkdtemp()
        >>> files = rb.from_pydict({"x": [1, 2, 3]}).write_parquet(out)
        >>> sum(files["rows"].to_pylist())
        3
        >>> sorted(pq.read_table(out)["x"].to_pylist())
        [1, 2, 3]
        """
        return self._write_files("write_parquet", path, mode, max_rows_per_file, max_bytes_per_file,
                                 rollover_interval, progress, runtime_mode, lazy, restore,
                                 allow_non_restored_state, allow_plan_change)

    @overload
    def write_parquet_snapshot(self, path: str | os.PathLike[str], *, keep: int = 3,
                               mode: Literal["error", "overwrite"] = "error", progress: bool | None = None,
                               runtime_mode: RuntimeMode | None = None, lazy: Literal[False] = False,
                               restore: str | os.PathLike[str] | None = None, allow_non_restored_state: bool = False,
                               allow_plan_change: bool = False) -> pa.Table: ...

    @overload
    def write_parquet_snapshot(self, path: str | os.PathLike[str], *, keep: int = 3,
                               mode: Literal["error", "overwrite"] = "error", progress: bool | None = None,
                               runtime_mode: RuntimeMode | None = None, lazy: Literal[True],
                               restore: str | os.PathLike[str] | None = None, allow_non_restored_state: bool = False,
                               allow_plan_change: bool = False) -> Stream: ...

    def write_parquet_snapshot(self, path: str | os.PathLike[str], *, keep: int = 3,
                               mode: Literal["error", "overwrite"] = "error", progress: bool | None = None,
                               runtime_mode: RuntimeMode | None = None, lazy: bool = False,
                               restore: str | os.PathLike[str] | None = None, allow_non_restored_state: bool = False,
                               allow_plan_change: bool = False) -> pa.Table | Stream:
        """Write the **table** the stream makes, whole, as a Parquet snapshot at each
        checkpoint (for an updating stream: its changes applied; see docs/changelog.md).

        Where :meth:`write_parquet` of a changelog writes its change rows (a log), this sink
        keeps the result table (``+I``/``+U`` add a row, ``-U``/``-D`` remove one equal row;
        an append-only stream only adds) and, at every completed checkpoint, writes it into
        ``path/snapshot-<checkpoint id>/`` (one ``part-….parquet`` per parallel subtask,
        without the ``__op`` column), then points the file ``path/_latest`` at it. A
        snapshot is written under a hidden name and renamed into place only once its
        checkpoint is complete, so a reader never sees a partial one; after a restore the
        restored checkpoint's snapshot is the latest and newer ones are removed. The newest
        ``keep`` snapshots are kept, older ones removed. A job without checkpoints writes
        the table once, when its input ends, as ``snapshot-0``.

        The table is keyed state (by key group of the changelog's key, or of the whole
        row), so it is checkpointed, restored at any parallelism and, with
        ``state_backend="pebble"``, spilled to disk. A ``-U``/``-D`` of a row the table
        does not hold fails the job with a ``DataError`` naming the sink.

        ``mode`` says what to do when ``path`` holds snapshots already and the job does not
        restore: ``"error"`` (default) or ``"overwrite"`` (they are removed when the job
        starts). Returns a table of the rows of the final table per subtask (``path``,
        ``rows``); ``lazy=True`` returns the sink as a stream to :meth:`start`.

        Read the latest snapshot with :func:`read_parquet_snapshot` (or
        ``pyarrow.dataset.dataset(path / open(path / "_latest").read().strip())``).

        Examples
        --------
        >>> import riverbed as rb, tempfile
        >>> out = tempfile.mkdtemp()
        >>> _ = rb.from_pydict({"k": [1, 1, 2]}).write_parquet_snapshot(out)
        >>> sorted(rb.read_parquet_snapshot(out).collect()["k"].to_pylist())
        [1, 1, 2]
        """
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
            raise PlanError(f"keep must be a positive int, got {keep!r}")
        if mode not in ("error", "overwrite"):
            raise PlanError(f"mode must be 'error' or 'overwrite', got {mode!r}")
        root: dict[str, Any] = {"op": "write_parquet_snapshot", "path": os.fspath(path), "mode": mode,
                                "keep": keep, "input": self._node}
        if lazy:
            return Stream(self._env, root, self._sources, unbounded=self._unbounded)
        if self._unbounded:
            raise PlanError("write_parquet_snapshot() runs a bounded stream to its end, and this one is unbounded: "
                            "use write_parquet_snapshot(path, lazy=True).start() with checkpoints (a snapshot is "
                            "written at each one), or bound the source")
        job = self._start(root, runtime_mode, _restore_options(restore, allow_non_restored_state, allow_plan_change))
        return _run_to_end(job, progress)

    @overload
    def write_csv(self, path: str | os.PathLike[str], *, mode: WriteMode = "error", include_header: bool = True,
                  separator: str = ",", null_value: str = "", max_rows_per_file: int | None = None,
                  max_bytes_per_file: int | None = None, rollover_interval: Duration | None = None,
                  progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                  lazy: Literal[False] = False, restore: str | os.PathLike[str] | None = None,
                  allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> pa.Table: ...

    @overload
    def write_csv(self, path: str | os.PathLike[str], *, mode: WriteMode = "error", include_header: bool = True,
                  separator: str = ",", null_value: str = "", max_rows_per_file: int | None = None,
                  max_bytes_per_file: int | None = None, rollover_interval: Duration | None = None,
                  progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                  lazy: Literal[True], restore: str | os.PathLike[str] | None = None,
                  allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> Stream: ...

    def write_csv(self, path: str | os.PathLike[str], *, mode: WriteMode = "error", include_header: bool = True,
                  separator: str = ",", null_value: str = "", max_rows_per_file: int | None = None,
                  max_bytes_per_file: int | None = None, rollover_interval: Duration | None = None,
                  progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                  lazy: bool = False, restore: str | os.PathLike[str] | None = None,
                  allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> pa.Table | Stream:
        """Run the pipeline and write the results as CSV files (``part-….csv``) into
        directory ``path``, as :meth:`write_parquet` writes Parquet: the same ``mode``,
        rolling (``max_rows_per_file``, ...), ``lazy``, ``restore`` and the same commits
        (files appear only when committed, at the end of a bounded job or exactly once at
        each completed checkpoint of a streaming one).

        Each file begins with a header unless ``include_header=False``. Values are written
        as arrow-go's CSV writer prints them (what :func:`read_csv`, pyarrow, Polars and
        DuckDB read back): floats in the shortest form that reads back exactly, timestamps
        as ``2024-01-02 03:04:05.678`` (with the zone offset when the column has a zone),
        dates as ``YYYY-MM-DD``; strings are quoted when they hold the separator, a quote
        or a line break. A null is ``null_value`` (default: the empty field, so an empty
        string also reads back as null). Binary, duration and nested columns are refused
        (``TypeMismatchError`` naming the column); cast them first. With ``mode="append"``
        the existing CSV files must have as many columns (and, in their header, the same
        names in order). Returns a table of the files written (``path``, ``rows``).

        Examples
        --------
        >>> import riverbed as rb, tempfile, os
        >>> d = os.path.join(tempfile.mkdtemp(), "out")
        >>> _ = rb.from_pydict({"x": [1, 2], "s": ["a,b", None]}).write_csv(d)
        >>> rb.read_csv(d).collect().to_pylist()
        [{'x': 1, 's': 'a,b'}, {'x': 2, 's': None}]
        """
        from .textfiles import write_text

        text: dict[str, Any] = {}
        write_text(text, include_header, separator, null_value)
        return self._write_files("write_csv", path, mode, max_rows_per_file, max_bytes_per_file,
                                 rollover_interval, progress, runtime_mode, lazy, restore,
                                 allow_non_restored_state, allow_plan_change, text.get("text"))

    @overload
    def write_ndjson(self, path: str | os.PathLike[str], *, mode: WriteMode = "error",
                     max_rows_per_file: int | None = None, max_bytes_per_file: int | None = None,
                     rollover_interval: Duration | None = None,
                     progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                     lazy: Literal[False] = False, restore: str | os.PathLike[str] | None = None,
                     allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> pa.Table: ...

    @overload
    def write_ndjson(self, path: str | os.PathLike[str], *, mode: WriteMode = "error",
                     max_rows_per_file: int | None = None, max_bytes_per_file: int | None = None,
                     rollover_interval: Duration | None = None,
                     progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                     lazy: Literal[True], restore: str | os.PathLike[str] | None = None,
                     allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> Stream: ...

    def write_ndjson(self, path: str | os.PathLike[str], *, mode: WriteMode = "error",
                     max_rows_per_file: int | None = None, max_bytes_per_file: int | None = None,
                     rollover_interval: Duration | None = None,
                     progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                     lazy: bool = False, restore: str | os.PathLike[str] | None = None,
                     allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> pa.Table | Stream:
        """Run the pipeline and write the results as newline-delimited JSON files
        (``part-….ndjson``, one object per row) into directory ``path``, with the modes,
        rolling and commits of :meth:`write_parquet`.

        Values are written in the forms :func:`read_ndjson` reads back: nulls as ``null``,
        timestamps as RFC 3339 text in UTC, dates as ``YYYY-MM-DD``, binary as base64,
        structs as objects and lists as arrays. NaN and infinity, which JSON cannot hold,
        are a :class:`DataError` naming the column and row; decimal and duration columns
        are refused (cast them first). Returns a table of the files written.

        Examples
        --------
        >>> import riverbed as rb, tempfile, os
        >>> d = os.path.join(tempfile.mkdtemp(), "out")
        >>> _ = rb.from_pydict({"x": [1, None]}).write_ndjson(d)
        >>> rb.read_ndjson(d).collect()["x"].to_pylist()
        [1, None]
        """
        return self._write_files("write_ndjson", path, mode, max_rows_per_file, max_bytes_per_file,
                                 rollover_interval, progress, runtime_mode, lazy, restore,
                                 allow_non_restored_state, allow_plan_change)

    def _write_files(self, op: str, path: str | os.PathLike[str], mode: WriteMode,
                     max_rows_per_file: int | None, max_bytes_per_file: int | None,
                     rollover_interval: Duration | None, progress: bool | None, runtime_mode: RuntimeMode | None,
                     lazy: bool, restore: str | os.PathLike[str] | None, allow_non_restored_state: bool,
                     allow_plan_change: bool, text: dict[str, Any] | None = None) -> pa.Table | Stream:
        from .window import duration

        if mode not in ("error", "append", "overwrite"):
            raise PlanError(f"mode must be 'error', 'append' or 'overwrite', got {mode!r}")
        root: dict[str, Any] = {"op": op, "path": os.fspath(path), "mode": mode, "input": self._node}
        if text:
            root["text"] = text
        for name, limit in (("max_rows_per_file", max_rows_per_file), ("max_bytes_per_file", max_bytes_per_file)):
            if limit is None:
                continue
            if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
                raise PlanError(f"{name} must be a positive int, got {limit!r}")
            root[name] = limit
        if rollover_interval is not None:
            root["rollover_interval"] = duration(rollover_interval, "rollover_interval")
        if self._unbounded and mode == "overwrite":
            raise PlanError(f"{op}(mode='overwrite') needs a bounded stream: an unbounded job's files "
                            "would sit beside the old ones until it ends; empty the directory first")
        if lazy:
            return Stream(self._env, root, self._sources, unbounded=self._unbounded)
        if self._unbounded:
            raise PlanError(f"{op}() runs a bounded stream to its end, and this one is unbounded: use "
                            f"{op}(path, lazy=True).start() (with checkpoints, files are committed at "
                            "each checkpoint), or bound the source (max_events / number_of_rows) or add .limit(n)")
        job = self._start(root, runtime_mode, _restore_options(restore, allow_non_restored_state, allow_plan_change))
        return _run_to_end(job, progress)

    def write_kafka(self, brokers: str | Sequence[str], topic: str, *,
                    format: Literal["json", "avro", "raw", "arrow"] = "json",
                    key: str | Expr | Sequence[str] | None = None, partition_by: str | Sequence[str] | None = None,
                    delivery_guarantee: DeliveryGuarantee | None = None, guarantee: DeliveryGuarantee | None = None,
                    transactional_id_prefix: str | None = None, options: dict[str, Any] | None = None,
                    progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                    lazy: bool = False, upsert: bool = False,
                    partitioner: Literal["default", "fixed", "round-robin"] = "default",
                    schema_registry: str | None = None, schema: Any = None,
                    subject_name_strategy: Literal["topic", "record", "topic_record"] | None = None) -> Any:
        """Write the results to a Kafka topic (Flink's ``KafkaSink``), one record per row.

        ``format``: ``"json"`` (one object per row, in the form ``read_kafka`` reads back),
        ``"avro"`` (one binary Avro datum per row, of a record schema named ``row`` derived
        from the columns: see docs/kafka.md; or of the Avro record schema ``schema=``, a dict
        or JSON text, whose fields the columns are matched to by name at any depth, a
        field without a column taking its default), ``"raw"`` (the one binary or string column
        besides the key) or ``"arrow"`` (an Arrow IPC stream per batch). With
        ``schema_registry="http://host:8081"`` (``format="avro"``), the schema is registered
        under the subject ``<topic>-value`` (or found there) when the job starts, and each
        value is in Confluent's wire format (a 0 byte, the 4-byte schema id, the datum), as
        Confluent's ``KafkaAvroSerializer`` writes it; ``subject_name_strategy`` names that
        subject as the serializers' ``value.subject.name.strategy``: ``"topic"`` (default,
        ``<topic>-value``), ``"record"`` (the record's full name) or ``"topic_record"``
        (``<topic>-<full name>``). Credentials in the registry's URL
        (``http://user:password@host:8081``) are sent as HTTP basic authentication.
        ``key`` names the column that gives each record its key (its bytes if binary or
        string, else its JSON text), or a list of columns (the key is then
        a JSON object of them, as Flink's ``key.fields``), or is an expression of the
        columns, computed in the engine for each row and written as a column would be
        (``key=col("user").cast(rb.String)``, ``key=rb.concat_str([col("user"),
        col("region")], separator="/")``; a null makes no key). Records are partitioned by key
        (murmur2, as the Java client), unless ``partition_by`` names the column(s) whose
        values choose the partition: rows with equal values go to one partition
        (murmur2 of the values encoded as a key of those columns, modulo the partition
        count), whatever their key.

        ``partitioner`` (Flink's ``sink.partitioner``): ``"default"`` partitions by key as
        above (keyless records go a batch at a time to one partition, sticky), ``"fixed"``
        writes every record of parallel subtask *i* to partition *i* modulo the partition
        count, ``"round-robin"`` sends each subtask's records to partitions 0, 1, ...,
        n-1, 0, ... in turn, whatever their key (the key is still written). Neither of the
        last two goes with ``partition_by`` or ``upsert``.

        ``delivery_guarantee`` (Flink's ``DeliveryGuarantee`` and SQL's
        ``sink.delivery-guarantee``; ``guarantee=`` is the same option, shorter, and the
        values may be spelled with underscores, ``"exactly_once"``): ``"at-least-once"`` (default; every record
        is acknowledged by the in-sync replicas before the job, or a checkpoint, completes),
        ``"exactly-once"`` (Kafka transactions, one per parallel subtask and checkpoint,
        committed when the checkpoint completes; a bounded job commits when it has
        succeeded and aborts if it fails, so ``read_committed`` consumers see every row
        exactly once; needs ``transactional_id_prefix``, unique to the job) or ``"none"``.
        ``options`` are Kafka client properties (see :func:`riverbed.read_kafka`) and
        ``transaction.timeout.ms``, ``compression.type``, ``linger.ms``, ``batch.size``,
        ``delivery.timeout.ms`` (a record not delivered by then, say to a broker that is
        down, fails the write with the topic and the last error: 2 minutes by default).

        ``upsert=True`` writes an updating stream (a group_by over an unbounded input, or a
        join of such results on their group keys, see docs/changelog.md) as Flink's
        upsert-kafka: the record key is the group key (the join key) — one column's value,
        or, for several columns, a JSON object of them in key order (``{"a":1,"b":"x"}``,
        in formats ``json`` and ``raw`` alike) — ``+I`` and ``+U`` rows are written as the
        key's new value (without ``__op``), ``-D`` rows as a record with a null value (a
        tombstone), ``-U`` rows not at all (after a filter, a ``-U`` whose ``+U`` it dropped is a
        tombstone: the key left the result); a compacted topic then holds the result table.
        Without it, an updating stream is refused.

        A stream with an event time writes each row's event time as its record's Kafka
        timestamp (as Flink's KafkaSink); other records get the time of writing.

        Runs the (bounded) pipeline and returns a table of what each subtask wrote (``topic``,
        ``rows``, ``records``: the Kafka records, one per row or, in format ``arrow``, per
        batch). A missing topic is created if the broker allows it, as the Java producer does.
        With ``lazy=True`` nothing runs yet: the sink is returned as a
        stream to ``.start()`` (an unbounded pipeline) or to run with others in
        :func:`collect_all` (e.g. the rows and the dead letters of a Kafka read).

        Examples
        --------
        Building the sink contacts no broker; running it (``.start()``, or without ``lazy``) does:

        >>> import riverbed as rb
        >>> sink = rb.from_pydict({"id": [1, 2]}).write_kafka("localhost:9092", "ids", key="id", lazy=True)
        >>> sink.columns
        ['topic', 'rows', 'records']
        >>> keyed = rb.from_pydict({"id": [1, 2]}).write_kafka("localhost:9092", "ids", lazy=True,
        ...                                                    key=rb.concat_str([rb.lit("id-"), rb.col("id")]))
        >>> "key concat_str" in keyed.explain()
        True
        >>> spread = rb.from_pydict({"id": [1, 2]}).write_kafka("localhost:9092", "ids", partitioner="round-robin",
        ...                                                     lazy=True)
        >>> "partitioner round-robin" in spread.explain()
        True
        >>> avro = rb.from_pydict({"id": [1, 2]}).write_kafka("localhost:9092", "ids", format="avro",
        ...                                                   schema_registry="http://localhost:8081", lazy=True)
        >>> "schema registry http://localhost:8081" in avro.explain()
        True
        >>> mine = {"type": "record", "name": "Id", "fields": [{"name": "id", "type": "long"},
        ...                                                   {"name": "src", "type": "string", "default": "batch"}]}
        >>> own = rb.from_pydict({"id": [1, 2]}).write_kafka("localhost:9092", "ids", format="avro", schema=mine,
        ...                                                  lazy=True)
        >>> "Avro schema Id" in own.explain()
        True
        """
        from .kafka import write_kafka_node

        if guarantee is not None:
            if delivery_guarantee is not None:
                raise TypeMismatchError(
                    "write_kafka takes delivery_guarantee= or guarantee= (the same option), not both")
            delivery_guarantee = guarantee
        root = write_kafka_node(brokers, topic, format, key, delivery_guarantee, transactional_id_prefix, options,
                                upsert, partition_by, partitioner, schema_registry, schema, subject_name_strategy)
        root["input"] = self._node
        if lazy:
            return Stream(self._env, root, self._sources, unbounded=self._unbounded)
        self._check_bounded("write_kafka() (use lazy=True and .start() for an unbounded stream)")
        job = self._start(root, runtime_mode)
        return _run_to_end(job, progress)


def collect_all(streams: Sequence[Stream], *, progress: bool | None = None,
                runtime_mode: RuntimeMode | None = None, restore: str | os.PathLike[str] | None = None,
                allow_non_restored_state: bool = False, allow_plan_change: bool = False) -> list[pa.Table]:
    """Run several streams as one job and return their results, one ``pyarrow.Table``
    each, in order (as Polars' ``collect_all``).

    What the streams share is computed once: a source they read is read once and fanned
    out, so a window result and its late rows come from one run
    (``rb.collect_all([result, result.late()])``: the late rows are exactly those the
    window dropped), and sinks made with ``write_parquet(..., lazy=True)`` write together
    (a Flink statement set), each giving its table of files written.

    Examples
    --------
    >>> import riverbed as rb
    >>> from riverbed import col
    >>> s = rb.from_pydict({"x": [1, 2, 3, 4]})
    >>> small, large = rb.collect_all([s.filter(col("x") <= 2), s.filter(col("x") > 2)])
    >>> small["x"].to_pylist(), large["x"].to_pylist()
    ([1, 2], [3, 4])
    """
    streams = list(streams)
    if not streams:
        return []
    for s in streams:
        if not isinstance(s, Stream):
            raise TypeMismatchError(f"collect_all takes streams, got {type(s).__name__}")
        s._check_bounded("collect_all()")
    env = streams[0]._env
    _lib.check_fork()
    plan, srcs = _plan_doc(env, [s._node for s in streams], runtime_mode,
                           _restore_options(restore, allow_non_restored_state, allow_plan_change))
    errors: list[BaseException] = []
    readers = [src.reader(i, errors) for i, src in enumerate(srcs)]
    job = _lib.JobHandle(plan, readers)
    job.input_errors = errors
    try:
        batches = _run_outputs(job, len(streams), progress)
        if not any(s._node.get("output") == "late" for s in streams):
            _warn_late(job)
    finally:
        job.free()
    tables = []
    for s, bs in zip(streams, batches):
        schema = bs[0].schema if bs else s.schema
        tables.append(pa.Table.from_batches(bs, schema=schema))
    return tables


def start_all(streams: Sequence[Stream], *, runtime_mode: RuntimeMode | None = None,
              restore: str | os.PathLike[str] | None = None, allow_non_restored_state: bool = False,
              allow_plan_change: bool = False) -> MultiJob:
    """Start several streams as one job and return at once with a
    :class:`~riverbed.job.MultiJob`, whose ``results()`` yields ``(output, batch)`` pairs
    (``output`` is the stream's index in ``streams``). This is :func:`collect_all` for
    unbounded streams: the rows and the dead letters of one unbounded Kafka read
    (``rb.start_all([s, s.dead_letters()])``), a window result and its late rows, or
    several lazy sinks, computed in one run, a shared source read once. ``restore`` and
    the other options are those of :meth:`Stream.start`.

    Examples
    --------
    >>> import riverbed as rb
    >>> from riverbed import col
    >>> s = rb.from_pydict({"x": [1, 2, 3, 4]})
    >>> job = rb.start_all([s.filter(col("x") <= 2), s.filter(col("x") > 2)])
    >>> [t["x"].to_pylist() for t in job.collect()]
    [[1, 2], [3, 4]]
    """
    from .job import MultiJob

    streams = list(streams)
    if not streams:
        raise PlanError("start_all needs at least one stream")
    for s in streams:
        if not isinstance(s, Stream):
            raise TypeMismatchError(f"start_all takes streams, got {type(s).__name__}")
    env = streams[0]._env
    _lib.check_fork()
    schemas = [s.schema for s in streams]
    plan, srcs = _plan_doc(env, [s._node for s in streams], runtime_mode,
                           _restore_options(restore, allow_non_restored_state, allow_plan_change))
    errors: list[BaseException] = []
    readers = [src.reader(i, errors) for i, src in enumerate(srcs)]
    handle = _lib.JobHandle(plan, readers)
    handle.input_errors = errors
    handle.nodes = [s._node for s in streams]  # keeps the plan's functions registered while it runs
    return MultiJob(handle, len(streams), schemas, env._buffer_bytes)


def _run_outputs(job: _lib.JobHandle, n: int, progress: bool | None) -> list[list[pa.RecordBatch]]:
    """Read every result batch of a job with several outputs, by output. A background
    thread reads them (so that Ctrl-C here cancels the job at once)."""
    import queue

    q: queue.Queue[Any] = queue.Queue()

    def pump() -> None:
        try:
            while (item := job.next_output()) is not None:
                q.put(item)
            q.put(None)
        except BaseException as e:  # noqa: BLE001 (handed to the caller)
            q.put(e)

    t = threading.Thread(target=pump, name=f"riverbed-job-{job.id}", daemon=True)
    t.start()
    out: list[list[pa.RecordBatch]] = [[] for _ in range(n)]
    show = progress
    if show is None:
        show = os.environ.get("RIVERBED_PROGRESS", "1") not in ("0", "false", "no")
    bar = None
    try:
        while True:
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                if show:
                    bar = progress_bar(bar, job.progress(), explicit=progress is True)
                continue
            if item is None:
                break
            if isinstance(item, BaseException):
                if job.input_errors and item.__cause__ is None:
                    item.__cause__ = job.input_errors[0]
                raise item
            out[item[0]].append(item[1])
        if bar is not None:
            progress_bar(bar, job.progress(), explicit=True, final=True)
    except BaseException:
        job.cancel()
        t.join()
        raise
    finally:
        if bar is not None:
            bar.close()
    t.join()
    return out


def _plan_doc(env: Environment, roots: list[dict[str, Any]],
              runtime_mode: RuntimeMode | None,
              extra: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[_Source]]:
    """The plan document of one or several outputs, with scan_arrow nodes numbered by
    source. A node reached more than once (a stream used twice, or the input of a window
    and of its late rows) is written once with an ``"id"`` and referred to elsewhere as
    ``{"ref": id}``, so the engine runs it once and fans its output out."""
    index: dict[int, int] = {}
    used: list[_Source] = []
    uses: dict[int, int] = {}

    def count(n: dict[str, Any]) -> None:
        uses[id(n)] = uses.get(id(n), 0) + 1
        if uses[id(n)] > 1:
            return
        for i in ([n["input"]] if "input" in n else []) + list(n.get("inputs", [])):
            count(i)

    for r in roots:
        count(r)
    ids: dict[int, str] = {}

    def walk(n: dict[str, Any]) -> dict[str, Any]:
        if id(n) in ids:
            return {"ref": ids[id(n)]}
        out = {k: v for k, v in n.items() if k not in ("input", "inputs", "_src", "_udf")}
        if uses[id(n)] > 1:
            ids[id(n)] = out["id"] = f"n{len(ids)}"
        if n["op"] == "scan_arrow":
            src = n["_src"]
            if id(src) not in index:
                index[id(src)] = len(used)
                used.append(src)
            out["source"] = index[id(src)]
        if "input" in n:
            out["input"] = walk(n["input"])
        if "inputs" in n:
            out["inputs"] = [walk(i) for i in n["inputs"]]
        return out

    if runtime_mode is not None:
        _check_mode(runtime_mode)
    outs = [walk(r) for r in roots]
    plan: dict[str, Any] = {"version": 1, "options": {**env._options(runtime_mode), **(extra or {})}}
    if len(outs) == 1:
        plan["root"] = outs[0]
    else:
        plan["outputs"] = outs
    return plan, used


def _stream_batches(job: _lib.JobHandle, res: Any) -> Iterable[pa.RecordBatch]:
    from .job import _END

    try:
        while True:
            item = res.get(None)  # interruptible: Ctrl-C cancels the job
            if item is _END:
                res.raise_error()
                _warn_late(job)
                return
            yield item
    finally:
        if not res.done.is_set():  # interrupted, closed or dropped before the end
            res.cancel()
        job.free()


def late_rows_message(ops: list[dict[str, Any]]) -> str | None:
    """The LateRowsWarning text for a finished job's operator metrics, or None."""
    by_op: dict[str, int] = {}
    for o in ops:
        if o.get("late_records") and not o["operator"].endswith(" late rows"):  # .late() outputs them
            by_op[o["operator"]] = by_op.get(o["operator"], 0) + o["late_records"]
    if not by_op:
        return None
    total = sum(by_op.values())
    where = ", ".join(f"{n:,} by {op}" for op, n in by_op.items())
    return (f"{total:,} late rows were dropped ({where}): rows behind the watermark in streaming mode, "
            "or with a null event time. Read a window's late rows with .late() on its result, or run with "
            "runtime_mode=\"batch\" so that every row of a bounded input counts.")


def _warn_late(job: _lib.JobHandle, stacklevel: int = 3) -> None:
    """Warn (LateRowsWarning) if the finished job dropped late rows."""
    msg = late_rows_message(job.metrics()["operators"])
    if msg is not None:
        warnings.warn(msg, LateRowsWarning, stacklevel=stacklevel)


def _run_to_end(job: _lib.JobHandle, progress: bool | None) -> pa.Table:
    """Run a bounded job to its end: its results as a Table, a warning if it dropped late
    rows (pointing at the caller of the method that ran it); the job is freed."""
    try:
        table = _run(job, progress)
        _warn_late(job, stacklevel=4)
        return table
    finally:
        job.free()


#: Seconds a job runs before ``collect()`` shows progress (unless ``progress=True``).
_PROGRESS_DELAY = 0.5


def _run(job: _lib.JobHandle, progress: bool | None) -> pa.Table:
    """Read every result of a job into a Table. The results are read in a background
    thread; this thread waits for them interruptibly, so Ctrl-C cancels the job and raises
    KeyboardInterrupt at once."""
    from .job import _END, _Results

    res = _Results(job, None)
    show = progress
    if show is None:
        show = os.environ.get("RIVERBED_PROGRESS", "1") not in ("0", "false", "no")
    batches: list[pa.RecordBatch] = []
    bar = None
    explicit = progress is True
    started = shown = time.monotonic()

    def due() -> bool:  # a job that ends within a moment shows no progress (and imports no tqdm)
        return bar is not None or explicit or time.monotonic() - started >= _PROGRESS_DELAY

    try:
        if show and due():
            bar = progress_bar(bar, job.progress(), explicit=explicit, started=started)
        while True:
            try:
                item = res.get(0.1 if show else None)
            except TimeoutError:
                item = None
            if show and (item is None or time.monotonic() - shown >= 0.1) and due():
                bar = progress_bar(bar, job.progress(), explicit=explicit, started=started)
                shown = time.monotonic()
            if item is _END:
                break
            if item is not None:
                batches.append(item)
        if bar is not None:
            progress_bar(bar, job.progress(), explicit=True, final=True, started=started,
                         ended="failed" if res.error is not None else "done")
    except BaseException as e:
        if bar is not None:  # the line left in the output says the job did not finish
            try:
                progress_bar(bar, job.progress(), explicit=True, final=True, started=started,
                             ended="cancelled" if isinstance(e, KeyboardInterrupt) else "failed")
            except Exception:  # noqa: BLE001 - the job's own error is the one to raise
                pass
        res.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
    # The reading thread has signalled the end and only returns now: wait for it, so that
    # once collect() returns nothing holds the job's plan (dropping the stream then drops
    # its functions at once, and a process function's close() runs then).
    res.thread.join()
    res.raise_error()
    return pa.Table.from_batches(batches, schema=res.schema)


class KeyedStream:
    """A stream partitioned by key; window it with :meth:`window`."""

    def __init__(self, stream: Stream, keys: list[dict[str, Any]], options: dict[str, Any] | None = None):
        self._stream = stream
        self._keys = keys
        self._options = options or {}

    def window(self, window: Window, *, allowed_lateness: Any = None, window_time: bool = False) -> WindowedStream:
        """Assign each key's rows to windows (``rb.tumbling``, ``rb.sliding``, ``rb.session``,
        ``rb.cumulate``); follow with :meth:`WindowedStream.agg`.

        With ``window_time=True`` the results also have ``window_time``, each window's last
        instant (``window_end`` less one unit of the event-time column: 1 µs of a
        microsecond timestamp, 1 ms of a millisecond one, as Flink SQL's ``window_time``),
        which is their event time: a further ``window(...)`` over them windows by it
        (cascading windows).

        A window fires when the watermark passes its end. ``allowed_lateness`` keeps it open
        that much longer: each late row that still fits re-emits its key's updated result.
        Later rows are dropped and counted (``job.metrics()``, and a
        :class:`LateRowsWarning` from ``collect()``), or read with :meth:`WindowResult.late`.
        All of this is streaming behaviour: in batch mode (the default for bounded input)
        every window fires once, at the end of the input, with all its rows.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> s = rb.from_pydict({"user": [1, 2, 1], "ts": [t0, t0, t0 + dt.timedelta(seconds=5)]}, event_time="ts")
        >>> out = s.key_by("user").window(rb.tumbling("1m")).agg(rb.count().alias("n")).collect()
        >>> out.sort_by("user").select(["user", "n"]).to_pylist()
        [{'user': 1, 'n': 2}, {'user': 2, 'n': 1}]
        """
        return WindowedStream(self._stream, self._keys, window, allowed_lateness, window_time)

    def process(self, fn: Any, *, output_schema: Any, state: Any = None, side_outputs: Any = None,
                name: str | None = None) -> ProcessStream:
        """Run a keyed process function: per-key state and timers, as Flink's
        ``KeyedProcessFunction``. See docs/process-functions.md.

        ``fn`` is either an instance of a :class:`rb.KeyedProcessFunction` subclass
        (per element: ``open``, ``process_element``, ``on_timer``; its state is declared in
        ``open``), or a vectorized function that receives a :class:`rb.KeyedBatch` (the
        elements of several keys, their state as Arrow columns, their due timers) and returns
        a :class:`rb.ProcessResult`; its state is declared with ``state=[descriptors]``.
        Both forms have one semantics: elements wait until the watermark passes their event
        time and are processed per key in event-time order, event-time timers fire when the
        watermark passes them (an element at time t before a timer at t), processing-time
        timers when the wall clock does; rows behind the watermark on arrival are dropped
        and counted. State, timers and waiting elements are checkpointed by key group.

        ``output_schema`` (a ``pyarrow.Schema`` or a dict of name to type) declares the
        output columns; ``side_outputs=[rb.OutputTag(...)]`` declares side outputs, read with
        :meth:`ProcessStream.side_output`.

        Examples
        --------
        >>> import riverbed as rb
        >>> class Total(rb.KeyedProcessFunction):
        ...     def open(self, ctx):
        ...         self.total = ctx.get_state(rb.ValueStateDescriptor("total", rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         t = (self.total.value() or 0) + value.x
        ...         self.total.update(t)
        ...         yield (ctx.get_current_key(), t)
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [1, 2, 5]})
        >>> out = s.key_by("k").process(Total(), output_schema={"k": rb.Utf8, "total": rb.Int64}).collect()
        >>> sorted(out.to_pylist(), key=lambda r: (r["k"], r["total"]))
        [{'k': 'a', 'total': 1}, {'k': 'a', 'total': 3}, {'k': 'b', 'total': 5}]
        """
        node, (out_schema, sides) = _process.build_node(fn, [], output_schema, state, side_outputs, name)
        node["keys"] = self._keys
        proc = self._stream._then(node)
        if not sides:
            return ProcessStream(proc._env, proc._node, proc._sources, unbounded=proc._unbounded, proc=proc,
                                 sides=[])
        main = proc.filter(col("__rb_output") == 0).select([col(n) for n in out_schema.names])
        return ProcessStream(main._env, main._node, main._sources, unbounded=main._unbounded, proc=proc,
                             sides=sides)


class ProcessStream(Stream):
    """The main output of a process function; :meth:`side_output` reads its side outputs."""

    def __init__(self, env: Environment, node: dict[str, Any], sources: list[_Source], *, unbounded: bool,
                 proc: Stream, sides: list[Any]):
        super().__init__(env, node, sources, unbounded=unbounded)
        self._proc = proc
        self._sides = sides

    def side_output(self, tag: Any) -> Stream:
        """The rows the function sent to side output ``tag`` (an :class:`rb.OutputTag` given
        in ``side_outputs=``). Run it with the main output in one job
        (``rb.collect_all([out, out.side_output(tag)])``) so the function runs once.

        Examples
        --------
        >>> import riverbed as rb
        >>> neg = rb.OutputTag("negative", {"x": rb.Int64})
        >>> class Split(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         if value.x < 0:
        ...             ctx.output(neg, {"x": value.x})
        ...         else:
        ...             yield {"x": value.x}
        >>> out = rb.from_pydict({"x": [1, -2, 3]}).key_by("x").process(
        ...     Split(), output_schema={"x": rb.Int64}, side_outputs=[neg])
        >>> main, side = rb.collect_all([out, out.side_output(neg)])
        >>> sorted(main["x"].to_pylist()), side["x"].to_pylist()
        ([1, 3], [-2])
        """
        for i, t in enumerate(self._sides):
            if t is tag or t.name == getattr(tag, "name", tag):
                return self._proc.filter(col("__rb_output") == i + 1).select(
                    [col(f"__rb_side{i}_{n}").alias(n) for n in t.schema.names])
        raise PlanError(f"{tag!r} is not a side output of this process function "
                         f"(declared: {[t.name for t in self._sides]})")

    def uid(self, name: str) -> Stream:
        """Name the process function's operator with a stable id (see :meth:`Stream.uid`).

        Examples
        --------
        >>> import riverbed as rb
        >>> f = lambda b: rb.ProcessResult(output=b.elements)
        >>> s = rb.from_pydict({"k": [1]}).key_by("k").process(f, output_schema={"k": rb.Int64}).uid("p")
        >>> s.collect().num_rows
        1
        """
        self._proc.uid(name)
        return self


class WindowedStream:
    """A windowed stream; aggregate each window with :meth:`agg`."""

    def __init__(self, stream: Stream, keys: list[dict[str, Any]], window: Window, allowed_lateness: Any,
                 window_time: bool = False):
        from .window import Window, duration

        if not isinstance(window, Window):
            raise TypeMismatchError(
                f"window takes rb.tumbling(...), rb.sliding(...), rb.session(...) or rb.cumulate(...), "
                            f"got {window!r}")
        self._stream = stream
        self._keys = keys
        self._window = window
        self._lateness = None if allowed_lateness is None else duration(allowed_lateness, "allowed_lateness")
        self._window_time = bool(window_time)
        self._aggs: list[dict[str, Any]] | None = None

    def _node(self, aggs: list[dict[str, Any]], output: str) -> dict[str, Any]:
        node: dict[str, Any] = {"op": "window_agg", "keys": self._keys, "aggs": aggs,
                                "window": self._window._to_plan(), "output": output}
        if self._lateness is not None:
            node["allowed_lateness"] = self._lateness
        if self._window_time and output == "results":
            node["window_time"] = True
        return node

    def top_n(self, n: int, by: str | Expr, *, descending: bool = True, with_ties: bool = False) -> Stream:
        """The top ``n`` rows of each window (and key, on a keyed stream) by ``by``, with
        ``window_start``, ``window_end`` and ``rank`` (1 = first), emitted when the window
        closes.

        Ties are broken deterministically: by ``by`` (nulls last), then by the row's columns
        in schema order (ascending, nulls last), then by input order; ``rank`` is the row
        number. With ``with_ties=True`` every row tied with the n-th is kept too and
        ``rank`` is SQL's ``RANK()`` (tied rows share a rank).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> s = rb.from_pydict({"item": ["a", "b", "c"], "price": [5, 9, 7], "ts": [t0, t0, t0]}, event_time="ts")
        >>> out = s.window(rb.tumbling("1h")).top_n(2, "price").collect()
        >>> out.sort_by("rank").select(["item", "rank"]).to_pylist()
        [{'item': 'b', 'rank': 1}, {'item': 'c', 'rank': 2}]
        """
        if not isinstance(n, int) or n <= 0:
            raise PlanError(f"n must be a positive integer, got {n!r}")
        if self._window_time:
            raise PlanError("window_time=True is an option of window(...).agg(...), not of top_n")
        if self._lateness is not None:
            raise PlanError("allowed_lateness is an option of window(...).agg(...), not of top_n "
                             "(a windowed top_n ranks each window once, when the watermark passes it)")
        node = {"op": "topn", "keys": self._keys, "n": n, "order_by": _exprs([by], "top_n")[0],
                "descending": descending, "window": self._window._to_plan()}
        if with_ties:
            node["with_ties"] = True
        return self._stream._then(node)

    def agg(self, *aggs: Expr | Sequence[Expr], **named: Expr) -> WindowResult:
        """One row per key and window: the keys, ``window_start``, ``window_end`` (and
        ``window_time`` with ``window(..., window_time=True)``) and the aggregations
        (``rb.count()``, ``col("x").sum()``, ``col("x").median()``, ...), computed
        incrementally. Expressions of aggregations are allowed, as in :meth:`GroupBy.agg`.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> s = rb.from_pydict({"user": [1, 1], "amount": [2.0, 3.5], "ts": [t0, t0]}, event_time="ts")
        >>> out = s.key_by("user").window(rb.tumbling("1h")).agg(rb.count().alias("n"), total=rb.col("amount").sum())
        >>> out.collect().select(["user", "n", "total"]).to_pylist()
        [{'user': 1, 'n': 2, 'total': 5.5}]
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": ["a", "a", "b"], "x": [1.0, 4.0, 2.0],
        ...                     "ts": [dt.datetime(2024, 1, 1, 0, 0, s) for s in (1, 2, 3)]}, event_time="ts")
        >>> r = t.key_by("k").window(rb.tumbling("1m")).agg((col("x").max() - col("x").min()).alias("range")).collect()
        >>> sorted(zip(r["k"].to_pylist(), r["range"].to_pylist()))
        [('a', 3.0), ('b', 0.0)]
        """
        items = _flatten(aggs) + [v.alias(k) for k, v in named.items()]
        if not items:
            raise PlanError("agg needs at least one aggregation, e.g. rb.count() or col('x').sum()")
        plan_aggs = _exprs(items, "agg")
        s = self._stream._then(self._node(plan_aggs, "results"))
        return WindowResult(s, self, plan_aggs)


class WindowResult(Stream):
    """The results of a window aggregation (a :class:`Stream`), with access to late rows."""

    def __init__(self, s: Stream, windowed: WindowedStream, aggs: list[dict[str, Any]]):
        super().__init__(s._env, s._node, s._sources, unbounded=s._unbounded)
        self._windowed = windowed
        self._aggs = aggs

    def top_n(self, n: int, by: str | Expr, *, descending: bool = True,
              per: str | Expr | Sequence[str | Expr] | None = None, with_ties: bool = False) -> Stream:
        """The top ``n`` result rows of each window by ``by`` (e.g. the auctions with the most
        bids per window), with a ``rank`` column; ``per`` adds partition columns.

        Ties are broken by the row's columns in schema order (keys first), so the answer is
        the same at any parallelism. ``with_ties=True`` keeps every row tied with the n-th
        (Nexmark q5's ``num >= maxn``: ``top_n(1, "num", with_ties=True)``), ranked as SQL's
        ``RANK()``.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> bids = rb.from_pydict({"auction": [1, 2, 2, 3, 3, 3], "ts": [t0] * 6}, event_time="ts")
        >>> counts = bids.key_by("auction").window(rb.tumbling("1m")).agg(rb.count().alias("n"))
        >>> counts.top_n(1, "n").collect().select(["auction", "n", "rank"]).to_pylist()
        [{'auction': 3, 'n': 3, 'rank': 1}]
        """
        if not isinstance(n, int) or n <= 0:
            raise PlanError(f"n must be a positive integer, got {n!r}")
        keys = _exprs(_flatten((per,)), "top_n") if per is not None else []
        node = {"op": "topn", "keys": keys, "n": n, "order_by": _exprs([by], "top_n")[0], "descending": descending}
        if with_ties:
            node["with_ties"] = True
        return self._then(node)

    def late(self) -> Stream:
        """The input rows that came too late for every window they belong to (the late side
        output), instead of the results. Collected alone it runs the pipeline for them;
        ``rb.collect_all([result, result.late()])`` gets both from one run, reading the
        input once, and the late rows are exactly those the window dropped.

        Rows are late only in streaming mode (``runtime_mode="streaming"``, or an unbounded
        source); in batch mode this holds only rows with a null event time.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> t0 = dt.datetime(2026, 1, 1)
        >>> times = [t0, t0 + dt.timedelta(minutes=5), t0 + dt.timedelta(seconds=10)]  # the last is late
        >>> env = rb.Environment(parallelism=1, batch_size=1)  # one row per batch, as a live source
        >>> s = env.from_pydict({"ts": times, "v": [1, 2, 3]}, event_time="ts")
        >>> counts = s.window(rb.tumbling("1m")).agg(rb.count().alias("n"))
        >>> ok, late = rb.collect_all([counts, counts.late()], runtime_mode="streaming")
        >>> late["v"].to_pylist()
        [3]
        """
        return self._windowed._stream._then(self._windowed._node(self._aggs, "late"))


class GroupBy:
    """A grouped stream; call :meth:`agg` to aggregate each group."""

    def __init__(self, stream: Stream, keys: list[dict[str, Any]], options: dict[str, Any] | None = None):
        self._stream = stream
        self._keys = keys
        self._options = options or {}

    def agg(self, *aggs: Expr | Sequence[Expr], **named: Expr) -> Stream:
        """One row per distinct key with the given aggregations, e.g.
        ``rb.count().alias("n")``, ``col("x").sum()``, ``col("x").max()``.

        Groups come out in no particular order (as in Polars without ``maintain_order``);
        sort the result if you need an order. A null key forms its own group.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]})
        >>> t = s.group_by("k").agg(rb.col("v").mean().alias("avg"), n=rb.count()).collect()
        >>> t.sort_by("k").to_pylist()
        [{'k': 1, 'avg': 2.0, 'n': 2}, {'k': 2, 'avg': 5.0, 'n': 1}]
        """
        items = _flatten(aggs) + [v.alias(k) for k, v in named.items()]
        if not items:
            raise PlanError("agg needs at least one aggregation, e.g. rb.count() or col('x').sum()")
        return self._stream._then({"op": "aggregate", "keys": self._keys, "aggs": _exprs(items, "agg"),
                                   **self._options})

    def _each(self, agg: Any, numeric: bool = False) -> Stream:
        """agg of every column but the keys (Polars' GroupBy.sum() and the like)."""
        exprs = _per_column(self._stream.schema, {_output_name(Expr(k)) for k in self._keys}, agg, numeric)
        if not exprs:
            raise PlanError("the stream has no columns besides the group keys to aggregate")
        return self.agg(*exprs)

    def len(self, name: str = "len") -> Stream:
        """The rows of each group, in a column ``name`` (Polars' ``group_by(...).len()``).
        ``sum``, ``mean``, ``median``, ``std``, ``var``, ``min``, ``max``, ``first``, ``last``
        and ``n_unique`` aggregate every other column, as Polars' methods of the same names
        (the numeric ones give null for a column that is not a number or a boolean).

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0], "s": ["a", "b", "c"]}).group_by("k")
        >>> g.len().collect().sort_by("k").to_pylist()
        [{'k': 1, 'len': 2}, {'k': 2, 'len': 1}]
        >>> g.sum().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 4.0, 's': None}, {'k': 2, 'v': 5.0, 's': None}]
        >>> g.max().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 3.0, 's': 'b'}, {'k': 2, 'v': 5.0, 's': 'c'}]
        """
        return self.agg(count().alias(name))

    def sum(self) -> Stream:
        """The sum of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.sum().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 4.0}, {'k': 2, 'v': 5.0}]
        """
        return self._each(lambda c: c.sum(), numeric=True)

    def mean(self) -> Stream:
        """The mean of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.mean().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 2.0}, {'k': 2, 'v': 5.0}]
        """
        return self._each(lambda c: c.mean(), numeric=True)

    def median(self) -> Stream:
        """The median of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.median().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 2.0}, {'k': 2, 'v': 5.0}]
        """
        return self._each(lambda c: c.median(), numeric=True)

    def std(self, ddof: int = 1) -> Stream:
        """The standard deviation of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.std().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 1.4142135623730951}, {'k': 2, 'v': None}]
        """
        d = _ddof(ddof)
        return self._each(lambda c: c.std(ddof=d), numeric=True)

    def var(self, ddof: int = 1) -> Stream:
        """The variance of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.var().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 2.0}, {'k': 2, 'v': None}]
        """
        d = _ddof(ddof)
        return self._each(lambda c: c.var(ddof=d), numeric=True)

    def min(self) -> Stream:
        """The smallest value of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.min().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 1.0}, {'k': 2, 'v': 5.0}]
        """
        return self._each(lambda c: c.min())

    def max(self) -> Stream:
        """The largest value of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.max().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 3.0}, {'k': 2, 'v': 5.0}]
        """
        return self._each(lambda c: c.max())

    def first(self) -> Stream:
        """The first non-null value of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.first().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 1.0}, {'k': 2, 'v': 5.0}]
        """
        return self._each(lambda c: c.first())

    def last(self) -> Stream:
        """The last non-null value of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.last().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 3.0}, {'k': 2, 'v': 5.0}]
        """
        return self._each(lambda c: c.last())

    def n_unique(self) -> Stream:
        """The distinct non-null values of every other column per group: see :meth:`len`.

        Examples
        --------
        >>> import riverbed as rb
        >>> g = rb.from_pydict({"k": [1, 1, 2], "v": [1.0, 3.0, 5.0]}).group_by("k")
        >>> g.n_unique().collect().sort_by("k").to_pylist()
        [{'k': 1, 'v': 2}, {'k': 2, 'v': 1}]
        """
        return self._each(lambda c: c.n_unique())
