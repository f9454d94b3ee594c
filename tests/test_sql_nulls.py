"""SQL's three-valued NULL logic in rb.sql: NOT IN with NULLs, IN lists with NULL, comparisons
with NULL, NULL join keys, IS [NOT] DISTINCT FROM, COUNT(col) and COUNT(*), aggregates over
all-NULL groups, CASE, ORDER BY, GROUP BY, EXISTS, scalar subqueries, NOT (a AND b), HAVING.

The oracle is DuckDB running the same SQL over the same Arrow tables (with Flink's default
NULL ordering set for ORDER BY). The data puts NULLs where each rule matters: in the outer
column, in a subquery's values, in join and correlation keys, in whole groups."""

from __future__ import annotations

import decimal
from typing import Any

import pyarrow as pa
import pytest

import riverbed as rb

duckdb = pytest.importorskip("duckdb")


def _tables() -> dict[str, pa.Table]:
    i64 = pa.int64()
    return {
        # the outer table: x and s have NULLs; g is a group key with a NULL group and a group
        # whose x are all NULL
        "t": pa.table({
            "id": pa.array([1, 2, 3, 4, 5, 6, 7, 8], i64),
            "x": pa.array([1, 2, None, 4, None, 6, 3, None], i64),
            "s": ["a", None, "b", "c", None, "a", "d", "b"],
            "b": pa.array([True, None, False, True, None, False, True, None]),
            "g": ["p", "p", "q", None, "r", None, "q", "r"],
            "f": pa.array([1.5, None, -2.0, 0.0, None, 3.25, 1.5, None]),
        }),
        # subquery values with a NULL; k correlates with t.id
        "u": pa.table({"y": pa.array([1, None, 3, 4, 6], i64), "k": pa.array([1, 2, 3, None, 6], i64),
                       "s": ["a", "x", None, "c", "a"]}),
        # the same without the NULL value
        "v": pa.table({"y": pa.array([1, 4, 3, 6], i64), "k": pa.array([1, 2, 4, 5], i64),
                       "s": ["a", "b", "c", "e"]}),
        # no rows
        "e": pa.table({"y": pa.array([], i64), "k": pa.array([], i64), "s": pa.array([], pa.string())}),
        # only NULL values
        "w": pa.table({"y": pa.array([None, None], i64), "k": pa.array([1, 3], i64), "s": ["a", None]}),
    }


def _norm(v: Any) -> Any:
    if isinstance(v, float):
        return round(v, 9)
    if isinstance(v, decimal.Decimal):
        return float(v)
    return v


def _rows(t: pa.Table) -> list[tuple[Any, ...]]:
    rows = [tuple(_norm(v) for v in r) for r in zip(*[c.to_pylist() for c in t.columns])]
    return sorted(rows, key=lambda r: tuple((v is None, str(type(v)), v if v is not None else 0) for v in r))


def _duckdb(query: str, tables: dict[str, pa.Table]) -> pa.Table:
    con = duckdb.connect()
    # Flink's default NULL order (riverbed's): first ascending, last descending
    con.sql("SET default_null_order = 'nulls_first_on_asc_last_on_desc'")
    for name, t in tables.items():
        con.register(name, t)
    return con.sql(query).to_arrow_table()


NULL_QUERIES = [
    # NOT IN (subquery): a NULL among the values makes it never TRUE; a NULL x with a
    # non-empty query is NULL; an empty query makes it TRUE for every x, NULL included
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM u)",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM v)",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM e)",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM w)",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM u WHERE y IS NOT NULL)",
    "SELECT id FROM t WHERE NOT (x IN (SELECT y FROM u))",
    "SELECT id FROM t WHERE NOT x IN (SELECT y FROM v)",
    "SELECT id FROM t WHERE s NOT IN (SELECT s FROM v) AND id > 1",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM u UNION ALL SELECT y FROM v)",
    "SELECT id FROM t WHERE x NOT IN (SELECT MAX(y) FROM e)",
    # correlated NOT IN / IN: per outer row, over the rows its key selects (a NULL key
    # selects none)
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM u WHERE u.k = t.id)",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM w WHERE w.k = t.id)",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM u WHERE u.k = t.x AND u.s = t.s)",
    "SELECT id FROM t WHERE x IN (SELECT y FROM u WHERE u.k = t.id)",
    "SELECT id FROM t WHERE x IN (SELECT y FROM u) AND x NOT IN (SELECT y FROM v WHERE k > 1)",
    # IN (subquery) as a value: under OR and NOT, in SELECT, in CASE
    "SELECT id FROM t WHERE x IN (SELECT y FROM u) OR id = 5",
    "SELECT id FROM t WHERE x NOT IN (SELECT y FROM u) OR id = 5",
    "SELECT id FROM t WHERE NOT (x IN (SELECT y FROM u) AND id > 2)",
    "SELECT id, x IN (SELECT y FROM u) AS a, x NOT IN (SELECT y FROM u) AS b, x NOT IN (SELECT y FROM v) AS c, "
    "x IN (SELECT y FROM e) AS d, x NOT IN (SELECT y FROM w) AS z FROM t",
    "SELECT id, x NOT IN (SELECT y FROM u WHERE u.k = t.id) AS a, x IN (SELECT y FROM u WHERE u.k = t.id) AS c FROM t",
    "SELECT id, CASE WHEN x IN (SELECT y FROM u) THEN 'in' WHEN x NOT IN (SELECT y FROM u) THEN 'out' "
    "ELSE 'unknown' END AS c FROM t",
    "SELECT id FROM t WHERE (x NOT IN (SELECT y FROM v)) IS NOT TRUE",
    "SELECT id FROM t WHERE (x IN (SELECT y FROM u)) IS UNKNOWN",
    # NOT IN in HAVING (over SUMs that are NULL for an all-NULL group)
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING SUM(x) NOT IN (SELECT y FROM v)",
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING SUM(x) NOT IN (SELECT y FROM u)",
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING SUM(x) NOT IN (SELECT y FROM e)",
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING SUM(x) IN (SELECT y FROM v) OR COUNT(*) > 1",
    "SELECT g, SUM(x) AS sx, SUM(x) NOT IN (SELECT y FROM v) AS a FROM t GROUP BY g",
    # IN lists with NULL: TRUE when listed, else NULL (never FALSE)
    "SELECT id FROM t WHERE x NOT IN (1, NULL)",
    "SELECT id FROM t WHERE x IN (1, NULL)",
    "SELECT id, x IN (1, 2) AS a, x NOT IN (1, NULL) AS c, x IN (NULL) AS d, x NOT IN (NULL) AS e, "
    "s IN ('a', NULL) AS h, x IN (1, x + 1, NULL) AS i FROM t",
    # = and <> against NULL are NULL
    "SELECT id FROM t WHERE x = NULL OR x <> NULL",
    "SELECT id, x = NULL AS a, x <> NULL AS c, NULL = NULL AS d, x < NULL AS h FROM t",
    "SELECT id FROM t WHERE NOT (x = NULL)",
    # IS [NOT] DISTINCT FROM: the NULL-safe (in)equality, never NULL
    "SELECT id FROM t WHERE x IS DISTINCT FROM 1",
    "SELECT id FROM t WHERE x IS NOT DISTINCT FROM NULL",
    "SELECT id, x IS DISTINCT FROM id AS a, s IS NOT DISTINCT FROM 'a' AS c, b IS UNKNOWN AS d, "
    "b IS NOT UNKNOWN AS h FROM t",
    "SELECT a.id, c.id AS other FROM t a, t c WHERE a.s IS NOT DISTINCT FROM c.s AND a.id < c.id",
    # IS NOT DISTINCT FROM between the sides as the keys: NULL matches NULL, in every kind
    "SELECT t.id, u.k FROM t JOIN u ON t.x IS NOT DISTINCT FROM u.y",
    "SELECT t.id, u.k FROM t LEFT JOIN u ON t.x IS NOT DISTINCT FROM u.y",
    "SELECT t.id, u.k FROM t RIGHT JOIN u ON u.y IS NOT DISTINCT FROM t.x",
    "SELECT t.id, u.k FROM t FULL JOIN u ON t.x IS NOT DISTINCT FROM u.y",
    "SELECT t.id, u.k FROM t FULL JOIN u ON t.x IS NOT DISTINCT FROM u.k AND t.s IS NOT DISTINCT FROM u.s",
    "SELECT t.id, u.k FROM t LEFT JOIN u ON t.x IS NOT DISTINCT FROM u.y AND t.id < u.k",
    "SELECT t.id, u.k FROM t FULL JOIN u ON t.x = u.k AND t.s IS NOT DISTINCT FROM u.s",
    # NULL join keys never match, in every join kind
    "SELECT t.id, u.k FROM t JOIN u ON t.x = u.y",
    "SELECT t.id, u.k FROM t LEFT JOIN u ON t.x = u.y",
    "SELECT t.id, u.k FROM t RIGHT JOIN u ON t.x = u.y",
    "SELECT t.id, u.k FROM t FULL JOIN u ON t.x = u.y",
    "SELECT t.id, u.k FROM t, u WHERE t.x = u.y",
    "SELECT t.id, u.k FROM t JOIN u ON t.x = u.y AND t.s = u.s",
    "SELECT t.id, u.k FROM t FULL JOIN u ON t.x = u.k AND t.s = u.s",
    # USING: the unqualified column of a right join is the right side's, of a full join the
    # first non-NULL of the two
    "SELECT y, k FROM t FULL JOIN (SELECT y, k FROM u) q ON t.x = q.y",
    "SELECT x, k FROM t FULL JOIN (SELECT y AS x, k FROM u) q USING (x)",
    "SELECT x, k FROM t RIGHT JOIN (SELECT y AS x, k FROM u) q USING (x)",
    "SELECT x, k FROM t LEFT JOIN (SELECT y AS x, k FROM u) q USING (x)",
    "SELECT * FROM t FULL JOIN (SELECT y AS x, k FROM u) q USING (x)",
    "SELECT t.x AS tx, q.x AS qx, x FROM t FULL JOIN (SELECT y AS x, k FROM u) q USING (x)",
    # COUNT(col) counts non-NULL values, COUNT(*) rows; SUM/AVG/MIN/MAX of no values are NULL
    "SELECT COUNT(x) AS a, COUNT(*) AS c, SUM(x) AS d, AVG(f) AS h, COUNT(DISTINCT s) AS i FROM t",
    "SELECT g, COUNT(x) AS a, COUNT(*) AS c, SUM(x) AS d, AVG(x) AS h, MIN(x) AS i, MAX(s) AS j, "
    "COUNT(DISTINCT x) AS k FROM t GROUP BY g",
    "SELECT SUM(x) AS d, COUNT(x) AS a, COUNT(*) AS c, MAX(s) AS m FROM t WHERE id > 100",
    "SELECT g, SUM(x) AS d, AVG(f) AS h FROM t WHERE x IS NULL GROUP BY g",
    # NULL in GROUP BY is one group; DISTINCT and UNION treat NULLs as equal
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g",
    "SELECT g, s, COUNT(*) AS n FROM t GROUP BY g, s",
    "SELECT DISTINCT g FROM t",
    "SELECT s FROM t UNION SELECT s FROM u",
    # CASE: a NULL condition is not TRUE; CASE x WHEN NULL never matches
    "SELECT id, CASE WHEN x > 2 THEN 'big' ELSE 'other' END AS c FROM t",
    "SELECT id, CASE x WHEN 1 THEN 'one' WHEN NULL THEN 'null' ELSE 'else' END AS c FROM t",
    "SELECT id, CASE WHEN b THEN 1 WHEN NOT b THEN 2 END AS c FROM t",
    "SELECT id, CASE WHEN x IS NULL THEN 'none' ELSE 'some' END AS c, NULLIF(x, 4) AS n, "
    "COALESCE(x, f, -1) AS k FROM t",
    # EXISTS is TRUE or FALSE, never NULL: NULL correlation keys match nothing
    "SELECT id FROM t WHERE EXISTS (SELECT * FROM u WHERE u.y = t.x)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE u.y = t.x)",
    "SELECT id FROM t WHERE EXISTS (SELECT * FROM w)",
    "SELECT id FROM t WHERE NOT EXISTS (SELECT * FROM e)",
    "SELECT id, EXISTS (SELECT * FROM u WHERE u.k = t.x) AS a, "
    "NOT EXISTS (SELECT * FROM w WHERE w.y = t.x) AS c FROM t",
    "SELECT id FROM t WHERE EXISTS (SELECT * FROM u WHERE u.k = t.x) OR x IS NULL",
    # scalar subqueries: no row (an empty or missing group) is NULL; COUNT's is 0
    "SELECT id FROM t WHERE x > (SELECT MAX(y) FROM e)",
    "SELECT id FROM t WHERE x < (SELECT MAX(y) FROM u)",
    "SELECT id FROM t WHERE x > (SELECT SUM(y) FROM u WHERE u.k = t.id)",
    "SELECT id FROM t WHERE (SELECT MAX(k) FROM u WHERE u.y = t.x) IS NULL",
    "SELECT id FROM t WHERE (SELECT COUNT(*) FROM u WHERE u.y = t.x) = 0",
    "SELECT id, (SELECT COUNT(*) FROM u WHERE u.y = t.x) AS c, (SELECT COUNT(y) FROM w WHERE w.k = t.id) AS cw, "
    "(SELECT MAX(k) FROM u WHERE u.y = t.x) AS m, (SELECT MAX(y) FROM e) AS z FROM t",
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING SUM(x) > (SELECT MIN(y) FROM u)",
    # a scalar subquery that is not an aggregate: its one row's value, NULL for no row (or a
    # NULL value), a run-time error for more (below)
    "SELECT id FROM t WHERE x > (SELECT y FROM u WHERE k = 1)",
    "SELECT id FROM t WHERE x > (SELECT y FROM u WHERE k = 99) OR id = 2",
    "SELECT id, (SELECT y FROM u WHERE k = 2) AS a, (SELECT s FROM v WHERE k = 9) AS c FROM t",
    "SELECT id, (SELECT y FROM u WHERE u.k = t.id) AS a, (SELECT s FROM u WHERE u.k = t.x) AS c FROM t",
    "SELECT id FROM t WHERE x = (SELECT y FROM v WHERE v.y = t.x)",
    "SELECT id FROM t WHERE (SELECT y FROM u WHERE u.k = t.id) IS NULL",
    "SELECT id, (SELECT y FROM u ORDER BY y DESC LIMIT 1) AS a FROM t",
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING SUM(x) > (SELECT y FROM v WHERE k = 2)",
    # NOT (a AND b), NOT (a OR b) with NULLs: Kleene logic
    "SELECT id FROM t WHERE NOT (x > 1 AND b)",
    "SELECT id FROM t WHERE NOT (x > 1 OR b)",
    "SELECT id, NOT (x > 1 AND b) AS a, (x > 1 OR b) AS o, b AND NULL AS c, b OR NULL AS d FROM t",
    "SELECT id, x BETWEEN 1 AND 3 AS a, NOT (x BETWEEN NULL AND 3) AS c FROM t",
    # LIKE: NULL for a NULL string, whatever the pattern
    "SELECT id, s LIKE '%' AS a, NOT (s LIKE '%') AS c, s LIKE 'a%' AS d, s NOT LIKE '_' AS h FROM t",
    "SELECT id FROM t WHERE NOT (s LIKE '%')",
    # HAVING with NULL: a NULL condition drops the group
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING SUM(x) > 1",
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g HAVING NOT (SUM(x) > 5)",
    "SELECT g, MAX(s) AS ms FROM t GROUP BY g HAVING MAX(s) <> 'b' OR MAX(s) IS NULL",
    # correlated scalar subqueries whose value is an expression around aggregates, with the
    # outer query's columns: a key without rows gives NULL aggregates, COUNT 0, and the
    # expression around them is evaluated (COALESCE makes a value of it)
    "SELECT id FROM t WHERE x > (SELECT COALESCE(MAX(y), 0) FROM u WHERE u.k = t.id)",
    "SELECT id FROM t WHERE x >= (SELECT COUNT(*) + 1 FROM u WHERE u.k = t.id)",
    "SELECT id FROM t WHERE x > (SELECT CASE WHEN MAX(y) IS NULL THEN 0 ELSE 9 END FROM u WHERE u.k = t.id)",
    "SELECT id, (SELECT t.x + MAX(u.y) FROM u WHERE u.k = t.id) AS a, "
    "(SELECT MAX(y) * COUNT(*) + t.f FROM w WHERE w.k = t.id) AS c, "
    "(SELECT COUNT(y) * 2 FROM u WHERE u.k = t.x) AS d, (SELECT COALESCE(SUM(y), -x) FROM e WHERE e.k = t.id) AS h "
    "FROM t",
    "SELECT id FROM t WHERE f < (SELECT AVG(y) - t.x FROM v WHERE v.k = t.id)",
    # ... in a grouped query's SELECT and HAVING, correlated by its GROUP BY keys (they
    # failed naming an internal column as outside GROUP BY)
    "SELECT x, (SELECT MAX(y) FROM u WHERE u.k = t.x) AS m, COUNT(*) AS n FROM t GROUP BY x",
    "SELECT x, (SELECT COUNT(*) FROM u WHERE u.k = t.x) + x AS c FROM t GROUP BY x",
    "SELECT g, x, SUM(f) AS sf FROM t GROUP BY g, x HAVING SUM(f) < (SELECT MAX(y) FROM u WHERE u.k = t.x)",
    "SELECT s, COUNT(*) AS n FROM t GROUP BY s HAVING COUNT(*) <= (SELECT COUNT(*) FROM u WHERE u.s = t.s)",
    # an untyped NULL takes the other branch's type in a UNION, and is unknown as a
    # predicate (both were refused)
    "SELECT id, x, s FROM t UNION ALL SELECT NULL, y, NULL FROM u",
    "SELECT x FROM t UNION SELECT NULL FROM v",
    "SELECT NULL AS a, s FROM t UNION ALL SELECT y, s FROM v UNION ALL SELECT NULL, NULL FROM u",
    "SELECT id FROM t WHERE NULL",
    "SELECT id FROM t WHERE NOT NULL",
    "SELECT id FROM t WHERE NOT (x > 1 AND NULL)",
    # arithmetic and functions propagate NULL
    "SELECT id, x + NULL AS a, x * 2 - f AS c, -x AS d, ABS(f) AS h, s || 'x' AS i, UPPER(s) AS j FROM t",
]


@pytest.mark.parametrize("query", NULL_QUERIES)
def test_null_semantics_equal_duckdb(query: str) -> None:
    tables = _tables()
    env = rb.Environment(parallelism=2, batch_size=3)
    got = env.sql(query, **tables).collect()
    want = _duckdb(query, tables)
    assert got.num_columns == want.num_columns, (got.column_names, want.column_names)
    assert _rows(got) == _rows(want), query


ORDERED = [
    # Flink's default: NULLS FIRST ascending, NULLS LAST descending
    "SELECT id, x FROM t ORDER BY x, id",
    "SELECT id, x FROM t ORDER BY x DESC, id",
    "SELECT id, s FROM t ORDER BY s NULLS LAST, id DESC",
    "SELECT id, f FROM t ORDER BY f DESC NULLS FIRST, id",
    "SELECT g, SUM(x) AS sx FROM t GROUP BY g ORDER BY sx, g",
    "SELECT g, COUNT(*) AS n FROM t GROUP BY g ORDER BY g DESC",
    "SELECT id, s, x FROM t ORDER BY s, x DESC, id LIMIT 5",
]


@pytest.mark.parametrize("query", ORDERED)
def test_null_ordering_equals_duckdb_with_flink_default(query: str) -> None:
    tables = _tables()
    env = rb.Environment(parallelism=2, batch_size=2)
    got = env.sql(query, **tables).collect()
    assert got.to_pylist() == _duckdb(query, tables).to_pylist(), query


REFUSED = [
    # what cannot be planned exactly is refused, with the construct and its place
    ("SELECT id FROM t ORDER BY x IN (SELECT y FROM u)",
     r"SQL line 1, column 27: IN \(subquery\) in ORDER BY .*is not supported yet"),
    ("SELECT COUNT(*) FROM t GROUP BY x IN (SELECT y FROM u)",
     r"SQL line 1, column 33: IN \(subquery\) in GROUP BY .*is not supported yet"),
    ("SELECT SUM(CASE WHEN x IN (SELECT y FROM u) THEN 1 END) FROM t",
     r"SQL line 1, column 22: IN \(subquery\) in an aggregate's argument .*is not supported yet"),
    ("SELECT id, (SELECT DISTINCT y FROM u WHERE u.k = t.id) AS a FROM t",
     r"SQL line 1, column 12: SELECT DISTINCT in a correlated scalar subquery is not supported yet"),
    ("SELECT id FROM t WHERE x NOT IN (SELECT y FROM u WHERE u.k > t.id)",
     r"SQL line 1, column 56: a correlated condition other than an equality .*is not supported yet"),
    ("SELECT id, (SELECT y + MAX(y) FROM u WHERE u.k = t.id) AS c FROM t",
     r"SQL line 1, column 20: y is a column of the scalar subquery's tables outside an aggregate"),
    ("SELECT g, (SELECT MAX(y) FROM u WHERE u.k = t.id) AS m FROM t GROUP BY g",
     r'SQL line 1, column 45: column "id" must appear in GROUP BY or be used in an aggregate function'),
    ("SELECT id FROM t WHERE x IN (SELECT MAX(y) FROM u WHERE u.k = t.id)",
     r"SQL line 1, column 24: a correlated IN subquery whose SELECT is an aggregate is not supported yet"),
]


@pytest.mark.parametrize("query,match", REFUSED)
def test_constructs_that_cannot_be_planned_exactly_are_refused(query: str, match: str) -> None:
    with pytest.raises(rb.PlanError, match=match):
        rb.sql(query, **_tables())


SEVERAL_ROWS = [
    "SELECT id FROM t\nWHERE x > (SELECT y FROM u)",
    "SELECT id,\n       (SELECT y FROM u WHERE u.s = 'a') AS a FROM t",
    "SELECT id FROM t\nWHERE x = (SELECT y FROM u WHERE u.s = t.s)",
    "SELECT g FROM t GROUP BY g\nHAVING SUM(x) < (SELECT y FROM v WHERE k > 1)",
]


@pytest.mark.parametrize("query", SEVERAL_ROWS)
def test_scalar_subquery_of_several_rows_is_an_error(query: str) -> None:
    """A scalar subquery that gives more than one row for a row is an error when the query
    runs (SQL's rule; DuckDB's "More than one row returned by a subquery"), at its place."""
    tables = _tables()
    with pytest.raises(duckdb.InvalidInputException, match="More than one row"):
        _duckdb(query, tables)
    with pytest.raises(rb.DataError, match=r"SQL line 2, column \d+: the scalar subquery gave more than one row"):
        rb.Environment(parallelism=2).sql(query, **tables).collect()
