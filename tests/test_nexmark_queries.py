"""Nexmark q3, q4, q9-q22 (bench/nexmark_queries.py, the benchmark's own definitions)
over a small bounded Nexmark event set: riverbed's Python API version and the Flink SQL text
run by rb.sql (over CREATE TABLE ... WITH ('connector' = 'nexmark')), each equal to DuckDB's
answer over the same events collected to Arrow.

Oracle: DuckDB, with the Flink text translated to DuckDB's functions where they differ
(DATE_FORMAT -> strftime, REGEXP_EXTRACT -> regexp_matches/regexp_extract, SPLIT_INDEX ->
string_split, sessions computed with window functions, tumbling windows with time_bucket).
The new SQL functions are also checked on their own over values the Nexmark events do not
cover (many days and hours, missing pieces and matches)."""

from __future__ import annotations

import datetime as dt
import decimal
import os
import re
import sys
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb
from oracles import duck

pytest.importorskip("duckdb")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "bench"))
import nexmark_queries as nq  # noqa: E402

EVENTS = 20_000
DDL = "".join(
    f"CREATE TABLE {name} ({cols}, WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) "
    f"WITH ('connector' = 'nexmark', 'kind' = '{name}', 'max-events' = '{EVENTS}');\n"
    for name, cols in nq.TABLE_COLUMNS.items())


@pytest.fixture(scope="module")
def events() -> dict[str, pa.Table]:
    nx = rb.nexmark(max_events=EVENTS)
    return {"bid": nx.bids().collect(), "person": nx.persons().collect(), "auction": nx.auctions().collect(),
            "side_input": nq.side_input_table()}


def _norm(v: Any) -> Any:
    if isinstance(v, (float, decimal.Decimal)):
        return round(float(v), 2)
    return v


def _rows(t: pa.Table, cols: list[str] | None = None) -> list[tuple[Any, ...]]:
    """Rows by position (or the named columns), sorted."""
    names = t.column_names  # by index: DuckDB may give two columns one name
    idx = [names.index(c) for c in cols] if cols else list(range(len(names)))
    columns = [t.column(i).to_pylist() for i in idx]
    out = [tuple(_norm(v) for v in row) for row in zip(*columns)]
    return sorted(out, key=lambda r: tuple((v is None, v if v is not None else 0) for v in r))


def _to_duck(sql: str) -> str:
    """Flink's text in DuckDB's dialect: the functions DuckDB names or defines otherwise."""
    fmt = {"yyyy-MM-dd": "%Y-%m-%d", "HH:mm": "%H:%M"}
    sql = re.sub(r"DATE_FORMAT\((\w+), '([^']*)'\)", lambda m: f"strftime({m.group(1)}, '{fmt[m.group(2)]}')", sql)
    # REGEXP_EXTRACT is NULL without a match (DuckDB's regexp_extract gives '')
    sql = re.sub(r"REGEXP_EXTRACT\((\w+), '([^']*)', (\d)\)",
                 r"(CASE WHEN regexp_matches(\1, '\2') THEN regexp_extract(\1, '\2', \3) END)", sql)
    # SPLIT_INDEX counts from 0 and is NULL past the last piece
    sql = re.sub(r"SPLIT_INDEX\((\w+), '([^']*)', (\d)\)",
                 lambda m: f"(CASE WHEN len(string_split({m.group(1)}, '{m.group(2)}')) > {m.group(3)} "
                           f"THEN string_split({m.group(1)}, '{m.group(2)}')[{int(m.group(3)) + 1}] END)", sql)
    return sql.replace("`", '"')


# DuckDB's text where the translation above is not enough.
DUCK = {
    # Sessions of each bidder: a bid starts a new one when it comes 10 s or more after the
    # bidder's previous bid; a session is [first bid, last bid + 10 s).
    "q11": """
        WITH marked AS (
          SELECT bidder, date_time,
                 CASE WHEN date_time - LAG(date_time) OVER (PARTITION BY bidder ORDER BY date_time)
                           < INTERVAL 10 SECOND THEN 0 ELSE 1 END AS starts
          FROM bid),
        numbered AS (
          SELECT bidder, date_time,
                 SUM(starts) OVER (PARTITION BY bidder ORDER BY date_time ROWS UNBOUNDED PRECEDING) AS session
          FROM marked)
        SELECT bidder, COUNT(*) AS bid_count, MIN(date_time) AS starttime,
               MAX(date_time) + INTERVAL 10 SECOND AS endtime
        FROM numbered GROUP BY bidder, session""",
    "q12": """
        SELECT bidder, COUNT(*) AS bid_count, time_bucket(INTERVAL 10 SECOND, date_time) AS starttime,
               time_bucket(INTERVAL 10 SECOND, date_time) + INTERVAL 10 SECOND AS endtime
        FROM bid GROUP BY ALL""",
}


def _want(q: str, events: dict[str, pa.Table]) -> pa.Table:
    sql = DUCK.get(q) or _to_duck(nq.SQL[q][1])
    return duck(sql, **{t: events[t] for t in nq.TABLES[q]})


def _sql_tables(q: str, events: dict[str, pa.Table]) -> dict[str, Any]:
    return {"side_input": rb.from_arrow(events["side_input"])} if "side_input" in nq.TABLES[q] else {}


SQL_QUERIES = [q for q in nq.QUERIES if q not in nq.SQL_NOT_EXPRESSED]


@pytest.mark.parametrize("q", nq.QUERIES)
def test_api_equals_duckdb(q: str, events: dict[str, pa.Table]) -> None:
    """The Python API version over the generator's streams gives DuckDB's answer."""
    nx = rb.nexmark(max_events=EVENTS)
    tables = {"bid": nx.bids(), "person": nx.persons(), "auction": nx.auctions(),
              "side_input": rb.from_arrow(events["side_input"])}
    got = nq.api_queries()[q](tables).collect()
    want = _want(q, events)
    assert want.num_rows > 0
    cols = nq.COMPARE_COLUMNS.get(q)
    assert got.num_columns == want.num_columns
    assert _rows(got, cols) == _rows(want, cols), q


@pytest.mark.parametrize("q", SQL_QUERIES)
def test_sql_equals_duckdb(q: str, events: dict[str, pa.Table]) -> None:
    """The Flink SQL text, run verbatim by rb.sql over the nexmark connector, gives DuckDB's
    answer."""
    got = rb.sql(DDL + nq.SQL[q][1], **_sql_tables(q, events)).collect()
    want = _want(q, events)
    assert want.num_rows > 0
    cols = nq.COMPARE_COLUMNS.get(q)
    assert got.num_columns == want.num_columns
    assert _rows(got, cols) == _rows(want, cols), q


def test_over_keys_of_different_directions_equal_duckdb() -> None:
    """ROW_NUMBER(), LAG and ROWS frames OVER (ORDER BY a DESC, b ASC) (Nexmark q9's
    ranking) order each key its own way, NULLS FIRST/LAST per key, as DuckDB."""
    rows = [(k, p, t) for k in range(3) for p in (5, 7, None, 7, 1) for t in (3, 1, 2)]
    t = pa.table({"k": pa.array([r[0] for r in rows], pa.int64()), "p": pa.array([r[1] for r in rows], pa.int64()),
                  "t": pa.array([r[2] + 10 * i for i, r in enumerate(rows)], pa.int64())})
    for q in [
        "SELECT k, p, t, ROW_NUMBER() OVER (PARTITION BY k ORDER BY p DESC NULLS LAST, t ASC NULLS FIRST) AS rn FROM t",
        "SELECT k, p, t, ROW_NUMBER() OVER (ORDER BY p ASC NULLS LAST, t DESC NULLS FIRST) AS rn FROM t",
        "SELECT k, p, t, LAG(t) OVER (PARTITION BY k ORDER BY p DESC NULLS FIRST, t) AS prev FROM t",
        "SELECT k, p, t, SUM(t) OVER (PARTITION BY k ORDER BY p DESC NULLS LAST, t ROWS BETWEEN 2 PRECEDING "
        "AND CURRENT ROW) AS s FROM t",
        "SELECT * FROM (SELECT k, p, t, ROW_NUMBER() OVER (PARTITION BY k ORDER BY p DESC NULLS LAST, t ASC) AS rn "
        "FROM t) WHERE rn <= 2",
    ]:
        got = rb.sql(q, t=rb.from_arrow(t)).collect()
        want = duck(q, t=t)
        assert _rows(got) == _rows(want), q
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 33: ORDER BY keys of different directions"):
        rb.sql("SELECT SUM(t) OVER (ORDER BY p, t DESC) FROM t", t=rb.from_arrow(t))


# ---- the SQL functions Nexmark needs, over values the events do not cover ----

@pytest.fixture(scope="module")
def strings() -> pa.Table:
    t0 = dt.datetime(2024, 2, 28, 22, 59, 58)
    urls = ["https://www.nexmark.com/a/b/c/item.htm?query=1&channel_id=42", "channel_id=7&x=1", "a/b", "", None,
            "https://x.com/only?channel_id=&y=2", "a&channel_id=1&channel_id=2", "//", "no-slash"]
    n = len(urls)
    return pa.table({
        "k": pa.array([i % 3 for i in range(n)], pa.int64()),
        "url": pa.array(urls, pa.string()),
        "price": pa.array([5, 50_000, 2_000_000, 7, None, 10_000, 999_999, 1_000_000, 3], pa.int64()),
        "ts": pa.array([t0 + dt.timedelta(hours=7 * i, minutes=13 * i, seconds=i) if i != 4 else None
                        for i in range(n)], pa.timestamp("ms")),
    })


def test_functions_equal_duckdb(strings: pa.Table) -> None:
    """DATE_FORMAT, REGEXP_EXTRACT and SPLIT_INDEX give DuckDB's strftime, regexp_extract
    (NULL without a match) and string_split pieces (NULL past the last one), NULLs kept."""
    q = """SELECT k, DATE_FORMAT(ts, 'yyyy-MM-dd') AS d, DATE_FORMAT(ts, 'HH:mm') AS hm,
                  REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2) AS ch,
                  SPLIT_INDEX(url, '/', 0) AS s0, SPLIT_INDEX(url, '/', 1) AS s1, SPLIT_INDEX(url, '/', 3) AS s3
           FROM t"""
    got = rb.sql(q, t=rb.from_arrow(strings)).collect()
    want = duck(_to_duck(q), t=strings)
    assert _rows(got) == _rows(want)
    assert None in got["s3"].to_pylist() and "" in got["s1"].to_pylist()  # the cases are covered
    # a format with other fields and quoted text
    got = rb.sql("SELECT DATE_FORMAT(ts, 'yy/M/d ''at'' H:mm:ss') AS f FROM t", t=rb.from_arrow(strings)).collect()
    want = duck("SELECT strftime(ts, '%y/%-m/%-d at %-H:%M:%S') AS f FROM t", t=strings)
    assert _rows(got) == _rows(want)
    # names, the 12-hour clock, the day of the year and milliseconds
    got = rb.sql("SELECT DATE_FORMAT(ts, 'EEE EEEE d MMM MMMM yyyy hh:mm a DDD SSS') AS f FROM t",
                 t=rb.from_arrow(strings)).collect()
    want = duck("SELECT strftime(ts, '%a %A %-d %b %B %Y %I:%M %p %j %g') AS f FROM t", t=strings)
    assert _rows(got) == _rows(want)


def test_aggregate_filter_equals_duckdb(strings: pa.Table) -> None:
    """COUNT(*), COUNT(DISTINCT x), SUM and MAX with FILTER (WHERE ...) equal DuckDB's, per
    group and over the whole table (a group where the filter keeps no row counts 0, sums NULL)."""
    q = """SELECT k, COUNT(*) FILTER (WHERE price < 10000) AS n1,
                  COUNT(DISTINCT url) FILTER (WHERE price >= 10000) AS d2,
                  SUM(price) FILTER (WHERE price > 1000000) AS big, MAX(url) FILTER (WHERE k <> 1) AS mu,
                  COUNT(*) AS n
           FROM t GROUP BY k"""
    got = rb.sql(q, t=rb.from_arrow(strings)).collect()
    want = duck(q, t=strings)
    assert _rows(got) == _rows(want)
    assert None in got["big"].to_pylist()  # a group without a row the filter keeps
    q = "SELECT COUNT(*) FILTER (WHERE ts IS NULL) AS no_ts, COUNT(DISTINCT k) FILTER (WHERE price > 5) AS ks FROM t"
    assert _rows(rb.sql(q, t=rb.from_arrow(strings)).collect()) == _rows(duck(q, t=strings))
