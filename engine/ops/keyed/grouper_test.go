package keyed_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
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
