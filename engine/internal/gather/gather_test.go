package gather_test

import (
	"context"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/internal/gather"
)

// Rows and RunRows against arrow's take: every value width, booleans and strings, with
// and without nulls, whole and sliced columns, rows in order, repeated and shuffled, a
// filter's (most rows, in stretches), stretches out of order, and none.
func TestRowsMatchesArrowsTake(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewSource(3))
	types := []arrow.DataType{arrow.PrimitiveTypes.Int8, arrow.PrimitiveTypes.Int16, arrow.PrimitiveTypes.Int32,
		arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64, &arrow.Decimal128Type{Precision: 20, Scale: 2},
		&arrow.FixedSizeBinaryType{ByteWidth: 32}, arrow.FixedWidthTypes.Boolean, arrow.BinaryTypes.String,
		arrow.BinaryTypes.Binary, arrow.FixedWidthTypes.Date32}
	for _, typ := range types {
		for _, nulls := range []bool{false, true} {
			b := array.NewBuilder(mem, typ)
			for i := range 300 {
				if nulls && r.Intn(4) == 0 {
					b.AppendNull()
					continue
				}
				switch bb := b.(type) {
				case *array.Int8Builder:
					bb.Append(int8(r.Intn(256) - 128))
				case *array.Int16Builder:
					bb.Append(int16(r.Intn(1 << 16)))
				case *array.Int32Builder:
					bb.Append(r.Int31() - 1<<30)
				case *array.Int64Builder:
					bb.Append(r.Int63() - 1<<62)
				case *array.Float64Builder:
					bb.Append(r.NormFloat64())
				case *array.Decimal128Builder:
					bb.Append(decimal128.New(r.Int63()-1<<62, r.Uint64()))
				case *array.FixedSizeBinaryBuilder:
					v := make([]byte, 32)
					v[0], v[31] = byte(i), byte(r.Intn(256))
					bb.Append(v)
				case *array.BooleanBuilder:
					bb.Append(r.Intn(2) == 0)
				case *array.StringBuilder:
					bb.Append(string(make([]byte, r.Intn(9))) + "x")
				case *array.BinaryBuilder:
					bb.Append([]byte{byte(r.Intn(256))})
				case *array.Date32Builder:
					bb.Append(arrow.Date32(r.Intn(30000)))
				}
			}
			whole := b.NewArray()
			b.Release()
			for _, col := range []arrow.Array{whole, array.NewSlice(whole, 13, 290)} {
				n := col.Len()
				perm := r.Perm(n)
				var kept, outOfOrder []int32
				for i := range n {
					if r.Intn(10) != 0 {
						kept = append(kept, int32(i))
					}
				}
				for _, s := range [][2]int{{40, 60}, {3, 9}, {n - 5, n}, {0, 1}, {100, 140}} {
					outOfOrder = append(outOfOrder, seq(s[1])[s[0]:]...)
				}
				for _, rows := range [][]int32{ints(perm[:n/2]), ints([]int{0, 0, n - 1, 5, 5, 5}), nil, seq(n), kept, outOfOrder} {
					if !gather.Covers(typ) {
						t.Fatalf("%s not covered", typ)
					}
					for _, take := range []func(memory.Allocator, arrow.Array, []int32) arrow.Array{gather.Rows, gather.RunRows} {
						got := take(mem, col, rows)
						ib := array.NewInt32Builder(mem)
						ib.AppendValues(rows, nil)
						idx := ib.NewArray()
						ib.Release()
						want, err := compute.TakeArray(compute.WithAllocator(context.Background(), mem), col, idx)
						if err != nil {
							t.Fatal(err)
						}
						if !array.Equal(got, want) {
							t.Fatalf("%s (nulls %v, offset %d), rows %v:\ngot  %v\nwant %v", typ, nulls, col.Data().Offset(), rows, got, want)
						}
						got.Release()
						want.Release()
						idx.Release()
					}
				}
				col.Release()
			}
		}
	}
}

func ints(v []int) []int32 {
	out := make([]int32, len(v))
	for i, x := range v {
		out[i] = int32(x)
	}
	return out
}

func seq(n int) []int32 {
	out := make([]int32, n)
	for i := range out {
		out[i] = int32(i)
	}
	return out
}

func TestStretches(t *testing.T) {
	for _, c := range []struct {
		rows []int32
		want int
	}{{nil, 0}, {[]int32{4}, 1}, {seq(10), 1}, {[]int32{1, 2, 3, 7, 8, 2, 3, 3}, 4}, {[]int32{5, 4, 3}, 3}} {
		if got := gather.Stretches(c.rows); got != c.want {
			t.Errorf("Stretches(%v) = %d, want %d", c.rows, got, c.want)
		}
	}
}
