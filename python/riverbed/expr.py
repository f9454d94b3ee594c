"""Expressions: Polars-like, built in Python as plan fragments and evaluated in the engine."""

from __future__ import annotations

import base64
import datetime as _dt
import math
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from .datatypes import DataType, Int32, Int64, Timestamp, to_datatype
from .errors import PlanError, TypeMismatchError

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
        raise TypeMismatchError(
            "the truth value of an expression is ambiguous: it is evaluated per row by the engine. "
            "Use '&' instead of 'and', '|' instead of 'or', '~' instead of 'not', and wrap "
            "comparisons in parentheses: (col('a') > 1) & (col('b') < 2)"
        )

    def __hash__(self) -> int:
        return hash(repr(self))

    # -- naming and types -----------------------------------------------------
    def alias(self, name: str) -> Expr:
        """Name the expression's output column.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1]}).select((rb.col("x") + 1).alias("y")).columns
        ['y']
        """
        if not isinstance(name, str):
            raise TypeMismatchError(f"alias name must be a string, got {type(name).__name__}")
        return Expr({"alias": name, "args": [self._node]})

    def cast(self, dtype: DataType | Any) -> Expr:
        """Convert to another type. Float to integer truncates toward zero; strings to integers
        are decimal text (``"010"`` is 10, surrounding whitespace allowed); casts to a decimal
        round half away from zero. Overflow and unparsable strings raise :class:`DataError`
        when the job runs.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["1", "20"], "f": [1.9, -1.9]})
        >>> s.select(rb.col("s").cast(rb.Int64), rb.col("f").cast(rb.Int32)).collect().to_pylist()
        [{'s': 1, 'f': 1}, {'s': 20, 'f': -1}]
        """
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
        """True where the value is null.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, None]})
        >>> s.select(rb.col("x").is_null().alias("out")).collect()["out"].to_pylist()
        [False, True]
        """
        return Expr._fn("is_null", self)

    def is_not_null(self) -> Expr:
        """True where the value is not null.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, None]})
        >>> s.select(rb.col("x").is_not_null().alias("out")).collect()["out"].to_pylist()
        [True, False]
        """
        return Expr._fn("is_not_null", self)

    def fill_null(self, value: IntoExpr | None = None, strategy: str | None = None, limit: int | None = None) -> Expr:
        """Replace nulls with ``value`` (a literal or another expression), or with
        ``strategy="forward"`` / ``"backward"`` the nearest value before / after (see
        :meth:`forward_fill`; ``limit`` rows at most).

        The result has the type both fit, as ``when/then`` and SQL's ``COALESCE``: a
        ``decimal(10, 2)`` column filled from a ``decimal(7, 3)`` one is ``decimal(11, 3)``,
        an ``int8`` one filled from ``int64`` values is ``int64``, a decimal and a float
        make ``float64``. A literal the column's type holds exactly (``0`` into ``int8``)
        keeps the column's type.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, None]})
        >>> s.select(rb.col("x").fill_null(0).alias("out")).collect()["out"].to_pylist()
        [1, 0]
        >>> s.select(rb.col("x").fill_null(strategy="forward")).collect()["x"].to_pylist()
        [1, 1]
        """
        if strategy is not None:
            if value is not None:
                raise PlanError("fill_null takes a value or a strategy, not both")
            if strategy == "forward":
                return self.forward_fill(limit)
            if strategy == "backward":
                return self.backward_fill(limit)
            raise PlanError(f"fill_null strategy must be 'forward' or 'backward', got {strategy!r} "
                            "(for 'zero', 'min', 'max', 'mean' pass the value: fill_null(col('x').mean()))")
        if limit is not None:
            raise PlanError("fill_null takes limit only with strategy='forward' or 'backward'")
        if value is None:
            raise PlanError("fill_null needs a value or a strategy")
        return Expr._fn("fill_null", self, value)

    def replace(self, old: Any, new: Any = ...) -> Expr:
        """Values in ``old`` replaced by those in ``new`` (lists of the same length, or one
        ``new`` for every ``old``), or by a mapping ``{old: new}``; other values, and nulls,
        stay as they are, as Polars' ``replace``. Where Polars keeps the column's type, the
        result has the type the column and the new values both fit (``when/then``'s rule:
        a literal the column's type holds keeps it). Built as a ``when/then`` chain: one
        comparison per old value, for maps of a few hundred values at most.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": ["a", "b", "c", None]})
        >>> s.select(rb.col("x").replace({"a": "A", "b": "B"})).collect()["x"].to_pylist()
        ['A', 'B', 'c', None]
        """
        pairs = _replace_pairs("replace", old, new)
        if not pairs:
            return self
        return _replace_chain(self, pairs).otherwise(self).alias(_output_name(self))

    def replace_strict(self, old: Any, new: Any = ..., *, default: IntoExpr = ...,
                       return_dtype: DataType | Any | None = None) -> Expr:
        """Every value replaced by its new value from ``old``/``new`` (as :meth:`replace`),
        in the new values' type (or ``return_dtype``), as Polars' ``replace_strict``: a value
        not among ``old`` takes ``default``, or without one fails the job with a
        :class:`DataError` naming the column; nulls stay null.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": ["lo", "hi", "mid"]})
        >>> s.select(rb.col("x").replace_strict({"lo": 1, "hi": 3}, default=2)).collect()["x"].to_pylist()
        [1, 3, 2]
        """
        pairs = _replace_pairs("replace_strict", old, new)
        name = _output_name(self)
        if not pairs:
            out = lit(None) if default is ... else _to_expr(default)
        else:
            out = _replace_chain(self, pairs).otherwise(lit(None) if default is ... else default)
        if default is ...:
            known = [o for o, _ in pairs]
            unknown = self.is_not_null() if not known else (self.is_not_null() & ~self.is_in(known))
            out = Expr._fn("error_if", unknown, out,
                           message=f"replace_strict: a value of {name} is not among the old values "
                                   f"and no default was given")
        if return_dtype is not None:
            out = out.cast(return_dtype)
        return out.alias(name)

    def forward_fill(self, limit: int | None = None) -> Expr:
        """Each null takes the nearest non-null value before it (at most ``limit`` rows
        before), as Polars' ``forward_fill``; nulls before the first value stay null. Alone,
        over the whole input in input order; ``.over(...)`` fills within partitions, in
        ``order_by`` order (``col("x").forward_fill().over("k", order_by="t")``). Bounded
        input only.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [None, 1, None, None, 4]})
        >>> s.select(rb.col("x").forward_fill()).collect()["x"].to_pylist()
        [None, 1, 1, 1, 4]
        >>> s.select(rb.col("x").forward_fill(limit=1)).collect()["x"].to_pylist()
        [None, 1, 1, None, 4]
        """
        return _Windowed(Expr._fn("forward_fill", self, **_fill_limit(limit)))

    def backward_fill(self, limit: int | None = None) -> Expr:
        """Each null takes the nearest non-null value after it (at most ``limit`` rows after),
        as Polars' ``backward_fill``; nulls after the last value stay null. Alone, over the
        whole input in input order; ``.over(...)`` within partitions. Bounded input only.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [None, 1, None, None, 4, None]})
        >>> s.select(rb.col("x").backward_fill()).collect()["x"].to_pylist()
        [1, 1, 4, 4, 4, None]
        """
        return _Windowed(Expr._fn("backward_fill", self, **_fill_limit(limit)))

    # -- aggregations (only inside group_by(...).agg(...)) ----------------------
    def _agg(self, name: str, *others: IntoExpr, **options: Any) -> Expr:
        node: dict[str, Any] = {"agg": name, "args": [self._node] + [_to_expr(o)._node for o in others]}
        if options:
            node["options"] = options
        return Expr(node)

    def sum(self) -> Expr:
        """Sum of the non-null values; null for a group without any. Integer sums are int64
        (uint64 for unsigned input) and checked: a sum that does not fit raises
        :class:`DataError`. Decimal sums are ``Decimal(38, scale)``, floats float64.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [3, None, 1]})
        >>> s.group_by("k").agg(rb.col("x").sum().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [3, 1]
        """
        return self._agg("sum")

    def min(self) -> Expr:
        """Smallest non-null value.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [3, None, 1]})
        >>> s.group_by("k").agg(rb.col("x").min().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [3, 1]
        """
        return self._agg("min")

    def max(self) -> Expr:
        """Largest non-null value.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [3, None, 1]})
        >>> s.group_by("k").agg(rb.col("x").max().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [3, 1]
        """
        return self._agg("max")

    def mean(self) -> Expr:
        """Arithmetic mean of the non-null values, as float64 (from the exact sum for decimals).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [3, None, 1]})
        >>> s.group_by("k").agg(rb.col("x").mean().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [3.0, 1.0]
        """
        return self._agg("mean")

    def count(self) -> Expr:
        """Number of non-null values (``rb.count()`` counts rows).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [3, None, 1]})
        >>> s.group_by("k").agg(rb.col("x").count().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [1, 1]
        """
        return self._agg("count")

    def first(self) -> Expr:
        """First non-null value in input order. Over an updating input (a changelog), the
        value of the earliest remaining row in arrival order: a retracted row is taken out
        (see docs/changelog.md).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [3, None, 1]})
        >>> s.group_by("k").agg(rb.col("x").first().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [3, 1]
        """
        return self._agg("first")

    def last(self) -> Expr:
        """Last non-null value in input order. Over an updating input (a changelog), the
        value of the latest remaining row in arrival order: a retracted row is taken out
        (see docs/changelog.md).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "b"], "x": [3, None, 1]})
        >>> s.group_by("k").agg(rb.col("x").last().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [3, 1]
        """
        return self._agg("last")

    def n_unique(self) -> Expr:
        """Number of distinct non-null values (as SQL's ``count(DISTINCT x)``; Polars'
        ``n_unique`` counts a null as one more value).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"k": ["a", "a", "a", "b"], "x": [1, 1, 2, None]})
        >>> s.group_by("k").agg(rb.col("x").n_unique().alias("out")).collect().sort_by("k")["out"].to_pylist()
        [2, 0]
        """
        return self._agg("n_unique")

    def approx_n_unique(self) -> Expr:
        """Estimated number of distinct non-null values, from a HyperLogLog sketch per group
        (about 0.8% standard error, a few kilobytes per group at most); merges across
        partitions and windows and is kept in checkpoints, as int64.

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"x": [1, 2, 2, None, 3]}).group_by().agg(rb.col("x").approx_n_unique()).collect()
        >>> t["x"].to_pylist()
        [3]
        """
        return self._agg("approx_n_unique")

    def std(self, ddof: int = 1) -> Expr:
        """Standard deviation of the non-null values as float64, with divisor ``n - ddof``
        (``ddof=1``: the sample standard deviation, as Polars and DuckDB's ``stddev``);
        null when a group has ``ddof`` values or fewer. NaN in, NaN out.

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"x": [1.0, 2.0, 3.0, 4.0]}).group_by().agg(
        ...     rb.col("x").std().alias("s"), rb.col("x").std(ddof=0).alias("p")).collect()
        >>> round(t["s"][0].as_py(), 6), round(t["p"][0].as_py(), 6)
        (1.290994, 1.118034)
        """
        return self._agg("std", ddof=_ddof(ddof))

    def var(self, ddof: int = 1) -> Expr:
        """Variance of the non-null values as float64, with divisor ``n - ddof``; null when
        a group has ``ddof`` values or fewer.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2, 3, 4]}).group_by().agg(rb.col("x").var()).collect()["x"].to_pylist()
        [1.6666666666666667]
        """
        return self._agg("var", ddof=_ddof(ddof))

    def median(self) -> Expr:
        """Median of the non-null values as float64 (the mean of the two middle values of an
        even count). Exact: each group keeps its values until it is emitted.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [4, 1, 3, 2]}).group_by().agg(rb.col("x").median()).collect()["x"].to_pylist()
        [2.5]
        """
        return self._agg("median")

    def quantile(self, quantile: float, interpolation: str = "nearest") -> Expr:
        """The ``quantile`` (0 to 1) of the non-null values as float64, as Polars: at position
        ``(n - 1) * quantile`` of the sorted values, with ``interpolation`` ``"nearest"``,
        ``"lower"``, ``"higher"``, ``"midpoint"`` or ``"linear"`` between the values around
        it. NaN sorts after every number. Exact: each group keeps its values.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2, 3, 4, 5]}).group_by().agg(
        ...     rb.col("x").quantile(0.3, interpolation="linear")).collect()["x"].to_pylist()
        [2.2]
        """
        if isinstance(quantile, bool) or not isinstance(quantile, (int, float)) or not 0 <= quantile <= 1:
            raise PlanError(f"quantile must be a number between 0 and 1, got {quantile!r}")
        if interpolation not in ("nearest", "lower", "higher", "midpoint", "linear"):
            raise PlanError("interpolation must be 'nearest', 'lower', 'higher', 'midpoint' or 'linear', "
                             f"got {interpolation!r}")
        return self._agg("quantile", quantile=float(quantile), interpolation=interpolation)

    def any(self, ignore_nulls: bool = True) -> Expr:
        """Whether any value of a boolean column is true. With ``ignore_nulls=False`` a group
        without a true but with a null gives null (Kleene logic), as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"b": [False, None]}).group_by().agg(
        ...     rb.col("b").any().alias("a"), rb.col("b").any(ignore_nulls=False).alias("k")).collect()
        >>> t["a"].to_pylist(), t["k"].to_pylist()
        ([False], [None])
        """
        return self._agg("any", ignore_nulls=bool(ignore_nulls))

    def all(self, ignore_nulls: bool = True) -> Expr:
        """Whether every non-null value of a boolean column is true (true for a group of
        nulls only). With ``ignore_nulls=False`` a group without a false but with a null
        gives null (Kleene logic), as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"b": [True, None]}).group_by().agg(rb.col("b").all()).collect()["b"].to_pylist()
        [True]
        """
        return self._agg("all", ignore_nulls=bool(ignore_nulls))

    def arg_max(self) -> Expr:
        """Position (from 0, int64) within its group, in input order, of the first row with
        the largest non-null value; rows with nulls count. Null for a group without values.
        As Polars' ``arg_max`` in ``group_by().agg``. Not available in session windows.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [3, None, 7, 7]}).group_by().agg(rb.col("x").arg_max()).collect()["x"].to_pylist()
        [2]
        """
        return self._agg("arg_max")

    def arg_min(self) -> Expr:
        """Position (from 0, int64) within its group, in input order, of the first row with
        the smallest non-null value; see :meth:`arg_max`.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [3, None, 1]}).group_by().agg(rb.col("x").arg_min()).collect()["x"].to_pylist()
        [2]
        """
        return self._agg("arg_min")

    def max_by(self, by: IntoExpr) -> Expr:
        """This expression's value at the row where ``by`` is largest (the first such row in
        input order; rows where ``by`` is null are skipped; the value may be null). As
        DuckDB's ``arg_max(x, by)`` / ``max_by`` and Polars' ``x.get(by.arg_max())``.

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"item": ["a", "b", "c"], "price": [3, 9, 5]})
        >>> t.group_by().agg(rb.col("item").max_by("price")).collect()["item"].to_pylist()
        ['b']
        """
        return self._agg("max_by", col(by) if isinstance(by, str) else by)

    def min_by(self, by: IntoExpr) -> Expr:
        """This expression's value at the row where ``by`` is smallest; see :meth:`max_by`.

        Examples
        --------
        >>> import riverbed as rb
        >>> t = rb.from_pydict({"item": ["a", "b", "c"], "price": [3, 9, 5]})
        >>> t.group_by().agg(rb.col("item").min_by("price")).collect()["item"].to_pylist()
        ['a']
        """
        return self._agg("min_by", col(by) if isinstance(by, str) else by)

    # -- window functions over partitions (bounded input) ---------------------------
    def over(self, partition_by: IntoExpr | Iterable[IntoExpr] | None = None, *more: IntoExpr,
             order_by: IntoExpr | Iterable[IntoExpr] | None = None, descending: bool = False,
             nulls_last: bool = False, rows: int | str | None = None,
             range: int | str | None = None) -> Expr:  # noqa: A002 (SQL's word for the frame)
        """Compute this window function or aggregation within each partition of
        ``partition_by`` (column names or expressions; none: the whole input), with rows in
        ``order_by`` order (then input order), and give every row its own result, in input
        order (Polars' ``over``). A plain aggregation (``col("x").sum().over("k")``) is
        broadcast to its partition's rows. Only in ``select`` and ``with_columns``, on
        bounded input: the rows are computed on one core, in memory, once the input ends.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": ["a", "b", "a", "a"], "t": [3, 1, 1, 2], "x": [10, 20, 30, 40]})
        >>> r = t.with_columns(col("x").cum_sum().over("k", order_by="t").alias("run"),
        ...                    col("x").sum().over("k").alias("total")).collect()
        >>> r["run"].to_pylist(), r["total"].to_pylist()
        ([80, 20, 30, 70], [80, 20, 80, 80])

        With ``rows=`` or ``range=``, an aggregation (``count``, ``sum``, ``mean``,
        ``min``, ``max``) is computed over a frame of preceding rows, as SQL's
        ``OVER (PARTITION BY ... ORDER BY o ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT
        ROW)`` and Flink's streaming OVER aggregations: ``rows=10`` is the current row and
        the 10 before it in its partition; ``range="1h"`` the rows whose ``order_by`` value
        is at most an hour before the current row's (rows of equal value see each other;
        an integer ``order_by`` column takes a number); ``"unbounded"`` every row so far.
        ``order_by`` is one integer, date or timestamp column, ascending. This also runs
        on unbounded input, ordered by the event time: each row is emitted when the
        watermark passes its time; rows behind the watermark are late (dropped and
        counted). It runs on all cores, partitioned by ``partition_by``, and rows come out
        in ``order_by`` order within a partition (not in input order).

        >>> t = rb.from_pydict({"k": ["a", "a", "a", "b"], "t": [1, 2, 4, 1], "x": [1, 2, 3, 4]})
        >>> r = t.with_columns(col("x").sum().over("k", order_by="t", rows=1).alias("last2"),
        ...                    col("x").sum().over("k", order_by="t", range=2).alias("within2"))
        >>> sorted(r.collect().to_pylist(), key=lambda d: (d["k"], d["t"]))[:3]  # doctest: +NORMALIZE_WHITESPACE
        [{'k': 'a', 't': 1, 'x': 1, 'last2': 1, 'within2': 1},
         {'k': 'a', 't': 2, 'x': 2, 'last2': 3, 'within2': 3},
         {'k': 'a', 't': 4, 'x': 3, 'last2': 5, 'within2': 5}]
        """
        parts = [] if partition_by is None else _flatten_exprs(partition_by)
        parts += _flatten_exprs(more)
        orders = [] if order_by is None else _flatten_exprs(order_by)
        node: dict[str, Any] = {"fn": "over", "args": [self._node] + [p._node for p in parts + orders],
                                "options": {"partition_by": len(parts)}}
        if descending:
            node["options"]["descending"] = True
        if nulls_last:
            node["options"]["nulls_last"] = True
        if rows is not None:
            node["options"]["rows"] = rows
        if range is not None:
            node["options"]["range"] = range
        return Expr(node)

    def cum_sum(self) -> Expr:
        """Running sum within the partition (use with :meth:`over`); a null row stays null.
        int64 (checked) for integers and booleans, float64 for floats.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 2, 1], "x": [3, None, 5, 1]})
        >>> t.select(col("x").cum_sum().over("k")).collect()["x"].to_pylist()
        [3, None, 5, 4]
        """
        return Expr._fn("cum_sum", self)

    def cum_min(self) -> Expr:
        """Running minimum within the partition (use with :meth:`over`), in the column's type.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 2, 1], "x": [3, None, 5, 1]})
        >>> t.select(col("x").cum_min().over("k")).collect()["x"].to_pylist()
        [3, None, 5, 1]
        """
        return Expr._fn("cum_min", self)

    def cum_max(self) -> Expr:
        """Running maximum within the partition (use with :meth:`over`), in the column's type.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 2, 1], "x": [3, None, 5, 1]})
        >>> t.select(col("x").cum_max().over("k")).collect()["x"].to_pylist()
        [3, None, 5, 3]
        """
        return Expr._fn("cum_max", self)

    def cum_count(self) -> Expr:
        """Running count of non-null values within the partition (use with :meth:`over`), int64.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 2, 1], "x": [3, None, 5, 1]})
        >>> t.select(col("x").cum_count().over("k")).collect()["x"].to_pylist()
        [1, 1, 1, 2]
        """
        return Expr._fn("cum_count", self)

    def shift(self, n: int = 1) -> Expr:
        """The value ``n`` rows earlier in the partition (``n < 0``: later), null past its
        ends — SQL's ``lag`` / ``lead`` (use with :meth:`over`).

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 1], "x": [5, 6, 7]})
        >>> t.select(col("x").shift().over("k")).collect()["x"].to_pylist()
        [None, 5, 6]
        """
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeMismatchError(f"shift takes an integer, got {n!r}")
        if abs(n) >= 2**53:
            raise PlanError(f"shift n={n} is out of range (|n| < 2**53)")
        return Expr._fn("shift", self, n=n)

    def diff(self, n: int = 1) -> Expr:
        """``x - x.shift(n)``: the change from ``n`` rows earlier, as Polars' ``diff`` (null for
        the first ``n``). Alone, over the whole input in input order; ``.over(...)`` takes it
        within partitions, in ``order_by`` order (``col("x").diff().over("k", order_by="t")``).
        Bounded input only.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 2, 1, 1], "x": [5, 6, 8, 12]})
        >>> t.select(col("x").diff()).collect()["x"].to_pylist()
        [None, 1, 2, 4]
        >>> t.select(col("x").diff().over("k")).collect()["x"].to_pylist()
        [None, None, 3, 4]
        """
        return _Lagged(self, n, lambda x, earlier: x - earlier)

    def pct_change(self, n: int = 1) -> Expr:
        """The change from ``n`` rows earlier as a fraction of it (float64), as Polars'
        ``pct_change``: alone over the whole input in input order, or within the partitions
        of a following ``.over(...)``, as :meth:`diff`. Bounded input only.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> rb.from_pydict({"x": [10, 15, 12]}).select(col("x").pct_change()).collect()["x"].to_pylist()
        [None, 0.5, -0.2]
        """
        return _Lagged(self, n, lambda x, earlier: (x - earlier) / earlier)

    def rank(self, method: str = "average", *, descending: bool = False) -> Expr:
        """Rank of the value within the partition (use with :meth:`over`), as Polars: ties get
        the mean of their places (``"average"``, float64), the lowest (``"min"``), the highest
        (``"max"``), consecutive ranks (``"dense"``) or distinct places in partition order
        (``"ordinal"``) (int64). Nulls get null; NaN ranks above every number.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"x": [3, 1, 3, 2]})
        >>> t.select(col("x").rank("min").over()).collect()["x"].to_pylist()
        [3, 1, 3, 2]
        """
        if method not in ("average", "min", "max", "dense", "ordinal"):
            raise PlanError(f"method must be 'average', 'min', 'max', 'dense' or 'ordinal', got {method!r}")
        return Expr._fn("rank", self, method=method, descending=bool(descending))

    def _rolling(self, name: str, window_size: int, min_samples: int | None) -> Expr:
        if isinstance(window_size, bool) or not isinstance(window_size, int) or window_size <= 0:
            raise PlanError(f"window_size must be a positive integer, got {window_size!r}")
        opts: dict[str, Any] = {"window_size": window_size}
        if min_samples is not None:
            if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 0:
                raise PlanError(f"min_samples must be a non-negative integer, got {min_samples!r}")
            opts["min_samples"] = min_samples
        return Expr._fn(name, self, **opts)

    def rolling_sum(self, window_size: int, *, min_samples: int | None = None) -> Expr:
        """Sum over the last ``window_size`` rows of the partition, this one included (use with
        :meth:`over`); null where fewer than ``min_samples`` (default ``window_size``) of them
        have values.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"x": [1, 2, 3, 4]})
        >>> t.select(col("x").rolling_sum(2).over()).collect()["x"].to_pylist()
        [None, 3, 5, 7]
        """
        return self._rolling("rolling_sum", window_size, min_samples)

    def rolling_mean(self, window_size: int, *, min_samples: int | None = None) -> Expr:
        """Mean over the last ``window_size`` rows of the partition (float64); see
        :meth:`rolling_sum`.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 2, 1], "x": [3, None, 5, 1]})
        >>> t.select(col("x").rolling_mean(2, min_samples=1).over("k")).collect()["x"].to_pylist()
        [3.0, 3.0, 5.0, 1.0]
        """
        return self._rolling("rolling_mean", window_size, min_samples)

    def rolling_min(self, window_size: int, *, min_samples: int | None = None) -> Expr:
        """Minimum over the last ``window_size`` rows of the partition; see :meth:`rolling_sum`.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 2, 1], "x": [3, None, 5, 1]})
        >>> t.select(col("x").rolling_min(3, min_samples=1).over("k")).collect()["x"].to_pylist()
        [3, 3, 5, 1]
        """
        return self._rolling("rolling_min", window_size, min_samples)

    def rolling_max(self, window_size: int, *, min_samples: int | None = None) -> Expr:
        """Maximum over the last ``window_size`` rows of the partition; see :meth:`rolling_sum`.

        Examples
        --------
        >>> import riverbed as rb
        >>> from riverbed import col
        >>> t = rb.from_pydict({"k": [1, 1, 2, 1], "x": [3, None, 5, 1]})
        >>> t.select(col("x").rolling_max(3, min_samples=1).over("k")).collect()["x"].to_pylist()
        [3, 3, 5, 3]
        """
        return self._rolling("rolling_max", window_size, min_samples)

    # -- namespaces ---------------------------------------------------------------
    # -- membership, conditionals and maths --------------------------------------
    def is_in(self, values: Iterable[Any]) -> Expr:
        """True where the value is one of ``values`` (literals). A null value gives null;
        nulls among ``values`` are ignored (as Polars).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, 2, None]}).select(rb.col("x").is_in([2, 3])).collect()["x"].to_pylist()
        [False, True, None]
        """
        if isinstance(values, (str, bytes, Expr)) or not isinstance(values, Iterable):
            raise TypeMismatchError(f"is_in takes a list of values, got {type(values).__name__}")
        return Expr._fn("is_in", self, *[lit(v) for v in values])

    def is_between(self, lower: IntoExpr, upper: IntoExpr, closed: str = "both") -> Expr:
        """True where ``lower <= value <= upper``; ``closed`` is ``"both"``, ``"left"``,
        ``"right"`` or ``"none"`` (as Polars).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2, 3, 4]})
        >>> s.select(rb.col("x").is_between(2, 3).alias("out")).collect()["out"].to_pylist()
        [False, True, True, False]
        """
        if closed not in ("both", "left", "right", "none"):
            raise PlanError(f"closed must be 'both', 'left', 'right' or 'none', got {closed!r}")
        lo = self >= lower if closed in ("both", "left") else self > lower
        hi = self <= upper if closed in ("both", "right") else self < upper
        return lo & hi

    def is_nan(self) -> Expr:
        """True where a float is NaN (false for integers; null stays null).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.0, float("nan"), None]})
        >>> s.select(rb.col("x").is_nan().alias("out")).collect()["out"].to_pylist()
        [False, True, None]
        """
        return Expr._fn("is_nan", self)

    def is_not_nan(self) -> Expr:
        """True where a float is not NaN (integers: true; null stays null), as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.0, float("nan"), None]})
        >>> s.select(rb.col("x").is_not_nan().alias("out")).collect()["out"].to_pylist()
        [True, False, None]
        """
        return ~self.is_nan()

    def is_finite(self) -> Expr:
        """True where the number is neither infinite nor NaN (null stays null), as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.0, float("inf"), float("nan"), None]})
        >>> s.select(rb.col("x").is_finite().alias("out")).collect()["out"].to_pylist()
        [True, False, False, None]
        """
        inf = float("inf")
        return self.is_between(-inf, inf, closed="none")  # NaN is above inf in the float order

    def is_infinite(self) -> Expr:
        """True where the number is +inf or -inf (null stays null), as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.0, float("-inf"), None]})
        >>> s.select(rb.col("x").is_infinite().alias("out")).collect()["out"].to_pylist()
        [False, True, None]
        """
        inf = float("inf")
        return (self == inf) | (self == -inf)

    def not_(self) -> Expr:
        """``~x``: logical not of a boolean, as Polars' ``not_``.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"b": [True, None]}).select(rb.col("b").not_()).collect()["b"].to_pylist()
        [False, None]
        """
        return ~self

    def mod(self, other: IntoExpr) -> Expr:
        """``x % other`` (the remainder takes the divisor's sign, as Polars).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [7, -7]}).select(rb.col("x").mod(3)).collect()["x"].to_pylist()
        [1, 2]
        """
        return self % other

    def floordiv(self, other: IntoExpr) -> Expr:
        """``x // other``, rounded down, as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [7, -7]}).select(rb.col("x").floordiv(2)).collect()["x"].to_pylist()
        [3, -4]
        """
        return self // other

    def null_count(self) -> Expr:
        """The number of nulls (an aggregation, int64), as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"x": [1, None, None]}).select(rb.col("x").null_count()).collect()["x"].to_pylist()
        [2]
        """
        return self.is_null().sum().fill_null(0)

    def is_duplicated(self) -> Expr:
        """True where the value occurs more than once in the input (nulls count as one
        value), as Polars; a window function over all rows, so bounded input only.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2, 1, None]})
        >>> s.select(rb.col("x").is_duplicated()).collect()["x"].to_pylist()
        [True, False, True, False]
        """
        return (count().over(self) > 1).alias(_output_name(self))

    def is_unique(self) -> Expr:
        """True where the value occurs once in the input: see :meth:`is_duplicated`.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1, 2, 1, None]})
        >>> s.select(rb.col("x").is_unique()).collect()["x"].to_pylist()
        [False, True, False, True]
        """
        return (count().over(self) == 1).alias(_output_name(self))

    def fill_nan(self, value: IntoExpr) -> Expr:
        """NaN replaced by ``value`` (nulls stay null), as Polars' ``fill_nan``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.0, float("nan"), None]})
        >>> s.select(rb.col("x").fill_nan(0.0).alias("out")).collect()["out"].to_pylist()
        [1.0, 0.0, None]
        """
        return when(self.is_nan()).then(_to_expr(value)).otherwise(self)

    def abs(self) -> Expr:
        """Absolute value, in the column's type (the most negative integer is an error).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [-2, 3, None]})
        >>> s.select(rb.col("x").abs().alias("out")).collect()["out"].to_pylist()
        [2, 3, None]
        """
        return Expr._fn("abs", self)

    def sign(self) -> Expr:
        """-1, 0 or 1 (int64 for integers and decimals; floats keep their type, NaN stays NaN).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [-2, 0, 3]})
        >>> s.select(rb.col("x").sign().alias("out")).collect()["out"].to_pylist()
        [-1, 0, 1]
        """
        return Expr._fn("sign", self)

    def sqrt(self) -> Expr:
        """Square root as float64 (NaN below zero, as Polars).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [4, 9]})
        >>> s.select(rb.col("x").sqrt().alias("out")).collect()["out"].to_pylist()
        [2.0, 3.0]
        """
        return Expr._fn("sqrt", self)

    def exp(self) -> Expr:
        """e to the power of the value, as float64.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").exp().alias("out")).collect()["out"].to_pylist()
        [1.0]
        """
        return Expr._fn("exp", self)

    def log(self, base: float = math.e) -> Expr:
        """Logarithm (natural by default) as float64; -inf at 0, NaN below.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [8.0, 1.0]})
        >>> s.select(rb.col("x").log(2).alias("out")).collect()["out"].to_pylist()
        [3.0, 0.0]
        """
        if base == math.e:
            return Expr._fn("log", self)
        return Expr._fn("log", self, base=float(base))

    def log10(self) -> Expr:
        """Base-10 logarithm as float64.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1000.0]})
        >>> s.select(rb.col("x").log10().alias("out")).collect()["out"].to_pylist()
        [3.0]
        """
        return Expr._fn("log10", self)

    def log1p(self) -> Expr:
        """Natural logarithm of one plus the value, as float64 (exact near zero); ``-inf`` at -1, NaN below.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").log1p().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("log1p", self)

    def cbrt(self) -> Expr:
        """Cube root as float64 (negative for negative values).
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [27.0, -8.0]})
        >>> s.select(rb.col("x").cbrt().alias("out")).collect()["out"].to_pylist()
        [3.0, -2.0]
        """
        return Expr._fn("cbrt", self)

    def sin(self) -> Expr:
        """Sine of an angle in radians, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").sin().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("sin", self)

    def cos(self) -> Expr:
        """Cosine of an angle in radians, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").cos().alias("out")).collect()["out"].to_pylist()
        [1.0]
        """
        return Expr._fn("cos", self)

    def tan(self) -> Expr:
        """Tangent of an angle in radians, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").tan().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("tan", self)

    def cot(self) -> Expr:
        """Cotangent of an angle in radians (``1 / tan``), as float64; ``inf`` at 0.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").cot().alias("out")).collect()["out"].to_pylist()
        [inf]
        """
        return Expr._fn("cot", self)

    def arcsin(self) -> Expr:
        """Inverse sine in radians, as float64; NaN outside [-1, 1].
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0, 2.0]})
        >>> s.select(rb.col("x").arcsin().alias("out")).collect()["out"].to_pylist()
        [0.0, nan]
        """
        return Expr._fn("arcsin", self)

    def arccos(self) -> Expr:
        """Inverse cosine in radians, as float64; NaN outside [-1, 1].
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.0]})
        >>> s.select(rb.col("x").arccos().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("arccos", self)

    def arctan(self) -> Expr:
        """Inverse tangent in radians, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").arctan().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("arctan", self)

    def sinh(self) -> Expr:
        """Hyperbolic sine, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").sinh().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("sinh", self)

    def cosh(self) -> Expr:
        """Hyperbolic cosine, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").cosh().alias("out")).collect()["out"].to_pylist()
        [1.0]
        """
        return Expr._fn("cosh", self)

    def tanh(self) -> Expr:
        """Hyperbolic tangent, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").tanh().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("tanh", self)

    def arcsinh(self) -> Expr:
        """Inverse hyperbolic sine, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0]})
        >>> s.select(rb.col("x").arcsinh().alias("out")).collect()["out"].to_pylist()
        [0.0]
        """
        return Expr._fn("arcsinh", self)

    def arccosh(self) -> Expr:
        """Inverse hyperbolic cosine, as float64; NaN below 1.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.0, 0.5]})
        >>> s.select(rb.col("x").arccosh().alias("out")).collect()["out"].to_pylist()
        [0.0, nan]
        """
        return Expr._fn("arccosh", self)

    def arctanh(self) -> Expr:
        """Inverse hyperbolic tangent, as float64; ``inf`` at 1, NaN beyond [-1, 1].
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0, 1.0]})
        >>> s.select(rb.col("x").arctanh().alias("out")).collect()["out"].to_pylist()
        [0.0, inf]
        """
        return Expr._fn("arctanh", self)

    def degrees(self) -> Expr:
        """An angle in radians converted to degrees, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [0.0, 3.141592653589793]})
        >>> s.select(rb.col("x").degrees().alias("out")).collect()["out"].to_pylist()
        [0.0, 180.0]
        """
        return Expr._fn("degrees", self)

    def radians(self) -> Expr:
        """An angle in degrees converted to radians, as float64.
        Integers and decimals are taken as float64; float32 stays float32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [180.0]})
        >>> s.select(rb.col("x").radians().alias("out")).collect()["out"].to_pylist()
        [3.141592653589793]
        """
        return Expr._fn("radians", self)

    def pow(self, exponent: IntoExpr) -> Expr:
        """``value ** exponent`` as float64 (also the ``**`` operator).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [3, 4]})
        >>> s.select(rb.col("x").pow(2).alias("out")).collect()["out"].to_pylist()
        [9.0, 16.0]
        """
        return Expr._fn("pow", self, exponent)

    def __pow__(self, exponent: IntoExpr) -> Expr:
        return self.pow(exponent)

    def __rpow__(self, base: IntoExpr) -> Expr:
        return _to_expr(base).pow(self)

    def floor(self) -> Expr:
        """Round down to a whole number (floats and decimals keep their type).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.5, -1.5]})
        >>> s.select(rb.col("x").floor().alias("out")).collect()["out"].to_pylist()
        [1.0, -2.0]
        """
        return Expr._fn("floor", self)

    def ceil(self) -> Expr:
        """Round up to a whole number (floats and decimals keep their type).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [1.5, -1.5]})
        >>> s.select(rb.col("x").ceil().alias("out")).collect()["out"].to_pylist()
        [2.0, -1.0]
        """
        return Expr._fn("ceil", self)

    def round(self, decimals: int = 0, *, mode: str = "half_to_even") -> Expr:
        """Round to ``decimals`` digits; halves to even by default, as Polars
        (``mode="half_away_from_zero"`` rounds them as DuckDB's ``round``).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [2.5, 3.14159]})
        >>> s.select(rb.col("x").round(0)).collect()["x"].to_pylist()
        [2.0, 3.0]
        >>> s.select(rb.col("x").round(2, mode="half_away_from_zero")).collect()["x"].to_pylist()
        [2.5, 3.14]
        """
        if not isinstance(decimals, int) or isinstance(decimals, bool):
            raise TypeMismatchError(f"round(decimals=) takes an integer, got {type(decimals).__name__}")
        if mode not in ("half_to_even", "half_away_from_zero"):
            raise PlanError(f"round mode must be 'half_to_even' or 'half_away_from_zero', got {mode!r}")
        return Expr._fn("round", self, decimals=decimals, mode=mode)

    def clip(self, lower_bound: IntoExpr | None = None, upper_bound: IntoExpr | None = None) -> Expr:
        """Limit values to ``[lower_bound, upper_bound]`` (either may be None); null stays null.

        NaN orders above every number, so with an upper bound NaN becomes that bound (as DuckDB's
        ``LEAST(GREATEST(x, lo), hi)``; Polars keeps NaN).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"x": [-5, 5, 50, None]})
        >>> s.select(rb.col("x").clip(0, 10).alias("out")).collect()["out"].to_pylist()
        [0, 5, 10, None]
        """
        if lower_bound is None and upper_bound is None:
            return self
        w = None
        if lower_bound is not None:
            w = when(self < lower_bound).then(lower_bound)
        if upper_bound is not None:
            above = self > upper_bound
            w = when(above).then(upper_bound) if w is None else w.when(above).then(upper_bound)
        assert w is not None
        return w.otherwise(self)

    @property
    def str(self) -> StringNamespace:
        """String functions: ``contains``, ``starts_with``, ``ends_with``, ``lower``, ``upper``, ``len_chars``,
        ``slice``, ``replace``, ``replace_all``, ``strip_chars``, ``pad_start``, ``pad_end``, ``split``,
        ``to_date``, ``to_datetime``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["abc"]})
        >>> s.select(rb.col("s").str.upper().alias("out")).collect()["out"].to_pylist()
        ['ABC']
        """
        return StringNamespace(self)

    @property
    def dt(self) -> DateTimeNamespace:
        """Date/time functions: ``truncate``, ``year``, ``month``, ``day``, ``hour``, ``minute``, ``second``,
        ``date``, ``weekday``, ``quarter``, ``ordinal_day``, ``epoch``, and for durations ``total_days``,
        ``total_seconds``, ``total_milliseconds``, ``total_microseconds``.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30)]})
        >>> s.select(rb.col("ts").dt.hour().alias("h")).collect()["h"].to_pylist()
        [14]
        """
        return DateTimeNamespace(self)

    @property
    def struct(self) -> StructNamespace:
        """Struct functions: ``field``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"user": [{"id": 1, "name": "ann"}, None]})
        >>> s.select(rb.col("user").struct.field("name")).collect()["name"].to_pylist()
        ['ann', None]
        """
        return StructNamespace(self)

    @property
    def list(self) -> ListNamespace:
        """List functions: ``len``, ``get``, ``first``, ``last``, ``contains``, ``join``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"xs": [[1, 2, 3], [], None]})
        >>> s.select(rb.col("xs").list.len().alias("n")).collect()["n"].to_pylist()
        [3, 0, None]
        """
        return ListNamespace(self)


def _replace_pairs(fn: str, old: Any, new: Any) -> list[tuple[Any, Any]]:
    """(old, new) pairs of replace/replace_strict's arguments."""
    from collections.abc import Mapping

    if isinstance(old, Mapping):
        if new is not ...:
            raise PlanError(f"{fn} takes a mapping or old and new values, not both")
        pairs = list(old.items())
    else:
        if new is ...:
            raise PlanError(f"{fn} needs new values (or a mapping {{old: new}})")
        olds = list(old) if isinstance(old, (list, tuple)) else [old]
        if isinstance(new, (list, tuple)):
            if len(new) != len(olds):
                raise PlanError(f"{fn}: {len(olds)} old values but {len(new)} new ones")
            pairs = list(zip(olds, new))
        else:
            pairs = [(o, new) for o in olds]
    for o, _ in pairs:
        if o is None or isinstance(o, Expr):
            raise PlanError(f"{fn} takes old values as literals, not {o!r} (fill nulls with fill_null)")
    return pairs


def _replace_chain(x: Expr, pairs: list[tuple[Any, Any]]) -> Then:
    chain: Then | None = None
    for o, n in pairs:
        chain = when(x == o).then(n) if chain is None else chain.when(x == o).then(n)
    assert chain is not None
    return chain


def _fill_limit(limit: int | None) -> dict[str, int]:
    if limit is None:
        return {}
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise PlanError(f"fill limit must be a count of rows (0 or more) or None, got {limit!r}")
    return {"limit": limit}


class _Windowed(Expr):
    """A window function (forward_fill, ...) over the whole input alone, or over(...) the
    partitions given."""

    __slots__ = ("_inner",)

    def __init__(self, inner: Expr):
        super().__init__(inner.over()._node)
        self._inner = inner

    def over(self, *args: Any, **kwargs: Any) -> Expr:
        return self._inner.over(*args, **kwargs)


class _Lagged(Expr):
    """combine(x, x.shift(n)) (diff, pct_change): over the whole input, or over(...) the
    partitions given (Polars writes the window after them; the engine's window function is
    the shift inside)."""

    __slots__ = ("_x", "_n", "_combine")

    def __init__(self, x: Expr, n: int, combine: Any):
        super().__init__(combine(x, x.shift(n).over())._node)  # shift checks n
        self._x, self._n, self._combine = x, n, combine

    def over(self, *args: Any, **kwargs: Any) -> Expr:
        return self._combine(self._x, self._x.shift(self._n).over(*args, **kwargs))


class StructNamespace:
    """Struct functions on an expression (``col("user").struct.field("id")``)."""

    def __init__(self, e: Expr):
        self._e = e

    def field(self, name: str) -> Expr:
        """The struct's field ``name``, named after it; null where the struct is null.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"user": [{"id": 1, "name": "ann"}, {"id": 2, "name": None}]})
        >>> s.select(rb.col("user").struct.field("id")).collect()["id"].to_pylist()
        [1, 2]
        """
        if not isinstance(name, str):
            raise TypeMismatchError(f"struct.field takes a field name, got {name!r}")
        return Expr({"fn": "struct_field", "args": [self._e._node], "options": {"name": name}}).alias(name)


class ListNamespace:
    """List functions on an expression (``col("tags").list.len()``)."""

    def __init__(self, e: Expr):
        self._e = e

    def len(self) -> Expr:
        """The number of elements of each list (nulls included; int32); null for a null list.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"xs": [[1, None], []]})
        >>> s.select(rb.col("xs").list.len().alias("n")).collect()["n"].to_pylist()
        [2, 0]
        """
        return Expr._fn("list_len", self._e)

    def get(self, index: int, *, null_on_oob: bool = False) -> Expr:
        """Element ``index`` of each list (from 0; negative counts from the end); null for a
        null list. A list too short is an error naming the row, as in Polars, or null with
        ``null_on_oob=True``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"xs": [[1, 2, 3], [4]]})
        >>> s.select(rb.col("xs").list.get(-1).alias("x")).collect()["x"].to_pylist()
        [3, 4]
        >>> s.select(rb.col("xs").list.get(1, null_on_oob=True).alias("x")).collect()["x"].to_pylist()
        [2, None]
        """
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeMismatchError(f"list.get takes an integer index, got {index!r}")
        return Expr._fn("list_get", self._e, index=index, null_on_oob=null_on_oob)

    def first(self) -> Expr:
        """The first element of each list; null for an empty or null list.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"xs": [[1, 2], []]})
        >>> s.select(rb.col("xs").list.first().alias("x")).collect()["x"].to_pylist()
        [1, None]
        """
        return self.get(0, null_on_oob=True)

    def last(self) -> Expr:
        """The last element of each list; null for an empty or null list.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"xs": [[1, 2], []]})
        >>> s.select(rb.col("xs").list.last().alias("x")).collect()["x"].to_pylist()
        [2, None]
        """
        return self.get(-1, null_on_oob=True)

    def contains(self, item: IntoExpr) -> Expr:
        """True where the list holds ``item`` (a value, or an expression per row); a null
        item matches a null element; null for a null list.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"tags": [["a", "b"], ["c"], None]})
        >>> s.select(rb.col("tags").list.contains("a").alias("has_a")).collect()["has_a"].to_pylist()
        [True, False, None]
        """
        return Expr._fn("list_contains", self._e, item)

    def join(self, separator: str, *, ignore_nulls: bool = True) -> Expr:
        """The list's strings joined with ``separator``; null for a null list, and, with
        ``ignore_nulls=False``, for a list holding a null (else nulls are skipped), as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["a b c"]})
        >>> s.select(rb.col("s").str.split(" ").list.join("-").alias("out")).collect()["out"].to_pylist()
        ['a-b-c']
        """
        if not isinstance(separator, str):
            raise TypeMismatchError(f"list.join takes a separator string, got {separator!r}")
        return Expr._fn("list_join", self._e, separator=separator, ignore_nulls=ignore_nulls)


class StringNamespace:
    """String functions on an expression (``col("name").str.lower()``)."""

    def __init__(self, e: Expr):
        self._e = e

    def contains(self, pattern: str, *, literal: bool = False) -> Expr:
        """True where the string matches the regular expression ``pattern`` (RE2 syntax), or
        contains it as plain text with ``literal=True``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["abc", "xabc", None]})
        >>> s.select(rb.col("s").str.contains("^a.c$").alias("out")).collect()["out"].to_pylist()
        [True, False, None]
        """
        return Expr._fn("str_contains", self._e, pattern=pattern, literal=literal)

    def starts_with(self, prefix: str) -> Expr:
        """True where the string starts with ``prefix``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["abc", "cab"]})
        >>> s.select(rb.col("s").str.starts_with("ab").alias("out")).collect()["out"].to_pylist()
        [True, False]
        """
        return Expr._fn("str_starts_with", self._e, pattern=prefix)

    def ends_with(self, suffix: str) -> Expr:
        """True where the string ends with ``suffix``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["abc", "cab"]})
        >>> s.select(rb.col("s").str.ends_with("ab").alias("out")).collect()["out"].to_pylist()
        [False, True]
        """
        return Expr._fn("str_ends_with", self._e, pattern=suffix)

    def lower(self) -> Expr:
        """Lower-case, with Unicode's one-to-one case mapping (as DuckDB).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["ÄbC"]})
        >>> s.select(rb.col("s").str.lower().alias("out")).collect()["out"].to_pylist()
        ['äbc']
        """
        return Expr._fn("str_lower", self._e)

    def upper(self) -> Expr:
        """Upper-case, with Unicode's one-to-one case mapping (as DuckDB; ``"ß"`` stays ``"ß"``).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["äbc"]})
        >>> s.select(rb.col("s").str.upper().alias("out")).collect()["out"].to_pylist()
        ['ÄBC']
        """
        return Expr._fn("str_upper", self._e)

    def to_lowercase(self) -> Expr:
        """Polars' name for :meth:`lower`.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"s": ["AbC"]}).select(rb.col("s").str.to_lowercase()).collect()["s"].to_pylist()
        ['abc']
        """
        return self.lower()

    def to_uppercase(self) -> Expr:
        """Polars' name for :meth:`upper`.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"s": ["AbC"]}).select(rb.col("s").str.to_uppercase()).collect()["s"].to_pylist()
        ['ABC']
        """
        return self.upper()

    def head(self, n: int) -> Expr:
        """The first ``n`` characters, as Polars (``slice(0, n)``).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"s": ["riverbed"]}).select(rb.col("s").str.head(5)).collect()["s"].to_pylist()
        ['river']
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise PlanError(f"str.head takes a non-negative number of characters, got {n!r}")
        return self.slice(0, n)

    def tail(self, n: int) -> Expr:
        """The last ``n`` characters, as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"s": ["riverbed"]}).select(rb.col("s").str.tail(3)).collect()["s"].to_pylist()
        ['bed']
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise PlanError(f"str.tail takes a non-negative number of characters, got {n!r}")
        return self.slice(-n) if n > 0 else self.slice(0, 0)

    def to_integer(self) -> Expr:
        """The string read as a base-10 int64 (a malformed one is an error), as Polars'
        ``to_integer`` (``cast(rb.Int64)``).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.from_pydict({"s": ["42", None]}).select(rb.col("s").str.to_integer()).collect()["s"].to_pylist()
        [42, None]
        """
        return self._e.cast(Int64)

    def len_chars(self) -> Expr:
        """Length in Unicode code points, as int32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["äbc", ""]})
        >>> s.select(rb.col("s").str.len_chars().alias("out")).collect()["out"].to_pylist()
        [3, 0]
        """
        return Expr._fn("str_len_chars", self._e)

    def len_bytes(self) -> Expr:
        """Length in bytes of the UTF-8 text, as int32.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["äbc", ""]})
        >>> s.select(rb.col("s").str.len_bytes().alias("out")).collect()["out"].to_pylist()
        [4, 0]
        """
        return Expr._fn("str_len_bytes", self._e)

    def zfill(self, length: int) -> Expr:
        """Pad with zeros at the start to ``length`` characters, after a leading ``-`` or ``+``
        (as Polars and Python's ``str.zfill``); longer strings stay as they are.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["-12", "7", "12345"]})
        >>> s.select(rb.col("s").str.zfill(4).alias("out")).collect()["out"].to_pylist()
        ['-012', '0007', '12345']
        """
        return Expr._fn("str_zfill", self._e, length=int(length))

    def count_matches(self, pattern: str, *, literal: bool = False) -> Expr:
        """Number of non-overlapping matches of a regular expression (or, with ``literal=True``,
        of the text itself), as int32; an empty pattern matches once per character and once
        more, as Polars.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["a1b22", "none"]})
        >>> s.select(rb.col("s").str.count_matches("[0-9]").alias("out")).collect()["out"].to_pylist()
        [3, 0]
        """
        return Expr._fn("str_count_matches", self._e, pattern=pattern, literal=bool(literal))

    def find(self, pattern: str, *, literal: bool = False) -> Expr:
        """Offset in characters of the first match of a regular expression (or, with
        ``literal=True``, of the text itself), as int32; null where there is none (as Polars).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["äb-cd", "abcd"]})
        >>> s.select(rb.col("s").str.find("-", literal=True).alias("out")).collect()["out"].to_pylist()
        [2, None]
        """
        return Expr._fn("str_find", self._e, pattern=pattern, literal=bool(literal))

    def slice(self, offset: int, length: int | None = None) -> Expr:
        """Characters from ``offset`` (negative: from the end), at most ``length`` of them.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["riverbed"]})
        >>> s.select(rb.col("s").str.slice(-3, 2).alias("out")).collect()["out"].to_pylist()
        ['be']
        """
        opts: dict[str, Any] = {"offset": offset}
        if length is not None:
            opts["length"] = length
        return Expr._fn("str_slice", self._e, **opts)

    def replace(self, pattern: str, value: str, *, literal: bool = False, n: int = 1) -> Expr:
        """Replace the first ``n`` matches of the regular expression ``pattern`` (or the plain text,
        with ``literal=True``) by ``value``; ``$1`` / ``${name}`` in ``value`` refer to groups.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["a1b22"]})
        >>> s.select(rb.col("s").str.replace("([0-9]+)", "<$1>").alias("out")).collect()["out"].to_pylist()
        ['a<1>b22']
        """
        return Expr._fn("str_replace", self._e, pattern=pattern, value=value, literal=literal, n=n)

    def replace_all(self, pattern: str, value: str, *, literal: bool = False) -> Expr:
        """Replace every match of ``pattern`` by ``value`` (see :meth:`replace`).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["a-b-c"]})
        >>> s.select(rb.col("s").str.replace_all("-", "", literal=True).alias("out")).collect()["out"].to_pylist()
        ['abc']
        """
        return Expr._fn("str_replace", self._e, pattern=pattern, value=value, literal=literal, n=-1)

    def strip_chars(self, characters: str | None = None) -> Expr:
        """Remove leading and trailing whitespace, or any of ``characters``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["  x  "]})
        >>> s.select(rb.col("s").str.strip_chars().alias("out")).collect()["out"].to_pylist()
        ['x']
        """
        return Expr._fn("str_strip_chars", self._e, **({} if characters is None else {"characters": characters}))

    def strip_chars_start(self, characters: str | None = None) -> Expr:
        """Remove leading whitespace, or any of ``characters``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["007"]})
        >>> s.select(rb.col("s").str.strip_chars_start("0").alias("out")).collect()["out"].to_pylist()
        ['7']
        """
        return Expr._fn("str_strip_chars_start", self._e, **({} if characters is None else {"characters": characters}))

    def strip_chars_end(self, characters: str | None = None) -> Expr:
        """Remove trailing whitespace, or any of ``characters``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["x  "]})
        >>> s.select(rb.col("s").str.strip_chars_end().alias("out")).collect()["out"].to_pylist()
        ['x']
        """
        return Expr._fn("str_strip_chars_end", self._e, **({} if characters is None else {"characters": characters}))

    def pad_start(self, length: int, fill_char: str = " ") -> Expr:
        """Pad on the left with ``fill_char`` to ``length`` characters (longer strings stay).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["7", "1234"]})
        >>> s.select(rb.col("s").str.pad_start(3, "0").alias("out")).collect()["out"].to_pylist()
        ['007', '1234']
        """
        return Expr._fn("str_pad_start", self._e, length=length, fill_char=fill_char)

    def pad_end(self, length: int, fill_char: str = " ") -> Expr:
        """Pad on the right with ``fill_char`` to ``length`` characters (longer strings stay).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["a"]})
        >>> s.select(rb.col("s").str.pad_end(3, ".").alias("out")).collect()["out"].to_pylist()
        ['a..']
        """
        return Expr._fn("str_pad_end", self._e, length=length, fill_char=fill_char)

    def split(self, by: str) -> Expr:
        """Split on the plain text ``by`` into a list of strings.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["a,b", "c"]})
        >>> s.select(rb.col("s").str.split(",").alias("out")).collect()["out"].to_pylist()
        [['a', 'b'], ['c']]
        """
        return Expr._fn("str_split", self._e, by=by)

    def split_index(self, by: str, index: int) -> Expr:
        """Piece number ``index`` (from 0) of the string split on the plain text ``by``; null
        where there are fewer pieces or ``index`` is negative (Flink's ``SPLIT_INDEX``; the
        same as ``str.split(by)`` and taking element ``index``, without building the list).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"url": ["https://www.x.com/a/b", "c"]})
        >>> s.select(rb.col("url").str.split_index("/", 3).alias("out")).collect()["out"].to_pylist()
        ['a', None]
        """
        return Expr._fn("str_split_index", self._e, by=by, index=index)

    def extract(self, pattern: str, group_index: int = 1) -> Expr:
        """The text of group ``group_index`` (0: the whole match) of the first match of the
        regular expression ``pattern`` (RE2 syntax); null where it does not match or the
        group takes no part in the match (as Polars, and SQL's ``REGEXP_EXTRACT``).

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"url": ["a?id=7&x=1", "a?x=1"]})
        >>> s.select(rb.col("url").str.extract("id=([0-9]+)").alias("id")).collect()["id"].to_pylist()
        ['7', None]
        """
        return Expr._fn("str_extract", self._e, pattern=pattern, group_index=group_index)

    def to_date(self, format: str | None = None, *, strict: bool = True) -> Expr:
        """Parse dates with a strftime ``format`` (``"%d/%m/%Y"``), or ISO ``YYYY-MM-DD`` without one.
        A value that does not parse is an error naming it, or null with ``strict=False``.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["03/01/2026", "bad"]})
        >>> s.select(rb.col("s").str.to_date("%d/%m/%Y", strict=False)).collect()["s"].to_pylist()
        [datetime.date(2026, 1, 3), None]
        """
        return Expr._fn("str_to_date", self._e, strict=strict, **({} if format is None else {"format": format}))

    def to_datetime(self, format: str | None = None, *, time_unit: str = "us", time_zone: str | None = None,
                    strict: bool = True) -> Expr:
        """Parse timestamps with a strftime ``format`` (``"%Y-%m-%d %H:%M:%S"``; ``%z`` reads an offset and
        gives UTC), or ISO text without one. ``time_zone`` sets the zone wall times are read in.

        Examples
        --------
        >>> import riverbed as rb
        >>> s = rb.from_pydict({"s": ["2026-01-02 03:04:05"]})
        >>> s.select(rb.col("s").str.to_datetime("%Y-%m-%d %H:%M:%S")).collect()["s"].to_pylist()
        [datetime.datetime(2026, 1, 2, 3, 4, 5)]
        """
        opts: dict[str, Any] = {"strict": strict, "time_unit": time_unit}
        if format is not None:
            opts["format"] = format
        if time_zone is not None:
            opts["time_zone"] = time_zone
        return Expr._fn("str_to_datetime", self._e, **opts)


class DateTimeNamespace:
    """Date and time functions on an expression (``col("ts").dt.hour()``)."""

    def __init__(self, e: Expr):
        self._e = e

    def truncate(self, every: str) -> Expr:
        """Round down to a multiple of ``every``: ``"1h"``, ``"15m"``, ``"1d"``, ``"1w"``, ``"1mo"``, ``"1y"``...

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.truncate("1h").alias("out")).collect()["out"].to_pylist()
        [datetime.datetime(2026, 3, 1, 14, 0)]
        """
        return Expr._fn("dt_truncate", self._e, every=every)

    def year(self) -> Expr:
        """Calendar year, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.year().alias("out")).collect()["out"].to_pylist()
        [2026]
        """
        return Expr._fn("dt_year", self._e)

    def month(self) -> Expr:
        """Month 1-12, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.month().alias("out")).collect()["out"].to_pylist()
        [3]
        """
        return Expr._fn("dt_month", self._e)

    def day(self) -> Expr:
        """Day of the month 1-31, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.day().alias("out")).collect()["out"].to_pylist()
        [1]
        """
        return Expr._fn("dt_day", self._e)

    def hour(self) -> Expr:
        """Hour 0-23, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.hour().alias("out")).collect()["out"].to_pylist()
        [14]
        """
        return Expr._fn("dt_hour", self._e)

    def minute(self) -> Expr:
        """Minute 0-59, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.minute().alias("out")).collect()["out"].to_pylist()
        [30]
        """
        return Expr._fn("dt_minute", self._e)

    def second(self) -> Expr:
        """Second 0-59, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.second().alias("out")).collect()["out"].to_pylist()
        [15]
        """
        return Expr._fn("dt_second", self._e)

    def date(self) -> Expr:
        """The calendar date (date32), in the column's time zone.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.date().alias("out")).collect()["out"].to_pylist()
        [datetime.date(2026, 3, 1)]
        """
        return Expr._fn("dt_date", self._e)

    def weekday(self) -> Expr:
        """ISO weekday: 1 = Monday ... 7 = Sunday, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.weekday().alias("out")).collect()["out"].to_pylist()
        [7]
        """
        return Expr._fn("dt_weekday", self._e)

    def quarter(self) -> Expr:
        """Quarter 1-4, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.quarter().alias("out")).collect()["out"].to_pylist()
        [1]
        """
        return Expr._fn("dt_quarter", self._e)

    def ordinal_day(self) -> Expr:
        """Day of the year 1-366, as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.ordinal_day().alias("out")).collect()["out"].to_pylist()
        [60]
        """
        return Expr._fn("dt_ordinal_day", self._e)

    def millisecond(self) -> Expr:
        """Milliseconds within the second 0-999, as int32 (as Polars).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15, 123456)]})
        >>> s.select(rb.col("ts").dt.millisecond()).collect()["ts"].to_pylist()
        [123]
        """
        return (self._e.dt.epoch("us") % 1_000_000 // 1000).cast(Int32)

    def microsecond(self) -> Expr:
        """Microseconds within the second 0-999999, as int32 (as Polars).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15, 123456)]})
        >>> s.select(rb.col("ts").dt.microsecond()).collect()["ts"].to_pylist()
        [123456]
        """
        return (self._e.dt.epoch("us") % 1_000_000).cast(Int32)

    def _iso(self) -> tuple[Expr, Expr, Expr, Expr]:
        """The ISO 8601 week before the year's bounds are applied, the year, and the weeks
        of the year before and of the year."""
        y = self._e.dt.year()
        w = (self._e.dt.ordinal_day() - self._e.dt.weekday() + 10) // 7

        def weeks(year: Expr) -> Expr:  # 53 when the year starts on a Thursday, or a leap year on a Wednesday
            def p(v: Expr) -> Expr:
                return (v + v // 4 - v // 100 + v // 400) % 7

            return when((p(year) == 4) | (p(year - 1) == 3)).then(53).otherwise(52)

        return w, y, weeks(y - 1), weeks(y)

    def week(self) -> Expr:
        """The ISO 8601 week 1-53 (weeks start on Monday; week 1 holds the year's first
        Thursday), as int32 (Polars: int8).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.date(2021, 1, 3), dt.date(2024, 12, 30)]})
        >>> s.select(rb.col("d").dt.week()).collect()["d"].to_pylist()
        [53, 1]
        """
        w, _, before, this = self._iso()
        return when(w < 1).then(before).when(w > this).then(1).otherwise(w).cast(Int32)

    def iso_year(self) -> Expr:
        """The year of the ISO 8601 week (see :meth:`week`), as int32.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.date(2021, 1, 3), dt.date(2024, 12, 30)]})
        >>> s.select(rb.col("d").dt.iso_year()).collect()["d"].to_pylist()
        [2020, 2025]
        """
        w, y, _, this = self._iso()
        return when(w < 1).then(y - 1).when(w > this).then(y + 1).otherwise(y).cast(Int32)

    def month_start(self) -> Expr:
        """The first day of the value's month, keeping its time of day (in the column's time
        zone), in the column's type, as Polars.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2024, 2, 15, 12, 30)]})
        >>> s.select(rb.col("ts").dt.month_start()).collect()["ts"].to_pylist()
        [datetime.datetime(2024, 2, 1, 12, 30)]
        """
        return Expr._fn("dt_month_start", self._e)

    def month_end(self) -> Expr:
        """The last day of the value's month, keeping its time of day (in the column's time
        zone), in the column's type, as Polars.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.date(2024, 2, 15), dt.date(2023, 12, 1)]})
        >>> s.select(rb.col("d").dt.month_end()).collect()["d"].to_pylist()
        [datetime.date(2024, 2, 29), datetime.date(2023, 12, 31)]
        """
        return Expr._fn("dt_month_end", self._e)

    def days_in_month(self) -> Expr:
        """Days in the value's month, 28 to 31, as int32 (Polars: Int8).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.date(2024, 2, 15), dt.date(2023, 2, 1), dt.date(2023, 4, 30)]})
        >>> s.select(rb.col("d").dt.days_in_month()).collect()["d"].to_pylist()
        [29, 28, 30]
        """
        return Expr._fn("dt_days_in_month", self._e)

    def is_leap_year(self) -> Expr:
        """Whether the year is a leap year (Gregorian rules), as Polars.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.date(2024, 5, 1), dt.date(1900, 1, 1), dt.date(2000, 1, 1)]})
        >>> s.select(rb.col("d").dt.is_leap_year()).collect()["d"].to_pylist()
        [True, False, True]
        """
        y = self._e.dt.year()
        return ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)

    def epoch(self, time_unit: str = "us") -> Expr:
        """Time since 1970-01-01 UTC in ``time_unit`` (``"d"``, ``"s"``, ``"ms"``, ``"us"``, ``"ns"``),
        rounded down, as int64.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.epoch("s").alias("out")).collect()["out"].to_pylist()
        [1772375415]
        """
        return Expr._fn("dt_epoch", self._e, unit=time_unit)

    def strftime(self, format: str) -> Expr:
        """Format as text with strftime directives (as Polars, chrono's): ``%Y %y %C %m %d %e %j
        %H %I %M %S %p %f`` (9 digits of fraction; ``%3f``, ``%6f``, ``%9f``, ``%.3f`` …) ``%a %A
        %b %h %B %u %w %Z %z %F %T %D %R %%``, and ``%-d`` (any number) without its padding; in
        the column's time zone. An unknown directive is an error naming it.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"ts": [dt.datetime(2026, 3, 1, 14, 30, 15)]})
        >>> s.select(rb.col("ts").dt.strftime("%Y-%m-%d %H:%M").alias("out")).collect()["out"].to_pylist()
        ['2026-03-01 14:30']
        """
        return Expr._fn("dt_strftime", self._e, format=format)

    def to_string(self, format: str) -> Expr:
        """The same as :meth:`strftime` (Polars' other name for it).

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.date(2026, 3, 1)]})
        >>> s.select(rb.col("d").dt.to_string("%d/%m/%Y").alias("out")).collect()["out"].to_pylist()
        ['01/03/2026']
        """
        return self.strftime(format)

    def total_days(self) -> Expr:
        """A duration in whole days (toward zero), as int64.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.timedelta(days=2, hours=3, milliseconds=5)]})
        >>> s.select(rb.col("d").dt.total_days().alias("out")).collect()["out"].to_pylist()
        [2]
        """
        return Expr._fn("dt_total_days", self._e)

    def total_seconds(self) -> Expr:
        """A duration in whole seconds (toward zero), as int64.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.timedelta(days=2, hours=3, milliseconds=5)]})
        >>> s.select(rb.col("d").dt.total_seconds().alias("out")).collect()["out"].to_pylist()
        [183600]
        """
        return Expr._fn("dt_total_seconds", self._e)

    def total_milliseconds(self) -> Expr:
        """A duration in whole milliseconds (toward zero), as int64.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.timedelta(days=2, hours=3, milliseconds=5)]})
        >>> s.select(rb.col("d").dt.total_milliseconds().alias("out")).collect()["out"].to_pylist()
        [183600005]
        """
        return Expr._fn("dt_total_milliseconds", self._e)

    def total_microseconds(self) -> Expr:
        """A duration in whole microseconds (toward zero), as int64.

        Examples
        --------
        >>> import riverbed as rb, datetime as dt
        >>> s = rb.from_pydict({"d": [dt.timedelta(days=2, hours=3, milliseconds=5)]})
        >>> s.select(rb.col("d").dt.total_microseconds().alias("out")).collect()["out"].to_pylist()
        [183600005000]
        """
        return Expr._fn("dt_total_microseconds", self._e)


class When:
    """``rb.when(cond).then(value)``: add ``.when(...).then(...)`` branches, end with ``.otherwise(value)``
    (rows no branch matches are null without it). The first true condition wins; a null
    condition is not true. Values are cast to one common type."""

    __slots__ = ("_args",)

    def __init__(self, args: list[Expr]):
        self._args = args

    def then(self, value: IntoExpr) -> Then:
        """The value of rows where this branch's condition is the first true one.

        Examples
        --------
        >>> import riverbed as rb
        >>> e = rb.when(rb.col("x") > 0).then(rb.lit("positive"))
        >>> rb.from_pydict({"x": [1, -1]}).select(e.alias("s")).collect()["s"].to_pylist()
        ['positive', None]
        """
        return Then(self._args + [_to_expr(value)])


class Then(Expr):
    """A when/then chain: usable as an expression (unmatched rows are null), or continued."""

    __slots__ = ("_args",)

    def __init__(self, args: list[Expr]):
        self._args = args
        super().__init__({"fn": "case_when", "args": [a._node for a in args]})

    def when(self, condition: IntoExpr) -> When:
        """Add a branch, tried when the earlier conditions are not true.

        Examples
        --------
        >>> import riverbed as rb
        >>> x = rb.col("x")
        >>> e = rb.when(x > 0).then(rb.lit("positive")).when(x < 0).then(rb.lit("negative")).otherwise(rb.lit("zero"))
        >>> rb.from_pydict({"x": [1, -1, 0]}).select(e.alias("s")).collect()["s"].to_pylist()
        ['positive', 'negative', 'zero']
        """
        return When(self._args + [_to_expr(condition)])

    def otherwise(self, value: IntoExpr) -> Expr:
        """The value of rows where no condition is true (instead of null).

        Examples
        --------
        >>> import riverbed as rb
        >>> e = rb.when(rb.col("x") > 0).then(rb.col("x")).otherwise(0)
        >>> rb.from_pydict({"x": [5, -5]}).select(e.alias("y")).collect()["y"].to_pylist()
        [5, 0]
        """
        return Expr({"fn": "case_when", "args": [a._node for a in self._args + [_to_expr(value)]]})


def when(condition: IntoExpr) -> When:
    """Start a conditional expression (as Polars' ``pl.when``).

    Examples
    --------
    >>> import riverbed as rb
    >>> t = rb.from_pydict({"x": [1, 5, None]})
    >>> e = rb.when(rb.col("x") > 2).then(rb.lit("big")).otherwise(rb.lit("small"))
    >>> t.select(e.alias("s")).collect()["s"].to_pylist()
    ['small', 'big', 'small']
    """
    return When([_to_expr(condition)])


def concat_str(exprs: Iterable[IntoExpr], *, separator: str = "", ignore_nulls: bool = False) -> Expr:
    """Join the values of several expressions (cast to strings) with ``separator``; a null makes
    the row null unless ``ignore_nulls=True`` (as Polars).

    Examples
    --------
    >>> import riverbed as rb
    >>> s = rb.from_pydict({"a": ["x", "y"], "b": ["1", None]})
    >>> s.select(rb.concat_str([rb.col("a"), rb.col("b")], separator="-").alias("ab")).collect()["ab"].to_pylist()
    ['x-1', None]
    >>> e = rb.concat_str([rb.col("a"), rb.col("b")], separator="-", ignore_nulls=True)
    >>> s.select(e.alias("ab")).collect()["ab"].to_pylist()
    ['x-1', 'y']
    """
    items = [_to_expr(e) for e in exprs]
    if not items:
        raise PlanError("concat_str needs at least one expression")
    return Expr._fn("concat_str", *items, separator=separator, ignore_nulls=ignore_nulls)


def col(name: str) -> Expr:
    """Reference a column by name.

    Examples
    --------
    >>> from riverbed import col
    >>> col("amount") > 0
    <Expr (col("amount") > lit(0))>
    """
    if not isinstance(name, str):
        raise TypeMismatchError(f"col() takes a column name, got {type(name).__name__}")
    return Expr({"col": name})


def lit(value: Any, dtype: DataType | Any | None = None) -> Expr:
    """A constant. Python ``int`` becomes int64 (uint64 above 2**63-1), ``float`` float64,
    ``decimal.Decimal`` a decimal of its digits, ``str`` utf8, ``bytes`` binary, ``bool`` bool, ``datetime``
    timestamp[us] (an aware one in its time zone: ``ZoneInfo("America/New_York")`` gives
    timestamp[us, tz=America/New_York], as pyarrow and Polars), ``date`` date32, ``timedelta``
    duration[us], ``None`` null (or ``dtype``).

    Examples
    --------
    >>> import riverbed as rb
    >>> s = rb.from_pydict({"x": [1, 2]})
    >>> s.with_columns(rb.lit("a").alias("tag"), (rb.col("x") + rb.lit(10)).alias("y")).collect().to_pylist()
    [{'x': 1, 'tag': 'a', 'y': 11}, {'x': 2, 'tag': 'a', 'y': 12}]
    """
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
            raise PlanError(f"integer literal {value} does not fit in 64 bits")
        return Expr({"lit": value, "type": "int64"})
    if isinstance(value, float):
        return Expr({"lit": _json_value(value, "float64"), "type": "float64"})
    if isinstance(value, str):
        return Expr({"lit": value, "type": "utf8"})
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Expr({"lit": _json_value(value, "binary"), "type": "binary"})
    if _is_decimal(value):
        if not value.is_finite():
            raise TypeMismatchError(f"cannot use the decimal {value} as a literal; use float('{value}')")
        sign, digits, exp = value.as_tuple()
        scale = max(0, -int(exp))
        precision = max(len(digits) + max(0, int(exp)), scale, 1)
        if precision > 38:
            raise PlanError(f"decimal literal {value} has more than 38 digits")
        return Expr({"lit": str(value), "type": f"decimal128({precision}, {scale})"})
    if isinstance(value, _dt.datetime):
        tz = None
        if value.tzinfo is not None:
            import pyarrow as pa

            tz = pa.scalar(value).type.tz  # the zone's name (or fixed offset), as pyarrow and Polars keep it
        t = Timestamp("us", tz).plan_name
        return Expr({"lit": _json_value(value, t), "type": t})
    if isinstance(value, _dt.date):
        return Expr({"lit": (value - _dt.date(1970, 1, 1)).days, "type": "date32"})
    if isinstance(value, _dt.timedelta):
        us = (value.days * 86400 + value.seconds) * 1_000_000 + value.microseconds
        if not -(2**63) <= us < 2**63:
            raise PlanError(f"the duration literal {value} does not fit in duration[us] (int64 microseconds: "
                            "at most about 292,000 years)")
        return Expr({"lit": us, "type": "duration[us]"})
    raise TypeMismatchError(f"cannot use {type(value).__name__} value {value!r} as a literal")


def _is_decimal(value: Any) -> bool:
    """isinstance(value, decimal.Decimal), without importing decimal: a Decimal exists only
    once its module is loaded (riverbed does not import it for everyone)."""
    mod = sys.modules.get("decimal")
    return mod is not None and isinstance(value, mod.Decimal)


def _json_value(value: Any, plan_type: str) -> Any:
    if value is None:
        return None
    if _is_decimal(value):
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
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"base64": base64.b64encode(bytes(value)).decode("ascii")}
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


def len_() -> Expr:
    """Number of rows, in a column named ``len``: Polars' ``pl.len()``, :func:`count` by
    another name (``rb.len``).

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.from_pydict({"k": ["a", "b", "a"]}).select(rb.len()).collect().to_pylist()
    [{'len': 3}]
    """
    return count().alias("len")


def coalesce(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """The first non-null of the expressions (column names, expressions or values), row by
    row, as Polars' ``pl.coalesce`` and SQL's ``COALESCE``: ``x.fill_null(y)`` of each.

    Examples
    --------
    >>> import riverbed as rb
    >>> s = rb.from_pydict({"a": [1, None, None], "b": [None, 2, None]})
    >>> s.select(rb.coalesce("a", "b", 0).alias("c")).collect()["c"].to_pylist()
    [1, 2, 0]
    """
    return _fold(_horizontal_args(exprs, "coalesce"), lambda a, b: a.fill_null(b))


def _horizontal_args(exprs: Any, what: str) -> list[Expr]:
    """The expressions of a function of several (names are columns, lists are flattened)."""
    items: list[Expr] = []
    for e in exprs:
        if isinstance(e, (list, tuple)):
            items += [col(x) if isinstance(x, str) else _to_expr(x) for x in e]
        else:
            items.append(col(e) if isinstance(e, str) else _to_expr(e))
    if not items:
        raise PlanError(f"{what} needs at least one expression")
    return items


def _fold(xs: list[Expr], op: Any) -> Expr:
    """op folded over xs as a balanced tree, so that many of them nest shallowly."""
    if len(xs) == 1:
        return xs[0]
    mid = len(xs) // 2
    return op(_fold(xs[:mid], op), _fold(xs[mid:], op))


def sum_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """The sum of the expressions row by row, nulls counted as 0 (all null: 0), as Polars'
    ``sum_horizontal``; named after the first. ``min_horizontal``, ``max_horizontal`` and
    ``mean_horizontal`` skip nulls (all null: null); ``any_horizontal`` and
    ``all_horizontal`` are ``|`` and ``&`` of booleans (Kleene logic: a null decides only
    where the others leave the answer open).

    Examples
    --------
    >>> import riverbed as rb
    >>> s = rb.from_pydict({"a": [1, None, None], "b": [2, 5, None]})
    >>> s.select(rb.sum_horizontal("a", "b")).collect()["a"].to_pylist()
    [3, 5, 0]
    >>> s.select(rb.max_horizontal("a", "b")).collect()["a"].to_pylist()
    [2, 5, None]
    """
    return _fold([x.fill_null(0) for x in _horizontal_args(exprs, "sum_horizontal")], lambda a, b: a + b)


def max_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """The largest of the expressions row by row, nulls skipped: see :func:`sum_horizontal`.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.from_pydict({"a": [1, 7], "b": [2, None]}).select(rb.max_horizontal("a", "b")).collect()["a"].to_pylist()
    [2, 7]
    """
    return Expr._fn("max_horizontal", *_horizontal_args(exprs, "max_horizontal"))


def min_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """The smallest of the expressions row by row, nulls skipped: see :func:`sum_horizontal`.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.from_pydict({"a": [1, 7], "b": [2, None]}).select(rb.min_horizontal("a", "b")).collect()["a"].to_pylist()
    [1, 7]
    """
    return Expr._fn("min_horizontal", *_horizontal_args(exprs, "min_horizontal"))


def mean_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """The mean (float64) of the expressions' non-null values row by row: see :func:`sum_horizontal`.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.from_pydict({"a": [1, None], "b": [2, None]}).select(rb.mean_horizontal("a", "b")).collect()["a"].to_pylist()
    [1.5, None]
    """
    xs = _horizontal_args(exprs, "mean_horizontal")
    total = _fold([x.fill_null(0) for x in xs], lambda a, b: a + b)
    n = _fold([x.is_not_null().cast(Int64) for x in xs], lambda a, b: a + b)
    return when(n == 0).then(lit(None)).otherwise(total / n)


def any_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """Whether any of the boolean expressions is true row by row: see :func:`sum_horizontal`.

    Examples
    --------
    >>> import riverbed as rb
    >>> s = rb.from_pydict({"a": [True, False, None], "b": [None, False, False]})
    >>> s.select(rb.any_horizontal("a", "b")).collect()["a"].to_pylist()
    [True, False, None]
    """
    return _fold(_horizontal_args(exprs, "any_horizontal"), lambda a, b: a | b)


def all_horizontal(*exprs: IntoExpr | Sequence[IntoExpr]) -> Expr:
    """Whether all of the boolean expressions are true row by row: see :func:`sum_horizontal`.

    Examples
    --------
    >>> import riverbed as rb
    >>> s = rb.from_pydict({"a": [True, False, None], "b": [None, True, True]})
    >>> s.select(rb.all_horizontal("a", "b")).collect()["a"].to_pylist()
    [None, False, None]
    """
    return _fold(_horizontal_args(exprs, "all_horizontal"), lambda a, b: a & b)


def row_number() -> Expr:
    """The row's number (1, 2, ...) within its partition, in partition order, as SQL's
    ``ROW_NUMBER()``; use with :meth:`Expr.over`.

    Examples
    --------
    >>> import riverbed as rb
    >>> t = rb.from_pydict({"k": ["a", "b", "a"], "t": [2, 1, 1]})
    >>> t.select(rb.row_number().over("k", order_by="t").alias("n")).collect()["n"].to_pylist()
    [2, 1, 1]
    """
    return Expr({"fn": "row_number"})


def _output_name(e: Expr) -> str:
    """The name of e's output column, by the engine's rule (expr.OutputName): its alias, its
    column, else its first argument's that is not a literal's."""

    def name(n: Any) -> str:
        if not isinstance(n, dict):
            return "literal"
        if "alias" in n:
            return str(n["alias"])
        if "col" in n:
            return str(n["col"])
        if "lit" in n:
            return "literal"
        if n.get("agg") == "count" and not n.get("args"):
            return "count"
        args = n.get("args") or []
        if n.get("fn") == "over" and args:
            return name(args[0])
        for a in args:
            if (x := name(a)) != "literal":
                return x
        return "literal"

    return name(e._to_plan())


def _flatten_exprs(v: Any) -> list[Expr]:
    if isinstance(v, (str, Expr)):
        return [col(v) if isinstance(v, str) else v]
    out: list[Expr] = []
    for x in v:
        out += _flatten_exprs(x)
    return out


def _ddof(ddof: int) -> int:
    if isinstance(ddof, bool) or not isinstance(ddof, int) or ddof < 0:
        raise PlanError(f"ddof must be a non-negative integer, got {ddof!r}")
    return ddof


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
        if not n.get("args"):
            return f'{n["agg"]}()'
        rest = [_describe(a) for a in n["args"][1:]] + [f"{k}={v}" for k, v in n.get("options", {}).items()]
        return f'{_describe(n["args"][0])}.{n["agg"]}({", ".join(rest)})'
    fn = n.get("fn", "?")
    args = n.get("args", [])
    if fn in infix and len(args) == 2:
        return f"({_describe(args[0])} {infix[fn]} {_describe(args[1])})"
    if fn == "not":
        return f"~{_describe(args[0])}"
    opts = "".join(f", {k}={v}" for k, v in n.get("options", {}).items() if v is not False)
    return f"{fn}({', '.join(_describe(a) for a in args)}{opts})"
