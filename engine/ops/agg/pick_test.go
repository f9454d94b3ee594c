package agg_test

import (
	"context"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// min, max, first and last over batches with nulls (groups set by hand), then with
// groups merged pairwise as sessions merge, against a plain reference; min and max keep
// no input positions, so that a table of them holds about 9 bytes per group each.
func TestPicksWithNullsAndMerges(t *testing.T) {
	const groups, batches, rows = 500, 12, 400
	schema := arrow.NewSchema([]arrow.Field{{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true}}, nil)
	scope := &expr.CompileScope{Schema: schema, Op: "test"}
	spec := func(fn string) agg.Spec {
		c, alias := "v", fn
		s, err := agg.Compile(scope, &plan.Expr{Alias: &alias, Args: []*plan.Expr{{Agg: fn, Args: []*plan.Expr{{Col: &c}}}}})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	fns := []string{"min", "max", "first", "last"}
	var specs []agg.Spec
	for _, fn := range fns {
		specs = append(specs, spec(fn))
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	tab := agg.NewTable("picks", nil, nil, specs)
	defer tab.Release()
	minmax := agg.NewTable("minmax", nil, nil, specs[:2])
	defer minmax.Release()

	type ref struct {
		set                   bool
		min, max, first, last int64
		firstAt, lastAt       int // input position
	}
	want := make([]ref, groups)
	r := rand.New(rand.NewSource(3))
	for b := 0; b < batches; b++ {
		bld := array.NewInt64Builder(mem)
		ids := make([]uint32, rows)
		for i := range ids {
			g := r.Intn(groups)
			ids[i] = uint32(g)
			if b%3 == 0 || r.Intn(4) == 0 { // every third batch without nulls
				v := int64(r.Intn(2000) - 1000)
				bld.Append(v)
				w, at := &want[g], b*rows+i
				if !w.set {
					*w = ref{true, v, v, v, v, at, at}
				}
				w.min, w.max, w.last, w.lastAt = min(w.min, v), max(w.max, v), v, at
			} else if b%3 != 0 {
				bld.AppendNull()
			}
		}
		col := bld.NewArray()
		bld.Release()
		rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(rows))
		col.Release()
		seq := runtime.MakeSeq(0, int64(b), 0)
		for _, tb := range []*agg.Table{tab, minmax} {
			if err := tb.Update(ec, rec, ids, seq); err != nil {
				t.Fatal(err)
			}
		}
		rec.Release()
	}
	// 16 bytes a group each (in the row layout, the two values and a word of flags,
	// padded to four words), at most twice that while growing, the ids of a batch and
	// the grouper's own (keeping input positions, as first and last do, would be 2*37
	// alone).
	if per := float64(minmax.MemBytes()) / groups; per > 2*2*16+float64(4*rows)/groups+16 {
		t.Errorf("min and max hold %.1f bytes a group", per)
	}
	// Merge group g+1 into g for every even g: first from the earlier, last from the
	// later group (their rows interleave, so compare with the merged reference).
	for g := 0; g+1 < groups; g += 2 {
		for _, a := range tab.Accs() {
			a.Merge(uint32(g), uint32(g+1))
			a.Reset(uint32(g + 1))
		}
	}
	gids := make([]uint32, 0, groups/2)
	for g := 0; g < groups; g += 2 {
		gids = append(gids, uint32(g))
	}
	cols, err := tab.AggColumns(mem, gids)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.ReleaseAll(cols)
	for i, g := range gids {
		a, b := want[g], want[g+1]
		m := a
		switch {
		case !a.set:
			m = b
		case b.set:
			m.min, m.max = min(a.min, b.min), max(a.max, b.max)
			if b.firstAt < a.firstAt {
				m.first = b.first
			}
			if b.lastAt > a.lastAt {
				m.last = b.last
			}
		}
		for k, c := range cols {
			c := c.(*array.Int64)
			if c.IsNull(i) != !m.set {
				t.Fatalf("group %d %s: null %v, want %v", g, fns[k], c.IsNull(i), !m.set)
			}
			if !m.set {
				continue
			}
			if w := []int64{m.min, m.max, m.first, m.last}[k]; c.Value(i) != w {
				t.Fatalf("group %d %s: %d, want %d", g, fns[k], c.Value(i), w)
			}
		}
	}
}
