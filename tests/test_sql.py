"""rb.sql: Flink-dialect SQL compiled by the engine into the Python API's plans.

Oracles: DuckDB running the same SQL over the same Arrow data (relational queries), the
Python API building the same pipeline by hand (window table functions; its own tests check
it against a plain-Python reference), and a plain-Python count (Nexmark through CREATE TABLE)."""

from __future__ import annotations

import datetime as dt
import decimal
import os

import pyarrow as pa
import pytest

import riverbed as rb
from riverbed import col

duckdb = pytest.importorskip("duckdb")


def _rows(t: pa.Table) -> list[tuple[object, ...]]:
    def norm(v: object) -> object:
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, decimal.Decimal):
            return float(v)
        return v
    return sorted((tuple(norm(v) for v in r.values()) for r in t.to_pylist()),
                  key=lambda r: tuple((v is None, str(type(v)), v if v is not None else 0) for v in r))


@pytest.fixture(scope="module")
def data() -> dict[str, pa.Table]:
    orders = pa.table({
        "id": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int64()),
        "cust": ["a", "b", "a", "c", None, "b", "z"],
        "amount": [5.0, 3.5, None, 7.25, 1.0, 10.0, 2.0],
        "qty": pa.array([1, 2, 3, 4, 5, 6, 7], pa.int32()),
        "day": pa.array([dt.date(2024, 1, d) for d in (1, 2, 3, 5, 8, 13, 21)]),
        "note": ["rush order", "normal", "RUSH", "gift wrap", "normal rush", None, "x_y%z"],
    })
    customers = pa.table({"cust": ["a", "b", "c", "d"], "name": ["Ann", "Bob", "Cid", "Dee"],
                          "tier": pa.array([1, 2, 1, 3], pa.int64())})
    return {"orders": orders, "customers": customers}


QUERIES = [
    "SELECT * FROM orders",
    "SELECT id, amount * 2 AS double_amount, qty + 1 AS q, -amount AS neg FROM orders WHERE amount > 2",
    "SELECT id FROM orders WHERE cust IN ('a', 'c') OR qty BETWEEN 5 AND 6",
    "SELECT id FROM orders WHERE cust NOT IN ('a', 'c') AND amount IS NOT NULL",
    "SELECT id, note FROM orders WHERE note LIKE '%rush%' OR note LIKE 'RU_H' OR note LIKE 'x!_y!%%' ESCAPE '!'",
    "SELECT id FROM orders WHERE note NOT LIKE '%r%'",
    "SELECT id, CASE WHEN amount > 5 THEN 'big' WHEN amount IS NULL THEN 'none' ELSE 'small' END AS size FROM orders",
    "SELECT id, CASE cust WHEN 'a' THEN 1 WHEN 'b' THEN 2 END AS c FROM orders",
    "SELECT id, CAST(qty AS DOUBLE) / 2 AS half, CAST(qty AS VARCHAR) AS s FROM orders",
    "SELECT UPPER(note) AS u, LOWER(note) AS l, CHAR_LENGTH(note) AS n, SUBSTRING(note FROM 2 FOR 3) AS s, "
    "TRIM(note) AS t, note || '!' AS bang, REPLACE(note, 'r', 'R') AS r FROM orders",
    # an empty search string matches nothing (Polars' replace_all inserts between characters)
    "SELECT REPLACE(note, '', '-') AS r, REPLACE(note, 'rush', '') AS e FROM orders",
    "SELECT id, EXTRACT(YEAR FROM day) AS y, EXTRACT(MONTH FROM day) AS m, EXTRACT(DAY FROM day) AS d FROM orders "
    "WHERE day >= DATE '2024-01-01' + INTERVAL '2' DAY AND day < DATE '2023-12-31' + INTERVAL '1' MONTH",
    "SELECT COALESCE(amount, 0) AS a, NULLIF(cust, 'a') AS c, ABS(-qty) AS q, ROUND(amount, 1) AS r FROM orders",
    "SELECT cust, COUNT(*) AS n, COUNT(amount) AS n_amount, SUM(amount) AS total, AVG(qty) AS avg_qty, "
    "MIN(day) AS first_day, MAX(note) AS last_note FROM orders GROUP BY cust",
    "SELECT COUNT(*) AS n, SUM(qty) AS q, COUNT(DISTINCT cust) AS custs FROM orders",
    "SELECT cust, SUM(qty) AS q FROM orders GROUP BY cust HAVING SUM(qty) > 3 AND COUNT(*) >= 1",
    "SELECT cust, SUM(amount) / COUNT(amount) AS mean, MAX(qty) - MIN(qty) AS spread FROM orders GROUP BY cust",
    "SELECT qty % 3 AS bucket, COUNT(*) AS n FROM orders GROUP BY qty % 3",
    "SELECT o.id, c.name FROM orders o JOIN customers c ON o.cust = c.cust",
    "SELECT o.id, c.name, c.cust FROM orders o LEFT JOIN customers c ON o.cust = c.cust",
    "SELECT o.id, c.name FROM orders o RIGHT OUTER JOIN customers c ON o.cust = c.cust",
    "SELECT o.id, o.cust, c.cust AS c2, c.name FROM orders o FULL JOIN customers c ON o.cust = c.cust",
    "SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON o.cust = c.cust AND c.tier = 1",
    "SELECT o.id, c.name FROM orders o JOIN customers c ON o.cust = c.cust AND o.qty > c.tier",
    "SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON o.cust = c.cust AND o.qty > c.tier",
    "SELECT o.id, c.name FROM orders o RIGHT JOIN customers c ON o.cust = c.cust AND o.amount > c.tier * 4",
    "SELECT o.id, o.cust, c.name FROM orders o FULL JOIN customers c ON o.cust = c.cust AND o.qty > c.tier",
    "SELECT o.id, c.name FROM orders o LEFT JOIN customers c ON o.cust = c.cust AND o.amount > 4",
    "SELECT id FROM orders o WHERE EXISTS (SELECT * FROM orders p WHERE p.cust = o.cust AND p.id <> o.id)",
    "SELECT id FROM orders o WHERE NOT EXISTS (SELECT * FROM orders p WHERE p.cust = o.cust AND p.amount > o.amount)",
    "SELECT id FROM orders o WHERE cust IN (SELECT cust FROM customers c WHERE c.tier < o.qty)",
    "SELECT id FROM orders o WHERE EXISTS (SELECT * FROM customers c WHERE c.cust = o.cust AND tier < qty "
    "AND tier > 1)",
    "SELECT o.id, c.name FROM orders o CROSS JOIN customers c WHERE c.tier = 3",
    "SELECT o.id, c.name FROM orders o, customers c WHERE o.cust = c.cust AND c.tier = 1 AND o.amount > 1",
    "SELECT a.id, b.id AS other FROM orders a, orders b WHERE a.cust = b.cust AND a.id < b.id",
    "SELECT name, SUM(amount) AS total FROM orders JOIN customers USING (cust) GROUP BY name",
    "WITH big AS (SELECT * FROM orders WHERE amount > 2) SELECT cust, COUNT(*) AS n FROM big GROUP BY cust",
    "SELECT cust, n FROM (SELECT cust, COUNT(*) AS n FROM orders GROUP BY cust) t WHERE n > 1",
    # WHERE over an explicit join: an inner join takes it into its condition (what reads one
    # side filters it first); over an outer join it filters the joined rows (IS NULL of the
    # padded side keeps the unmatched ones)
    "SELECT o.id, c.name FROM orders o JOIN customers c ON o.cust = c.cust WHERE c.tier = 1 AND o.qty > 1",
    "SELECT o.id, c.name FROM orders o CROSS JOIN customers c WHERE o.cust = c.cust AND c.name <> 'Bob'",
    "SELECT o.id FROM orders o LEFT JOIN customers c ON o.cust = c.cust WHERE c.name IS NULL",
    "SELECT o.id, c.tier FROM orders o LEFT JOIN customers c ON o.cust = c.cust WHERE o.amount > 2 OR c.tier = 2",
    "SELECT c.cust, o.id FROM orders o RIGHT JOIN customers c ON o.cust = c.cust WHERE o.id IS NULL OR o.qty < 3",
    "SELECT o.id, c.name FROM orders o JOIN customers c ON o.cust = c.cust WHERE o.qty * c.tier > 3",
    # a condition across both sides with no equality is a cross join's condition
    "SELECT o.id, c.name FROM orders o, customers c WHERE o.qty < c.tier",
    "SELECT o.id, c.name FROM orders o CROSS JOIN customers c WHERE o.amount > c.tier * 2",
    "SELECT o.id, c.name, p.id AS p FROM orders o, customers c, orders p "
    "WHERE o.cust = c.cust AND p.qty = c.tier AND p.amount < o.amount",
    # an inner join's right key equal to its left key is read from the left key
    "SELECT o.id, o.cust, c.cust AS c2, c.name FROM orders o JOIN customers c ON o.cust = c.cust",
    "SELECT c.cust, o.cust AS oc, c.name FROM orders o, customers c WHERE o.cust = c.cust AND c.tier = 1",
    "SELECT a.id, b.id AS bid, b.qty FROM orders a JOIN orders b ON a.id = b.qty AND a.qty = b.qty",
    "SELECT a.id, b.id AS bid, b.qty FROM orders a JOIN orders b ON a.qty = b.qty AND a.id = b.qty",
    "SELECT DISTINCT cust FROM orders",
    "SELECT cust FROM orders UNION SELECT cust FROM customers",
    "SELECT id FROM orders UNION ALL SELECT tier FROM customers",
]


@pytest.mark.parametrize("query", QUERIES)
def test_sql_equals_duckdb(query: str, data: dict[str, pa.Table]) -> None:
    env = rb.Environment(parallelism=2)
    got = env.sql(query, **data).collect()
    con = duckdb.connect()
    for name, t in data.items():
        con.register(name, t)
    want = con.sql(query).to_arrow_table()
    assert got.num_columns == want.num_columns
    assert _rows(got) == _rows(want), query


ORDERED = [
    ("SELECT id, amount FROM orders ORDER BY amount DESC, id LIMIT 4", None),
    ("SELECT id, amount FROM orders ORDER BY amount NULLS LAST, id", None),
    ("SELECT id, amount FROM orders ORDER BY amount DESC NULLS FIRST, id", None),
    ("SELECT cust, SUM(qty) AS q FROM orders GROUP BY cust ORDER BY q DESC, cust LIMIT 2", None),
    ("SELECT id FROM orders ORDER BY qty * -1", None),
    ("SELECT cust FROM orders GROUP BY cust ORDER BY COUNT(*) DESC, cust NULLS FIRST", None),
    ("SELECT id, cust FROM orders ORDER BY 2, 1 DESC", None),
]


@pytest.mark.parametrize("query,_", ORDERED)
def test_sql_order_by_equals_duckdb(query: str, _: None, data: dict[str, pa.Table]) -> None:
    env = rb.Environment(parallelism=2, batch_size=2)
    got = env.sql(query, **data).collect()
    con = duckdb.connect()
    # Flink's default NULL order, which riverbed's SQL follows (DuckDB's own: always last)
    con.sql("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
    for name, t in data.items():
        con.register(name, t)
    want = con.sql(query).to_arrow_table()
    assert got.to_pylist() == want.to_pylist(), query


def test_sql_and_python_api_mix(data: dict[str, pa.Table]) -> None:
    """A Python filter on a SQL result, and SQL over a stream built in Python (and over a
    pandas frame), equal the same computation in DuckDB."""
    env = rb.Environment(parallelism=2)
    orders = env.from_arrow(data["orders"]).with_columns((col("qty") * 10).alias("q10"))
    res = env.sql("SELECT o.id, o.q10, c.name FROM o JOIN c ON o.cust = c.cust", o=orders,
                  c=data["customers"].to_pandas())
    got = res.filter(col("q10") > 20).sort("id").collect()
    want = duckdb.sql("SELECT o.id, o.qty * 10 AS q10, c.name FROM data_orders o JOIN data_customers c "
                      "ON o.cust = c.cust WHERE o.qty * 10 > 20 ORDER BY o.id",
                      connection=_con(data)).to_arrow_table()
    assert got.to_pylist() == want.to_pylist()
    # a SQL result as a table of another query, and its explain is the plan's
    again = env.sql("SELECT name, COUNT(*) AS n FROM r GROUP BY name", r=res)
    assert sorted(again.collect().to_pylist(), key=lambda r: r["name"]) == \
        sorted(duckdb.sql("SELECT name, COUNT(*) AS n FROM (SELECT c.name FROM data_orders o JOIN data_customers c "
                          "ON o.cust = c.cust) GROUP BY name", connection=_con(data)).to_arrow_table().to_pylist(),
               key=lambda r: r["name"])
    assert "join" in again.explain() and "aggregate" in again.explain()


def _con(data: dict[str, pa.Table]) -> object:
    con = duckdb.connect()
    for name, t in data.items():
        con.register(f"data_{name}", t)
    return con


def test_sql_errors_name_line_and_column(data: dict[str, pa.Table]) -> None:
    with pytest.raises(rb.ColumnNotFoundError,
                       match=r'SQL line 2, column 8: no column "amout"; did you mean "amount"\?'):
        rb.sql("SELECT id,\n       amout FROM orders", **data)
    with pytest.raises(rb.InputNotFoundError,
                       match=r'SQL line 1, column 16: no table "ordrs"; did you mean "orders"\?'):
        rb.sql("SELECT id FROM ordrs", **data)
    with pytest.raises(rb.TypeMismatchError, match=r"SQL line 1, column 12: select: .*arithmetic"):
        rb.sql("SELECT id, note + 1 FROM orders", **data)
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 28: expected an expression, found end of input"):
        rb.sql("SELECT id FROM orders WHERE", **data)
    with pytest.raises(rb.PlanError, match=r"SQL line 2, column 58: a subquery correlated only by conditions other "
                                           r"than equalities .* is not supported yet"):
        rb.sql("SELECT id FROM orders o\n"
               "WHERE id > 1 AND EXISTS (SELECT * FROM customers c WHERE c.tier > o.qty)", **data)
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 79: a correlated condition other than an equality in "
                                           r"x NOT IN \(subquery\)"):
        rb.sql("SELECT id FROM orders o WHERE cust NOT IN (SELECT cust FROM customers c WHERE c.tier < o.qty)", **data)


def _events(n: int = 400) -> pa.Table:
    t0 = dt.datetime(2026, 1, 1)
    return pa.table({
        "auction": pa.array([i % 7 for i in range(n)], pa.int64()),
        "price": pa.array([(i * 37) % 101 for i in range(n)], pa.int64()),
        "ts": pa.array([t0 + dt.timedelta(milliseconds=250 * i + (i * 7919) % 900) for i in range(n)],
                       pa.timestamp("ms")),
    })


WINDOWS = [
    ("TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '10' SECOND)", rb.tumbling("10s")),
    ("HOP(TABLE bids, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)", rb.sliding("10s", "2s")),
    ("CUMULATE(TABLE bids, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND)", rb.cumulate("5s", "20s")),
]


@pytest.mark.parametrize("tvf,window", WINDOWS, ids=["tumble", "hop", "cumulate"])
def test_window_tvf_equals_python_api(tvf: str, window: rb.Window) -> None:
    """Nexmark-style window aggregation (q5/q7 shape) in SQL equals the Python API's."""
    env = rb.Environment(parallelism=2)
    bids = env.from_arrow(_events(), event_time="ts")
    got = env.sql(f"""
        SELECT auction, window_start, window_end, COUNT(*) AS n, MAX(price) AS top, SUM(price) AS total
        FROM TABLE({tvf})
        GROUP BY auction, window_start, window_end""", bids=bids).collect()
    want = (bids.key_by("auction").window(window)
            .agg(rb.count().alias("n"), col("price").max().alias("top"), col("price").sum().alias("total"))
            .collect())
    assert got.column_names == want.column_names
    assert _rows(got) == _rows(want)
    assert got.num_rows > 10


def test_window_tvf_global_and_expressions() -> None:
    """A window aggregation without keys, with expressions of aggregates, equals DuckDB's
    GROUP BY of the tumbling window start computed by hand."""
    events = _events()
    got = rb.sql("""
        SELECT window_start, window_end, SUM(price) * 1.0 / COUNT(*) AS mean, COUNT(*) AS n
        FROM TABLE(TUMBLE(TABLE bids, DESCRIPTOR(ts), INTERVAL '15' SECOND))
        GROUP BY window_start, window_end""", bids=rb.from_arrow(events, event_time="ts")).collect()
    want = duckdb.sql("""
        SELECT time_bucket(INTERVAL 15 SECOND, ts) AS ws, SUM(price) * 1.0 / COUNT(*) AS mean, COUNT(*) AS n
        FROM events GROUP BY ws""").to_arrow_table()
    g = sorted((r["window_start"], round(float(r["mean"]), 9), r["n"]) for r in got.to_pylist())
    w = sorted((r["ws"], round(float(r["mean"]), 9), r["n"]) for r in want.to_pylist())
    assert g == w


def test_create_table_nexmark_and_datagen(tmp_path: object) -> None:
    """CREATE TABLE over the Nexmark generator (with a WATERMARK) and datagen; Nexmark q5's
    shape (bids per auction per hopping window) equals the Python API over the same events."""
    got = rb.sql("""
        CREATE TABLE bid (
            auction BIGINT, bidder BIGINT, price BIGINT, date_time TIMESTAMP(3),
            WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND
        ) WITH ('connector' = 'nexmark', 'kind' = 'bid', 'max-events' = '20000');
        SELECT auction, window_start, window_end, COUNT(*) AS num
        FROM TABLE(HOP(TABLE bid, DESCRIPTOR(date_time), INTERVAL '2' SECOND, INTERVAL '10' SECOND))
        GROUP BY auction, window_start, window_end""").collect()
    bids = rb.nexmark(max_events=20000).bids()
    want = bids.key_by("auction").window(rb.sliding("10s", "2s", on="date_time")).agg(rb.count().alias("num")).collect()
    assert _rows(got) == _rows(want)
    # the rows themselves: a plain-Python count of bids per auction
    raw = bids.collect()
    counts: dict[int, int] = {}
    for a in raw["auction"].to_pylist():
        counts[a] = counts.get(a, 0) + 1
    per = rb.sql("CREATE TABLE bid (auction BIGINT) WITH ('connector' = 'nexmark', 'kind' = 'bid', "
                 "'max-events' = '20000'); SELECT auction, COUNT(*) AS n FROM bid GROUP BY auction").collect()
    assert dict(zip(per["auction"].to_pylist(), per["n"].to_pylist())) == counts

    gen = rb.sql("""CREATE TABLE g (id BIGINT, v DOUBLE) WITH ('connector' = 'datagen', 'number-of-rows' = '50',
                    'fields.id.kind' = 'sequence', 'fields.id.min' = '1', 'fields.v.min' = '0', 'fields.v.max' = '1');
                    SELECT COUNT(*) AS n, MIN(id) AS lo, MAX(id) AS hi, MAX(v) <= 1 AS ok FROM g""").collect()
    assert gen.to_pylist() == [{"n": 50, "lo": 1, "hi": 50, "ok": True}]


def test_create_table_parquet(tmp_path: os.PathLike[str], data: dict[str, pa.Table]) -> None:
    import pyarrow.parquet as pq

    path = os.path.join(os.fspath(tmp_path), "orders.parquet")
    pq.write_table(data["orders"], path)
    got = rb.sql(f"""CREATE TABLE orders (id BIGINT, qty INT, amount DOUBLE)
                     WITH ('connector' = 'parquet', 'path' = '{path}');
                     SELECT id, qty FROM orders WHERE amount > 3 ORDER BY id""").collect()
    want = duckdb.sql(f"SELECT id, qty FROM read_parquet('{path}') WHERE amount > 3 ORDER BY id").to_arrow_table()
    assert got.to_pylist() == want.to_pylist()
    with pytest.raises(rb.PlanError,
                       match=r"SQL line 1, column 33: the source has no column \"qtty\"; did you mean \"qty\"\?"):
        rb.sql(f"CREATE TABLE orders (id BIGINT, qtty INT) WITH ('connector' = 'parquet', 'path' = '{path}'); "
               "SELECT id FROM orders")


def test_sql_compiles_to_the_python_api_plan() -> None:
    """SQL and the Python API give the same plan: the explain of a SQL query equals that of
    the pipeline written by hand."""
    t = rb.from_arrow(pa.table({"k": ["a", "b"], "v": [1, 2]}))
    via_sql = rb.sql("SELECT k, v * 2 AS w FROM t WHERE v > 1", t=t).explain()
    by_hand = t.filter(col("v") > 1).select(col("k"), (col("v") * 2).alias("w")).explain()
    assert via_sql == by_hand


def test_group_by_over_an_unbounded_table_is_an_updating_result() -> None:
    """A regular GROUP BY over an unbounded table gives what the Python API's group_by
    gives there (and Flink SQL): an updating result whose changes (+I/-U/+U, the __op
    column) make, applied in order, DuckDB's GROUP BY over the rows the job read. What
    cannot take the changes (ORDER BY, LIMIT) is refused by rb.sql itself, at its place."""
    from test_changelog import FIELDS, SCHEMA, SEED, B, apply_in_order, oracle

    env = rb.Environment(parallelism=1, batch_size=100)
    gen = env.datagen(SCHEMA, rows_per_second=5_000, seed=SEED, fields=FIELDS)  # unbounded
    g = gen.with_columns((col("id") // B).alias("blk"))
    q = env.sql("SELECT blk, k, COUNT(*) AS n, SUM(v) AS s, MAX(id) AS last FROM g GROUP BY blk, k", g=g)
    assert q.schema.names == ["blk", "k", "n", "s", "last", "__op"]
    by_hand = g.group_by("blk", "k").agg(rb.count().alias("n"), col("v").sum().alias("s"),
                                         col("id").max().alias("last"))
    assert [(f.name, f.type) for f in q.schema] == [(f.name, f.type) for f in by_hand.schema]
    with pytest.raises(rb.PlanError, match="collect\\(\\) needs a bounded stream"):
        q.collect()
    job = q.start()
    try:
        batches = list(job.results(timeout="3s"))
    finally:
        job.cancel()
    table = apply_in_order(batches)
    assert len(table) > 5
    assert {k + v for k, v in table.items()} == oracle({k + v for k, v in table.items()})
    ops = {op for b in batches for op in b.column("__op").to_pylist()}
    assert {"+I", "-U", "+U"} <= ops

    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 52: sort: its input is an updating stream"):
        env.sql("SELECT k, COUNT(*) AS n FROM g GROUP BY k ORDER BY n", g=g)
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 43: limit: its input is an updating stream"):
        env.sql("SELECT k, COUNT(*) AS n FROM g GROUP BY k LIMIT 3", g=g)
    # NOT IN needs the subquery's counts joined to the rows, which the engine cannot join
    # to the changes of the anti join yet: refused, naming the construct
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column 23: x NOT IN \(subquery\) over an unbounded "
                                           r"table is not supported yet"):
        env.sql("SELECT k FROM g WHERE k NOT IN (SELECT k FROM h)", g=g, h=pa.table({"k": [1, None]}))


def test_where_over_an_inner_join_filters_each_side_before_it(data: dict[str, pa.Table]) -> None:
    """The plan: a WHERE conjunct reading one side of an explicit inner join filters that
    side under the join, and the columns no one reads are not carried through a rename."""
    q = rb.sql("SELECT o.id, c.name FROM orders o JOIN customers c ON o.cust = c.cust "
               "WHERE c.tier = 1 AND o.qty > 1", **data)
    plan = q.explain().split("physical plan")[0]
    lines = plan.splitlines()
    join = next(i for i, line in enumerate(lines) if "join:" in line)
    below = "\n".join(lines[join + 1:])
    assert 'col("tier") == lit(1)' in below and 'col("qty") > lit(1)' in below, plan
    assert "filter" not in "\n".join(lines[:join]), plan
    # over a left join the right side's condition stays above it
    q = rb.sql("SELECT o.id FROM orders o LEFT JOIN customers c ON o.cust = c.cust WHERE c.name IS NULL", **data)
    lines = q.explain().split("physical plan")[0].splitlines()
    join = next(i for i, line in enumerate(lines) if "join:" in line)
    assert any("is_null" in line for line in lines[:join]), lines


def test_a_condition_across_both_sides_is_the_joins_own(data: dict[str, pa.Table]) -> None:
    """The plan: a conjunct that reads both sides of an inner join (in ON, in the WHERE
    over it, or in a WHERE over a comma join) is the join's condition, so a pair that fails
    it is dropped before its columns are gathered; no filter stays above the join."""
    for query in ("SELECT o.id, c.name FROM orders o JOIN customers c ON o.cust = c.cust AND o.qty > c.tier",
                  "SELECT o.id, c.name FROM orders o JOIN customers c ON o.cust = c.cust WHERE o.qty > c.tier",
                  "SELECT o.id, c.name FROM orders o, customers c WHERE o.cust = c.cust AND o.qty > c.tier",
                  "SELECT o.id, c.name FROM orders o, customers c WHERE o.qty > c.tier"):
        lines = rb.sql(query, **data).explain().split("physical plan")[0].splitlines()
        join = next(i for i, line in enumerate(lines) if "join:" in line)
        assert 'where (col("qty") > col("tier"))' in lines[join], (query, lines)
        assert not any("filter:" in line for line in lines[:join]), (query, lines)


def test_a_case_value_is_computed_only_where_its_condition_picks_it() -> None:
    """As SQL's CASE (and DuckDB): a value that cannot be computed on some rows (text that
    is not a number) does not fail on the rows its condition does not pick, through SQL and
    through the Python API; the first operand of AND/OR that decides a row spares the other."""
    t = pa.table({"kind": ["n", "t", "n", None, "t", "n"], "s": ["1", "x", "22", "0", "3y", "-4"]})
    query = "SELECT s, CASE WHEN kind = 'n' THEN CAST(s AS BIGINT) * 2 ELSE -1 END AS v FROM t"
    got = rb.sql(query, t=t).collect()
    con = duckdb.connect()
    con.register("t", t)
    want = con.sql(query).to_arrow_table()
    assert _rows(got) == _rows(want)
    api = rb.from_arrow(t).select(
        "s", rb.when(col("kind") == "n").then(col("s").cast(rb.Int64) * 2).otherwise(-1).alias("v")).collect()
    assert api.column("v").to_pylist() == [int(s) * 2 if k == "n" else -1 for k, s in zip(t["kind"].to_pylist(),
                                                                                       t["s"].to_pylist())]
    # the cast still fails where it is picked, naming it
    with pytest.raises(rb.RiverbedError, match="cast"):
        rb.sql("SELECT CASE WHEN kind = 't' THEN CAST(s AS BIGINT) END AS v FROM t", t=t).collect()


def test_a_condition_across_updating_inputs_filters_the_joined_changes() -> None:
    """Over updating inputs (GROUP BYs of an unbounded table) the join takes no condition
    beyond its keys: the planner filters the joined changes with it instead."""
    env = rb.Environment(parallelism=2)
    g = env.datagen({"k": rb.Int64, "v": rb.Int64}, rows_per_second=100)
    q = env.sql("SELECT a.k, a.n, b.m FROM (SELECT k, COUNT(*) AS n FROM g GROUP BY k) a "
                "JOIN (SELECT k, MAX(v) AS m FROM g GROUP BY k) b ON a.k = b.k AND a.n > b.m", g=g)
    lines = q.explain().split("physical plan")[0].splitlines()
    join = next(i for i, line in enumerate(lines) if "updating inner join" in line)
    assert any('filter: (col("n") > col("m"))' in line for line in lines[:join]), lines


def test_an_inner_joins_right_key_is_read_from_its_left_key(data: dict[str, pa.Table]) -> None:
    """The plan: keys of one type are equal values, so an inner join drops the right key
    (as the Python API's join) and the query reads it from the left key; a right key whose
    type differs is kept (cast to its own type)."""
    plan = rb.sql("SELECT o.id, c.cust FROM orders o JOIN customers c ON o.cust = c.cust", **data).explain()
    join = next(line for line in plan.splitlines() if "join:" in line)
    assert 'on col("cust") = col("cust0")' in join and "cust0: utf8" not in join, join
    plan = rb.sql("SELECT a.id, b.qty FROM orders a JOIN orders b ON a.id = b.qty", **data).explain()
    join = next(line for line in plan.splitlines() if "join:" in line)
    assert ".cast(int32)" in join, join


def test_order_by_a_position_beyond_the_columns_is_an_error_and_decimal_literals_are_exact():
    t = pa.table({"a": pa.array([1, 2, 3], pa.int64()), "s": ["x", "y", "z"]})
    for q in ("SELECT a FROM t ORDER BY 2 DESC", "SELECT a, s FROM t ORDER BY 0", "SELECT a, s FROM t ORDER BY 3"):
        with pytest.raises(rb.PlanError, match=r"ORDER BY \d: there is no output column"):
            rb.sql(q, t=t).collect()
    assert rb.sql("SELECT a FROM t ORDER BY 1 DESC", t=t).collect()["a"].to_pylist() == [3, 2, 1]
    # a decimal literal is not rounded to the integer column's scale (DuckDB's answers)
    for q, want in [("SELECT a FROM t WHERE a = 2.25", []), ("SELECT a FROM t WHERE a > 1.5", [2, 3]),
                    ("SELECT a FROM t WHERE a BETWEEN 1.5 AND 2.5", [2])]:
        assert sorted(rb.sql(q, t=t).collect()["a"].to_pylist()) == want


def test_long_operator_chains_plan_or_say_why():
    # A generated WHERE of a thousand ORs or ANDs plans (the chain becomes a balanced tree,
    # not a thousand levels of nesting); a sum of 800 terms is a PlanError at its place (it
    # was a RecursionError, or two minutes of work and an internal error). Oracle: DuckDB.
    import duckdb

    t = pa.table({"a": list(range(3000))})
    for q in ["SELECT a FROM t WHERE " + " OR ".join(f"a = {i * 3}" for i in range(1000)),
              "SELECT a FROM t WHERE " + " AND ".join(f"a <> {i * 3}" for i in range(1000))]:
        got = sorted(rb.sql(q, t=t).collect()["a"].to_pylist())
        assert got == sorted(r[0] for r in duckdb.sql(q).fetchall())
    assert rb.sql("SELECT " + "+".join(["a"] * 250) + " AS x FROM t", t=t).collect()["x"][1].as_py() == 250
    with pytest.raises(rb.PlanError, match=r"SQL line 1, column \d+: the expression chains more than 300 operators"):
        rb.sql("SELECT " + "+".join(["a"] * 800) + " AS x FROM t", t=t)


def test_a_float_column_in_a_list_of_decimal_literals():
    # f IN (0.5, 2.25): decimal literals against a DOUBLE column compare as float64, as
    # f = 0.5 does (the list was refused). Oracle: DuckDB.
    import duckdb

    t = pa.table({"f": [0.5, 2.25, 3.0, None]})
    q = "SELECT f, f IN (0.5, 2.25) AS x, f NOT IN (3.0) AS y FROM t"
    got = [tuple(r.values()) for r in rb.sql(q, t=t).collect().to_pylist()]
    assert got == duckdb.sql(q).fetchall()


def test_a_like_pattern_ending_with_its_escape_character_is_an_error():
    # 'a\' ESCAPE '\': the escape escapes nothing (DuckDB refuses it too; it matched nothing).
    t = pa.table({"s": ["a\\", "a%", "a"]})
    with pytest.raises(rb.PlanError, match="ends with its escape character"):
        rb.sql("SELECT s LIKE 'a\\' ESCAPE '\\' AS x FROM t", t=t)
    got = rb.sql("SELECT s LIKE 'a\\%' ESCAPE '\\' AS x FROM t", t=t).collect()["x"].to_pylist()
    assert got == [False, True, False]


def _flink_substring(s: str | None, pos: int, length: int | None) -> str | None:
    """Flink's BinaryStringDataUtil.substringSQL, in plain Python."""
    if s is None or (length is not None and length < 0):
        return None
    n = len(s)
    if pos > 0:
        start = pos - 1
        if start >= n:
            return ""
    elif pos < 0:
        start = n + pos
        if start < 0:
            return ""
    else:
        start = 0
    end = n if length is None or n - start < length else start + length
    return s[start:end]


def test_substring_counts_positions_as_flink() -> None:
    # 1 is the first character, -1 the last, 0 the first too; a negative start before the
    # first character gives '', a negative length NULL (Flink's SUBSTRING; DuckDB agrees on
    # every case but 0 and far-negative starts).
    t = pa.table({"s": ["Hello World", None, "ab", "", "héllo wörld ✓"]})
    for pos in [-14, -12, -11, -3, -1, 0, 1, 2, 11, 12, 20]:
        for length in [None, -1, 0, 2, 3, 50]:
            q = f"SUBSTRING(s, {pos})" if length is None else f"SUBSTRING(s FROM {pos} FOR {length})"
            got = rb.sql(f"SELECT {q} AS x FROM t", t=t).collect()["x"].to_pylist()
            assert got == [_flink_substring(s, pos, length) for s in t["s"].to_pylist()], q


def test_union_of_different_column_types_meets_in_their_common_type() -> None:
    from decimal import Decimal

    import duckdb

    a = pa.table({"k": pa.array([1, 2], pa.int64()), "f": [0.5, 1.5],
                  "d": pa.array([Decimal("1.25"), None], pa.decimal128(5, 2)), "s": pa.array(["x", "y"], pa.string())})
    b = pa.table({"k": pa.array([2, 3], pa.int32()),
                  "f": pa.array([Decimal("1.5"), Decimal("2.25")], pa.decimal128(6, 2)),
                  "d": pa.array([Decimal("3.1234"), Decimal("-1")], pa.decimal128(10, 4)),
                  "s": pa.array(["y", None], pa.large_string())})
    con = duckdb.connect()
    con.register("a", a)
    con.register("b", b)
    for q in ["SELECT k, f, d, s FROM a UNION ALL SELECT k, f, d, s FROM b", "SELECT k FROM a UNION SELECT k FROM b",
              "SELECT k FROM b UNION ALL SELECT k FROM a", "SELECT f, d FROM b UNION SELECT f, d FROM a"]:
        got = rb.sql(q, a=a, b=b).collect()
        want = con.sql(q).fetchall()
        key = lambda r: tuple((v is None, str(v)) for v in r)  # noqa: E731
        assert sorted((tuple(r.values()) for r in got.to_pylist()), key=key) == sorted(want, key=key), q
    assert rb.sql("SELECT k, f, d FROM a UNION ALL SELECT k, f, d FROM b", a=a, b=b).schema.types == [
        pa.int64(), pa.float64(), pa.decimal128(10, 4)]
    with pytest.raises(rb.SchemaError, match="union"):
        rb.sql("SELECT k FROM a UNION ALL SELECT s FROM b", a=a, b=b).collect()


def test_struct_fields_and_cardinality_against_duckdb() -> None:
    # Flink SQL reads a ROW's fields with dots (user.id, e.user.geo.lat) and an array's size
    # with CARDINALITY; DuckDB reads structs the same way (len() for lists).
    import random
    rnd = random.Random(2)
    n = 300

    def maybe(v):
        return None if rnd.random() < 0.15 else v

    t = pa.table({
        "k": pa.array(range(n), pa.int64()),
        "user": pa.array([maybe({"id": maybe(rnd.randint(0, 4)), "geo": maybe({"lat": maybe(rnd.random())})})
                          for _ in range(n)]),
        "tags": pa.array([maybe([rnd.choice("abc") for _ in range(rnd.randint(0, 3))]) for _ in range(n)]),
    })
    con = duckdb.connect()
    con.register("events", t)
    for ours, theirs in [
        ("SELECT k, user.id AS uid, e.user.geo.lat AS lat FROM events e WHERE user.id > 1",
         "SELECT k, e.user.id AS uid, e.user.geo.lat AS lat FROM events e WHERE e.user.id > 1"),
        ("SELECT user.id AS uid, COUNT(*) AS n, SUM(CARDINALITY(tags)) AS tags FROM events GROUP BY user.id",
         "SELECT e.user.id AS uid, COUNT(*) AS n, SUM(len(tags)) AS tags FROM events e GROUP BY e.user.id"),
    ]:
        got = rb.sql(ours, events=t).collect()
        want = con.sql(theirs).to_arrow_table()
        assert _rows(got) == _rows(want), ours
    assert rb.sql("SELECT user.id FROM events", events=t).collect().column_names == ["id"]
    with pytest.raises(rb.ColumnNotFoundError, match=r'no field "nope"; its fields are "id", "geo"'):
        rb.sql("SELECT user.nope FROM events", events=t).collect()
    with pytest.raises(rb.ColumnNotFoundError, match=r'no table or alias "k" in this query'):
        rb.sql("SELECT k.x FROM events", events=t).collect()


@pytest.mark.parametrize("how", ["JOIN", "LEFT JOIN", "RIGHT JOIN", "FULL JOIN"])
def test_joins_of_dictionary_encoded_keys_equal_duckdb(how):
    # Dictionary-encoded string keys on both sides (pandas categoricals, Parquet dictionary
    # columns) were refused: 'unknown type "dictionary<...>"'. Oracle: DuckDB.
    duckdb = pytest.importorskip("duckdb")
    a = pa.table({"k": pa.array(["x", "y", None, "x", "w"]).dictionary_encode(), "v": [1, 2, 3, 4, 5]})
    b = pa.table({"k": pa.array(["x", "z", None, "w"]).dictionary_encode(), "w": [10, 20, 30, 40]})
    q = f"SELECT a.k AS ak, a.v, b.k AS bk, b.w FROM a {how} b ON a.k = b.k"
    got = rb.sql(q, a=a, b=b).collect().to_pylist()
    con = duckdb.connect()
    con.register("a", a)
    con.register("b", b)
    want = con.sql(q).to_arrow_table().to_pylist()
    assert sorted(got, key=str) == sorted(want, key=str)


def test_decimal_and_double_keys_join_as_doubles_as_duckdb():
    # A DECIMAL key against a DOUBLE one was refused ("cannot join ... decimal128 with
    # float64"); they meet as doubles, as the comparison = and DuckDB's join. Oracle: DuckDB.
    duckdb = pytest.importorskip("duckdb")
    d = decimal.Decimal
    lt = pa.table({"id": [0, 1, 2, 3, 4], "dk": pa.array([d("1.50"), d("2.25"), None, d("-0.00"), d("3.10")],
                                                          pa.decimal128(5, 2))})
    rt = pa.table({"rid": [10, 11, 12, 13, 14], "fk": [1.5, 2.2500001, None, 0.0, 3.1]})
    con = duckdb.connect()
    con.register("l", lt)
    con.register("r", rt)
    for q in ["SELECT id, rid FROM l JOIN r ON l.dk = r.fk", "SELECT id, rid FROM l LEFT JOIN r ON l.dk = r.fk",
              "SELECT id, rid FROM l FULL JOIN r ON r.fk = l.dk", "SELECT id FROM l WHERE dk IN (SELECT fk FROM r)",
              "SELECT id FROM l WHERE dk NOT IN (SELECT fk FROM r WHERE fk IS NOT NULL)"]:
        got = rb.sql(q, l=lt, r=rt).collect().to_pylist()
        want = con.sql(q).to_arrow_table().to_pylist()
        assert sorted(got, key=str) == sorted(want, key=str), q


def test_hundreds_of_arguments_and_terms_equal_duckdb():
    # COALESCE of 600 arguments failed with Python's RecursionError (a chain of 600
    # nested fill_nulls); it is a balanced tree now. A 250-term sum nests as deep as it is
    # long (the parser takes up to 300 operators in a chain). Oracle: DuckDB.
    duckdb = pytest.importorskip("duckdb")
    t = pa.table({f"c{i}": pa.array([None if (i + r) % 7 else i * 10 + r for r in range(4)], pa.int64())
                  for i in range(600)})
    con = duckdb.connect()
    con.register("t", t)
    for q in ["SELECT COALESCE(" + ", ".join(f"c{i}" for i in range(600)) + ", -1) AS r FROM t",
              "SELECT " + " + ".join(f"COALESCE(c{i}, 1)" for i in range(250)) + " AS s FROM t"]:
        got = rb.sql(q, t=t).collect().to_pylist()
        want = con.sql(q).to_arrow_table().to_pylist()
        assert sorted(map(str, got)) == sorted(map(str, want)), q[:60]


def test_negative_zero_literal_keeps_its_sign_as_duckdb():
    # -0.0E0 lost its sign on the way through the plan (JSON's -0 read as the integer 0):
    # 1/-0.0E0 was inf. Oracle: DuckDB.
    duckdb = pytest.importorskip("duckdb")
    t = pa.table({"x": [1.0, -2.0]})
    q = "SELECT x, 1/-0.0E0 AS a, -0.0E0 AS b, x * -0.0E0 AS c, CAST(-0.0E0 AS STRING) AS s FROM t"
    con = duckdb.connect()
    con.register("t", t)
    got = rb.sql(q, t=t).collect().sort_by("x").to_pylist()
    want = con.sql(q).to_arrow_table().sort_by("x").to_pylist()
    assert [{k: repr(v) for k, v in r.items()} for r in got] == [{k: repr(v) for k, v in r.items()} for r in want]
