package agg

import (
	"context"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

var rowSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64},
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u", Type: arrow.PrimitiveTypes.Uint32, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
}, nil)

// rowAggs are the aggregations under test (function, column; "" for count()): every kind
// the row layout holds, 15 words a group.
var rowAggs = [][2]string{{"count", ""}, {"count", "i"}, {"mean", "f"}, {"sum", "i"},
	{"min", "i"}, {"max", "i"}, {"min", "u"}, {"max", "u"}, {"min", "f"}, {"max", "f"}, {"sum", "u"}}

func rowSpecs(t *testing.T, aggs [][2]string) []Spec {
	t.Helper()
	var specs []Spec
	for n, a := range aggs {
		e := &plan.Expr{Agg: a[0]}
		if a[1] != "" {
			c := a[1]
			e.Args = []*plan.Expr{{Col: &c}}
		}
		alias := strings.Repeat("a", n+1)
		s, err := Compile(&expr.CompileScope{Schema: rowSchema, Op: "test"}, &plan.Expr{Alias: &alias, Args: []*plan.Expr{e}})
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
	}
	return specs
}

func rowTable(t *testing.T, aggs [][2]string) *Table {
	t.Helper()
	c := "k"
	k, err := (&expr.CompileScope{Schema: rowSchema, Op: "test"}).Compile(&plan.Expr{Col: &c})
	if err != nil {
		t.Fatal(err)
	}
	return NewTable("test", []expr.Expr{k}, []arrow.DataType{arrow.PrimitiveTypes.Int64}, rowSpecs(t, aggs))
}

// rowRef is the plain reference of rowAggs for one group.
type rowRef struct {
	n, ni, nf, nu   int64
	sf, si          float64
	su              uint64
	sumI            int64
	mini, maxi      int64
	minu, maxu      uint64
	minf, maxf      float64
	seti, setu, set bool
}

func (r *rowRef) add(i, u, f any) {
	r.n++
	if v, ok := i.(int64); ok {
		r.ni++
		r.sumI += v
		if !r.seti || v < r.mini {
			r.mini = v
		}
		if !r.seti || v > r.maxi {
			r.maxi = v
		}
		r.seti = true
	}
	if v, ok := u.(uint64); ok {
		r.nu++
		r.su += v
		if !r.setu || v < r.minu {
			r.minu = v
		}
		if !r.setu || v > r.maxu {
			r.maxu = v
		}
		r.setu = true
	}
	if v, ok := f.(float64); ok {
		r.nf++
		r.sf += v
		if !r.set || floatBelow(v, r.minf) {
			r.minf = v
		}
		if !r.set || floatBelow(r.maxf, v) {
			r.maxf = v
		}
		r.set = true
	}
}

// floatBelow orders NaN above every number.
func floatBelow(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return !math.IsNaN(a) && math.IsNaN(b)
	}
	return a < b
}

// want is the reference's row of rowAggs (nil for null).
func (r *rowRef) want() []any {
	or := func(ok bool, v any) any {
		if ok {
			return v
		}
		return nil
	}
	return []any{r.n, r.ni, or(r.nf > 0, r.sf/float64(r.nf)), or(r.ni > 0, r.sumI),
		or(r.seti, r.mini), or(r.seti, r.maxi), or(r.setu, r.minu), or(r.setu, r.maxu),
		or(r.set, r.minf), or(r.set, r.maxf), or(r.nu > 0, r.su)}
}

// rowBatch is a random batch of rowSchema over keys [0, keys), with nulls (or none, as
// batches without nulls take other paths) and NaN; it folds its rows into ref.
func rowBatch(mem memory.Allocator, rng *rand.Rand, n, keys int, nulls bool, ref map[int64]*rowRef) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, rowSchema)
	defer b.Release()
	for range n {
		k := int64(rng.Intn(keys))
		var i, u, f any
		if !nulls || rng.Intn(6) > 0 {
			i = int64(rng.Intn(2_000_001) - 1_000_000)
		}
		if !nulls || rng.Intn(6) > 0 {
			u = uint64(rng.Uint32())
		}
		if !nulls || rng.Intn(6) > 0 {
			f = rng.NormFloat64()
			if rng.Intn(50) == 0 {
				f = math.NaN()
			}
		}
		b.Field(0).(*array.Int64Builder).Append(k)
		for c, v := range []any{i, u, f} {
			if v == nil {
				b.Field(c + 1).AppendNull()
				continue
			}
			switch x := v.(type) {
			case int64:
				b.Field(1).(*array.Int64Builder).Append(x)
			case uint64:
				b.Field(2).(*array.Uint32Builder).Append(uint32(x))
			case float64:
				b.Field(3).(*array.Float64Builder).Append(x)
			}
		}
		if ref[k] == nil {
			ref[k] = &rowRef{}
		}
		ref[k].add(i, u, f)
	}
	return b.NewRecordBatch()
}

// checkRows compares a table's results with the reference, group by group.
func checkRows(t *testing.T, mem memory.Allocator, tab *Table, ref map[int64]*rowRef, what string) {
	t.Helper()
	keys, err := tab.KeyColumns(mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.ReleaseAll(keys)
	cols, err := tab.AggColumns(mem, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.ReleaseAll(cols)
	if keys[0].Len() != len(ref) {
		t.Fatalf("%s: %d groups, want %d", what, keys[0].Len(), len(ref))
	}
	for r := range keys[0].Len() {
		k := keys[0].(*array.Int64).Value(r)
		want := ref[k].want()
		for c, col := range cols {
			var got any
			if col.IsValid(r) {
				switch a := col.(type) {
				case *array.Int64:
					got = a.Value(r)
				case *array.Uint64:
					got = a.Value(r)
				case *array.Uint32:
					got = uint64(a.Value(r))
				case *array.Float64:
					got = a.Value(r)
				default:
					t.Fatalf("%s: column %d is %s", what, c, col.DataType())
				}
			}
			same := got == want[c]
			if g, ok := got.(float64); ok && want[c] != nil {
				w := want[c].(float64)
				same = g == w || (math.IsNaN(g) && math.IsNaN(w)) || math.Abs(g-w) <= 1e-9*math.Abs(w)
			}
			if !same {
				t.Fatalf("%s: key %d, %s(%s): %v, want %v", what, k, rowAggs[c][0], rowAggs[c][1], got, want[c])
			}
		}
	}
}

// The row layout against a plain reference: a table fed throughout, one asked for its
// results halfway (it goes on in the accumulators' arrays), one reset and fed again, and
// one that merges the partial states of two others.
func TestRowLayoutAgainstReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	for _, keys := range []int{1, 37, 5000} {
		rng := rand.New(rand.NewSource(int64(keys)))
		whole, halfway, p1, p2, merged := rowTable(t, rowAggs), rowTable(t, rowAggs), rowTable(t, rowAggs), rowTable(t, rowAggs), rowTable(t, rowAggs)
		for _, tab := range []*Table{whole, halfway, p1, p2, merged} {
			if tab.slab == nil {
				t.Fatal("the aggregations under test are not in the row layout")
			}
		}
		ref := map[int64]*rowRef{}
		const batches = 8
		for b := range batches {
			rec := rowBatch(mem, rng, 1+rng.Intn(3000), keys, b%3 != 0, ref)
			seq := runtime.MakeSeq(0, int64(b), 0)
			for _, tab := range []*Table{whole, halfway, []*Table{p1, p2}[b%2]} {
				if _, err := tab.Consume(ec, rec, seq); err != nil {
					t.Fatal(err)
				}
			}
			rec.Release()
			if b == batches/2 {
				checkRows(t, mem, halfway, ref, "halfway")
				if halfway.slab != nil {
					t.Fatal("a table whose results were read is still in the row layout")
				}
			}
		}
		if whole.slab == nil {
			t.Fatal("a table only fed rows left the row layout")
		}
		schema := PartialSchema(whole.keyTypes, whole.aggs)
		for _, p := range []*Table{p1, p2} {
			rec, err := p.PartialBatch(mem, schema)
			if err != nil {
				t.Fatal(err)
			}
			if err := merged.MergePartial(ec, rec); err != nil {
				t.Fatal(err)
			}
			rec.Release()
		}
		if merged.slab == nil {
			t.Fatal("merging partial states left the row layout")
		}
		checkRows(t, mem, whole, ref, "whole")
		checkRows(t, mem, halfway, ref, "halfway, then in arrays")
		checkRows(t, mem, merged, ref, "merged partial states")

		// Reset keeps the slab's memory and starts from zero.
		p1.Reset()
		ref = map[int64]*rowRef{}
		rec := rowBatch(mem, rng, 2000, keys, false, ref)
		if _, err := p1.Consume(ec, rec, runtime.MakeSeq(0, 99, 0)); err != nil {
			t.Fatal(err)
		}
		rec.Release()
		if p1.slab == nil {
			t.Fatal("a reset table is not in the row layout")
		}
		checkRows(t, mem, p1, ref, "reset")
		for _, tab := range []*Table{whole, halfway, p1, p2, merged} {
			tab.Release()
		}
	}
}

// A group's words are padded to a power of two up to a cache line; aggregations outside
// the row layout keep the table out of it.
func TestRowLayoutStride(t *testing.T) {
	for _, c := range []struct {
		aggs   [][2]string
		stride int // 0: no row layout
	}{
		{[][2]string{{"count", ""}}, 1},
		{[][2]string{{"count", ""}, {"max", "i"}}, 4},
		{[][2]string{{"count", ""}, {"sum", "f"}, {"max", "i"}, {"max", "f"}}, 8},
		{rowAggs, 15},
		{[][2]string{{"count", ""}, {"first", "i"}}, 0},
		{[][2]string{{"mean", "i"}}, 0},                                       // summed exactly, spilling into decimals
		{append(append([][2]string{}, rowAggs...), [2]string{"sum", "f"}), 0}, // 17 words
	} {
		tab := rowTable(t, c.aggs)
		got := 0
		if tab.slab != nil {
			got = tab.slab.stride
		}
		if got != c.stride {
			t.Errorf("%v: stride %d, want %d", c.aggs, got, c.stride)
		}
		tab.Release()
	}
}

// An integer sum that leaves int64 is an error naming the aggregation, in the row layout
// as in the arrays.
func TestRowLayoutSumOverflow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	tab := rowTable(t, [][2]string{{"count", ""}, {"sum", "i"}})
	defer tab.Release()
	b := array.NewRecordBuilder(mem, rowSchema)
	for _, v := range []int64{math.MaxInt64, 1} {
		b.Field(0).(*array.Int64Builder).Append(7)
		b.Field(1).(*array.Int64Builder).Append(v)
		b.Field(2).AppendNull()
		b.Field(3).AppendNull()
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	_, err := tab.Consume(ec, rec, runtime.MakeSeq(0, 0, 0))
	if err == nil || !strings.Contains(err.Error(), "overflows int64") || !strings.Contains(err.Error(), "aa") {
		t.Fatalf("err = %v, want the overflow of sum aa", err)
	}
}
