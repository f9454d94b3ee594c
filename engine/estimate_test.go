package engine

import (
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// A join builds on the input it takes for the smaller: a filter counts as keeping a fifth
// of its input (also under a select), so a filtered large table may be the build side.
func TestBuildSideCountsAFilterAsAFifth(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
	scan := func(src, rows int) string {
		return fmt.Sprintf(`{"op":"scan_arrow","source":%d,"table":true,"rows":%d}`, src, rows)
	}
	filter := func(in string) string {
		return `{"op":"filter","predicate":{"fn":"gt","args":[{"col":"x"},{"lit":0,"type":"int64"}]},"input":` + in + `}`
	}
	sel := func(in string) string { return `{"op":"select","exprs":[{"col":"k"},{"col":"x"}],"input":` + in + `}` }
	cases := []struct {
		left, right string
		want        int
	}{
		{scan(0, 1000), scan(1, 300), 1},
		{filter(scan(0, 1000)), scan(1, 300), 0},
		{sel(filter(scan(0, 1000))), scan(1, 300), 0},
		{filter(scan(0, 2000)), scan(1, 300), 1},
		{filter(scan(0, 1000)), filter(scan(1, 300)), 1},
	}
	for i, c := range cases {
		doc := `{"version":1,"root":{"op":"join","how":"inner","left_on":[{"col":"k"}],"right_on":[{"col":"k"}],"inputs":[` +
			c.left + `,` + c.right + `]}}`
		p, err := plan.ParsePlan([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		outs, err := Bind(p, []*arrow.Schema{schema, schema})
		if err != nil {
			t.Fatal(err)
		}
		if got := buildSide(outs[0]); got != c.want {
			t.Errorf("case %d: build side %d, want %d", i, got, c.want)
		}
	}
}
