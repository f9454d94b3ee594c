package sql

import (
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// unboundedDDL is an unbounded table (a datagen without a row count).
const unboundedDDL = "CREATE TABLE g (k BIGINT, item BIGINT, x BIGINT) WITH ('connector' = 'datagen');\n"

// findRank is the plan's rank node's arguments (nil if it has none).
func findRank(n *plan.Node) *engine.RankArgs {
	if n == nil {
		return nil
	}
	if a, ok := n.Args.(*engine.RankArgs); ok {
		return a
	}
	if a := findRank(n.Input); a != nil {
		return a
	}
	for _, in := range n.Inputs {
		if a := findRank(in); a != nil {
			return a
		}
	}
	return nil
}

// Top-N over a GROUP BY of an unbounded table (an updating input: Flink's retract rank)
// and ORDER BY PROCTIME() (arrival order) plan onto the engine's rank, or, for the first
// row per key, its unique; what stays refused is refused with its position.
func TestTopNOverUpdatingInputAndProctime(t *testing.T) {
	cases := []struct {
		q, op, cols string
		check       func(*engine.RankArgs) bool
	}{
		{"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY total DESC) AS rn " +
			"FROM (SELECT k, item, SUM(x) AS total FROM g GROUP BY k, item)) WHERE rn <= 3", "rank", "k,item,total,rn,__op",
			func(a *engine.RankArgs) bool {
				return *a.N == 3 && a.RankColumn != "" && a.Descending[0] && !a.KeepLast
			}},
		{"SELECT k, item FROM (SELECT k, item, ROW_NUMBER() OVER (ORDER BY n DESC, item) AS rn " +
			"FROM (SELECT k, item, COUNT(*) AS n FROM g GROUP BY k, item)) WHERE rn <= 5", "rank", "k,item,__op",
			func(a *engine.RankArgs) bool { return len(a.Keys) == 0 && len(a.OrderBy) == 2 && a.RankColumn == "" }},
		{"SELECT k, item FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME()) AS rn FROM g) WHERE rn = 1",
			"unique", "k,item", nil},
		{"SELECT k, item, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME() ASC) AS rn FROM g) WHERE rn <= 2",
			"rank", "k,item,rn,__op",
			func(a *engine.RankArgs) bool {
				return a.ArrivalOrder && !a.KeepLast && *a.N == 2 && len(a.OrderBy) == 0
			}},
		{"SELECT k, item FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME() DESC) AS rn FROM g) WHERE rn = 1",
			"rank", "k,item,__op",
			func(a *engine.RankArgs) bool {
				return a.KeepLast && !a.ArrivalOrder && *a.N == 1 && len(a.OrderBy) == 0
			}},
		// the first row per key of an updating input: rank (unique takes appended rows only)
		{"SELECT k, n FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME()) AS rn " +
			"FROM (SELECT k, COUNT(*) AS n FROM g GROUP BY k)) WHERE rn = 1", "rank", "k,n,__op",
			func(a *engine.RankArgs) bool { return a.ArrivalOrder && *a.N == 1 }},
	}
	for i, c := range cases {
		n, s, err := compileAndBind(t, unboundedDDL+c.q)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		var names []string
		for _, f := range s.Fields() {
			names = append(names, f.Name)
		}
		if got := strings.Join(names, ","); got != c.cols {
			t.Errorf("case %d: columns %s, want %s", i, got, c.cols)
		}
		if !strings.Contains(","+strings.Join(ops(n), ",")+",", ","+c.op+",") {
			t.Errorf("case %d: plan %v has no %s", i, ops(n), c.op)
		}
		if c.check != nil && !c.check(findRank(n)) {
			t.Errorf("case %d: rank arguments %+v", i, findRank(n))
		}
	}
	tables, inputs := testTables()
	for q, want := range map[string]string{
		"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME(), x) AS rn FROM g) WHERE rn = 1":         "SQL line 2, column 69: PROCTIME() among several ORDER BY keys (order by PROCTIME() alone) is not supported yet",
		"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME() NULLS LAST) AS rn FROM g) WHERE rn = 1": "SQL line 2, column 69: NULLS FIRST/LAST with ORDER BY PROCTIME()",
	} {
		if _, err := Compile(unboundedDDL+q, tables, inputs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", q, err, want)
		}
	}
	// over a bounded table: the first row per key only
	if _, _, err := compileAndBind(t, "SELECT k FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME()) AS rn FROM t) WHERE rn = 1"); err != nil {
		t.Error(err)
	}
	for q, want := range map[string]string{
		"SELECT k FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME() DESC) AS rn FROM t) WHERE rn = 1": "SQL line 1, column 69: ORDER BY PROCTIME() over a bounded table but for the first row per key",
		"SELECT k FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY PROCTIME()) AS rn FROM t) WHERE rn <= 2":     "SQL line 1, column 69: ORDER BY PROCTIME() over a bounded table but for the first row per key",
	} {
		if _, err := Compile(q, tables, inputs); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", q, err, want)
		}
	}
	q := "CREATE TABLE h (k BIGINT, proc AS PROCTIME()) WITH ('connector' = 'datagen'); SELECT k FROM h"
	if _, err := Compile(q, tables, inputs); err == nil || !strings.Contains(err.Error(), "SQL line 1, column 32: a computed column (for processing time, ORDER BY PROCTIME() in the query") {
		t.Errorf("computed column: %v", err)
	}
}
