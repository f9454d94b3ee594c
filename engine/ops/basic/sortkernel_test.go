package basic

import (
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The sort kernel gives arrow-go's stable SortIndices permutation (an independent
// implementation) for keys of several types, with ties, nulls first and last, ascending
// and descending, an integer first key (the radix path, its tied runs sorted by the other
// keys), a string or binary one (radix sorted by 8-byte prefixes, shared prefixes, empty
// values and trailing zero bytes among them) or neither, over sliced arrays.
func TestSortPermutationMatchesArrow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rng := rand.New(rand.NewSource(5))
	const n = 3000
	nullable := func(b array.Builder, i int) bool {
		if rng.Intn(9) == 0 {
			b.AppendNull()
			return true
		}
		return false
	}
	mk := map[string]func() arrow.Array{
		"int64 wide": func() arrow.Array {
			b := array.NewInt64Builder(mem)
			defer b.Release()
			for i := 0; i < n+7; i++ {
				if !nullable(b, i) {
					b.Append(rng.Int63() - rng.Int63())
				}
			}
			return b.NewArray()
		},
		"int32 ties": func() arrow.Array {
			b := array.NewInt32Builder(mem)
			defer b.Release()
			for i := 0; i < n+7; i++ {
				if !nullable(b, i) {
					b.Append(int32(rng.Intn(20) - 10))
				}
			}
			return b.NewArray()
		},
		"timestamp": func() arrow.Array {
			b := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond})
			defer b.Release()
			for i := 0; i < n+7; i++ {
				if !nullable(b, i) {
					b.Append(arrow.Timestamp(rng.Intn(50) * 1000))
				}
			}
			return b.NewArray()
		},
		"string": func() arrow.Array {
			b := array.NewStringBuilder(mem)
			defer b.Release()
			for i := 0; i < n+7; i++ {
				if !nullable(b, i) {
					b.Append(fmt.Sprintf("s%d", rng.Intn(40)))
				}
			}
			return b.NewArray()
		},
		"string prefixes": func() arrow.Array { // long shared prefixes, "", a trailing zero byte
			b := array.NewStringBuilder(mem)
			defer b.Release()
			odd := []string{"", "ab", "ab\x00", "abcdefgh", "abcdefgh\x00", "abcdefg"}
			for i := 0; i < n+7; i++ {
				if !nullable(b, i) {
					if rng.Intn(4) == 0 {
						b.Append(odd[rng.Intn(len(odd))])
					} else {
						b.Append(fmt.Sprintf("commonprefix%d", rng.Intn(300)))
					}
				}
			}
			return b.NewArray()
		},
		"binary": func() arrow.Array {
			b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
			defer b.Release()
			for i := 0; i < n+7; i++ {
				if !nullable(b, i) {
					v := make([]byte, rng.Intn(12))
					for j := range v {
						v[j] = byte(rng.Intn(3) * 127)
					}
					b.Append(v)
				}
			}
			return b.NewArray()
		},
		"position": func() arrow.Array { // increasing: ties on an earlier key are in its order
			b := array.NewUint64Builder(mem)
			defer b.Release()
			for i := 0; i < n+7; i++ {
				b.Append(uint64(i / 3))
			}
			return b.NewArray()
		},
		"bool": func() arrow.Array {
			b := array.NewBooleanBuilder(mem)
			defer b.Release()
			for i := 0; i < n+7; i++ {
				if !nullable(b, i) {
					b.Append(rng.Intn(2) == 0)
				}
			}
			return b.NewArray()
		},
		"uint64": func() arrow.Array {
			b := array.NewUint64Builder(mem)
			defer b.Release()
			for i := 0; i < n+7; i++ {
				b.Append(uint64(rng.Intn(100)) << 56)
			}
			return b.NewArray()
		},
	}
	combos := [][]string{{"int64 wide"}, {"int32 ties"}, {"int32 ties", "string"}, {"timestamp", "bool", "int64 wide"},
		{"string", "int32 ties"}, {"bool"}, {"uint64", "timestamp"}, {"string"}, {"string prefixes"},
		{"string prefixes", "int64 wide"}, {"binary"}, {"binary", "string"}, {"int32 ties", "position"},
		{"int32 ties", "position", "string"}}
	for _, combo := range combos {
		for variant := 0; variant < 4; variant++ {
			t.Run(fmt.Sprintf("%v/%d", combo, variant), func(t *testing.T) {
				var cols []arrow.Array
				var fields []arrow.Field
				var keys []compute.SortKey
				for i, name := range combo {
					full := mk[name]()
					cols = append(cols, array.NewSlice(full, 7, n+7)) // sliced: offset 7
					full.Release()
					fields = append(fields, arrow.Field{Name: fmt.Sprint(i), Type: cols[i].DataType(), Nullable: true})
					k := compute.SortKey{ColumnIndex: i, Order: compute.SortOrderAscending, NullPlacement: compute.SortNullsAtStart}
					if (variant+i)%2 == 1 {
						k.Order = compute.SortOrderDescending
					}
					if variant >= 2 {
						k.NullPlacement = compute.SortNullsAtEnd
					}
					keys = append(keys, k)
				}
				defer func() {
					for _, c := range cols {
						c.Release()
					}
				}()
				got, ok := sortPermutation(mem, cols, keys, n)
				if !ok {
					t.Fatal("no kernel for these keys")
				}
				defer got.Release()
				rec := array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, n)
				defer rec.Release()
				want, err := sortIndices(t.Context(), mem, rec, keys)
				if err != nil {
					t.Fatal(err)
				}
				defer want.Release()
				g, w := got.(*array.Uint64).Uint64Values(), want.(*array.Uint64).Uint64Values()
				if !slices.Equal(g, w) {
					for i := range g {
						if g[i] != w[i] {
							t.Fatalf("position %d: row %d, arrow's row %d", i, g[i], w[i])
						}
					}
				}
			})
		}
	}
}
