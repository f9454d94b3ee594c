"""Streams: lazily built pipelines, run by the engine when collected."""

from __future__ import annotations

import os
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import pyarrow as pa

from . import _lib
from ._display import Plan, plan_html, progress_bar
from .errors import ColumnNotFoundError, DataError, LateRowsWarning, PlanError, RiverbedError
from .expr import Expr, _to_expr, col

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


def _restore_options(restore: str | os.PathLike[str] | None, allow_non_restored_state: bool,
                     allow_plan_change: bool) -> dict[str, Any]:
    """The plan options of a run's ``restore=`` arguments (see docs/fault-tolerance.md)."""
    opts: dict[str, Any] = {}
    if restore is not None:
        if not isinstance(restore, (str, os.PathLike)):
            raise TypeError(f"restore takes 'latest' or a path, got {type(restore).__name__}")
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


def _checked_reader(reader: pa.RecordBatchReader, index: int, errors: list[BaseException]) -> pa.RecordBatchReader:
    """A live stream whose batches are checked against its schema before the engine reads
    them: a batch whose columns do not have the declared types (or whose buffers are too
    small for them) ends the stream with a DataError that names the batch and column, also
    kept in ``errors`` (the job's error then has it as its cause)."""
    schema = reader.schema

    def batches() -> Iterable[pa.RecordBatch]:
        i = 0
        try:
            while True:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    return
                problem = _batch_problem(batch, schema, f"from_arrow input {index}, batch {i}")
                if problem is not None:
                    del batch
                    errors.append(DataError(problem))
                    raise DataError(problem)
                i += 1
                yield batch
        finally:
            reader.close()  # the caller's stream is done with, here and now

    return pa.RecordBatchReader.from_batches(schema, batches())


def _event_time(node: dict[str, Any], event_time: str | None, max_out_of_orderness: Any,
                idle_timeout: Any) -> dict[str, Any]:
    """Add a source's event-time settings to its plan node."""
    from .window import duration

    if event_time is not None:
        if not isinstance(event_time, str):
            raise TypeError(f"event_time must be a column name, got {event_time!r}")
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
    state_backend
        Where operators' keyed state goes at a checkpoint: ``"memory"`` (default) or
        ``"pebble"`` (an embedded LSM store on disk; its checkpoints share unchanged files).
    state_memory_limit
        Memory cap of each Pebble state store, in bytes (default 64 MiB).

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
                 checkpoints_retained: int | None = None,
                 state_backend: StateBackend = "memory", state_memory_limit: int | None = None):
        if parallelism is not None and (not isinstance(parallelism, int) or parallelism < 1):
            raise ValueError(f"parallelism must be a positive integer or None, got {parallelism!r}")
        if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        if buffer_bytes is not None and (not isinstance(buffer_bytes, int) or isinstance(buffer_bytes, bool)
                                         or buffer_bytes < 1):
            raise ValueError(f"buffer_bytes must be a positive integer or None, got {buffer_bytes!r}")
        _check_mode(runtime_mode)
        for name, v in (("max_parallelism", max_parallelism), ("checkpoints_retained", checkpoints_retained),
                        ("state_memory_limit", state_memory_limit)):
            if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {v!r}")
        if state_backend not in ("memory", "pebble"):
            raise ValueError(f"state_backend must be 'memory' or 'pebble', got {state_backend!r}")
        if checkpoint_interval is not None and checkpoint_dir is None:
            raise ValueError("checkpoint_interval needs checkpoint_dir (where checkpoints are written)")
        self.max_parallelism = max_parallelism
        self.checkpoint_dir = os.fspath(checkpoint_dir) if checkpoint_dir is not None else None
        self.checkpoint_interval = checkpoint_interval
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
            if self.checkpoint_interval is not None:
                from .window import duration

                opts["checkpoint_interval"] = duration(self.checkpoint_interval, "checkpoint_interval")
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
            raise ValueError("read_parquet needs at least one path")
        node: dict[str, Any] = {"op": "scan_parquet", "paths": paths}
        if columns is not None:
            if isinstance(columns, str):
                raise TypeError("columns must be a list of names, not a string")
            node["columns"] = list(columns)
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

        ``bounded`` says whether the input ends. By default a table is bounded and a
        ``RecordBatchReader`` is not (it may be live), which decides the ``"automatic"``
        runtime mode (see :class:`Environment`); pass ``bounded=True`` for a reader over
        finite data (e.g. a file) to run it in batch mode.

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
        return _arrow_stream(self, pa.Table.from_pandas(df, preserve_index=False), event_time,
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
                   sample_size: int | None = None, group_id: str | None = None) -> KafkaStream:
        """Read Kafka topics: see :func:`riverbed.read_kafka`."""
        from .kafka import read_kafka

        return read_kafka(brokers, topic, pattern=pattern, format=format, schema=schema,  # type: ignore[arg-type]
                          start=start, end=end, metadata=metadata, event_time=event_time,
                          max_out_of_orderness=max_out_of_orderness, idle_timeout=idle_timeout,
                          on_bad_record=on_bad_record, options=options,  # type: ignore[arg-type]
                          csv_delimiter=csv_delimiter, sample_size=sample_size, group_id=group_id, env=self)

    def datagen(self, schema: dict[str, Any], *, rows_per_second: float | None = None,
                number_of_rows: int | None = None, seed: int = 0, fields: dict[str, dict[str, Any]] | None = None,
                event_time: str | None = None, max_out_of_orderness: Any = None) -> Stream:
        """Generated rows (Flink's ``datagen``): see :func:`riverbed.datagen`."""
        from .generators import datagen_node

        node = datagen_node(schema, rows_per_second, number_of_rows, seed, fields, event_time, max_out_of_orderness)
        return Stream(self, node, [], unbounded=number_of_rows is None)

    def nexmark(self, events_per_second: float | None = None, *, max_events: int | None = None,
                seed: int = 0) -> Nexmark:
        """The Nexmark benchmark's event generator: see :func:`riverbed.nexmark`."""
        from .generators import Nexmark

        return Nexmark(self, events_per_second, max_events, seed)


def _check_mode(runtime_mode: Any) -> None:
    if not isinstance(runtime_mode, str):
        raise TypeError(f"runtime_mode must be 'automatic', 'batch' or 'streaming', got {runtime_mode!r}")


def _arrow_stream(env: Environment, data: pa.Table | pa.RecordBatchReader, event_time: str | None = None,
                  max_out_of_orderness: Any = None, idle_timeout: Any = None, bounded: bool | None = None) -> Stream:
    src = _Source(data)
    # A table is bounded; a RecordBatchReader may be live (automatic mode streams it).
    if bounded is None:
        bounded = isinstance(data, pa.Table)
    node = _event_time({"op": "scan_arrow", "_src": src, "bounded": bool(bounded),
                        "table": isinstance(data, pa.Table)},
                       event_time, max_out_of_orderness, idle_timeout)
    return Stream(env, node, [src])


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
        raise TypeError(f"cannot read {name} as a table: its Arrow data is not a table of "
                        f"columns ({e}); pass a DataFrame, a pyarrow Table or RecordBatch") from e
    raise TypeError(
        f"cannot read {name} as Arrow data; pass a pyarrow Table, RecordBatch or "
        "RecordBatchReader, a polars DataFrame or LazyFrame, a pandas DataFrame, or an object with "
        "__arrow_c_stream__ or __arrow_c_array__"
    )


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


def _exprs(items: Iterable[Any], what: str) -> list[dict[str, Any]]:
    out = []
    for e in items:
        if isinstance(e, str):
            e = col(e)
        elif not isinstance(e, Expr):
            raise TypeError(f"{what} takes column names or expressions, got {type(e).__name__} {e!r}")
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
    def filter(self, predicate: Expr) -> Stream:
        """Keep the rows where ``predicate`` is true (null counts as false)."""
        if not isinstance(predicate, Expr):
            raise TypeError(f"filter takes an expression such as col('x') > 0, got {type(predicate).__name__}")
        return self._then({"op": "filter", "predicate": predicate._to_plan()})

    def select(self, *exprs: Expr | str | Sequence[Expr | str]) -> Stream:
        """Compute exactly these output columns."""
        items = _flatten(exprs)
        if not items:
            raise ValueError("select needs at least one column or expression")
        return self._then({"op": "select", "exprs": _exprs(items, "select")})

    def with_columns(self, *exprs: Expr | Sequence[Expr], **named: Expr) -> Stream:
        """Add columns (or replace those of the same name), keeping the others."""
        items = _flatten(exprs) + [_to_expr(v).alias(k) for k, v in named.items()]
        if not items:
            raise ValueError("with_columns needs at least one expression")
        return self._then({"op": "with_columns", "exprs": _exprs(items, "with_columns")})

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
            raise TypeError(f"map_batches takes a function, got {type(fn).__name__}")
        node: dict[str, Any] = {"op": "map_batches"}
        pa_schema = None
        if schema is not None:
            if isinstance(schema, dict):
                pa_schema = pa.schema([(k, to_datatype(v).to_arrow()) for k, v in schema.items()])
            elif isinstance(schema, pa.Schema):
                pa_schema = schema
            else:
                raise TypeError("schema must be a pyarrow.Schema or a dict of column name to type")
            node["schema"] = [{"name": f.name, "type": from_arrow(f.type).plan_name} for f in pa_schema]
        reg = udf.register(fn, pa_schema)
        node["udf"], node["_udf"] = reg.uid, reg
        return self._then(node)

    def _join(self, other: Stream, how: str, on: Any, left_on: Any, right_on: Any, suffix: str,
              **extra: Any) -> Stream:
        if not isinstance(other, Stream):
            raise TypeError(f"join takes a stream, got {type(other).__name__}")
        if on is not None:
            if left_on is not None or right_on is not None:
                raise ValueError("give either on= or left_on= and right_on=, not both")
            left_on = right_on = on
        if left_on is None or right_on is None:
            raise ValueError("give the join keys: on=... (or left_on=... and right_on=...)")
        lk = _exprs(_flatten((left_on,)), "join")
        rk = _exprs(_flatten((right_on,)), "join")
        node: dict[str, Any] = {"op": "join", "how": how, "left_on": lk, "right_on": rk, "suffix": suffix,
                                "inputs": [self._node, other._node], **extra}
        sources = list(self._sources) + [s for s in other._sources if s not in self._sources]
        return Stream(self._env, node, sources, unbounded=self._unbounded or other._unbounded)

    def join(self, other: Stream, on: Any = None, how: str = "inner", *, left_on: Any = None,
             right_on: Any = None, suffix: str = "_right") -> Stream:
        """Relational join on equal keys, with Polars' kinds and output columns: ``how`` is
        ``"inner"``, ``"left"``, ``"right"``, ``"full"``, ``"semi"``, ``"anti"`` or ``"cross"``
        (no keys). Null keys match nothing. Inner and left joins keep the left keys, right
        joins the right keys, full joins both (the right ones with ``suffix`` if their names
        clash); other right columns whose names clash get ``suffix``.

        An inner join also runs on unbounded streams (pairs flow as rows arrive; its state
        holds both inputs); the other kinds need bounded inputs. Rows come in no particular
        order.

        Examples
        --------
        >>> import riverbed as rb
        >>> orders = rb.from_pydict({"id": [1, 2, 3], "cust": ["a", "b", "z"]})
        >>> names = rb.from_pydict({"cust": ["a", "b"], "name": ["Ann", "Bob"]})
        >>> t = orders.join(names, on="cust", how="left").collect().sort_by("id")
        >>> t["name"].to_pylist()
        ['Ann', 'Bob', None]
        """
        kinds = ("inner", "left", "right", "full", "semi", "anti", "cross")
        if how not in kinds:
            hint = " (event-time joins are join_window, join_interval and join_asof)" \
                if how in ("window", "interval", "asof") else ""
            raise ValueError(f"how must be one of {', '.join(map(repr, kinds))}, got {how!r}{hint}")
        if how == "cross":
            if on is not None or left_on is not None or right_on is not None:
                raise ValueError("a cross join takes no keys")
            if not isinstance(other, Stream):
                raise TypeError(f"join takes a stream, got {type(other).__name__}")
            node: dict[str, Any] = {"op": "join", "how": how, "suffix": suffix,
                                    "inputs": [self._node, other._node]}
            sources = list(self._sources) + [s for s in other._sources if s not in self._sources]
            return Stream(self._env, node, sources, unbounded=self._unbounded or other._unbounded)
        return self._join(other, how, on, left_on, right_on, suffix)

    def join_window(self, other: Stream, on: Any = None, *, window: Window, left_on: Any = None,
                    right_on: Any = None, suffix: str = "_right") -> Stream:
        """Window join: pairs of rows, one from each stream, with equal keys in the same
        window (``rb.tumbling``, ``rb.sliding``, ``rb.cumulate``), emitted when the window
        closes, with ``window_start`` and ``window_end``. Right columns whose names clash
        get ``suffix``; a right key of the same name as its left key is dropped."""
        from .window import Window

        if not isinstance(window, Window):
            raise TypeError("window must be rb.tumbling(...), rb.sliding(...) or rb.cumulate(...)")
        return self._join(other, "window", on, left_on, right_on, suffix, window=window._to_plan())

    def join_interval(self, other: Stream, on: Any = None, *, lower: Any, upper: Any, left_on: Any = None,
                      right_on: Any = None, suffix: str = "_right") -> Stream:
        """Interval join: each left row with every right row of equal keys whose event time
        is within ``[left + lower, left + upper]`` (e.g. ``lower="-5s", upper="10s"``)."""
        from .window import duration

        def signed(d: Any, what: str) -> str:
            if isinstance(d, str):
                return d
            if isinstance(d, int) and d < 0:
                return "-" + duration(-d, what)
            return duration(d, what)

        return self._join(other, "interval", on, left_on, right_on, suffix, lower=signed(lower, "lower"),
                          upper=signed(upper, "upper"))

    def join_asof(self, other: Stream, on: Any = None, *, by: Any = None, left_on: Any = None,
                  right_on: Any = None, suffix: str = "_right") -> Stream:
        """As-of join (point in time): each left row with the latest right row of the same
        key at or before its event time, or nulls if there is none — the join that feature
        pipelines need to avoid looking into the future. Keys: ``on`` (or ``by``)."""
        return self._join(other, "asof", on if on is not None else by, left_on, right_on, suffix)

    def deduplicate(self, *keys: str | Expr | Sequence[str | Expr], within: Any = None) -> Stream:
        """Keep the first row of each key; drop later rows of that key whose event time is
        less than ``within`` after the kept one (without ``within``: all of them)."""
        from .window import duration

        items = _flatten(keys)
        if not items:
            raise ValueError("deduplicate needs the key columns")
        node: dict[str, Any] = {"op": "dedup", "keys": _exprs(items, "deduplicate")}
        if within is not None:
            node["within"] = duration(within, "within")
        return self._then(node)

    def group_by(self, *keys: str | Expr | Sequence[str | Expr]) -> GroupBy:
        """Group rows by key columns or expressions; follow with :meth:`GroupBy.agg`.

        On an unbounded stream a group-by never ends; use :meth:`key_by` with a window."""
        if self._unbounded:
            raise PlanError("group_by over an unbounded stream never emits: use key_by(...).window(...).agg(...), "
                            "or bound the source (max_events / number_of_rows / limit)")
        return GroupBy(self, _exprs(_flatten(keys), "group_by"))

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
            raise ValueError("key_by needs at least one key")
        return KeyedStream(self, _exprs(items, "key_by"))

    def window(self, window: Window, *, allowed_lateness: Any = None) -> WindowedStream:
        """Window the whole (non-keyed) stream; runs at parallelism 1. See :meth:`KeyedStream.window`."""
        return WindowedStream(self, [], window, allowed_lateness)

    def union(self, *others: Stream) -> Stream:
        """Rows of this stream followed by those of ``others`` (same columns and types)."""
        if not others:
            raise ValueError("union needs at least one other stream")
        nodes = [self._node]
        sources = list(self._sources)
        for o in others:
            if not isinstance(o, Stream):
                raise TypeError(f"union takes streams, got {type(o).__name__}")
            nodes.append(o._node)
            sources += [s for s in o._sources if s not in sources]
        unbounded = self._unbounded or any(o._unbounded for o in others)
        return Stream(self._env, {"op": "union", "inputs": nodes}, sources, unbounded=unbounded)

    def limit(self, n: int = 5) -> Stream:
        """The first ``n`` rows (in input order)."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"limit takes a non-negative integer, got {n!r}")
        return self._then({"op": "limit", "n": n}, unbounded=False)

    head = limit

    def tail(self, n: int = 5) -> Stream:
        """The last ``n`` rows (in input order). Needs a bounded input."""
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"tail takes a non-negative integer, got {n!r}")
        return self._then({"op": "tail", "n": n})

    def sort(self, by: Any, *more_by: Any, descending: bool | Sequence[bool] = False,
             nulls_last: bool | Sequence[bool] = False) -> Stream:
        """Rows sorted by columns or expressions (stable; as Polars: nulls first unless
        ``nulls_last``, NaN above every number). ``descending`` and ``nulls_last`` take one
        value or one per key. Needs a bounded input; the sort runs on one core and in memory.

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"a": [2, None, 1], "b": ["x", "y", "z"]})
        >>> t.sort("a", nulls_last=True).collect()["b"].to_pylist()
        ['z', 'x', 'y']
        """
        keys = _exprs(_flatten((by,) + more_by), "sort")

        def flags(v: bool | Sequence[bool], what: str) -> list[bool]:
            vals = [v] if isinstance(v, bool) else list(v)
            if not all(isinstance(x, bool) for x in vals) or len(vals) not in (1, len(keys)):
                raise ValueError(f"{what} takes a bool or one bool per sort key ({len(keys)}), got {v!r}")
            return vals

        return self._then({"op": "sort", "keys": keys, "sort_descending": flags(descending, "descending"),
                           "nulls_last": flags(nulls_last, "nulls_last")})

    def top_k(self, k: int, *, by: Any, reverse: bool = False) -> Stream:
        """The ``k`` rows with the largest values of ``by`` (smallest with ``reverse=True``),
        largest first, as Polars. Needs a bounded input."""
        return self.sort(by, descending=not reverse, nulls_last=True).limit(k)

    def bottom_k(self, k: int, *, by: Any, reverse: bool = False) -> Stream:
        """The ``k`` rows with the smallest values of ``by``, smallest first."""
        return self.top_k(k, by=by, reverse=not reverse)

    def explode(self, columns: Any, *more_columns: str, empty_as_null: bool = False,
                keep_nulls: bool = True) -> Stream:
        """One row per element of list columns (others repeated), as Polars: a null list gives
        one row with null (none if ``keep_nulls=False``), an empty list no row (a null row with
        ``empty_as_null=True``). Lists exploded together must have equal lengths in each row."""
        cols = _flatten((columns,) + more_columns)
        if not cols or not all(isinstance(c, str) for c in cols):
            raise TypeError(f"explode takes column names, got {columns!r}")
        node: dict[str, Any] = {"op": "explode", "columns": cols}
        if empty_as_null:
            node["empty_as_null"] = True
        if not keep_nulls:
            node["drop_nulls"] = True
        return self._then(node)

    def drop(self, columns: Any, *more_columns: str, strict: bool = True) -> Stream:
        """All columns but the given ones (a missing name is an error unless ``strict=False``)."""
        names = _flatten((columns,) + more_columns)
        if not all(isinstance(c, str) for c in names):
            raise TypeError(f"drop takes column names, got {columns!r}")
        have = self.columns
        missing = [c for c in names if c not in have]
        if missing and strict:
            raise ColumnNotFoundError(f"drop: no column {missing[0]!r}; the stream has columns {have}")
        keep = [c for c in have if c not in names]
        if not keep:
            raise ValueError("drop would remove every column")
        return self.select(*keep)

    def rename(self, mapping: dict[str, str]) -> Stream:
        """Columns renamed by ``{old: new}``; the others keep their names and places."""
        if not isinstance(mapping, dict) or \
                not all(isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
            raise TypeError("rename takes a dict of old column name to new name")
        have = self.columns
        for old in mapping:
            if old not in have:
                raise ColumnNotFoundError(f"rename: no column {old!r}; the stream has columns {have}")
        return self.select(*[col(c).alias(mapping.get(c, c)) for c in have])

    def unique(self, subset: Any = None, *, keep: str = "any") -> Stream:
        """One row per distinct value of ``subset`` (default: all columns), as Polars: ``keep``
        is ``"first"``/``"last"`` (the whole first/last row of each value in input order),
        ``"any"``, or ``"none"`` (drop every value that occurs more than once). Rows come in
        input order. ``"first"``/``"any"`` also run on unbounded streams (a row is emitted when
        its value is first seen; the seen values are kept), the others need a bounded input."""
        if keep not in ("any", "first", "last", "none"):
            raise ValueError(f"keep must be 'any', 'first', 'last' or 'none', got {keep!r}")
        have = self.columns
        keys = have if subset is None else _flatten((subset,))
        for k in keys:
            if not isinstance(k, str):
                raise TypeError(f"unique subset takes column names, got {k!r}")
            if k not in have:
                raise ColumnNotFoundError(f"unique: no column {k!r}; the stream has columns {have}")
        return self._then({"op": "unique", "keys": _exprs(keys, "unique"), "mode": keep})

    # -- planning -----------------------------------------------------------------
    def _plan(self, root: dict[str, Any] | None = None,
              runtime_mode: RuntimeMode | None = None) -> tuple[dict[str, Any], list[_Source]]:
        """The plan document, with scan_arrow nodes numbered by source."""
        return _plan_doc(self._env, [root or self._node], runtime_mode)

    @property
    def schema(self) -> pa.Schema:
        """The schema of the results (validates the pipeline; reads Parquet footers only)."""
        plan, srcs = self._plan()
        return _lib.plan_schema(plan, [s.schema for s in srcs])

    @property
    def columns(self) -> list[str]:
        """The names of the result columns."""
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
        See docs/fault-tolerance.md."""
        from .job import Job

        extra = _restore_options(restore, allow_non_restored_state, allow_plan_change)
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
            raise ValueError(f"uid takes a non-empty string, got {name!r}")
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
        """
        self._check_bounded("collect()")
        job = self._start(runtime_mode=runtime_mode,
                          extra=_restore_options(restore, allow_non_restored_state, allow_plan_change))
        try:
            table = _run(job, progress)
            _warn_late(job)
            return table
        finally:
            job.free()

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
        (:class:`LateRowsWarning`) at the end of the stream."""
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

        ``mode`` says what to do when ``path`` already holds Parquet files: ``"error"``
        (default), ``"append"`` (refused with a ``SchemaError`` naming the column when the
        new data's columns or types differ from the files') or ``"overwrite"`` (the old files
        are removed in the same commit). Parallel subtasks that produce no rows write no
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
        """
        from .window import duration

        if mode not in ("error", "append", "overwrite"):
            raise ValueError(f"mode must be 'error', 'append' or 'overwrite', got {mode!r}")
        root: dict[str, Any] = {"op": "write_parquet", "path": os.fspath(path), "mode": mode, "input": self._node}
        for name, limit in (("max_rows_per_file", max_rows_per_file), ("max_bytes_per_file", max_bytes_per_file)):
            if limit is None:
                continue
            if isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0:
                raise ValueError(f"{name} must be a positive int, got {limit!r}")
            root[name] = limit
        if rollover_interval is not None:
            root["rollover_interval"] = duration(rollover_interval, "rollover_interval")
        if self._unbounded and mode == "overwrite":
            raise PlanError("write_parquet(mode='overwrite') needs a bounded stream: an unbounded job's files "
                            "would sit beside the old ones until it ends; empty the directory first")
        if lazy:
            return Stream(self._env, root, self._sources, unbounded=self._unbounded)
        if self._unbounded:
            raise PlanError("write_parquet() runs a bounded stream to its end, and this one is unbounded: use "
                            "write_parquet(path, lazy=True).start() (with checkpoints, files are committed at "
                            "each checkpoint), or bound the source (max_events / number_of_rows) or add .limit(n)")
        job = self._start(root, runtime_mode, _restore_options(restore, allow_non_restored_state, allow_plan_change))
        try:
            table = _run(job, progress)
            _warn_late(job)
            return table
        finally:
            job.free()

    def write_kafka(self, brokers: str | Sequence[str], topic: str, *, format: Literal["json", "raw", "arrow"] = "json",
                    key: str | Sequence[str] | None = None, partition_by: str | Sequence[str] | None = None,
                    delivery_guarantee: DeliveryGuarantee = "at-least-once",
                    transactional_id_prefix: str | None = None, options: dict[str, Any] | None = None,
                    progress: bool | None = None, runtime_mode: RuntimeMode | None = None,
                    lazy: bool = False) -> Any:
        """Write the results to a Kafka topic (Flink's ``KafkaSink``), one record per row.

        ``format``: ``"json"`` (one object per row, in the form ``read_kafka`` reads back),
        ``"raw"`` (the one binary or string column besides the key) or ``"arrow"`` (an Arrow
        IPC stream per batch). ``key`` names the column that gives each record its key (its
        bytes if binary or string, else its JSON text), or a list of columns (the key is then
        a JSON object of them, as Flink's ``key.fields``). Records are partitioned by key
        (murmur2, as the Java client), unless ``partition_by`` names the column(s) whose
        values choose the partition: rows with equal values go to one partition
        (murmur2 of the values encoded as a key of those columns, modulo the partition
        count), whatever their key.

        ``delivery_guarantee`` (Flink's names): ``"at-least-once"`` (default; every record
        is acknowledged by the in-sync replicas before the job, or a checkpoint, completes),
        ``"exactly-once"`` (Kafka transactions, one per parallel subtask and checkpoint,
        committed when the checkpoint completes; a bounded job commits when it has
        succeeded and aborts if it fails, so ``read_committed`` consumers see every row
        exactly once; needs ``transactional_id_prefix``, unique to the job) or ``"none"``.
        ``options`` are Kafka client properties (see :func:`riverbed.read_kafka`) and
        ``transaction.timeout.ms``, ``compression.type``, ``linger.ms``, ``batch.size``.

        Runs the (bounded) pipeline and returns a table of the records written per subtask
        (``topic``, ``rows``). With ``lazy=True`` nothing runs yet: the sink is returned as a
        stream to ``.start()`` (an unbounded pipeline) or to run with others in
        :func:`collect_all` (e.g. the rows and the dead letters of a Kafka read).
        """
        from .kafka import write_kafka_node

        root = write_kafka_node(brokers, topic, format, key, delivery_guarantee, transactional_id_prefix, options,
                                partition_by)
        root["input"] = self._node
        if lazy:
            return Stream(self._env, root, self._sources, unbounded=self._unbounded)
        self._check_bounded("write_kafka() (use lazy=True and .start() for an unbounded stream)")
        job = self._start(root, runtime_mode)
        try:
            table = _run(job, progress)
            _warn_late(job)
            return table
        finally:
            job.free()


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
            raise TypeError(f"collect_all takes streams, got {type(s).__name__}")
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
        raise ValueError("start_all needs at least one stream")
    for s in streams:
        if not isinstance(s, Stream):
            raise TypeError(f"start_all takes streams, got {type(s).__name__}")
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


def _warn_late(job: _lib.JobHandle) -> None:
    """Warn (LateRowsWarning) if the finished job dropped late rows."""
    msg = late_rows_message(job.metrics()["operators"])
    if msg is not None:
        warnings.warn(msg, LateRowsWarning, stacklevel=3)


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
            bar = progress_bar(bar, job.progress(), explicit=explicit)
        while True:
            try:
                item = res.get(0.1 if show else None)
            except TimeoutError:
                item = None
            if show and (item is None or time.monotonic() - shown >= 0.1) and due():
                bar = progress_bar(bar, job.progress(), explicit=explicit)
                shown = time.monotonic()
            if item is _END:
                break
            if item is not None:
                batches.append(item)
        if bar is not None:
            progress_bar(bar, job.progress(), explicit=True, final=True)
    except BaseException:
        res.cancel()
        raise
    finally:
        if bar is not None:
            bar.close()
    res.raise_error()
    return pa.Table.from_batches(batches, schema=res.schema)


class KeyedStream:
    """A stream partitioned by key; window it with :meth:`window`."""

    def __init__(self, stream: Stream, keys: list[dict[str, Any]]):
        self._stream = stream
        self._keys = keys

    def window(self, window: Window, *, allowed_lateness: Any = None) -> WindowedStream:
        """Assign each key's rows to windows (``rb.tumbling``, ``rb.sliding``, ``rb.session``,
        ``rb.cumulate``); follow with :meth:`WindowedStream.agg`.

        A window fires when the watermark passes its end. ``allowed_lateness`` keeps it open
        that much longer: each late row that still fits re-emits its key's updated result.
        Later rows are dropped and counted (``job.metrics()``, and a
        :class:`LateRowsWarning` from ``collect()``), or read with :meth:`WindowResult.late`.
        All of this is streaming behaviour: in batch mode (the default for bounded input)
        every window fires once, at the end of the input, with all its rows.
        """
        return WindowedStream(self._stream, self._keys, window, allowed_lateness)


class WindowedStream:
    """A windowed stream; aggregate each window with :meth:`agg`."""

    def __init__(self, stream: Stream, keys: list[dict[str, Any]], window: Window, allowed_lateness: Any):
        from .window import Window, duration

        if not isinstance(window, Window):
            raise TypeError(f"window takes rb.tumbling(...), rb.sliding(...), rb.session(...) or rb.cumulate(...), "
                            f"got {window!r}")
        self._stream = stream
        self._keys = keys
        self._window = window
        self._lateness = None if allowed_lateness is None else duration(allowed_lateness, "allowed_lateness")
        self._aggs: list[dict[str, Any]] | None = None

    def _node(self, aggs: list[dict[str, Any]], output: str) -> dict[str, Any]:
        node: dict[str, Any] = {"op": "window_agg", "keys": self._keys, "aggs": aggs,
                                "window": self._window._to_plan(), "output": output}
        if self._lateness is not None:
            node["allowed_lateness"] = self._lateness
        return node

    def top_n(self, n: int, by: str | Expr, *, descending: bool = True, with_ties: bool = False) -> Stream:
        """The top ``n`` rows of each window (and key, on a keyed stream) by ``by``, with
        ``window_start``, ``window_end`` and ``rank`` (1 = first), emitted when the window
        closes.

        Ties are broken deterministically: by ``by`` (nulls last), then by the row's columns
        in schema order (ascending, nulls last), then by input order; ``rank`` is the row
        number. With ``with_ties=True`` every row tied with the n-th is kept too and
        ``rank`` is SQL's ``RANK()`` (tied rows share a rank)."""
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
        node = {"op": "topn", "keys": self._keys, "n": n, "order_by": _exprs([by], "top_n")[0],
                "descending": descending, "window": self._window._to_plan()}
        if with_ties:
            node["with_ties"] = True
        return self._stream._then(node)

    def agg(self, *aggs: Expr | Sequence[Expr], **named: Expr) -> WindowResult:
        """One row per key and window: the keys, ``window_start``, ``window_end`` and the
        aggregations (``rb.count()``, ``col("x").sum()``, ...), computed incrementally."""
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
        ``RANK()``."""
        if not isinstance(n, int) or n <= 0:
            raise ValueError(f"n must be a positive integer, got {n!r}")
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
        source); in batch mode this holds only rows with a null event time."""
        return self._windowed._stream._then(self._windowed._node(self._aggs, "late"))


class GroupBy:
    """A grouped stream; call :meth:`agg` to aggregate each group."""

    def __init__(self, stream: Stream, keys: list[dict[str, Any]]):
        self._stream = stream
        self._keys = keys

    def agg(self, *aggs: Expr | Sequence[Expr], **named: Expr) -> Stream:
        """One row per distinct key with the given aggregations, e.g.
        ``rb.count().alias("n")``, ``col("x").sum()``, ``col("x").max()``.

        Groups come out in no particular order (as in Polars without ``maintain_order``);
        sort the result if you need an order. A null key forms its own group.
        """
        items = _flatten(aggs) + [v.alias(k) for k, v in named.items()]
        if not items:
            raise PlanError("agg needs at least one aggregation, e.g. rb.count() or col('x').sum()")
        return self._stream._then({"op": "aggregate", "keys": self._keys, "aggs": _exprs(items, "agg")})
