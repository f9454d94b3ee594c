"""Python functions on batches (``map_batches``): the engine calls back into Python.

One dispatcher (a ctypes callback) is registered with the engine; each function gets an
id. The callback takes the GIL only while the function runs (ctypes does this). An
exception is kept, with its traceback, and re-raised as the cause of the job's
:class:`UserFunctionError`.
"""

from __future__ import annotations

import ctypes
import itertools
import re
import threading
import traceback
import weakref
from typing import Any, Callable

import pyarrow as pa

from . import _lib
from .errors import TypeMismatchError

_UDF_FN = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                           ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p))

_lock = threading.Lock()
_functions: dict[int, tuple[Callable[[pa.RecordBatch], Any], pa.Schema | None, str]] = {}
_errors: dict[int, tuple[int, BaseException]] = {}  # error id -> (function id, exception)
_ids = itertools.count(1)
_error_ids = itertools.count(1)
_dispatcher: Any = None
_registered_pid: int | None = None
_strdup: Any = None

# The exceptions behind failed functions wait here until the job's error is raised. Those
# never raised (a dropped job, the other subtasks of a failed one) go with their function's
# registration, when its streams and jobs are gone; and only the latest are kept.
_MAX_ERRORS = 64

_ERROR_TAG = re.compile(r"\[python error #(\d+)\]")

# Set while a user function runs in this thread (an engine thread): a job cannot end while
# one of its functions runs, so Job methods called from there must not wait for it.
_local = threading.local()


def in_user_function() -> bool:
    """True while a map_batches function runs in the current thread."""
    return getattr(_local, "depth", 0) > 0


class Registration:
    """A registered function, held by the plan node that calls it (and, through the plan,
    by every job that runs it): when the last holder is gone, the function is unregistered,
    so streams and jobs that are dropped do not keep their functions forever."""

    def __init__(self, uid: int):
        self.uid = uid
        weakref.finalize(self, _unregister, uid)


def _unregister(uid: int) -> None:
    with _lock:
        _functions.pop(uid, None)
        for eid in [eid for eid, (fid, _) in _errors.items() if fid == uid]:
            del _errors[eid]


def register(fn: Callable[[pa.RecordBatch], Any], schema: pa.Schema | None, *,
             kind: str = "map_batches") -> Registration:
    """Register a function for a plan; the node keeps the returned registration. ``kind``
    names the operator in error messages."""
    _ensure_dispatcher()
    with _lock:
        uid = next(_ids)
        _functions[uid] = (fn, schema, kind)
    return Registration(uid)


def registered() -> int:
    """How many functions are registered (for tests)."""
    with _lock:
        return len(_functions)


def stored_errors() -> int:
    """How many exceptions of failed functions are kept, not yet raised (for tests)."""
    with _lock:
        return len(_errors)


def _ensure_dispatcher() -> None:
    global _dispatcher, _registered_pid, _strdup
    import os

    if _dispatcher is not None and _registered_pid == os.getpid():
        return
    lib = _lib.lib()
    lib.rb_set_udf_dispatcher.argtypes = [_UDF_FN, ctypes.POINTER(ctypes.c_void_p)]
    lib.rb_set_udf_dispatcher.restype = ctypes.c_int32
    libc = ctypes.CDLL(None)
    _strdup = libc.strdup
    _strdup.argtypes = [ctypes.c_char_p]
    _strdup.restype = ctypes.c_void_p
    cb = _UDF_FN(_dispatch)
    err = ctypes.c_void_p()
    _lib.check(lib.rb_set_udf_dispatcher(cb, ctypes.byref(err)), err)
    _dispatcher, _registered_pid = cb, os.getpid()


def _dispatch(uid: int, in_array: int, in_schema: int, out_array: int, out_schema: int, err_out: Any) -> int:
    try:
        batch = pa.RecordBatch._import_from_c(in_array, in_schema)
        fn, schema, kind = _functions[uid]
        _local.depth = getattr(_local, "depth", 0) + 1
        try:
            result = fn(batch)
        finally:
            _local.depth -= 1
        result = _to_batch(result, schema)
        result._export_to_c(out_array, out_schema)
        return 0
    except BaseException as e:  # noqa: BLE001 - must not unwind into the engine
        eid = next(_error_ids)
        with _lock:
            _errors[eid] = (uid, e)
            while len(_errors) > _MAX_ERRORS:  # errors of jobs whose failure nobody read
                del _errors[next(iter(_errors))]
        name = getattr(fn, "__name__", "function") if "fn" in locals() else "function"
        kind = locals().get("kind", "map_batches")
        msg = f"{kind}: {name} raised {type(e).__name__}: {e} [python error #{eid}]"
        err_out[0] = _strdup(msg.encode("utf-8", "replace"))
        return 10


def _to_batch(result: Any, schema: pa.Schema | None) -> pa.RecordBatch:
    """A function's result as one record batch: a RecordBatch as is; a Table, a pandas or a
    Polars DataFrame converted, and cast to the declared schema where its types differ but
    convert safely (pandas and Polars give large strings for declared utf8)."""
    if isinstance(result, pa.RecordBatch):
        return result
    mod = type(result).__module__
    if isinstance(result, pa.Table):
        table = result
    elif mod.startswith("pandas"):
        table = pa.Table.from_pandas(result, preserve_index=False)
    elif mod.startswith("polars") and hasattr(result, "to_arrow"):
        table = result.to_arrow()
    elif mod.startswith("polars"):
        raise TypeMismatchError(f"map_batches functions must return a DataFrame, got a Polars {type(result).__name__} "
                                "(call .collect() on it)")
    else:
        raise TypeMismatchError("map_batches functions must return a pyarrow RecordBatch or Table, or a pandas or "
                                f"Polars DataFrame, got {type(result).__name__}")
    if schema is not None and table.schema.names == schema.names and table.schema != schema:
        try:
            table = table.cast(schema)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass  # the engine names the column that does not fit the schema
    if table.num_rows == 0:
        return pa.RecordBatch.from_pylist([], schema=table.schema)
    return table.combine_chunks().to_batches()[0]


def original_error(message: str) -> BaseException | None:
    """The Python exception behind an engine error message, if it names one."""
    m = _ERROR_TAG.search(message)
    if not m:
        return None
    with _lock:
        entry = _errors.pop(int(m.group(1)), None)
    return entry[1] if entry else None


def traceback_text(e: BaseException) -> str:
    return "".join(traceback.format_exception(type(e), e, e.__traceback__))
