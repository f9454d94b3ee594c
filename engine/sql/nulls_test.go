package sql

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// The SQL semantics of NULL are checked end to end against DuckDB in
// tests/test_sql_nulls.py; these tests pin the plans that give them.

// planText is the JSON of a compiled (and bound) query's plan.
func planText(t *testing.T, q string) string {
	t.Helper()
	n, _, err := compileAndBind(t, q)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	doc, err := json.Marshal(Encode(n, nil))
	if err != nil {
		t.Fatal(err)
	}
	return string(doc)
}

// nodes lists the plan's operators (op and join kind) from the root down.
func nodes(n *plan.Node) []string {
	var out []string
	var walk func(n *plan.Node)
	walk = func(n *plan.Node) {
		if n == nil {
			return
		}
		s := n.Op
		if j, ok := n.Args.(*engine.JoinArgs); ok && j.How != "" {
			s += ":" + j.How
		}
		out = append(out, s)
		walk(n.Input)
		for _, in := range n.Inputs {
			walk(in)
		}
	}
	walk(n)
	return out
}

func opsOf(t *testing.T, q string) string {
	t.Helper()
	n, _, err := compileAndBind(t, q)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	return strings.Join(nodes(n), " ")
}

func TestInAndNotInPlans(t *testing.T) {
	cases := []struct {
		q          string
		has, hasnt []string
	}{
		// IN as a conjunct: a semi join (a NULL x or value never matches, which is SQL's
		// "not TRUE")
		{"SELECT k FROM t WHERE k IN (SELECT k FROM u)", []string{"join:semi"}, []string{"join:anti", "join:left", "aggregate"}},
		// correlated IN: a semi join on the correlation and the value
		{"SELECT k FROM t WHERE x IN (SELECT x FROM u WHERE u.k = t.k)", []string{"join:semi"}, []string{"join:anti", "aggregate"}},
		// NOT IN: the anti join, then the guard over the query's counts (one row: a cross
		// join)
		{"SELECT k FROM t WHERE k NOT IN (SELECT k FROM u)", []string{"join:anti", "join:cross", "aggregate", "filter"}, []string{"join:semi"}},
		{"SELECT k FROM t WHERE NOT (k IN (SELECT k FROM u))", []string{"join:anti", "join:cross", "aggregate"}, nil},
		// correlated NOT IN: the counts per correlation key, by a left join
		{"SELECT k FROM t WHERE x NOT IN (SELECT x FROM u WHERE u.k = t.k)", []string{"join:anti", "join:left", "aggregate"}, []string{"join:cross"}},
		// EXISTS correlated: semi and anti joins; uncorrelated: the row count
		{"SELECT k FROM t WHERE EXISTS (SELECT * FROM u WHERE u.k = t.k)", []string{"join:semi"}, []string{"aggregate"}},
		{"SELECT k FROM t WHERE NOT EXISTS (SELECT * FROM u WHERE u.k = t.k)", []string{"join:anti"}, []string{"aggregate"}},
		{"SELECT k FROM t WHERE EXISTS (SELECT * FROM u WHERE u.x > 1)", []string{"join:cross", "aggregate"}, []string{"join:semi"}},
		// a value (under OR, in SELECT, in CASE, in HAVING): left "mark" joins
		{"SELECT k FROM t WHERE k IN (SELECT k FROM u) OR x > 1", []string{"join:left", "unique", "aggregate"}, []string{"join:semi", "join:anti"}},
		{"SELECT k, k NOT IN (SELECT k FROM u) AS out FROM t", []string{"join:left", "unique", "aggregate"}, nil},
		{"SELECT CASE WHEN x IN (SELECT x FROM u WHERE u.s = t.s) THEN 1 ELSE 0 END AS c FROM t", []string{"join:left", "unique"}, []string{"join:cross"}},
		{"SELECT s, SUM(x) FROM t GROUP BY s HAVING SUM(x) NOT IN (SELECT x FROM u)", []string{"join:left", "unique", "join:cross"}, nil},
		{"SELECT k, EXISTS (SELECT * FROM u WHERE u.k = t.k) AS e FROM t", []string{"join:left", "unique"}, []string{"aggregate"}},
		// a correlated COUNT: a left join, a missing group filled with 0
		{"SELECT k FROM t WHERE (SELECT COUNT(*) FROM u WHERE u.k = t.k) = 0", []string{"join:left"}, []string{"join:inner"}},
		{"SELECT k FROM t WHERE (SELECT MAX(x) FROM u WHERE u.k = t.k) > 1", []string{"join:inner"}, []string{"join:left"}},
		// a scalar subquery that may give several rows: its first value and row count
		{"SELECT k, (SELECT x FROM u WHERE s = 'a') AS v FROM t", []string{"join:cross", "aggregate"}, nil},
		{"SELECT k, (SELECT x FROM u WHERE u.k = t.k) AS v FROM t", []string{"join:left", "aggregate"}, []string{"join:cross"}},
	}
	for _, c := range cases {
		ops := " " + opsOf(t, c.q) + " "
		for _, h := range c.has {
			if !strings.Contains(ops, " "+h+" ") {
				t.Errorf("%q: want %s in the plan, got %s", c.q, h, ops)
			}
		}
		for _, h := range c.hasnt {
			if strings.Contains(ops, " "+h+" ") {
				t.Errorf("%q: want no %s in the plan, got %s", c.q, h, ops)
			}
		}
	}
	// the NOT IN guard: no row, or x known and no NULL among the values
	doc := planText(t, "SELECT k FROM t WHERE k NOT IN (SELECT k FROM u)")
	for _, want := range []string{`"fn":"is_not_null"`, `"fn":"fill_null"`, `"agg":"count"`} {
		if !strings.Contains(doc, want) {
			t.Errorf("NOT IN plan lacks %s: %s", want, doc)
		}
	}
}

func TestScalarSubqueryOfSeveralRowsIsCheckedAtRunTime(t *testing.T) {
	// SQL: more than one row is an error when the value is used; none is NULL
	for _, q := range []string{
		"SELECT k FROM t WHERE x > (SELECT x FROM u WHERE s = 'a')",
		"SELECT k, (SELECT x FROM u WHERE u.k = t.k) AS v FROM t",
	} {
		doc := planText(t, q)
		for _, want := range []string{`"fn":"error_if"`, `the scalar subquery gave more than one row`, `"agg":"first"`} {
			if !strings.Contains(doc, want) {
				t.Errorf("%q: want %s in the plan: %s", q, want, doc)
			}
		}
	}
	// an aggregate without GROUP BY gives one row: no check
	if doc := planText(t, "SELECT k FROM t WHERE x > (SELECT MAX(x) FROM u)"); strings.Contains(doc, "error_if") {
		t.Errorf("one-row subquery checked: %s", doc)
	}
}

func TestInListWithNull(t *testing.T) {
	// is_in ignores NULLs in its list: a NULL listed makes FALSE into NULL
	doc := planText(t, "SELECT k FROM t WHERE k NOT IN (1, NULL)")
	if !strings.Contains(doc, `"fn":"case_when"`) || !strings.Contains(doc, `"fn":"is_in"`) {
		t.Errorf("IN (1, NULL): want case_when over is_in, got %s", doc)
	}
	doc = planText(t, "SELECT k IN (NULL) AS n FROM t")
	if !strings.Contains(doc, `"lit":null,"type":"bool"`) || strings.Contains(doc, `"fn":"is_in"`) {
		t.Errorf("IN (NULL): want a NULL boolean, got %s", doc)
	}
	doc = planText(t, "SELECT k IN (1, 2) AS n FROM t")
	if strings.Contains(doc, `"fn":"case_when"`) {
		t.Errorf("IN (1, 2): want a plain is_in, got %s", doc)
	}
}

func TestIsDistinctFromAndUnknown(t *testing.T) {
	stmts, err := Parse("SELECT a IS NOT DISTINCT FROM b, a IS DISTINCT FROM 1 + 2, c IS NOT UNKNOWN FROM t")
	if err != nil {
		t.Fatal(err)
	}
	items := stmts[0].(*QueryStmt).Query.Body.(*Select).Items
	d, ok := items[0].Expr.(*IsDistinct)
	if !ok || !d.Not {
		t.Fatalf("IS NOT DISTINCT FROM: got %#v", items[0].Expr)
	}
	d, ok = items[1].Expr.(*IsDistinct)
	if !ok || d.Not {
		t.Fatalf("IS DISTINCT FROM: got %#v", items[1].Expr)
	}
	if _, ok := d.R.(*Binary); !ok {
		t.Errorf("IS DISTINCT FROM 1 + 2: the right side is %#v", d.R)
	}
	if n, ok := items[2].Expr.(*IsNull); !ok || !n.Not {
		t.Errorf("IS NOT UNKNOWN: got %#v", items[2].Expr)
	}
	// never NULL: the equality where both are known, else whether both are NULL
	doc := planText(t, "SELECT k FROM t WHERE x IS NOT DISTINCT FROM NULL OR s IS DISTINCT FROM 'a'")
	if !strings.Contains(doc, `"fn":"fill_null"`) || !strings.Contains(doc, `"fn":"is_null"`) {
		t.Errorf("IS [NOT] DISTINCT FROM: %s", doc)
	}
}

func TestDefaultNullOrdering(t *testing.T) {
	// Flink's default: NULL is the smallest value (first ascending, last descending)
	n, _, err := compileAndBind(t, "SELECT k, x FROM t ORDER BY k, x DESC, s NULLS LAST, d DESC NULLS FIRST")
	if err != nil {
		t.Fatal(err)
	}
	var sortNode *plan.Node
	for m := n; m != nil; m = m.Input {
		if m.Op == "sort" {
			sortNode = m
		}
	}
	if sortNode == nil {
		t.Fatal("no sort in the plan")
	}
	args := sortNode.Args.(*engine.SortArgs)
	want := []bool{false, true, true, false}
	for i, w := range want {
		if args.NullsLast[i] != w {
			t.Errorf("key %d: nulls_last %v, want %v", i, args.NullsLast[i], w)
		}
	}
}

func TestUsingColumnsOfOuterJoins(t *testing.T) {
	// an unqualified USING column of a right join is the right side's, of a full join the
	// first non-NULL of the two; qualified names keep each side's own
	doc := planText(t, "SELECT k, t.k AS tk, u.k AS uk FROM t FULL JOIN u USING (k)")
	if !strings.Contains(doc, `"fn":"fill_null","args":[{"col":"k"},{"col":"k0"}]`) {
		t.Errorf("FULL JOIN USING: want fill_null(t.k, u.k): %s", doc)
	}
	doc = planText(t, "SELECT k FROM t RIGHT JOIN u USING (k)")
	if strings.Contains(doc, `"fill_null"`) || !strings.Contains(doc, `"col":"k0"`) {
		t.Errorf("RIGHT JOIN USING: want the right side's k: %s", doc)
	}
}
