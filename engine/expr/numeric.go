package expr

// Numeric typing and comparison. The rules, decided when the plan is validated:
//
// Comparisons are exact between any two numeric types: signed with unsigned 64-bit
// integers compare by value (never through a lossy cast), decimals with integers and
// decimals of other scales compare exactly, and a float with anything compares as float64.
// Floats use a total order, as DuckDB and Polars do: NaN equals NaN and is greater than
// every other value; -0.0 equals 0.0.
//
// Arithmetic (+, -, *, //, %) on two integers of the same type keeps the type; two
// unsigned types give uint64; other mixes give int64 — except that an integer literal takes
// the type of the other side when its value fits (so col(u64) + 1 stays uint64; of two
// literals that fit each other's type, the narrower type is taken). Integer
// arithmetic is checked: a result outside the type is a DataError naming the expression,
// never a wrapped value. Any float operand makes float64 (float32 if both are float32);
// decimals follow decimal.go.

import (
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/uninit"
)

// intLiteral reports whether c is a non-null integer literal, with its value.
func intLiteral(c Expr) (neg bool, mag uint64, ok bool) {
	l, isLit := c.(*litExpr)
	if !isLit || !l.val.IsValid() || !IsInteger(l.val.DataType()) {
		return false, 0, false
	}
	switch v := l.val.(type) {
	case *scalar.Uint64:
		return false, v.Value, true
	case *scalar.Uint32:
		return false, uint64(v.Value), true
	case *scalar.Uint16:
		return false, uint64(v.Value), true
	case *scalar.Uint8:
		return false, uint64(v.Value), true
	}
	var x int64
	switch v := l.val.(type) {
	case *scalar.Int64:
		x = v.Value
	case *scalar.Int32:
		x = int64(v.Value)
	case *scalar.Int16:
		x = int64(v.Value)
	case *scalar.Int8:
		x = int64(v.Value)
	default:
		return false, 0, false
	}
	if x < 0 {
		return true, absU(x), true
	}
	return false, uint64(x), true
}

// literalFits reports whether an integer literal's value is representable in integer type t.
func literalFits(neg bool, mag uint64, t arrow.DataType) bool {
	if !IsInteger(t) {
		return false
	}
	if IsSigned(t) {
		lo, hi := intRange(t)
		if neg {
			return -float64(mag) >= lo && (mag <= 1<<63)
		}
		return float64(mag) < hi && mag < 1<<63
	}
	if neg {
		return mag == 0
	}
	return fitsUnsigned(mag, t)
}

// arithSupertype is the type integer and float operands of an arithmetic operator are
// cast to (see the rules at the top of the file). a and b are the operand expressions.
func arithSupertype(a, b Expr) arrow.DataType {
	ta, tb := a.Type(), b.Type()
	if IsInteger(ta) && IsInteger(tb) && !arrow.TypeEqual(ta, tb) {
		negB, magB, okB := intLiteral(b)
		negA, magA, okA := intLiteral(a)
		bFits, aFits := okB && literalFits(negB, magB, ta), okA && literalFits(negA, magA, tb)
		switch {
		case bFits && aFits:
			// Two literals, each held by the other's type: the narrower type, whichever
			// side it is on (lit(1) + lit(7, int8) is int8, as lit(7, int8) + 1).
			wa, wb := ta.(arrow.FixedWidthDataType).BitWidth(), tb.(arrow.FixedWidthDataType).BitWidth()
			if wa < wb || wa == wb && IsSigned(ta) {
				return ta
			}
			return tb
		case bFits:
			return ta
		case aFits:
			return tb
		}
	}
	return numericSupertype(ta, tb)
}

// compareKind picks the comparison kernel for two numeric (or decimal) operand types.
type compareKind uint8

const (
	cmpFloat    compareKind = iota // both as float64, total order
	cmpSigned                      // both as int64
	cmpUnsigned                    // both as uint64
	cmpMixed                       // one signed, one unsigned: exact
	cmpDecimal                     // decimals (and integers): exact
)

func numericCompareKind(a, b arrow.DataType) (compareKind, bool) {
	isNum := func(t arrow.DataType) bool {
		return IsNumeric(t) || t.ID() == arrow.DECIMAL128 || t.ID() == arrow.NULL
	}
	if !isNum(a) || !isNum(b) {
		return 0, false
	}
	switch {
	case IsFloat(a) || IsFloat(b):
		return cmpFloat, true
	case a.ID() == arrow.DECIMAL128 || b.ID() == arrow.DECIMAL128:
		return cmpDecimal, true
	case a.ID() == arrow.NULL || b.ID() == arrow.NULL:
		return cmpSigned, true
	case IsSigned(a) && IsSigned(b):
		return cmpSigned, true
	case !IsSigned(a) && !IsSigned(b):
		return cmpUnsigned, true
	case a.ID() != arrow.UINT64 && b.ID() != arrow.UINT64:
		return cmpSigned, true // int64 holds every value of both
	}
	return cmpMixed, true
}

// numericCompareKernel compares two numeric operands of the given kind. Where arrow-go's
// vectorized kernels are exact (integers cast to a type that holds both; floats without
// NaN) it uses them, and its own row loop otherwise.
func numericCompareKernel(fn string, kind compareKind) kernelFn {
	switch kind {
	case cmpDecimal:
		return decCompareKernel(fn)
	case cmpSigned, cmpUnsigned:
		t := arrow.PrimitiveTypes.Int64
		if kind == cmpUnsigned {
			t = arrow.PrimitiveTypes.Uint64
		}
		return castArgs([]arrow.DataType{t, t}, computeKernel(comparisonFns[fn], nil))
	case cmpFloat:
		f64 := arrow.PrimitiveTypes.Float64
		fast := castArgs([]arrow.DataType{f64, f64}, computeKernel(comparisonFns[fn], nil))
		slow := rowCompareKernel(fn, kind)
		return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
			if d, ok := floatVsNumber(ec, fn, args); ok {
				return d, nil
			}
			for _, a := range args {
				if hasNaN(a) {
					return slow(ec, args)
				}
			}
			return fast(ec, args)
		}
	}
	return rowCompareKernel(fn, kind)
}

// floatVsNumber compares a float64 column with a number that is not NaN (a filter's
// amount > 0) in one pass that writes the result's bits, without looking for NaNs first:
// with NaN the largest value (floatCmp), x > c is !(x <= c), x >= c is !(x < c) and
// x != c is !(x == c), and x < c, x <= c, x == c are false for a NaN as IEEE has them.
// It declines (false) other operands.
func floatVsNumber(ec *EvalCtx, fn string, args []compute.Datum) (compute.Datum, bool) {
	if len(args) != 2 {
		return nil, false
	}
	ad, ok := args[0].(*compute.ArrayDatum)
	sd, sok := args[1].(*compute.ScalarDatum)
	if !ok || !sok {
		if ad, ok = args[1].(*compute.ArrayDatum); !ok {
			return nil, false
		}
		if sd, sok = args[0].(*compute.ScalarDatum); !sok {
			return nil, false
		}
		fn = map[string]string{"lt": "gt", "le": "ge", "gt": "lt", "ge": "le", "eq": "eq", "ne": "ne"}[fn]
	}
	if ad.Type().ID() != arrow.FLOAT64 || !sd.Value.IsValid() {
		return nil, false
	}
	st := sd.Value.DataType()
	if !IsInteger(st) && st.ID() != arrow.FLOAT32 && st.ID() != arrow.FLOAT64 {
		return nil, false
	}
	f, err := sd.Value.CastTo(arrow.PrimitiveTypes.Float64) // a float with anything compares as float64
	if err != nil {
		return nil, false
	}
	c := f.(*scalar.Float64).Value
	if math.IsNaN(c) {
		return nil, false
	}
	var neg byte
	op := fn
	switch fn {
	case "ge":
		op, neg = "lt", 0xFF
	case "gt":
		op, neg = "le", 0xFF
	case "ne":
		op, neg = "eq", 0xFF
	case "lt", "le", "eq":
	default:
		return nil, false
	}
	x := ad.MakeArray().(*array.Float64)
	defer x.Release()
	n := x.Len()
	bits := uninit.Buffer(ec.Mem, int(bitutil.BytesForBits(int64(n))))
	floatCompareBits(op, x.Float64Values(), c, bits.Bytes(), neg)
	var valid *memory.Buffer
	if x.NullN() > 0 {
		valid = memory.NewResizableBuffer(ec.Mem)
		valid.Resize(len(bits.Bytes()))
		bitutil.CopyBitmap(x.NullBitmapBytes(), x.Data().Offset(), n, valid.Bytes(), 0)
	}
	out := array.NewBoolean(n, bits, valid, x.NullN())
	defer out.Release()
	bits.Release()
	if valid != nil {
		valid.Release()
	}
	return compute.NewDatum(out), true
}

// floatCompareBits sets bit i of out to xs[i] < c, <= c or == c (op "lt", "le", "eq") XOR
// the bit of neg, a byte (eight rows) at a time, without branches on the values.
func floatCompareBits(op string, xs []float64, c float64, out []byte, neg byte) {
	var cmp func(x, c float64) byte
	switch op {
	case "lt":
		cmp = func(x, c float64) byte { return bit(x < c) }
	case "le":
		cmp = func(x, c float64) byte { return bit(x <= c) }
	default:
		cmp = func(x, c float64) byte { return bit(x == c) }
	}
	full := len(xs) / 8 * 8
	switch op {
	case "lt":
		for i := 0; i < full; i += 8 {
			v := xs[i : i+8 : i+8]
			out[i/8] = neg ^ (bit(v[0] < c) | bit(v[1] < c)<<1 | bit(v[2] < c)<<2 | bit(v[3] < c)<<3 |
				bit(v[4] < c)<<4 | bit(v[5] < c)<<5 | bit(v[6] < c)<<6 | bit(v[7] < c)<<7)
		}
	case "le":
		for i := 0; i < full; i += 8 {
			v := xs[i : i+8 : i+8]
			out[i/8] = neg ^ (bit(v[0] <= c) | bit(v[1] <= c)<<1 | bit(v[2] <= c)<<2 | bit(v[3] <= c)<<3 |
				bit(v[4] <= c)<<4 | bit(v[5] <= c)<<5 | bit(v[6] <= c)<<6 | bit(v[7] <= c)<<7)
		}
	default:
		for i := 0; i < full; i += 8 {
			v := xs[i : i+8 : i+8]
			out[i/8] = neg ^ (bit(v[0] == c) | bit(v[1] == c)<<1 | bit(v[2] == c)<<2 | bit(v[3] == c)<<3 |
				bit(v[4] == c)<<4 | bit(v[5] == c)<<5 | bit(v[6] == c)<<6 | bit(v[7] == c)<<7)
		}
	}
	if full < len(xs) {
		var b byte
		for k, x := range xs[full:] {
			b |= cmp(x, c) << k
		}
		out[full/8] = neg ^ b
	}
}

// bit is 1 for true, 0 for false (a SETcc, no branch).
func bit(b bool) byte {
	var x byte
	if b {
		x = 1
	}
	return x
}

// hasNaN reports whether a float datum holds a NaN.
func hasNaN(d compute.Datum) bool {
	switch v := d.(type) {
	case *compute.ScalarDatum:
		switch s := v.Value.(type) {
		case *scalar.Float64:
			return s.IsValid() && math.IsNaN(s.Value)
		case *scalar.Float32:
			return s.IsValid() && s.Value != s.Value
		}
	case *compute.ArrayDatum:
		a := v.MakeArray()
		defer a.Release()
		switch x := a.(type) {
		case *array.Float64:
			for _, f := range x.Float64Values() {
				if f != f {
					return true
				}
			}
		case *array.Float32:
			for _, f := range x.Float32Values() {
				if f != f {
					return true
				}
			}
		}
	}
	return false
}

// rowCompareKernel compares row by row: floats in total order, signed with unsigned exactly.
func rowCompareKernel(fn string, kind compareKind) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		x, xs, y, ys, err := asArrays2(ec, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		defer y.Release()
		b := array.NewBooleanBuilder(ec.Mem)
		defer b.Release()
		null := func(int) { b.AppendNull() }
		switch kind {
		case cmpFloat:
			xf, err := numAsFloat64(ec, x)
			if err != nil {
				return nil, err
			}
			yf, err := numAsFloat64(ec, y)
			if err != nil {
				return nil, err
			}
			_, err = binaryRows(x, xs, y, ys, func(i, xi, yi int) error {
				b.Append(cmpResult(fn, floatCmp(xf[xi], yf[yi])))
				return nil
			}, null)
			if err != nil {
				return nil, err
			}
		default:
			xv, xu, err := intValues(ec, x)
			if err != nil {
				return nil, err
			}
			yv, yu, err := intValues(ec, y)
			if err != nil {
				return nil, err
			}
			_, err = binaryRows(x, xs, y, ys, func(i, xi, yi int) error {
				var c int
				switch {
				case xu != nil && yu != nil:
					c = cmpOrdered(xu[xi], yu[yi])
				case xu == nil && yu == nil:
					c = cmpOrdered(xv[xi], yv[yi])
				case xu != nil: // unsigned x, signed y
					if yv[yi] < 0 {
						c = 1
					} else {
						c = cmpOrdered(xu[xi], uint64(yv[yi]))
					}
				default:
					if xv[xi] < 0 {
						c = -1
					} else {
						c = cmpOrdered(uint64(xv[xi]), yu[yi])
					}
				}
				b.Append(cmpResult(fn, c))
				return nil
			}, null)
			if err != nil {
				return nil, err
			}
		}
		return wrapResult(b.NewArray(), xs && ys)
	}
}

func cmpOrdered[T int64 | uint64](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// floatCmp is a total order: NaN equals NaN and is above everything; -0.0 equals 0.0.
func floatCmp(a, b float64) int {
	an, bn := math.IsNaN(a), math.IsNaN(b)
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// intValues reads an integer (or null) array as int64 (signed) or uint64 (unsigned).
func intValues(ec *EvalCtx, a arrow.Array) ([]int64, []uint64, error) {
	if a.DataType().ID() == arrow.NULL {
		return make([]int64, a.Len()), nil, nil
	}
	if IsInteger(a.DataType()) && !IsSigned(a.DataType()) {
		c, err := compute.CastToType(ec.Ctx, a, arrow.PrimitiveTypes.Uint64)
		if err != nil {
			return nil, nil, err
		}
		defer c.Release()
		return nil, append([]uint64(nil), c.(*array.Uint64).Uint64Values()...), nil
	}
	v, err := AsInt64(a)
	return v, nil, err
}

// numAsFloat64 reads any numeric, decimal or null array as float64.
func numAsFloat64(ec *EvalCtx, a arrow.Array) ([]float64, error) {
	switch a.DataType().ID() {
	case arrow.NULL:
		return make([]float64, a.Len()), nil
	case arrow.DECIMAL128:
		sc := a.DataType().(*arrow.Decimal128Type).Scale
		vals := a.(*array.Decimal128).Values()
		out := make([]float64, a.Len())
		for i := range out {
			out[i] = decFloat64(vals[i], sc)
		}
		return out, nil
	}
	return AsFloat64(a)
}

// checkedArith wraps an arrow-go checked arithmetic kernel so that an overflow names the
// expression and the type.
func checkedArith(name, text string, t arrow.DataType) kernelFn {
	k := computeKernel(name, nil)
	overflow := func() error {
		return rberr.New(rberr.Data, "%s: integer overflow: a result does not fit in %s (integer arithmetic is checked; cast an operand to a wider type or to float64 first)", text, TypeName(t))
	}
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		out, err := k(ec, args)
		if err != nil && strings.Contains(strings.ToLower(err.Error()), "overflow") {
			return nil, overflow()
		}
		if err == nil && IsSigned(t) && (name == "add" || name == "subtract") {
			// arrow-go's checked add misses overflow below the minimum (-128 + -128 is 0 in
			// int8) and its checked subtract above the maximum (0 - -128): check those here.
			wrapped, cerr := signedWrapped(ec, name == "subtract", args, out)
			if cerr != nil || wrapped {
				out.Release()
				if cerr != nil {
					return nil, cerr
				}
				return nil, overflow()
			}
		}
		return out, err
	}
}

// signedWrapped reports whether a signed integer sum (or difference, when sub) out of the two
// operands in args wrapped around in any row.
func signedWrapped(ec *EvalCtx, sub bool, args []compute.Datum, out compute.Datum) (bool, error) {
	var arrs [3]arrow.Array
	var vals [3][]int64
	for i, d := range []compute.Datum{args[0], args[1], out} {
		a, _, err := asArray(ec, d)
		if err != nil {
			return false, err
		}
		defer a.Release()
		if vals[i], err = AsInt64(a); err != nil {
			return false, err
		}
		arrs[i] = a
	}
	xs, ys, rs := vals[0], vals[1], vals[2]
	wide := arrs[2].DataType().(arrow.FixedWidthDataType).BitWidth() == 64
	r := arrs[2]
	for i, got := range rs {
		if r.IsNull(i) {
			continue
		}
		x, y := xs[min(i, len(xs)-1)], ys[min(i, len(ys)-1)]
		var bad bool
		switch {
		case wide && sub:
			bad = (x^y)&(x^got) < 0
		case wide:
			bad = (x^got)&(y^got) < 0
		case sub:
			bad = x-y != got // exact in int64 for narrower types
		default:
			bad = x+y != got
		}
		if bad {
			return true, nil
		}
	}
	return false, nil
}

// nullMaskKernel is is_null (want == false) or is_not_null (want == true) over any type,
// read from the validity bitmap (every row of a null-typed column is null).
func nullMaskKernel(want bool) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		if sd, ok := args[0].(*compute.ScalarDatum); ok {
			valid := sd.Value.IsValid() && sd.Value.DataType().ID() != arrow.NULL
			return compute.NewDatum(scalar.NewBooleanScalar(valid == want)), nil
		}
		a := args[0].(*compute.ArrayDatum).MakeArray()
		defer a.Release()
		b := array.NewBooleanBuilder(ec.Mem)
		defer b.Release()
		b.Reserve(a.Len())
		for i := 0; i < a.Len(); i++ {
			b.UnsafeAppend(isValid(a, i) == want)
		}
		return wrapResult(b.NewArray(), false)
	}
}

// isInstant reports whether t is a point in time a comparison can convert exactly.
func isInstant(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64:
		return true
	}
	return false
}

// instantParts reads a timestamp or date column as (seconds, nanoseconds) since the epoch:
// an exact form in which values of any two units compare without overflow.
func instantParts(a arrow.Array) ([]int64, []int64, error) {
	n := a.Len()
	secs, nanos := make([]int64, n), make([]int64, n)
	var perSec, tickNanos int64
	switch t := a.DataType().(type) {
	case *arrow.TimestampType:
		tickNanos = map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}[t.Unit]
		perSec = int64(1e9) / tickNanos
	case *arrow.Date64Type:
		tickNanos, perSec = 1e6, 1000
	case *arrow.Date32Type:
		vals := a.(*array.Date32).Date32Values()
		for i, v := range vals {
			secs[i] = int64(v) * 86400
		}
		return secs, nanos, nil
	default:
		return nil, nil, fmt.Errorf("not a point in time: %s", a.DataType())
	}
	get := Int64Getter(a)
	for i := 0; i < n; i++ {
		v := get(i)
		s := FloorDiv(v, perSec)
		secs[i], nanos[i] = s, (v-s*perSec)*tickNanos
	}
	return secs, nanos, nil
}

// instantCompareKernel compares timestamps and dates of any units exactly.
func instantCompareKernel(fn string) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		x, xs, y, ys, err := asArrays2(ec, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		defer y.Release()
		xsec, xns, err := instantParts(x)
		if err != nil {
			return nil, err
		}
		ysec, yns, err := instantParts(y)
		if err != nil {
			return nil, err
		}
		b := array.NewBooleanBuilder(ec.Mem)
		defer b.Release()
		_, err = binaryRows(x, xs, y, ys, func(i, xi, yi int) error {
			c := cmpOrdered(xsec[xi], ysec[yi])
			if c == 0 {
				c = cmpOrdered(xns[xi], yns[yi])
			}
			b.Append(cmpResult(fn, c))
			return nil
		}, func(int) { b.AppendNull() })
		if err != nil {
			return nil, err
		}
		return wrapResult(b.NewArray(), xs && ys)
	}
}
