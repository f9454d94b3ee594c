"""Column data types, named as in Polars and mapped to Arrow types."""

from __future__ import annotations

import re
from typing import Literal

import pyarrow as pa

from .errors import PlanError, TypeMismatchError

TimeUnit = Literal["s", "ms", "us", "ns"]


class DataType:
    """A column type. Instances compare equal when they describe the same Arrow type.

    Every type can be written with or without a call, as in Polars: ``rb.Int64`` and
    ``rb.Int64()`` are the same type, and ``rb.Timestamp`` is ``rb.Timestamp("us")``
    while ``rb.Timestamp("ms", "UTC")`` picks a unit and time zone.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.Int64() == rb.Int64, rb.Timestamp == rb.Timestamp("us"), rb.Timestamp("ms")
    (True, True, rb.Timestamp('ms'))
    """

    def __init__(self, name: str, arrow: pa.DataType):
        self._name = name
        self._arrow = arrow

    def __call__(self) -> DataType:
        """The type itself: ``rb.Int64()`` is ``rb.Int64``."""
        return self

    @property
    def plan_name(self) -> str:
        """The type's name in the plan document (e.g. ``"timestamp[us, tz=UTC]"``).

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.Timestamp("ms", "UTC").plan_name
        'timestamp[ms, tz=UTC]'
        """
        return self._name

    def to_arrow(self) -> pa.DataType:
        """The equivalent ``pyarrow.DataType``.

        Examples
        --------
        >>> import riverbed as rb
        >>> rb.Int64.to_arrow(), rb.Timestamp("ms").to_arrow()
        (DataType(int64), TimestampType(timestamp[ms]))
        """
        return self._arrow

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DataType) and other._name == self._name

    def __hash__(self) -> int:
        return hash(self._name)

    def __repr__(self) -> str:
        return f"rb.{self._pretty()}"

    def _pretty(self) -> str:
        for k, v in _SIMPLE.items():
            if v == self:
                return k
        return self._name


Int8 = DataType("int8", pa.int8())
Int16 = DataType("int16", pa.int16())
Int32 = DataType("int32", pa.int32())
Int64 = DataType("int64", pa.int64())
UInt8 = DataType("uint8", pa.uint8())
UInt16 = DataType("uint16", pa.uint16())
UInt32 = DataType("uint32", pa.uint32())
UInt64 = DataType("uint64", pa.uint64())
Float32 = DataType("float32", pa.float32())
Float64 = DataType("float64", pa.float64())
Boolean = DataType("bool", pa.bool_())
Utf8 = DataType("utf8", pa.string())
String = Utf8
Binary = DataType("binary", pa.binary())
Date = DataType("date32", pa.date32())
Null = DataType("null", pa.null())

_SIMPLE = {
    "Int8": Int8, "Int16": Int16, "Int32": Int32, "Int64": Int64, "UInt8": UInt8, "UInt16": UInt16,
    "UInt32": UInt32, "UInt64": UInt64, "Float32": Float32, "Float64": Float64, "Boolean": Boolean,
    "Utf8": Utf8, "Binary": Binary, "Date": Date, "Null": Null,
}


class _Timestamp(DataType):
    """A timestamp with a unit (``"s"``, ``"ms"``, ``"us"``, ``"ns"``) and optional time zone;
    ``rb.Timestamp`` alone is ``timestamp[us]``."""

    def __init__(self, unit: TimeUnit = "us", tz: str | None = None):
        if unit not in ("s", "ms", "us", "ns"):
            raise PlanError(f"unknown time unit {unit!r}; expected 's', 'ms', 'us' or 'ns'")
        name = f"timestamp[{unit}, tz={tz}]" if tz else f"timestamp[{unit}]"
        super().__init__(name, pa.timestamp(unit, tz=tz))
        self.unit, self.tz = unit, tz

    def __call__(self, unit: TimeUnit = "us", tz: str | None = None) -> DataType:  # type: ignore[override]
        return _Timestamp(unit, tz)

    def _pretty(self) -> str:
        return f"Timestamp({self.unit!r}" + (f", {self.tz!r})" if self.tz else ")")


class _Duration(DataType):
    """A duration with a unit; ``rb.Duration`` alone is ``duration[us]``."""

    def __init__(self, unit: TimeUnit = "us"):
        if unit not in ("s", "ms", "us", "ns"):
            raise PlanError(f"unknown time unit {unit!r}; expected 's', 'ms', 'us' or 'ns'")
        super().__init__(f"duration[{unit}]", pa.duration(unit))
        self.unit = unit

    def __call__(self, unit: TimeUnit = "us") -> DataType:  # type: ignore[override]
        return _Duration(unit)

    def _pretty(self) -> str:
        return f"Duration({self.unit!r})"


class _Decimal(DataType):
    """An exact decimal number (Arrow decimal128) with ``precision`` digits (1-38), ``scale``
    of them after the point. Arithmetic follows DuckDB: ``+``/``-`` keep the larger scale,
    ``*`` adds the scales, ``/`` gives float64, ``sum`` gives ``Decimal(38, scale)``.
    ``rb.Decimal`` alone is ``Decimal(38, 0)``."""

    def __init__(self, precision: int = 38, scale: int = 0):
        if not (isinstance(precision, int) and isinstance(scale, int) and 1 <= precision <= 38
                and 0 <= scale <= precision):
            raise PlanError(
                f"a decimal needs 1 <= precision <= 38 and 0 <= scale <= precision, got ({precision}, {scale})"
            )
        super().__init__(f"decimal128({precision}, {scale})", pa.decimal128(precision, scale))
        self.precision, self.scale = precision, scale

    def __call__(self, precision: int = 38, scale: int = 0) -> DataType:  # type: ignore[override]
        return _Decimal(precision, scale)

    def _pretty(self) -> str:
        return f"Decimal({self.precision}, {self.scale})"


#: A timestamp type: ``rb.Timestamp`` (microseconds, no zone) or ``rb.Timestamp("ms", "UTC")``.
Timestamp = _Timestamp()
#: A duration type: ``rb.Duration`` (microseconds) or ``rb.Duration("ms")``.
Duration = _Duration()
#: An exact decimal type: ``rb.Decimal(10, 2)``; ``rb.Decimal`` alone is ``Decimal(38, 0)``.
Decimal = _Decimal()


def from_arrow(t: pa.DataType) -> DataType:
    """The riverbed type for a pyarrow type."""
    if pa.types.is_decimal128(t):
        return Decimal(t.precision, t.scale)
    if pa.types.is_timestamp(t):
        return Timestamp(t.unit, t.tz)
    if pa.types.is_duration(t):
        return Duration(t.unit)
    if pa.types.is_large_string(t):
        return DataType("large_utf8", t)
    for dt in _SIMPLE.values():
        if dt.to_arrow() == t:
            return dt
    raise TypeMismatchError(f"riverbed has no type for Arrow type {t}")


def to_datatype(t: DataType | pa.DataType | type | str) -> DataType:
    """Accept a riverbed type, a pyarrow type, a Python type (int, float, str, bool) or a name."""
    if isinstance(t, DataType):
        return t
    if isinstance(t, pa.DataType):
        return from_arrow(t)
    if t is int:
        return Int64
    if t is float:
        return Float64
    if t is str:
        return Utf8
    if t is bool:
        return Boolean
    if isinstance(t, str):
        arrow = _arrow_of_name(t)
        if arrow is None:
            raise TypeMismatchError(f"unknown type name {t!r} (use e.g. 'int64', 'float64', 'utf8', 'date32', "
                                    "'timestamp[us, tz=UTC]', 'decimal128(10, 2)', or rb.Int64, rb.Float64, ...)")
        return from_arrow(arrow)
    raise TypeMismatchError(f"not a data type: {t!r} (use e.g. rb.Int64, rb.Float64, rb.Utf8)")


_NAME_ALIASES = {"str": "string", "boolean": "bool", "date": "date32", "float": "float32", "double": "float64",
                 "large_string": "large_utf8"}


def _arrow_of_name(name: str) -> pa.DataType | None:
    """The Arrow type of a type name as the engine's plans write them (int64, utf8,
    timestamp[ms, tz=UTC], duration[us], decimal128(15, 2), ...), or None."""
    n = name.strip().lower()
    n = _NAME_ALIASES.get(n, n)
    m = re.fullmatch(r"decimal(?:128)?\(\s*(\d+)\s*,\s*(\d+)\s*\)", n)
    if m:
        p, sc = int(m.group(1)), int(m.group(2))
        return pa.decimal128(p, sc) if 1 <= p <= 38 and 0 <= sc <= p else None
    m = re.fullmatch(r"timestamp\[\s*(s|ms|us|ns)\s*(?:,\s*(?:tz=)?([^\]]+?))?\s*\]", name.strip(), re.IGNORECASE)
    if m:
        return pa.timestamp(m.group(1).lower(), m.group(2))
    try:
        return pa.type_for_alias(n)
    except (ValueError, KeyError):
        return None
