package expr

import (
	"context"
	"math/big"
	"math/rand"
	"strings"
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

// Multiplication of integers by decimals takes 64-bit arithmetic while every product fits
// and the general path otherwise: products beyond int64 are still exact, and one beyond
// the result's precision is still an overflow error.
func TestDecimalMulOfIntegersAgainstBig(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	rate := compute.NewDatum(scalar.NewDecimal128Scalar(decimal128.FromI64(908), &arrow.Decimal128Type{Precision: 4, Scale: 3}))
	defer rate.Release()
	for _, c := range []struct {
		vals      []int64
		precision int32
		overflow  bool
	}{
		{[]int64{0, 1, -7, 1_000_000, -123_456_789_012}, 22, false},
		{[]int64{5, 1 << 62, -(1 << 62), 3}, 38, false}, // past int64: the general path
		{[]int64{5, 11_013_216}, 10, true},              // 10_000_000.128 needs 11 digits
	} {
		b := array.NewInt64Builder(mem)
		b.AppendValues(c.vals, nil)
		b.AppendNull()
		x := b.NewArray()
		b.Release()
		out := &arrow.Decimal128Type{Precision: c.precision, Scale: 3}
		res, err := decArithKernel("mul", "x * 0.908", out)(ec, []compute.Datum{compute.NewDatumWithoutOwning(x), rate})
		if c.overflow {
			if err == nil || !strings.Contains(err.Error(), "does not fit in decimal128(10, 3)") {
				t.Fatalf("%v: want an overflow error, got %v", c.vals, err)
			}
			x.Release()
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got := res.(*compute.ArrayDatum).MakeArray()
		for i, v := range c.vals {
			want := new(big.Rat).Mul(new(big.Rat).SetInt64(v), big.NewRat(908, 1000))
			if g, ok := bigAt(got, i); !ok || g.Cmp(want) != 0 {
				t.Fatalf("%d * 0.908: got %v, want %v", v, g, want)
			}
		}
		if got.IsValid(len(c.vals)) {
			t.Fatalf("null * 0.908 is not null")
		}
		got.Release()
		res.Release()
		x.Release()
	}
}

// compareBits against math/big on 128-bit values: high halves that differ, tie and wrap
// around zero (so the low halves decide, as unsigned), equal values, and a constant.
func TestDecimalCompareBitsAgainstBig(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	for _, n := range []int{0, 1, 7, 8, 9, 64, 203} {
		x := make([]decimal128.Num, n)
		y := make([]decimal128.Num, n)
		pick := func() decimal128.Num {
			lo := []uint64{0, 1, 1 << 63, ^uint64(0), r.Uint64()}[r.Intn(5)]
			return decimal128.New(int64(r.Intn(4)-2), lo)
		}
		for i := range x {
			x[i], y[i] = pick(), pick()
			if r.Intn(4) == 0 {
				y[i] = x[i]
			}
		}
		for _, ys := range []bool{false, true} {
			for _, fn := range []string{"eq", "ne", "lt", "le", "gt", "ge"} {
				out := make([]byte, (n+7)/8)
				compareBits(out, fn, x, y, ys)
				for i := range x {
					b := y[i]
					if ys {
						b = y[0]
					}
					c := x[i].BigInt().Cmp(b.BigInt())
					want := cmpResult(fn, c)
					if got := out[i/8]>>(i%8)&1 == 1; got != want {
						t.Fatalf("n=%d %s row %d (%v vs %v, constant %v): got %v, want %v", n, fn, i, x[i].BigInt(), b.BigInt(), ys, got, want)
					}
				}
			}
		}
	}
}

// Addition and subtraction of decimals and integers take 64-bit arithmetic while every
// operand at the result's scale and every sum fits, and the general path otherwise: sums
// beyond int64 are still exact, and one beyond the result's precision is still an overflow
// error (checked on both paths).
func TestDecimalAddOfSmallValuesAgainstBig(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	for _, c := range []struct {
		vals      []int64
		k         int64 // the constant, in tenths
		precision int32
		overflow  bool
	}{
		{[]int64{0, 1, -7, 1_000_000, -123_456_789_012}, 5, 15, false},
		{[]int64{5, 1 << 61, -(1 << 61), 3}, 5, 38, false},             // past int64 at scale 1: the general path
		{[]int64{5, (1 << 62) / 10, -(1 << 62) / 10, 3}, 5, 38, false}, // at the fast path's edge
		{[]int64{5, 1_000_000_000}, 5, 10, true},                       // 1000000000.5 needs 11 digits
		{[]int64{-999_999_999, 5}, 5, 10, true},                        // as does -1000000000.5 (sub)
		{[]int64{999_999_999, -999_999_999}, 95, 10, true},             // each fits, the sum does not
	} {
		for _, fn := range []string{"add", "sub"} {
			kd := compute.NewDatum(scalar.NewDecimal128Scalar(decimal128.FromI64(c.k), &arrow.Decimal128Type{Precision: 3, Scale: 1}))
			k := big.NewRat(c.k, 10)
			b := array.NewInt64Builder(mem)
			b.AppendValues(c.vals, nil)
			b.AppendNull()
			x := b.NewArray()
			b.Release()
			out := &arrow.Decimal128Type{Precision: c.precision, Scale: 1}
			res, err := decArithKernel(fn, "x ± k", out)(ec, []compute.Datum{compute.NewDatumWithoutOwning(x), kd})
			if c.overflow {
				overflows := false
				for _, v := range c.vals {
					r := new(big.Rat).SetInt64(v)
					if fn == "add" {
						r.Add(r, k)
					} else {
						r.Sub(r, k)
					}
					overflows = overflows || new(big.Rat).Abs(r).Cmp(new(big.Rat).SetInt64(1_000_000_000)) >= 0
				}
				if overflows != (err != nil) || (err != nil && !strings.Contains(err.Error(), "does not fit in decimal128(10, 1)")) {
					t.Fatalf("%s %v: overflow %v, got %v", fn, c.vals, overflows, err)
				}
				if err != nil {
					x.Release()
					kd.Release()
					continue
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			got := res.(*compute.ArrayDatum).MakeArray()
			for i, v := range c.vals {
				want := new(big.Rat).SetInt64(v)
				if fn == "add" {
					want.Add(want, k)
				} else {
					want.Sub(want, k)
				}
				if g, ok := bigAt(got, i); !ok || g.Cmp(want) != 0 {
					t.Fatalf("%d %s %v: got %v, want %v", v, fn, k, g, want)
				}
			}
			if got.IsValid(len(c.vals)) {
				t.Fatalf("null %s %v is not null", fn, k)
			}
			got.Release()
			res.Release()
			x.Release()
			kd.Release()
		}
	}
}
