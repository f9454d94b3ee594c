package keyed_test

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

func stringKeys(mem memory.Allocator, n, from int) arrow.Array {
	b := array.NewStringBuilder(mem)
	defer b.Release()
	for i := 0; i < n; i++ {
		if i%97 == 0 {
			b.AppendNull()
			continue
		}
		b.Append(fmt.Sprintf("user-%08d", from+i))
	}
	return b.NewArray()
}

// Grouping string keys allocates per batch, not per row: a batch of 10,000 known keys
// allocates nothing, a batch of 10,000 new keys a handful of times (the key arena's
// growth, the new groups' key values: far fewer than rows), with or without carried
// hashes.
func TestGrouperStringKeysDoNotAllocatePerRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	const n = 10_000
	g := keyed.NewGrouper([]arrow.DataType{arrow.BinaryTypes.String})
	defer g.Release()
	known := stringKeys(mem, n, 0)
	defer known.Release()
	ids := make([]uint32, n)
	hs := make([]uint64, n)
	expr.HashColumns([]arrow.Array{known}, hs)
	if err := g.Consume(ctx, []arrow.Array{known}, ids); err != nil {
		t.Fatal(err)
	}
	groups := g.NumGroups()
	for name, h := range map[string][]uint64{"hashed here": nil, "carried hashes": hs} {
		allocs := testing.AllocsPerRun(5, func() {
			if err := g.ConsumeHashed(ctx, []arrow.Array{known}, h, ids); err != nil {
				t.Fatal(err)
			}
		})
		if allocs > 0 || g.NumGroups() != groups {
			t.Errorf("%s: a batch of known keys allocated %.0f times (groups %d, want %d)", name, allocs, g.NumGroups(), groups)
		}
	}
	// AllocsPerRun runs the function once more than asked, to warm up.
	fresh := make([]arrow.Array, 6)
	for i := range fresh {
		fresh[i] = stringKeys(mem, n, (i+1)*n)
		defer fresh[i].Release()
	}
	next := 0
	allocs := testing.AllocsPerRun(len(fresh)-1, func() {
		if err := g.Consume(ctx, []arrow.Array{fresh[next]}, ids); err != nil {
			t.Fatal(err)
		}
		next++
	})
	// Per-row allocation would be n or more; the table's and arena's growth and the new
	// keys' column chunk are a few dozen.
	if allocs > n/20 || g.NumGroups() < groups+len(fresh)*(n-n/97-1) {
		t.Errorf("a batch of %d new keys allocated %.0f times (%d groups)", n, allocs, g.NumGroups())
	}
	t.Logf("a batch of %d new string keys: %.0f allocations", n, allocs)
}

// Lookup finds exactly the keys a grouper has seen, with the ids Consume gave them, and
// adds none: for each key mode (one integer key, one string key, several keys), with
// nulls, against a map of the keys consumed.
func TestGrouperLookupFindsOnlySeenKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	const n = 3000
	build := func(from int, kind string) []arrow.Array {
		ib := array.NewInt64Builder(mem)
		sb := array.NewStringBuilder(mem)
		defer ib.Release()
		defer sb.Release()
		for i := 0; i < n; i++ {
			v := from + i*7%n
			if i%101 == 0 {
				ib.AppendNull()
				sb.AppendNull()
				continue
			}
			ib.Append(int64(v))
			sb.Append(fmt.Sprintf("k%d", v))
		}
		switch kind {
		case "int":
			return []arrow.Array{ib.NewArray()}
		case "string":
			return []arrow.Array{sb.NewArray()}
		}
		return []arrow.Array{ib.NewArray(), sb.NewArray()}
	}
	key := func(cols []arrow.Array, row int) string {
		s := ""
		for _, c := range cols {
			if c.IsNull(row) {
				s += "|null"
			} else {
				s += "|" + c.ValueStr(row)
			}
		}
		return s
	}
	for _, kind := range []string{"int", "string", "several"} {
		t.Run(kind, func(t *testing.T) {
			seen := build(0, kind) // keys 0..n-1 and null
			probe := build(n/2, kind)
			defer func() {
				for _, c := range append(seen, probe...) {
					c.Release()
				}
			}()
			types := make([]arrow.DataType, len(seen))
			for i, c := range seen {
				types[i] = c.DataType()
			}
			g := keyed.NewGrouper(types)
			defer g.Release()
			ids := make([]uint32, n)
			if err := g.Consume(ctx, seen, ids); err != nil {
				t.Fatal(err)
			}
			want := map[string]uint32{}
			for row, id := range ids {
				want[key(seen, row)] = id
			}
			groups := g.NumGroups()
			g.Lookup(probe, ids)
			found := 0
			for row, id := range ids {
				w, ok := want[key(probe, row)]
				if !ok {
					w = keyed.NoGroup
				} else {
					found++
				}
				if id != w {
					t.Fatalf("row %d key %s: Lookup gave %d, want %d", row, key(probe, row), id, w)
				}
			}
			if g.NumGroups() != groups || found == 0 || found == n {
				t.Errorf("groups %d -> %d, %d of %d probe keys found", groups, g.NumGroups(), found, n)
			}
		})
	}
}

// A grouper that is Reset gives the same ids as a new one, and keeps its table's size.
func TestGrouperResetIsLikeNew(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	for _, typ := range []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String} {
		t.Run(typ.String(), func(t *testing.T) {
			first, second := stringKeys(mem, 5000, 0), stringKeys(mem, 3000, 2000)
			if typ.ID() == arrow.INT64 {
				s1, s2 := first, second
				first, second = lengths(mem, s1), lengths(mem, s2)
				s1.Release()
				s2.Release()
			}
			defer first.Release()
			defer second.Release()
			used := keyed.NewGrouper([]arrow.DataType{typ})
			defer used.Release()
			ids := make([]uint32, first.Len())
			if err := used.Consume(ctx, []arrow.Array{first}, ids); err != nil {
				t.Fatal(err)
			}
			before := used.MemBytes()
			used.Reset()
			fresh := keyed.NewGrouper([]arrow.DataType{typ})
			defer fresh.Release()
			got, want := make([]uint32, second.Len()), make([]uint32, second.Len())
			if err := used.Consume(ctx, []arrow.Array{second}, got); err != nil {
				t.Fatal(err)
			}
			if err := fresh.Consume(ctx, []arrow.Array{second}, want); err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("row %d: id %d after Reset, %d from a new grouper", i, got[i], want[i])
				}
			}
			if used.NumGroups() != fresh.NumGroups() || used.MemBytes() < before/2 {
				t.Fatalf("groups %d vs %d; memory %d before Reset, %d after", used.NumGroups(), fresh.NumGroups(), before, used.MemBytes())
			}
		})
	}
}

// lengths is an int64 column of the lengths of a string column's values (nulls kept).
func lengths(mem memory.Allocator, a arrow.Array) arrow.Array {
	s := a.(*array.String)
	b := array.NewInt64Builder(mem)
	defer b.Release()
	for i := 0; i < s.Len(); i++ {
		if s.IsNull(i) {
			b.AppendNull()
		} else {
			b.Append(int64(len(s.Value(i)) * (i % 50)))
		}
	}
	return b.NewArray()
}

// Several integer-like key columns (int64, int32, date32, uint64 past int64, timestamps)
// are grouped as int64 words: against a map of the keys as text, over batches (with the
// rows' hashes carried and not), nulls distinct from zeros in every column, with Lookup,
// and after Free (the table rebuilt from the groups); 2 to 5 columns (5 take the byte
// encoding).
func TestGrouperIntegerKeyColumnsAgainstMap(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	r := rand.New(rand.NewSource(5))
	types := []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Int32, arrow.FixedWidthTypes.Date32,
		arrow.PrimitiveTypes.Uint64, arrow.FixedWidthTypes.Timestamp_us}
	batch := func(cols, n int) []arrow.Array {
		out := make([]arrow.Array, cols)
		for c := range cols {
			b := array.NewBuilder(mem, types[c])
			for range n {
				v := r.Intn(3) // few values per column: keys repeat
				if r.Intn(7) == 0 {
					b.AppendNull()
					continue
				}
				switch bb := b.(type) {
				case *array.Int64Builder:
					bb.Append(int64(v) - 1)
				case *array.Int32Builder:
					bb.Append(int32(v))
				case *array.Date32Builder:
					bb.Append(arrow.Date32(v * 365))
				case *array.Uint64Builder:
					bb.Append(uint64(v) << 63)
				case *array.TimestampBuilder:
					bb.Append(arrow.Timestamp(v))
				}
			}
			out[c] = b.NewArray()
			b.Release()
		}
		return out
	}
	text := func(cols []arrow.Array, row int) string {
		s := ""
		for _, c := range cols {
			s += "|" + c.ValueStr(row) // "(null)" for nulls
		}
		return s
	}
	for cols := 2; cols <= 5; cols++ {
		t.Run(fmt.Sprint(cols, " columns"), func(t *testing.T) {
			g := keyed.NewGrouper(types[:cols])
			defer g.Release()
			want := map[string]uint32{}
			for round := range 4 {
				keys := batch(cols, 500)
				ids := make([]uint32, 500)
				var hs []uint64
				if round%2 == 1 {
					hs = make([]uint64, 500)
					expr.HashColumns(keys, hs)
				}
				if round == 2 {
					g.Free() // its table goes; the next Consume rebuilds it from the groups
				}
				if err := g.ConsumeHashed(ctx, keys, hs, ids); err != nil {
					t.Fatal(err)
				}
				checkConsumed(t, fmt.Sprint("round ", round), want, ids, func(row int) string { return text(keys, row) })
				runtime.ReleaseAll(keys)
			}
			if g.NumGroups() != len(want) {
				t.Fatalf("%d groups, want %d", g.NumGroups(), len(want))
			}
			probe := batch(cols, 300)
			defer runtime.ReleaseAll(probe)
			ids := make([]uint32, 300)
			g.Lookup(probe, ids)
			checkLookedUp(t, want, ids, func(row int) string { return text(probe, row) })
		})
	}
}

// Runs of one integer key (input sorted or clustered by it) take the previous row's group
// without a probe: Consume and Lookup over runs broken by nulls, over a table growing
// within a run, give what a map gives, and Lookup a run of an unseen key NoGroup. Keys
// close together are grouped directly; keys spread wide are hashed (Lookup probes them a
// chunk at a time, runs crossing chunks).
func TestGrouperIntegerKeyRunsAgainstMap(t *testing.T) {
	for _, stride := range []int64{2, 1 << 40} {
		t.Run(fmt.Sprint("stride ", stride), func(t *testing.T) { testIntegerKeyRuns(t, stride) })
	}
}

func testIntegerKeyRuns(t *testing.T, stride int64) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	r := rand.New(rand.NewSource(9))
	runs := func(n int, odd bool) arrow.Array {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for b.Len() < n {
			if r.Intn(50) == 0 {
				for range 300 { // a run longer than Lookup's chunk
					b.Append(-stride)
				}
				continue
			}
			v := int64(r.Intn(5000)) * stride
			if odd && r.Intn(3) == 0 {
				v++ // a key the grouper has not seen
			}
			for k := r.Intn(6); k >= 0 && b.Len() < n; k-- {
				if r.Intn(9) == 0 {
					b.AppendNull()
				}
				b.Append(v)
			}
		}
		return b.NewArray()
	}
	text := func(a arrow.Array, i int) string { return a.ValueStr(i) }
	g := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer g.Release()
	want := map[string]uint32{}
	for range 3 {
		keys := runs(4000, false)
		ids := make([]uint32, keys.Len())
		if err := g.Consume(ctx, []arrow.Array{keys}, ids); err != nil {
			t.Fatal(err)
		}
		checkConsumed(t, "", want, ids, func(row int) string { return text(keys, row) })
		keys.Release()
	}
	probe := runs(4000, true)
	defer probe.Release()
	ids := make([]uint32, probe.Len())
	g.Lookup([]arrow.Array{probe}, ids)
	checkLookedUp(t, want, ids, func(row int) string { return text(probe, row) })
}

// checkConsumed checks the ids Consume gave rows (whose keys key renders) against want,
// the ids of the keys seen so far, which gets the new keys in order of first appearance.
func checkConsumed(t *testing.T, what string, want map[string]uint32, ids []uint32, key func(int) string) {
	t.Helper()
	for row, id := range ids {
		k := key(row)
		w, ok := want[k]
		if !ok {
			w = uint32(len(want))
			want[k] = w
		}
		if id != w {
			t.Fatalf("%s row %d key %s: id %d, want %d", what, row, k, id, w)
		}
	}
}

// checkLookedUp checks the ids Lookup gave rows against want: NoGroup for unseen keys.
func checkLookedUp(t *testing.T, want map[string]uint32, ids []uint32, key func(int) string) {
	t.Helper()
	for row, id := range ids {
		w, ok := want[key(row)]
		if !ok {
			w = keyed.NoGroup
		}
		if id != w {
			t.Fatalf("Lookup row %d key %s: %d, want %d", row, key(row), id, w)
		}
	}
}

// One integer key grouped directly (keys of a small span: direct.go) gets the ids a map
// gives, through batches that fit the span, widen it, carry nulls (hashed, their new
// keys entering the span), lie far outside it (hashing from then on), and keys whose
// span fits only once the table has grown; Lookup agrees inside and outside the span,
// and after Reset and Free the grouper is like new. Groups added directly enter the hash
// table only when it is needed.
func TestGrouperDirectSpansAgainstMap(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	r := rand.New(rand.NewSource(3))
	batch := func(n int, lo, span int64, nulls bool) arrow.Array {
		b := array.NewInt64Builder(mem)
		defer b.Release()
		for i := 0; i < n; i++ {
			if nulls && i%13 == 0 {
				b.AppendNull()
				continue
			}
			b.Append(lo + r.Int63n(span))
		}
		return b.NewArray()
	}
	text := func(a arrow.Array, i int) string { return a.ValueStr(i) }
	type step struct {
		what     string
		lo, span int64
		nulls    bool
		direct   bool // grouped directly after the step
	}
	run := func(t *testing.T, g *keyed.Grouper, steps []step) map[string]uint32 {
		want := map[string]uint32{}
		for _, s := range steps {
			keys := batch(3000, s.lo, s.span, s.nulls)
			ids := make([]uint32, keys.Len())
			if err := g.Consume(ctx, []arrow.Array{keys}, ids); err != nil {
				t.Fatal(err)
			}
			checkConsumed(t, s.what, want, ids, func(row int) string { return text(keys, row) })
			keys.Release()
			if got := keyed.DirectSpan(g) > 0; got != s.direct {
				t.Fatalf("%s: grouped directly %v, want %v", s.what, got, s.direct)
			}
			probe := batch(3000, s.lo-50, s.span+100, true)
			ids = make([]uint32, probe.Len())
			g.Lookup([]arrow.Array{probe}, ids)
			checkLookedUp(t, want, ids, func(row int) string { return text(probe, row) })
			probe.Release()
		}
		return want
	}
	g := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer g.Release()
	run(t, g, []step{
		{"in a span", 100, 1000, false, true},
		{"widening it", 40, 1200, false, true},
		{"with nulls", 0, 1500, true, true},
		{"in the span again", 0, 1500, false, true},
		{"negative keys", -500, 1000, false, true},
		{"far away", 1 << 40, 1000, false, false},
		{"back in the span", 0, 1000, false, false},
	})
	g.Reset()
	run(t, g, []step{{"after Reset", 0, 500, false, false}})

	grown := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer grown.Release()
	var steps []step
	for i := range 8 {
		steps = append(steps, step{fmt.Sprintf("batch %d of 40,000 keys", i), 7, 40_000, false, i >= 2}) // a table for the groups has 16,384 slots from the third batch on
	}
	run(t, grown, steps)
	grown.Free()

	// Keys that grow batch by batch, upward then downward, widen the span again and again.
	growing := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer growing.Release()
	steps = nil
	for i := range 12 {
		steps = append(steps, step{fmt.Sprintf("upward %d", i), int64(i) * 2000, 2000, false, true})
	}
	for i := range 6 {
		steps = append(steps, step{fmt.Sprintf("downward %d", i), -int64(i+1) * 2000, 2000, false, true})
	}
	run(t, growing, steps)

	// Upward only, the span widens again and again; batches with nulls (hashed) between
	// them put their groups in it too, those beyond it as well once it widens past them.
	upward := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer upward.Release()
	steps = nil
	for i := range 16 {
		steps = append(steps, step{fmt.Sprintf("upward %d (nulls %v)", i, i%3 == 1), int64(i) * 1500, 2500, i%3 == 1, true})
	}
	run(t, upward, steps)

	// A span widened downward keeps room below its keys; widened upward past that room
	// again, it is rebuilt around the groups' keys (11.5M), not around the room it had
	// (19M keys, more than maxDirect: hashing from then on, a table out of the caches).
	wide := keyed.NewGrouperSized([]arrow.DataType{arrow.PrimitiveTypes.Int64}, 1_700_000) // room for a 16M span
	defer wide.Release()
	run(t, wide, []step{
		{"4M keys from 5M", 5_000_000, 4_000_000, false, true},
		{"widened down to 4M", 4_000_000, 4_000_000, false, true},
		{"widened down to 0.5M", 500_000, 8_000_000, false, true},
		{"widened up to 12M", 500_000, 11_500_000, false, true},
	})
	wide.Free()

	// Grouped directly and looked up within the span only, no group is put in the hash
	// table; a key looked up outside the span puts them all in, and hashing goes on.
	lazy := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer lazy.Release()
	want := map[string]uint32{}
	for i := range 6 {
		keys := batch(3000, 1000, 3000, false)
		ids := make([]uint32, keys.Len())
		if err := lazy.Consume(ctx, []arrow.Array{keys}, ids); err != nil {
			t.Fatal(err)
		}
		checkConsumed(t, fmt.Sprintf("lazy %d", i), want, ids, func(row int) string { return text(keys, row) })
		lazy.Lookup([]arrow.Array{keys}, ids)
		checkLookedUp(t, want, ids, func(row int) string { return text(keys, row) })
		keys.Release()
	}
	if n := keyed.IndexedGroups(lazy); n != 0 {
		t.Fatalf("%d groups put in the hash table, want none", n)
	}
	for _, s := range []step{{"outside", 0, 10_000, true, false}, {"far", 1 << 40, 1000, false, false}} {
		probe := batch(3000, s.lo, s.span, s.nulls)
		ids := make([]uint32, probe.Len())
		lazy.Lookup([]arrow.Array{probe}, ids)
		checkLookedUp(t, want, ids, func(row int) string { return text(probe, row) })
		if n := keyed.IndexedGroups(lazy); n != len(want) {
			t.Fatalf("%d groups in the hash table after a lookup outside the span, want %d", n, len(want))
		}
		if err := lazy.Consume(ctx, []arrow.Array{probe}, ids); err != nil {
			t.Fatal(err)
		}
		checkConsumed(t, s.what, want, ids, func(row int) string { return text(probe, row) })
		probe.Release()
	}
	fresh := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer fresh.Release()
	fresh.Free()
	run(t, fresh, []step{{"after Free", 0, 800, false, true}, {"more", 0, 900, false, true}})
}

// A hashed batch (it has a null) with a key near the int64 minimum, then batches whose
// keys are grouped directly and widen the span: the span needed from the groups' keys
// would overflow, so the grouper hashes from then on, and every key keeps its group (the
// span's index overflowed: a panic, index out of range).
func TestGrouperDirectSpanWithExtremeHashedKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	g := keyed.NewGrouper([]arrow.DataType{arrow.PrimitiveTypes.Int64})
	defer g.Release()
	want := map[string]uint32{}
	for _, keys := range [][]*int64{
		{ptr(math.MinInt64), nil, ptr(math.MinInt64 + 3)},
		ints(0, 100), ints(200, 300), ints(-50, 350), {ptr(math.MaxInt64), ptr(7)},
	} {
		b := array.NewInt64Builder(mem)
		for _, k := range keys {
			if k == nil {
				b.AppendNull()
			} else {
				b.Append(*k)
			}
		}
		col := b.NewArray()
		b.Release()
		ids := make([]uint32, col.Len())
		if err := g.Consume(ctx, []arrow.Array{col}, ids); err != nil {
			t.Fatal(err)
		}
		checkConsumed(t, "extreme keys", want, ids, func(row int) string { return col.ValueStr(row) })
		col.Release()
	}
}

func ptr(v int64) *int64 { return &v }

func ints(lo, hi int64) []*int64 {
	var out []*int64
	for v := lo; v < hi; v++ {
		out = append(out, ptr(v))
	}
	return out
}

// KeysFor gives the keys of any list of groups (in id order, shuffled, repeated, one
// group, none), over key columns kept in many chunks (a chunk per batch of new groups),
// the keys Consume first saw for those ids.
func TestGrouperKeysForAgainstSeenKeys(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := expr.NewEvalCtx(context.Background(), mem).Ctx
	r := rand.New(rand.NewSource(11))
	types := []arrow.DataType{arrow.BinaryTypes.String, arrow.PrimitiveTypes.Int64}
	g := keyed.NewGrouper(types)
	defer g.Release()
	var seen []string // the key of each group id, as first seen
	for range 12 {
		sb, ib := array.NewStringBuilder(mem), array.NewInt64Builder(mem)
		for range 200 {
			v := r.Intn(3000)
			sb.Append(fmt.Sprint("k", v%50))
			if v%13 == 0 {
				ib.AppendNull()
			} else {
				ib.Append(int64(v / 50))
			}
		}
		keys := []arrow.Array{sb.NewArray(), ib.NewArray()}
		sb.Release()
		ib.Release()
		ids := make([]uint32, 200)
		if err := g.Consume(ctx, keys, ids); err != nil {
			t.Fatal(err)
		}
		for row, id := range ids {
			if int(id) == len(seen) {
				seen = append(seen, keys[0].ValueStr(row)+"|"+keys[1].ValueStr(row))
			}
		}
		runtime.ReleaseAll(keys)
	}
	n := len(seen)
	all := make([]uint32, n)
	for i := range all {
		all[i] = uint32(i)
	}
	shuffled := append([]uint32(nil), all...)
	r.Shuffle(n, func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	repeated := []uint32{uint32(n - 1), 0, uint32(n - 1), 3, 3, uint32(n / 2)}
	for name, gids := range map[string][]uint32{"in order": all, "shuffled": shuffled, "repeated": repeated,
		"one": {uint32(n / 3)}, "none": {}, "the last chunk": all[n-5:]} {
		cols, err := g.KeysFor(ctx, types, gids)
		if err != nil {
			t.Fatal(name, err)
		}
		if cols[0].Len() != len(gids) {
			t.Fatalf("%s: %d keys for %d groups", name, cols[0].Len(), len(gids))
		}
		for i, id := range gids {
			if got := cols[0].ValueStr(i) + "|" + cols[1].ValueStr(i); got != seen[id] {
				t.Fatalf("%s: group %d: key %s, want %s", name, id, got, seen[id])
			}
		}
		runtime.ReleaseAll(cols)
	}
}
