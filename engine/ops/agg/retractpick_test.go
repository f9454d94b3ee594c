package agg_test

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"math"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

var pickSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: agg.OpColumn, Type: arrow.BinaryTypes.String},
}, nil)

// pickStream is a random valid changelog of rows (k, v, f, s, u) over small domains (so
// that groups hold equal values, and equal values in different rows): inserts, deletes
// of held rows and updates (-U of a held row, +U of a new one of the same key), in
// batches; per batch its rows, op last.
func pickStream(seed int64, batches int) ([]opstest.Step, [][][]any) {
	rng := rand.New(rand.NewSource(seed))
	floats := []float64{math.NaN(), 1.5, -2.25, 3, 100}
	words := []string{"a", "b", "cc", ""}
	var held [][]any
	var steps []opstest.Step
	var all [][][]any
	newRow := func(k any) []any {
		r := []any{k, int64(rng.Intn(7) - 3), floats[rng.Intn(len(floats))], words[rng.Intn(len(words))], uint64(rng.Intn(3)) << 62}
		for c := 1; c < len(r); c++ {
			if rng.Intn(7) == 0 {
				r[c] = nil
			}
		}
		return r
	}
	with := func(r []any, op string) []any { return append(append([]any{}, r...), op) }
	for b := 0; b < batches; b++ {
		var rows [][]any
		for n := 1 + rng.Intn(12); n > 0; n-- {
			switch r := rng.Intn(10); {
			case r < 4 || len(held) == 0:
				var k any = int64(rng.Intn(6))
				if rng.Intn(10) == 0 {
					k = nil
				}
				row := newRow(k)
				if len(held) > 0 && rng.Intn(4) == 0 {
					row = append([]any{}, held[rng.Intn(len(held))]...) // a duplicate row
				}
				held = append(held, row)
				rows = append(rows, with(row, agg.OpInsert))
			default:
				i := rng.Intn(len(held))
				old := held[i]
				held = append(held[:i:i], held[i+1:]...)
				if r < 7 {
					rows = append(rows, with(old, agg.OpDelete))
					continue
				}
				row := newRow(old[0])
				held = append(held, row)
				rows = append(rows, with(old, agg.OpUpdateBefore), with(row, agg.OpUpdateAfter))
			}
		}
		all = append(all, rows)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(pickSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	return steps, all
}

// pickAggs are the aggregations under test: (function, column); count() first.
var pickAggs = [][2]string{{"count", ""}, {"min", "v"}, {"max", "v"}, {"min", "f"}, {"max", "f"},
	{"min", "s"}, {"max", "s"}, {"min", "u"}, {"max", "u"}, {"first", "s"}, {"last", "s"},
	{"first", "f"}, {"last", "v"}, {"first", "u"}, {"n_unique", "s"}, {"n_unique", "f"}, {"n_unique", "v"}}

// floatLess orders NaN above every number.
func floatLess(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return !math.IsNaN(a) && math.IsNaN(b)
	}
	return a < b
}

func valueLess(a, b any) bool {
	switch x := a.(type) {
	case int64:
		return x < b.(int64)
	case uint64:
		return x < b.(uint64)
	case float64:
		return floatLess(x, b.(float64))
	}
	return a.(string) < b.(string)
}

// refPick computes the aggregations over the remaining rows of one group, held in
// arrival order: min and max of the non-null values, first and last the values of the
// earliest and latest remaining rows with a non-null value, n_unique the distinct
// non-null values (NaN one value).
func refPick(rows [][]any) string {
	cols := map[string]int{"v": 1, "f": 2, "s": 3, "u": 4}
	vals := []any{rows[0][0]}
	for _, a := range pickAggs {
		if a[0] == "count" {
			vals = append(vals, int64(len(rows)))
			continue
		}
		var nonNull []any
		for _, r := range rows {
			if v := r[cols[a[1]]]; v != nil {
				nonNull = append(nonNull, v)
			}
		}
		var out any
		switch a[0] {
		case "min", "max":
			for _, v := range nonNull {
				if out == nil || (a[0] == "min" && valueLess(v, out)) || (a[0] == "max" && valueLess(out, v)) {
					out = v
				}
			}
		case "first":
			if len(nonNull) > 0 {
				out = nonNull[0]
			}
		case "last":
			if len(nonNull) > 0 {
				out = nonNull[len(nonNull)-1]
			}
		case "n_unique":
			set := map[string]bool{}
			for _, v := range nonNull {
				set[opstest.Row(v)] = true
			}
			out = int64(len(set))
		}
		vals = append(vals, out)
	}
	return opstest.Row(vals...)
}

// refPickChanges is the changelog of group_by(k) over the changelog batches: the table
// the input changes make (a retraction removing the earliest held row equal to it) is
// aggregated after each batch, and each key the batch touched emits -U/+U, +I, -D or
// nothing.
func refPickChanges(batches [][][]any) []string {
	table := map[string][][]any{}
	result := func(k string) string {
		if len(table[k]) == 0 {
			return ""
		}
		return refPick(table[k])
	}
	var out []string
	for _, rows := range batches {
		prev := map[string]string{}
		var touched []string
		for _, r := range rows {
			k := opstest.Row(r[0])
			if _, ok := prev[k]; !ok {
				prev[k] = result(k)
				touched = append(touched, k)
			}
			row, op := r[:len(r)-1], r[len(r)-1]
			if op == agg.OpInsert || op == agg.OpUpdateAfter {
				table[k] = append(table[k], row)
				continue
			}
			held := table[k]
			for i, h := range held {
				if opstest.Row(h...) == opstest.Row(row...) {
					table[k] = append(held[:i:i], held[i+1:]...)
					break
				}
			}
		}
		for _, k := range touched {
			cur := result(k)
			switch {
			case prev[k] != "" && cur != "":
				out = append(out, prev[k]+` | "-U"`, cur+` | "+U"`)
			case prev[k] != "":
				out = append(out, prev[k]+` | "-D"`)
			case cur != "":
				out = append(out, cur+` | "+I"`)
			}
		}
	}
	sort.Strings(out)
	return out
}

func pickOp(t *testing.T) opstest.Op {
	k := opstest.Col(pickSchema, "k")
	scope := &expr.CompileScope{Schema: pickSchema, Op: "test"}
	fields := []arrow.Field{pickSchema.Field(0)}
	var aggs []agg.Spec
	for _, a := range pickAggs {
		var arg expr.Expr
		var out arrow.DataType = arrow.PrimitiveTypes.Int64
		name := a[0]
		if a[1] != "" {
			arg = opstest.Col(pickSchema, a[1])
			name += "_" + a[1]
			if a[0] != "n_unique" {
				out = arg.Type()
			}
		}
		aggs = append(aggs, agg.Spec{Fn: a[0], Name: name, Arg: arg, OutType: out})
		fields = append(fields, arrow.Field{Name: name, Type: out, Nullable: true})
	}
	_ = scope
	fields = append(fields, arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String})
	schema := arrow.NewSchema(fields, nil)
	return opstest.Op{
		New: func() runtime.Operator {
			return &agg.GroupByOp{Name: "group_by", Keys: []expr.Expr{k}, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
				Aggs: aggs, Schema: schema, BatchSize: 7, Changelog: true, Retract: true, OpCol: 5}
		},
		Keys:   opstest.KeysOf([]expr.Expr{k}),
		MaxPar: 16,
	}
}

// min, max, first, last and n_unique over a changelog take retracted rows back exactly:
// the group_by's changelog is that of a reference recomputing every touched group from
// its remaining rows, straight, checkpointed and restored at other parallelisms, on both
// backends. The stream retracts extremes, duplicates and rows equal in value to earlier
// ones, so a retraction that took out the wrong occurrence changes first or last.
func TestGroupByPicksOverChangelogThreeWays(t *testing.T) {
	steps, batches := pickStream(9, 60)
	defer opstest.Release(steps)
	want := refPickChanges(batches)
	var deletes, updates int
	for _, r := range want {
		deletes += boolCount(strings.HasSuffix(r, `"-D"`))
		updates += boolCount(strings.HasSuffix(r, `"-U"`))
	}
	if deletes < 3 || updates < 30 {
		t.Fatalf("only %d deletions and %d updates in the reference", deletes, updates)
	}
	runSpilledToo(t, pickOp(t), steps, 7, want)
}

func boolCount(b bool) int {
	if b {
		return 1
	}
	return 0
}

// With a state TTL, expiry rebuilds the group table from the live groups: their values
// (and first/last's arrival order) survive it, so a later retraction still gives the
// reference's answer over the remaining rows.
func TestGroupByPicksOverChangelogSurviveExpiry(t *testing.T) {
	clock := time.Unix(1000, 0)
	g := pickOp(t).New().(*agg.GroupByOp)
	g.TTL = 10 * time.Second
	g.Now = func() time.Time { return clock }
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	if err := g.Open(runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 16)); err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	out := &sink{}
	table := map[string]int{}
	held := map[string][][]any{}
	step := func(rows ...[]any) {
		t.Helper()
		for _, r := range rows {
			k := opstest.Row(r[0])
			if r[5] == agg.OpInsert {
				held[k] = append(held[k], r[:5])
				continue
			}
			for i, h := range held[k] {
				if opstest.Row(h...) == opstest.Row(r[:5]...) {
					held[k] = append(held[k][:i:i], held[k][i+1:]...)
					break
				}
			}
		}
		if err := g.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: opstest.Batch(pickSchema, rows)}, out); err != nil {
			t.Fatal(err)
		}
		apply(t, table, out.take())
	}
	check := func() {
		t.Helper()
		var want []string
		for _, rows := range held {
			if len(rows) > 0 {
				want = append(want, refPick(rows))
			}
		}
		sort.Strings(want)
		opstest.Equal(t, rowsOf(table), want)
	}
	row := func(k, v int64, f float64, s string, op string) []any { return []any{k, v, f, s, uint64(v), op} }
	step(row(1, 5, 1.5, "b", agg.OpInsert), row(1, 2, 3, "a", agg.OpInsert), row(1, 5, 1.5, "c", agg.OpInsert), row(2, 9, 100, "z", agg.OpInsert))
	check()
	clock = clock.Add(6 * time.Second)
	step(row(1, 7, -2.25, "a", agg.OpInsert))
	clock = clock.Add(5 * time.Second) // key 2 idle for 11 s, key 1 for 5 s
	if err := g.OnTick(out); err != nil {
		t.Fatal(err)
	}
	got := out.take()
	if len(got) != 1 || !strings.HasPrefix(got[0], "2 | ") || !strings.HasSuffix(got[0], `"-D"`) {
		t.Fatalf("expiry of key 2: %v", got)
	}
	apply(t, table, got)
	delete(held, "2")
	check()
	// Take out key 1's minimum, its first row and the extreme of f: all from the rebuilt bags.
	step(row(1, 2, 3, "a", agg.OpDelete), row(1, 5, 1.5, "b", agg.OpDelete))
	check()
	step(row(1, 3, 1.5, "b", agg.OpInsert), row(1, 7, -2.25, "a", agg.OpDelete))
	check()
}
