package basic

import (
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// A local sort's keys: an int64 key and the four input-order columns.
func benchKeys(n int) ([]arrow.Array, []compute.SortKey, *arrow.Schema) {
	mem := memory.NewGoAllocator()
	rng := rand.New(rand.NewSource(1))
	b := array.NewInt64Builder(mem)
	for i := 0; i < n; i++ {
		b.Append(rng.Int63n(1 << 40))
	}
	cols := []arrow.Array{b.NewArray()}
	fields := []arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}}
	keys := []compute.SortKey{{ColumnIndex: 0}}
	for c := 0; c < 4; c++ {
		u := array.NewUint64Builder(mem)
		for i := 0; i < n; i++ {
			v := uint64(i)
			if c < 3 {
				v = uint64(i / 65536)
			}
			u.Append(v)
		}
		cols = append(cols, u.NewArray())
		fields = append(fields, arrow.Field{Name: string(rune('a' + c)), Type: arrow.PrimitiveTypes.Uint64})
		keys = append(keys, compute.SortKey{ColumnIndex: c + 1})
	}
	return cols, keys, arrow.NewSchema(fields, nil)
}

func BenchmarkSortPermutation(b *testing.B) {
	cols, keys, _ := benchKeys(2_000_000)
	mem := memory.NewGoAllocator()
	for b.Loop() {
		idx, _ := sortPermutation(mem, cols, keys, 2_000_000)
		idx.Release()
	}
}

func BenchmarkSortIndicesArrow(b *testing.B) {
	cols, keys, sch := benchKeys(2_000_000)
	mem := memory.NewGoAllocator()
	rec := array.NewRecordBatch(sch, cols, 2_000_000)
	for b.Loop() {
		idx, _ := sortIndices(b.Context(), mem, rec, keys)
		idx.Release()
	}
}
