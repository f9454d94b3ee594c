"""Plan nodes of the CSV and newline-delimited JSON readers and writers (the methods
are on :class:`riverbed.Environment` and :class:`riverbed.Stream`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from .errors import PlanError, TypeMismatchError


def _paths(path: Any, what: str) -> list[str]:
    if isinstance(path, (list, tuple)):
        paths = [os.fspath(p) for p in path]
    else:
        paths = [os.fspath(path)]
    if not paths:
        raise PlanError(f"{what} needs at least one path")
    return paths


def _one_char(v: Any, what: str) -> str:
    if not isinstance(v, str) or len(v) != 1:
        raise PlanError(f"{what} must be one character, got {v!r}")
    return v


def read_node(op: str, path: Any, schema: Any, columns: Sequence[str] | None,
              infer_schema_length: int | None, csv: dict[str, Any] | None = None) -> dict[str, Any]:
    """The plan node of ``read_csv`` (op ``scan_csv``) or ``read_ndjson`` (``scan_ndjson``)."""
    from .kafka import schema_ipc

    what = "read_csv" if op == "scan_csv" else "read_ndjson"
    node: dict[str, Any] = {"op": op, "paths": _paths(path, what)}
    if columns is not None:
        if isinstance(columns, str):
            raise TypeMismatchError("columns must be a list of names, not a string")
        if not list(columns):
            raise PlanError(f"{what}: columns= must name at least one column (a stream has columns; "
                             "to count rows, read one and use rb.count())")
        node["columns"] = list(columns)
    text: dict[str, Any] = {}
    if schema is not None:
        text["schema"] = schema_ipc(schema)
    if infer_schema_length is None:
        text["infer_rows"] = -1
    elif isinstance(infer_schema_length, bool) or not isinstance(infer_schema_length, int) or infer_schema_length < 1:
        raise PlanError(f"infer_schema_length must be a positive int or None (every row), got {infer_schema_length!r}")
    elif infer_schema_length != 100:
        text["infer_rows"] = infer_schema_length
    if csv is not None:
        if not csv["has_header"]:
            text["has_header"] = False
        sep = _one_char(csv["separator"], "separator")
        if sep != ",":
            text["separator"] = sep
        if csv["comment_prefix"] is not None:
            text["comment_prefix"] = _one_char(csv["comment_prefix"], "comment_prefix")
        nulls = csv["null_values"]
        if nulls is not None:
            if isinstance(nulls, str):
                nulls = [nulls]
            if not all(isinstance(v, str) for v in nulls):
                raise TypeMismatchError(f"null_values must be a string or a list of strings, got {nulls!r}")
            text["null_values"] = list(nulls)
    if text:
        node["text"] = text
    return node


def write_text(node: dict[str, Any], include_header: bool, separator: str, null_value: str) -> None:
    """Add ``write_csv``'s options to its plan node."""
    text: dict[str, Any] = {}
    if not include_header:
        text["include_header"] = False
    if _one_char(separator, "separator") != ",":
        text["separator"] = separator
    if not isinstance(null_value, str):
        raise TypeMismatchError(f"null_value must be a string, got {null_value!r}")
    if null_value:
        text["null_value"] = null_value
    if text:
        node["text"] = text
