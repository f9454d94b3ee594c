"""Helpers of the differential test suite (tests/test_differential.py).

A random pipeline is described once, as a list of operations over typed expressions, and
rendered twice: as a riverbed pipeline and as DuckDB SQL (the oracle). Every expression node
knows its riverbed result type (the rules of engine/expr/types.go and engine/expr/call.go: equal types
stay, a float makes float64 unless both are float32, integers widen to int64, uint64 only when
both are unsigned, ``/`` is float) and renders SQL that computes the *intended* value:

* integer arithmetic is exact and must fit the result type, otherwise the job fails (DuckDB
  computes in HUGEINT and casts back, which raises on overflow);
* ``//`` and ``%`` follow Python (floor; the remainder has the sign of the divisor); integer
  division by zero is null, float division by zero follows IEEE (inf, -inf, NaN);
* comparisons are exact between integers; floats are totally ordered as in DuckDB (NaN equals
  NaN and is above every number); null when either side is null; ``-x`` of an unsigned integer
  is int64; integer ``sum`` is checked (int64, uint64 for unsigned input);
* aggregations skip nulls; ``first``/``last`` are the first/last non-null values in input
  order; float ``min``/``max`` order NaN above every number; a null key is a group; ``-0.0``
  and ``0.0`` are one group and NaN is one group.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

import riverbed as rb
from riverbed import col, lit

# -- types ---------------------------------------------------------------------------------------

INTS = {
    "int8": (pa.int8(), "TINYINT", rb.Int8), "int16": (pa.int16(), "SMALLINT", rb.Int16),
    "int32": (pa.int32(), "INTEGER", rb.Int32), "int64": (pa.int64(), "BIGINT", rb.Int64),
    "uint8": (pa.uint8(), "UTINYINT", rb.UInt8), "uint16": (pa.uint16(), "USMALLINT", rb.UInt16),
    "uint32": (pa.uint32(), "UINTEGER", rb.UInt32), "uint64": (pa.uint64(), "UBIGINT", rb.UInt64),
}
FLOATS = {"float32": (pa.float32(), "FLOAT", rb.Float32), "float64": (pa.float64(), "DOUBLE", rb.Float64)}
# Temporal column kinds: (unit, time zone). Zoned nanosecond columns are left out: DuckDB
# keeps zoned timestamps in microseconds.
TEMPORALS = {
    "date32": None,
    "ts_s": ("s", None), "ts_ms": ("ms", None), "ts_us": ("us", None), "ts_ns": ("ns", None),
    "ts_ms_utc": ("ms", "UTC"), "ts_us_ny": ("us", "America/New_York"), "ts_s_kolkata": ("s", "Asia/Kolkata"),
}
ALL_KINDS = [*INTS, *FLOATS, "bool", "utf8", "lutf8", "numstr", *TEMPORALS]


def is_int(k: str) -> bool:
    return k in INTS


def is_uint(k: str) -> bool:
    return k.startswith("uint")


def is_float(k: str) -> bool:
    return k in FLOATS


def is_num(k: str) -> bool:
    return is_int(k) or is_float(k)


def is_str(k: str) -> bool:
    return k in ("utf8", "lutf8", "numstr")


def is_ts(k: str) -> bool:
    return k.startswith("ts_")


def is_temporal(k: str) -> bool:
    return k in TEMPORALS


def tz_of(k: str) -> str | None:
    return TEMPORALS[k][1] if is_ts(k) else None


def arrow_type(k: str) -> pa.DataType:
    if k in INTS:
        return INTS[k][0]
    if k in FLOATS:
        return FLOATS[k][0]
    if k == "bool":
        return pa.bool_()
    if k == "lutf8":
        return pa.large_string()
    if is_str(k):
        return pa.string()
    if k == "date32":
        return pa.date32()
    unit, tz = TEMPORALS[k]
    return pa.timestamp(unit, tz=tz)


def sql_type(k: str) -> str:
    if k in INTS:
        return INTS[k][1]
    if k in FLOATS:
        return FLOATS[k][1]
    return {"bool": "BOOLEAN", "utf8": "VARCHAR", "lutf8": "VARCHAR", "numstr": "VARCHAR", "date32": "DATE"}[k]


def rb_type(k: str) -> rb.DataType:
    if k in INTS:
        return INTS[k][2]
    if k in FLOATS:
        return FLOATS[k][2]
    if k == "bool":
        return rb.Boolean
    if k == "lutf8":
        return rb.DataType("large_utf8", pa.large_string())
    if is_str(k):
        return rb.Utf8
    if k == "date32":
        return rb.Date
    unit, tz = TEMPORALS[k]
    return rb.Timestamp(unit, tz)


def int_range(k: str) -> tuple[int, int]:
    bits = int(k.lstrip("uint"))
    if is_uint(k):
        return 0, 2**bits - 1
    return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1


def supertype(a: str, b: str) -> str:
    """numericSupertype of engine/expr/types.go (an untyped null takes the other side's type)."""
    if a == b:
        return a if a != "null" else "int64"
    if a == "null" or b == "null":
        return b if a == "null" else a
    if is_float(a) or is_float(b):
        return "float32" if a == b == "float32" else "float64"
    if is_uint(a) and is_uint(b):
        return "uint64"
    return "int64"


# Units of the temporal kinds, in nanoseconds.
UNIT_NS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
# The widest range DuckDB (the oracle) represents, in microseconds, without its +-infinity,
# less a day at each end (DuckDB fails to convert some values in the last day).
DUCK_US_MIN, DUCK_US_MAX = -9223372022400000000 + 86_400_000_000, 9223372036854775806 - 86_400_000_000


def temporal_range(k: str) -> tuple[int, int]:
    if k == "date32":
        return -(2**31), 2**31 - 2  # 2**31 - 1 is DuckDB's infinity
    unit, tz = TEMPORALS[k]
    if tz:  # DuckDB converts zoned times to wall clock times only in years 1 to 9999
        f = {"s": 1, "ms": 1000, "us": 1_000_000}[unit]
        return -62135596800 * f, 253402300799 * f
    if unit == "ns":
        return -(2**63) + 2, 2**63 - 2
    if unit in ("s", "ms"):
        # DuckDB takes calendar fields of TIMESTAMP_S/_MS through nanoseconds: 1677 to 2262
        f = {"s": 1_000_000_000, "ms": 1_000_000}[unit]
        return -(2**63 - 1) // f + 1, (2**63 - 1) // f
    f = {"s": 1_000_000, "ms": 1000, "us": 1}[unit]
    return -(-DUCK_US_MIN // f), DUCK_US_MAX // f


# -- expressions ---------------------------------------------------------------------------------

@dataclass
class TE:
    """A typed expression: the riverbed expression, its SQL and its riverbed result kind."""

    rb: rb.Expr
    sql: str
    kind: str
    ops: frozenset = field(default_factory=frozenset)  # constructs used
    int_lit: int | None = None  # the value of a non-null integer literal
    # for aggregations: ("sum", arg TE) etc.


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_lit(v: Any, k: str) -> str:
    if v is None:
        return f"CAST(NULL AS {sql_type(k) if not is_ts(k) else ts_sql_type(k)})"
    if is_int(k):
        return f"CAST({int(v)} AS {sql_type(k)})"
    if is_float(k):
        if math.isnan(v):
            s = "'nan'"
        elif math.isinf(v):
            s = "'inf'" if v > 0 else "'-inf'"
        else:
            s = repr(float(v))
        return f"CAST({s} AS {sql_type(k)})"
    if k == "bool":
        return "TRUE" if v else "FALSE"
    if is_str(k):
        return "'" + v.replace("'", "''") + "'"
    if k == "date32":
        return f"(DATE '1970-01-01' + CAST({int(v)} AS INTEGER))"
    unit = TEMPORALS[k][0]
    if unit == "ns":
        ts = f"make_timestamp_ns({int(v)})"
    else:
        ts = f"make_timestamp({int(v) * {'s': 1_000_000, 'ms': 1000, 'us': 1}[unit]})"
    return f"CAST({ts} AS {ts_sql_type(k)})"


def ts_sql_type(k: str) -> str:
    unit, tz = TEMPORALS[k]
    if tz:
        return "TIMESTAMPTZ"
    return {"s": "TIMESTAMP_S", "ms": "TIMESTAMP_MS", "us": "TIMESTAMP", "ns": "TIMESTAMP_NS"}[unit]


def make_lit(v: Any, k: str) -> TE:
    if k == "null":
        return TE(lit(None), "NULL", "null", frozenset({"lit", "lit_null"}))
    if k == "date32" and v is not None:
        v = max(v, -(2**31) + 2)  # DuckDB cannot write the two smallest dates as literals
    if is_float(k) and k == "float32" and v is not None and math.isfinite(v):
        v = float(pa.scalar(v, pa.float32()).as_py())
    e = lit(v, rb_type(k))
    return TE(e, sql_lit(v, k), k, frozenset({"lit", "lit_" + k}), int(v) if is_int(k) and v is not None else None)


def colref(name: str, k: str) -> TE:
    return TE(col(name), q(name), k, frozenset())


def _u(*es: TE, extra: str | None = None) -> frozenset:
    s = frozenset().union(*(e.ops for e in es))
    return s | {extra} if extra else s


def null_constant(e: TE) -> bool:
    """Whether e is a null literal (typed or not) or a cast of one."""
    return e.sql == "NULL" or e.sql.startswith("CAST(NULL AS ")


def arith_supertype(a: TE, b: TE) -> str:
    """arithSupertype of engine/expr/numeric.go: an integer literal takes the other operand's
    integer type when its value fits."""
    if is_int(a.kind) and is_int(b.kind) and a.kind != b.kind:
        lo, hi = int_range(a.kind)
        b_fits = b.int_lit is not None and lo <= b.int_lit <= hi
        lo, hi = int_range(b.kind)
        a_fits = a.int_lit is not None and lo <= a.int_lit <= hi
        if a_fits and b_fits:
            # two literals, each held by the other's type: the narrower (signed at one width)
            wa, wb = int(a.kind.lstrip("uint")), int(b.kind.lstrip("uint"))
            return a.kind if wa < wb or (wa == wb and a.kind.startswith("int")) else b.kind
        if b_fits:
            return a.kind
        if a_fits:
            return b.kind
    return supertype(a.kind, b.kind)


def arith(op: str, a: TE, b: TE) -> TE:
    t = arith_supertype(a, b)
    rbe = {"+": a.rb + b.rb, "-": a.rb - b.rb, "*": a.rb * b.rb, "/": a.rb / b.rb,
           "//": a.rb // b.rb, "%": a.rb % b.rb}[op]
    if op == "/":
        ft = "float32" if t == "float32" else "float64"
        st = sql_type(ft)
        return TE(rbe, f"(CAST({a.sql} AS {st}) / CAST({b.sql} AS {st}))", ft, _u(a, b, extra="div"))
    st = sql_type(t)
    x, y = f"CAST({a.sql} AS {st})", f"CAST({b.sql} AS {st})"
    if is_float(t):
        if op in "+-*":
            sql = f"({x} {op} {y})"
        else:
            dx, dy = f"CAST({x} AS DOUBLE)", f"CAST({y} AS DOUBLE)"
            if op == "//":
                sql = f"CAST(floor({dx} / {dy}) AS {st})"
            else:
                # Python's float modulo; fmod of a finite by an infinite divisor is the dividend
                r = f"(CASE WHEN isinf({dy}) AND isfinite({dx}) THEN {dx} ELSE fmod({dx}, {dy}) END)"
                sql = (f"CAST((CASE WHEN {r} <> 0 AND (({r} < 0) <> ({dy} < 0)) THEN {r} + {dy} ELSE {r} END)"
                       f" AS {st})")
        return TE(rbe, sql, t, _u(a, b, extra={"//": "floordiv", "%": "mod"}.get(op, "farith")))
    hx, hy = f"CAST({x} AS HUGEINT)", f"CAST({y} AS HUGEINT)"
    if op in "+-*":
        sql = f"CAST(({hx} {op} {hy}) AS {st})"
        extra = "overflow"
    else:
        r = f"({hx} % {hy})"
        fix = f"({r} <> 0 AND (({r} < 0) <> ({hy} < 0)))"
        if op == "//":
            inner = f"({hx} // {hy}) - (CASE WHEN {fix} THEN 1 ELSE 0 END)"
            extra = "overflow"  # MIN // -1
        else:
            inner = f"{r} + (CASE WHEN {fix} THEN {hy} ELSE 0 END)"
            extra = "mod"
        sql = f"(CASE WHEN {hy} = 0 THEN NULL ELSE CAST({inner} AS {st}) END)"
    ops = _u(a, b, extra=extra)
    if extra == "overflow" and (null_constant(a) or null_constant(b)):
        # DuckDB's binder folds arithmetic on a NULL constant to NULL without evaluating
        # the other operand (optimizer off or not); the engine evaluates it, and raises if
        # it overflows.
        ops |= {"null_masks_overflow"}
    return TE(rbe, sql, t, ops)


def neg(a: TE) -> TE:
    if is_float(a.kind):
        return TE(-a.rb, f"(-{a.sql})", a.kind, a.ops)
    k = "int64" if is_uint(a.kind) or a.kind == "null" else a.kind  # -unsigned is int64 (checked)
    return TE(-a.rb, f"CAST(-CAST({a.sql} AS HUGEINT) AS {sql_type(k)})", k, _u(a, extra="overflow"))


def instant_ns(a: TE) -> str:
    """SQL of a date or timestamp as exact nanoseconds since the epoch (UTC), a HUGEINT."""
    if a.kind == "date32":
        return f"(CAST({a.sql} - DATE '1970-01-01' AS HUGEINT) * 86400000000000)"
    if a.kind == "ts_ns":
        return f"CAST(epoch_ns({a.sql}) AS HUGEINT)"
    return f"(CAST(epoch_us({a.sql}) AS HUGEINT) * 1000)"


def compare(op: str, a: TE, b: TE) -> TE:
    rbe = {"==": a.rb == b.rb, "!=": a.rb != b.rb, "<": a.rb < b.rb, "<=": a.rb <= b.rb,
           ">": a.rb > b.rb, ">=": a.rb >= b.rb}[op]
    sop = {"==": "=", "!=": "<>"}.get(op, op)
    x, y = a.sql, b.sql
    ops = _u(a, b, extra="cmp")
    if a.kind == b.kind == "null":
        ops = ops | {"cmp_null_null"}
    if is_temporal(a.kind) and is_temporal(b.kind) and a.kind != b.kind:
        # riverbed compares instants of any two temporal types exactly (a naive timestamp as UTC)
        return TE(rbe, f"({instant_ns(a)} {sop} {instant_ns(b)})", "bool", ops)
    if is_num(a.kind) and is_num(b.kind) and (is_float(a.kind) or is_float(b.kind)):
        t = sql_type(supertype(a.kind, b.kind))
        # DuckDB's float order is riverbed's: NaN equals NaN and is above every number
        return TE(rbe, f"(CAST({x} AS {t}) {sop} CAST({y} AS {t}))", "bool", ops)
    if (is_uint(a.kind) and is_int(b.kind) and not is_uint(b.kind)) or (
            is_uint(b.kind) and is_int(a.kind) and not is_uint(a.kind)):
        ops = ops | {"cmp_uint_int"}
    return TE(rbe, f"({x} {sop} {y})", "bool", ops)


def evaluated(sql: str, *operands: str) -> str:
    """``sql``, with every operand evaluated on every row first: riverbed evaluates both sides
    of ``&``/``|`` and both arguments of ``fill_null`` (so an error in either fails the job),
    where DuckDB short-circuits."""
    forced = " AND ".join(f"(hash({o}) = hash({o}))" for o in operands)
    return f"(CASE WHEN {forced} THEN {sql} END)"


def logic(op: str, a: TE, b: TE | None = None) -> TE:
    if op == "~":
        return TE(~a.rb, f"(NOT {a.sql})", "bool", a.ops)
    assert b is not None
    if op == "&":
        return TE(a.rb & b.rb, evaluated(f"({a.sql} AND {b.sql})", a.sql, b.sql), "bool", _u(a, b))
    return TE(a.rb | b.rb, evaluated(f"({a.sql} OR {b.sql})", a.sql, b.sql), "bool", _u(a, b))


def is_null(a: TE, negate: bool = False) -> TE:
    if a.kind == "null":
        a = TE(a.rb, a.sql, a.kind, a.ops | {"is_null_untyped"})
    if negate:
        return TE(a.rb.is_not_null(), f"({a.sql} IS NOT NULL)", "bool", a.ops)
    return TE(a.rb.is_null(), f"({a.sql} IS NULL)", "bool", a.ops)


def fill_null(a: TE, b: TE) -> TE:
    assert a.kind == b.kind or (is_str(a.kind) and is_str(b.kind))
    sql = evaluated(f"COALESCE({a.sql}, {b.sql})", a.sql, b.sql)
    return TE(a.rb.fill_null(b.rb), sql, a.kind, _u(a, b, extra="fill_null"))


F32_OVERFLOW = 3.4028235677973366e38  # doubles at or above this round to inf as float32


def cast(a: TE, to: str) -> TE:
    """Casts between numeric types, bool and numeric, numbers to strings, number strings to
    integers (the value must fit, floats truncate toward zero)."""
    rbe = a.rb.cast(rb_type(to))
    st = sql_type(to)
    ops = _u(a, extra="cast")
    if a.kind == "null":
        return TE(rbe, f"CAST(NULL AS {st})", to, ops)
    if a.kind == "bool":
        ops = ops | {"cast_from_bool"}
    if a.kind == to or (is_str(a.kind) and is_str(to)):
        return TE(rbe, a.sql, to, ops)
    if is_float(a.kind) and is_int(to):
        return TE(rbe, f"CAST(trunc({a.sql}) AS {st})", to, ops)
    if a.kind == "float64" and to == "float32":
        x = a.sql
        sql = (f"(CASE WHEN isfinite({x}) AND abs({x}) >= {F32_OVERFLOW} THEN CAST(sign({x}) * "
               f"CAST('inf' AS DOUBLE) AS FLOAT) ELSE CAST({x} AS FLOAT) END)")
        return TE(rbe, sql, to, ops)
    if is_str(a.kind) and is_int(to):
        x = a.sql
        sql = (f"(CASE WHEN regexp_full_match({x}, '[+-]?[0-9]+') THEN CAST(CAST({x} AS HUGEINT) AS {st}) "
               f"ELSE error('not an integer: ' || {x}) END)")
        return TE(rbe, sql, to, ops | {"cast_str_int"})
    return TE(rbe, f"CAST({a.sql} AS {st})", to, ops)


def cast_temporal(a: TE, to: str) -> TE:
    """Timestamp to date (the date on the wall clock of the column's zone), date to a
    timezone-naive timestamp (midnight)."""
    rbe = a.rb.cast(rb_type(to))
    ops = _u(a, extra="cast_temporal")
    if to == "date32":
        return TE(rbe, f"CAST({local(a)} AS DATE)", to, ops)
    return TE(rbe, f"CAST({a.sql} AS {ts_sql_type(to)})", to, ops)


def str_fn(fn: str, a: TE, arg: str | None = None) -> TE:
    s = a.sql
    if fn == "contains_lit":
        return TE(a.rb.str.contains(arg, literal=True), f"contains({s}, {sql_lit(arg, 'utf8')})", "bool", a.ops)
    if fn == "contains_re":
        return TE(a.rb.str.contains(arg), f"regexp_matches({s}, {sql_lit(arg, 'utf8')})", "bool", a.ops)
    if fn == "starts_with":
        return TE(a.rb.str.starts_with(arg), f"starts_with({s}, {sql_lit(arg, 'utf8')})", "bool", a.ops)
    if fn == "ends_with":
        return TE(a.rb.str.ends_with(arg), f"suffix({s}, {sql_lit(arg, 'utf8')})", "bool", a.ops)
    if fn == "lower":
        return TE(a.rb.str.lower(), f"lower({s})", "utf8", a.ops)
    if fn == "upper":
        return TE(a.rb.str.upper(), f"upper({s})", "utf8", a.ops)
    if fn == "len_chars":
        return TE(a.rb.str.len_chars(), f"CAST(length({s}) AS INTEGER)", "int32", a.ops)
    raise ValueError(fn)


def local(a: TE) -> str:
    """SQL of a temporal expression as local (wall clock) time."""
    tz = tz_of(a.kind)
    if tz:
        return f"timezone('{tz}', {a.sql})"
    if a.kind == "ts_ns":
        # DuckDB takes calendar fields of nanosecond timestamps before 1970 from the value
        # truncated toward zero (day(-1ns) = 1); floor to microseconds first
        ns = f"CAST(epoch_ns({a.sql}) AS HUGEINT)"
        return f"make_timestamp(CAST(({ns} - ((({ns} % 1000) + 1000) % 1000)) // 1000 AS BIGINT))"
    return a.sql


def dt_field(fn: str, a: TE) -> TE:
    rbe = getattr(a.rb.dt, fn)()
    return TE(rbe, f"CAST({fn}({local(a)}) AS INTEGER)", "int32", _u(a, extra="dt_field"))


TRUNCATE_EVERY = {"1d": "1 day", "1h": "1 hour", "15m": "15 minutes", "1s": "1 second", "1mo": "month",
                  "1y": "year", "1w": "week"}


def dt_truncate(a: TE, every: str) -> TE:
    rbe = a.rb.dt.truncate(every)
    x = local(a)
    if a.kind == "date32":
        # calendar arithmetic on dates: DuckDB's time_bucket and date_trunc go through
        # timestamps, which cannot hold the extreme dates
        body = {"1d": x, "1w": f"({x} - CAST(isodow({x}) - 1 AS INTEGER))",
                "1mo": f"make_date(year({x}), month({x}), 1)", "1y": f"make_date(year({x}), 1, 1)"}[every]
    elif every in ("1mo", "1y", "1w"):
        body = f"date_trunc('{TRUNCATE_EVERY[every]}', {x})"
    else:
        origin = "TIMESTAMP '1970-01-01'" if a.kind != "date32" else "DATE '1970-01-01'"
        body = f"time_bucket(INTERVAL '{TRUNCATE_EVERY[every]}', {x}, {origin})"
    if a.kind == "date32":
        sql = f"CAST({body} AS DATE)"
    elif tz_of(a.kind):
        sql = f"timezone('{tz_of(a.kind)}', CAST({body} AS TIMESTAMP))"
    else:
        sql = f"CAST({body} AS {ts_sql_type(a.kind)})"
    extra = "truncate_cal" if every in ("1mo", "1y", "1w") else "truncate"
    ops = _u(a, extra=extra) | ({"truncate_ns"} if a.kind == "ts_ns" else set())
    if tz_of(a.kind) not in (None, "UTC"):
        ops = ops | {"truncate_zoned"}
    return TE(rbe, sql, a.kind, ops)


# -- aggregations --------------------------------------------------------------------------------

@dataclass
class Agg:
    fn: str  # sum min max mean count first last n_unique count_rows
    arg: TE | None
    name: str

    @property
    def rb(self) -> rb.Expr:
        if self.fn == "count_rows":
            return rb.count().alias(self.name)
        return getattr(self.arg.rb, self.fn)().alias(self.name)

    @property
    def kind(self) -> str:
        if self.fn in ("count", "count_rows", "n_unique"):
            return "int64"
        if self.fn == "mean":
            return "float64"
        k = self.arg.kind
        if self.fn == "sum":
            return "float64" if is_float(k) else "uint64" if is_uint(k) else "int64"
        return "utf8" if k == "numstr" else k

    def sql(self, materialize: bool = False) -> list[tuple[str, str]]:
        """(SQL, column name) of the aggregation and of any helper columns for the comparison.
        With ``materialize``, an integer sum fails when any order of its additions may leave
        int64 (riverbed checks partial sums, whose order depends on batches and parallelism)."""
        n = self.name
        if self.fn == "count_rows":
            return [("count(*)", n)]
        x = self.arg.sql
        if self.fn == "count":
            return [(f"count({x})", n)]
        if self.fn == "n_unique":
            return [(f"count(DISTINCT {x})", n)]
        if self.fn in ("min", "max"):
            return [(f"{self.fn}({x})", n)]
        if self.fn in ("first", "last"):
            return [(f"{self.fn}({x} ORDER BY __rid) FILTER (WHERE {x} IS NOT NULL)", n)]
        k = self.arg.kind
        if self.fn == "sum" and not is_float(k):
            # checked: the sum must fit int64 (uint64 for unsigned input), as riverbed's
            xs = f"CAST({x} AS HUGEINT)" if k != "bool" else f"CAST(CAST({x} AS INTEGER) AS HUGEINT)"
            st = sql_type(self.kind)
            total = f"CAST(sum({xs}) AS {st})"
            if materialize and not is_uint(k):
                pos, negs = f"sum(CASE WHEN {xs} > 0 THEN {xs} END)", f"sum(CASE WHEN {xs} < 0 THEN {xs} END)"
                total = evaluated(total, f"CAST({pos} AS {st})", f"CAST({negs} AS {st})")
            return [(total, n)]
        d = f"CAST({x} AS DOUBLE)" if k != "bool" else f"CAST(CAST({x} AS INTEGER) AS DOUBLE)"
        main = f"sum({d})" if self.fn == "sum" else f"avg({d})"
        return [(main, n), (f"sum(abs({d}))", f"__abs_{n}"), (f"count({d})", f"__cnt_{n}"),
                (f"bool_or(isnan({d}))", f"__nan_{n}")]


# -- pipelines -----------------------------------------------------------------------------------

@dataclass
class Op:
    kind: str  # filter with_columns select limit group_by
    exprs: list[TE] = field(default_factory=list)  # filter: [pred]; with_columns/select: named exprs
    names: list[str] = field(default_factory=list)
    n: int = 0
    keys: list[str] = field(default_factory=list)
    aggs: list[Agg] = field(default_factory=list)


@dataclass
class Case:
    table: pa.Table  # without the row id
    kinds: dict[str, str]
    ops: list[Op]
    mode: str = "memory"
    parallelism: int = 1
    batch_size: int = 1000
    n_files: int = 1
    row_group_size: int = 1000
    parquet_options: dict = field(default_factory=dict)  # for pyarrow.parquet.write_table
    cuts: list[int] = field(default_factory=list)  # in memory: the table's chunks end at these rows

    def used(self) -> frozenset:
        s: set = set()
        for op in self.ops:
            for e in op.exprs:
                s |= e.ops
            for a in op.aggs:
                if a.arg is not None:
                    s |= a.arg.ops
                s.add("agg_" + a.fn)
                if a.fn == "sum" and not is_float(a.kind):
                    s.add("agg_sum_int")
        return frozenset(s)

    def describe(self) -> str:
        lines = [f"source={self.mode} parallelism={self.parallelism} batch_size={self.batch_size} "
                 f"rows={self.table.num_rows} files={self.n_files} row_group_size={self.row_group_size} "
                 f"parquet_options={self.parquet_options} cuts={self.cuts}",
                 f"schema: {dict((n, str(t)) for n, t in zip(self.table.column_names, self.table.schema.types))}"]
        for op in self.ops:
            if op.kind == "filter":
                lines.append(f".filter({op.exprs[0].rb!r})")
            elif op.kind in ("with_columns", "select"):
                lines.append(f".{op.kind}(" + ", ".join(f"{n}={e.rb!r}" for n, e in zip(op.names, op.exprs)) + ")")
            elif op.kind == "limit":
                lines.append(f".limit({op.n})")
            else:
                lines.append(f".group_by({op.keys}).agg(" + ", ".join(repr(a.rb) for a in op.aggs) + ")")
        return "\n".join(lines)


_dirs = itertools.count()


def riverbed_stream(case: Case, tmpdir: str) -> rb.Stream:
    env = rb.Environment(parallelism=case.parallelism, batch_size=case.batch_size)
    if case.mode == "memory":
        t = case.table
        if case.cuts:  # a chunked table (slices of one table, with offsets; maybe empty chunks)
            bounds = [0, *sorted(min(c, t.num_rows) for c in case.cuts), t.num_rows]
            t = pa.concat_tables([t.slice(a, b - a) for a, b in zip(bounds, bounds[1:])])
        s = env.from_arrow(t)
    else:
        d = os.path.join(tmpdir, f"t{next(_dirs)}")
        os.makedirs(d)
        n = case.table.num_rows
        per = max(1, math.ceil(n / case.n_files))
        i = 0
        for f in range(case.n_files):
            part = case.table.slice(f * per, per) if n else case.table
            if f and part.num_rows == 0:
                break
            pq.write_table(part, os.path.join(d, f"part-{f:03d}.parquet"), row_group_size=case.row_group_size,
                           **case.parquet_options)
            i += 1
        s = env.read_parquet(d)
    for op in case.ops:
        if op.kind == "filter":
            s = s.filter(op.exprs[0].rb)
        elif op.kind == "with_columns":
            s = s.with_columns(*[e.rb.alias(n) for n, e in zip(op.names, op.exprs)])
        elif op.kind == "select":
            s = s.select(*[e.rb.alias(n) for n, e in zip(op.names, op.exprs)])
        elif op.kind == "limit":
            s = s.limit(op.n)
        else:
            s = s.group_by(*op.keys).agg(*[a.rb for a in op.aggs])
    return s


def oracle_sql(case: Case, materialize: bool) -> tuple[str, list[str]]:
    """The pipeline as one DuckDB query over table ``t`` (with a ``__rid`` row-number column),
    and the names of the output columns in order. With ``materialize`` every step is a
    materialized CTE, so every expression is evaluated on every row that reaches it."""
    ctes = []
    cols = list(case.table.column_names)
    prev = "t"
    grouped = False
    for i, op in enumerate(case.ops):
        name = f"s{i}"
        if op.kind == "filter":
            body = f"SELECT * FROM {prev} WHERE {op.exprs[0].sql}"
        elif op.kind == "with_columns":
            new = dict(zip(op.names, op.exprs))
            items = [f"{new.pop(c).sql} AS {q(c)}" if c in new else q(c) for c in cols]
            items += [f"{e.sql} AS {q(n)}" for n, e in new.items()]
            cols = cols + list(new)
            body = f"SELECT __rid, {', '.join(items)} FROM {prev}"
        elif op.kind == "select":
            items = [f"{e.sql} AS {q(n)}" for n, e in zip(op.names, op.exprs)]
            cols = list(op.names)
            body = f"SELECT __rid, {', '.join(items)} FROM {prev}"
        elif op.kind == "limit":
            body = f"SELECT * FROM {prev} ORDER BY __rid LIMIT {op.n}"
        else:
            items = [q(k) for k in op.keys]
            for a in op.aggs:
                items += [f"{s} AS {q(n)}" for s, n in a.sql(materialize)]
            group = f" GROUP BY {', '.join(q(k) for k in op.keys)}" if op.keys else ""
            body = f"SELECT {', '.join(items)} FROM {prev}{group}"
            cols = list(op.keys) + [a.name for a in op.aggs]
            grouped = True
        m = "MATERIALIZED " if materialize else ""
        ctes.append(f"{name} AS {m}({body})")
        prev = name
    with_ = ("WITH " + ", ".join(ctes) + " ") if ctes else ""
    order = "" if grouped else " ORDER BY __rid"
    return f"{with_}SELECT * FROM {prev}{order}", cols


# -- values ----------------------------------------------------------------------------------------

def normalize(arr: pa.ChunkedArray | pa.Array) -> list:
    """Python values comparable across engines: temporals as integer nanoseconds (dates as
    days), decimals (DuckDB's HUGEINT) as int."""
    t = arr.type
    if pa.types.is_timestamp(t):
        f = UNIT_NS[t.unit]
        return [None if v is None else v * f for v in arr.cast(pa.int64()).to_pylist()]
    if pa.types.is_date32(t):
        return arr.cast(pa.int32()).to_pylist()
    if pa.types.is_decimal(t):
        return [None if v is None else int(v) for v in arr.to_pylist()]
    return arr.to_pylist()


def same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return int(a) == int(b)
    return a == b


def float_agg_ok(got: Any, exp: Any, abs_sum: Any, cnt: int, has_nan: Any, mean: bool) -> bool:
    """A float sum or mean, whose value depends on the order of the additions: within the
    rounding error bound, or anything when intermediate sums may overflow."""
    if exp is None or got is None:
        return exp is None and got is None
    if has_nan:
        return math.isnan(got)
    if abs_sum is None or not math.isfinite(abs_sum):
        return True  # inf - inf, or an intermediate overflow: order-dependent
    if math.isnan(got):
        return False
    bound = abs_sum * (cnt + 2) * 2.3e-16
    if mean:
        bound = bound / max(cnt, 1) + abs(exp) * 1e-15
    return abs(got - exp) <= bound + 1e-300


def sort_key(row: tuple) -> tuple:
    def k(v):
        if v is None:
            return (0, "")
        if isinstance(v, float):
            if math.isnan(v):
                return (2, "nan")
            return (1, repr(v + 0.0))
        return (1, repr(v))
    return tuple(k(v) for v in row)


def int_fits(v: int, kind: str) -> bool:
    lo, hi = int_range(kind)
    return lo <= v <= hi

