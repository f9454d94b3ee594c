package expr

// Decimal arithmetic, exact, with DuckDB's precision and scale rules:
//
//   decimal(p1,s1) ± decimal(p2,s2) -> decimal(max(p1-s1, p2-s2) + max(s1,s2) + 1, max(s1,s2))
//   decimal(p1,s1) * decimal(p2,s2) -> decimal(p1+p2, s1+s2)
//   decimal / anything              -> float64 (as DuckDB)
//   sum(decimal(p,s))               -> decimal(38,s); mean -> float64; min/max keep the type
//
// Integers take part as decimal(w,0) with w the digits of their type (int64: 19, uint64: 20);
// floats turn the decimal into float64. Precision is capped at 38; a result that does not
// fit its precision is a DataError naming the operator, never a wrapped value.

import (
	"math"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/uninit"
)

const MaxDecPrecision = 38

// intDigits is the decimal precision that holds every value of an integer type.
func intDigits(t arrow.DataType) int32 {
	switch t.ID() {
	case arrow.INT8, arrow.UINT8:
		return 3
	case arrow.INT16, arrow.UINT16:
		return 5
	case arrow.INT32, arrow.UINT32:
		return 10
	case arrow.INT64:
		return 19
	}
	return 20
}

// asDecimalType is the decimal type an operand takes part in decimal arithmetic as.
func asDecimalType(t arrow.DataType) (*arrow.Decimal128Type, bool) {
	switch {
	case t.ID() == arrow.DECIMAL128:
		return t.(*arrow.Decimal128Type), true
	case IsInteger(t):
		return &arrow.Decimal128Type{Precision: intDigits(t), Scale: 0}, true
	case t.ID() == arrow.NULL:
		return &arrow.Decimal128Type{Precision: 1, Scale: 0}, true
	}
	return nil, false
}

func DecType(p, s int32) *arrow.Decimal128Type {
	if p > MaxDecPrecision {
		p = MaxDecPrecision
	}
	return &arrow.Decimal128Type{Precision: p, Scale: s}
}

// decResultType is the type of a ± b or a * b for decimal operands.
func decResultType(fn string, a, b *arrow.Decimal128Type) *arrow.Decimal128Type {
	if fn == "mul" {
		return DecType(a.Precision+b.Precision, a.Scale+b.Scale)
	}
	s := max(a.Scale, b.Scale)
	return DecType(max(a.Precision-a.Scale, b.Precision-b.Scale)+s+1, s)
}

// decCommonType is the decimal type both sides of a comparison are read as.
func decCommonType(a, b *arrow.Decimal128Type) *arrow.Decimal128Type {
	s := max(a.Scale, b.Scale)
	return DecType(max(a.Precision-a.Scale, b.Precision-b.Scale)+s, s)
}

var bigTen = big.NewInt(10)

func pow10Big(n int32) *big.Int { return new(big.Int).Exp(bigTen, big.NewInt(int64(n)), nil) }

var maxDec38 = decimal128.GetMaxValue(MaxDecPrecision)

// maxDec38Hi is maxDec38's high word (DecAdd's quick bound).
var maxDec38Hi = maxDec38.HighBits()

// decToInt64 returns n as an int64 when it fits.
func decToInt64(n decimal128.Num) (int64, bool) {
	lo, hi := n.LowBits(), n.HighBits()
	if (hi == 0 && lo>>63 == 0) || (hi == -1 && lo>>63 == 1) {
		return int64(lo), true
	}
	return 0, false
}

func decToUint64(n decimal128.Num) uint64 { return n.LowBits() }

func decFitsUint(n decimal128.Num, t arrow.DataType) bool {
	if n.HighBits() != 0 {
		return false
	}
	return fitsUnsigned(n.LowBits(), t)
}

var pow10 = func() []int64 {
	p := make([]int64, 19)
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// decRescale changes the scale of n from `from` to `to`, rounding half away from zero when
// the scale shrinks. ok is false when the result has more than 38 digits.
func decRescale(n decimal128.Num, from, to int32) (decimal128.Num, bool) {
	if from == to {
		return n, true
	}
	if to > from {
		d := to - from
		if v, ok := decToInt64(n); ok && d < 19 {
			hi, lo := bits.Mul64(absU(v), uint64(pow10[d]))
			if hi == 0 && lo < 1<<63 {
				r := int64(lo)
				if v < 0 {
					r = -r
				}
				return decimal128.FromI64(r), true
			}
		}
		if d > MaxDecPrecision || n.Abs().Greater(decimal128.GetMaxValue(MaxDecPrecision-d)) {
			return n, false
		}
		return decimal128.FromBigInt(new(big.Int).Mul(n.BigInt(), pow10Big(d))), true
	}
	d := from - to
	if v, ok := decToInt64(n); ok && d < 19 {
		p := pow10[d]
		q, r := v/p, v%p
		if 2*absU(r) >= uint64(p) {
			if v < 0 {
				q--
			} else {
				q++
			}
		}
		return decimal128.FromI64(q), true
	}
	return n.ReduceScaleBy(d, true), true
}

// decRescaleExact is decRescale where it loses nothing: ok is false when a smaller scale
// would drop nonzero digits (2.25 at scale 0) or the result has more than 38 digits.
func decRescaleExact(n decimal128.Num, from, to int32) (decimal128.Num, bool) {
	if to < from {
		_, rem := n.Div(decimal128.GetScaleMultiplier(int(from - to)))
		if rem != (decimal128.Num{}) {
			return n, false
		}
	}
	return decRescale(n, from, to)
}

func absU(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// DecAdd adds exactly; ok is false when the sum leaves 38 digits. Operands of at most 38
// digits sum to less than 2e38 in magnitude: a sum that wraps past 128 bits has a
// magnitude of more than 2^128 - 2e38 (above 1.4e38), which the bound rejects.
func DecAdd(a, b decimal128.Num) (decimal128.Num, bool) {
	lo, carry := bits.Add64(a.LowBits(), b.LowBits(), 0)
	hi := a.HighBits() + b.HighBits() + int64(carry)
	s := decimal128.New(hi, lo)
	if hi^(hi>>63) < maxDec38Hi-1 {
		return s, true // the magnitude's high word is below the largest 38-digit one's
	}
	return s, s.Abs().LessEqual(maxDec38)
}

// decMul multiplies exactly; ok is false when the product leaves 38 digits.
func decMul(a, b decimal128.Num) (decimal128.Num, bool) {
	if x, ok := decToInt64(a); ok {
		if y, ok := decToInt64(b); ok {
			hi, lo := bits.Mul64(absU(x), absU(y))
			if hi < 1<<62 {
				n := decimal128.New(int64(hi), lo)
				if (x < 0) != (y < 0) {
					n = n.Negate()
				}
				return n, n.Abs().LessEqual(maxDec38)
			}
		}
	}
	p := new(big.Int).Mul(a.BigInt(), b.BigInt())
	if new(big.Int).Abs(p).Cmp(maxDec38.BigInt()) > 0 {
		return decimal128.Num{}, false
	}
	return decimal128.FromBigInt(p), true
}

// decCmp compares a (scale sa) with b (scale sb) exactly.
func decCmp(a decimal128.Num, sa int32, b decimal128.Num, sb int32) int {
	if sa == sb {
		return a.Cmp(b)
	}
	if sa < sb {
		if x, ok := decRescale(a, sa, sb); ok {
			return x.Cmp(b)
		}
	} else if y, ok := decRescale(b, sb, sa); ok {
		return a.Cmp(y)
	}
	x, y := a.BigInt(), b.BigInt()
	if sa < sb {
		x.Mul(x, pow10Big(sb-sa))
	} else {
		y.Mul(y, pow10Big(sa-sb))
	}
	return x.Cmp(y)
}

// parseDecimal reads decimal text (optional sign, digits, optional fraction, optional
// exponent, surrounding whitespace) exactly into a decimal of scale s, rounding half away
// from zero; ok is false for anything else or a value over precision p.
func parseDecimal(text string, p, s int32) (decimal128.Num, bool) {
	t := strings.TrimSpace(text)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	exp := int64(0)
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		e := t[i+1:]
		t = t[:i]
		if !validIntText(e) || len(e) > 6 {
			return decimal128.Num{}, false
		}
		var err error
		if exp, err = parseInt64(e); err != nil {
			return decimal128.Num{}, false
		}
	}
	intPart, frac := t, ""
	if i := strings.IndexByte(t, '.'); i >= 0 {
		intPart, frac = t[:i], t[i+1:]
	}
	if intPart == "" && frac == "" {
		return decimal128.Num{}, false
	}
	digits := intPart + frac
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return decimal128.Num{}, false
		}
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		digits = "0"
	}
	// value = digits * 10^(exp - len(frac)); we want value * 10^s
	shift := exp - int64(len(frac)) + int64(s)
	v, ok := new(big.Int).SetString(digits, 10)
	if !ok {
		return decimal128.Num{}, false
	}
	if shift >= 0 {
		if shift > 80 && v.Sign() != 0 {
			return decimal128.Num{}, false
		}
		v.Mul(v, pow10Big(int32(shift)))
	} else {
		if -shift > 80 {
			v.SetInt64(0)
		} else {
			div := pow10Big(int32(-shift))
			q, r := new(big.Int).QuoRem(v, div, new(big.Int))
			if r.Lsh(r, 1).Cmp(div) >= 0 {
				q.Add(q, big.NewInt(1))
			}
			v = q
		}
	}
	if v.Cmp(decimal128.GetMaxValue(p).BigInt()) > 0 {
		return decimal128.Num{}, false
	}
	if neg {
		v.Neg(v)
	}
	return decimal128.FromBigInt(v), true
}

// decFloat64 is the float64 nearest to n / 10^scale (arrow-go's ToFloat64 can be one unit
// off in the last place: -3.55 became -3.5500000000000003).
func decFloat64(n decimal128.Num, scale int32) float64 {
	if v, ok := decToInt64(n); ok && scale == 0 {
		return float64(v)
	}
	f, err := strconv.ParseFloat(n.ToString(scale), 64)
	if err != nil {
		return n.ToFloat64(scale)
	}
	return f
}

func parseInt64(s string) (int64, error) {
	var n int64
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		n = n*10 + int64(s[i]-'0')
	}
	if neg {
		n = -n
	}
	return n, nil
}

// DecimalsOf reads a decimal128 (or integer) array as decimal128 numbers at its own scale.
func DecimalsOf(ec *EvalCtx, a arrow.Array) ([]decimal128.Num, int32, error) {
	if d, ok := a.(*array.Decimal128); ok {
		return d.Values(), a.DataType().(*arrow.Decimal128Type).Scale, nil
	}
	out := make([]decimal128.Num, a.Len())
	if a.DataType().ID() == arrow.NULL {
		return out, 0, nil
	}
	if IsInteger(a.DataType()) && !IsSigned(a.DataType()) {
		c, err := compute.CastToType(ec.Ctx, a, arrow.PrimitiveTypes.Uint64)
		if err != nil {
			return nil, 0, err
		}
		defer c.Release()
		for i, v := range c.(*array.Uint64).Uint64Values() {
			out[i] = decimal128.FromU64(v)
		}
		return out, 0, nil
	}
	ints, err := AsInt64(a)
	if err != nil {
		return nil, 0, err
	}
	for i, v := range ints {
		out[i] = decimal128.FromI64(v)
	}
	return out, 0, nil
}

// binaryRows calls f for each row of two arrays (either may be a one-row scalar) that
// are both valid; the result has n rows.
func binaryRows(x arrow.Array, xs bool, y arrow.Array, ys bool, f func(i, xi, yi int) error, null func(i int)) (int, error) {
	n := x.Len()
	if xs && !ys {
		n = y.Len()
	}
	for i := 0; i < n; i++ {
		xi, yi := rowsAt(i, xs, ys)
		if !isValid(x, xi) || !isValid(y, yi) {
			null(i)
			continue
		}
		if err := f(i, xi, yi); err != nil {
			return n, err
		}
	}
	return n, nil
}

// decArithKernel computes add, sub or mul of decimal (or integer) operands into type out.
func decArithKernel(fn, text string, out *arrow.Decimal128Type) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		x, xs, y, ys, err := asArrays2(ec, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		defer y.Release()
		if fn == "mul" {
			if arr := decMulSmall(ec, x, xs, y, ys, out); arr != nil {
				return wrapResult(arr, xs && ys)
			}
		} else if fn == "add" || fn == "sub" {
			if arr := decAddSmall(ec, x, xs, y, ys, fn == "sub", out); arr != nil {
				return wrapResult(arr, xs && ys)
			}
		}
		xv, xsc, err := DecimalsOf(ec, x)
		if err != nil {
			return nil, err
		}
		yv, ysc, err := DecimalsOf(ec, y)
		if err != nil {
			return nil, err
		}
		overflow := func(xi, yi int) error {
			return rberr.New(rberr.Data, "%s: the result of %s and %s does not fit in %s (decimal arithmetic is checked)",
				text, xv[xi].ToString(xsc), yv[yi].ToString(ysc), TypeName(out))
		}
		n := rowsOf2(x, xs, y, ys)
		valid, nulls := validityOf2(ec, x, xs, y, ys, n)
		vals := memory.NewResizableBuffer(ec.Mem)
		vals.Resize(n * arrow.Decimal128SizeBytes)
		res := arrow.Decimal128Traits.CastFromBytes(vals.Bytes())
		release := func() {
			vals.Release()
			if valid != nil {
				valid.Release()
			}
		}
		// A one-row operand is rescaled once; add and sub take both operands at the
		// result's scale (mul's scale is the sum of its operands').
		xa, ya := xv, yv
		xscale, yscale := xsc, ysc
		if fn != "mul" {
			if xs && len(xv) > 0 {
				if r, ok := decRescale(xv[0], xsc, out.Scale); ok {
					xa, xscale = []decimal128.Num{r}, out.Scale
				}
			}
			if ys && len(yv) > 0 {
				if r, ok := decRescale(yv[0], ysc, out.Scale); ok {
					ya, yscale = []decimal128.Num{r}, out.Scale
				}
			}
		}
		var vbits []byte
		if valid != nil {
			vbits = valid.Bytes()
		}
		for i := 0; i < n; i++ {
			if vbits != nil && !bitutil.BitIsSet(vbits, i) {
				res[i] = decimal128.Num{}
				continue
			}
			xi, yi := rowsAt(i, xs, ys)
			var r decimal128.Num
			var ok bool
			switch fn {
			case "mul":
				r, ok = decMul(xa[xi], ya[yi])
			case "floordiv", "mod":
				a, ok1 := decRescale(xa[xi], xscale, out.Scale)
				c, ok2 := decRescale(ya[yi], yscale, out.Scale)
				if ok1 && ok2 && c == (decimal128.Num{}) {
					release()
					return nil, rberr.New(rberr.Data, "%s: division by zero (%s %s %s)", text, xv[xi].ToString(xsc),
						map[string]string{"floordiv": "//", "mod": "%"}[fn], yv[yi].ToString(ysc))
				}
				r, ok = decFloorDivMod(a, c, fn == "mod", out.Scale)
				ok = ok && ok1 && ok2
			default:
				a, ok1 := decRescale(xa[xi], xscale, out.Scale)
				c, ok2 := decRescale(ya[yi], yscale, out.Scale)
				if fn == "sub" {
					c = c.Negate()
				}
				r, ok = DecAdd(a, c)
				ok = ok && ok1 && ok2
			}
			if !ok || !r.FitsInPrecision(out.Precision) {
				release()
				return nil, overflow(xi, yi)
			}
			res[i] = r
		}
		data := array.NewData(out, n, []*memory.Buffer{valid, vals}, nil, nulls, 0)
		release()
		arr := array.MakeFromData(data)
		data.Release()
		return wrapResult(arr, xs && ys)
	}
}

// decFloorDivMod is Python's (and Polars') floor division or modulo of a by b, both
// unscaled at scale: the quotient rounded toward negative infinity (as a decimal at that
// scale), or the remainder with the sign of b. ok is false when the quotient does not fit.
func decFloorDivMod(a, b decimal128.Num, mod bool, scale int32) (decimal128.Num, bool) {
	q, r := a.Div(b) // truncated toward zero
	if r.Sign() != 0 && r.Sign() != b.Sign() {
		q = q.Sub(decimal128.FromI64(1))
		r = r.Add(b)
	}
	if mod {
		return r, true
	}
	return decRescale(q, 0, scale)
}

// smallCol reads an integer or decimal array's unscaled values as int64s, without copying
// a decimal column: at says whether row i's value fits.
type smallCol struct {
	ints []int64          // an integer column
	decs []decimal128.Num // or a decimal one
}

func smallColOf(a arrow.Array) (smallCol, bool) {
	c := smallCol{}
	switch v := a.(type) {
	case *array.Int64:
		c.ints = v.Int64Values()
	case *array.Int32, *array.Int16, *array.Int8:
		out, err := AsInt64(a)
		if err != nil {
			return c, false
		}
		c.ints = out
	case *array.Decimal128:
		c.decs = v.Values()
	default:
		return c, false
	}
	return c, true
}

// at is row i's unscaled value; ok is false when it does not fit in int64 (a null row's
// value may be anything: the callers look at a row's validity before giving up on it).
func (c *smallCol) at(i int) (v int64, ok bool) {
	if c.ints != nil {
		return c.ints[i], true
	}
	d := &c.decs[i]
	v = int64(d.LowBits())
	return v, d.HighBits() == v>>63
}

// decMulSmall multiplies decimal or integer operands whose unscaled values and products
// all fit in int64 (a price times a rate) with checked 64-bit multiplication; nil when
// some row needs the general path (which also reports an overflow).
func decMulSmall(ec *EvalCtx, x arrow.Array, xs bool, y arrow.Array, ys bool, out *arrow.Decimal128Type) arrow.Array {
	xv, ok1 := smallColOf(x)
	yv, ok2 := smallColOf(y)
	if !ok1 || !ok2 {
		return nil
	}
	n := rowsOf2(x, xs, y, ys)
	limit := uint64(math.MaxInt64)
	if out.Precision < 19 {
		limit = uint64(pow10u64[out.Precision]) - 1
	}
	o := newSmallResult(ec, x, xs, y, ys, n)
	for i := 0; i < n; i++ {
		xi, yi := rowsAt(i, xs, ys)
		a, aok := xv.at(xi)
		b, bok := yv.at(yi)
		hi, lo := bits.Mul64(absU(a), absU(b))
		if hi != 0 || lo > limit || !aok || !bok {
			if o.null(i) {
				continue
			}
			return o.abandon()
		}
		v := int64(lo)
		if (a < 0) != (b < 0) {
			v = -v
		}
		o.res[i] = decimal128.FromI64(v)
	}
	return o.finish(out)
}

// smallResult is the output of decMulSmall and decAddSmall: its values (zero where a
// row is null) and validity.
type smallResult struct {
	n           int
	vals, valid *memory.Buffer
	nulls       int
	res         []decimal128.Num
}

func newSmallResult(ec *EvalCtx, x arrow.Array, xs bool, y arrow.Array, ys bool, n int) *smallResult {
	o := &smallResult{n: n}
	o.valid, o.nulls = validityOf2(ec, x, xs, y, ys, n)
	// Every row's value is written (a null's zeroed) before the result is read, or the
	// result is abandoned: the buffer need not be zeroed first.
	o.vals = uninit.Buffer(ec.Mem, n*arrow.Decimal128SizeBytes)
	o.res = arrow.Decimal128Traits.CastFromBytes(o.vals.Bytes())
	return o
}

// null says whether row i is null (and zeroes its value).
func (o *smallResult) null(i int) bool {
	if o.valid != nil && !bitutil.BitIsSet(o.valid.Bytes(), i) {
		o.res[i] = decimal128.Num{}
		return true
	}
	return false
}

// abandon drops the result (a row needs the general path) and returns nil.
func (o *smallResult) abandon() arrow.Array {
	o.vals.Release()
	if o.valid != nil {
		o.valid.Release()
	}
	return nil
}

func (o *smallResult) finish(out *arrow.Decimal128Type) arrow.Array {
	data := array.NewData(out, o.n, []*memory.Buffer{o.valid, o.vals}, nil, o.nulls, 0)
	o.abandon()
	arr := array.MakeFromData(data)
	data.Release()
	return arr
}

// decAddSmall adds (or subtracts) decimal or integer operands whose unscaled values, at
// the result's scale, and sums all fit in int64 (a discount from 1) with checked 64-bit
// arithmetic; nil when some row needs the general path (which also reports an overflow).
func decAddSmall(ec *EvalCtx, x arrow.Array, xs bool, y arrow.Array, ys bool, sub bool, out *arrow.Decimal128Type) arrow.Array {
	scaleOf := func(a arrow.Array) int32 {
		if d, ok := a.DataType().(*arrow.Decimal128Type); ok {
			return d.Scale
		}
		return 0
	}
	xup, yup := out.Scale-scaleOf(x), out.Scale-scaleOf(y)
	if xup < 0 || yup < 0 || xup > 18 || yup > 18 {
		return nil
	}
	xv, ok1 := smallColOf(x)
	yv, ok2 := smallColOf(y)
	if !ok1 || !ok2 {
		return nil
	}
	xm, ym := pow10u64[xup], pow10u64[yup]
	n := rowsOf2(x, xs, y, ys)
	limit := uint64(math.MaxInt64) / 2 // each operand's and the sum's magnitude: the sum fits
	if out.Precision < 19 {
		limit = pow10u64[out.Precision] - 1
	}
	o := newSmallResult(ec, x, xs, y, ys, n)
	for i := 0; i < n; i++ {
		xi, yi := rowsAt(i, xs, ys)
		a, aok := xv.at(xi)
		b, bok := yv.at(yi)
		ah, al := bits.Mul64(absU(a), xm)
		bh, bl := bits.Mul64(absU(b), ym)
		var v int64
		fits := ah|bh == 0 && al <= limit && bl <= limit && aok && bok
		if fits {
			sa, sb := int64(al), int64(bl)
			if a < 0 {
				sa = -sa
			}
			if (b < 0) != sub {
				sb = -sb
			}
			v = sa + sb
			fits = absU(v) <= limit
		}
		if !fits {
			if o.null(i) {
				continue
			}
			return o.abandon()
		}
		o.res[i] = decimal128.FromI64(v)
	}
	return o.finish(out)
}

var pow10u64 = func() (p [20]uint64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// rowsAt are the rows of a binary kernel's operands that make its row i (row 0 of a
// one-row scalar).
func rowsAt(i int, xs, ys bool) (xi, yi int) {
	xi, yi = i, i
	if xs {
		xi = 0
	}
	if ys {
		yi = 0
	}
	return xi, yi
}

// rowsOf2 is the number of rows of a binary kernel's result (either operand may be a
// one-row scalar).
func rowsOf2(x arrow.Array, xs bool, y arrow.Array, ys bool) int {
	if xs && !ys {
		return y.Len()
	}
	return x.Len()
}

// validityOf2 is the validity bitmap of n rows of a binary kernel's result (valid where
// both operands are) and its null count; nil when every row is valid.
func validityOf2(ec *EvalCtx, x arrow.Array, xs bool, y arrow.Array, ys bool, n int) (*memory.Buffer, int) {
	if x.NullN() == 0 && y.NullN() == 0 && x.DataType().ID() != arrow.NULL && y.DataType().ID() != arrow.NULL {
		return nil, 0
	}
	buf := memory.NewResizableBuffer(ec.Mem)
	buf.Resize(int(bitutil.BytesForBits(int64(n))))
	bits := buf.Bytes()
	nulls := 0
	for i := 0; i < n; i++ {
		xi, yi := rowsAt(i, xs, ys)
		if isValid(x, xi) && isValid(y, yi) {
			bitutil.SetBit(bits, i)
		} else {
			bitutil.ClearBit(bits, i)
			nulls++
		}
	}
	return buf, nulls
}

// decNegKernel negates a decimal column (cannot overflow).
var decNegKernel = unaryKernel(func(ec *EvalCtx, in arrow.Array) (arrow.Array, error) {
	vals := in.(*array.Decimal128).Values()
	return BuildDecimal(ec.Mem, in.DataType().(*arrow.Decimal128Type), in.Len(), in, func(i int) (decimal128.Num, error) {
		return vals[i].Negate(), nil
	})
})

// decCompareKernel compares decimal (or integer) operands exactly.
func decCompareKernel(fn string) kernelFn {
	return func(ec *EvalCtx, args []compute.Datum) (compute.Datum, error) {
		x, xs, y, ys, err := asArrays2(ec, args)
		if err != nil {
			return nil, err
		}
		defer x.Release()
		defer y.Release()
		xv, xsc, err := DecimalsOf(ec, x)
		if err != nil {
			return nil, err
		}
		yv, ysc, err := DecimalsOf(ec, y)
		if err != nil {
			return nil, err
		}
		n := rowsOf2(x, xs, y, ys)
		valid, nulls := validityOf2(ec, x, xs, y, ys, n)
		// One-row operands at the other's scale when exact, so rows compare without
		// rescaling (2.25 is not rounded to the 2 of a column of scale 0).
		if xs && !ys && xsc != ysc && len(xv) > 0 {
			if r, ok := decRescaleExact(xv[0], xsc, ysc); ok {
				xv, xsc = []decimal128.Num{r}, ysc
			}
		}
		if ys && !xs && xsc != ysc && len(yv) > 0 {
			if r, ok := decRescaleExact(yv[0], ysc, xsc); ok {
				yv, ysc = []decimal128.Num{r}, xsc
			}
		}
		outBits := memory.NewResizableBuffer(ec.Mem)
		outBits.Resize(int(bitutil.BytesForBits(int64(n))))
		ob := outBits.Bytes()
		var vbits []byte
		if valid != nil {
			vbits = valid.Bytes()
		}
		want := [3]bool{cmpResult(fn, -1), cmpResult(fn, 0), cmpResult(fn, 1)}
		switch {
		case xsc == ysc && !xs && len(yv) > 0: // a null row's bit is masked
			compareBits(ob, fn, xv[:n], yv, ys)
		default:
			for i := 0; i < n; i++ {
				xi, yi := rowsAt(i, xs, ys)
				var c int
				if vbits == nil || bitutil.BitIsSet(vbits, i) {
					if xsc == ysc {
						c = xv[xi].Cmp(yv[yi])
					} else {
						c = decCmp(xv[xi], xsc, yv[yi], ysc)
					}
				}
				bitutil.SetBitTo(ob, i, want[c+1])
			}
		}
		data := array.NewData(arrow.FixedWidthTypes.Boolean, n, []*memory.Buffer{valid, outBits}, nil, nulls, 0)
		outBits.Release()
		if valid != nil {
			valid.Release()
		}
		arr := array.MakeFromData(data)
		data.Release()
		return wrapResult(arr, xs && ys)
	}
}

// compareBits sets bit i of out to x[i] <fn> y[i] (y[0] when ys: a constant), a byte at a
// time without a branch per row: a decimal comparison then costs about what an integer
// one does.
func compareBits(out []byte, fn string, x, y []decimal128.Num, ys bool) {
	swap, neg := false, false // fn is less (or eq) with the operands swapped, negated
	switch fn {
	case "le": // !(y < x)
		swap, neg = true, true
	case "gt": // y < x
		swap = true
	case "ge": // !(x < y)
		neg = true
	case "ne":
		neg = true
	}
	eq := fn == "eq" || fn == "ne"
	var flip byte
	if neg {
		flip = 0xff
	}
	bit := func(i int) byte {
		a, b := x[i], y[0]
		if !ys {
			b = y[i]
		}
		if swap {
			a, b = b, a
		}
		ah, bh, al, bl := a.HighBits(), b.HighBits(), a.LowBits(), b.LowBits()
		if eq {
			return b2u(ah == bh) & b2u(al == bl)
		}
		return b2u(ah < bh) | (b2u(ah == bh) & b2u(al < bl))
	}
	n, i := len(x), 0
	for ; i+8 <= n; i += 8 {
		out[i>>3] = (bit(i) | bit(i+1)<<1 | bit(i+2)<<2 | bit(i+3)<<3 | bit(i+4)<<4 | bit(i+5)<<5 |
			bit(i+6)<<6 | bit(i+7)<<7) ^ flip
	}
	for ; i < n; i++ {
		bitutil.SetBitTo(out, i, (bit(i)^flip)&1 == 1)
	}
}

// b2u is 1 for true, 0 for false.
func b2u(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func cmpResult(fn string, c int) bool {
	switch fn {
	case "eq":
		return c == 0
	case "ne":
		return c != 0
	case "lt":
		return c < 0
	case "le":
		return c <= 0
	case "gt":
		return c > 0
	}
	return c >= 0
}
