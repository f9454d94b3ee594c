"""Shared oracle helpers of the Python tests."""

from __future__ import annotations

import duckdb
import pyarrow as pa


def duck(sql: str, **tables: pa.Table) -> pa.Table:
    """DuckDB's answer to ``sql`` over ``tables`` (registered by name), in UTC."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name, t in tables.items():
        con.register(name, t)
    return con.sql(sql).to_arrow_table()
