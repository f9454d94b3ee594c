"""Keyed process functions: per-key state and timers from Python, as Flink's
``KeyedProcessFunction``.

Two forms share one engine protocol and one semantics (docs/process-functions.md):

- per element: subclass :class:`KeyedProcessFunction` (``open``, ``process_element``,
  ``on_timer``), as in PyFlink;
- vectorized: a function that receives a :class:`KeyedBatch` (the elements of several keys,
  their state as Arrow columns and their due timers) and returns a :class:`ProcessResult`.

The engine (Go) keeps state, timers and the elements waiting for the watermark, checkpoints
them by key group, fires timers and hands everything over in one call per batch; the
per-element form is an adapter over the vectorized call that runs in Python.
"""

from __future__ import annotations

import base64
import heapq
import threading
import weakref
from collections.abc import Iterable, Iterator
from enum import IntEnum
from typing import Any, Callable

import pyarrow as pa
import pyarrow.compute  # noqa: F401 (pa.compute)

from .datatypes import DataType, to_datatype

MIN_WATERMARK = -(2**63)


def _arrow_type(t: Any, what: str) -> pa.DataType:
    if isinstance(t, pa.DataType):
        return t
    if isinstance(t, DataType) or t in (int, float, str, bool):
        return to_datatype(t).to_arrow()
    raise TypeError(f"{what}: expected a type such as rb.Int64 or a pyarrow type, got {t!r}")


def _arrow_schema(schema: Any, what: str) -> pa.Schema:
    if isinstance(schema, pa.Schema):
        return schema
    if isinstance(schema, dict):
        return pa.schema([(k, _arrow_type(v, f"{what} column {k!r}")) for k, v in schema.items()])
    raise TypeError(f"{what} must be a pyarrow.Schema or a dict of column name to type, got {type(schema).__name__}")


def _schema_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


# -- declarations ---------------------------------------------------------------------------

class StateDescriptor:
    """A piece of per-key state declared up front (base of the three kinds)."""

    kind = "value"

    def __init__(self, name: str, arrow_type: pa.DataType, ttl: Any = None, ttl_update: str = "on_create_and_write"):
        if not isinstance(name, str) or not name:
            raise ValueError("a state descriptor needs a name")
        if name.startswith("__rb_"):
            raise ValueError(f"state names may not start with '__rb_': {name!r}")
        self.name = name
        self.arrow_type = arrow_type
        self.ttl: str | None = None
        self.ttl_update = "on_create_and_write"
        if ttl is not None:
            self.enable_time_to_live(ttl, ttl_update)

    def enable_time_to_live(self, ttl: Any, update: str = "on_create_and_write") -> StateDescriptor:
        """Expire the state ``ttl`` (a duration: ``"10m"``, a ``timedelta`` or seconds) after
        it was last written (``update="on_create_and_write"``) or also read
        (``"on_read_and_write"``), in processing time, as Flink's ``StateTtlConfig``: an
        expired value is never returned.

        Examples
        --------
        >>> import riverbed as rb
        >>> d = rb.ValueStateDescriptor("last_seen", rb.Int64).enable_time_to_live("1h")
        >>> d.ttl
        '1h'
        """
        from .window import duration

        if update not in ("on_create_and_write", "on_read_and_write"):
            raise ValueError(f"update must be 'on_create_and_write' or 'on_read_and_write', got {update!r}")
        self.ttl = duration(ttl, "ttl")
        self.ttl_update = update
        return self

    def _empty(self) -> Any:
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.arrow_type})"


class ValueStateDescriptor(StateDescriptor):
    """One value per key (Flink's ``ValueStateDescriptor``).

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.ValueStateDescriptor("flag", rb.Boolean)
    ValueStateDescriptor('flag', bool)
    """

    kind = "value"

    def __init__(self, name: str, value_type: Any, *, ttl: Any = None, ttl_update: str = "on_create_and_write"):
        super().__init__(name, _arrow_type(value_type, f"state {name!r}"), ttl, ttl_update)


class ListStateDescriptor(StateDescriptor):
    """A list of values per key (Flink's ``ListStateDescriptor``); stored as an Arrow list.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.ListStateDescriptor("amounts", rb.Float64).arrow_type
    ListType(list<item: double>)
    """

    kind = "list"

    def __init__(self, name: str, element_type: Any, *, ttl: Any = None, ttl_update: str = "on_create_and_write"):
        super().__init__(name, pa.list_(_arrow_type(element_type, f"state {name!r}")), ttl, ttl_update)


class MapStateDescriptor(StateDescriptor):
    """A map per key (Flink's ``MapStateDescriptor``); stored as an Arrow map.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.MapStateDescriptor("per_merchant", rb.Utf8, rb.Int64).arrow_type
    MapType(map<string, int64>)
    """

    kind = "map"

    def __init__(self, name: str, key_type: Any, value_type: Any, *, ttl: Any = None,
                 ttl_update: str = "on_create_and_write"):
        super().__init__(name, pa.map_(_arrow_type(key_type, f"state {name!r} key"),
                                       _arrow_type(value_type, f"state {name!r}")), ttl, ttl_update)


class OutputTag:
    """A side output of a process function: its name and columns (Flink's ``OutputTag``).
    Rows go to it with ``ctx.output(tag, row)`` (per element) or
    ``ProcessResult(side_outputs={tag: batch})``; read it with
    ``stream.side_output(tag)`` on the process function's result.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.OutputTag("small", {"account_id": rb.Int64, "amount": rb.Float64}).name
    'small'
    """

    def __init__(self, name: str, schema: Any):
        if not isinstance(name, str) or not name:
            raise ValueError("an output tag needs a name")
        self.name = name
        self.schema = _arrow_schema(schema, f"output tag {name!r}")

    def __repr__(self) -> str:
        return f"OutputTag({self.name!r})"


class TimeDomain(IntEnum):
    """The clock of a timer (Flink's ``TimeDomain``)."""

    EVENT_TIME = 0
    PROCESSING_TIME = 1


# -- the vectorized protocol ---------------------------------------------------------------

class KeyedBatch:
    """What a vectorized process function receives in one call.

    Attributes
    ----------
    elements : pyarrow.RecordBatch
        The elements handed over, grouped by key (``element_key``), each key's in event-time
        order (then input order).
    element_key : pyarrow.Int32Array
        For each element, the index of its key in ``keys``.
    timestamps : pyarrow.Int64Array
        Each element's timestamp, ms since the epoch (null without event time).
    keys : pyarrow.RecordBatch
        The keys of this call, one row each.
    state : pyarrow.RecordBatch
        The state of each key (one row per key, one column per state descriptor; null:
        empty or expired).
    timers : pyarrow.RecordBatch
        Due timers: ``key`` (index into ``keys``), ``timestamp`` (ms), ``domain`` (0 event
        time, 1 processing time), per key in time order. An element at time t comes before
        a timer at t.
    watermark : int
        The current watermark (ms): every event-time timer at or before it is due.
    element_watermark : int
        The watermark the elements arrived under (the one before ``watermark``).
    processing_time : int
        The wall clock (ms).
    """

    def __init__(self, call: pa.RecordBatch, state_schema: pa.Schema):
        def rows(name: str) -> pa.Array:
            return call.column(name).flatten()

        self.elements = pa.RecordBatch.from_struct_array(rows("elements"))
        self.element_key = rows("element_key")
        self.timestamps = rows("element_ts")
        self.keys = pa.RecordBatch.from_struct_array(rows("keys"))
        if len(state_schema):
            self.state = pa.RecordBatch.from_struct_array(rows("state"))
        else:
            self.state = pa.RecordBatch.from_arrays([], schema=state_schema)
        self.timers = pa.RecordBatch.from_arrays([rows("timer_key"), rows("timer_ts"), rows("timer_domain")],
                                                 names=["key", "timestamp", "domain"])
        self.watermark = call.column("watermark")[0].as_py()
        self.element_watermark = call.column("element_watermark")[0].as_py()
        self.processing_time = call.column("processing_time")[0].as_py()

    @property
    def num_keys(self) -> int:
        return self.keys.num_rows


class ProcessResult:
    """What a vectorized process function returns.

    Parameters
    ----------
    output
        The main output rows (a RecordBatch, Table, or dict of columns with the declared
        ``output_schema``); None: no rows.
    state
        The new state of every key of the call (one row per key, in the order of
        ``batch.keys``, a column per state descriptor; null clears). None: unchanged.
    timers
        Timer changes, applied in order: columns ``key`` (index into ``batch.keys``),
        ``timestamp`` (ms), ``domain`` (0 event time, 1 processing time) and ``register``
        (True registers, False deletes). A timer registered at or before the watermark
        fires in a further call.
    side_outputs
        ``{OutputTag: rows}``.
    state_written
        Which states were written, per key (columns named as the states, bool): written
        states restart their TTL. Default: those whose value changed.
    """

    def __init__(self, output: Any = None, state: Any = None, timers: Any = None, side_outputs: Any = None,
                 state_written: Any = None):
        self.output = output
        self.state = state
        self.timers = timers
        self.side_outputs = side_outputs or {}
        self.state_written = state_written


def _batch(obj: Any, schema: pa.Schema, what: str) -> pa.RecordBatch:
    if obj is None:
        return pa.RecordBatch.from_pylist([], schema=schema)
    if isinstance(obj, pa.Table):
        obj = obj.combine_chunks()
        obj = obj.to_batches()[0] if obj.num_rows else pa.RecordBatch.from_pylist([], schema=obj.schema)
    elif isinstance(obj, dict):
        if list(obj) != schema.names:
            raise ValueError(f"{what} has columns {list(obj)}, but {schema.names} are declared")
        obj = pa.RecordBatch.from_pydict(obj, schema=schema)
    elif isinstance(obj, list):
        obj = pa.RecordBatch.from_pylist(obj, schema=schema)
    elif not isinstance(obj, pa.RecordBatch):
        mod = type(obj).__module__
        if mod.startswith("pandas"):
            obj = pa.RecordBatch.from_pandas(obj, schema=schema, preserve_index=False)
        elif mod.startswith("polars"):
            obj = pa.Table.from_batches(obj.to_arrow().to_batches())
            return _batch(obj, schema, what)
        else:
            raise TypeError(f"{what} must be a pyarrow RecordBatch or Table, a dict of columns or a list of rows, "
                            f"got {type(obj).__name__}")
    if obj.schema.names != schema.names:
        raise ValueError(f"{what} has columns {obj.schema.names}, but {schema.names} are declared")
    if obj.schema != schema:
        obj = obj.cast(schema)
    return obj


def _one(arr: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array([0, len(arr)], pa.int32()), arr)


def _struct(b: pa.RecordBatch) -> pa.Array:
    if b.num_columns == 0:
        return pa.StructArray.from_arrays([], fields=[])
    return b.to_struct_array()


_TIMER_SCHEMA = pa.schema([("key", pa.int32()), ("timestamp", pa.int64()), ("domain", pa.int8()),
                           ("register", pa.bool_())])


def _changed(old: pa.Array, new: pa.Array) -> pa.Array:
    return pa.array([a != b for a, b in zip(old.to_pylist(), new.to_pylist())], pa.bool_())


class _Wire:
    """The function the engine calls: unpacks a call, runs the user's vectorized function,
    packs its result."""

    def __init__(self, fn: Callable[[KeyedBatch], ProcessResult], output_schema: pa.Schema, state_schema: pa.Schema,
                 ttl_states: list[str], sides: list[OutputTag], name: str):
        self.fn = fn
        self.output_schema = output_schema
        self.state_schema = state_schema
        self.ttl_states = ttl_states
        self.sides = sides
        self.__name__ = name

    def __call__(self, call: pa.RecordBatch) -> pa.RecordBatch:
        kb = KeyedBatch(call, self.state_schema)
        try:
            res = self.fn(kb)
        except ProcessFunctionError:
            raise
        except Exception as ex:
            # A vectorized function handles many keys at once: name the call's.
            keys = kb.keys.column(0).slice(0, 3).to_pylist() if kb.keys.num_columns else []
            ts = kb.timestamps.drop_null()
            when = f", timestamps {pa.compute.min(ts).as_py()} to {pa.compute.max(ts).as_py()}" if len(ts) else ""
            raise ProcessFunctionError(
                f"{self.__name__} raised {type(ex).__name__}: {ex} (a call with {kb.num_keys} keys, the first "
                f"{keys!r}, {kb.elements.num_rows} elements{when}, {kb.timers.num_rows} timers)") from ex
        if res is None:
            res = ProcessResult()
        if not isinstance(res, ProcessResult):
            raise TypeError(f"a vectorized process function must return rb.ProcessResult, got {type(res).__name__}")
        cols: dict[str, pa.Array] = {"output": _one(_struct(_batch(res.output, self.output_schema, "output")))}
        for i, tag in enumerate(self.sides):
            rows = res.side_outputs.get(tag)
            if rows is None:
                rows = res.side_outputs.get(tag.name)
            cols[f"side_{i}"] = _one(_struct(_batch(rows, tag.schema, f"side output {tag.name!r}")))
        for k in res.side_outputs:
            if k not in self.sides and not any(k == t.name for t in self.sides):
                raise ValueError(f"side output {k!r} was not declared in process(..., side_outputs=[...])")
        if len(self.state_schema):
            st = kb.state if res.state is None else _batch(res.state, self.state_schema, "state")
            if st.num_rows != kb.num_keys:
                raise ValueError(f"state has {st.num_rows} rows for the {kb.num_keys} keys of the call")
            cols["state"] = _one(_struct(st))
            written = res.state_written
            if written is None:
                arrays = []
                for f in self.state_schema:
                    if f.name in self.ttl_states:
                        arrays.append(_changed(kb.state.column(f.name), st.column(f.name)))
                    else:
                        arrays.append(pa.nulls(st.num_rows, pa.bool_()))
                written = pa.RecordBatch.from_arrays(arrays, names=self.state_schema.names)
            else:
                wschema = pa.schema([(n, pa.bool_()) for n in self.state_schema.names])
                written = _batch(written, wschema, "state_written")
            cols["state_written"] = _one(_struct(written))
        timers = _batch(res.timers, _TIMER_SCHEMA, "timers")
        for name in _TIMER_SCHEMA.names:
            cols["timer_" + name if name != "timestamp" else "timer_ts"] = _one(timers.column(name))
        return pa.RecordBatch.from_pydict({k: v for k, v in cols.items()})


# -- the per-element form -----------------------------------------------------------------

class Row(tuple):  # type: ignore[type-arg]
    """A row given to Python functions (``process_element``, ``map``, ``flat_map``,
    ``filter``), as PyFlink's ``Row``: its fields read by attribute (``row.amount``), by
    name (``row["amount"]``) or by position (``row[0]``); ``as_dict()`` gives a dict.

    Examples
    --------
    >>> from riverbed import Row
    >>> r = Row.of(["account_id", "amount"], [7, 2.5])
    >>> r.amount, r["account_id"], r[1], r.as_dict()
    (2.5, 7, 2.5, {'account_id': 7, 'amount': 2.5})
    """

    __slots__ = ()
    _rb_names: tuple[str, ...] = ()
    _rb_index: dict[str, int] = {}

    def __getitem__(self, i: Any) -> Any:  # type: ignore[override]
        if i.__class__ is str:
            try:
                i = self._rb_index[i]
            except KeyError:
                raise KeyError(i) from None
        return tuple.__getitem__(self, i)

    def __getattr__(self, name: str) -> Any:  # columns whose names are not identifiers
        try:
            return tuple.__getitem__(self, self._rb_index[name])
        except KeyError:
            raise AttributeError(name) from None

    def as_dict(self) -> dict[str, Any]:
        """The row as a dict of column to value."""
        return dict(zip(self._rb_names, self))

    @staticmethod
    def of(names: list[str], values: Iterable[Any]) -> Row:
        """A row with these columns and values."""
        return _row_class(names)._make(values)  # type: ignore[attr-defined, no-any-return]


_ROW_CLASSES: dict[tuple[str, ...], type] = {}


def _row_class(names: list[str]) -> type:
    """The Row class of a schema (a namedtuple, so attribute access is fast)."""
    key = tuple(names)
    cls = _ROW_CLASSES.get(key)
    if cls is None:
        from collections import namedtuple

        base = namedtuple("Row", names, rename=True)  # type: ignore[misc]
        cls = type("Row", (base, Row), {"__slots__": (), "_rb_names": key,
                                        "_rb_index": {n: i for i, n in enumerate(names)}})
        _ROW_CLASSES[key] = cls
    return cls


def _rows(batch: pa.RecordBatch | pa.Table) -> list[Any]:
    """The rows of a batch as Row objects."""
    cls = _row_class(batch.schema.names)
    if not batch.num_columns:
        return [cls._make(()) for _ in range(batch.num_rows)]  # type: ignore[attr-defined]
    return [cls._make(v) for v in zip(*(c.to_pylist() for c in batch.columns))]  # type: ignore[attr-defined]


class _Frame:
    """The key being processed in the current thread: its state and what changed."""

    __slots__ = ("key", "values", "written", "ctx")

    def __init__(self) -> None:
        self.key: Any = None
        self.values: dict[str, Any] = {}
        self.written: set[str] = set()
        self.ctx: Any = None


_tls = threading.local()
_NO_KEY = object()


def _frame() -> _Frame:
    f = getattr(_tls, "frame", None)
    if f is None or f.key is _NO_KEY:
        raise RuntimeError("state can only be used inside process_element and on_timer")
    return f


class _StateHandle:
    def __init__(self, desc: StateDescriptor):
        self._name = desc.name

    def _get(self) -> Any:
        try:
            return _tls.frame.values.get(self._name)
        except AttributeError:
            _frame()
            raise

    def _set(self, v: Any) -> None:
        try:
            f = _tls.frame
            f.values[self._name] = v
        except AttributeError:
            _frame()
            raise
        f.written.add(self._name)

    def clear(self) -> None:
        """Empty the state of the current key."""
        self._set(None)


class ValueState(_StateHandle):
    """The value of the current key (Flink's ``ValueState``): ``value()``, ``update(v)``,
    ``clear()``."""

    def value(self) -> Any:
        """The value (None if unset or expired)."""
        try:
            return _tls.frame.values.get(self._name)
        except AttributeError:
            _frame()
            raise

    def update(self, value: Any) -> None:
        """Set the value (None clears it)."""
        self._set(value)


class ListState(_StateHandle):
    """The list of the current key (Flink's ``ListState``)."""

    def get(self) -> list[Any]:
        """The elements (an empty list if unset)."""
        return list(self._get() or [])

    def add(self, value: Any) -> None:
        """Append one element."""
        self._set((self._get() or []) + [value])

    def add_all(self, values: Iterable[Any]) -> None:
        """Append elements."""
        self._set((self._get() or []) + list(values))

    def update(self, values: Iterable[Any]) -> None:
        """Replace the elements."""
        vs = list(values)
        self._set(vs if vs else None)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.get())


class MapState(_StateHandle):
    """The map of the current key (Flink's ``MapState``)."""

    def _map(self) -> dict[Any, Any]:
        return dict(self._get() or {})

    def get(self, key: Any) -> Any:
        """The value under ``key`` (None if absent)."""
        return self._map().get(key)

    def put(self, key: Any, value: Any) -> None:
        """Set ``key`` to ``value``."""
        m = self._map()
        m[key] = value
        self._set(m)

    def put_all(self, entries: dict[Any, Any]) -> None:
        """Set several entries."""
        m = self._map()
        m.update(entries)
        self._set(m)

    def remove(self, key: Any) -> None:
        """Remove ``key``."""
        m = self._map()
        m.pop(key, None)
        self._set(m if m else None)

    def contains(self, key: Any) -> bool:
        """Whether ``key`` is present."""
        return key in self._map()

    def keys(self) -> list[Any]:
        """The keys."""
        return list(self._map().keys())

    def values(self) -> list[Any]:
        """The values."""
        return list(self._map().values())

    def items(self) -> list[tuple[Any, Any]]:
        """The entries."""
        return list(self._map().items())

    def is_empty(self) -> bool:
        """Whether the map has no entry."""
        return not self._map()


class RuntimeContext:
    """Given to :meth:`KeyedProcessFunction.open`: declares state and returns its handles
    (PyFlink's ``RuntimeContext``)."""

    def __init__(self) -> None:
        self.descriptors: list[StateDescriptor] = []

    def _add(self, desc: StateDescriptor, kind: str) -> None:
        if desc.kind != kind:
            raise TypeError(f"state {desc.name!r} is a {desc.kind} state descriptor")
        if any(d.name == desc.name for d in self.descriptors):
            raise ValueError(f"state {desc.name!r} is declared twice")
        self.descriptors.append(desc)

    def get_state(self, desc: ValueStateDescriptor) -> ValueState:
        """Declare value state and return its handle."""
        self._add(desc, "value")
        return ValueState(desc)

    def get_list_state(self, desc: ListStateDescriptor) -> ListState:
        """Declare list state and return its handle."""
        self._add(desc, "list")
        return ListState(desc)

    def get_map_state(self, desc: MapStateDescriptor) -> MapState:
        """Declare map state and return its handle."""
        self._add(desc, "map")
        return MapState(desc)


class TimerService:
    """Timers and clocks of the current key (PyFlink's ``TimerService``). Times are ms
    since the epoch."""

    def __init__(self, ctx: Context):
        self._ctx = ctx

    def current_processing_time(self) -> int:
        """The wall clock (ms)."""
        return self._ctx._run.processing_time

    def current_watermark(self) -> int:
        """The current event-time watermark (ms)."""
        return self._ctx._watermark

    def register_event_time_timer(self, timestamp: int) -> None:
        """Call ``on_timer`` once the watermark passes ``timestamp``."""
        self._ctx._run.register(TimeDomain.EVENT_TIME, int(timestamp))

    def register_processing_time_timer(self, timestamp: int) -> None:
        """Call ``on_timer`` once the wall clock passes ``timestamp``."""
        self._ctx._run.register(TimeDomain.PROCESSING_TIME, int(timestamp))

    def delete_event_time_timer(self, timestamp: int) -> None:
        """Delete an event-time timer of the current key (a no-op if there is none)."""
        self._ctx._run.delete(TimeDomain.EVENT_TIME, int(timestamp))

    def delete_processing_time_timer(self, timestamp: int) -> None:
        """Delete a processing-time timer of the current key."""
        self._ctx._run.delete(TimeDomain.PROCESSING_TIME, int(timestamp))


class Context:
    """What ``process_element`` and ``on_timer`` get (PyFlink's ``Context`` and
    ``OnTimerContext``)."""

    def __init__(self, run: _KeyRun):
        self._run = run
        self._timestamp: int | None = None
        self._watermark = MIN_WATERMARK
        self._domain: TimeDomain | None = None
        self._service = TimerService(self)

    def timestamp(self) -> int | None:
        """The element's timestamp (ms), or the timer's time in ``on_timer``."""
        return self._timestamp

    def timer_service(self) -> TimerService:
        """Register and delete timers; read the clocks."""
        return self._service

    def get_current_key(self) -> Any:
        """The key (a tuple when keyed by several columns)."""
        return self._run.key

    def time_domain(self) -> TimeDomain | None:
        """In ``on_timer``: the clock of the timer that fired."""
        return self._domain

    def output(self, tag: OutputTag, row: Any) -> None:
        """Send a row to a side output."""
        self._run.side(tag, row)


class KeyedProcessFunction:
    """Per-key logic with state and timers, as PyFlink's ``KeyedProcessFunction``.

    Subclass it: ``open(ctx)`` declares state (``ctx.get_state(rb.ValueStateDescriptor(...))``)
    and keeps the handles; ``process_element(value, ctx)`` is called for every element
    (``value`` is an :class:`rb.Row`: fields by attribute, name or position) and
    ``on_timer(timestamp, ctx)`` for every timer that fires; both may ``yield`` output rows
    (dicts, or tuples in the output schema's order). ``open`` runs once, when the pipeline
    is built, to declare the state.

    Examples
    --------
    >>> import riverbed as rb
    >>> class Count(rb.KeyedProcessFunction):
    ...     def open(self, ctx):
    ...         self.n = ctx.get_state(rb.ValueStateDescriptor("n", rb.Int64))
    ...     def process_element(self, value, ctx):
    ...         n = (self.n.value() or 0) + 1
    ...         self.n.update(n)
    ...         yield {"k": ctx.get_current_key(), "n": n}
    >>> s = rb.from_pydict({"k": ["a", "b", "a"]})
    >>> t = s.key_by("k").process(Count(), output_schema={"k": rb.Utf8, "n": rb.Int64}).collect()
    >>> sorted(tuple(r.values()) for r in t.to_pylist())
    [('a', 1), ('a', 2), ('b', 1)]
    """

    def open(self, runtime_context: RuntimeContext) -> None:
        """Declare state; called once when the pipeline is built."""

    def process_element(self, value: Row, ctx: Context) -> Iterable[Any] | None:
        """Handle one element; yield output rows."""
        raise NotImplementedError

    def on_timer(self, timestamp: int, ctx: Context) -> Iterable[Any] | None:
        """Handle a timer of the current key; yield output rows."""
        return None

    def close(self) -> None:
        """Called once when the pipeline (its streams and the jobs that ran it) is dropped;
        nothing to release by default."""


class ProcessFunctionError(Exception):
    """User code of a process function raised: the message names the key and the element's
    timestamp (or the timer's time); the original exception is the cause."""


class _KeyRun:
    """Runs one key's events of one call through a KeyedProcessFunction."""

    def __init__(self, adapter: _ElementAdapter, kb: KeyedBatch, key: Any, out: list[Any],
                 sides: dict[str, list[Any]], changes: list[tuple[int, int, bool]], kidx: int):
        self.adapter = adapter
        self.key = key
        self.kidx = kidx
        self.out = out
        self.sides = sides
        self.changes = changes
        self.processing_time = kb.processing_time
        self.due = kb.watermark
        self.heap: list[tuple[int, int, int]] = []  # (time, domain, seq)
        self.in_heap: set[tuple[int, int]] = set()
        self.seq = 0

    def push(self, domain: int, ts: int) -> None:
        if (domain, ts) in self.in_heap:
            return
        self.in_heap.add((domain, ts))
        self.seq += 1
        heapq.heappush(self.heap, (ts, domain, self.seq))

    def register(self, domain: int, ts: int) -> None:
        if domain == TimeDomain.EVENT_TIME and ts <= self.due:
            self.push(domain, ts)  # already due: fires in this call, in time order
        else:
            self.changes.append((self.kidx, ts, domain, True))  # type: ignore[arg-type]

    def delete(self, domain: int, ts: int) -> None:
        if (domain, ts) in self.in_heap:
            self.in_heap.discard((domain, ts))
        else:
            self.changes.append((self.kidx, ts, domain, False))  # type: ignore[arg-type]

    def side(self, tag: OutputTag, row: Any) -> None:
        if tag.name not in self.sides:
            raise ValueError(f"side output {tag.name!r} was not declared in process(..., side_outputs=[...])")
        self.sides[tag.name].append(row)

    def emit(self, result: Any) -> None:
        if result is None:
            return
        if isinstance(result, (dict, tuple)):
            self.out.append(result)
            return
        for r in result:
            self.out.append(r)


class _ElementAdapter:
    """The vectorized function behind the per-element form."""

    def __init__(self, fn: KeyedProcessFunction, output_schema: pa.Schema, state: list[StateDescriptor],
                 sides: list[OutputTag], key_names: list[str]):
        self.fn = fn
        self.output_schema = output_schema
        self.state = state
        self.sides = sides
        self.key_names = key_names
        self.__name__ = type(fn).__name__

    def _rows(self, rows: list[Any], schema: pa.Schema) -> pa.RecordBatch:
        names = schema.names
        dicts = []
        for r in rows:
            if isinstance(r, dict):
                dicts.append(r)
            elif isinstance(r, (tuple, list)):
                if len(r) != len(names):
                    raise ValueError(f"an output row has {len(r)} values for the {len(names)} columns {names}")
                dicts.append(dict(zip(names, r)))
            else:
                raise TypeError(f"output rows must be dicts or tuples, got {type(r).__name__}")
        return pa.RecordBatch.from_pylist(dicts, schema=schema)

    def __call__(self, kb: KeyedBatch) -> ProcessResult:
        fn = self.fn
        process_element, on_timer = fn.process_element, fn.on_timer
        nk = kb.num_keys
        keys = kb.keys.to_pylist()
        key_vals = [tuple(k.values()) if len(k) > 1 else next(iter(k.values())) for k in keys]
        elements = _rows(kb.elements)
        ekeys = kb.element_key.to_pylist()
        etss = kb.timestamps.to_pylist()
        ne = len(ekeys)
        tkeys = kb.timers.column("key").to_pylist()
        ttss = kb.timers.column("timestamp").to_pylist()
        tdoms = kb.timers.column("domain").to_pylist()
        names = [d.name for d in self.state]
        state_cols = [kb.state.column(n).to_pylist() for n in names]
        is_map = [d.kind == "map" for d in self.state]
        new_state: list[list[Any]] = [[] for _ in names]
        written: list[list[bool]] = [[] for _ in names]
        out: list[Any] = []
        append, extend = out.append, out.extend
        sides: dict[str, list[Any]] = {t.name: [] for t in self.sides}
        changes: list[Any] = []
        e = t = 0
        frame = _Frame()
        run = _KeyRun(self, kb, None, out, sides, changes, 0)
        ctx = Context(run)
        heap = run.heap
        in_heap = run.in_heap
        timer_wm, element_wm = kb.watermark, kb.element_watermark
        prev = getattr(_tls, "frame", None)
        _tls.frame = frame
        try:
            for k in range(nk):
                key = key_vals[k]
                run.key, run.kidx = key, k
                frame.key = key
                values: dict[str, Any] = {}
                for i, n in enumerate(names):
                    v = state_cols[i][k]
                    values[n] = dict(v) if is_map[i] and v is not None else v
                frame.values = values
                frame.written = set()
                while t < len(tkeys) and tkeys[t] == k:
                    run.push(tdoms[t], ttss[t])
                    t += 1
                while True:
                    has_el = e < ne and ekeys[e] == k
                    el_ts = etss[e] if has_el else None
                    if heap and (not has_el or (el_ts is not None and heap[0][0] < el_ts)):
                        ts, dom, _ = heapq.heappop(heap)
                        if (dom, ts) not in in_heap:
                            continue  # deleted
                        in_heap.discard((dom, ts))
                        ctx._timestamp, ctx._domain, ctx._watermark = ts, TimeDomain(dom), timer_wm
                        try:
                            res = on_timer(ts, ctx)
                            if res is not None:
                                if res.__class__ is dict or res.__class__ is tuple:
                                    append(res)
                                else:
                                    extend(res)
                        except Exception as ex:
                            raise ProcessFunctionError(
                                f"{type(fn).__name__}.on_timer raised {type(ex).__name__}: {ex} "
                                f"(key {key!r}, timer {ts})") from ex
                        continue
                    if not has_el:
                        break
                    ctx._timestamp, ctx._domain, ctx._watermark = el_ts, None, element_wm
                    try:
                        res = process_element(elements[e], ctx)
                        if res is not None:
                            if res.__class__ is dict or res.__class__ is tuple:
                                append(res)
                            else:
                                extend(res)
                    except Exception as ex:
                        raise ProcessFunctionError(
                            f"{type(fn).__name__}.process_element raised {type(ex).__name__}: {ex} "
                            f"(key {key!r}, timestamp {el_ts})") from ex
                    e += 1
                for i, n in enumerate(names):
                    v = values.get(n)
                    if is_map[i] and v is not None:
                        v = list(v.items()) if v else None
                    new_state[i].append(v)
                    written[i].append(n in frame.written)
        finally:
            _tls.frame = prev
        state = pa.RecordBatch.from_arrays([pa.array(v, d.arrow_type) for v, d in zip(new_state, self.state)],
                                           names=names) if names else None
        sw = pa.RecordBatch.from_arrays([pa.array(w, pa.bool_()) for w in written], names=names) if names else None
        timers = None
        if changes:
            timers = {"key": [c[0] for c in changes], "timestamp": [c[1] for c in changes],
                      "domain": [int(c[2]) for c in changes], "register": [c[3] for c in changes]}
        return ProcessResult(output=self._rows(out, self.output_schema), state=state, timers=timers,
                             side_outputs={t: self._rows(sides[t.name], t.schema) for t in self.sides},
                             state_written=sw)


def build_node(fn: Any, key_names: list[str], output_schema: Any, state: Any, side_outputs: Any,
               name: str | None) -> tuple[dict[str, Any], Any]:
    """The plan node fields of ``process`` and the registration that keeps the function."""
    from . import udf

    out_schema = _arrow_schema(output_schema, "output_schema")
    sides = list(side_outputs or [])
    for t in sides:
        if not isinstance(t, OutputTag):
            raise TypeError(f"side_outputs takes rb.OutputTag(...) objects, got {type(t).__name__}")
    if len({t.name for t in sides}) != len(sides):
        raise ValueError("two side outputs have the same name")
    if isinstance(fn, KeyedProcessFunction):
        if state is not None:
            raise ValueError("a KeyedProcessFunction declares its state in open(); do not pass state=")
        rc = RuntimeContext()
        fn.open(rc)
        descs = rc.descriptors
        vec: Callable[[KeyedBatch], ProcessResult] = _ElementAdapter(fn, out_schema, descs, sides, key_names)
        label = type(fn).__name__
    elif isinstance(fn, type) and issubclass(fn, KeyedProcessFunction):
        raise TypeError(f"process takes an instance: {fn.__name__}(), not the class")
    elif callable(fn):
        descs = list(state or [])
        for d in descs:
            if not isinstance(d, StateDescriptor):
                raise TypeError(f"state takes state descriptors (rb.ValueStateDescriptor, ...), got {type(d).__name__}")
        if len({d.name for d in descs}) != len(descs):
            raise ValueError("two states have the same name")
        vec = fn
        label = getattr(fn, "__name__", "function")
    else:
        raise TypeError("process takes a rb.KeyedProcessFunction instance or a vectorized function "
                        f"(rb.KeyedBatch -> rb.ProcessResult), got {type(fn).__name__}")
    state_schema = pa.schema([(d.name, d.arrow_type) for d in descs])
    wire = _Wire(vec, out_schema, state_schema, [d.name for d in descs if d.ttl], sides, name or label)
    reg = udf.register(wire, None, kind="process")
    if isinstance(fn, KeyedProcessFunction):
        # open() ran above, once for the pipeline; close() runs once when the pipeline (its
        # streams and every job that runs it) is dropped, with the function's registration.
        weakref.finalize(reg, fn.close)
    node: dict[str, Any] = {"op": "process", "udf": reg.uid, "_udf": reg, "output_schema": _schema_b64(out_schema)}
    if sides:
        node["side_schemas"] = [_schema_b64(t.schema) for t in sides]
    if descs:
        node["state_schema"] = _schema_b64(state_schema)
        node["state_ttls"] = [{"ttl": d.ttl or "", "update": d.ttl_update} for d in descs]
    return node, (out_schema, sides)
