package expr

import (
	"math"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// materialize turns every argument into an array of the same length (scalars repeated),
// and says whether all were scalars (then n is 1). The caller releases the arrays.
func materialize(ec *EvalCtx, args []compute.Datum) (arrs []arrow.Array, n int, allScalar bool, err error) {
	n, allScalar = 1, true
	for _, a := range args {
		if ad, ok := a.(*compute.ArrayDatum); ok {
			n, allScalar = int(ad.Len()), false
			break
		}
	}
	arrs = make([]arrow.Array, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case *compute.ArrayDatum:
			arrs[i] = v.MakeArray()
		case *compute.ScalarDatum:
			arrs[i], err = scalar.MakeArrayFromScalar(v.Value, n, ec.Mem)
		default:
			err = rberr.New(rberr.Internal, "unsupported datum kind %s", a.Kind())
		}
		if err != nil {
			releaseAll(arrs)
			return nil, 0, false, err
		}
	}
	return arrs, n, allScalar, nil
}

// castTo casts an array as castDatum does (sharing it when it has the type already); the
// caller releases the result.
func castTo(ec *EvalCtx, a arrow.Array, to arrow.DataType, what string) (arrow.Array, error) {
	d, err := castDatum(ec, compute.NewDatumWithoutOwning(a), to, what)
	if err != nil {
		return nil, err
	}
	defer d.Release()
	return d.(*compute.ArrayDatum).MakeArray(), nil
}

func releaseAll(arrs []arrow.Array) {
	for _, a := range arrs {
		if a != nil {
			a.Release()
		}
	}
}

// caseWhenKernel picks, per row, the value of the first branch whose condition is true
// (a null condition is not true), else the otherwise value, else null. The values are
// cast to out, laid end to end, and taken by index, which works for every type.
func caseWhenKernel(out arrow.DataType, hasOtherwise bool) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		arrs, n, allScalar, err := materialize(ec, args)
		if err != nil {
			return nil, err
		}
		defer releaseAll(arrs)
		var values []arrow.Array
		var conds []*array.Boolean
		for i := 0; i+1 < len(arrs); i += 2 {
			c, ok := arrs[i].(*array.Boolean)
			if !ok { // a null-typed condition is never true
				c = array.MakeArrayOfNull(ec.Mem, arrow.FixedWidthTypes.Boolean, n).(*array.Boolean)
				defer c.Release()
			}
			conds = append(conds, c)
			values = append(values, arrs[i+1])
		}
		if hasOtherwise {
			values = append(values, arrs[len(arrs)-1])
		}
		if out.ID() == arrow.NULL {
			return wrapResult(array.MakeArrayOfNull(ec.Mem, arrow.Null, n), allScalar)
		}
		cast := make([]arrow.Array, len(values))
		defer releaseAll(cast)
		for i, v := range values {
			c, err := castTo(ec, v, out, "converting a then()/otherwise() value to "+TypeName(out))
			if err != nil {
				return nil, err
			}
			cast[i] = c
		}
		all, err := array.Concatenate(cast, ec.Mem)
		if err != nil {
			return nil, err
		}
		defer all.Release()
		idx := array.NewInt64Builder(ec.Mem)
		defer idx.Release()
		idx.Reserve(n)
	rows:
		for r := 0; r < n; r++ {
			for b, c := range conds {
				if c.IsValid(r) && c.Value(r) {
					idx.UnsafeAppend(int64(b*n + r))
					continue rows
				}
			}
			if hasOtherwise {
				idx.UnsafeAppend(int64(len(conds)*n + r))
			} else {
				idx.UnsafeAppendBoolToBitmap(false)
			}
		}
		indices := idx.NewArray()
		defer indices.Release()
		res, err := compute.TakeArray(ec.Ctx, all, indices)
		if err != nil {
			return nil, err
		}
		return wrapResult(res, allScalar)
	}
}

// isInKernel: is the value among the listed ones? A null value gives null; nulls in the
// list are ignored, as are listed values the column's type cannot hold (a date beyond
// timestamp[ns]'s range, 1.5 for an integer column): they match no row (as Polars). NaN
// equals NaN and -0 equals 0, as Polars. The values and the listed ones are compared as
// one Go type per column type (a string, an int64, a decimal128...), so a row's lookup
// allocates nothing.
func isInKernel(ct arrow.DataType) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		x, sc, err := asArray(ec, args[0])
		if err != nil {
			return nil, err
		}
		defer x.Release()
		xc, err := castTo(ec, x, ct, "converting the column to "+TypeName(ct))
		if err != nil {
			return nil, err
		}
		defer xc.Release()
		var listed []arrow.Array // the listed values, cast to ct, one row each
		defer func() { releaseAll(listed) }()
		for _, v := range args[1:] {
			sd := v.(*compute.ScalarDatum)
			if !sd.Value.IsValid() {
				continue
			}
			a, err := scalar.MakeArrayFromScalar(sd.Value, 1, ec.Mem)
			if err != nil {
				return nil, err
			}
			ac, err := castTo(ec, a, ct, "converting an is_in value to "+TypeName(ct))
			a.Release()
			if rberr.KindOf(err) == rberr.Data {
				continue // not exactly a value of the column's type: it matches none (as Polars)
			}
			if err != nil {
				return nil, err
			}
			listed = append(listed, ac)
		}
		if xc.DataType().ID() == arrow.NULL {
			b := array.NewBooleanBuilder(ec.Mem)
			defer b.Release()
			b.AppendNulls(xc.Len())
			return wrapResult(b.NewArray(), sc)
		}
		var out arrow.Array
		t := xc.DataType()
		switch {
		case IsFloat(t):
			out, err = memberOf(ec, xc, listed, floatKeys)
		case IsInteger(t) && !IsSigned(t):
			out, err = memberOf(ec, xc, listed, uintKeys)
		case t.ID() == arrow.STRING && len(listed) <= smallIsIn:
			out = memberOfFewStrings(ec, xc.(*array.String), listed)
		case IsString(t) || t.ID() == arrow.BINARY || t.ID() == arrow.LARGE_BINARY:
			out, err = memberOf(ec, xc, listed, bytesKeys)
		case t.ID() == arrow.DECIMAL128:
			out, err = memberOf(ec, xc, listed, func(a arrow.Array) (func(int) decimal128.Num, error) {
				vals := a.(*array.Decimal128).Values()
				return func(i int) decimal128.Num { return vals[i] }, nil
			})
		case t.ID() == arrow.BOOL:
			out, err = memberOf(ec, xc, listed, func(a arrow.Array) (func(int) bool, error) {
				return a.(*array.Boolean).Value, nil
			})
		default:
			out, err = memberOf(ec, xc, listed, func(a arrow.Array) (func(int) int64, error) {
				vals, err := AsInt64(a)
				if err != nil {
					return nil, err
				}
				return func(i int) int64 { return vals[i] }, nil
			})
		}
		if err != nil {
			return nil, err
		}
		return wrapResult(out, sc)
	}
}

// memberOf says, per row of x, whether its key (keys gives a column's) is one of the
// listed one-row arrays' keys; null where x is null.
func memberOf[K comparable](ec *EvalCtx, x arrow.Array, listed []arrow.Array, keys func(arrow.Array) (func(int) K, error)) (arrow.Array, error) {
	set := make(map[K]struct{}, len(listed))
	for _, a := range listed {
		key, err := keys(a)
		if err != nil {
			return nil, err
		}
		k := key(0)
		if s, ok := any(k).(string); ok { // a view of a's buffer, which is released
			k = any(strings.Clone(s)).(K)
		}
		set[k] = struct{}{}
	}
	key, err := keys(x)
	if err != nil {
		return nil, err
	}
	b := array.NewBooleanBuilder(ec.Mem)
	defer b.Release()
	b.Reserve(x.Len())
	nulls := x.NullN() > 0
	for i := 0; i < x.Len(); i++ {
		if nulls && x.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		_, ok := set[key(i)]
		b.UnsafeAppend(ok)
	}
	return b.NewArray(), nil
}

// smallIsIn is the most listed strings is_in compares each value with in turn, rather
// than looking it up in a map (hashing the value costs more than a few comparisons of
// lengths, and of bytes where the lengths match).
const smallIsIn = 8

// memberOfFewStrings is memberOf for a string column and at most smallIsIn listed
// strings (one-row string arrays).
func memberOfFewStrings(ec *EvalCtx, x *array.String, listed []arrow.Array) arrow.Array {
	want := make([]string, 0, len(listed))
	for _, a := range listed {
		want = append(want, strings.Clone(a.(*array.String).Value(0)))
	}
	return stringMatches(ec, x, func(v []byte) bool {
		for _, w := range want {
			if len(w) == len(v) && w == string(v) {
				return true
			}
		}
		return false
	})
}

// stringMatches is the boolean column of match(value) for each row of x (null where x
// is), reading values straight from x's offsets and bytes.
func stringMatches(ec *EvalCtx, x *array.String, match func(v []byte) bool) arrow.Array {
	n := x.Len()
	bits := memory.NewResizableBuffer(ec.Mem)
	bits.Resize(int(bitutil.BytesForBits(int64(n))))
	out := bits.Bytes()
	clear(out)
	offs, vals := x.ValueOffsets(), x.ValueBytes()
	base := offs[0]
	for i := 0; i < n; i++ {
		// A null row's bit is masked by the validity below.
		if match(vals[offs[i]-base : offs[i+1]-base]) {
			out[i>>3] |= 1 << (i & 7)
		}
	}
	return boolColumn(ec, x, n, bits)
}

// stringEqualsLiteral is x == lit (ne: x != lit) for each row of x, null where x is: a
// row's length is compared first, its bytes only where the length is lit's.
func stringEqualsLiteral(ec *EvalCtx, x *array.String, lit string, ne bool) arrow.Array {
	return stringMatches(ec, x, func(v []byte) bool { return (len(v) == len(lit) && string(v) == lit) != ne })
}

// boolColumn makes a boolean column of n rows from value bits (consumed) with the
// validity of x.
func boolColumn(ec *EvalCtx, x arrow.Array, n int, bits *memory.Buffer) arrow.Array {
	var valid *memory.Buffer
	nullN := x.NullN()
	if nullN > 0 {
		valid = memory.NewResizableBuffer(ec.Mem)
		valid.Resize(len(bits.Bytes()))
		vb := valid.Bytes()
		clear(vb)
		bitutil.CopyBitmap(x.NullBitmapBytes(), x.Data().Offset(), n, vb, 0)
	}
	data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{valid, bits}, nil, nullN, 0)
	bits.Release()
	if valid != nil {
		valid.Release()
	}
	defer data.Release()
	return array.MakeFromData(data)
}

// stringEqualKernel is eq or ne (fn) of two string operands: a column against a literal
// by stringEqualsLiteral, anything else by fallback (arrow-go's kernel, which reads every
// row through a generic iterator).
func stringEqualKernel(fn string, fallback kernelFn) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		var col *compute.ArrayDatum
		var lit *scalar.String
		for _, a := range args {
			switch v := a.(type) {
			case *compute.ArrayDatum:
				col = v
			case *compute.ScalarDatum:
				if s, ok := v.Value.(*scalar.String); ok && s.IsValid() {
					lit = s
				}
			}
		}
		if col == nil || lit == nil || col.Type().ID() != arrow.STRING {
			return fallback(ec, args)
		}
		x := col.MakeArray().(*array.String)
		defer x.Release()
		out := stringEqualsLiteral(ec, x, string(lit.Value.Bytes()), fn == "ne")
		defer out.Release()
		return compute.NewDatum(out), nil
	}
}

// floatKeys gives a float column's values as bits, NaNs as one and -0 as 0.
func floatKeys(a arrow.Array) (func(int) uint64, error) {
	vals, err := AsFloat64(a)
	if err != nil {
		return nil, err
	}
	return func(i int) uint64 {
		v := vals[i]
		switch {
		case v != v:
			return math.Float64bits(math.NaN())
		case v == 0:
			return 0
		}
		return math.Float64bits(v)
	}, nil
}

// uintKeys gives an unsigned integer column's values.
func uintKeys(a arrow.Array) (func(int) uint64, error) {
	switch c := a.(type) {
	case *array.Uint8:
		return func(i int) uint64 { return uint64(c.Value(i)) }, nil
	case *array.Uint16:
		return func(i int) uint64 { return uint64(c.Value(i)) }, nil
	case *array.Uint32:
		return func(i int) uint64 { return uint64(c.Value(i)) }, nil
	case *array.Uint64:
		return c.Value, nil
	}
	return nil, rberr.New(rberr.Internal, "is_in: no unsigned integers in %s", TypeName(a.DataType()))
}

// bytesKeys gives a string or binary column's values as strings that view its buffer.
func bytesKeys(a arrow.Array) (func(int) string, error) {
	switch c := a.(type) {
	case *array.String:
		return c.Value, nil
	case *array.LargeString:
		return c.Value, nil
	case interface{ Value(int) []byte }:
		return func(i int) string {
			v := c.Value(i)
			return unsafe.String(unsafe.SliceData(v), len(v))
		}, nil
	}
	return nil, rberr.New(rberr.Internal, "is_in: no string values in %s", TypeName(a.DataType()))
}

var isNaNKernel = unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
	b := array.NewBooleanBuilder(ec.Mem)
	defer b.Release()
	b.Reserve(in.Len())
	var vals []float64
	if IsFloat(in.DataType()) {
		var err error
		if vals, err = AsFloat64(in); err != nil {
			return nil, err
		}
	}
	for i := 0; i < in.Len(); i++ {
		if in.IsNull(i) {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		b.UnsafeAppend(vals != nil && math.IsNaN(vals[i]))
	}
	return b.NewArray(), nil
})

// floatUnary applies f to a float column of type t (float32 or float64), nulls kept.
func floatUnary(t arrow.DataType, f func(float64) float64) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		if t.ID() == arrow.FLOAT32 {
			a := in.(*array.Float32)
			b := array.NewFloat32Builder(ec.Mem)
			defer b.Release()
			b.Reserve(a.Len())
			for i, v := range a.Float32Values() {
				if a.IsNull(i) {
					b.UnsafeAppendBoolToBitmap(false)
					continue
				}
				b.UnsafeAppend(float32(f(float64(v))))
			}
			return b.NewArray(), nil
		}
		vals, err := AsFloat64(in)
		if err != nil {
			return nil, err
		}
		out := make([]float64, len(vals))
		for i, v := range vals {
			out[i] = f(v)
		}
		return Float64Array(ec.Mem, out, validity(in)), nil
	})
}

// roundTo rounds to d decimals, halves to even (Polars' default) or away from zero
// (DuckDB's round).
func roundTo(d int, halfEven bool) func(float64) float64 {
	round := math.Round
	if halfEven {
		round = math.RoundToEven
	}
	if d == 0 {
		return round
	}
	p := math.Pow10(d)
	return func(x float64) float64 {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return x
		}
		r := round(x*p) / p
		if math.IsInf(x*p, 0) {
			return x // too large to have decimals to round
		}
		return r
	}
}

var identityKernel kernelFn = func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
	return cloneDatum(args[0]), nil
}

var powKernel kernelFn = func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
	arrs, n, allScalar, err := materialize(ec, args)
	if err != nil {
		return nil, err
	}
	defer releaseAll(arrs)
	x, _ := AsFloat64(arrs[0])
	y, _ := AsFloat64(arrs[1])
	out := make([]float64, n)
	valid := make([]bool, n)
	for i := range out {
		valid[i] = arrs[0].IsValid(i) && arrs[1].IsValid(i)
		if valid[i] {
			out[i] = math.Pow(x[i], y[i])
		}
	}
	return wrapResult(Float64Array(ec.Mem, out, valid), allScalar)
}

// signKernel gives -1, 0 or 1 for integers and decimals.
var signKernel = unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
	out := make([]int64, in.Len())
	if d, ok := in.(*array.Decimal128); ok {
		for i, v := range d.Values() {
			out[i] = int64(v.Sign())
		}
	} else if IsInteger(in.DataType()) && !IsSigned(in.DataType()) {
		for i := range out {
			if in.IsValid(i) && !isZeroUnsigned(in, i) {
				out[i] = 1
			}
		}
	} else {
		vals, err := AsInt64(in)
		if err != nil {
			return nil, err
		}
		for i, v := range vals {
			switch {
			case v > 0:
				out[i] = 1
			case v < 0:
				out[i] = -1
			}
		}
	}
	return Int64Array(ec.Mem, arrow.PrimitiveTypes.Int64, out, validity(in)), nil
})

func isZeroUnsigned(a arrow.Array, i int) bool {
	switch v := a.(type) {
	case *array.Uint8:
		return v.Value(i) == 0
	case *array.Uint16:
		return v.Value(i) == 0
	case *array.Uint32:
		return v.Value(i) == 0
	case *array.Uint64:
		return v.Value(i) == 0
	}
	return false
}

// absKernel is the absolute value in the column's own type; the most negative integer
// has none (an error, as Polars' checked abs and DuckDB).
func absKernel(text string) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		t := in.DataType()
		switch {
		case t.ID() == arrow.DECIMAL128:
			vals := in.(*array.Decimal128).Values()
			return BuildDecimal(ec.Mem, t.(*arrow.Decimal128Type), in.Len(), in, func(i int) (decimal128.Num, error) {
				return vals[i].Abs(), nil
			})
		case IsFloat(t):
			d, err := floatUnary(t, math.Abs)(ec, []compute.Datum{compute.NewDatum(in)})
			if err != nil {
				return nil, err
			}
			defer d.Release()
			return d.(*compute.ArrayDatum).MakeArray(), nil
		case IsInteger(t) && !IsSigned(t):
			in.Retain()
			return in, nil
		}
		vals, err := AsInt64(in)
		if err != nil {
			return nil, err
		}
		bits := t.(arrow.FixedWidthDataType).BitWidth()
		minVal := int64(-1) << (bits - 1)
		out := make([]int64, len(vals))
		for i, v := range vals {
			if in.IsNull(i) {
				continue
			}
			if v == minVal {
				return nil, rberr.New(rberr.Data, "%s: abs(%d) does not fit in %s", text, v, TypeName(t))
			}
			if v < 0 {
				v = -v
			}
			out[i] = v
		}
		return Int64Array(ec.Mem, t, out, validity(in)), nil
	})
}

// decRoundKernel rounds a decimal to d decimals (floor, ceil, or half away from zero)
// as type out (its scale, one more digit of precision up to 38): a result beyond out's
// precision (ceil of 10^38 - 0.5) is a Data error naming the value, as decimal arithmetic.
func decRoundKernel(fn string, d int32, halfEven bool, out *arrow.Decimal128Type) kernelFn {
	return unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
		dt := in.DataType().(*arrow.Decimal128Type)
		vals := in.(*array.Decimal128).Values()
		if d >= dt.Scale {
			in.Retain()
			return in, nil
		}
		unit := decimal128.GetScaleMultiplier(int(dt.Scale - d))
		half, _ := unit.Div(decimal128.FromI64(2))
		return BuildDecimal(ec.Mem, out, in.Len(), in, func(i int) (decimal128.Num, error) {
			v := vals[i]
			q, r := v.Div(unit)
			switch fn {
			case "floor":
				if r.Sign() < 0 {
					q = q.Sub(decimal128.FromI64(1))
				}
			case "ceil":
				if r.Sign() > 0 {
					q = q.Add(decimal128.FromI64(1))
				}
			default:
				ra := r.Abs()
				oddQ := q.LowBits()&1 == 1
				if ra.Greater(half) || ra == half && (!halfEven || oddQ) {
					q = q.Add(decimal128.FromI64(int64(v.Sign())))
				}
			}
			res := q.Mul(unit)
			if !res.FitsInPrecision(out.Precision) {
				return res, rberr.New(rberr.Data, "%s of %s is %s, which does not fit in %s",
					fn, v.ToString(dt.Scale), res.ToString(dt.Scale), TypeName(out))
			}
			return res, nil
		})
	})
}

// concatKernel joins its (string) arguments with sep; a null argument makes the row null
// unless ignoreNulls (then it is skipped), as Polars' concat_str.
func concatKernel(sep string, ignoreNulls bool) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		arrs, n, allScalar, err := materialize(ec, args)
		if err != nil {
			return nil, err
		}
		defer releaseAll(arrs)
		b := array.NewStringBuilder(ec.Mem)
		defer b.Release()
		b.Reserve(n)
		var sb strings.Builder
	rows:
		for r := 0; r < n; r++ {
			sb.Reset()
			first := true
			for _, a := range arrs {
				if a.IsNull(r) {
					if ignoreNulls {
						continue
					}
					b.AppendNull()
					continue rows
				}
				if !first {
					sb.WriteString(sep)
				}
				first = false
				sb.WriteString(a.(*array.String).Value(r))
			}
			b.Append(sb.String())
		}
		return wrapResult(b.NewArray(), allScalar)
	}
}

// errorIfKernel returns its second argument, or a DataError with the message when the
// first (a condition) is true on some row.
func errorIfKernel(msg string) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		c, _, err := asArray(ec, args[0])
		if err != nil {
			return nil, err
		}
		defer c.Release()
		if b, ok := c.(*array.Boolean); ok {
			for i := 0; i < b.Len(); i++ {
				if b.IsValid(i) && b.Value(i) {
					return nil, rberr.New(rberr.Data, "%s", msg)
				}
			}
		}
		v, sc, err := asArray(ec, args[1])
		if err != nil {
			return nil, err
		}
		return wrapResult(v, sc)
	}
}
