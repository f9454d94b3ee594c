package engine

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
)

// A select of aggregations alone is a global aggregation; an aggregation beside columns
// (or in with_columns) is over the whole input, as .over(); aggregations already in an
// over(...) are left as they are, and a select without aggregations stays a select.
func TestSelectAggregationsRewrite(t *testing.T) {
	sum := `{"agg":"sum","args":[{"col":"x"}]}`
	doc := func(op, exprs string) string {
		return `{"version":1,"root":{"op":"` + op + `","input":{"op":"scan_arrow","source":0},"exprs":[` + exprs + `]}}`
	}
	cases := []struct {
		doc        string
		want, lack []string
	}{
		{doc("select", sum+`,{"agg":"count"}`), []string{"aggregate: keys []", "x = sum(x)", "count = count(*)"}, []string{"over"}},
		{doc("select", `{"fn":"sub","args":[{"agg":"max","args":[{"col":"k"}]},{"agg":"min","args":[{"col":"k"}]}]}`),
			[]string{"aggregate: keys []"}, []string{"over"}},
		{doc("select", `{"col":"k"},`+sum), []string{"over"}, []string{"aggregate"}},
		{doc("select", `{"fn":"sub","args":[{"col":"x"},`+sum+`]}`), []string{"over"}, []string{"aggregate"}},
		{doc("with_columns", `{"alias":"t","args":[`+sum+`]}`), []string{"over"}, []string{"aggregate"}},
		{doc("select", `{"fn":"over","args":[`+sum+`,{"col":"k"}],"options":{"partition_by":1}}`), []string{"over"}, []string{"aggregate"}},
		{doc("select", `{"col":"k"}`), []string{"select"}, []string{"aggregate", "over"}},
	}
	for _, c := range cases {
		text, err := Explain([]byte(c.doc), []*arrow.Schema{fuzzSchema})
		if err != nil {
			t.Fatalf("%s: %v", c.doc, err)
		}
		logical, _, _ := strings.Cut(text, "physical plan")
		for _, w := range c.want {
			if !strings.Contains(logical, w) {
				t.Errorf("%s: the plan lacks %q:\n%s", c.doc, w, logical)
			}
		}
		for _, w := range c.lack {
			if strings.Contains(logical, w) {
				t.Errorf("%s: the plan has %q:\n%s", c.doc, w, logical)
			}
		}
	}
}
