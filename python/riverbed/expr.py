"""Expressions: Polars-like, built in Python as plan fragments and evaluated in the engine."""

from __future__ import annotations

import datetime as _dt
import decimal as _decimal
import math
from typing import Any

from .datatypes import DataType, Timestamp, to_datatype

IntoExpr = Any  # an Expr, or a Python value taken as a literal


class Expr:
    """A column expression. Build with :func:`col`, :func:`lit` and operators.

    Examples
    --------
    >>> import riverbed as rb
    >>> from riverbed import col
    >>> e = ((col("amount") * 100).cast(rb.Int64) > 5) & col("name").str.starts_with("a")
    >>> e
    <Expr (((col("amount") * lit(100)).cast(int64) > lit(5)) & str_starts_with(col("name"), pattern=a))>
    """

    __slots__ = ("_node",)

    def __init__(self, node: dict[str, Any]):
        self._node = node

    # -- plumbing ---------------------------------------------------------------
    def _to_plan(self) -> dict[str, Any]:
        return self._node

    @staticmethod
    def _fn(name: str, *args: IntoExpr, **options: Any) -> Expr:
        node: dict[str, Any] = {"fn": name, "args": [_to_expr(a)._node for a in args]}
        if options:
            node["options"] = options
        return Expr(node)

    def __repr__(self) -> str:
        return f"<Expr {_describe(self._node)}>"

    def __bool__(self) -> bool:
        raise TypeError(
            "the truth value of an expression is ambiguous: it is evaluated per row by the engine. "
            "Use '&' instead of 'and', '|' instead of 'or', '~' instead of 'not', and wrap "
            "comparisons in parentheses: (col('a') > 1) & (col('b') < 2)"
        )

    def __hash__(self) -> int:
        return hash(repr(self))

    # -- naming and types -----------------------------------------------------
    def alias(self, name: str) -> Expr:
        """Name the expression's output column."""
        if not isinstance(name, str):
            raise TypeError(f"alias name must be a string, got {type(name).__name__}")
        return Expr({"alias": name, "args": [self._node]})

    def cast(self, dtype: DataType | Any) -> Expr:
        """Convert to another type. Float to integer truncates toward zero; strings to integers
        are decimal text (``"010"`` is 10, surrounding whitespace allowed); casts to a decimal
        round half away from zero. Overflow and unparsable strings raise :class:`DataError`
        when the job runs."""
        return Expr({"cast": to_datatype(dtype).plan_name, "args": [self._node]})

    # -- arithmetic -------------------------------------------------------------
    def __add__(self, o: IntoExpr) -> Expr: return Expr._fn("add", self, o)
    def __radd__(self, o: IntoExpr) -> Expr: return Expr._fn("add", o, self)
    def __sub__(self, o: IntoExpr) -> Expr: return Expr._fn("sub", self, o)
    def __rsub__(self, o: IntoExpr) -> Expr: return Expr._fn("sub", o, self)
    def __mul__(self, o: IntoExpr) -> Expr: return Expr._fn("mul", self, o)
    def __rmul__(self, o: IntoExpr) -> Expr: return Expr._fn("mul", o, self)
    def __truediv__(self, o: IntoExpr) -> Expr: return Expr._fn("div", self, o)
    def __rtruediv__(self, o: IntoExpr) -> Expr: return Expr._fn("div", o, self)
    def __floordiv__(self, o: IntoExpr) -> Expr: return Expr._fn("floordiv", self, o)
    def __rfloordiv__(self, o: IntoExpr) -> Expr: return Expr._fn("floordiv", o, self)
    def __mod__(self, o: IntoExpr) -> Expr: return Expr._fn("mod", self, o)
    def __rmod__(self, o: IntoExpr) -> Expr: return Expr._fn("mod", o, self)
    def __neg__(self) -> Expr: return Expr._fn("neg", self)

    # -- comparisons and logic ------------------------------------------------
    def __eq__(self, o: IntoExpr) -> Expr: return Expr._fn("eq", self, o)  # type: ignore[override]
    def __ne__(self, o: IntoExpr) -> Expr: return Expr._fn("ne", self, o)  # type: ignore[override]
    def __lt__(self, o: IntoExpr) -> Expr: return Expr._fn("lt", self, o)
    def __le__(self, o: IntoExpr) -> Expr: return Expr._fn("le", self, o)
    def __gt__(self, o: IntoExpr) -> Expr: return Expr._fn("gt", self, o)
    def __ge__(self, o: IntoExpr) -> Expr: return Expr._fn("ge", self, o)
    def __and__(self, o: IntoExpr) -> Expr: return Expr._fn("and", self, o)
    def __rand__(self, o: IntoExpr) -> Expr: return Expr._fn("and", o, self)
    def __or__(self, o: IntoExpr) -> Expr: return Expr._fn("or", self, o)
    def __ror__(self, o: IntoExpr) -> Expr: return Expr._fn("or", o, self)
    def __invert__(self) -> Expr: return Expr._fn("not", self)

    def is_null(self) -> Expr:
        """True where the value is null."""
        return Expr._fn("is_null", self)

    def is_not_null(self) -> Expr:
        """True where the value is not null."""
        return Expr._fn("is_not_null", self)

    def fill_null(self, value: IntoExpr) -> Expr:
        """Replace nulls with ``value`` (a literal or another expression)."""
        return Expr._fn("fill_null", self, value)

    # -- aggregations (only inside group_by(...).agg(...)) ----------------------
    def _agg(self, name: str) -> Expr:
        return Expr({"agg": name, "args": [self._node]})

    def sum(self) -> Expr:
        """Sum of the non-null values; null for a group without any. Integer sums are int64
        (uint64 for unsigned input) and checked: a sum that does not fit raises
        :class:`DataError`. Decimal sums are ``Decimal(38, scale)``, floats float64."""
        return self._agg("sum")

    def min(self) -> Expr:
        """Smallest non-null value."""
        return self._agg("min")

    def max(self) -> Expr:
        """Largest non-null value."""
        return self._agg("max")

    def mean(self) -> Expr:
        """Arithmetic mean of the non-null values, as float64 (from the exact sum for decimals)."""
        return self._agg("mean")

    def count(self) -> Expr:
        """Number of non-null values (``rb.count()`` counts rows)."""
        return self._agg("count")

    def first(self) -> Expr:
        """First non-null value in input order."""
        return self._agg("first")

    def last(self) -> Expr:
        """Last non-null value in input order."""
        return self._agg("last")

    def n_unique(self) -> Expr:
        """Number of distinct non-null values."""
        return self._agg("n_unique")

    # -- namespaces ---------------------------------------------------------------
    @property
    def str(self) -> StringNamespace:
        """String functions: ``contains``, ``starts_with``, ``ends_with``, ``lower``, ``upper``, ``len_chars``."""
        return StringNamespace(self)

    @property
    def dt(self) -> DateTimeNamespace:
        """Date/time functions: ``truncate``, ``year``, ``month``, ``day``, ``hour``, ``minute``, ``second``."""
        return DateTimeNamespace(self)


class StringNamespace:
    """String functions on an expression (``col("name").str.lower()``)."""

    def __init__(self, e: Expr):
        self._e = e

    def contains(self, pattern: str, *, literal: bool = False) -> Expr:
        """True where the string matches the regular expression ``pattern`` (RE2 syntax), or
        contains it as plain text with ``literal=True``."""
        return Expr._fn("str_contains", self._e, pattern=pattern, literal=literal)

    def starts_with(self, prefix: str) -> Expr:
        """True where the string starts with ``prefix``."""
        return Expr._fn("str_starts_with", self._e, pattern=prefix)

    def ends_with(self, suffix: str) -> Expr:
        """True where the string ends with ``suffix``."""
        return Expr._fn("str_ends_with", self._e, pattern=suffix)

    def lower(self) -> Expr:
        """Lower-case, with Unicode's one-to-one case mapping (as DuckDB)."""
        return Expr._fn("str_lower", self._e)

    def upper(self) -> Expr:
        """Upper-case, with Unicode's one-to-one case mapping (as DuckDB; ``"ß"`` stays ``"ß"``)."""
        return Expr._fn("str_upper", self._e)

    def len_chars(self) -> Expr:
        """Length in Unicode code points, as int32."""
        return Expr._fn("str_len_chars", self._e)


class DateTimeNamespace:
    """Date and time functions on an expression (``col("ts").dt.hour()``)."""

    def __init__(self, e: Expr):
        self._e = e

    def truncate(self, every: str) -> Expr:
        """Round down to a multiple of ``every``: ``"1h"``, ``"15m"``, ``"1d"``, ``"1w"``, ``"1mo"``, ``"1y"``..."""
        return Expr._fn("dt_truncate", self._e, every=every)

    def year(self) -> Expr:
        """Calendar year, as int32."""
        return Expr._fn("dt_year", self._e)

    def month(self) -> Expr:
        """Month 1-12, as int32."""
        return Expr._fn("dt_month", self._e)

    def day(self) -> Expr:
        """Day of the month 1-31, as int32."""
        return Expr._fn("dt_day", self._e)

    def hour(self) -> Expr:
        """Hour 0-23, as int32."""
        return Expr._fn("dt_hour", self._e)

    def minute(self) -> Expr:
        """Minute 0-59, as int32."""
        return Expr._fn("dt_minute", self._e)

    def second(self) -> Expr:
        """Second 0-59, as int32."""
        return Expr._fn("dt_second", self._e)


def col(name: str) -> Expr:
    """Reference a column by name.

    Examples
    --------
    >>> from riverbed import col
    >>> col("amount") > 0
    <Expr (col("amount") > lit(0))>
    """
    if not isinstance(name, str):
        raise TypeError(f"col() takes a column name, got {type(name).__name__}")
    return Expr({"col": name})


def lit(value: Any, dtype: DataType | Any | None = None) -> Expr:
    """A constant. Python ``int`` becomes int64 (uint64 above 2**63-1), ``float`` float64,
    ``decimal.Decimal`` a decimal of its digits, ``str`` utf8, ``bool`` bool, ``datetime``
    timestamp[us], ``date`` date32, ``None`` null (or ``dtype``)."""
    if isinstance(value, Expr):
        return value
    if dtype is not None:
        t = to_datatype(dtype).plan_name
        return Expr({"lit": _json_value(value, t), "type": t})
    if value is None:
        return Expr({"lit": None, "type": "null"})
    if isinstance(value, bool):
        return Expr({"lit": value, "type": "bool"})
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            if 0 <= value < 2**64:
                return Expr({"lit": value, "type": "uint64"})
            raise OverflowError(f"integer literal {value} does not fit in 64 bits")
        return Expr({"lit": value, "type": "int64"})
    if isinstance(value, float):
        return Expr({"lit": _json_value(value, "float64"), "type": "float64"})
    if isinstance(value, str):
        return Expr({"lit": value, "type": "utf8"})
    if isinstance(value, _decimal.Decimal):
        if not value.is_finite():
            raise TypeError(f"cannot use the decimal {value} as a literal; use float('{value}')")
        sign, digits, exp = value.as_tuple()
        scale = max(0, -int(exp))
        precision = max(len(digits) + max(0, int(exp)), scale, 1)
        if precision > 38:
            raise OverflowError(f"decimal literal {value} has more than 38 digits")
        return Expr({"lit": str(value), "type": f"decimal128({precision}, {scale})"})
    if isinstance(value, _dt.datetime):
        tz = "UTC" if value.tzinfo is not None else None
        t = Timestamp("us", tz).plan_name
        return Expr({"lit": _json_value(value, t), "type": t})
    if isinstance(value, _dt.date):
        return Expr({"lit": (value - _dt.date(1970, 1, 1)).days, "type": "date32"})
    raise TypeError(f"cannot use {type(value).__name__} value {value!r} as a literal")


def _json_value(value: Any, plan_type: str) -> Any:
    if value is None:
        return None
    if isinstance(value, _decimal.Decimal):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, _dt.datetime):
        unit = plan_type.split("[")[1].split(",")[0].rstrip("]") if plan_type.startswith("timestamp") else "us"
        if value.tzinfo is None:
            delta = value - _dt.datetime(1970, 1, 1)
        else:
            delta = value - _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
        us = (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds
        return {"s": us // 1_000_000, "ms": us // 1000, "us": us, "ns": us * 1000}[unit]
    if isinstance(value, _dt.date):
        return (value - _dt.date(1970, 1, 1)).days
    return value


def count() -> Expr:
    """Number of rows (in each group).

    Examples
    --------
    >>> import riverbed as rb
    >>> t = rb.from_pydict({"k": ["a", "b", "a"]}).group_by("k").agg(rb.count().alias("n")).collect()
    >>> sorted(zip(t["k"].to_pylist(), t["n"].to_pylist()))
    [('a', 2), ('b', 1)]
    """
    return Expr({"agg": "count"})


def _to_expr(v: IntoExpr) -> Expr:
    if isinstance(v, Expr):
        return v
    return lit(v)


def _describe(n: dict[str, Any]) -> str:
    infix = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%", "eq": "==",
             "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">=", "and": "&", "or": "|"}
    if "col" in n:
        return f'col("{n["col"]}")'
    if "lit" in n:
        return f"lit({n['lit']})" if n["lit"] is not None else "lit(None)"
    if "alias" in n:
        return f'{_describe(n["args"][0])}.alias("{n["alias"]}")'
    if "cast" in n:
        return f'{_describe(n["args"][0])}.cast({n["cast"]})'
    if "agg" in n:
        return f'{_describe(n["args"][0])}.{n["agg"]}()' if n.get("args") else f'{n["agg"]}()'
    fn = n.get("fn", "?")
    args = n.get("args", [])
    if fn in infix and len(args) == 2:
        return f"({_describe(args[0])} {infix[fn]} {_describe(args[1])})"
    if fn == "not":
        return f"~{_describe(args[0])}"
    opts = "".join(f", {k}={v}" for k, v in n.get("options", {}).items() if v is not False)
    return f"{fn}({', '.join(_describe(a) for a in args)}{opts})"
