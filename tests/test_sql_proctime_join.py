"""Processing-time temporal joins in SQL (FOR SYSTEM_TIME AS OF PROCTIME()) over a bounded
right table, which the join reads whole before any left row: each left row is joined with
its key's row of the table, as DuckDB's join of the same tables (inner and LEFT), in batch
and streaming mode and at several parallelisms.
"""

from __future__ import annotations

import random
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb

duckdb = pytest.importorskip("duckdb")


def _tables(seed: int) -> tuple[pa.Table, pa.Table]:
    rnd = random.Random(seed)
    orders = pa.table({
        "id": list(range(3000)),
        "currency": [None if rnd.random() < 0.03 else f"C{rnd.randrange(60)}" for _ in range(3000)],
        "amount": [round(rnd.uniform(0, 100), 2) for _ in range(3000)],
    })
    cur = [f"C{i}" for i in range(45)]  # C45..C59 have no rate
    rates = pa.table({"currency": cur, "rate": [round(rnd.uniform(0.5, 2), 4) for _ in cur],
                      "name": [f"currency {c}" for c in cur]})
    return orders, rates


def _sorted(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return sorted((tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in rows),
                  key=lambda r: tuple((v is None, v if v is not None else 0) for v in r))


@pytest.mark.parametrize("kind", ["JOIN", "LEFT JOIN"])
@pytest.mark.parametrize("parallelism,mode", [(1, "batch"), (4, "batch"), (3, "streaming")])
def test_proctime_temporal_join_equals_duckdb(kind, parallelism, mode):
    orders, rates = _tables(5)
    env = rb.Environment(parallelism=parallelism, batch_size=128)
    q = (f"SELECT o.id, o.currency, o.amount * r.rate AS converted, r.name FROM orders AS o {kind} rates "
         "FOR SYSTEM_TIME AS OF PROCTIME() AS r ON o.currency = r.currency")
    s = env.sql(q, orders=env.from_arrow(orders), rates=env.from_arrow(rates))
    assert s.schema.names == ["id", "currency", "converted", "name"]
    got = s.collect(runtime_mode=mode)
    con = duckdb.connect()
    con.register("orders", orders)
    con.register("rates", rates)
    want = con.execute(f"SELECT o.id, o.currency, o.amount * r.rate, r.name FROM orders o {kind} rates r "
                       "ON o.currency = r.currency").fetchall()
    assert len(want) > 1000 and (kind == "JOIN" or any(r[3] is None for r in want))
    assert _sorted([tuple(r.values()) for r in got.to_pylist()]) == _sorted(want)


def test_proctime_temporal_join_errors():
    orders, rates = _tables(1)
    with pytest.raises(rb.PlanError, match="a temporal join other than"):
        rb.sql("SELECT * FROM orders o FULL JOIN rates FOR SYSTEM_TIME AS OF PROCTIME() AS r "
               "ON o.currency = r.currency", orders=rb.from_arrow(orders), rates=rb.from_arrow(rates))


@pytest.mark.parametrize("how", ["inner", "left"])
def test_join_proctime_python_api(how):
    """Stream.join_proctime is the same join: equal to DuckDB's join of the tables, and the
    right table's key columns are not in the output."""
    orders, rates = _tables(9)
    env = rb.Environment(parallelism=4, batch_size=100)
    got = env.from_arrow(orders).join_proctime(env.from_arrow(rates), on="currency", how=how).collect()
    assert got.schema.names == ["id", "currency", "amount", "rate", "name"]
    q = f"SELECT o.*, r.rate, r.name FROM orders o {how.upper()} JOIN rates r USING (currency)"
    want = duckdb.sql(q).fetchall()
    assert _sorted([tuple(r.values()) for r in got.to_pylist()]) == _sorted(want)
    with pytest.raises(ValueError, match="'inner' or 'left'"):
        env.from_arrow(orders).join_proctime(env.from_arrow(rates), on="currency", how="full")  # type: ignore[arg-type]
