package agg

import (
	"context"
	"math"
	"math/big"
	"math/rand"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// An integer sum fails only when the whole sum leaves its type, whatever the order of
// its rows and however they split: into tables merged by partial states, into groups
// merged (sessions), through a save and load, with rows retracted. In the row layout
// (sum alone) and out of it (beside a mean of integers). The reference sums in big.Int.
func TestIntegerSumsInAnyOrder(t *testing.T) {
	const mx, mn = math.MaxInt64, math.MinInt64
	intSets := [][]int64{
		{mx, 1, -5},
		{mx, mx, -mx, -mx, 3},
		{mn, -1, 2},
		{mn, mn, mx, mx, 7},
		{mx, 1},  // the whole sum overflows
		{mn, -1}, // below int64
		{mx, mx, mx, mn, mn, mn, -9},
		{1, 2, 3}, // never near the bounds
	}
	uintSets := [][]uint64{
		{math.MaxUint64, 1},
		{math.MaxUint64 - 3, 2, 1},
		{math.MaxUint64 / 2, math.MaxUint64 / 2, 1},
	}
	rng := rand.New(rand.NewSource(7))
	for _, layout := range []string{"row", "arrays"} {
		for _, vals := range intSets {
			want := new(big.Int)
			for _, v := range vals {
				want.Add(want, big.NewInt(v))
			}
			for round := range 6 {
				order := slicesShuffled(rng, vals, round)
				wideSumCase(t, layout, "i", order, nil, want)
			}
		}
		for _, vals := range uintSets {
			want := new(big.Int)
			for _, v := range vals {
				want.Add(want, new(big.Int).SetUint64(v))
			}
			for round := range 4 {
				order := slicesShuffled(rng, vals, round)
				wideSumCase(t, layout, "u", nil, order, want)
			}
		}
	}
}

func slicesShuffled[T any](rng *rand.Rand, vals []T, round int) []T {
	out := append([]T(nil), vals...)
	if round > 0 {
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	}
	return out
}

// wideSumCase sums is (column i) or us (column u) of one key every way, and checks each
// against want: its value when it fits the output type, else the overflow error.
func wideSumCase(t *testing.T, layout, col string, is []int64, us []uint64, want *big.Int) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	aggs := [][2]string{{"sum", col}}
	if layout == "arrays" {
		aggs = append(aggs, [2]string{"mean", col})
	}
	n := max(len(is), len(us))
	what := func(how string) string { return layout + " " + col + " " + how }
	newTab := func() *Table {
		tab := rowTable(t, aggs)
		if (tab.slab != nil) != (layout == "row") {
			t.Fatalf("%s: row layout %v", layout, tab.slab != nil)
		}
		return tab
	}
	// rows lo..hi as a batch of key k.
	batch := func(lo, hi int, k int64) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, rowSchema)
		defer b.Release()
		for r := lo; r < hi; r++ {
			b.Field(0).(*array.Int64Builder).Append(k)
			if is != nil {
				b.Field(1).(*array.Int64Builder).Append(is[r])
				b.Field(2).AppendNull()
			} else {
				b.Field(1).AppendNull()
				b.Field(2).(*array.Uint64Builder).Append(us[r])
			}
			b.Field(3).AppendNull()
			b.Field(4).AppendNull()
		}
		return b.NewRecordBatch()
	}
	feed := func(tab *Table, lo, hi int, k int64, oneByOne bool) {
		step := hi - lo
		if oneByOne {
			step = 1
		}
		for r := lo; r < hi; r += step {
			rec := batch(r, min(r+step, hi), k)
			_, err := tab.Consume(ec, rec, runtime.MakeSeq(0, int64(r), 0))
			rec.Release()
			if err != nil {
				t.Fatalf("%s: consume: %v", what("fed"), err)
			}
		}
	}
	check := func(tab *Table, g uint32, how string) {
		t.Helper()
		cols, err := tab.AggColumns(mem, []uint32{g})
		fits := want.IsInt64()
		if col == "u" {
			fits = want.IsUint64()
		}
		if !fits {
			if err == nil || !strings.Contains(err.Error(), "overflows") {
				t.Errorf("%s: err = %v, want an overflow (sum %s)", what(how), err, want)
			}
			runtime.ReleaseAll(cols)
			return
		}
		if err != nil {
			t.Errorf("%s: %v (want %s)", what(how), err, want)
			return
		}
		defer runtime.ReleaseAll(cols)
		var got *big.Int
		switch c := cols[0].(type) {
		case *array.Int64:
			got = big.NewInt(c.Value(0))
		case *array.Uint64:
			got = new(big.Int).SetUint64(c.Value(0))
		}
		if got == nil || got.Cmp(want) != 0 {
			t.Errorf("%s: sum %v, want %s", what(how), cols[0], want)
		}
	}

	for _, oneByOne := range []bool{true, false} {
		whole := newTab()
		feed(whole, 0, n, 7, oneByOne)
		check(whole, 0, "rows in order")
		whole.Release()
	}
	for cut := 0; cut <= n; cut++ {
		// Split over two tables, merged by partial states.
		p1, p2, merged := newTab(), newTab(), newTab()
		feed(p1, 0, cut, 7, true)
		feed(p2, cut, n, 7, true)
		schema := PartialSchema(merged.keyTypes, merged.aggs)
		for _, p := range []*Table{p1, p2} {
			rec, err := p.PartialBatch(mem, schema)
			if err != nil {
				t.Fatal(err)
			}
			if err := merged.MergePartial(ec, rec); err != nil {
				t.Fatalf("%s: %v", what("merging partial states"), err)
			}
			rec.Release()
		}
		check(merged, 0, "merged partial states")

		// Saved after the cut and loaded into another table, which takes the rest.
		restored := newTab()
		if cut > 0 {
			keys, accs, err := p1.SaveGroups(mem, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := restored.LoadGroups(ec.Ctx, keys, accs); err != nil {
				t.Fatal(err)
			}
			runtime.ReleaseAll(keys)
			runtime.ReleaseAll(accs)
		}
		feed(restored, cut, n, 7, true)
		check(restored, 0, "saved, loaded, fed the rest")

		// Two groups (keys 1 and 2) merged as sessions are.
		two := newTab()
		feed(two, 0, cut, 1, true)
		feed(two, cut, n, 2, true)
		if cut > 0 && cut < n {
			for _, a := range two.Accs() {
				a.Merge(0, 1)
			}
			check(two, 0, "groups merged")
		}
		for _, tab := range []*Table{p1, p2, merged, restored, two} {
			tab.Release()
		}
	}
	if is == nil {
		return
	}
	// Rows added, then the first ones retracted and added back: the running total
	// crosses the bounds and returns.
	tab := newTab()
	feed(tab, 0, n, 7, true)
	for r := 0; r < n; r++ {
		rec := batch(r, r+1, 7)
		ids := make([]uint32, 1)
		tab.Lookup(rec.Columns()[:1], ids)
		err := tab.Retract(ec, rec, ids)
		if err == nil {
			_, err = tab.Consume(ec, rec, runtime.MakeSeq(0, int64(n+r), 0))
		}
		rec.Release()
		if err != nil {
			t.Fatalf("%s: %v", what("retracted"), err)
		}
	}
	check(tab, 0, "retracted and added back")
	tab.Release()
}
