"""TPC-H through SQL: the queries' SQL text (tests/tpch_queries.py, the text DuckDB runs)
compiled by rb.sql over the same Parquet files gives DuckDB's answers (compared as in
tests/test_tpch.py: multisets, and the ORDER BY columns row by row)."""

from __future__ import annotations

import os

import pytest

import tpch_queries as tq  # tests/ is on sys.path (see conftest)
from test_tpch import SCALE, assert_same_answer, tpch_dir  # noqa: F401 (the fixture)


@pytest.mark.parametrize("n", range(1, 23))
def test_tpch_sql(n: int, tpch_dir: str) -> None:  # noqa: F811
    import riverbed as rb

    env = rb.Environment(parallelism=2)
    tables = {name: env.read_parquet(os.path.join(tpch_dir, f"{name}.parquet")) for name in tq.TABLES}
    got = env.sql(tq.sql(n), **tables).collect()
    want = tq.duckdb_connect(tpch_dir).sql(tq.sql(n)).to_arrow_table()
    assert want.num_rows > 0, f"q{n} has no rows at scale {SCALE}: a weak check"
    assert_same_answer(n, got, want)
