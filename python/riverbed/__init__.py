"""riverbed: a stateful stream and batch processing engine on Apache Arrow.

Build a pipeline with Polars-like expressions, run it in the Go engine on all cores, get
pyarrow results:

>>> import riverbed as rb
>>> from riverbed import col
>>> t = (rb.from_pydict({"k": ["a", "b", "a"], "v": [1, 2, 3]})
...        .group_by("k").agg(col("v").sum().alias("total"))
...        .collect())
>>> sorted(t.to_pylist(), key=lambda r: r["k"])
[{'k': 'a', 'total': 4}, {'k': 'b', 'total': 2}]
"""

from __future__ import annotations

from ._display import register_notebook_formatters as _register
from ._lib import allocated_bytes as _allocated_bytes  # noqa: F401 (used by tests)
from .datatypes import (
    Binary,
    Boolean,
    DataType,
    Date,
    Decimal,
    Duration,
    Float32,
    Float64,
    Int8,
    Int16,
    Int32,
    Int64,
    Null,
    String,
    Timestamp,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Utf8,
)
from .errors import (
    CancelledError,
    ColumnNotFoundError,
    DataError,
    InputNotFoundError,
    InternalError,
    InvalidArgumentError,
    LateRowsWarning,
    PlanError,
    RiverbedError,
    SchemaError,
    StorageError,
    TypeMismatchError,
    UserFunctionError,
)
from .expr import (
    Expr,
    all_horizontal,
    any_horizontal,
    coalesce,
    col,
    concat_str,
    count,
    lit,
    max_horizontal,
    mean_horizontal,
    min_horizontal,
    row_number,
    sum_horizontal,
    when,
)
from .expr import len_ as len  # noqa: A004 (Polars' pl.len)
from .generators import Nexmark, datagen, nexmark
from .job import Job, MultiJob
from .kafka import KafkaStream, read_kafka
from .process import (
    Context,
    KeyedBatch,
    KeyedProcessFunction,
    ListState,
    ListStateDescriptor,
    MapState,
    MapStateDescriptor,
    OutputTag,
    ProcessFunctionError,
    ProcessResult,
    Row,
    RuntimeContext,
    TimeDomain,
    TimerService,
    ValueState,
    ValueStateDescriptor,
)
from .savepoint import Savepoint, read_savepoint
from .stream import (
    Environment,
    GroupBy,
    KeyedStream,
    ProcessStream,
    Stream,
    WindowedStream,
    WindowResult,
    collect_all,
    concat,
    from_arrow,
    from_pandas,
    from_pydict,
    read_csv,
    read_ndjson,
    read_parquet,
    read_parquet_snapshot,
    sql,
    start_all,
)
from .window import Window, cumulate, session, sliding, tumbling

__version__ = "0.1.0"


def engine_version() -> str:
    """The version of the loaded engine library.

    Examples
    --------
    >>> import riverbed as rb
    >>> rb.engine_version() == rb.__version__
    True
    """
    from ._lib import version

    return version()


_register()

__all__ = [
    "Environment", "Stream", "GroupBy", "Expr", "col", "lit", "count", "len", "coalesce", "row_number", "when",
    "concat_str", "concat", "sum_horizontal", "min_horizontal", "max_horizontal", "mean_horizontal", "any_horizontal",
    "all_horizontal",
    "read_parquet", "read_parquet_snapshot", "read_csv", "read_ndjson", "sql", "read_kafka", "read_savepoint",
    "Savepoint",
    "KafkaStream", "MultiJob", "collect_all", "start_all", "from_arrow", "from_pandas", "from_pydict",
    "engine_version",
    "KeyedStream", "WindowedStream", "WindowResult", "Job", "Window", "tumbling", "sliding", "session", "cumulate",
    "datagen", "nexmark", "Nexmark",
    "DataType", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
    "Float32", "Float64", "Boolean", "Utf8", "String", "Binary", "Date", "Null", "Timestamp", "Duration", "Decimal",
    "RiverbedError", "InternalError", "PlanError", "ColumnNotFoundError", "TypeMismatchError",
    "SchemaError", "InputNotFoundError", "DataError", "StorageError", "CancelledError",
    "UserFunctionError", "InvalidArgumentError", "LateRowsWarning",
    "KeyedProcessFunction", "KeyedBatch", "ProcessResult", "ProcessStream", "ProcessFunctionError", "Row",
    "ValueStateDescriptor", "ListStateDescriptor", "MapStateDescriptor", "ValueState", "ListState", "MapState",
    "OutputTag", "TimeDomain", "RuntimeContext", "Context", "TimerService",
]
