package expr

// Casts. arrow-go's cast kernels are used where their semantics are the ones we want; the
// conversions below are our own because arrow-go's differ from DuckDB and Polars:
//
//   - strings to integers are decimal (arrow-go parses with base 0, so "010" was octal 8),
//     surrounding whitespace is ignored, a leading '+' or '-' is allowed, nothing else
//     ("1e3", "0x10", "1_000", "1.5" are errors, as in Polars' strict cast);
//   - strings to floats accept decimal notation, exponents, "inf"/"infinity"/"nan" in any
//     case, with surrounding whitespace; hexadecimal floats and underscores are errors;
//   - strings to bool accept true/false, t/f, yes/no, y/n, 1/0 in any case (as DuckDB);
//   - anything involving decimal128 is exact, and rounds half away from zero where a scale
//     is reduced (as DuckDB); a value that does not fit the target is an error.
//
// Every failed conversion is a DataError that names the expression and the value.

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/arrow/scalar"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// canCast reports whether castDatum converts from to to.
func canCast(from, to arrow.DataType) bool {
	if arrow.TypeEqual(from, to) || from.ID() == arrow.NULL {
		return true
	}
	if from.ID() == arrow.DICTIONARY {
		return canCast(from.(*arrow.DictionaryType).ValueType, to)
	}
	fd, td := from.ID() == arrow.DECIMAL128, to.ID() == arrow.DECIMAL128
	if from.ID() == arrow.DECIMAL256 {
		return ownCast(from, to)
	}
	if fd || td {
		other := from
		if fd {
			other = to
		}
		return IsNumeric(other) || IsString(other) || other.ID() == arrow.DECIMAL128
	}
	if ownCast(from, to) {
		return true
	}
	if from.ID() == arrow.DECIMAL256 || to.ID() == arrow.DECIMAL256 {
		return false
	}
	return compute.CanCast(from, to)
}

func castDatum(ec *EvalCtx, in compute.Datum, to arrow.DataType, what string) (compute.Datum, error) {
	from := datumType(in)
	if arrow.TypeEqual(from, to) {
		return cloneDatum(in), nil
	}
	if from.ID() == arrow.NULL {
		if _, ok := in.(*compute.ScalarDatum); ok {
			return compute.NewDatum(scalar.MakeNullScalar(to)), nil
		}
		n := in.(*compute.ArrayDatum).Len()
		a := array.MakeArrayOfNull(ec.Mem, to, int(n))
		defer a.Release()
		return compute.NewDatum(a), nil
	}
	if from.ID() == arrow.DICTIONARY {
		vt := from.(*arrow.DictionaryType).ValueType
		dec, err := compute.CastDatum(ec.Ctx, in, compute.SafeCastOptions(vt))
		if err != nil {
			return nil, rberr.Wrap(rberr.Data, err, "%s failed", what)
		}
		defer dec.Release()
		return castDatum(ec, dec, to, what)
	}
	if ownCast(from, to) {
		k := unaryKernel(func(ec *EvalCtx, a arrow.Array) (arrow.Array, error) { return castArray(ec, a, to, what) })
		return k(ec, []compute.Datum{in})
	}
	if IsFloat(from) && IsInteger(to) {
		if err := checkFloatToInt(ec, in, to, what); err != nil {
			return nil, err
		}
	}
	opts := compute.SafeCastOptions(to)
	opts.AllowFloatTruncate = true
	out, err := compute.CastDatum(ec.Ctx, in, opts)
	if err != nil {
		if IsInteger(from) && IsInteger(to) {
			if ad, ok := in.(*compute.ArrayDatum); ok {
				a := ad.MakeArray()
				defer a.Release()
				if v := misfit(a, to); v != "" {
					return nil, rberr.New(rberr.Data, "%s failed: the value %s does not fit in %s (integer overflow)", what, v, TypeName(to))
				}
			}
			return nil, rberr.New(rberr.Data, "%s failed: a value does not fit in %s (integer overflow)", what, TypeName(to))
		}
		return nil, rberr.Wrap(rberr.Data, err, "%s failed", what)
	}
	return out, nil
}

// ownCast reports whether castArray (rather than arrow-go) converts from to to.
func ownCast(from, to arrow.DataType) bool {
	switch {
	case from.ID() == arrow.DECIMAL256:
		// Read from Parquet beyond 38 digits: cast to something computed on.
		return to.ID() == arrow.DECIMAL128 || IsFloat(to) || IsString(to)
	case from.ID() == arrow.DECIMAL128 || to.ID() == arrow.DECIMAL128:
		return true
	case IsString(from):
		return IsInteger(to) || IsFloat(to) || to.ID() == arrow.BOOL || to.ID() == arrow.DATE32 || to.ID() == arrow.TIMESTAMP
	case IsFloat(from):
		return IsString(to)
	case from.ID() == arrow.BOOL:
		// arrow-go's bool casts ignore the array offset (wrong values for sliced input).
		return IsInteger(to) || IsFloat(to) || IsString(to)
	case from.ID() == arrow.TIMESTAMP && to.ID() == arrow.TIMESTAMP:
		// So do its zone-only timestamp casts (same unit, other or no zone); a coarser
		// unit is ours (arrow-go refuses to drop the finer digits).
		return from.(*arrow.TimestampType).Unit >= to.(*arrow.TimestampType).Unit
	case from.ID() == arrow.DURATION && to.ID() == arrow.DURATION:
		return from.(*arrow.DurationType).Unit > to.(*arrow.DurationType).Unit
	case from.ID() == arrow.TIMESTAMP:
		// arrow-go writes a time outside years 0 to 9999 as its raw count.
		return IsString(to)
	}
	return false
}

// timestampText formats timestamps as arrow-go and pyarrow do ("2006-01-02 15:04:05",
// the fraction of the unit, the zone's offset for a zoned type), years outside 0 to 9999
// included (10000-01-01, -0001-12-31).
func timestampText(t *arrow.TimestampType) (func(arrow.Timestamp) string, error) {
	toTime, err := t.GetToTimeFunc()
	if err != nil {
		return nil, err
	}
	rest := "-01-02 15:04:05" + map[arrow.TimeUnit]string{arrow.Millisecond: ".000", arrow.Microsecond: ".000000",
		arrow.Nanosecond: ".000000000"}[t.Unit]
	if t.TimeZone != "" {
		rest += "Z0700"
	}
	return func(v arrow.Timestamp) string {
		tm := toTime(v)
		layout := rest
		if t.TimeZone != "" {
			if _, off := tm.Zone(); off%60 != 0 {
				layout = rest[:len(rest)-5] + "Z070000"
			}
		}
		y := tm.Year()
		year := fmt.Sprintf("%04d", y)
		if y < 0 {
			year = fmt.Sprintf("-%04d", -y)
		}
		return year + tm.Format(layout)
	}, nil
}

// castArray is our own conversion of the pairs described at the top of the file.
func castArray(ec *EvalCtx, a arrow.Array, to arrow.DataType, what string) (arrow.Array, error) {
	from := a.DataType()
	fail := func(i int, why string) error {
		return rberr.New(rberr.Data, "%s failed: %s %s", what, valueText(a, i), why)
	}
	n := a.Len()
	switch {
	case from.ID() == arrow.DECIMAL256:
		return castDecimal256(ec, a.(*array.Decimal256), to, fail)
	case from.ID() == arrow.TIMESTAMP && IsString(to):
		text, err := timestampText(from.(*arrow.TimestampType))
		if err != nil {
			return nil, err
		}
		vals := a.(*array.Timestamp).TimestampValues()
		b := array.NewBuilder(ec.Mem, to).(array.StringLikeBuilder)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.AppendNull()
			} else {
				b.Append(text(vals[i]))
			}
		}
		return b.NewArray(), nil
	case from.ID() == arrow.TIMESTAMP && to.ID() == arrow.TIMESTAMP &&
		from.(*arrow.TimestampType).Unit == to.(*arrow.TimestampType).Unit:
		// Same unit: only the zone changes, the UTC instants stay; share the buffers.
		d := array.NewData(to, n, a.Data().Buffers(), nil, a.NullN(), a.Data().Offset())
		defer d.Release()
		return array.MakeFromData(d), nil
	case from.ID() == arrow.TIMESTAMP && to.ID() == arrow.TIMESTAMP:
		// A coarser unit drops the finer digits, as Polars: a time goes down to the
		// unit's tick before it (floor: 1969-12-31 23:59:59.999999 is .999 in ms).
		ts := a.(*array.Timestamp).TimestampValues()
		per := int64(to.(*arrow.TimestampType).Unit.Multiplier() / from.(*arrow.TimestampType).Unit.Multiplier())
		return coarser(ec, a, to, n, func(i int) int64 { return floorDiv(int64(ts[i]), per) }), nil
	case from.ID() == arrow.DURATION && to.ID() == arrow.DURATION:
		// A duration to a coarser unit drops the finer digits toward zero (Polars,
		// pyarrow's unsafe cast: -1500us is -1ms).
		ds := a.(*array.Duration).DurationValues()
		per := int64(to.(*arrow.DurationType).Unit.Multiplier() / from.(*arrow.DurationType).Unit.Multiplier())
		return coarser(ec, a, to, n, func(i int) int64 { return int64(ds[i]) / per }), nil
	case from.ID() == arrow.BOOL:
		bs := a.(*array.Boolean)
		b := array.NewBuilder(ec.Mem, to)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if bs.IsNull(i) {
				b.AppendNull()
				continue
			}
			v := bs.Value(i)
			var x int64
			if v {
				x = 1
			}
			switch bb := b.(type) {
			case *array.StringBuilder:
				bb.Append(strconv.FormatBool(v))
			case *array.LargeStringBuilder:
				bb.Append(strconv.FormatBool(v))
			case *array.Float64Builder:
				bb.Append(float64(x))
			case *array.Float32Builder:
				bb.Append(float32(x))
			default:
				if IsSigned(to) {
					appendInt(b, x)
				} else {
					appendUint(b, uint64(x))
				}
			}
		}
		return b.NewArray(), nil
	case IsString(from) && to.ID() == arrow.DECIMAL128:
		dt := to.(*arrow.Decimal128Type)
		str := StringAt(a)
		return BuildDecimal(ec.Mem, dt, n, a, func(i int) (decimal128.Num, error) {
			v, ok := parseDecimal(str(i), dt.Precision, dt.Scale)
			if !ok {
				return v, fail(i, fmt.Sprintf("is not a number that fits %s", TypeName(to)))
			}
			return v, nil
		})
	case IsFloat(from) && IsString(to):
		fs, err := AsFloat64(a)
		if err != nil {
			return nil, err
		}
		bits := 64
		if from.ID() == arrow.FLOAT32 {
			bits = 32
		}
		b := array.NewBuilder(ec.Mem, to)
		defer b.Release()
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			s := formatFloat(fs[i], bits)
			switch bb := b.(type) {
			case *array.StringBuilder:
				bb.Append(s)
			case *array.LargeStringBuilder:
				bb.Append(s)
			}
		}
		return b.NewArray(), nil
	case IsString(from) && (to.ID() == arrow.DATE32 || to.ID() == arrow.TIMESTAMP):
		str := StringAt(a)
		vals := make([]int64, n)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				continue
			}
			if to.ID() == arrow.DATE32 {
				d, rest, ok := parseDateText(strings.TrimSpace(str(i)))
				if !ok || rest != "" || d < math.MinInt32 || d > math.MaxInt32 {
					return nil, fail(i, "is not a date (expected YYYY-MM-DD)")
				}
				vals[i] = d
				continue
			}
			v, why := parseTimestampText(str(i), to.(*arrow.TimestampType))
			if why != "" {
				return nil, fail(i, why)
			}
			vals[i] = v
		}
		return Int64Array(ec.Mem, to, vals, validity(a)), nil
	case IsString(from):
		str := StringAt(a)
		b := array.NewBuilder(ec.Mem, to)
		defer b.Release()
		b.Reserve(n)
		for i := 0; i < n; i++ {
			if a.IsNull(i) {
				b.AppendNull()
				continue
			}
			s := strings.TrimSpace(str(i))
			switch {
			case to.ID() == arrow.BOOL:
				v, ok := parseBool(s)
				if !ok {
					return nil, fail(i, "is not a boolean (expected true/false, t/f, yes/no, y/n or 1/0)")
				}
				b.(*array.BooleanBuilder).Append(v)
			case IsFloat(to):
				v, ok := parseFloat(s)
				if !ok {
					return nil, fail(i, "is not a number")
				}
				if to.ID() == arrow.FLOAT32 {
					b.(*array.Float32Builder).Append(float32(v))
				} else {
					b.(*array.Float64Builder).Append(v)
				}
			case IsSigned(to):
				if !validIntText(s) {
					return nil, fail(i, "is not an integer")
				}
				v, err := strconv.ParseInt(stripPlus(s), 10, 64)
				if err != nil || !fitsSigned(v, to) {
					return nil, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
				appendInt(b, v)
			default:
				if !validIntText(s) {
					return nil, fail(i, "is not an integer")
				}
				if strings.HasPrefix(s, "-") {
					if v, err := strconv.ParseInt(s, 10, 64); err == nil && v == 0 {
						appendUint(b, 0)
						continue
					}
					return nil, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
				v, err := strconv.ParseUint(stripPlus(s), 10, 64)
				if err != nil || !fitsUnsigned(v, to) {
					return nil, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
				appendUint(b, v)
			}
		}
		return b.NewArray(), nil
	case from.ID() == arrow.DECIMAL128 && to.ID() == arrow.DECIMAL128:
		fd, td := from.(*arrow.Decimal128Type), to.(*arrow.Decimal128Type)
		vals := a.(*array.Decimal128).Values()
		return BuildDecimal(ec.Mem, td, n, a, func(i int) (decimal128.Num, error) {
			v, ok := decRescale(vals[i], fd.Scale, td.Scale)
			if !ok || !v.FitsInPrecision(td.Precision) {
				return v, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
			}
			return v, nil
		})
	case from.ID() == arrow.DECIMAL128:
		fd := from.(*arrow.Decimal128Type)
		vals := a.(*array.Decimal128).Values()
		switch {
		case IsFloat(to):
			out := make([]float64, n)
			for i := range out {
				out[i] = decFloat64(vals[i], fd.Scale)
			}
			f := Float64Array(ec.Mem, out, validity(a))
			if to.ID() == arrow.FLOAT64 {
				return f, nil
			}
			defer f.Release()
			return compute.CastToType(ec.Ctx, f, to)
		case IsInteger(to):
			b := array.NewBuilder(ec.Mem, to)
			defer b.Release()
			for i := 0; i < n; i++ {
				if a.IsNull(i) {
					b.AppendNull()
					continue
				}
				v, _ := decRescale(vals[i], fd.Scale, 0) // reducing the scale cannot overflow
				x, ok := decToInt64(v)
				switch {
				case IsSigned(to) && ok && fitsSigned(x, to):
					appendInt(b, x)
				case !IsSigned(to) && v.Sign() >= 0 && decFitsUint(v, to):
					appendUint(b, decToUint64(v))
				default:
					return nil, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
			}
			return b.NewArray(), nil
		case IsString(to):
			b := array.NewBuilder(ec.Mem, to)
			defer b.Release()
			for i := 0; i < n; i++ {
				if a.IsNull(i) {
					b.AppendNull()
					continue
				}
				s := vals[i].ToString(fd.Scale)
				switch bb := b.(type) {
				case *array.StringBuilder:
					bb.Append(s)
				case *array.LargeStringBuilder:
					bb.Append(s)
				}
			}
			return b.NewArray(), nil
		}
	case to.ID() == arrow.DECIMAL128:
		td := to.(*arrow.Decimal128Type)
		switch {
		case IsInteger(from) && !IsSigned(from):
			c, err := compute.CastToType(ec.Ctx, a, arrow.PrimitiveTypes.Uint64)
			if err != nil {
				return nil, err
			}
			defer c.Release()
			u := c.(*array.Uint64).Uint64Values()
			return BuildDecimal(ec.Mem, td, n, a, func(i int) (decimal128.Num, error) {
				v, ok := decRescale(decimal128.FromU64(u[i]), 0, td.Scale)
				if !ok || !v.FitsInPrecision(td.Precision) {
					return v, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
				return v, nil
			})
		case IsInteger(from):
			ints, err := AsInt64(a)
			if err != nil {
				return nil, err
			}
			return BuildDecimal(ec.Mem, td, n, a, func(i int) (decimal128.Num, error) {
				v, ok := decRescale(decimal128.FromI64(ints[i]), 0, td.Scale)
				if !ok || !v.FitsInPrecision(td.Precision) {
					return v, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
				return v, nil
			})
		case IsFloat(from):
			fs, err := AsFloat64(a)
			if err != nil {
				return nil, err
			}
			return BuildDecimal(ec.Mem, td, n, a, func(i int) (decimal128.Num, error) {
				f := fs[i]
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return decimal128.Num{}, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
				// As DuckDB: f x 10^scale in float64, rounded half away from zero. 1.555
				// (1.55499999999999993...) becomes 1.56 at scale 2, as its product is
				// 155.5, and 1.005 (1.00499999999999989...) becomes 1.00: its product is
				// 100.49999999999999, where its shortest text, "1.005", would round up.
				if td.Scale >= 0 && td.Scale <= 22 {
					if x := math.Round(f * math.Pow10(int(td.Scale))); math.Abs(x) < 1<<53 {
						if td.Precision < 16 && math.Abs(x) >= math.Pow10(int(td.Precision)) {
							return decimal128.Num{}, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
						}
						return decimal128.FromI64(int64(x)), nil
					}
				}
				// Larger products (and other scales): the float's exact value, rounded half
				// away from zero (DuckDB keeps the float product's error there).
				v, ok := floatToDecimal(f, td.Precision, td.Scale)
				if !ok {
					return v, fail(i, fmt.Sprintf("does not fit in %s", TypeName(to)))
				}
				return v, nil
			})
		}
	}
	return nil, rberr.New(rberr.Type, "%s: cannot cast %s to %s", what, TypeName(from), TypeName(to))
}

// valueText renders row i of a for an error message.
func valueText(a arrow.Array, i int) string {
	if IsString(a.DataType()) {
		return fmt.Sprintf("the value %q", StringAt(a)(i))
	}
	if d, ok := a.(*array.Decimal128); ok {
		return "the value " + d.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	}
	return "the value " + a.ValueStr(i)
}

func stripPlus(s string) string { return strings.TrimPrefix(s, "+") }

// validIntText accepts an optional sign followed by at least one ASCII digit and nothing else.
func validIntText(s string) bool {
	if s != "" && (s[0] == '+' || s[0] == '-') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseFloat(s string) (float64, bool) {
	t := strings.ToLower(stripPlus(strings.TrimPrefix(s, "-")))
	switch t {
	case "inf", "infinity", "nan":
		v, _ := strconv.ParseFloat(s, 64)
		return v, true
	}
	if t == "" || strings.ContainsAny(t, "_xp") {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out of range: as DuckDB and Polars, the nearest float (±inf or 0).
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return v, true
		}
		return 0, false
	}
	return v, true
}

func parseBool(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "true", "t", "yes", "y", "1":
		return true, true
	case "false", "f", "no", "n", "0":
		return false, true
	}
	return false, false
}

func fitsSigned(v int64, t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8:
		return v >= math.MinInt8 && v <= math.MaxInt8
	case arrow.INT16:
		return v >= math.MinInt16 && v <= math.MaxInt16
	case arrow.INT32:
		return v >= math.MinInt32 && v <= math.MaxInt32
	}
	return true
}

func fitsUnsigned(v uint64, t arrow.DataType) bool {
	switch t.ID() {
	case arrow.UINT8:
		return v <= math.MaxUint8
	case arrow.UINT16:
		return v <= math.MaxUint16
	case arrow.UINT32:
		return v <= math.MaxUint32
	}
	return true
}

func appendInt(b array.Builder, v int64) {
	switch bb := b.(type) {
	case *array.Int8Builder:
		bb.Append(int8(v))
	case *array.Int16Builder:
		bb.Append(int16(v))
	case *array.Int32Builder:
		bb.Append(int32(v))
	case *array.Int64Builder:
		bb.Append(v)
	}
}

func appendUint(b array.Builder, v uint64) {
	switch bb := b.(type) {
	case *array.Uint8Builder:
		bb.Append(uint8(v))
	case *array.Uint16Builder:
		bb.Append(uint16(v))
	case *array.Uint32Builder:
		bb.Append(uint32(v))
	case *array.Uint64Builder:
		bb.Append(v)
	}
}

// validity returns the validity of each row of a, or nil when it has no nulls.
func validity(a arrow.Array) []bool {
	if a.NullN() == 0 && a.DataType().ID() != arrow.NULL {
		return nil
	}
	v := make([]bool, a.Len())
	for i := range v {
		v[i] = isValid(a, i)
	}
	return v
}

// isValid is a.IsValid(i), except that every row of a null-typed array is null (arrow-go's
// Null arrays have no validity bitmap, so their IsValid answers true).
func isValid(a arrow.Array, i int) bool {
	if a.DataType().ID() == arrow.NULL {
		return false
	}
	return a.IsValid(i)
}

// BuildDecimal builds a decimal128 array of n rows, calling value for each valid row of like.
func BuildDecimal(mem memory.Allocator, dt *arrow.Decimal128Type, n int, like arrow.Array, value func(int) (decimal128.Num, error)) (arrow.Array, error) {
	b := array.NewDecimal128Builder(mem, dt)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if like != nil && !isValid(like, i) {
			b.AppendNull()
			continue
		}
		v, err := value(i)
		if err != nil {
			return nil, err
		}
		b.UnsafeAppend(v)
	}
	return b.NewArray(), nil
}

// DecimalArray builds n decimals of type dt: value(i) where valid[i], null elsewhere.
func DecimalArray(mem memory.Allocator, dt *arrow.Decimal128Type, n int, valid []bool, value func(int) decimal128.Num) arrow.Array {
	b := array.NewDecimal128Builder(mem, dt)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if !valid[i] {
			b.UnsafeAppendBoolToBitmap(false)
			continue
		}
		b.UnsafeAppend(value(i))
	}
	return b.NewArray()
}

// formatFloat renders a float as Python's repr does (and DuckDB's cast to VARCHAR): the
// shortest text that reads back to the same value, "1.0" rather than "1", an exponent below
// 1e-4 and from 1e16, "nan", "inf", "-inf". bits is 32 for float32 values.
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits) // d.ddde±XX
	mant, expText, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expText)
	if exp < -4 || exp >= 16 {
		sign := "+"
		if exp < 0 {
			sign, exp = "-", -exp
		}
		return fmt.Sprintf("%se%s%02d", mant, sign, exp)
	}
	s := strconv.FormatFloat(f, 'f', -1, bits)
	if bits == 32 {
		// shortest float32 digits, then padded with zeros in fixed notation
		neg := strings.HasPrefix(mant, "-")
		digits := strings.Replace(strings.TrimPrefix(mant, "-"), ".", "", 1)
		if exp >= 0 {
			for len(digits) < exp+1 {
				digits += "0"
			}
			s = digits[:exp+1]
			if rest := digits[exp+1:]; rest != "" {
				s += "." + rest
			}
		} else {
			s = "0." + strings.Repeat("0", -exp-1) + digits
		}
		if neg {
			s = "-" + s
		}
	}
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return s
}

// parseDateText reads "YYYY-MM-DD" or "YYYY/MM/DD" (month and day may have one digit) as days since the epoch; rest is what follows the date.
func parseDateText(s string) (days int64, rest string, ok bool) {
	i := 0
	num := func(minDigits, maxDigits int) (int64, bool) {
		j := i
		for j < len(s) && j-i < maxDigits && s[j] >= '0' && s[j] <= '9' {
			j++
		}
		if j-i < minDigits {
			return 0, false
		}
		v, err := strconv.ParseInt(s[i:j], 10, 64)
		i = j
		return v, err == nil
	}
	y, ok1 := num(4, 6)
	if !ok1 || i >= len(s) || (s[i] != '-' && s[i] != '/') {
		return 0, "", false
	}
	sep := s[i]
	i++
	m, ok2 := num(1, 2)
	if !ok2 || i >= len(s) || s[i] != sep {
		return 0, "", false
	}
	i++
	d, ok3 := num(1, 2)
	if !ok3 || m < 1 || m > 12 || d < 1 || d > int64(daysIn(y, m)) {
		return 0, "", false
	}
	return daysFromCivil(y, m, d), s[i:], true
}

func daysIn(y, m int64) int {
	return time.Date(int(y), time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// parseTimestampText reads "YYYY-MM-DD[( |T)HH:MM[:SS[.fraction]]][Z|±HH[:MM]]" into ticks of
// the unit (tickNanos nanoseconds). As Arrow: a zone offset is required for a target with a
// time zone and refused for one without; a fraction finer than the unit is an error.
func parseTimestampText(text string, ts *arrow.TimestampType) (int64, string) {
	s := strings.TrimSpace(text)
	days, rest, ok := parseDateText(s)
	if !ok {
		return 0, "is not a timestamp (expected YYYY-MM-DD[ HH:MM[:SS[.fraction]]])"
	}
	var secs, nanos int64
	if rest != "" && (rest[0] == ' ' || rest[0] == 'T') {
		r := rest[1:]
		two := func() (int64, bool) {
			if len(r) < 2 || r[0] < '0' || r[0] > '9' || r[1] < '0' || r[1] > '9' {
				return 0, false
			}
			v := int64(r[0]-'0')*10 + int64(r[1]-'0')
			r = r[2:]
			return v, true
		}
		h, ok1 := two()
		if !ok1 || len(r) == 0 || r[0] != ':' {
			return 0, "is not a timestamp (bad time of day)"
		}
		r = r[1:]
		mi, ok2 := two()
		var sec int64
		ok3 := true
		if ok2 && len(r) > 0 && r[0] == ':' {
			r = r[1:]
			sec, ok3 = two()
			if ok3 && len(r) > 0 && r[0] == '.' {
				j := 1
				for j < len(r) && r[j] >= '0' && r[j] <= '9' {
					j++
				}
				frac := r[1:j]
				if frac == "" || len(frac) > 9 {
					return 0, "is not a timestamp (bad fraction of a second)"
				}
				f, _ := strconv.ParseInt((frac + "000000000")[:9], 10, 64)
				nanos = f
				r = r[j:]
			}
		}
		if !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
			return 0, "is not a timestamp (bad time of day)"
		}
		secs = h*3600 + mi*60 + sec
		rest = r
	}
	hasZone := rest != ""
	if hasZone {
		off, ok := parseOffset(rest)
		if !ok {
			return 0, "is not a timestamp (unexpected text after the time)"
		}
		secs -= off
	}
	if hasZone && ts.TimeZone == "" {
		return 0, whyHasZone
	}
	if !hasZone && ts.TimeZone != "" {
		return 0, "has no zone offset; cast to a timestamp without a time zone, or add an offset such as Z or +02:00"
	}
	tickNanos := map[arrow.TimeUnit]int64{arrow.Second: 1e9, arrow.Millisecond: 1e6, arrow.Microsecond: 1e3, arrow.Nanosecond: 1}[ts.Unit]
	if nanos%tickNanos != 0 {
		return 0, "has a fraction of a second finer than " + ts.Unit.String()
	}
	perSec := int64(1e9) / tickNanos
	total := new(big.Int).Mul(big.NewInt(days), big.NewInt(86400))
	total.Add(total, big.NewInt(secs))
	total.Mul(total, big.NewInt(perSec))
	total.Add(total, big.NewInt(nanos/tickNanos))
	if !total.IsInt64() {
		return 0, "is outside the range of " + TypeName(ts)
	}
	return total.Int64(), ""
}

// whyHasZone is why parseTimestampText refuses a text with a zone offset for a timestamp
// type without a zone.
const whyHasZone = "has a zone offset; cast to a timestamp with a time zone instead"

// parseOffset reads "Z", "±HH", "±HH:MM", "±HHMM", "±HH:MM:SS" or "±HHMMSS" as seconds
// east of UTC.
func parseOffset(s string) (int64, bool) {
	if s == "Z" {
		return 0, true
	}
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	body := s[1:]
	switch { // HH:MM or HH:MM:SS, or their digits alone (seconds: local mean times before 1900)
	case len(body) == 5 && body[2] == ':', len(body) == 8 && body[2] == ':' && body[5] == ':':
		body = strings.ReplaceAll(body, ":", "")
	case len(body) != 2 && len(body) != 4 && len(body) != 6:
		return 0, false
	}
	for i := 0; i < len(body); i++ {
		if body[i] < '0' || body[i] > '9' {
			return 0, false
		}
	}
	h, _ := strconv.Atoi(body[:2])
	m, sec := 0, 0
	if len(body) >= 4 {
		m, _ = strconv.Atoi(body[2:4])
	}
	if len(body) == 6 {
		sec, _ = strconv.Atoi(body[4:])
	}
	if h > 23 || m > 59 || sec > 59 {
		return 0, false
	}
	off := int64(h*3600 + m*60 + sec)
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

// floatToDecimal is f's exact value at scale s (a negative scale: divided in 512 bits),
// rounded half away from zero, and false when it needs more than p digits.
func floatToDecimal(f float64, p, s int32) (decimal128.Num, bool) {
	x := new(big.Float).SetPrec(512).SetFloat64(f)
	ten := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(max(s, -s))), nil)
	if s >= 0 {
		x.Mul(x, new(big.Float).SetPrec(512).SetInt(ten))
	} else {
		x.Quo(x, new(big.Float).SetPrec(512).SetInt(ten))
	}
	half := big.NewFloat(0.5)
	if x.Sign() < 0 {
		half.Neg(half)
	}
	n, _ := x.Add(x, half).Int(nil) // truncates toward zero
	if new(big.Int).Abs(n).Cmp(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)) >= 0 {
		return decimal128.Num{}, false
	}
	return decimal128.FromBigInt(n), true
}

// misfit is the first value of integer array a that type to cannot hold, as text, or ""
// when there is none.
func misfit(a arrow.Array, to arrow.DataType) string {
	var unsigned func(int) uint64
	switch u := a.(type) {
	case *array.Uint8:
		unsigned = func(i int) uint64 { return uint64(u.Value(i)) }
	case *array.Uint16:
		unsigned = func(i int) uint64 { return uint64(u.Value(i)) }
	case *array.Uint32:
		unsigned = func(i int) uint64 { return uint64(u.Value(i)) }
	case *array.Uint64:
		unsigned = u.Value
	}
	var signed func(int) int64
	if unsigned == nil {
		signed = Int64Getter(a)
	}
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			continue
		}
		if unsigned != nil {
			v := unsigned(i)
			if IsSigned(to) && (v > math.MaxInt64 || !fitsSigned(int64(v), to)) || !IsSigned(to) && !fitsUnsigned(v, to) {
				return strconv.FormatUint(v, 10)
			}
			continue
		}
		v := signed(i)
		if IsSigned(to) && !fitsSigned(v, to) || !IsSigned(to) && (v < 0 || !fitsUnsigned(uint64(v), to)) {
			return strconv.FormatInt(v, 10)
		}
	}
	return ""
}

// coarser is a of n rows as type to, each valid row's value v(i).
func coarser(ec *EvalCtx, a arrow.Array, to arrow.DataType, n int, v func(int) int64) arrow.Array {
	vals := make([]int64, n)
	var valid []bool
	if a.NullN() > 0 {
		valid = make([]bool, n)
	}
	for i := range vals {
		if valid != nil {
			if valid[i] = a.IsValid(i); !valid[i] {
				continue
			}
		}
		vals[i] = v(i)
	}
	return Int64Array(ec.Mem, to, vals, valid)
}

// castDecimal256 converts a decimal256 column to decimal128 (rescaled, rounding half
// away from zero as decimal casts do; a value beyond the precision fails naming it), a
// float, or its text.
func castDecimal256(ec *EvalCtx, a *array.Decimal256, to arrow.DataType, fail func(int, string) error) (arrow.Array, error) {
	scale := a.DataType().(*arrow.Decimal256Type).Scale
	n := a.Len()
	b := array.NewBuilder(ec.Mem, to)
	defer b.Release()
	b.Reserve(n)
	for i := 0; i < n; i++ {
		if a.IsNull(i) {
			b.AppendNull()
			continue
		}
		v := a.Value(i)
		switch bb := b.(type) {
		case *array.Float64Builder:
			bb.Append(v.ToFloat64(scale))
		case *array.Float32Builder:
			bb.Append(float32(v.ToFloat64(scale)))
		case *array.StringBuilder:
			bb.Append(v.ToString(scale))
		case *array.LargeStringBuilder:
			bb.Append(v.ToString(scale))
		case *array.Decimal128Builder:
			dt := to.(*arrow.Decimal128Type)
			x := v.BigInt()
			if d := dt.Scale - scale; d >= 0 {
				x.Mul(x, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d)), nil))
			} else {
				unit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d)), nil)
				q, r := new(big.Int).QuoRem(x, unit, new(big.Int))
				if r.Abs(r).Lsh(r, 1).Cmp(unit) >= 0 { // half or more: away from zero
					q.Add(q, big.NewInt(int64(x.Sign())))
				}
				x = q
			}
			if x.BitLen() > 126 || !decimal128.FromBigInt(x).FitsInPrecision(dt.Precision) {
				return nil, fail(i, fmt.Sprintf("does not fit in %s", TypeName(dt)))
			}
			bb.Append(decimal128.FromBigInt(x))
		}
	}
	return b.NewArray(), nil
}
