"""End-to-end tests of riverbed expressions and row-wise operators.

Every result is compared with an independent oracle: a plain-Python reference computed row
by row from the input table (or pyarrow.compute where noted). Each test runs over both
sources (in-memory Arrow and Parquet files) and parallelism 1, 2 and 4 (see conftest.py).

For pipelines without a group_by the engine returns rows in input order, so results are
compared in order.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
import re

import pyarrow as pa
import pyarrow.compute as pc
import pytest

import riverbed as rb
from conftest import assert_column, assert_table
from riverbed import col, lit

N = 5000  # rows: several batches (batch size 1000), files and row groups

STRINGS = [
    "", "a", "abc", "ABC", "a.c", "a+c", "abc123", "x1", "123", "Hello World", "hello", "HeLLo",
    "École", "über", "ÄÖÜ", "Привет", "ΑΘΗΝΑ", "日本語", "😀 smile", "  spaced ", "ñandú", "zeta",
]


def _maybe_null(rng: random.Random, v, p: float = 0.1):
    return None if rng.random() < p else v


@functools.cache
def base_table(n: int = N, seed: int = 42) -> pa.Table:
    """Mixed-type test data with nulls in every column."""
    rng = random.Random(seed)
    epoch_ms_lo, epoch_ms_hi = -200_000_000_000, 1_900_000_000_000  # 1963 .. 2030
    data = {
        # small ints: zeros are common, negatives half the time
        "i": [_maybe_null(rng, rng.randint(-50, 50)) for _ in range(n)],
        "j": [_maybe_null(rng, rng.randint(-7, 7)) for _ in range(n)],
        # dyadic floats (exact in binary) so that a/b, a//b and a%b have unambiguous references
        "f": [_maybe_null(rng, rng.randint(-400, 400) / 4) for _ in range(n)],
        "g": [_maybe_null(rng, rng.randint(-40, 40) / 4) for _ in range(n)],
        "s": [_maybe_null(rng, rng.choice(STRINGS)) for _ in range(n)],
        "t": [_maybe_null(rng, rng.choice(STRINGS)) for _ in range(n)],
        "b1": [rng.choice([True, False, None]) for _ in range(n)],
        "b2": [rng.choice([True, False, None]) for _ in range(n)],
        "ts_ms": [_maybe_null(rng, rng.randint(epoch_ms_lo, epoch_ms_hi)) for _ in range(n)],
        "ts_us": [_maybe_null(rng, rng.randint(epoch_ms_lo, epoch_ms_hi) * 1000 + rng.randint(0, 999))
                  for _ in range(n)],
        "d": [_maybe_null(rng, rng.randint(-3000, 22000)) for _ in range(n)],
    }
    return pa.table({
        "i": pa.array(data["i"], pa.int64()),
        "j": pa.array(data["j"], pa.int64()),
        "f": pa.array(data["f"], pa.float64()),
        "g": pa.array(data["g"], pa.float64()),
        "s": pa.array(data["s"], pa.string()),
        "t": pa.array(data["t"], pa.string()),
        "b1": pa.array(data["b1"], pa.bool_()),
        "b2": pa.array(data["b2"], pa.bool_()),
        "ts_ms": pa.array(data["ts_ms"], pa.timestamp("ms")),
        "ts_us": pa.array(data["ts_us"], pa.timestamp("us")),
        "d": pa.array(data["d"], pa.date32()),
    })


def pylist(name: str, table: pa.Table | None = None) -> list:
    return (table or base_table()).column(name).to_pylist()


def rowwise(fn, *cols: list) -> list:
    """Apply fn row by row; null in any argument gives null."""
    return [None if any(v is None for v in vals) else fn(*vals) for vals in zip(*cols)]


# -- reference semantics ------------------------------------------------------------------

def ref_true_div(a, b) -> float:
    """IEEE division of float(a) by float(b): x/0 is +-inf, 0/0 is NaN."""
    a, b = float(a), float(b)
    if b == 0:
        if a == 0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def ref_int_floordiv(a: int, b: int):
    """Python floor division; integer division by zero gives null."""
    return None if b == 0 else a // b


def ref_int_mod(a: int, b: int):
    """Python modulo (sign of the divisor); integer modulo by zero gives null."""
    return None if b == 0 else a % b


def ref_float_floordiv(a: float, b: float) -> float:
    """Python floor division for b != 0; by zero as numpy/Polars: +-inf, NaN for 0/0."""
    if b == 0:
        return ref_true_div(a, b)
    return float(a // b)


def ref_float_mod(a: float, b: float) -> float:
    """Python modulo for b != 0 (sign of the divisor); by zero NaN (as numpy/Polars)."""
    if b == 0:
        return math.nan
    return float(a % b)


def kleene_and(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


def kleene_or(a, b):
    if a is True or b is True:
        return True
    if a is None or b is None:
        return None
    return False


# -- arithmetic -----------------------------------------------------------------------------

def test_int_arithmetic(scan):
    """+ - * / // % of two int64 columns with nulls, zeros and negatives."""
    i, j = pylist("i"), pylist("j")
    out = scan(base_table()).select(
        (col("i") + col("j")).alias("add"),
        (col("i") - col("j")).alias("sub"),
        (col("i") * col("j")).alias("mul"),
        (col("i") / col("j")).alias("div"),
        (col("i") // col("j")).alias("floordiv"),
        (col("i") % col("j")).alias("mod"),
    ).collect()
    assert_table(out, {
        "add": rowwise(lambda a, b: a + b, i, j),
        "sub": rowwise(lambda a, b: a - b, i, j),
        "mul": rowwise(lambda a, b: a * b, i, j),
        "div": rowwise(ref_true_div, i, j),
        "floordiv": rowwise(ref_int_floordiv, i, j),
        "mod": rowwise(ref_int_mod, i, j),
    }, types={"add": pa.int64(), "sub": pa.int64(), "mul": pa.int64(), "div": pa.float64(),
              "floordiv": pa.int64(), "mod": pa.int64()})


def test_float_arithmetic(scan):
    """+ - * / // % of two float64 columns, including division by 0.0."""
    f, g = pylist("f"), pylist("g")
    assert any(v == 0 for v in g), "the data must contain zero divisors"
    out = scan(base_table()).select(
        (col("f") + col("g")).alias("add"),
        (col("f") - col("g")).alias("sub"),
        (col("f") * col("g")).alias("mul"),
        (col("f") / col("g")).alias("div"),
        (col("f") // col("g")).alias("floordiv"),
        (col("f") % col("g")).alias("mod"),
    ).collect()
    assert_table(out, {
        "add": rowwise(lambda a, b: a + b, f, g),
        "sub": rowwise(lambda a, b: a - b, f, g),
        "mul": rowwise(lambda a, b: a * b, f, g),
        "div": rowwise(ref_true_div, f, g),
        "floordiv": rowwise(ref_float_floordiv, f, g),
        "mod": rowwise(ref_float_mod, f, g),
    }, types={k: pa.float64() for k in ("add", "sub", "mul", "div", "floordiv", "mod")})


def test_float_division_by_zero_literal(scan):
    """x / 0.0 is +inf, -inf or NaN (0/0) by the sign of x; null stays null."""
    f = pylist("f")
    out = scan(base_table()).select((col("f") / 0.0).alias("q"), (col("f") / -0.0).alias("nq")).collect()
    assert_column(out["q"], rowwise(lambda a: ref_true_div(a, 0.0), f), what="f / 0.0")
    assert_column(out["nq"], rowwise(lambda a: ref_true_div(a, -0.0), f), what="f / -0.0")
    assert out.schema.field("q").type == pa.float64()


def test_mixed_int_float_arithmetic(scan):
    """int64 with float64 promotes to float64."""
    i, f = pylist("i"), pylist("f")
    out = scan(base_table()).select(
        (col("i") + col("f")).alias("add"),
        (col("f") - col("i")).alias("sub"),
        (col("i") * col("f")).alias("mul"),
        (col("i") / col("f")).alias("div"),
        (col("f") // col("i")).alias("floordiv"),
        (col("f") % col("i")).alias("mod"),
    ).collect()
    assert_table(out, {
        "add": rowwise(lambda a, b: a + b, i, f),
        "sub": rowwise(lambda a, b: a - b, f, i),
        "mul": rowwise(lambda a, b: a * b, i, f),
        "div": rowwise(ref_true_div, i, f),
        "floordiv": rowwise(lambda a, b: ref_float_floordiv(a, float(b)), f, i),
        "mod": rowwise(lambda a, b: ref_float_mod(a, float(b)), f, i),
    }, types={k: pa.float64() for k in ("add", "sub", "mul", "div", "floordiv", "mod")})


LITERAL_CASES = [
    ("i + 3", lambda: col("i") + 3, lambda a: a + 3, pa.int64()),
    ("3 - i", lambda: 3 - col("i"), lambda a: 3 - a, pa.int64()),
    ("i * -2", lambda: col("i") * -2, lambda a: a * -2, pa.int64()),
    ("i // 3", lambda: col("i") // 3, lambda a: a // 3, pa.int64()),
    ("i // -3", lambda: col("i") // -3, lambda a: a // -3, pa.int64()),
    ("i % 3", lambda: col("i") % 3, lambda a: a % 3, pa.int64()),
    ("i % -3", lambda: col("i") % -3, lambda a: a % -3, pa.int64()),
    ("100 // i", lambda: 100 // col("i"), lambda a: ref_int_floordiv(100, a), pa.int64()),
    ("-100 % i", lambda: -100 % col("i"), lambda a: ref_int_mod(-100, a), pa.int64()),
    ("i // 0", lambda: col("i") // 0, lambda a: None, pa.int64()),
    ("i % 0", lambda: col("i") % 0, lambda a: None, pa.int64()),
    ("i / 4", lambda: col("i") / 4, lambda a: a / 4, pa.float64()),
    ("2.5 * i", lambda: 2.5 * col("i"), lambda a: 2.5 * a, pa.float64()),
    ("i - 0.5", lambda: col("i") - 0.5, lambda a: a - 0.5, pa.float64()),
]


@pytest.mark.parametrize("name,make,ref,typ", LITERAL_CASES, ids=[c[0] for c in LITERAL_CASES])
def test_int_with_literal(scan, name, make, ref, typ):
    """An int64 column combined with a Python literal on either side."""
    out = scan(base_table()).select(make().alias("r")).collect()
    assert out.schema.field("r").type == typ
    assert_column(out["r"], rowwise(ref, pylist("i")), what=name)


def test_floordiv_mod_negative_python_semantics(scan):
    """Floor division rounds toward -inf and % takes the sign of the divisor, as in Python."""
    xs = [7, -7, 7, -7, 6, -6, 1, -1, 0, 0]
    ys = [2, 2, -2, -2, 3, -3, 5, 5, 5, -5]
    t = pa.table({"x": pa.array(xs * 300, pa.int64()), "y": pa.array(ys * 300, pa.int64()),
                  "xf": pa.array([x + 0.5 for x in xs] * 300), "yf": pa.array([float(y) for y in ys] * 300)})
    out = scan(t).select(
        (col("x") // col("y")).alias("q"), (col("x") % col("y")).alias("r"),
        (col("xf") // col("yf")).alias("qf"), (col("xf") % col("yf")).alias("rf"),
    ).collect()
    assert_column(out["q"], [x // y for x, y in zip(xs, ys)] * 300, what="int //")
    assert_column(out["r"], [x % y for x, y in zip(xs, ys)] * 300, what="int %")
    assert_column(out["qf"], [(x + 0.5) // y for x, y in zip(xs, ys)] * 300, what="float //")
    assert_column(out["rf"], [(x + 0.5) % y for x, y in zip(xs, ys)] * 300, what="float %")


def test_floordiv_mod_large_int64_exact(scan):
    """Integer // and % are exact over the whole int64 range."""
    xs = [2**62 + 1, -(2**62) - 3, 2**63 - 1, -(2**63), 9007199254740993, 12345]
    ys = [1, 7, 10, -3, 2, 10**12]
    t = pa.table({"x": pa.array(xs * 500, pa.int64()), "y": pa.array(ys * 500, pa.int64())})
    out = scan(t).select((col("x") // col("y")).alias("q"), (col("x") % col("y")).alias("r")).collect()
    assert_column(out["q"], [x // y for x, y in zip(xs, ys)] * 500, what="//")
    assert_column(out["r"], [x % y for x, y in zip(xs, ys)] * 500, what="%")


def test_unary_minus(scan):
    out = scan(base_table()).select((-col("i")).alias("ni"), (-col("f")).alias("nf")).collect()
    assert_table(out, {"ni": rowwise(lambda a: -a, pylist("i")), "nf": rowwise(lambda a: -a, pylist("f"))},
                 types={"ni": pa.int64(), "nf": pa.float64()})


# -- comparisons ----------------------------------------------------------------------------

CMP_OPS = {
    "==": (lambda a, b: a == b, lambda a, b: a == b),
    "!=": (lambda a, b: a != b, lambda a, b: a != b),
    "<": (lambda a, b: a < b, lambda a, b: a < b),
    "<=": (lambda a, b: a <= b, lambda a, b: a <= b),
    ">": (lambda a, b: a > b, lambda a, b: a > b),
    ">=": (lambda a, b: a >= b, lambda a, b: a >= b),
}


def _compare_all(scan, left, right, left_vals, right_vals):
    """Run every comparison operator between two expressions and check against Python."""
    out = scan(base_table()).select(
        *[op(left(), right()).alias(f"c{k}") for k, (op, _) in enumerate(CMP_OPS.values())]
    ).collect()
    for k, (sym, (_, ref)) in enumerate(CMP_OPS.items()):
        assert out.schema.field(f"c{k}").type == pa.bool_()
        assert_column(out[f"c{k}"], rowwise(ref, left_vals, right_vals), what=sym)


@pytest.mark.parametrize("case", ["int-int", "int-float", "float-literal", "int-literal"])
def test_compare_numbers(scan, case):
    i, j, f = pylist("i"), pylist("j"), pylist("f")
    if case == "int-int":
        _compare_all(scan, lambda: col("i"), lambda: col("j"), i, j)
    elif case == "int-float":
        _compare_all(scan, lambda: col("i"), lambda: col("f"), i, f)
    elif case == "float-literal":
        _compare_all(scan, lambda: col("f"), lambda: lit(12.25), f, [12.25] * N)
    else:
        _compare_all(scan, lambda: col("i"), lambda: lit(0), i, [0] * N)


@pytest.mark.parametrize("case", ["col-col", "col-literal"])
def test_compare_strings(scan, case):
    """String comparison is by code point (= UTF-8 byte order)."""
    s, t = pylist("s"), pylist("t")
    if case == "col-col":
        _compare_all(scan, lambda: col("s"), lambda: col("t"), s, t)
    else:
        _compare_all(scan, lambda: col("s"), lambda: lit("hello"), s, ["hello"] * N)


TS_LITERALS = [
    dt.datetime(2001, 9, 9, 1, 46, 40),
    dt.datetime(1969, 12, 31, 23, 59, 59),
    dt.datetime(2020, 2, 29, 12, 30, 15, 250000),  # whole milliseconds
]


@pytest.mark.parametrize("column", ["ts_ms", "ts_us"])
@pytest.mark.parametrize("literal", TS_LITERALS, ids=str)
def test_compare_timestamp_with_datetime_literal(scan, column, literal):
    vals = pylist(column)
    _compare_all(scan, lambda: col(column), lambda: lit(literal), vals, [literal] * N)


def test_compare_timestamp_ms_with_microsecond_literal(scan):
    """A datetime literal with microseconds compares exactly with a millisecond column."""
    literal = dt.datetime(2020, 2, 29, 12, 30, 15, 250500)
    vals = pylist("ts_ms")
    _compare_all(scan, lambda: col("ts_ms"), lambda: lit(literal), vals, [literal] * N)


def test_compare_literal_on_the_left(scan):
    """`datetime < col` and `5 >= col` are reflected correctly."""
    literal = dt.datetime(2001, 9, 9, 1, 46, 40)
    out = scan(base_table()).select(
        (literal < col("ts_us")).alias("a"), (5 >= col("i")).alias("b"),
    ).collect()
    assert_column(out["a"], rowwise(lambda v: literal < v, pylist("ts_us")), what="dt < col")
    assert_column(out["b"], rowwise(lambda v: 5 >= v, pylist("i")), what="5 >= col")


# -- boolean logic and nulls --------------------------------------------------------------------

def test_kleene_and_or(scan):
    """& and | follow three-valued (Kleene) logic: False & null is False, True | null is True."""
    b1, b2 = pylist("b1"), pylist("b2")
    assert {(a, b) for a, b in zip(b1, b2)} == {(a, b) for a in (True, False, None) for b in (True, False, None)}
    out = scan(base_table()).select(
        (col("b1") & col("b2")).alias("and"),
        (col("b1") | col("b2")).alias("or"),
        (col("b1") & True).alias("and_true"),
        (col("b1") | False).alias("or_false"),
        (col("b1") & lit(None, rb.Boolean)).alias("and_null"),
        (col("b1") | lit(None, rb.Boolean)).alias("or_null"),
    ).collect()
    assert_table(out, {
        "and": [kleene_and(a, b) for a, b in zip(b1, b2)],
        "or": [kleene_or(a, b) for a, b in zip(b1, b2)],
        "and_true": [kleene_and(a, True) for a in b1],
        "or_false": [kleene_or(a, False) for a in b1],
        "and_null": [kleene_and(a, None) for a in b1],
        "or_null": [kleene_or(a, None) for a in b1],
    }, types={k: pa.bool_() for k in ("and", "or")})


def test_not(scan):
    """~ negates; ~null is null."""
    b1 = pylist("b1")
    out = scan(base_table()).select((~col("b1")).alias("not")).collect()
    assert out.schema.field("not").type == pa.bool_()
    assert_column(out["not"], [None if a is None else not a for a in b1], what="~b1")


def test_logic_of_comparisons(scan):
    """A typical predicate: comparisons combined with & | ~, nulls propagating by Kleene rules."""
    i, f, j = pylist("i"), pylist("f"), pylist("j")
    out = scan(base_table()).select(
        (((col("i") > 0) & (col("f") < 10)) | ~(col("i") == col("j"))).alias("p")
    ).collect()
    exp = []
    for a, b, c in zip(i, f, j):
        gt = None if a is None else a > 0
        lt = None if b is None else b < 10
        eq = None if a is None or c is None else a == c
        exp.append(kleene_or(kleene_and(gt, lt), None if eq is None else not eq))
    assert_column(out["p"], exp, what="predicate")


@pytest.mark.parametrize("column", ["i", "f", "s", "b1", "ts_ms", "d"])
def test_is_null(scan, column):
    vals = pylist(column)
    out = scan(base_table()).select(col(column).is_null().alias("n")).collect()
    assert_table(out, {"n": [v is None for v in vals]}, types={"n": pa.bool_()})


@pytest.mark.parametrize("column", ["i", "f", "s", "b1", "ts_ms", "d"])
def test_is_not_null(scan, column):
    vals = pylist(column)
    out = scan(base_table()).select(col(column).is_not_null().alias("nn")).collect()
    assert_table(out, {"nn": [v is not None for v in vals]}, types={"nn": pa.bool_()})


FILL_CASES = [
    ("i<-0", lambda: col("i").fill_null(0), lambda r: r["i"] if r["i"] is not None else 0, pa.int64()),
    ("f<--1.5", lambda: col("f").fill_null(-1.5), lambda r: r["f"] if r["f"] is not None else -1.5, pa.float64()),
    ("f<-7(int)", lambda: col("f").fill_null(7), lambda r: r["f"] if r["f"] is not None else 7.0, pa.float64()),
    ("s<-'missing'", lambda: col("s").fill_null("missing"),
     lambda r: r["s"] if r["s"] is not None else "missing", pa.string()),
    ("b1<-False", lambda: col("b1").fill_null(False), lambda r: r["b1"] if r["b1"] is not None else False,
     pa.bool_()),
    ("i<-col(j)", lambda: col("i").fill_null(col("j")), lambda r: r["i"] if r["i"] is not None else r["j"],
     pa.int64()),
    ("f<-col(g)", lambda: col("f").fill_null(col("g")), lambda r: r["f"] if r["f"] is not None else r["g"],
     pa.float64()),
    ("s<-col(t)", lambda: col("s").fill_null(col("t")), lambda r: r["s"] if r["s"] is not None else r["t"],
     pa.string()),
    ("ts_ms<-literal", lambda: col("ts_ms").fill_null(lit(dt.datetime(2000, 1, 1), rb.Timestamp("ms"))),
     lambda r: r["ts_ms"] if r["ts_ms"] is not None else dt.datetime(2000, 1, 1), pa.timestamp("ms")),
]


@pytest.mark.parametrize("name,make,ref,typ", FILL_CASES, ids=[c[0] for c in FILL_CASES])
def test_fill_null(scan, name, make, ref, typ):
    rows = base_table().to_pylist()
    out = scan(base_table()).select(make().alias("r")).collect()
    assert out.schema.field("r").type == typ
    assert_column(out["r"], [ref(r) for r in rows], what=name)


# -- casts --------------------------------------------------------------------------------------

def test_cast_int_to_float(scan):
    out = scan(base_table()).select(col("i").cast(rb.Float64).alias("x")).collect()
    assert out.schema.field("x").type == pa.float64()
    assert_column(out["x"], rowwise(float, pylist("i")), what="cast")


def test_cast_float_to_int_truncates_toward_zero(scan):
    f = pylist("f")
    assert any(v is not None and v < 0 and v != int(v) for v in f)
    out = scan(base_table()).select(col("f").cast(rb.Int64).alias("x")).collect()
    assert out.schema.field("x").type == pa.int64()
    assert_column(out["x"], rowwise(math.trunc, f), what="cast")


def test_cast_int_to_string(scan):
    out = scan(base_table()).select(col("i").cast(rb.Utf8).alias("x")).collect()
    assert out.schema.field("x").type == pa.string()
    assert_column(out["x"], rowwise(str, pylist("i")), what="cast")


def test_cast_string_to_int(scan):
    rng = random.Random(7)
    vals = [_maybe_null(rng, str(rng.randint(-10**12, 10**12))) for _ in range(3000)]
    t = pa.table({"s": pa.array(vals, pa.string())})
    out = scan(t).select(col("s").cast(rb.Int64).alias("x")).collect()
    assert out.schema.field("x").type == pa.int64()
    assert_column(out["x"], rowwise(int, vals), what="cast")


def test_cast_string_to_int_bad_value_raises(scan):
    vals = [str(k) for k in range(2500)]
    vals[1777] = "12x"
    t = pa.table({"s": pa.array(vals, pa.string())})
    with pytest.raises(rb.DataError):
        scan(t).select(col("s").cast(rb.Int64).alias("x")).collect()


def test_cast_int_overflow_raises(scan):
    """Casting to a narrower integer type raises DataError when a value does not fit."""
    vals = list(range(3000))
    vals[2500] = 2**40
    t = pa.table({"i": pa.array(vals, pa.int64())})
    with pytest.raises(rb.DataError):
        scan(t).select(col("i").cast(rb.Int32)).collect()


@pytest.mark.parametrize("bad", [1e20, -1e19])
def test_cast_float_to_int_overflow_raises(scan, bad):
    """Documented: float to integer overflow raises DataError when the job runs."""
    vals = [k + 0.5 for k in range(3000)]
    vals[2500] = bad
    t = pa.table({"f": pa.array(vals, pa.float64())})
    with pytest.raises(rb.DataError):
        scan(t).select(col("f").cast(rb.Int64)).collect()


def test_alias(scan):
    out = scan(base_table()).select(col("i").alias("x"), (col("i") * 2).alias("y"), col("s").alias("i")).collect()
    assert out.column_names == ["x", "y", "i"]
    assert_table(out, {"x": pylist("i"), "y": rowwise(lambda a: 2 * a, pylist("i")), "i": pylist("s")})


# -- strings ------------------------------------------------------------------------------------

@pytest.mark.parametrize("pattern", [r"^[a-c]", r"\d+$", r"(?i)hello", r"é|ü", r"a.c", r"^$", r"\s"])
def test_str_contains_regex(scan, pattern):
    s = pylist("s")
    out = scan(base_table()).select(col("s").str.contains(pattern).alias("m")).collect()
    assert out.schema.field("m").type == pa.bool_()
    rx = re.compile(pattern)
    assert_column(out["m"], rowwise(lambda v: rx.search(v) is not None, s), what=pattern)


@pytest.mark.parametrize("pattern", ["a.c", "a+c", "ll", "(", "😀", ""])
def test_str_contains_literal(scan, pattern):
    s = pylist("s")
    out = scan(base_table()).select(col("s").str.contains(pattern, literal=True).alias("m")).collect()
    assert_column(out["m"], rowwise(lambda v: pattern in v, s), what=pattern)


@pytest.mark.parametrize("prefix", ["a", "He", "Пр", "", "abc123x"])
def test_str_starts_with(scan, prefix):
    out = scan(base_table()).select(col("s").str.starts_with(prefix).alias("m")).collect()
    assert_column(out["m"], rowwise(lambda v: v.startswith(prefix), pylist("s")), what=prefix)


@pytest.mark.parametrize("suffix", ["c", "123", "ú", "語", ""])
def test_str_ends_with(scan, suffix):
    out = scan(base_table()).select(col("s").str.ends_with(suffix).alias("m")).collect()
    assert_column(out["m"], rowwise(lambda v: v.endswith(suffix), pylist("s")), what=suffix)


def test_str_lower_upper(scan):
    """Unicode case mapping (the data has no characters with special casing rules)."""
    s = pylist("s")
    out = scan(base_table()).select(col("s").str.lower().alias("lo"), col("s").str.upper().alias("up")).collect()
    assert_table(out, {"lo": rowwise(str.lower, s), "up": rowwise(str.upper, s)},
                 types={"lo": pa.string(), "up": pa.string()})
    # cross-check the reference with pyarrow's kernels
    assert pc.utf8_lower(base_table()["s"]).to_pylist() == rowwise(str.lower, s)


def test_str_len_chars(scan):
    s = pylist("s")
    out = scan(base_table()).select(col("s").str.len_chars().alias("n")).collect()
    assert out.schema.field("n").type == pa.int32()
    assert_column(out["n"], rowwise(len, s), what="len_chars")


# -- dates and times ----------------------------------------------------------------------------

TRUNCATE_REFS = {
    "1h": lambda x: x.replace(minute=0, second=0, microsecond=0),
    "1d": lambda x: x.replace(hour=0, minute=0, second=0, microsecond=0),
    "15m": lambda x: x.replace(minute=x.minute // 15 * 15, second=0, microsecond=0),
    "1mo": lambda x: x.replace(day=1, hour=0, minute=0, second=0, microsecond=0),
}


@pytest.mark.parametrize("every", list(TRUNCATE_REFS))
@pytest.mark.parametrize("column", ["ts_ms", "ts_us"])
def test_dt_truncate(scan, column, every):
    vals = pylist(column)
    assert any(v is not None and v.year < 1970 for v in vals), "data must include times before the epoch"
    out = scan(base_table()).select(col(column).dt.truncate(every).alias("x")).collect()
    assert out.schema.field("x").type == base_table().schema.field(column).type
    assert_column(out["x"], rowwise(TRUNCATE_REFS[every], vals), what=f"{column} truncate {every}")


@pytest.mark.parametrize("column", ["ts_ms", "ts_us", "d"])
def test_dt_fields(scan, column):
    vals = pylist(column)
    fields = ["year", "month", "day"] + ([] if column == "d" else ["hour"])
    out = scan(base_table()).select(*[getattr(col(column).dt, f)().alias(f) for f in fields]).collect()
    for f in fields:
        assert out.schema.field(f).type == pa.int32()
        assert_column(out[f], rowwise(lambda v, f=f: getattr(v, f), vals), what=f"{column}.{f}")


# -- row-wise operators ---------------------------------------------------------------------------

def test_select_columns_and_order(scan):
    t = base_table()
    out = scan(t).select("s", col("i"), "ts_us").collect()
    assert_table(out, t.select(["s", "i", "ts_us"]))


def test_with_columns_add_and_replace(scan):
    t = base_table()
    out = scan(t).with_columns(
        (col("i") * 10).alias("i"),            # replace in place
        (col("f") + col("i")).alias("fi"),     # uses the *input* i
        col("s").str.upper().alias("su"),
    ).collect()
    assert out.column_names == t.column_names + ["fi", "su"]
    i, f = pylist("i"), pylist("f")
    exp = {n: t.column(n).to_pylist() for n in t.column_names}
    exp["i"] = rowwise(lambda a: a * 10, i)
    exp["fi"] = rowwise(lambda a, b: a + b, f, i)
    exp["su"] = rowwise(str.upper, pylist("s"))
    assert_table(out, exp)
    for name in t.column_names:
        assert out.schema.field(name).type == t.schema.field(name).type


def test_with_columns_keyword(scan):
    out = scan(base_table()).with_columns(k=col("j") - 1).select("j", "k").collect()
    assert_table(out, {"j": pylist("j"), "k": rowwise(lambda a: a - 1, pylist("j"))})


def test_filter_drops_null_predicate_rows(scan):
    t = base_table()
    rows = t.to_pylist()
    out = scan(t).filter(col("i") > col("j")).collect()
    expected = [r for r in rows if r["i"] is not None and r["j"] is not None and r["i"] > r["j"]]
    assert out.schema == t.schema or [f.type for f in out.schema] == [f.type for f in t.schema]
    assert out.to_pylist() == expected


def test_filter_on_bool_column(scan):
    t = base_table()
    out = scan(t).filter(col("b1")).collect()
    assert out.to_pylist() == [r for r in t.to_pylist() if r["b1"] is True]


def test_filter_kleene_predicate(scan):
    """(b1 | b2) keeps rows where it is True; null | False is null and dropped."""
    t = base_table()
    out = scan(t).filter(col("b1") | col("b2")).select("b1", "b2").collect()
    exp = [{"b1": r["b1"], "b2": r["b2"]} for r in t.to_pylist() if kleene_or(r["b1"], r["b2"]) is True]
    assert out.to_pylist() == exp


@pytest.mark.parametrize("op", ["<", ">=", "=="])
def test_filter_sorted_timestamps_with_literal(scan, op):
    """On time-sorted data row groups have tight min/max statistics, so Parquet row-group
    skipping decides a lot; the result must still be exactly the matching rows in order."""
    ts = sorted(v for v in pylist("ts_ms") if v is not None)
    t = pa.table({"ts": pa.array(ts, pa.timestamp("ms")), "n": pa.array(range(len(ts)), pa.int64())})
    pivot = ts[len(ts) // 2]
    ref = {"<": lambda v: v < pivot, ">=": lambda v: v >= pivot, "==": lambda v: v == pivot}[op]
    pred = {"<": col("ts") < pivot, ">=": col("ts") >= pivot, "==": col("ts") == pivot}[op]
    out = scan(t, row_group_size=300).filter(pred).collect()
    assert out.to_pylist() == [r for r in t.to_pylist() if ref(r["ts"])]


def test_filter_then_select_then_filter(scan):
    t = base_table()
    out = (scan(t).filter(col("s").is_not_null())
           .select("s", (col("i") + 1).alias("i1"))
           .filter(col("i1") % 2 == 0).collect())
    exp = [{"s": r["s"], "i1": r["i"] + 1} for r in t.to_pylist()
           if r["s"] is not None and r["i"] is not None and (r["i"] + 1) % 2 == 0]
    assert out.to_pylist() == exp


def test_union_order(env, mode, tmp_path):
    """union: all rows of the first input, then all rows of the second, each in order."""
    from conftest import make_source

    t = base_table().select(["i", "s", "ts_us"])
    a, b = t.slice(0, 3100), t.slice(3100)
    other = pa.table({"i": pa.array(range(-1, -2501, -1), pa.int64()),
                      "s": pa.array([f"u{k}" for k in range(2500)], pa.string()),
                      "ts_us": pa.array([k * 1_000_003 for k in range(2500)], pa.timestamp("us"))})
    sa = make_source(env, mode, tmp_path, a)
    sb = make_source(env, mode, tmp_path, other)
    out = sa.union(sb).collect()
    assert out.to_pylist() == a.to_pylist() + other.to_pylist()
    # three inputs, one of them transformed
    sc = make_source(env, mode, tmp_path, b).filter(col("i") > 0)
    out3 = make_source(env, mode, tmp_path, a).union(make_source(env, mode, tmp_path, other), sc).collect()
    assert out3.to_pylist() == (a.to_pylist() + other.to_pylist()
                                + [r for r in b.to_pylist() if r["i"] is not None and r["i"] > 0])


@pytest.mark.parametrize("n", [0, 1, 999, 1000, 1001, 2345, N, N + 10])
def test_limit_first_rows_in_order(scan, n):
    t = base_table()
    out = scan(t).limit(n).collect()
    assert out.to_pylist() == t.slice(0, n).to_pylist()


def test_limit_after_filter(scan):
    t = base_table()
    out = scan(t).filter(col("i") < 0).select("i", "s").limit(1234).collect()
    exp = [{"i": r["i"], "s": r["s"]} for r in t.to_pylist() if r["i"] is not None and r["i"] < 0][:1234]
    assert len(exp) == 1234
    assert out.to_pylist() == exp


def test_collect_preserves_input_order(scan):
    """A plain scan returns the input unchanged, in order."""
    t = base_table()
    out = scan(t).collect()
    assert_table(out, t)


def test_empty_input(scan):
    """Zero rows in: zero rows out, with the schema the expressions define."""
    t = base_table().slice(0, 0)
    out = (scan(t).filter(col("i") > 0)
           .with_columns((col("i") / 2).alias("half"), col("s").str.len_chars().alias("n"),
                         col("ts_ms").dt.truncate("1h").alias("ts_ms"))
           .select("i", "half", "n", "ts_ms", "s").collect())
    assert out.num_rows == 0
    assert [(f.name, f.type) for f in out.schema] == [
        ("i", pa.int64()), ("half", pa.float64()), ("n", pa.int32()), ("ts_ms", pa.timestamp("ms")),
        ("s", pa.string())]
    plain = scan(t).collect()
    assert plain.num_rows == 0
    assert [(f.name, f.type) for f in plain.schema] == [(f.name, f.type) for f in t.schema]


def test_filter_everything_out(scan):
    t = base_table()
    out = scan(t).filter(col("i") > 1000).select("i", "s").collect()
    assert out.num_rows == 0
    assert out.column_names == ["i", "s"]
