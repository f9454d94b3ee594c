package sql

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/engine"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// ops lists the operators of a plan tree, top down.
func ops(n *plan.Node) []string {
	if n == nil {
		return nil
	}
	out := []string{n.Op}
	if n.Input != nil {
		out = append(out, ops(n.Input)...)
	}
	for _, in := range n.Inputs {
		out = append(out, ops(in)...)
	}
	return out
}

func TestWindowQueriesPlanOntoEngineOperators(t *testing.T) {
	cases := []struct {
		q, op string // op: the operator the query must be planned with
		cols  string // the output columns
	}{
		{"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end, k ORDER BY x DESC) AS rn " +
			"FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))) WHERE rn <= 3", "topn",
			"k,x,s,ts,d,dec,window_start,window_end,window_time,rn"},
		{"SELECT k, rn FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY total DESC) AS rn " +
			"FROM (SELECT k, window_start, window_end, SUM(x) AS total FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), " +
			"INTERVAL '1' SECOND, INTERVAL '5' SECOND)) GROUP BY k, window_start, window_end)) WHERE 2 >= rn", "topn", "k,rn"},
		{"SELECT k, s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts) AS rn FROM t) q WHERE q.rn = 1 AND s <> 'a'",
			"dedup", "k,s"},
		{"SELECT k, s FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY ts DESC) AS rn FROM t) WHERE rn = 1",
			"over", "k,s"},
		{"SELECT k, SUM(x) OVER (PARTITION BY k ORDER BY ts ROWS BETWEEN 3 PRECEDING AND CURRENT ROW) AS s3, " +
			"RANK() OVER (ORDER BY x DESC) AS r FROM t", "over", "k,s3,r"},
		{"SELECT L.k, L.s, R.s AS rs, L.window_start, R.window_end FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L " +
			"JOIN TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R " +
			"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k AND L.x > R.x", "join",
			"k,s,rs,window_start,window_end"},
		{"SELECT t.k, u.x FROM t JOIN u ON t.k = u.k AND t.ts BETWEEN u.ts - INTERVAL '5' SECOND AND u.ts", "join", "k,x"},
		// Flink's window join text: subqueries of window table functions, outer kinds,
		// each side's window columns (null where the side is padded)
		{"SELECT L.k AS lk, R.k AS rk, L.window_start AS lws, R.window_start AS rws, COALESCE(L.window_end, R.window_end) AS we " +
			"FROM (SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L " +
			"FULL OUTER JOIN (SELECT k, x, window_start, window_end FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND))) R " +
			"ON L.k = R.k AND L.window_start = R.window_start AND L.window_end = R.window_end", "join", "lk,rk,lws,rws,we"},
		{"SELECT * FROM (SELECT k, x AS lx, window_start, window_end FROM TABLE(CUMULATE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '1' MINUTE))) L " +
			"LEFT JOIN (SELECT k AS rk, window_start, window_end FROM TABLE(CUMULATE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '1' MINUTE))) R " +
			"ON L.k = R.rk AND L.window_start = R.window_start AND L.window_end = R.window_end", "join",
			"k,lx,rk,window_start,window_end,window_start0,window_end0"},
		// window semi and anti joins
		{"SELECT L.s, L.window_start FROM (SELECT * FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND))) L " +
			"WHERE L.k IN (SELECT k FROM TABLE(HOP(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) R " +
			"WHERE L.window_start = R.window_start AND L.window_end = R.window_end)", "join", "s,window_start"},
		{"SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L " +
			"WHERE NOT EXISTS (SELECT * FROM (SELECT * FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND))) R " +
			"WHERE R.window_end = L.window_end AND R.k = L.k AND L.window_start = R.window_start)", "join",
			"k,x,s,ts,d,dec,window_start,window_end,window_time"},
	}
	for i, c := range cases {
		if c.op == "" {
			continue
		}
		n, s, err := compileAndBind(t, c.q)
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
		doc, _ := json.Marshal(Encode(n, nil))
		if c.op == "over" && !strings.Contains(string(doc), `"fn":"over"`) {
			t.Errorf("case %d: plan %s has no over(...)", i, doc)
		}
		if c.op != "over" && !strings.Contains(","+strings.Join(ops(n), ",")+",", ","+c.op+",") {
			t.Errorf("case %d: plan %v has no %s", i, ops(n), c.op)
		}
	}
	// the joins are the engine's event-time joins, window joins of their kind
	for q, how := range map[string]string{cases[5].q: "window", cases[6].q: "interval", cases[7].q: "window/full",
		cases[8].q: "window/left", cases[9].q: "window/semi", cases[10].q: "window/anti"} {
		n, _, _ := compileAndBind(t, q)
		found := false
		var walk func(*plan.Node)
		walk = func(n *plan.Node) {
			if n == nil {
				return
			}
			if a, ok := n.Args.(*engine.JoinArgs); ok && (a.How == how || a.How+"/"+a.WindowHow == how) {
				found = true
			}
			walk(n.Input)
			for _, in := range n.Inputs {
				walk(in)
			}
		}
		walk(n)
		if !found {
			t.Errorf("%q: no %s join", q, how)
		}
	}
}

// describeQuery compiles a query and describes its output as the engine binds it.
func describeQuery(t *testing.T, q string) (*plan.Node, engine.OutputInfo) {
	t.Helper()
	tables, inputs := testTables()
	n, err := Compile(q, tables, inputs)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	pl := &planner{inputs: inputs}
	inf, err := pl.info(n)
	if err != nil {
		t.Fatalf("%q: %v", q, err)
	}
	return n, inf
}

// window_time is a column of the window table functions; a window aggregation and a
// window join output it as the event time of their result, which a further window
// aggregation over it reads (Flink's cascading window aggregation).
func TestWindowTime(t *testing.T) {
	const agg = "SELECT k, window_start, window_end, window_time, COUNT(*) AS c " +
		"FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) GROUP BY k, window_start, window_end, window_time"
	const join = "SELECT L.k, L.x, R.x AS rx, L.window_start, L.window_end, L.window_time " +
		"FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L " +
		"JOIN TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R " +
		"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k"
	cases := []struct{ q, cols, eventTime string }{
		{agg, "k,window_start,window_end,window_time,c", "window_time"},
		// the time attribute goes on under another name (Flink's docs: window_time AS rowtime)
		{"SELECT k, window_time AS rowtime, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) " +
			"GROUP BY k, window_start, window_end", "k,rowtime,c", "rowtime"},
		{"CREATE VIEW w1 AS SELECT k, window_time AS rowtime, COUNT(*) AS c FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) " +
			"GROUP BY k, window_start, window_end, window_time;\n" +
			"SELECT window_start, window_end, window_time, SUM(c) AS total FROM TABLE(TUMBLE(TABLE w1, DESCRIPTOR(rowtime), INTERVAL '10' SECOND)) " +
			"GROUP BY window_start, window_end, window_time", "window_start,window_end,window_time,total", "window_time"},
		{join, "k,x,rx,window_start,window_end,window_time", "window_time"},
		{"CREATE VIEW j AS SELECT k, x, rx, window_time AS jt FROM (" + join + ");\n" +
			"SELECT window_start, window_end, COUNT(*) AS n FROM TABLE(TUMBLE(TABLE j, DESCRIPTOR(jt), INTERVAL '10' SECOND)) " +
			"GROUP BY window_start, window_end", "window_start,window_end,n", ""},
		{"SELECT L.k, L.window_time FROM (SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L " +
			"WHERE L.k NOT IN (SELECT k FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R " +
			"WHERE L.window_start = R.window_start AND L.window_end = R.window_end)", "k,window_time", "window_time"},
		{"SELECT * FROM (SELECT k, window_start, window_end, window_time, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY x DESC) AS rn " +
			"FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))) WHERE rn <= 3", "k,window_start,window_end,window_time,rn", ""},
		// a DATE window top-N has no window_time
		{"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY x DESC) AS rn " +
			"FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(d), INTERVAL '1' DAY))) WHERE rn <= 3", "k,x,s,ts,d,dec,window_start,window_end,rn", ""},
	}
	for i, c := range cases {
		n, inf := describeQuery(t, c.q)
		var names []string
		for _, f := range inf.Schema.Fields() {
			names = append(names, f.Name)
		}
		if got := strings.Join(names, ","); got != c.cols {
			t.Errorf("case %d: columns %s, want %s", i, got, c.cols)
		}
		if c.eventTime != "" && inf.EventTime != c.eventTime {
			t.Errorf("case %d: event time %q, want %q", i, inf.EventTime, c.eventTime)
		}
		if i == 2 || i == 4 { // cascaded: a window aggregation over the first one's (the join's) window_time
			var on []string
			for _, m := range []*plan.Node{n} {
				var walk func(*plan.Node)
				walk = func(x *plan.Node) {
					if x == nil {
						return
					}
					if a, ok := x.Args.(*engine.WindowAggArgs); ok {
						on = append(on, a.Window.On)
					}
					walk(x.Input)
					for _, in := range x.Inputs {
						walk(in)
					}
				}
				walk(m)
			}
			want := map[int]string{2: "rowtime,ts", 4: "jt"}[i]
			if strings.Join(on, ",") != want {
				t.Errorf("case %d: window aggregations on %v, want %s", i, on, want)
			}
		}
	}
	// NOT IN is the null-aware window anti join
	n, _ := describeQuery(t, cases[5].q)
	found := false
	var walk func(*plan.Node)
	walk = func(x *plan.Node) {
		if x == nil {
			return
		}
		if a, ok := x.Args.(*engine.JoinArgs); ok && a.WindowHow == "anti" && a.NullAware && len(a.LeftOn) == 1 {
			found = true
		}
		walk(x.Input)
		for _, in := range x.Inputs {
			walk(in)
		}
	}
	walk(n)
	if !found {
		t.Errorf("NOT IN is not planned as a null-aware window anti join")
	}
}

func TestWindowQueryErrors(t *testing.T) {
	cases := []struct{ q, want string }{
		{"SELECT * FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY k ORDER BY x) AS rn " +
			"FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))) WHERE rn <= 3",
			"SQL line 1, column 39: ROW_NUMBER() over a window table function without PARTITION BY window_start, window_end is not supported yet"},
		{"SELECT SUM(x) OVER (ORDER BY ts RANGE BETWEEN INTERVAL '1' MINUTE PRECEDING AND INTERVAL '1' MINUTE FOLLOWING) FROM t",
			"SQL line 1, column 33: a RANGE frame other than UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING, or ... PRECEDING AND CURRENT ROW of COUNT, SUM, AVG, MIN or MAX ordered by one ascending key, is not supported yet"},
		{"SELECT SUM(x) OVER (ORDER BY ts RANGE BETWEEN 'a' PRECEDING AND CURRENT ROW) FROM t",
			"SQL line 1, column 47: a RANGE frame offset other than a number or an INTERVAL is not supported yet"},
		{"SELECT SUM(x) OVER (ORDER BY ts ROWS BETWEEN CURRENT AND CURRENT ROW) FROM t",
			"SQL line 1, column 54: expected ROW, found 'AND'"},
		{"SELECT SUM(x) OVER (ORDER BY ts, k DESC) FROM t",
			"SQL line 1, column 34: ORDER BY keys of different directions (or NULLS FIRST/LAST) in SUM(...) OVER (...) is not supported yet"},
		{"SELECT NTILE(2) OVER (ORDER BY ts) FROM t", "SQL line 1, column 8: NTILE(...) OVER (...) is not supported yet"},
		{"SELECT L.k FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L JOIN u R ON L.k = R.k",
			"SQL line 1, column 79: a join of a window table function with a table that is not one"},
		{"SELECT L.k FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L " +
			"LEFT JOIN TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R USING (k)",
			"SQL line 1, column 79: a window join other than [INNER | LEFT | RIGHT | FULL [OUTER]] JOIN ... ON is not supported yet"},
		{"SELECT L.k FROM (SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L\n" +
			"FULL JOIN (SELECT * FROM TABLE(CUMULATE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '1' MINUTE))) R " +
			"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k",
			"SQL line 2, column 26: a window join needs the same window table function on both sides, and the left is TUMBLE(5s) while the right is CUMULATE(5s, 1m)"},
		{"SELECT L.k FROM TABLE(HOP(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '10' SECOND)) L " +
			"JOIN TABLE(HOP(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND, INTERVAL '20' SECOND)) R " +
			"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k",
			"SQL line 1, column 103: a window join needs the same window table function on both sides, and the left is HOP(5s, 10s) while the right is HOP(5s, 20s)"},
		{"SELECT L.k FROM TABLE(SESSION(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L " +
			"RIGHT JOIN TABLE(SESSION(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R " +
			"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k",
			"SQL line 1, column 80: a window join of SESSION windows (window joins take TUMBLE, HOP and CUMULATE windows) is not supported yet"},
		{"SELECT L.k FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND)) L " +
			"LEFT JOIN TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R " +
			"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k AND L.x > R.x",
			"SQL line 1, column 236: a condition other than equal keys and windows in the ON of an outer window join"},
		{"SELECT L.x FROM (SELECT k, window_start, window_end FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L " +
			"JOIN (SELECT * FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND))) R " +
			"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k",
			`SQL line 1, column 8: no column "L.x"`},
		{"SELECT * FROM (SELECT k + 1 AS k1 FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L",
			"SQL line 1, column 23: a window table function without GROUP BY window_start, window_end (a SELECT of its columns"},
		{"SELECT L.k FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(d), INTERVAL '5' SECOND)) L " +
			"JOIN TABLE(TUMBLE(TABLE u, DESCRIPTOR(d), INTERVAL '5' SECOND)) R " +
			"ON L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k",
			`SQL line 1, column 17: a window join assigns windows by each table's event time`},
		{"SELECT L.k FROM (SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L " +
			"WHERE L.x NOT IN (SELECT x FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R " +
			"WHERE L.window_start = R.window_start AND L.window_end = R.window_end AND L.k = R.k)",
			"SQL line 1, column 263: NOT IN over a window table function correlated by more than the window (its NULLs are per correlated group)"},
		{"SELECT L.k FROM (SELECT * FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '5' SECOND))) L " +
			"WHERE (L.k, L.x) NOT IN (SELECT k, x FROM TABLE(TUMBLE(TABLE u, DESCRIPTOR(ts), INTERVAL '5' SECOND)) R " +
			"WHERE L.window_start = R.window_start AND L.window_end = R.window_end)",
			"SQL line 1, column 101: a row value (a, b, ...), as in (a, b) [NOT] IN (SELECT c, d ...) (compare column by column, or write [NOT] EXISTS) is not supported yet"},
	}
	for _, c := range cases {
		tables, inputs := testTables()
		_, err := Compile(c.q, tables, inputs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q:\n got error %v\nwant %q", c.q, err, c.want)
		}
	}
}

func TestInsertIntoParquetTable(t *testing.T) {
	tables, inputs := testTables()
	n, err := Compile("CREATE TABLE o (k BIGINT, total DOUBLE) WITH ('connector' = 'parquet', 'path' = '/nonexistent/o');\n"+
		"INSERT INTO o SELECT k, SUM(x) FROM t GROUP BY k", tables, inputs)
	if err != nil {
		t.Fatal(err)
	}
	a, ok := n.Args.(*engine.WriteParquetArgs)
	if n.Op != "write_parquet" || !ok || a.Path != "/nonexistent/o" || a.Mode != "append" {
		t.Fatalf("got %s %+v, want write_parquet to /nonexistent/o, append", n.Op, n.Args)
	}
	sel, ok := n.Input.Args.(*engine.SelectArgs)
	if !ok || len(sel.Exprs) != 2 || *sel.Exprs[1].Alias != "total" {
		t.Fatalf("the rows are not cast to the table's columns: %+v", n.Input)
	}
}
