package expr

// Vectorized kernels that arrow-go's compute package does not provide. Each works a whole
// array at a time on the Arrow buffers; a scalar argument is treated as a one-row array.

import (
	"fmt"
	"math"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// asArray returns d as an array (a scalar becomes one row) and whether it was a scalar.
// The caller releases the array.
func asArray(ec *EvalCtx, d compute.Datum) (arrow.Array, bool, error) {
	switch v := d.(type) {
	case *compute.ArrayDatum:
		return v.MakeArray(), false, nil
	case *compute.ScalarDatum:
		a, err := scalar.MakeArrayFromScalar(v.Value, 1, ec.Mem)
		return a, true, err
	}
	return nil, false, fmt.Errorf("unsupported datum kind %s", d.Kind())
}

// asArrays2 materializes the two arguments of a binary kernel as arrays (a scalar as one
// row; xs and ys say which were scalars). The caller releases both arrays.
func asArrays2(ec *EvalCtx, args []compute.Datum) (x arrow.Array, xs bool, y arrow.Array, ys bool, err error) {
	if x, xs, err = asArray(ec, args[0]); err != nil {
		return nil, false, nil, false, err
	}
	if y, ys, err = asArray(ec, args[1]); err != nil {
		x.Release()
		return nil, false, nil, false, err
	}
	return x, xs, y, ys, nil
}

// wrapResult turns a kernel's output array back into a datum, as a scalar when all the
// inputs were scalars. It consumes out.
func wrapResult(out arrow.Array, wasScalar bool) (compute.Datum, error) {
	defer out.Release()
	if wasScalar {
		sc, err := scalar.GetScalar(out, 0)
		if err != nil {
			return nil, err
		}
		return compute.NewDatum(sc), nil
	}
	return compute.NewDatum(out), nil
}

func unaryKernel(f func(ec *EvalCtx, in arrow.Array) (arrow.Array, error)) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		in, sc, err := asArray(ec, args[0])
		if err != nil {
			return nil, err
		}
		defer in.Release()
		out, err := f(ec, in)
		if err != nil {
			return nil, err
		}
		return wrapResult(out, sc)
	}
}

func stringPredicateKernel(match func(string) bool) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		b := array.NewBooleanBuilder(ec.Mem)
		defer b.Release()
		b.Reserve(in.Len())
		value := StringAt(in)
		for i := 0; i < in.Len(); i++ {
			if in.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			b.UnsafeAppend(match(value(i)))
		}
		return b.NewArray(), nil
	})
}

func StringAt(in arrow.Array) func(int) string {
	switch a := in.(type) {
	case *array.String:
		return a.Value
	case *array.LargeString:
		return a.Value
	}
	return func(int) string { return "" }
}

func stringMapKernel(f func(string) string) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		a := in.(*array.String)
		b := array.NewStringBuilder(ec.Mem)
		defer b.Release()
		b.Reserve(a.Len())
		b.ReserveData(len(a.ValueBytes()))
		for i := 0; i < a.Len(); i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			b.Append(f(a.Value(i)))
		}
		return b.NewArray(), nil
	})
}

// notKernel is boolean negation (null stays null).
var notKernel = unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
	a := in.(*array.Boolean)
	b := array.NewBooleanBuilder(ec.Mem)
	defer b.Release()
	b.Reserve(a.Len())
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		b.UnsafeAppend(!a.Value(i))
	}
	return b.NewArray(), nil
})

var lenCharsKernel = stringIntKernel(func(s string) (int32, bool) { return int32(utf8.RuneCountInString(s)), true })

// temporalFieldKernel extracts a calendar field (year, month, day, hour, minute, second)
// from a timestamp or date32 column, in the column's time zone (UTC when it has none).
func temporalFieldKernel(field string, dt arrow.DataType) (kernelFn, error) {
	var toTime func(v int64) time.Time
	switch t := dt.(type) {
	case *arrow.TimestampType:
		loc, err := loadZone(t.TimeZone)
		if err != nil {
			return nil, err
		}
		conv, err := t.GetToTimeFunc()
		if err != nil {
			return nil, err
		}
		toTime = func(v int64) time.Time { return conv(arrow.Timestamp(v)).In(loc) }
	default:
		toTime = func(v int64) time.Time { return time.Unix(v*86400, 0).UTC() }
	}
	pick := map[string]func(time.Time) int32{
		"year":   func(t time.Time) int32 { return int32(t.Year()) },
		"month":  func(t time.Time) int32 { return int32(t.Month()) },
		"day":    func(t time.Time) int32 { return int32(t.Day()) },
		"hour":   func(t time.Time) int32 { return int32(t.Hour()) },
		"minute": func(t time.Time) int32 { return int32(t.Minute()) },
		"second": func(t time.Time) int32 { return int32(t.Second()) },
	}[field]
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		b := array.NewInt32Builder(ec.Mem)
		defer b.Release()
		b.Reserve(in.Len())
		var get func(int) int64
		switch a := in.(type) {
		case *array.Timestamp:
			vals := a.TimestampValues()
			get = func(i int) int64 { return int64(vals[i]) }
		case *array.Date32:
			vals := a.Date32Values()
			get = func(i int) int64 { return int64(vals[i]) }
		default:
			return nil, fmt.Errorf("unsupported type %s", in.DataType())
		}
		for i := 0; i < in.Len(); i++ {
			if in.IsNull(i) {
				b.UnsafeAppendBoolToBitmap(false)
				continue
			}
			b.UnsafeAppend(pick(toTime(get(i))))
		}
		return b.NewArray(), nil
	}), nil
}

// fillNullKernel replaces the nulls of args[0] with args[1] (a scalar or an array of the
// same length and type).
func fillNullKernel(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
	if sd, ok := args[0].(*compute.ScalarDatum); ok {
		if sd.Value.IsValid() {
			return compute.NewDatum(sd.Value), nil
		}
		return cloneDatum(args[1]), nil
	}
	x := args[0].(*compute.ArrayDatum).MakeArray()
	defer x.Release()
	if x.NullN() == 0 {
		return compute.NewDatum(x), nil
	}
	var y arrow.Array
	switch v := args[1].(type) {
	case *compute.ScalarDatum:
		if !v.Value.IsValid() {
			return compute.NewDatum(x), nil
		}
		a, err := scalar.MakeArrayFromScalar(v.Value, x.Len(), ec.Mem)
		if err != nil {
			return nil, err
		}
		y = a
	default:
		y = v.(*compute.ArrayDatum).MakeArray()
	}
	defer y.Release()
	out, err := coalesce(ec.Mem, x, y)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	return compute.NewDatum(out), nil
}

// coalesce picks x[i] where it is valid, else y[i].
func coalesce(mem memory.Allocator, x, y arrow.Array) (arrow.Array, error) {
	n := x.Len()
	if fw, ok := x.DataType().(arrow.FixedWidthDataType); ok && x.DataType().ID() != arrow.BOOL {
		width := fw.BitWidth() / 8
		data := memory.NewResizableBuffer(mem)
		data.Resize(n * width)
		dst := data.Bytes()
		xs := x.Data().Buffers()[1].Bytes()[x.Data().Offset()*width:]
		ys := y.Data().Buffers()[1].Bytes()[y.Data().Offset()*width:]
		copy(dst, xs[:n*width])
		valid := memory.NewResizableBuffer(mem)
		valid.Resize(int(bitutil.BytesForBits(int64(n))))
		vb := valid.Bytes()
		nulls := 0
		for i := 0; i < n; i++ {
			switch {
			case x.IsValid(i):
				bitutil.SetBit(vb, i)
			case y.IsValid(i):
				copy(dst[i*width:(i+1)*width], ys[i*width:(i+1)*width])
				bitutil.SetBit(vb, i)
			default:
				bitutil.ClearBit(vb, i)
				nulls++
			}
		}
		d := array.NewData(x.DataType(), n, []*memory.Buffer{valid, data}, nil, nulls, 0)
		defer d.Release()
		valid.Release()
		data.Release()
		return array.MakeFromData(d), nil
	}
	b := array.NewBuilder(mem, x.DataType())
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		var err error
		switch {
		case x.IsValid(i):
			err = b.AppendValueFromString(x.ValueStr(i))
		case y.IsValid(i):
			err = b.AppendValueFromString(y.ValueStr(i))
		default:
			b.AppendNull()
		}
		if err != nil {
			return nil, err
		}
	}
	return b.NewArray(), nil
}

// floorDivModKernel computes Python-style floor division or modulo (the result of mod
// has the sign of the divisor). Integers are computed exactly in 64 bits; integer division
// by zero gives null. Both arguments already have the result type.
func floorDivModKernel(isMod bool, text string) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		x, xs, y, ys, err := asArrays2(ec, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		defer y.Release()
		n := max(x.Len(), y.Len())
		if xs && !ys {
			n = y.Len()
		} else if ys && !xs {
			n = x.Len()
		}
		at := func(a arrow.Array, scalar bool, i int) int {
			if scalar {
				return 0
			}
			return i
		}
		var out arrow.Array
		switch {
		case IsFloat(x.DataType()):
			xf, err := AsFloat64(x)
			if err != nil {
				return nil, err
			}
			yf, err := AsFloat64(y)
			if err != nil {
				return nil, err
			}
			b := array.NewFloat64Builder(ec.Mem)
			defer b.Release()
			b.Reserve(n)
			for i := 0; i < n; i++ {
				xi, yi := at(x, xs, i), at(y, ys, i)
				if x.IsNull(xi) || y.IsNull(yi) {
					b.UnsafeAppendBoolToBitmap(false)
					continue
				}
				a, d := xf[xi], yf[yi]
				if isMod {
					r := math.Mod(a, d)
					if r != 0 && (r < 0) != (d < 0) {
						r += d
					}
					b.UnsafeAppend(r)
				} else {
					b.UnsafeAppend(math.Floor(a / d))
				}
			}
			f := b.NewArray()
			defer f.Release()
			if x.DataType().ID() == arrow.FLOAT64 {
				f.Retain()
				out = f
			} else if out, err = compute.CastToType(ec.Ctx, f, x.DataType()); err != nil {
				return nil, err
			}
		case x.DataType().ID() == arrow.UINT64:
			xu := x.(*array.Uint64).Uint64Values()
			yu := y.(*array.Uint64).Uint64Values()
			b := array.NewUint64Builder(ec.Mem)
			defer b.Release()
			b.Reserve(n)
			for i := 0; i < n; i++ {
				xi, yi := at(x, xs, i), at(y, ys, i)
				if x.IsNull(xi) || y.IsNull(yi) || yu[yi] == 0 {
					b.UnsafeAppendBoolToBitmap(false)
					continue
				}
				if isMod {
					b.UnsafeAppend(xu[xi] % yu[yi])
				} else {
					b.UnsafeAppend(xu[xi] / yu[yi])
				}
			}
			out = b.NewArray()
		default:
			xi64, err := AsInt64(x)
			if err != nil {
				return nil, err
			}
			yi64, err := AsInt64(y)
			if err != nil {
				return nil, err
			}
			vals := make([]int64, n)
			valid := make([]bool, n)
			for i := 0; i < n; i++ {
				xi, yi := at(x, xs, i), at(y, ys, i)
				if x.IsNull(xi) || y.IsNull(yi) || yi64[yi] == 0 {
					continue
				}
				a, d := xi64[xi], yi64[yi]
				if d == -1 { // avoid the MinInt64 / -1 trap: the quotient is -a
					if isMod {
						vals[i] = 0
					} else {
						if a == math.MinInt64 || !fitsSigned(-a, x.DataType()) {
							return nil, rberr.New(rberr.Data, "%s: integer overflow: %d // -1 does not fit in %s (integer arithmetic is checked)", text, a, TypeName(x.DataType()))
						}
						vals[i] = -a
					}
					valid[i] = true
					continue
				}
				q, r := a/d, a%d
				if r != 0 && (r < 0) != (d < 0) {
					q--
					r += d
				}
				if isMod {
					vals[i] = r
				} else {
					vals[i] = q
				}
				valid[i] = true
			}
			out = Int64Array(ec.Mem, x.DataType(), vals, valid)
		}
		return wrapResult(out, xs && ys)
	}
}

func repeatFirst(ec *EvalCtx, a arrow.Array, n int) (arrow.Array, error) {
	sc, err := scalar.GetScalar(a, 0)
	if err != nil {
		return nil, err
	}
	return scalar.MakeArrayFromScalar(sc, n, ec.Mem)
}
