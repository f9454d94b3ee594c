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

from .datatypes import DataType, to_datatype
from .errors import PlanError, TypeMismatchError

MIN_WATERMARK = -(2**63)


def _arrow_type(t: Any, what: str) -> pa.DataType:
    if isinstance(t, pa.DataType):
        return t
    if isinstance(t, DataType) or t in (int, float, str, bool):
        return to_datatype(t).to_arrow()
    raise TypeMismatchError(f"{what}: expected a type such as rb.Int64 or a pyarrow type, got {t!r}")


def _arrow_schema(schema: Any, what: str) -> pa.Schema:
    if isinstance(schema, pa.Schema):
        return schema
    if isinstance(schema, dict):
        return pa.schema([(k, _arrow_type(v, f"{what} column {k!r}")) for k, v in schema.items()])
    raise TypeMismatchError(
        f"{what} must be a pyarrow.Schema or a dict of column name to type, got {type(schema).__name__}")


def _schema_b64(schema: pa.Schema) -> str:
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


# -- declarations ---------------------------------------------------------------------------

class StateDescriptor:
    """A piece of per-key state declared up front (base of the three kinds)."""

    kind = "value"

    def __init__(self, name: str, arrow_type: pa.DataType, ttl: Any = None, ttl_update: str = "on_create_and_write"):
        if not isinstance(name, str) or not name:
            raise PlanError("a state descriptor needs a name")
        if name.startswith("__rb_"):
            raise PlanError(f"state names may not start with '__rb_': {name!r}")
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
            raise PlanError(f"update must be 'on_create_and_write' or 'on_read_and_write', got {update!r}")
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
            raise PlanError("an output tag needs a name")
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
        """How many keys the call has (the rows of ``keys`` and ``state``; ``element_key``
        indexes them).

        Examples
        --------
        >>> import riverbed as rb, numpy as np
        >>> def count(b):  # one output row per key of the call
        ...     n = np.bincount(b.element_key.to_numpy(), minlength=b.num_keys)
        ...     return rb.ProcessResult(output={"k": b.keys.column("k"), "n": n})
        >>> s = rb.Environment(parallelism=1).from_pydict({"k": ["a", "b", "a", "c", "a"]})
        >>> out = s.key_by("k").process(count, output_schema={"k": rb.Utf8, "n": rb.Int64}).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [('a', 3), ('b', 1), ('c', 1)]
        """
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
            raise PlanError(f"{what} has columns {list(obj)}, but {schema.names} are declared")
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
            raise TypeMismatchError(
                f"{what} must be a pyarrow RecordBatch or Table, a dict of columns or a list of rows, "
                            f"got {type(obj).__name__}")
    if obj.schema.names != schema.names:
        raise PlanError(f"{what} has columns {obj.schema.names}, but {schema.names} are declared")
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
            import pyarrow.compute as pc  # only on this error path: importing it costs ~0.1 s at startup

            ts = kb.timestamps.drop_null()
            when = f", timestamps {pc.min(ts).as_py()} to {pc.max(ts).as_py()}" if len(ts) else ""
            raise ProcessFunctionError(
                f"{self.__name__} raised {type(ex).__name__}: {ex} (a call with {kb.num_keys} keys, the first "
                f"{keys!r}, {kb.elements.num_rows} elements{when}, {kb.timers.num_rows} timers)") from ex
        if res is None:
            res = ProcessResult()
        if not isinstance(res, ProcessResult):
            raise TypeMismatchError(
                f"a vectorized process function must return rb.ProcessResult, got {type(res).__name__}")
        cols: dict[str, pa.Array] = {"output": _one(_struct(_batch(res.output, self.output_schema, "output")))}
        for i, tag in enumerate(self.sides):
            rows = res.side_outputs.get(tag)
            if rows is None:
                rows = res.side_outputs.get(tag.name)
            cols[f"side_{i}"] = _one(_struct(_batch(rows, tag.schema, f"side output {tag.name!r}")))
        for k in res.side_outputs:
            if k not in self.sides and not any(k == t.name for t in self.sides):
                raise PlanError(f"side output {k!r} was not declared in process(..., side_outputs=[...])")
        if len(self.state_schema):
            st = kb.state if res.state is None else _batch(res.state, self.state_schema, "state")
            if st.num_rows != kb.num_keys:
                raise PlanError(f"state has {st.num_rows} rows for the {kb.num_keys} keys of the call")
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
        """The row as a dict of column to value.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"acct": [7, 8], "amount": [2.5, 0.5]})
        >>> s.map(lambda row: {**row.as_dict(), "cents": int(row.amount * 100)}).collect().to_pylist()
        [{'acct': 7, 'amount': 2.5, 'cents': 250}, {'acct': 8, 'amount': 0.5, 'cents': 50}]
        """
        return dict(zip(self._rb_names, self))

    @staticmethod
    def of(names: list[str], values: Iterable[Any]) -> Row:
        """A row with these columns and values (to call a function written for
        ``process_element`` or ``map`` directly, as in a unit test).

        Examples
        --------
        >>> from riverbed import Row
        >>> r = Row.of(["acct", "amount"], [7, 0.5])
        >>> r.acct, r["amount"], r
        (7, 0.5, Row(acct=7, amount=0.5))
        """
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
        """Empty the state of the current key (value, list and map state alike).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Session(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.clicks = runtime_context.get_state(rb.ValueStateDescriptor("clicks", rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         self.clicks.update((self.clicks.value() or 0) + 1)
        ...         if value.event == "logout":
        ...             yield (value.user, ctx.timestamp(), self.clicks.value())
        ...             self.clicks.clear()  # the next session counts from zero
        >>> ts = pa.array([1000, 2000, 3000, 4000, 5000], pa.timestamp("ms"))
        >>> events = ["click", "logout", "click", "click", "logout"]
        >>> s = rb.from_pydict({"user": [1] * 5, "event": events, "ts": ts}, event_time="ts")
        >>> schema = {"user": rb.Int64, "t": rb.Int64, "clicks": rb.Int64}
        >>> [tuple(r.values()) for r in s.key_by("user").process(Session(), output_schema=schema).collect().to_pylist()]
        [(1, 2000, 2), (1, 5000, 3)]
        """
        self._set(None)


class ValueState(_StateHandle):
    """The value of the current key (Flink's ``ValueState``): ``value()``, ``update(v)``,
    ``clear()``."""

    def value(self) -> Any:
        """The value (None if unset or expired).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Previous(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.page = runtime_context.get_state(rb.ValueStateDescriptor("page", rb.Utf8))
        ...     def process_element(self, value, ctx):
        ...         yield (value.user, ctx.timestamp(), value.page, self.page.value())
        ...         self.page.update(value.page)
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1, 2, 1, 1], "page": ["home", "home", "cart", "pay"], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"user": rb.Int64, "t": rb.Int64, "page": rb.Utf8, "previous": rb.Utf8}
        >>> out = s.key_by("user").process(Previous(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [(1, 1000, 'home', None), (1, 3000, 'cart', 'home'), (1, 4000, 'pay', 'cart'), (2, 2000, 'home', None)]
        """
        try:
            return _tls.frame.values.get(self._name)
        except AttributeError:
            _frame()
            raise

    def update(self, value: Any) -> None:
        """Set the value (None clears it).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class NewHigh(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.high = runtime_context.get_state(rb.ValueStateDescriptor("high", rb.Float64))
        ...     def process_element(self, value, ctx):
        ...         if self.high.value() is None or value.price > self.high.value():
        ...             self.high.update(value.price)
        ...             yield (value.stock, ctx.timestamp(), value.price)
        >>> ts = pa.array([1000, 2000, 3000, 4000, 5000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"stock": ["X", "X", "X", "Y", "X"], "price": [10.0, 9.5, 11.0, 3.0, 10.5], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"stock": rb.Utf8, "t": rb.Int64, "high": rb.Float64}
        >>> out = s.key_by("stock").process(NewHigh(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [('X', 1000, 10.0), ('X', 3000, 11.0), ('Y', 4000, 3.0)]
        """
        self._set(value)


class ListState(_StateHandle):
    """The list of the current key (Flink's ``ListState``)."""

    def get(self) -> list[Any]:
        """The elements (an empty list if unset).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class History(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.pages = runtime_context.get_list_state(rb.ListStateDescriptor("pages", rb.Utf8))
        ...     def process_element(self, value, ctx):
        ...         yield (value.user, ctx.timestamp(), self.pages.get())  # [] before the first add
        ...         self.pages.add(value.page)
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1, 1, 2, 1], "page": ["home", "cart", "home", "pay"], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"user": rb.Int64, "t": rb.Int64, "before": pa.list_(pa.string())}
        >>> out = s.key_by("user").process(History(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [(1, 1000, []), (1, 2000, ['home']), (1, 4000, ['home', 'cart']), (2, 3000, [])]
        """
        return list(self._get() or [])

    def add(self, value: Any) -> None:
        """Append one element.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Amounts(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.amounts = runtime_context.get_list_state(rb.ListStateDescriptor("amounts", rb.Float64))
        ...     def process_element(self, value, ctx):
        ...         self.amounts.add(value.amount)
        ...         yield (value.acct, ctx.timestamp(), self.amounts.get())
        >>> ts = pa.array([1000, 2000, 3000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"acct": [7, 7, 7], "amount": [2.5, 0.5, 9.0], "ts": ts}, event_time="ts")
        >>> schema = {"acct": rb.Int64, "t": rb.Int64, "amounts": pa.list_(pa.float64())}
        >>> [r["amounts"] for r in s.key_by("acct").process(Amounts(), output_schema=schema).collect().to_pylist()]
        [[2.5], [2.5, 0.5], [2.5, 0.5, 9.0]]
        """
        self._set((self._get() or []) + [value])

    def add_all(self, values: Iterable[Any]) -> None:
        """Append elements.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Tags(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.tags = runtime_context.get_list_state(rb.ListStateDescriptor("tags", rb.Utf8))
        ...     def process_element(self, value, ctx):
        ...         self.tags.add_all(value.new_tags)  # every tag of the element, in order
        ...         yield (value.doc, ctx.timestamp(), self.tags.get())
        >>> ts = pa.array([1000, 2000, 3000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"doc": [1, 1, 2], "new_tags": [["a", "b"], ["c"], ["x", "y"]], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"doc": rb.Int64, "t": rb.Int64, "tags": pa.list_(pa.string())}
        >>> out = s.key_by("doc").process(Tags(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [(1, 1000, ['a', 'b']), (1, 2000, ['a', 'b', 'c']), (2, 3000, ['x', 'y'])]
        """
        self._set((self._get() or []) + list(values))

    def update(self, values: Iterable[Any]) -> None:
        """Replace the elements.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class LastTwo(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.recent = runtime_context.get_list_state(rb.ListStateDescriptor("recent", rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         self.recent.update((self.recent.get() + [value.x])[-2:])  # keep the latest two
        ...         yield (ctx.timestamp(), self.recent.get())
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"k": ["a"] * 4, "x": [1, 2, 3, 4], "ts": ts}, event_time="ts")
        >>> schema = {"t": rb.Int64, "recent": pa.list_(pa.int64())}
        >>> [r["recent"] for r in s.key_by("k").process(LastTwo(), output_schema=schema).collect().to_pylist()]
        [[1], [1, 2], [2, 3], [3, 4]]
        """
        vs = list(values)
        self._set(vs if vs else None)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.get())


class MapState(_StateHandle):
    """The map of the current key (Flink's ``MapState``)."""

    def _map(self) -> dict[Any, Any]:
        return dict(self._get() or {})

    def get(self, key: Any) -> Any:
        """The value under ``key`` (None if absent).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Visits(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.visits = runtime_context.get_map_state(rb.MapStateDescriptor("visits", rb.Utf8, rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         before = self.visits.get(value.page)  # None for a page not visited yet
        ...         self.visits.put(value.page, (before or 0) + 1)
        ...         yield (value.user, ctx.timestamp(), value.page, before)
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1, 1, 1, 2], "page": ["home", "cart", "home", "home"], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"user": rb.Int64, "t": rb.Int64, "page": rb.Utf8, "visits_before": rb.Int64}
        >>> out = s.key_by("user").process(Visits(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [(1, 1000, 'home', None), (1, 2000, 'cart', None), (1, 3000, 'home', 1), (2, 4000, 'home', None)]
        """
        return self._map().get(key)

    def put(self, key: Any, value: Any) -> None:
        """Set ``key`` to ``value``.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Stock(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.qty = runtime_context.get_map_state(rb.MapStateDescriptor("qty", rb.Utf8, rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         self.qty.put(value.item, value.qty)  # the latest count of the item replaces the last
        ...         yield (value.shop, ctx.timestamp(), sorted(self.qty.items()))
        >>> ts = pa.array([1000, 2000, 3000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"shop": ["s1"] * 3, "item": ["pen", "ink", "pen"], "qty": [5, 2, 4], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"shop": rb.Utf8, "t": rb.Int64, "qty": pa.map_(pa.string(), pa.int64())}
        >>> [r["qty"] for r in s.key_by("shop").process(Stock(), output_schema=schema).collect().to_pylist()]
        [[('pen', 5)], [('ink', 2), ('pen', 5)], [('ink', 2), ('pen', 4)]]
        """
        m = self._map()
        m[key] = value
        self._set(m)

    def put_all(self, entries: dict[Any, Any]) -> None:
        """Set several entries.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Prices(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.prices = runtime_context.get_map_state(rb.MapStateDescriptor("prices", rb.Utf8, rb.Float64))
        ...     def process_element(self, value, ctx):
        ...         self.prices.put_all(dict(zip(value.items, value.prices)))  # a price list updates several items
        ...         yield (value.shop, ctx.timestamp(), sorted(self.prices.items()))
        >>> ts = pa.array([1000, 2000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"shop": ["s1", "s1"], "items": [["pen", "ink"], ["ink", "pad"]],
        ...                     "prices": [[1.5, 4.0], [3.5, 2.0]], "ts": ts}, event_time="ts")
        >>> schema = {"shop": rb.Utf8, "t": rb.Int64, "prices": pa.map_(pa.string(), pa.float64())}
        >>> [r["prices"] for r in s.key_by("shop").process(Prices(), output_schema=schema).collect().to_pylist()]
        [[('ink', 4.0), ('pen', 1.5)], [('ink', 3.5), ('pad', 2.0), ('pen', 1.5)]]
        """
        m = self._map()
        m.update(entries)
        self._set(m)

    def remove(self, key: Any) -> None:
        """Remove ``key``.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Cart(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.cart = runtime_context.get_map_state(rb.MapStateDescriptor("cart", rb.Utf8, rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         if value.op == "add":
        ...             self.cart.put(value.item, value.qty)
        ...         else:
        ...             self.cart.remove(value.item)
        ...         yield (value.user, ctx.timestamp(), sorted(self.cart.keys()))
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1] * 4, "op": ["add", "add", "remove", "remove"],
        ...                     "item": ["pen", "ink", "pen", "pen"], "qty": [1, 2, 0, 0], "ts": ts}, event_time="ts")
        >>> schema = {"user": rb.Int64, "t": rb.Int64, "items": pa.list_(pa.string())}
        >>> [r["items"] for r in s.key_by("user").process(Cart(), output_schema=schema).collect().to_pylist()]
        [['pen'], ['ink', 'pen'], ['ink'], ['ink']]
        """
        m = self._map()
        m.pop(key, None)
        self._set(m if m else None)

    def contains(self, key: Any) -> bool:
        """Whether ``key`` is present.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class FirstVisits(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.first = runtime_context.get_map_state(rb.MapStateDescriptor("first", rb.Int64, rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         if not self.first.contains(value.user):  # each user's first visit of the page only
        ...             self.first.put(value.user, ctx.timestamp())
        ...             yield (value.page, value.user, ctx.timestamp())
        >>> ts = pa.array([1000, 2000, 3000, 4000, 5000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"page": ["home", "home", "home", "cart", "home"], "user": [1, 2, 1, 1, 2], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"page": rb.Utf8, "user": rb.Int64, "t": rb.Int64}
        >>> out = s.key_by("page").process(FirstVisits(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [('cart', 1, 4000), ('home', 1, 1000), ('home', 2, 2000)]
        """
        return key in self._map()

    def keys(self) -> list[Any]:
        """The keys.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Devices(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.seen = runtime_context.get_map_state(rb.MapStateDescriptor("seen", rb.Utf8, rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         self.seen.put(value.device, ctx.timestamp())
        ...         yield (value.user, ctx.timestamp(), sorted(self.seen.keys()))
        >>> ts = pa.array([1000, 2000, 3000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1, 1, 1], "device": ["phone", "laptop", "phone"], "ts": ts}, event_time="ts")
        >>> schema = {"user": rb.Int64, "t": rb.Int64, "devices": pa.list_(pa.string())}
        >>> [r["devices"] for r in s.key_by("user").process(Devices(), output_schema=schema).collect().to_pylist()]
        [['phone'], ['laptop', 'phone'], ['laptop', 'phone']]
        """
        return list(self._map().keys())

    def values(self) -> list[Any]:
        """The values.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Occupancy(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.rooms = runtime_context.get_map_state(rb.MapStateDescriptor("rooms", rb.Utf8, rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         self.rooms.put(value.room, value.people)  # the latest count per room
        ...         yield (value.floor, ctx.timestamp(), sum(self.rooms.values()))
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"floor": [1, 1, 1, 2], "room": ["a", "b", "a", "c"], "people": [3, 4, 1, 6], "ts": ts},
        ...                    event_time="ts")
        >>> schema = {"floor": rb.Int64, "t": rb.Int64, "people": rb.Int64}
        >>> out = s.key_by("floor").process(Occupancy(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [(1, 1000, 3), (1, 2000, 7), (1, 3000, 5), (2, 4000, 6)]
        """
        return list(self._map().values())

    def items(self) -> list[tuple[Any, Any]]:
        """The entries.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Latest(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.latest = runtime_context.get_map_state(rb.MapStateDescriptor("latest", rb.Utf8, rb.Float64))
        ...     def process_element(self, value, ctx):
        ...         self.latest.put(value.sensor, value.reading)
        ...         for sensor, reading in sorted(self.latest.items()):
        ...             yield (ctx.timestamp(), sensor, reading)
        >>> ts = pa.array([1000, 2000, 3000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"site": ["x"] * 3, "sensor": ["t1", "t2", "t1"], "reading": [20.5, 18.0, 21.0],
        ...                     "ts": ts}, event_time="ts")
        >>> schema = {"t": rb.Int64, "sensor": rb.Utf8, "reading": rb.Float64}
        >>> [tuple(r.values()) for r in s.key_by("site").process(Latest(), output_schema=schema).collect().to_pylist()]
        [(1000, 't1', 20.5), (2000, 't1', 20.5), (2000, 't2', 18.0), (3000, 't1', 21.0), (3000, 't2', 18.0)]
        """
        return list(self._map().items())

    def is_empty(self) -> bool:
        """Whether the map has no entry.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class CartEmptied(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.cart = runtime_context.get_map_state(rb.MapStateDescriptor("cart", rb.Utf8, rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         if value.qty:
        ...             self.cart.put(value.item, value.qty)
        ...         else:
        ...             self.cart.remove(value.item)
        ...         yield (ctx.timestamp(), self.cart.is_empty())
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1] * 4, "item": ["pen", "ink", "pen", "ink"], "qty": [1, 2, 0, 0], "ts": ts},
        ...                    event_time="ts")
        >>> out = s.key_by("user").process(CartEmptied(), output_schema={"t": rb.Int64, "empty": rb.Boolean})
        >>> [tuple(r.values()) for r in out.collect().to_pylist()]
        [(1000, False), (2000, False), (3000, False), (4000, True)]
        """
        return not self._map()


class RuntimeContext:
    """Given to :meth:`KeyedProcessFunction.open`: declares state and returns its handles
    (PyFlink's ``RuntimeContext``)."""

    def __init__(self) -> None:
        self.descriptors: list[StateDescriptor] = []

    def _add(self, desc: StateDescriptor, kind: str) -> None:
        if desc.kind != kind:
            raise TypeMismatchError(f"state {desc.name!r} is a {desc.kind} state descriptor")
        if any(d.name == desc.name for d in self.descriptors):
            raise PlanError(f"state {desc.name!r} is declared twice")
        self.descriptors.append(desc)

    def get_state(self, desc: ValueStateDescriptor) -> ValueState:
        """Declare value state and return its handle.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Count(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.count = runtime_context.get_state(rb.ValueStateDescriptor("count", rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         self.count.update((self.count.value() or 0) + 1)
        ...         yield (value.user, ctx.timestamp(), self.count.value())
        >>> ts = pa.array([1000, 2000, 3000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1, 2, 1], "ts": ts}, event_time="ts")
        >>> schema = {"user": rb.Int64, "t": rb.Int64, "count": rb.Int64}
        >>> out = s.key_by("user").process(Count(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [(1, 1000, 1), (1, 3000, 2), (2, 2000, 1)]
        """
        self._add(desc, "value")
        return ValueState(desc)

    def get_list_state(self, desc: ListStateDescriptor) -> ListState:
        """Declare list state and return its handle.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Basket(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.items = runtime_context.get_list_state(rb.ListStateDescriptor("items", rb.Utf8))
        ...     def process_element(self, value, ctx):
        ...         self.items.add(value.item)
        ...         if value.item == "checkout":
        ...             yield (value.user, self.items.get())
        ...             self.items.clear()
        >>> ts = pa.array([1000, 2000, 3000, 4000, 5000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1, 2, 1, 2, 1], "item": ["pen", "ink", "pad", "checkout", "checkout"],
        ...                     "ts": ts}, event_time="ts")
        >>> out = s.key_by("user").process(Basket(), output_schema={"user": rb.Int64, "items": pa.list_(pa.string())})
        >>> sorted(tuple(r.values()) for r in out.collect().to_pylist())
        [(1, ['pen', 'pad', 'checkout']), (2, ['ink', 'checkout'])]
        """
        self._add(desc, "list")
        return ListState(desc)

    def get_map_state(self, desc: MapStateDescriptor) -> MapState:
        """Declare map state and return its handle.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class PerMerchant(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.spent = runtime_context.get_map_state(rb.MapStateDescriptor("spent", rb.Utf8, rb.Float64))
        ...     def process_element(self, value, ctx):
        ...         self.spent.put(value.merchant, (self.spent.get(value.merchant) or 0) + value.amount)
        ...         yield (value.acct, ctx.timestamp(), value.merchant, self.spent.get(value.merchant))
        >>> ts = pa.array([1000, 2000, 3000, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"acct": [7, 7, 7, 8], "merchant": ["cafe", "shop", "cafe", "cafe"],
        ...                     "amount": [3.0, 20.0, 4.5, 2.0], "ts": ts}, event_time="ts")
        >>> schema = {"acct": rb.Int64, "t": rb.Int64, "merchant": rb.Utf8, "spent": rb.Float64}
        >>> out = s.key_by("acct").process(PerMerchant(), output_schema=schema).collect()
        >>> sorted(tuple(r.values()) for r in out.to_pylist())
        [(7, 1000, 'cafe', 3.0), (7, 2000, 'shop', 20.0), (7, 3000, 'cafe', 7.5), (8, 4000, 'cafe', 2.0)]
        """
        self._add(desc, "map")
        return MapState(desc)


class TimerService:
    """Timers and clocks of the current key (PyFlink's ``TimerService``). Times are ms
    since the epoch."""

    def __init__(self, ctx: Context):
        self._ctx = ctx

    def current_processing_time(self) -> int:
        """The wall clock (ms).

        Examples
        --------
        >>> import riverbed as rb, time
        >>> class Stamp(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         yield (value.k, ctx.timer_service().current_processing_time())
        >>> before = int(time.time() * 1000)
        >>> s = rb.from_pydict({"k": ["a"]})
        >>> out = s.key_by("k").process(Stamp(), output_schema={"k": rb.Utf8, "now": rb.Int64})
        >>> now = out.collect()["now"][0].as_py()
        >>> before <= now <= int(time.time() * 1000)
        True
        """
        return self._ctx._run.processing_time

    def current_watermark(self) -> int:
        """The current event-time watermark (ms): in ``on_timer``, the watermark that made
        the timer due; in ``process_element``, the one before the watermark that released
        the element (see docs/process-functions.md). In batch mode the watermark jumps to
        the end: elements see the smallest int64, timers the largest. In the example
        (streaming, one row per batch) each batch moves it to its row's time minus 1 ms.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Watch(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         ctx.timer_service().register_event_time_timer(ctx.timestamp() + 500)
        ...         yield ("element", ctx.timestamp(), ctx.timer_service().current_watermark())
        ...     def on_timer(self, timestamp, ctx):
        ...         yield ("timer", timestamp, ctx.timer_service().current_watermark())
        >>> env = rb.Environment(parallelism=1, batch_size=1, runtime_mode="streaming")
        >>> ts = pa.array([1000, 2000, 3000], pa.timestamp("ms"))
        >>> s = env.from_pydict({"k": ["a"] * 3, "ts": ts}, event_time="ts")
        >>> out = s.key_by("k").process(Watch(), output_schema={"what": rb.Utf8, "t": rb.Int64, "watermark": rb.Int64})
        >>> for r in out.collect().to_pylist()[:4]:
        ...     print(r)
        {'what': 'element', 't': 1000, 'watermark': 999}
        {'what': 'timer', 't': 1500, 'watermark': 1999}
        {'what': 'element', 't': 2000, 'watermark': 1999}
        {'what': 'timer', 't': 2500, 'watermark': 2999}
        """
        return self._ctx._watermark

    def register_event_time_timer(self, timestamp: int) -> None:
        """Call ``on_timer`` once the watermark passes ``timestamp``. A key has at most one
        timer per time: registering it again does nothing.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class PerSecond(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):  # a timer at the end of the element's second
        ...         ctx.timer_service().register_event_time_timer(ctx.timestamp() // 1000 * 1000 + 1000)
        ...     def on_timer(self, timestamp, ctx):
        ...         yield (ctx.get_current_key(), timestamp)
        >>> ts = pa.array([1200, 1700, 2500, 1900], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"k": ["a", "a", "a", "b"], "ts": ts}, event_time="ts")
        >>> out = s.key_by("k").process(PerSecond(), output_schema={"k": rb.Utf8, "t": rb.Int64})
        >>> sorted(tuple(r.values()) for r in out.collect().to_pylist())
        [('a', 2000), ('a', 3000), ('b', 2000)]
        """
        self._ctx._run.register(TimeDomain.EVENT_TIME, int(timestamp))

    def register_processing_time_timer(self, timestamp: int) -> None:
        """Call ``on_timer`` once the wall clock passes ``timestamp``. Timers still pending
        when a bounded input ends are dropped, so the example keeps its input open until
        the timer has fired.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa, threading
        >>> fired = threading.Event()
        >>> class Remind(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         now = ctx.timer_service().current_processing_time()
        ...         ctx.timer_service().register_processing_time_timer(now + 100)
        ...     def on_timer(self, timestamp, ctx):
        ...         fired.set()
        ...         now = ctx.timer_service().current_processing_time()
        ...         yield (ctx.get_current_key(), ctx.time_domain().name, now >= timestamp)
        >>> def batches():  # one row, then the input stays open until the timer fired
        ...     yield pa.record_batch({"k": ["a"]})
        ...     fired.wait(60)
        >>> s = rb.from_arrow(pa.RecordBatchReader.from_batches(pa.schema([("k", pa.string())]), batches()))
        >>> schema = {"k": rb.Utf8, "domain": rb.Utf8, "on_time": rb.Boolean}
        >>> out = s.key_by("k").process(Remind(), output_schema=schema)
        >>> out.collect().to_pylist()
        [{'k': 'a', 'domain': 'PROCESSING_TIME', 'on_time': True}]
        """
        self._ctx._run.register(TimeDomain.PROCESSING_TIME, int(timestamp))

    def delete_event_time_timer(self, timestamp: int) -> None:
        """Delete an event-time timer of the current key (a no-op if there is none).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Idle(rb.KeyedProcessFunction):  # fires 1 s after a key's last element
        ...     def open(self, runtime_context):
        ...         self.timer = runtime_context.get_state(rb.ValueStateDescriptor("timer", rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         if self.timer.value() is not None:
        ...             ctx.timer_service().delete_event_time_timer(self.timer.value())
        ...         self.timer.update(ctx.timestamp() + 1000)
        ...         ctx.timer_service().register_event_time_timer(self.timer.value())
        ...     def on_timer(self, timestamp, ctx):
        ...         self.timer.clear()
        ...         yield (ctx.get_current_key(), timestamp)
        >>> ts = pa.array([1000, 1500, 1800, 4000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"k": ["a"] * 4, "ts": ts}, event_time="ts")
        >>> [r["idle_at"] for r in s.key_by("k").process(Idle(), output_schema={"k": rb.Utf8, "idle_at": rb.Int64})
        ...  .collect().to_pylist()]
        [2800, 5000]
        """
        self._ctx._run.delete(TimeDomain.EVENT_TIME, int(timestamp))

    def delete_processing_time_timer(self, timestamp: int) -> None:
        """Delete a processing-time timer of the current key.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa, threading
        >>> fired = threading.Event()
        >>> class Once(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         self.start = runtime_context.get_state(rb.ValueStateDescriptor("start", rb.Int64))
        ...     def process_element(self, value, ctx):
        ...         now = ctx.timer_service().current_processing_time()
        ...         self.start.update(now)
        ...         ctx.timer_service().register_processing_time_timer(now + 50)
        ...         ctx.timer_service().register_processing_time_timer(now + 100)
        ...         ctx.timer_service().delete_processing_time_timer(now + 50)  # only the later one fires
        ...     def on_timer(self, timestamp, ctx):
        ...         fired.set()
        ...         yield (ctx.get_current_key(), timestamp - self.start.value())
        >>> def batches():  # one row, then the input stays open until a timer fired
        ...     yield pa.record_batch({"k": ["a"]})
        ...     fired.wait(60)
        >>> s = rb.from_arrow(pa.RecordBatchReader.from_batches(pa.schema([("k", pa.string())]), batches()))
        >>> out = s.key_by("k").process(Once(), output_schema={"k": rb.Utf8, "after_ms": rb.Int64})
        >>> out.collect().to_pylist()
        [{'k': 'a', 'after_ms': 100}]
        """
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
        """The element's timestamp (ms since the epoch; None without event time), or the
        timer's time in ``on_timer``.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Times(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         ctx.timer_service().register_event_time_timer(ctx.timestamp() + 60_000)
        ...         yield ("element", ctx.timestamp())
        ...     def on_timer(self, timestamp, ctx):
        ...         yield ("timer", ctx.timestamp())  # the timer's time
        >>> ts = pa.array(["2026-01-01 00:00:00", "2026-01-01 00:00:30"], pa.string()).cast(pa.timestamp("ms"))
        >>> s = rb.from_pydict({"k": ["a", "a"], "ts": ts}, event_time="ts")
        >>> out = s.key_by("k").process(Times(), output_schema={"what": rb.Utf8, "t": rb.Int64}).collect()
        >>> [(r["what"], r["t"]) for r in out.to_pylist()]
        [('element', 1767225600000), ('element', 1767225630000), ('timer', 1767225660000), ('timer', 1767225690000)]
        """
        return self._timestamp

    def timer_service(self) -> TimerService:
        """Register and delete timers; read the clocks.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class FollowUp(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         if value.event == "signup":
        ...             ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1000)
        ...     def on_timer(self, timestamp, ctx):
        ...         yield (ctx.get_current_key(), timestamp)
        >>> ts = pa.array([1000, 1200, 3000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"user": [1, 2, 2], "event": ["signup", "click", "signup"], "ts": ts}, event_time="ts")
        >>> out = s.key_by("user").process(FollowUp(), output_schema={"user": rb.Int64, "t": rb.Int64})
        >>> sorted(tuple(r.values()) for r in out.collect().to_pylist())
        [(1, 2000), (2, 4000)]
        """
        return self._service

    def get_current_key(self) -> Any:
        """The key (a tuple when keyed by several columns).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Keys(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         yield {"key": str(ctx.get_current_key())}
        >>> s = rb.from_pydict({"acct": [7, 7, 8], "ccy": ["EUR", "USD", "EUR"]})
        >>> sorted(s.key_by("acct", "ccy").process(Keys(), output_schema={"key": rb.Utf8}).collect()["key"].to_pylist())
        ["(7, 'EUR')", "(7, 'USD')", "(8, 'EUR')"]
        >>> sorted(s.key_by("acct").process(Keys(), output_schema={"key": rb.Utf8}).collect()["key"].to_pylist())
        ['7', '7', '8']
        """
        return self._run.key

    def time_domain(self) -> TimeDomain | None:
        """In ``on_timer``: the clock of the timer that fired (None in ``process_element``).

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Domains(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1000)
        ...         yield ("element", ctx.time_domain() is None)
        ...     def on_timer(self, timestamp, ctx):
        ...         yield ("timer", ctx.time_domain() == rb.TimeDomain.EVENT_TIME)
        >>> s = rb.from_pydict({"k": ["a"], "ts": pa.array([1000], pa.timestamp("ms"))}, event_time="ts")
        >>> out = s.key_by("k").process(Domains(), output_schema={"call": rb.Utf8, "ok": rb.Boolean}).collect()
        >>> [tuple(r.values()) for r in out.to_pylist()]
        [('element', True), ('timer', True)]
        """
        return self._domain

    def output(self, tag: OutputTag, row: Any) -> None:
        """Send a row to a side output (declared with ``process(..., side_outputs=[tag])``,
        read with ``side_output(tag)``).

        Examples
        --------
        >>> import riverbed as rb
        >>> small = rb.OutputTag("small", {"acct": rb.Int64, "amount": rb.Float64})
        >>> class Route(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         if value.amount < 1.0:
        ...             ctx.output(small, (value.acct, value.amount))  # to the side output
        ...         else:
        ...             yield (value.acct, value.amount)
        >>> s = rb.from_pydict({"acct": [1, 2, 1, 3], "amount": [0.5, 20.0, 600.0, 0.1]})
        >>> out = s.key_by("acct").process(Route(), output_schema={"acct": rb.Int64, "amount": rb.Float64},
        ...                                side_outputs=[small])
        >>> main, side = rb.collect_all([out, out.side_output(small)])
        >>> sorted(main["amount"].to_pylist()), sorted(side["amount"].to_pylist())
        ([20.0, 600.0], [0.1, 0.5])
        """
        self._run.side(tag, row)


class KeyedProcessFunction:
    """Per-key logic with state and timers, as PyFlink's ``KeyedProcessFunction``.

    Subclass it: ``open(ctx)`` declares state (``ctx.get_state(rb.ValueStateDescriptor(...))``)
    and keeps the handles; ``process_element(value, ctx)`` is called for every element
    (``value`` is an :class:`rb.Row`: fields by attribute, name or position) and
    ``on_timer(timestamp, ctx)`` for every timer that fires; both may ``yield`` output rows
    (dicts, or tuples in the output schema's order). ``open`` runs once, when the pipeline
    is built, to declare the state; ``close`` once, when the pipeline is dropped.

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
        """Declare state; called once when the pipeline is built (by ``process``), not per
        job or per subtask.

        Examples
        --------
        >>> import riverbed as rb
        >>> class Sum(rb.KeyedProcessFunction):
        ...     def open(self, runtime_context):
        ...         print("open")
        ...         self.total = runtime_context.get_state(rb.ValueStateDescriptor("total", rb.Float64))
        ...     def process_element(self, value, ctx):
        ...         self.total.update((self.total.value() or 0) + value.amount)
        ...         yield (value.acct, self.total.value())
        >>> s = rb.from_pydict({"acct": [1, 1, 2], "amount": [2.0, 3.5, 1.0]})
        >>> out = s.key_by("acct").process(Sum(), output_schema={"acct": rb.Int64, "total": rb.Float64})
        open
        >>> sorted(tuple(r.values()) for r in out.collect().to_pylist())
        [(1, 2.0), (1, 5.5), (2, 1.0)]
        """

    def process_element(self, value: Row, ctx: Context) -> Iterable[Any] | None:
        """Handle one element (an :class:`rb.Row`) of the current key; yield output rows
        (none, one or several: dicts, or tuples in the output schema's order).

        Examples
        --------
        >>> import riverbed as rb
        >>> class Split(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         for word in value.text.split():  # one row per word, none for an empty text
        ...             yield {"doc": value.doc, "word": word}
        >>> s = rb.from_pydict({"doc": [1, 2, 3], "text": ["to be", "", "or"]})
        >>> out = s.key_by("doc").process(Split(), output_schema={"doc": rb.Int64, "word": rb.Utf8})
        >>> sorted(tuple(r.values()) for r in out.collect().to_pylist())
        [(1, 'be'), (1, 'to'), (3, 'or')]
        """
        raise NotImplementedError

    def on_timer(self, timestamp: int, ctx: Context) -> Iterable[Any] | None:
        """Handle a timer of the current key; yield output rows. An event-time timer fires
        once the watermark passes it: after the key's elements up to its time, before later
        ones.

        Examples
        --------
        >>> import riverbed as rb, pyarrow as pa
        >>> class Expire(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         ctx.timer_service().register_event_time_timer(ctx.timestamp() + 1500)
        ...         yield (ctx.timestamp(), "element")
        ...     def on_timer(self, timestamp, ctx):
        ...         yield (timestamp, "timer")
        >>> ts = pa.array([1000, 2000, 5000], pa.timestamp("ms"))
        >>> s = rb.from_pydict({"k": ["a"] * 3, "ts": ts}, event_time="ts")
        >>> out = s.key_by("k").process(Expire(), output_schema={"t": rb.Int64, "what": rb.Utf8}).collect()
        >>> [tuple(r.values()) for r in out.to_pylist()]
        [(1000, 'element'), (2000, 'element'), (2500, 'timer'), (3500, 'timer'), (5000, 'element'), (6500, 'timer')]
        """
        return None

    def close(self) -> None:
        """Called once when the pipeline (its streams and the jobs that ran it) is dropped;
        nothing to release by default.

        Examples
        --------
        >>> import riverbed as rb
        >>> class Echo(rb.KeyedProcessFunction):
        ...     def process_element(self, value, ctx):
        ...         yield (value.k,)
        ...     def close(self):
        ...         print("closed")
        >>> out = rb.from_pydict({"k": [1, 2]}).key_by("k").process(Echo(), output_schema={"k": rb.Int64})
        >>> out.collect().num_rows
        2
        >>> del out
        closed
        """


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
            raise PlanError(f"side output {tag.name!r} was not declared in process(..., side_outputs=[...])")
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
                    raise PlanError(f"an output row has {len(r)} values for the {len(names)} columns {names}")
                dicts.append(dict(zip(names, r)))
            else:
                raise TypeMismatchError(f"output rows must be dicts or tuples, got {type(r).__name__}")
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
            raise TypeMismatchError(f"side_outputs takes rb.OutputTag(...) objects, got {type(t).__name__}")
    if len({t.name for t in sides}) != len(sides):
        raise PlanError("two side outputs have the same name")
    if isinstance(fn, KeyedProcessFunction):
        if state is not None:
            raise PlanError("a KeyedProcessFunction declares its state in open(); do not pass state=")
        rc = RuntimeContext()
        fn.open(rc)
        descs = rc.descriptors
        vec: Callable[[KeyedBatch], ProcessResult] = _ElementAdapter(fn, out_schema, descs, sides, key_names)
        label = type(fn).__name__
    elif isinstance(fn, type) and issubclass(fn, KeyedProcessFunction):
        raise TypeMismatchError(f"process takes an instance: {fn.__name__}(), not the class")
    elif callable(fn):
        descs = list(state or [])
        for d in descs:
            if not isinstance(d, StateDescriptor):
                raise TypeMismatchError(
                    f"state takes state descriptors (rb.ValueStateDescriptor, ...), got {type(d).__name__}")
        if len({d.name for d in descs}) != len(descs):
            raise PlanError("two states have the same name")
        vec = fn
        label = getattr(fn, "__name__", "function")
    else:
        raise TypeMismatchError("process takes a rb.KeyedProcessFunction instance or a vectorized function "
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
