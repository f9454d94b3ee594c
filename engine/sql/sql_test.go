package sql

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
}, nil)

// testTables are two in-memory tables t and u of testSchema (sources 0 and 1).
func testTables() (map[string]*plan.Node, []*arrow.Schema) {
	return map[string]*plan.Node{
		"t": {Op: "scan_arrow", Args: &engine.ScanArrowArgs{Source: 0, Bounded: true, Table: true, EventTimeDef: plan.EventTimeDef{EventTime: "ts"}}},
		"u": {Op: "scan_arrow", Args: &engine.ScanArrowArgs{Source: 1, Bounded: true, Table: true, EventTimeDef: plan.EventTimeDef{EventTime: "ts"}}},
	}, []*arrow.Schema{testSchema, testSchema}
}

// compileAndBind compiles a query and binds the plan it gives, as the engine will.
func compileAndBind(t testing.TB, q string) (*plan.Node, *arrow.Schema, error) {
	tables, inputs := testTables()
	n, err := Compile(q, tables, inputs)
	if err != nil {
		return nil, nil, err
	}
	doc, err := json.Marshal(map[string]any{"version": 1, "root": Encode(n, nil), "options": map[string]any{}})
	if err != nil {
		t.Fatalf("%q: encoding: %v", q, err)
	}
	p, err := plan.ParsePlan(doc)
	if err != nil {
		t.Fatalf("%q: the planner's plan does not parse: %v\n%s", q, err, doc)
	}
	s, err := engine.OutputSchema(p, inputs)
	if err != nil {
		t.Fatalf("%q: the planner's plan does not bind: %v\n%s", q, err, doc)
	}
	return n, s, nil
}

func TestParseErrorsHavePositions(t *testing.T) {
	cases := []struct{ q, want string }{
		{"SELECT k FROM t WHERE", "SQL line 1, column 22: expected an expression, found end of input"},
		{"SELECT k,\n  FROM t", "SQL line 2, column 3: expected an expression, found 'FROM'"},
		{"SELECT 'abc FROM t", "SQL line 1, column 8: unterminated string literal"},
		{"SELECT k FROM t\nWHERE k IN (1, 2", "SQL line 2, column 17: expected ',' or ')', found end of input"},
		{"SELECT k FROM t LIMIT x", "SQL line 1, column 23: expected a row count after LIMIT, found 'x'"},
		{"SELECT k FROM t t1 NATURAL JOIN u", "SQL line 1, column 20: NATURAL JOIN is not supported yet"},
		{"SELECT k FROM t # x", "SQL line 1, column 17: unexpected character '#'"},
		{"SELECT CASE WHEN k THEN 1 FROM t", "SQL line 1, column 27: expected END, found 'FROM'"},
		{"SELECT k FROM TABLE(TUMBLE(TABLE t, ts, INTERVAL '1' SECOND))", "SQL line 1, column 37: expected DESCRIPTOR(<time column>), found 'ts'"},
		{"SELECT k FROM t; SELECT k FROM u", "SQL line 1, column 1: only the last statement may be a query"},
		{"", "SQL line 1, column 1: empty SQL text"},
		{"INSERT INTO x SELECT * FROM t", `SQL line 1, column 13: INSERT INTO x: no table "x"`},
		{"INSERT INTO t SELECT * FROM u", "SQL line 1, column 13: INSERT INTO a table that is not a CREATE TABLE of the parquet, kafka or upsert-kafka connector is not supported yet"},
		{"INSERT OVERWRITE t SELECT * FROM u", "SQL line 1, column 8: INSERT OVERWRITE is not supported yet"},
		{"INSERT INTO t (k) SELECT k FROM u", "SQL line 1, column 15: a column list in INSERT INTO is not supported yet"},
		{"CREATE TABLE o (k BIGINT) WITH ('connector' = 'parquet', 'path' = '/nonexistent/o');\nINSERT INTO o SELECT k, x FROM t",
			"SQL line 2, column 15: INSERT INTO o: the query gives 2 columns, the table has 1"},
		{"CREATE TABLE o (k BIGINT) WITH ('connector' = 'parquet', 'path' = '/nonexistent/o'); SELECT k FROM t",
			"SQL line 1, column 1: "},
		{"SELECT k FROM t; INSERT INTO o SELECT k FROM t; SELECT k FROM t", "only the last statement may be"},
	}
	for _, c := range cases {
		tables, inputs := testTables()
		_, err := Compile(c.q, tables, inputs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want %q", c.q, err, c.want)
		}
	}
}

func TestPlanErrorsHavePositions(t *testing.T) {
	cases := []struct {
		q, want string
		kind    rberr.Kind
	}{
		{"SELECT kk FROM t", `SQL line 1, column 8: no column "kk"; did you mean "k"?`, rberr.ColumnNotFound},
		{"SELECT k\nFROM tt", `SQL line 2, column 6: no table "tt"; did you mean "t"?`, rberr.NotFound},
		{"SELECT k FROM t, u", `SQL line 1, column 8: column "k" is ambiguous: it could be t.k or u.k; qualify it`, rberr.ColumnNotFound},
		{"SELECT v.k FROM t", `SQL line 1, column 8: no table or alias "v" in this query`, rberr.ColumnNotFound},
		{"SELECT k, SUM(x) FROM t", `SQL line 1, column 8: column "k" must appear in GROUP BY or be used in an aggregate function`, rberr.Plan},
		{"SELECT k FROM t WHERE SUM(x) > 1", "SQL line 1, column 23: aggregate functions are not allowed in WHERE; use HAVING", rberr.Plan},
		{"SELECT k,\n  s + 1 FROM t", "SQL line 2, column 3: select: ", rberr.Type},
		{"SELECT k FROM t WHERE s", "SQL line 1, column 23: filter", rberr.Type},
		{"SELECT FOO(k) FROM t", "SQL line 1, column 8: unknown function FOO", rberr.Plan},
		{"SELECT k FROM t WHERE k IN (SELECT k FROM u WHERE u.x = t.x GROUP BY k)", "SQL line 1, column 23: a correlated IN subquery with GROUP BY or HAVING is not supported yet", rberr.Plan},
		{"SELECT k FROM t WHERE k IN (SELECT MAX(k) FROM u WHERE u.x = t.x)", "SQL line 1, column 23: a correlated IN subquery whose SELECT is an aggregate is not supported yet", rberr.Plan},
		{"SELECT k FROM t WHERE EXISTS (SELECT COUNT(*) FROM u WHERE u.x = t.x)", "SQL line 1, column 23: a correlated EXISTS subquery whose SELECT is an aggregate is not supported yet", rberr.Plan},
		{"SELECT k FROM t ORDER BY k IN (SELECT k FROM u)", "SQL line 1, column 26: IN (subquery) in ORDER BY (only in WHERE, HAVING and the SELECT list) is not supported yet", rberr.Plan},
		{"SELECT k FROM t GROUP BY k, EXISTS (SELECT * FROM u WHERE u.k = t.k)", "SQL line 1, column 29: EXISTS in GROUP BY (only in WHERE, HAVING and the SELECT list) is not supported yet", rberr.Plan},
		{"SELECT SUM(CASE WHEN k IN (SELECT k FROM u) THEN 1 END) FROM t", "SQL line 1, column 22: IN (subquery) in an aggregate's argument (only in WHERE, HAVING and the SELECT list) is not supported yet", rberr.Plan},
		{"SELECT t.k FROM t JOIN u ON t.k = u.k AND t.x IN (SELECT x FROM u)", "SQL line 1, column 43: a subquery in a join condition is not supported yet", rberr.Plan},
		{"SELECT k, (SELECT DISTINCT x FROM u WHERE u.k = t.k) FROM t", "SQL line 1, column 11: SELECT DISTINCT in a correlated scalar subquery is not supported yet", rberr.Plan},
		{"SELECT k, (SELECT k + COUNT(*) FROM u WHERE u.k = t.k) FROM t", "SQL line 1, column 19: k is a column of the scalar subquery's tables outside an aggregate: without GROUP BY, the subquery's SELECT takes its columns in aggregates only", rberr.Plan},
		{"SELECT k FROM t WHERE k NOT IN (SELECT k, x FROM u)", "SQL line 1, column 33: the IN subquery gives 2 columns; it must give one", rberr.Plan},
		{"SELECT k FROM t WHERE x IS DISTINCT k", "SQL line 1, column 37: expected FROM, found 'k'", rberr.Plan},
		{"SELECT k FROM t WHERE x IS MAYBE", "SQL line 1, column 28: expected NULL, TRUE, FALSE, UNKNOWN or DISTINCT FROM after IS, found 'MAYBE'", rberr.Plan},
		{"SELECT k FROM t WHERE EXISTS (SELECT * FROM u WHERE u.k > t.k)", "SQL line 1, column 53: a subquery correlated only by conditions other than equalities", rberr.Plan},
		{"SELECT k FROM t WHERE x > (SELECT x, k FROM u)", "SQL line 1, column 27: the scalar subquery gives 2 columns; it must give one", rberr.Plan},
		{"SELECT k FROM t WHERE x > (SELECT x FROM u WHERE u.k = t.k GROUP BY x)", "SQL line 1, column 27: a correlated scalar subquery other than one expression without GROUP BY or HAVING is not supported yet", rberr.Plan},
		{"SELECT COUNT(*) FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND))", "SQL line 1, column 22: a window table function without GROUP BY window_start, window_end is not supported yet", rberr.Plan},
		{"SELECT k FROM t LEFT JOIN u ON t.k < u.k", "SQL line 1, column 17: a left join without an equality between the two sides", rberr.Plan},
		{"SELECT t.k FROM t FULL JOIN u ON t.k IS NOT DISTINCT FROM t.k", "SQL line 1, column 19: a full join without an equality between the two sides (= or IS NOT DISTINCT FROM between a column of each)", rberr.Plan},
	}
	for _, c := range cases {
		_, _, err := compileAndBind(t, c.q)
		var re *rberr.Error
		if err == nil || !strings.Contains(err.Error(), c.want) || !errors.As(err, &re) || re.Kind != c.kind {
			t.Errorf("%q: got error %v, want %q of kind %s", c.q, err, c.want, c.kind)
		}
	}
}

func TestPlans(t *testing.T) {
	cases := []struct {
		q       string
		columns string
	}{
		{"SELECT * FROM t", "k,x,s,ts,d,dec"},
		{"SELECT k AS key, x * 2 AS y, CAST(k AS DOUBLE), UPPER(s) AS up FROM t WHERE x > 1 AND s LIKE 'a_c%'", "key,y,EXPR$2,up"},
		{"SELECT s, COUNT(*) AS n, SUM(x) AS total, AVG(dec), COUNT(DISTINCT k) FROM t GROUP BY s HAVING COUNT(*) > 1 ORDER BY n DESC LIMIT 3", "s,n,total,EXPR$3,EXPR$4"},
		{"SELECT t.k, u.s FROM t JOIN u ON t.k = u.k AND u.x > 0", "k,s"},
		{"SELECT t.k, u.k FROM t LEFT JOIN u ON t.k = u.k", "k,k0"},
		{"SELECT * FROM t FULL OUTER JOIN u USING (k)", "k,x,s,ts,d,dec,x0,s0,ts0,d0,dec0"},
		{"SELECT t.*, u.* FROM t RIGHT JOIN u USING (k)", "k,x,s,ts,d,dec,k0,x0,s0,ts0,d0,dec0"},
		{"SELECT a.k FROM t a, u b WHERE a.k = b.k AND a.s = 'x' AND a.x + b.x > 1", "k"},
		{"WITH c AS (SELECT k, x FROM t WHERE x > 0) SELECT c1.k FROM c c1 JOIN c c2 ON c1.k = c2.k", "k"},
		{"SELECT DISTINCT s FROM (SELECT s, k FROM t) q WHERE q.k BETWEEN 1 AND 5 ORDER BY s", "s"},
		{"SELECT k FROM t UNION ALL SELECT k FROM u", "k"},
		{"SELECT CASE WHEN x > 1 THEN 'big' WHEN x IS NULL THEN 'none' ELSE 'small' END AS c FROM t WHERE s NOT IN ('a', 'b')", "c"},
		{"SELECT EXTRACT(YEAR FROM d) AS y, SUBSTRING(s FROM 1 FOR 2) AS p FROM t WHERE d < DATE '1998-12-01' - INTERVAL '90' DAY", "y,p"},
		{"SELECT k, window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end", "k,window_start,window_end,n"},
		{"SELECT window_start, window_end, MAX(x) FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '10' SECOND)) GROUP BY window_start, window_end", "window_start,window_end,EXPR$2"},
		{"SELECT window_end, SUM(x) AS s FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '1' SECOND, INTERVAL '4' SECOND)) GROUP BY window_start, window_end", "window_end,s"},
		{"SELECT k FROM t ORDER BY x DESC NULLS LAST", "k"},
		{"SELECT k FROM t WHERE k IN (SELECT k FROM u WHERE x > 0) AND NOT EXISTS (SELECT * FROM u WHERE u.s = t.s AND u.x > 1)", "k"},
		{"SELECT k FROM t WHERE x > (SELECT AVG(x) FROM u) AND dec = (SELECT MIN(dec) FROM u WHERE u.k = t.k)", "k"},
		{"SELECT s, SUM(x) AS total FROM t GROUP BY s HAVING SUM(x) > (SELECT SUM(x) * 0.1 FROM u)", "s,total"},
		{"SELECT COUNT(*) AS n FROM TABLE(SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL '5' MINUTE)) GROUP BY window_start, window_end", "n"},
		{"CREATE TABLE bid (auction BIGINT, price BIGINT, date_time TIMESTAMP(3), WATERMARK FOR date_time AS date_time - INTERVAL '4' SECOND) WITH ('connector' = 'nexmark', 'kind' = 'bid', 'max-events' = '100');\nSELECT auction, price FROM bid WHERE price > 10", "auction,price"},
		{"CREATE TABLE g (id BIGINT, v DOUBLE) WITH ('connector' = 'datagen', 'number-of-rows' = '10', 'fields.id.kind' = 'sequence', 'fields.id.min' = '1');\nSELECT id FROM g", "id"},
	}
	for _, c := range cases {
		_, s, err := compileAndBind(t, c.q)
		if err != nil {
			t.Errorf("%q: %v", c.q, err)
			continue
		}
		var names []string
		for _, f := range s.Fields() {
			names = append(names, f.Name)
		}
		if got := strings.Join(names, ","); got != c.columns {
			t.Errorf("%q: columns %s, want %s", c.q, got, c.columns)
		}
	}
}

// TestCommaJoinUsesHashJoin checks that equalities in WHERE between comma-joined tables
// become join keys (an inner hash join), not a cross join and a filter.
func TestCommaJoinUsesHashJoin(t *testing.T) {
	n, _, err := compileAndBind(t, "SELECT t.k FROM t, u WHERE t.k = u.k AND t.x > 0")
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.Marshal(Encode(n, nil))
	if !strings.Contains(string(doc), `"how":"inner"`) || strings.Contains(string(doc), `"how":"cross"`) {
		t.Fatalf("want an inner join on keys: %s", doc)
	}
}

func TestPositionsOnEveryNode(t *testing.T) {
	stmts, err := Parse("SELECT a.k, SUM(x) AS s\nFROM t a JOIN u b ON a.k = b.k\nWHERE a.x BETWEEN 1 AND 2\nGROUP BY a.k")
	if err != nil {
		t.Fatal(err)
	}
	sel := stmts[0].(*QueryStmt).Query.Body.(*Select)
	check := func(n Node, line, col int) {
		t.Helper()
		if p := n.Position(); p.Line != line || p.Col != col {
			t.Errorf("%T at %v, want line %d, column %d", n, p, line, col)
		}
	}
	check(sel, 1, 1)
	check(sel.Items[1], 1, 13)
	check(sel.Items[1].Expr, 1, 13)
	check(sel.From[0], 2, 10)
	check(sel.From[0].(*JoinExpr).Right, 2, 15)
	check(sel.From[0].(*JoinExpr).On, 2, 22)
	check(sel.Where, 3, 7)
	check(sel.GroupBy[0], 4, 10)
}
