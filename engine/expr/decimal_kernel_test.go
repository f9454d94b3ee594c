package expr

import (
	"context"
	"math/big"
	"math/rand"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
)

// The decimal arithmetic and comparison kernels (columns, sliced columns, one-row scalars,
// nulls, operands of different scales) against math/big row by row.

func randDecArray(r *rand.Rand, mem memory.Allocator, dt *arrow.Decimal128Type, n int, nulls bool) arrow.Array {
	b := array.NewDecimal128Builder(mem, dt)
	defer b.Release()
	for i := 0; i < n+3; i++ {
		if nulls && r.Intn(5) == 0 {
			b.AppendNull()
			continue
		}
		b.Append(decimal128.FromI64(r.Int63n(2_000_000) - 1_000_000))
	}
	whole := b.NewArray()
	defer whole.Release()
	return array.NewSlice(whole, 3, int64(n+3)) // an offset into its buffers
}

func bigAt(a arrow.Array, i int) (*big.Rat, bool) {
	if a.IsNull(i) {
		return nil, false
	}
	d := a.(*array.Decimal128)
	sc := d.DataType().(*arrow.Decimal128Type).Scale
	return new(big.Rat).SetFrac(d.Value(i).BigInt(), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(sc)), nil)), true
}

func TestDecimalKernelsAgainstBig(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	r := rand.New(rand.NewSource(7))
	const n = 257
	for trial := 0; trial < 40; trial++ {
		xt := &arrow.Decimal128Type{Precision: 15, Scale: int32(r.Intn(4))}
		yt := &arrow.Decimal128Type{Precision: 15, Scale: int32(r.Intn(4))}
		x := randDecArray(r, mem, xt, n, trial%2 == 0)
		y := randDecArray(r, mem, yt, n, trial%3 == 0)
		xs, ys := trial%5 == 1, trial%5 == 2 // one side a scalar (its first row)
		datum := func(a arrow.Array, sc bool) compute.Datum {
			if !sc {
				return compute.NewDatum(a)
			}
			s, err := scalar.GetScalar(a, 0)
			if err != nil {
				t.Fatal(err)
			}
			return compute.NewDatum(s)
		}
		row := func(a arrow.Array, sc bool, i int) (*big.Rat, bool) {
			if sc {
				return bigAt(a, 0)
			}
			return bigAt(a, i)
		}
		args := []compute.Datum{datum(x, xs), datum(y, ys)}
		outScale := max(xt.Scale, yt.Scale)
		for _, fn := range []string{"add", "sub", "mul"} {
			ot := &arrow.Decimal128Type{Precision: 38, Scale: outScale}
			if fn == "mul" {
				ot.Scale = xt.Scale + yt.Scale
			}
			res, err := decArithKernel(fn, fn, ot)(ec, args)
			if err != nil {
				t.Fatal(err)
			}
			got := res.(*compute.ArrayDatum).MakeArray()
			for i := 0; i < n; i++ {
				a, okA := row(x, xs, i)
				b, okB := row(y, ys, i)
				if !okA || !okB {
					if got.IsValid(i) {
						t.Fatalf("%s row %d: want null, got %v", fn, i, got.(*array.Decimal128).Value(i))
					}
					continue
				}
				want := new(big.Rat)
				switch fn {
				case "add":
					want.Add(a, b)
				case "sub":
					want.Sub(a, b)
				default:
					want.Mul(a, b)
				}
				g, ok := bigAt(got, i)
				if !ok || g.Cmp(want) != 0 {
					t.Fatalf("%s row %d (scales %d, %d; scalars %v, %v): got %v, want %v", fn, i, xt.Scale, yt.Scale, xs, ys, g, want)
				}
			}
			got.Release()
			res.Release()
		}
		for _, fn := range []string{"eq", "ne", "lt", "le", "gt", "ge"} {
			res, err := decCompareKernel(fn)(ec, args)
			if err != nil {
				t.Fatal(err)
			}
			got := res.(*compute.ArrayDatum).MakeArray().(*array.Boolean)
			for i := 0; i < n; i++ {
				a, okA := row(x, xs, i)
				b, okB := row(y, ys, i)
				if !okA || !okB {
					if got.IsValid(i) {
						t.Fatalf("%s row %d: want null", fn, i)
					}
					continue
				}
				if want := cmpResult(fn, a.Cmp(b)); !got.IsValid(i) || got.Value(i) != want {
					t.Fatalf("%s row %d (%v vs %v, scalars %v, %v): got %v, want %v", fn, i, a, b, xs, ys, got.Value(i), want)
				}
			}
			got.Release()
			res.Release()
		}
		for _, d := range args {
			d.Release()
		}
		x.Release()
		y.Release()
	}
}
