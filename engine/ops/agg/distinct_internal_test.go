package agg

import (
	"bytes"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// n_unique over integers (intSets) against a map of sets, through adds, merges, resets,
// saves and loads, with groups small (a block) and large (a map), and holes enough to
// compact the slab; its saved states are byte for byte those of the key-encoding path
// (the format checkpoints and partial states hold), and each path loads the other's.
func TestDistinctIntsAgainstMaps(t *testing.T) {
	const groups = 3000
	rng := rand.New(rand.NewSource(7))
	ints := newDistinctAcc(arrow.PrimitiveTypes.Int64)
	keys := newDistinctAcc(arrow.BinaryTypes.String) // the key-encoding path
	keys.ints = false
	if !ints.ints {
		t.Fatal("an int64 column should take the integer path")
	}
	want := make([]map[int64]bool, groups)
	for g := range want {
		want[g] = map[int64]bool{}
	}
	check := func(step string) {
		t.Helper()
		for g := range groups {
			if got := ints.count(uint32(g)); got != len(want[g]) {
				t.Fatalf("%s: group %d has %d distinct values, want %d", step, g, got, len(want[g]))
			}
			si, err := ints.save(nil, uint32(g))
			if err != nil {
				t.Fatal(err)
			}
			sk, err := keys.save(nil, uint32(g))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(si, sk) {
				t.Fatalf("%s: group %d saves %x, the key encodings %x", step, g, si, sk)
			}
		}
	}
	mem := memory.NewGoAllocator()
	for round := range 40 {
		// A batch: group g draws from a range of width about g/10 (groups past 640 have
		// more than maxBlock values), some nulls, negative values.
		n := 20000
		ids := make([]uint32, n)
		b := array.NewInt64Builder(mem)
		for i := range ids {
			g := rng.Intn(groups)
			ids[i] = uint32(g)
			if rng.Intn(20) == 0 {
				b.AppendNull()
				continue
			}
			v := int64(rng.Intn(g/10+1)) - int64(g/20)
			b.Append(v)
			want[g][v] = true
		}
		col := b.NewArray()
		if err := ints.update(nil, ids, groups, col, runtime.Seq{}); err != nil {
			t.Fatal(err)
		}
		if err := keys.update(nil, ids, groups, col, runtime.Seq{}); err != nil {
			t.Fatal(err)
		}
		col.Release()
		b.Release()
		// Merge one group into another, reset a third, move a fourth through its saved
		// state both ways.
		dst, src, gone, moved := uint32(rng.Intn(groups)), uint32(rng.Intn(groups)), uint32(rng.Intn(groups)), uint32(rng.Intn(groups))
		if dst != src {
			ints.Merge(dst, src)
			keys.Merge(dst, src)
			for v := range want[src] {
				want[dst][v] = true
			}
		}
		ints.Reset(gone)
		keys.Reset(gone)
		want[gone] = map[int64]bool{}
		saved, _ := keys.save(nil, moved)
		if err := ints.load(saved, moved, groups); err != nil {
			t.Fatal(err)
		}
		saved, _ = ints.save(nil, moved)
		if err := keys.load(saved, moved, groups); err != nil {
			t.Fatal(err)
		}
		// A partial state folded straight into a group.
		into := uint32(rng.Intn(groups))
		saved, _ = ints.save(nil, src)
		if err := ints.mergeSaved(saved, into, groups); err != nil {
			t.Fatal(err)
		}
		if err := keys.mergeSaved(saved, into, groups); err != nil {
			t.Fatal(err)
		}
		for v := range want[src] {
			want[into][v] = true
		}
		if round%10 == 9 {
			check("round")
		}
	}
	if len(ints.iset.big) == 0 {
		t.Fatal("no group moved to a map: the test does not reach past maxBlock")
	}
	check("end")
	if err := ints.load([]byte{1, 3, 0, 0, 0}, 0, groups); err == nil {
		t.Fatal("a saved value that is not an integer's key encoding should be refused")
	}
}

// Groups moving to maps leave the slab mostly holes; the blocks enlarged after that
// compact it, and every group keeps its values.
func TestDistinctIntsCompact(t *testing.T) {
	var s intSets
	const groups = 40000
	s.grow(groups)
	want := func(g uint32, n int) {
		t.Helper()
		vals := s.appendValues(nil, g)
		if len(vals) != n {
			t.Fatalf("group %d has %d values, want %d", g, len(vals), n)
		}
		seen := map[int64]bool{}
		for _, v := range vals {
			if v%int64(g+1) != 0 || v/int64(g+1) >= int64(n) || seen[v] {
				t.Fatalf("group %d has %v", g, vals)
			}
			seen[v] = true
		}
	}
	// The first half of the groups get maxBlock+1 values (a map), the second 4.
	for g := range uint32(groups) {
		n := 4
		if g < groups/2 {
			n = maxBlock + 1
		}
		for v := range int64(n) {
			s.add(g, v*int64(g+1))
		}
	}
	// Uncompacted, the slab would hold every block ever given: 4+8+...+maxBlock entries
	// for each group of the first half, 4 for the second's.
	uncompacted := groups/2*(2*maxBlock-4) + groups/2*4
	live, last := 0, s.pages[len(s.pages)-1]
	tail := cap(last) - len(last) // the last page's room: no hole yet
	for _, size := range s.size {
		live += int(size)
	}
	if s.slab >= uncompacted/2 || s.slab-s.holes != live+tail {
		t.Fatalf("slab of %d entries, %d holes, %d in blocks (%d uncompacted)", s.slab, s.holes, live, uncompacted)
	}
	s.add(groups-1, 4*groups) // enlarges a block of 4
	for g := range uint32(groups) {
		switch {
		case g < groups/2:
			want(g, maxBlock+1)
		case g == groups-1:
			want(g, 5)
		default:
			want(g, 4)
		}
	}
}
