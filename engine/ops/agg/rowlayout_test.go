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
	{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "n", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
}, nil)

// rowAggs are the aggregations under test (function, column; "" for count()): every kind
// the row layout holds, 15 words a group, each output 64-bit (built straight from the
// slab).
var rowAggs = [][2]string{{"count", ""}, {"count", "i"}, {"mean", "f"}, {"sum", "i"},
	{"min", "i"}, {"max", "i"}, {"min", "u"}, {"max", "u"}, {"min", "f"}, {"max", "f"}, {"sum", "u"}}

// narrowAggs have outputs narrower than 64 bits (int32): their results come from the
// accumulators' arrays, the slab unpacked first.
var narrowAggs = [][2]string{{"count", ""}, {"min", "n"}, {"max", "n"}, {"sum", "f"}}

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

// extremes is a reference min and max under an order (below).
type extremes[T any] struct {
	set      bool
	min, max T
}

func (e *extremes[T]) add(v T, below func(a, b T) bool) {
	if !e.set || below(v, e.min) {
		e.min = v
	}
	if !e.set || below(e.max, v) {
		e.max = v
	}
	e.set = true
}

func intBelow[T int64 | uint64](a, b T) bool { return a < b }

// rowRef is the plain reference of rowAggs for one group.
type rowRef struct {
	n, ni, nf, nu int64
	sf            float64
	su            uint64
	sumI          int64
	ei, en        extremes[int64]
	eu            extremes[uint64]
	ef            extremes[float64]
}

func (r *rowRef) add(i, u, f, n any) {
	r.n++
	if v, ok := n.(int64); ok {
		r.en.add(v, intBelow)
	}
	if v, ok := i.(int64); ok {
		r.ni++
		r.sumI += v
		r.ei.add(v, intBelow)
	}
	if v, ok := u.(uint64); ok {
		r.nu++
		r.su += v
		r.eu.add(v, intBelow)
	}
	if v, ok := f.(float64); ok {
		r.nf++
		r.sf += v
		r.ef.add(v, floatBelow)
	}
}

// floatBelow orders NaN above every number.
func floatBelow(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return !math.IsNaN(a) && math.IsNaN(b)
	}
	return a < b
}

// want is the reference's value of aggregation a (nil for null).
func (r *rowRef) want(a [2]string) any {
	or := func(ok bool, v any) any {
		if ok {
			return v
		}
		return nil
	}
	switch a[0] + " " + a[1] {
	case "count ":
		return r.n
	case "count i":
		return r.ni
	case "sum f":
		return or(r.nf > 0, r.sf)
	case "mean f":
		return or(r.nf > 0, r.sf/float64(r.nf))
	case "sum i":
		return or(r.ni > 0, r.sumI)
	case "sum u":
		return or(r.nu > 0, r.su)
	case "min i":
		return or(r.ei.set, r.ei.min)
	case "max i":
		return or(r.ei.set, r.ei.max)
	case "min u":
		return or(r.eu.set, r.eu.min)
	case "max u":
		return or(r.eu.set, r.eu.max)
	case "min f":
		return or(r.ef.set, r.ef.min)
	case "max f":
		return or(r.ef.set, r.ef.max)
	case "min n":
		return or(r.en.set, r.en.min)
	case "max n":
		return or(r.en.set, r.en.max)
	}
	panic(a)
}

// rowBatch is a random batch of rowSchema over keys [0, keys), with nulls (or none, as
// batches without nulls take other paths) and NaN; it folds its rows into ref.
func rowBatch(mem memory.Allocator, rng *rand.Rand, n, keys int, nulls bool, ref map[int64]*rowRef) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, rowSchema)
	defer b.Release()
	for range n {
		k := int64(rng.Intn(keys))
		var i, u, f, m any
		if !nulls || rng.Intn(6) > 0 {
			i = int64(rng.Intn(2_000_001) - 1_000_000)
		}
		if !nulls || rng.Intn(6) > 0 {
			m = int64(int32(rng.Uint32()))
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
		for c, v := range []any{i, u, f, m} {
			if v == nil {
				b.Field(c + 1).AppendNull()
				continue
			}
			switch x := v.(type) {
			case int64:
				if c == 3 {
					b.Field(4).(*array.Int32Builder).Append(int32(x))
				} else {
					b.Field(1).(*array.Int64Builder).Append(x)
				}
			case uint64:
				b.Field(2).(*array.Uint64Builder).Append(x)
			case float64:
				b.Field(3).(*array.Float64Builder).Append(x)
			}
		}
		if ref[k] == nil {
			ref[k] = &rowRef{}
		}
		ref[k].add(i, u, f, m)
	}
	return b.NewRecordBatch()
}

// checkRows compares the results of a table of aggregations aggs with the reference,
// group by group.
func checkRows(t *testing.T, mem memory.Allocator, tab *Table, aggs [][2]string, ref map[int64]*rowRef, what string) {
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
		for c, col := range cols {
			want := ref[k].want(aggs[c])
			var got any
			if col.IsValid(r) {
				switch a := col.(type) {
				case *array.Int64:
					got = a.Value(r)
				case *array.Uint64:
					got = a.Value(r)
				case *array.Int32:
					got = int64(a.Value(r))
				case *array.Float64:
					got = a.Value(r)
				default:
					t.Fatalf("%s: column %d is %s", what, c, col.DataType())
				}
			}
			same := got == want
			if g, ok := got.(float64); ok && want != nil {
				w := want.(float64)
				same = g == w || (math.IsNaN(g) && math.IsNaN(w)) || math.Abs(g-w) <= 1e-9*math.Abs(w)
			}
			if !same {
				t.Fatalf("%s: key %d, %s(%s): %v, want %v", what, k, aggs[c][0], aggs[c][1], got, want)
			}
		}
	}
}

// The row layout against a plain reference: a table fed throughout, one moved to the
// accumulators' arrays halfway (it goes on in them), one reset and fed again, and one
// that merges the partial states of two others; with outputs built straight from the
// slab (rowAggs) and from the arrays (narrowAggs).
func TestRowLayoutAgainstReference(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	for _, aggs := range [][][2]string{rowAggs, narrowAggs} {
		for _, keys := range []int{1, 37, 5000} {
			rowLayoutCase(t, mem, ec, aggs, keys)
		}
	}
}

func rowLayoutCase(t *testing.T, mem memory.Allocator, ec *expr.EvalCtx, aggs [][2]string, keys int) {
	rng := rand.New(rand.NewSource(int64(keys)))
	whole, halfway, p1, p2, merged := rowTable(t, aggs), rowTable(t, aggs), rowTable(t, aggs), rowTable(t, aggs), rowTable(t, aggs)
	saved, restored := rowTable(t, aggs), rowTable(t, aggs)
	defer func() {
		for _, tab := range []*Table{whole, halfway, p1, p2, merged, saved, restored} {
			tab.Release()
		}
	}()
	for _, tab := range []*Table{whole, halfway, p1, p2, merged, saved} {
		if tab.slab == nil {
			t.Fatal("the aggregations under test are not in the row layout")
		}
	}
	ref := map[int64]*rowRef{}
	const batches = 8
	for b := range batches {
		rec := rowBatch(mem, rng, 1+rng.Intn(3000), keys, b%3 != 0, ref)
		seq := runtime.MakeSeq(0, int64(b), 0)
		for _, tab := range []*Table{whole, halfway, saved, []*Table{p1, p2}[b%2]} {
			if _, err := tab.Consume(ec, rec, seq); err != nil {
				t.Fatal(err)
			}
		}
		rec.Release()
		if b == batches/2 {
			halfway.Accs()
			if halfway.slab != nil {
				t.Fatal("a table whose accumulators were asked for is still in the row layout")
			}
			checkRows(t, mem, halfway, aggs, ref, "halfway")
			// A checkpoint's save reads the states and leaves the table in the row layout;
			// what it saved is the states of that moment.
			keyCols, accCols, err := saved.SaveGroups(mem, nil)
			if err != nil {
				t.Fatal(err)
			}
			if saved.slab == nil {
				t.Fatal("saving the groups left the row layout")
			}
			if _, err := restored.LoadGroups(ec.Ctx, keyCols, accCols); err != nil {
				t.Fatal(err)
			}
			runtime.ReleaseAll(keyCols)
			runtime.ReleaseAll(accCols)
			checkRows(t, mem, restored, aggs, ref, "saved halfway, loaded")
		}
	}
	if saved.slab == nil {
		t.Fatal("a table saved halfway left the row layout")
	}
	checkRows(t, mem, saved, aggs, ref, "saved halfway, then fed the rest")
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
	checkRows(t, mem, whole, aggs, ref, "whole")
	checkRows(t, mem, halfway, aggs, ref, "halfway, then in arrays")
	checkRows(t, mem, merged, aggs, ref, "merged partial states")

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
	checkRows(t, mem, p1, aggs, ref, "reset")
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
		b.Field(4).AppendNull()
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()
	// The running total leaves int64 while rows are folded in; the whole sum is checked
	// at the result (TestIntegerSumsInAnyOrder).
	if _, err := tab.Consume(ec, rec, runtime.MakeSeq(0, 0, 0)); err != nil {
		t.Fatal(err)
	}
	_, err := tab.AggColumns(mem, nil)
	if err == nil || !strings.Contains(err.Error(), "overflows int64") || !strings.Contains(err.Error(), "aa") {
		t.Fatalf("err = %v, want the overflow of sum aa", err)
	}
}

// A global aggregation over no rows has one group without a row (count 0, the others
// null): its results come from a slab that never grew.
func TestRowLayoutGroupWithoutRows(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	for _, aggs := range [][][2]string{rowAggs, narrowAggs} {
		tab := NewTable("test", nil, nil, rowSpecs(t, aggs))
		if tab.slab == nil {
			t.Fatal("not in the row layout")
		}
		cols, err := tab.AggColumns(mem, []uint32{0})
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range cols {
			wantNull := aggs[i][0] != "count"
			if c.Len() != 1 || c.IsNull(0) != wantNull {
				t.Errorf("%v: %v, want one value, null %v", aggs[i], c, wantNull)
			}
			if !wantNull && c.(*array.Int64).Value(0) != 0 {
				t.Errorf("%v: %v, want 0", aggs[i], c)
			}
		}
		runtime.ReleaseAll(cols)
		tab.Release()
	}
}
