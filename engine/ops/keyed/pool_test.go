package keyed_test

import (
	"context"
	"fmt"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
)

// A table taken from the pool of freed tables is the one given back, and zeroed.
func TestPoolGivesBackZeroedTables(t *testing.T) {
	nonZero, reused := keyed.PoolRoundTrip(1 << 12)
	if !reused {
		t.Error("the table put in the pool was not the one taken out")
	}
	if nonZero != 0 {
		t.Errorf("%d slots of a pooled table not zeroed", nonZero)
	}
}

// Groupers of every key mode, made at sizes from none to far more than their groups,
// freed and made again (so that tables come back from the pool dirty), and used after
// Free, give every key the group a plain map of first appearances gives it; Lookup agrees.
func TestGrouperSizedFreedAndReusedAgreesWithAMap(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	rng := rand.New(rand.NewSource(7))
	for _, mode := range []string{"int", "string", "two columns"} {
		for _, hint := range []int{0, 10, 5000, 1 << 16} {
			for round := 0; round < 3; round++ {
				types, batches, want := keyBatches(mem, rng, mode)
				g := keyed.NewGrouperSized(types, hint)
				check := func(stage string) {
					ids := make([]uint32, batches[0][0].Len())
					for b, cols := range batches {
						if err := g.Consume(ctx, cols, ids); err != nil {
							t.Fatal(err)
						}
						for i, id := range ids {
							if id != want[b][i] {
								t.Fatalf("%s, hint %d, %s: batch %d row %d in group %d, want %d", mode, hint, stage, b, i, id, want[b][i])
							}
						}
						g.Lookup(cols, ids)
						for i, id := range ids {
							if id != want[b][i] {
								t.Fatalf("%s, hint %d, %s: lookup of batch %d row %d gave %d, want %d", mode, hint, stage, b, i, id, want[b][i])
							}
						}
					}
				}
				check("first pass")
				g.Free()
				check("after Free")
				g.Free()
				for _, cols := range batches {
					for _, c := range cols {
						c.Release()
					}
				}
			}
		}
	}
}

// keyBatches makes 4 batches of 1000 keys (a tenth null, values repeating) and the group
// ids a map of first appearances gives them.
func keyBatches(mem memory.Allocator, rng *rand.Rand, mode string) ([]arrow.DataType, [][]arrow.Array, [][]uint32) {
	var types []arrow.DataType
	switch mode {
	case "int":
		types = []arrow.DataType{arrow.PrimitiveTypes.Int64}
	case "string":
		types = []arrow.DataType{arrow.BinaryTypes.String}
	default:
		types = []arrow.DataType{arrow.PrimitiveTypes.Int64, arrow.BinaryTypes.String}
	}
	seen := map[string]uint32{}
	var batches [][]arrow.Array
	var want [][]uint32
	for b := 0; b < 4; b++ {
		bs := make([]array.Builder, len(types))
		for i, ty := range types {
			bs[i] = array.NewBuilder(mem, ty)
		}
		ids := make([]uint32, 1000)
		for r := range ids {
			key := ""
			for i, ty := range types {
				v := rng.Intn(1500)
				if rng.Intn(10) == 0 {
					bs[i].AppendNull()
					key += "|null"
					continue
				}
				if ty.ID() == arrow.INT64 {
					bs[i].(*array.Int64Builder).Append(int64(v) * 7919)
				} else {
					bs[i].(*array.StringBuilder).Append(fmt.Sprintf("k%d", v))
				}
				key += fmt.Sprintf("|%d", v)
			}
			id, ok := seen[key]
			if !ok {
				id = uint32(len(seen))
				seen[key] = id
			}
			ids[r] = id
		}
		cols := make([]arrow.Array, len(types))
		for i, b := range bs {
			cols[i] = b.NewArray()
			b.Release()
		}
		batches = append(batches, cols)
		want = append(want, ids)
	}
	return types, batches, want
}

// A new table large enough to be populated (its pages backed up front) is zeroed and
// writable, of a size no pooled table has.
func TestPoolNewLargeTableIsZeroedAndWritable(t *testing.T) {
	nonZero, written := keyed.FreshTable(3 << 17) // 6 MiB of 16-byte slots, not a power of two: never pooled
	if nonZero != 0 || !written {
		t.Fatalf("%d slots not zeroed; written %v", nonZero, written)
	}
}
