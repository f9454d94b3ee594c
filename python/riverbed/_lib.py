"""Binding to the engine's shared library (the C ABI in capi/riverbed.h) through ctypes.

The library is loaded lazily on first use. ctypes releases the GIL for every call, so long
engine calls never block other Python threads. The Go runtime cannot survive ``fork()``:
a child process that inherited a loaded engine gets a clear error instead of a hang.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any

import pyarrow as pa

from .errors import InvalidArgumentError, RiverbedError, error_for_status

_LIB_NAMES = {"linux": "libriverbed.so", "darwin": "libriverbed.dylib", "win32": "riverbed.dll"}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_loaded_pid: int | None = None

# Sizes of the Arrow C structs (all 64-bit fields and pointers).
_SCHEMA_SIZE = 72
_STREAM_SIZE = 40
_ARRAY_SIZE = 80


def library_path() -> str:
    """Path of the engine library: $RIVERBED_LIBRARY, else the one inside this package."""
    env = os.environ.get("RIVERBED_LIBRARY")
    if env:
        return env
    name = _LIB_NAMES.get(sys.platform, "libriverbed.so")
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), name)


def forked() -> bool:
    """True in a child made by fork() after the engine was loaded in its parent."""
    return _lib is not None and os.getpid() != _loaded_pid


def check_fork() -> None:
    """Raise the clear error of a forked child (the engine cannot run after fork())."""
    if forked():
        raise RiverbedError(
            "riverbed's engine was loaded in a parent process and this process was made "
            "by fork(); the engine's Go runtime cannot run after fork. Use the 'spawn' "
            "start method: multiprocessing.set_start_method('spawn') or "
            "multiprocessing.get_context('spawn')."
        )


def lib() -> ctypes.CDLL:
    """The loaded engine library (loaded on first call)."""
    global _lib, _loaded_pid
    if _lib is not None:
        check_fork()
        return _lib
    with _lock:
        if _lib is None:
            path = library_path()
            if not os.path.exists(path):
                raise RiverbedError(
                    f"riverbed's engine library is missing ({path}); reinstall riverbed "
                    "(pip install .) or set RIVERBED_LIBRARY to a built libriverbed"
                )
            lib = ctypes.CDLL(path)
            _declare(lib)
            _lib, _loaded_pid = lib, os.getpid()
            _start_profiles()
    return _lib


def _start_profiles() -> None:
    """Go profiles of the engine for the whole process when RIVERBED_CPUPROFILE /
    RIVERBED_HEAPPROFILE name files (written at exit; read them with `go tool pprof`)."""
    import atexit

    cpu, heap = os.environ.get("RIVERBED_CPUPROFILE"), os.environ.get("RIVERBED_HEAPPROFILE")
    if cpu:
        cpu_profile_start(cpu)
        atexit.register(cpu_profile_stop)
    if heap:
        atexit.register(write_profile, "heap", heap)


def cpu_profile_start(path: str) -> None:
    """Start writing a CPU profile of the engine's Go code to path (until cpu_profile_stop)."""
    err = ctypes.c_void_p()
    check(lib().rb_cpu_profile_start(os.fsencode(path), ctypes.byref(err)), err)


def cpu_profile_stop() -> None:
    """Stop the CPU profile and close its file (nothing when none runs)."""
    err = ctypes.c_void_p()
    check(lib().rb_cpu_profile_stop(ctypes.byref(err)), err)


def write_profile(kind: str, path: str) -> None:
    """Write the engine's Go profile named kind ("heap", "allocs", "goroutine", ...) to path now."""
    err = ctypes.c_void_p()
    check(lib().rb_write_profile(kind.encode(), os.fsencode(path), ctypes.byref(err)), err)


def _declare(dll: ctypes.CDLL) -> None:
    c_char_pp = ctypes.POINTER(ctypes.c_char_p)
    vpp = ctypes.POINTER(ctypes.c_void_p)
    u64p = ctypes.POINTER(ctypes.c_uint64)
    dll.rb_version.restype = ctypes.c_char_p
    dll.rb_version.argtypes = []
    dll.rb_plan_version.restype = ctypes.c_int32
    dll.rb_free_string.argtypes = [ctypes.c_void_p]
    dll.rb_free_string.restype = None
    dll.rb_allocated_bytes.restype = ctypes.c_int64
    for name, args in {
        "rb_plan_schema": [ctypes.c_char_p, vpp, ctypes.c_int32, ctypes.c_void_p, c_char_pp],
        "rb_plan_explain": [ctypes.c_char_p, vpp, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p), c_char_pp],
        "rb_sql_plan": [ctypes.c_char_p, ctypes.c_char_p, vpp, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p),
                        c_char_pp],
        "rb_job_start": [ctypes.c_char_p, vpp, ctypes.c_int32, u64p, c_char_pp],
        "rb_job_results": [ctypes.c_uint64, ctypes.c_void_p, c_char_pp],
        "rb_job_next": [ctypes.c_uint64, ctypes.POINTER(ctypes.c_int32), ctypes.c_void_p, ctypes.c_void_p, c_char_pp],
        "rb_job_progress": [ctypes.c_uint64, ctypes.POINTER(ctypes.c_int64), c_char_pp],
        "rb_job_error": [ctypes.c_uint64, c_char_pp],
        "rb_job_cancel": [ctypes.c_uint64, c_char_pp],
        "rb_job_free": [ctypes.c_uint64, c_char_pp],
        "rb_job_stop": [ctypes.c_uint64, ctypes.c_int32, c_char_pp],
        "rb_job_metrics": [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p), c_char_pp],
        "rb_job_checkpoint": [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p), c_char_pp],
        "rb_job_savepoint": [ctypes.c_uint64, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p),
                             c_char_pp],
        "rb_job_checkpoints": [ctypes.c_uint64, ctypes.POINTER(ctypes.c_void_p), c_char_pp],
        "rb_snapshot_describe": [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p), c_char_pp],
        "rb_snapshot_read": [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p, c_char_pp],
        "rb_cpu_profile_start": [ctypes.c_char_p, c_char_pp],
        "rb_cpu_profile_stop": [c_char_pp],
        "rb_write_profile": [ctypes.c_char_p, ctypes.c_char_p, c_char_pp],
        "rb_debug_panic": [ctypes.c_int32, c_char_pp],  # only in the test build of the library
    }.items():
        if not hasattr(dll, name) and name == "rb_debug_panic":
            continue
        fn = getattr(dll, name)
        fn.argtypes = args
        fn.restype = ctypes.c_int32
    # Error strings are returned as char* that we must free: read them as void*.
    for name in ("rb_plan_schema", "rb_plan_explain", "rb_sql_plan", "rb_job_start", "rb_job_results", "rb_job_next",
                 "rb_job_progress", "rb_job_error", "rb_job_cancel", "rb_job_free", "rb_debug_panic",
                 "rb_job_stop", "rb_job_metrics", "rb_job_checkpoint", "rb_job_savepoint", "rb_job_checkpoints",
                 "rb_snapshot_describe", "rb_snapshot_read", "rb_cpu_profile_start", "rb_cpu_profile_stop",
                 "rb_write_profile"):
        if not hasattr(dll, name) and name == "rb_debug_panic":
            continue
        fn = getattr(dll, name)
        fn.argtypes = fn.argtypes[:-1] + [ctypes.POINTER(ctypes.c_void_p)]


def _take_string(ptr: ctypes.c_void_p) -> str:
    if not ptr.value:
        return ""
    try:
        return ctypes.string_at(ptr.value).decode("utf-8", errors="replace")
    finally:
        lib().rb_free_string(ptr.value)


def _clean_message(msg: str) -> str:
    """Drop what pyarrow adds to riverbed's own check of an input stream that crossed an
    Arrow C stream (the check's DataError becomes the error's cause)."""
    if "from_arrow input " not in msg:
        return msg
    msg = msg.split(". Detail: Python exception: ")[0]
    return msg.replace("invalid argument: Unknown error: ", "").replace("Unknown error: ", "")


def check(status: int, err: ctypes.c_void_p) -> None:
    """Raise the exception for a non-zero status, with the engine's message."""
    if status != 0:
        raise error_for_status(status, _take_string(err) or f"riverbed error (status {status})")


def version() -> str:
    return lib().rb_version().decode()


def plan_version() -> int:
    return int(lib().rb_plan_version())


def allocated_bytes() -> int:
    """Bytes of Arrow memory the engine currently holds."""
    return int(lib().rb_allocated_bytes())


def _text(value: str, what: str) -> bytes:
    """value as the C string the engine reads: a NUL byte would end it early (the rest of
    a SQL query, a path), so it is refused."""
    if "\x00" in value:
        raise InvalidArgumentError(f"{what} contains a NUL byte (\\x00): {value!r}")
    return value.encode()


def _deep(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """fn(...), with room for a plan nested deeper than Python's recursion limit allows
    (an expression folded over hundreds of columns, ``reduce(operator.add, cols)``, nests
    two JSON levels per operation): on a RecursionError it runs again with a higher limit."""
    try:
        return fn(*args, **kwargs)
    except RecursionError:
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, 50_000))
        try:
            return fn(*args, **kwargs)
        finally:
            sys.setrecursionlimit(old)


def _plan_json(plan: Any) -> bytes:
    """The JSON text of a plan document. JSON has no NaN or infinity: a float option
    (not a literal, which has its own encoding) that is one is refused."""
    try:
        return _deep(json.dumps, plan, allow_nan=False).encode()
    except ValueError:
        raise InvalidArgumentError(
            "a number given to the pipeline is NaN or infinite (an events_per_second, rows_per_second, "
            "a datagen bound, a function option); give a finite number") from None


def _check_names(schema: pa.Schema, what: str) -> None:
    """Column names cross the Arrow C interface as C strings: a NUL byte would cut them."""
    for name in schema.names:
        if "\x00" in name:
            raise InvalidArgumentError(f"{what} has a column name with a NUL byte (\\x00): {name!r}")


def _export_schemas(schemas: Sequence[pa.Schema]) -> tuple[Any, list[Any]]:
    for sc in schemas:
        _check_names(sc, "an input")
    bufs = [ctypes.create_string_buffer(_SCHEMA_SIZE) for _ in schemas]
    for s, b in zip(schemas, bufs):
        s._export_to_c(ctypes.addressof(b))
    arr = (ctypes.c_void_p * max(1, len(bufs)))(*[ctypes.addressof(b) for b in bufs])
    return arr, bufs


def plan_schema(plan: dict[str, Any], schemas: Sequence[pa.Schema]) -> pa.Schema:
    arr, keep = _export_schemas(schemas)
    out = ctypes.create_string_buffer(_SCHEMA_SIZE)
    err = ctypes.c_void_p()
    st = lib().rb_plan_schema(_plan_json(plan), arr, len(schemas), ctypes.addressof(out), ctypes.byref(err))
    check(st, err)
    del keep
    return pa.Schema._import_from_c(ctypes.addressof(out))


def plan_explain(plan: dict[str, Any], schemas: Sequence[pa.Schema]) -> str:
    arr, keep = _export_schemas(schemas)
    text = ctypes.c_void_p()
    err = ctypes.c_void_p()
    st = lib().rb_plan_explain(_plan_json(plan), arr, len(schemas), ctypes.byref(text), ctypes.byref(err))
    check(st, err)
    del keep
    return _take_string(text)


def sql_plan(query: str, tables: dict[str, Any], schemas: Sequence[pa.Schema]) -> dict[str, Any]:
    """The plan node of a SQL query over tables (``{"names": [...], "plan": doc}``), in which
    each table is ``{"ref": "$table:<i>"}`` (see rb_sql_plan)."""
    arr, keep = _export_schemas(schemas)
    out = ctypes.c_void_p()
    err = ctypes.c_void_p()
    st = lib().rb_sql_plan(_text(query, "the SQL text"), _plan_json(tables), arr, len(schemas), ctypes.byref(out),
                           ctypes.byref(err))
    check(st, err)
    del keep
    result: dict[str, Any] = _deep(json.loads, _take_string(out))
    return result


def snapshot_describe(path: str) -> dict[str, Any]:
    """The kind, id, time and state tables of a checkpoint or savepoint directory."""
    out = ctypes.c_void_p()
    err = ctypes.c_void_p()
    check(lib().rb_snapshot_describe(_text(path, "the path"), ctypes.byref(out), ctypes.byref(err)), err)
    return dict(json.loads(_take_string(out)))


def snapshot_read(path: str, op: str, table: str) -> pa.RecordBatchReader:
    """Every row of one state table of a checkpoint or savepoint."""
    out = ctypes.create_string_buffer(_STREAM_SIZE)
    err = ctypes.c_void_p()
    check(lib().rb_snapshot_read(_text(path, "the path"), _text(op, "the operator"), _text(table, "the table"),
                                 ctypes.addressof(out), ctypes.byref(err)), err)
    return pa.RecordBatchReader._import_from_c(ctypes.addressof(out))


class JobHandle:
    """A running engine job: its result stream, progress, cancellation. Every method goes
    through :func:`lib`, so that in a forked child each one raises the fork error."""

    def __init__(self, plan: dict[str, Any], readers: Sequence[pa.RecordBatchReader]):
        self._freed = True
        dll = lib()  # before anything is exported: in a forked child this raises
        for r in readers:
            _check_names(r.schema, "an input")
        bufs = [ctypes.create_string_buffer(_STREAM_SIZE) for _ in readers]
        for r, b in zip(readers, bufs):
            r._export_to_c(ctypes.addressof(b))
        arr = (ctypes.c_void_p * max(1, len(bufs)))(*[ctypes.addressof(b) for b in bufs])
        handle = ctypes.c_uint64()
        err = ctypes.c_void_p()
        st = dll.rb_job_start(_plan_json(plan), arr, len(bufs), ctypes.byref(handle), ctypes.byref(err))
        check(st, err)
        self.id = handle.value
        self._freed = False
        # Exceptions raised while the engine read a Python input stream (see stream.py).
        self.input_errors: list[BaseException] = []
        self.nodes: Any = None  # the plan's nodes, kept while the job runs (their functions stay registered)

    def reader(self) -> pa.RecordBatchReader:
        out = ctypes.create_string_buffer(_STREAM_SIZE)
        err = ctypes.c_void_p()
        check(lib().rb_job_results(self.id, ctypes.addressof(out), ctypes.byref(err)), err)
        return pa.RecordBatchReader._import_from_c(ctypes.addressof(out))

    def next_output(self) -> tuple[int, pa.RecordBatch] | None:
        """The next result batch of any output and its output index; None at the end.
        Blocks until a batch is ready (the GIL is released meanwhile)."""
        arr = ctypes.create_string_buffer(_ARRAY_SIZE)
        sch = ctypes.create_string_buffer(_SCHEMA_SIZE)
        out = ctypes.c_int32()
        err = ctypes.c_void_p()
        check(lib().rb_job_next(self.id, ctypes.byref(out), ctypes.addressof(arr), ctypes.addressof(sch),
                                ctypes.byref(err)), err)
        if out.value < 0:
            return None
        return out.value, pa.RecordBatch._import_from_c(ctypes.addressof(arr), ctypes.addressof(sch))

    def progress(self) -> dict[str, int]:
        vals = (ctypes.c_int64 * 9)()
        err = ctypes.c_void_p()
        check(lib().rb_job_progress(self.id, vals, ctypes.byref(err)), err)
        keys = ("rows_read", "rows_out", "splits_done", "splits_pruned", "files_done",
                "total_rows", "total_splits", "total_files", "done")
        return dict(zip(keys, (int(v) for v in vals)))

    def error(self) -> RiverbedError | None:
        err = ctypes.c_void_p()
        st = lib().rb_job_error(self.id, ctypes.byref(err))
        if st == 0:
            return None
        e = error_for_status(st, _clean_message(_take_string(err)))
        if self.input_errors and e.__cause__ is None:
            e.__cause__ = self.input_errors[0]
        return e

    def cancel(self) -> None:
        err = ctypes.c_void_p()
        check(lib().rb_job_cancel(self.id, ctypes.byref(err)), err)

    def stop(self, drain: bool) -> None:
        err = ctypes.c_void_p()
        check(lib().rb_job_stop(self.id, 1 if drain else 0, ctypes.byref(err)), err)

    def metrics(self) -> dict[str, Any]:
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check(lib().rb_job_metrics(self.id, ctypes.byref(out), ctypes.byref(err)), err)
        return json.loads(_take_string(out))

    def checkpoint(self) -> dict[str, Any]:
        """Take a checkpoint now and wait for it (the GIL is released meanwhile)."""
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check(lib().rb_job_checkpoint(self.id, ctypes.byref(out), ctypes.byref(err)), err)
        return dict(json.loads(_take_string(out)))

    def savepoint(self, path: str, stop: bool) -> dict[str, Any]:
        """Write a savepoint into path and wait for it; with stop, the job then ends."""
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check(lib().rb_job_savepoint(self.id, _text(path, "the savepoint path"), 1 if stop else 0, ctypes.byref(out),
                                     ctypes.byref(err)), err)
        return dict(json.loads(_take_string(out)))

    def checkpoints(self) -> list[dict[str, Any]]:
        out = ctypes.c_void_p()
        err = ctypes.c_void_p()
        check(lib().rb_job_checkpoints(self.id, ctypes.byref(out), ctypes.byref(err)), err)
        return list(json.loads(_take_string(out)))

    def free(self) -> None:
        if not self._freed:
            self._freed = True
            err = ctypes.c_void_p()
            check(lib().rb_job_free(self.id, ctypes.byref(err)), err)

    def __del__(self) -> None:
        try:
            if not getattr(self, "_freed", True) and not forked():
                self.free()
        except Exception:
            pass


def debug_panic(where: int) -> None:
    """Test hook: 0 panics inside an engine call (which disables the library), 1 returns an
    ordinary engine error, 2 panics inside a validation-only call (which does not)."""
    dll = lib()
    if not hasattr(dll, "rb_debug_panic"):
        raise RuntimeError("debug_panic needs the test build of the engine library (make test builds it)")
    err = ctypes.c_void_p()
    check(dll.rb_debug_panic(where, ctypes.byref(err)), err)
