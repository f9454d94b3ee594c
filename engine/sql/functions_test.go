package sql

import (
	"regexp"
	"strings"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/plan"
)

// The values of these functions are checked end to end against DuckDB in
// tests/test_nexmark_queries.py; these tests pin their plans, their errors and the regular
// expressions they compile to.

// applyExtract evaluates str_extract (the plan of REGEXP_EXTRACT) on s the
// way the engine's kernel does: nil for NULL.
func applyExtract(t *testing.T, e *plan.Expr, s string) *string {
	t.Helper()
	if e.Fn != "str_extract" || len(e.Args) != 1 {
		t.Fatalf("unexpected plan %+v", e)
	}
	re := regexp.MustCompile(e.Options["pattern"].(string))
	g := int(e.Options["group_index"].(int64))
	m := re.FindStringSubmatchIndex(s)
	if m == nil || m[2*g] < 0 {
		return nil
	}
	out := s[m[2*g]:m[2*g+1]]
	return &out
}

func show(p *string) string {
	if p == nil {
		return "NULL"
	}
	return *p
}

// SPLIT_INDEX is the engine's str_split_index (its values: engine/expr's tests).
func TestSplitIndex(t *testing.T) {
	e := splitIndex(colRef("s"), "::", 2)
	if e.Fn != "str_split_index" || len(e.Args) != 1 || e.Options["by"] != "::" || e.Options["index"] != int64(2) {
		t.Fatalf("unexpected plan %+v", e)
	}
}

func TestRegexpExtract(t *testing.T) {
	const p = "(&|^)channel_id=([^&]*)"
	cases := []struct {
		s, pattern string
		group      int64
		want       string
	}{
		{"https://www.nexmark.com/x/item.htm?query=1&channel_id=1234", p, 2, "1234"},
		{"channel_id=77&x=1", p, 2, "77"},
		{"https://www.nexmark.com/x/item.htm?query=1", p, 2, "NULL"},
		{"a&channel_id=1&channel_id=2", p, 2, "1"}, // the first match
		{"abc123def456", "[0-9]+", 0, "123"},
		{"abc123def456", "([a-z]+)([0-9]+)", 1, "abc"},
		{"abc123def456", "([a-z]+)([0-9]+)", 2, "123"},
		{"xx-a1-b2", "-([a-z])([0-9])", 1, "a"},
		{"ab", "(a)|(b)", 2, "NULL"}, // the group takes no part in the first match
	}
	for _, c := range cases {
		got := show(applyExtract(t, regexpExtract(colRef("s"), c.pattern, c.group), c.s))
		if got != c.want {
			t.Errorf("REGEXP_EXTRACT(%q, %q, %d) = %q, want %q", c.s, c.pattern, c.group, got, c.want)
		}
	}
}

func TestNexmarkFunctionPlans(t *testing.T) {
	cases := []struct {
		q       string
		columns string
	}{
		{"SELECT DATE_FORMAT(ts, 'yyyy-MM-dd') AS d, DATE_FORMAT(ts, 'HH:mm') AS hm, DATE_FORMAT(ts, 'yy/M/d''T''H') FROM t", "d,hm,EXPR$2"},
		{"SELECT SPLIT_INDEX(s, '/', 3) AS dir, REGEXP_EXTRACT(s, '(&|^)c=([^&]*)', 2) AS c, REGEXP_EXTRACT(s, 'a+', 0) FROM t", "dir,c,EXPR$2"},
		{"SELECT k, COUNT(*) FILTER (WHERE x < 10) AS small, COUNT(DISTINCT s) FILTER (WHERE x >= 10) AS ds, SUM(x) FILTER (WHERE k > 1) AS sx, COUNT(*) AS filter FROM t GROUP BY k", "k,small,ds,sx,filter"},
		{"SELECT k, COUNT(*) filter FROM t GROUP BY k", "k,filter"}, // FILTER not followed by ( WHERE: an alias
		{"SELECT DATE_FORMAT(ts, 'yyyy-MM-dd') AS d, MAX(DATE_FORMAT(ts, 'HH:mm')) AS m FROM t GROUP BY DATE_FORMAT(ts, 'yyyy-MM-dd')", "d,m"},
		// Nexmark q11 as a session TVF: PARTITION BY k, DESCRIPTOR(ts) (the comma ends the list)
		{"SELECT k, COUNT(*) AS n, window_start, window_end FROM TABLE(SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY k, window_start, window_end", "k,n,window_start,window_end"},
		{"SELECT k, s, COUNT(*) AS n FROM TABLE(SESSION(TABLE t PARTITION BY k, s, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY k, s, window_start, window_end", "k,s,n"},
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
	// FILTER is an aggregate's argument under CASE: COUNT(*) FILTER counts the non-NULL 1s.
	if p := planText(t, "SELECT COUNT(*) FILTER (WHERE x < 10) AS n FROM t"); !strings.Contains(p, `"case_when"`) || !strings.Contains(p, `"agg":"count"`) {
		t.Errorf("COUNT(*) FILTER plan: %s", p)
	}
}

func TestNexmarkFunctionErrors(t *testing.T) {
	cases := []struct{ q, want string }{
		{"SELECT DATE_FORMAT(ts, 'yyyy-MM-dd QQ') FROM t", "SQL line 1, column 24: DATE_FORMAT pattern \"QQ\" (y, M, d, D, H, h, m, s, S, E and a are) is not supported yet"},
		{"SELECT DATE_FORMAT(ts, 'SS') FROM t", "SQL line 1, column 24: DATE_FORMAT pattern \"SS\" (y, M, d, D, H, h, m, s, S, E and a are) is not supported yet"},
		{"SELECT DATE_FORMAT(ts, s) FROM t", "SQL line 1, column 24: a DATE_FORMAT format that is not a string literal is not supported yet"},
		{"SELECT REGEXP_EXTRACT(s, '(a') FROM t", "SQL line 1, column 26: invalid regular expression"},
		{"SELECT REGEXP_EXTRACT(s, '(a)', 2) FROM t", "SQL line 1, column 33: REGEXP_EXTRACT group 2: the pattern has 1 groups"},
		{"SELECT SPLIT_INDEX(s, '', 1) FROM t", "SQL line 1, column 23: SPLIT_INDEX needs a non-empty separator"},
		{"SELECT SPLIT_INDEX(s, '/') FROM t", "SQL line 1, column 8: SPLIT_INDEX takes 3 arguments, got 2"},
		{"SELECT UPPER(s) FILTER (WHERE k > 1) FROM t", "SQL line 1, column 17: FILTER (WHERE ...) applies to an aggregate function, not to UPPER"},
		{"SELECT COUNT(*) FILTER (WHERE k > 1 FROM t", "SQL line 1, column 37: expected ')', found 'FROM'"},
		{"SELECT COUNT(*) FROM TABLE(SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY window_start, window_end", "SQL line 1, column 22: SESSION(... PARTITION BY k) without k in GROUP BY (the sessions are per GROUP BY key) is not supported yet"},
		{"SELECT COUNT(*) FROM TABLE(SESSION(TABLE t PARTITION BY kk, DESCRIPTOR(ts), INTERVAL '1' SECOND)) GROUP BY k, window_start, window_end", `no column "kk"`},
	}
	for _, c := range cases {
		_, _, err := compileAndBind(t, c.q)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want %q", c.q, err, c.want)
		}
	}
}
