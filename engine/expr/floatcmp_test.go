package expr

import (
	"cmp"
	"context"
	"math"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// The one-pass comparison of a float64 column with a number gives, row by row, what the
// total order (NaN largest and equal to itself, -0 equal to 0) gives: for every operator,
// the number on either side, of several types, columns with NaN, infinities, signed
// zeros and nulls, whole and sliced at offsets in and out of step with a byte.
func TestFloatVsNumberAgainstTotalOrder(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	r := rand.New(rand.NewSource(3))
	special := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1), 1, -1, 2.5}
	b := array.NewFloat64Builder(mem)
	for range 300 {
		switch r.Intn(6) {
		case 0:
			b.AppendNull()
		case 1, 2:
			b.Append(special[r.Intn(len(special))])
		default:
			b.Append(float64(r.Intn(7)-3) / 2)
		}
	}
	whole := b.NewArray().(*array.Float64)
	b.Release()
	defer whole.Release()
	numbers := []scalar.Scalar{
		scalar.NewFloat64Scalar(0), scalar.NewFloat64Scalar(math.Copysign(0, -1)), scalar.NewFloat64Scalar(1),
		scalar.NewFloat64Scalar(math.Inf(1)), scalar.NewInt64Scalar(-1), scalar.NewFloat32Scalar(2.5),
		scalar.NewInt32Scalar(1), scalar.NewUint64Scalar(2),
	}
	asFloat := func(s scalar.Scalar) float64 {
		switch v := s.(type) {
		case *scalar.Float64:
			return v.Value
		case *scalar.Float32:
			return float64(v.Value)
		case *scalar.Int64:
			return float64(v.Value)
		case *scalar.Int32:
			return float64(v.Value)
		case *scalar.Uint64:
			return float64(v.Value)
		}
		t.Fatalf("scalar %T", s)
		return 0
	}
	// The total order, from the standard library's (which puts NaN first): negated, NaN
	// comes last.
	total := func(a, b float64) int { return -cmp.Compare(-a, -b) }
	want := map[string]func(c int) bool{
		"eq": func(c int) bool { return c == 0 }, "ne": func(c int) bool { return c != 0 },
		"lt": func(c int) bool { return c < 0 }, "le": func(c int) bool { return c <= 0 },
		"gt": func(c int) bool { return c > 0 }, "ge": func(c int) bool { return c >= 0 },
	}
	for _, off := range []int{0, 3, 8, 13} {
		for _, n := range []int{0, 1, 7, 8, 9, 64, 200} {
			col := array.NewSlice(whole, int64(off), int64(off+n)).(*array.Float64)
			for _, num := range numbers {
				for fn, holds := range want {
					for _, left := range []bool{false, true} {
						args := []compute.Datum{compute.NewDatum(col), compute.NewDatum(num)}
						if left {
							args[0], args[1] = args[1], args[0]
						}
						d, ok := floatVsNumber(ec, fn, args)
						for _, a := range args {
							a.Release()
						}
						if !ok {
							t.Fatalf("%s with a %T declined", fn, num)
						}
						got := d.(*compute.ArrayDatum).MakeArray().(*array.Boolean)
						c := asFloat(num)
						for i := range n {
							if got.IsNull(i) != col.IsNull(i) {
								t.Fatalf("offset %d n %d %s %v: row %d null %v, want %v", off, n, fn, c, i, got.IsNull(i), col.IsNull(i))
							}
							if col.IsNull(i) {
								continue
							}
							cmp := total(col.Value(i), c)
							if left {
								cmp = total(c, col.Value(i))
							}
							if got.Value(i) != holds(cmp) {
								t.Fatalf("offset %d n %d: %v %s %v (number on the left: %v) gave %v", off, n, col.Value(i), fn, c, left, got.Value(i))
							}
						}
						got.Release()
						d.Release()
					}
				}
			}
			col.Release()
		}
	}
	// A NaN, null or non-numeric number, or a float32 column, goes the general way.
	for _, num := range []scalar.Scalar{scalar.NewFloat64Scalar(math.NaN()), scalar.MakeNullScalar(whole.DataType()), scalar.NewStringScalar("x")} {
		args := []compute.Datum{compute.NewDatum(whole), compute.NewDatum(num)}
		if _, ok := floatVsNumber(ec, "lt", args); ok {
			t.Fatalf("took %v", num)
		}
		for _, a := range args {
			a.Release()
		}
	}
}
