package textcodec

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
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// A row value of the intermediate form that the JSON and CSV decoders produce
// before anything is appended to Arrow builders (so a bad record leaves no
// half-written row behind). By Arrow type:
//
//	null                 nil
//	bool                 bool
//	int8..int64          int64
//	uint8..uint64        uint64
//	float32, float64     float64
//	string, large_string string
//	binary, large_binary []byte
//	timestamp            int64 in the type's unit
//	date32               int32 (days since the epoch)
//	decimal128           decimal128.Num
//	struct               []any, one per field
//	list, large_list     []any

// checkType reports whether decoders can produce values of type t; path names
// the field in the error.
func CheckType(path string, t arrow.DataType, nested bool) error {
	switch t := t.(type) {
	case *arrow.BooleanType, *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Int64Type,
		*arrow.Uint8Type, *arrow.Uint16Type, *arrow.Uint32Type, *arrow.Uint64Type,
		*arrow.Float32Type, *arrow.Float64Type, *arrow.StringType, *arrow.LargeStringType,
		*arrow.BinaryType, *arrow.LargeBinaryType, *arrow.TimestampType, *arrow.Date32Type,
		*arrow.Decimal128Type:
		return nil
	case *arrow.StructType:
		if !nested {
			break
		}
		for _, f := range t.Fields() {
			if err := CheckType(JoinPath(path, f.Name), f.Type, nested); err != nil {
				return err
			}
		}
		return nil
	case *arrow.ListType:
		if !nested {
			break
		}
		return CheckType(path+"[]", t.Elem(), nested)
	case *arrow.LargeListType:
		if !nested {
			break
		}
		return CheckType(path+"[]", t.Elem(), nested)
	}
	return fmt.Errorf("field %q: type %s is not supported by this format", path, t)
}

func JoinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// fieldError is a decoding error located at a field.
func FieldError(path string, format string, args ...any) error {
	return fmt.Errorf("field %q: %s", path, fmt.Sprintf(format, args...))
}

// appendValue appends v (of the intermediate form for type t) to b.
func AppendValue(b array.Builder, v any) {
	if v == nil {
		b.AppendNull()
		return
	}
	switch b := b.(type) {
	case *array.BooleanBuilder:
		b.Append(v.(bool))
	case *array.Int8Builder:
		b.Append(int8(v.(int64)))
	case *array.Int16Builder:
		b.Append(int16(v.(int64)))
	case *array.Int32Builder:
		b.Append(int32(v.(int64)))
	case *array.Int64Builder:
		b.Append(v.(int64))
	case *array.Uint8Builder:
		b.Append(uint8(v.(uint64)))
	case *array.Uint16Builder:
		b.Append(uint16(v.(uint64)))
	case *array.Uint32Builder:
		b.Append(uint32(v.(uint64)))
	case *array.Uint64Builder:
		b.Append(v.(uint64))
	case *array.Float32Builder:
		b.Append(float32(v.(float64)))
	case *array.Float64Builder:
		b.Append(v.(float64))
	case *array.StringBuilder:
		b.Append(v.(string))
	case *array.LargeStringBuilder:
		b.Append(v.(string))
	case *array.BinaryBuilder:
		b.Append(v.([]byte))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(v.(int64)))
	case *array.Date32Builder:
		b.Append(arrow.Date32(v.(int32)))
	case *array.Decimal128Builder:
		b.Append(v.(decimal128.Num))
	case *array.StructBuilder:
		fields := v.([]any)
		b.Append(true)
		for i, f := range fields {
			AppendValue(b.FieldBuilder(i), f)
		}
	case *array.ListBuilder:
		elems := v.([]any)
		b.Append(true)
		for _, e := range elems {
			AppendValue(b.ValueBuilder(), e)
		}
	case *array.LargeListBuilder:
		elems := v.([]any)
		b.Append(true)
		for _, e := range elems {
			AppendValue(b.ValueBuilder(), e)
		}
	default:
		panic(fmt.Sprintf("kafka: no appender for %T", b))
	}
}

// intRange returns the bounds of a signed or unsigned integer type.
func intRange(t arrow.DataType) (lo int64, hi int64, uhi uint64, signed bool) {
	switch t.ID() {
	case arrow.INT8:
		return math.MinInt8, math.MaxInt8, 0, true
	case arrow.INT16:
		return math.MinInt16, math.MaxInt16, 0, true
	case arrow.INT32:
		return math.MinInt32, math.MaxInt32, 0, true
	case arrow.INT64:
		return math.MinInt64, math.MaxInt64, 0, true
	case arrow.UINT8:
		return 0, 0, math.MaxUint8, false
	case arrow.UINT16:
		return 0, 0, math.MaxUint16, false
	case arrow.UINT32:
		return 0, 0, math.MaxUint32, false
	}
	return 0, 0, math.MaxUint64, false
}

func IsInteger(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

// parseInteger parses s (decimal digits, optional sign) as a value of integer type t.
// ParseDecimal reads decimal text (a JSON number, "12.50", "-1e3") exactly as a value of
// t: rounded half away from zero to t's scale (as casts to a smaller scale are), an error
// naming the field when it has more digits than t's precision.
//
// The text is an optional sign, digits with an optional point, and an optional exponent
// (as pyarrow and DuckDB read decimals); what big.Rat takes besides (fractions, base
// prefixes, digit separators: "0x10", "1_000") is no decimal number. An exponent beyond
// maxDecimalExp is one too: no value of a decimal128 needs it.
func ParseDecimal(path string, t *arrow.Decimal128Type, s string) (decimal128.Num, error) {
	text := strings.TrimSpace(s)
	r, ok := (*big.Rat)(nil), decimalText(text)
	if ok {
		r, ok = new(big.Rat).SetString(text)
	}
	if !ok {
		return decimal128.Num{}, FieldError(path, "%q is not a decimal number", s)
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs32(t.Scale))), nil)
	if t.Scale >= 0 {
		r.Mul(r, new(big.Rat).SetInt(scale))
	} else {
		r.Quo(r, new(big.Rat).SetInt(scale))
	}
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if m.Sign() != 0 && new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(r.Sign()))) // half away from zero
	}
	if q.BitLen() > 127 { // FromBigInt panics beyond 128 bits
		return decimal128.Num{}, FieldError(path, "%s does not fit in %s", s, t)
	}
	n := decimal128.FromBigInt(q)
	if !n.FitsInPrecision(t.Precision) {
		return decimal128.Num{}, FieldError(path, "%s does not fit in %s", s, t)
	}
	return n, nil
}

// maxDecimalExp is the largest exponent ParseDecimal reads (in magnitude).
const maxDecimalExp = 9999

// decimalText reports whether s is decimal text: [+-] digits [. digits] [(e|E) [+-]
// digits], with a digit before or after the point, and an exponent of at most
// maxDecimalExp.
func decimalText(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp, from := 0, i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if exp = exp*10 + int(s[i]-'0'); exp > maxDecimalExp {
				return false
			}
		}
		if i == from {
			return false
		}
	}
	return i == len(s)
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

func ParseInteger(path string, t arrow.DataType, s string) (any, error) {
	lo, hi, uhi, signed := intRange(t)
	if signed {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < lo || n > hi {
			return nil, FieldError(path, "%q is not a %s", s, t)
		}
		return n, nil
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > uhi {
		return nil, FieldError(path, "%q is not a %s", s, t)
	}
	return n, nil
}

func ParseFloat(path string, t arrow.DataType, s string) (any, error) {
	bits := 64
	if t.ID() == arrow.FLOAT32 {
		bits = 32
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return nil, FieldError(path, "%q is not a %s", s, t)
	}
	return f, nil
}

// ParseCSVFloat is ParseFloat for a CSV field: a number beyond the type's range is an
// infinity (0 below it), as pyarrow, Polars and DuckDB read CSV files (pyarrow's JSON
// reader refuses one: ParseFloat).
func ParseCSVFloat(path string, t arrow.DataType, s string) (any, error) {
	bits := 64
	if t.ID() == arrow.FLOAT32 {
		bits = 32
	}
	f, err := strconv.ParseFloat(s, bits)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, FieldError(path, "%q is not a %s", s, t)
	}
	return f, nil
}

// timestampLayouts are the accepted textual timestamps: RFC 3339 with a zone,
// and ISO 8601 / SQL style without one (read as UTC).
var timestampLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTimestamp reads a textual timestamp into the unit of t.
func ParseTimestamp(path string, t *arrow.TimestampType, s string) (any, error) {
	for _, layout := range timestampLayouts {
		tm, err := time.Parse(layout, s)
		if err != nil {
			continue
		}
		v, ok := timeToUnit(tm, t.Unit)
		if !ok {
			return nil, FieldError(path, "timestamp %q is out of range for %s", s, t)
		}
		return v, nil
	}
	return nil, FieldError(path, "%q is not a timestamp (want RFC 3339, e.g. 2024-01-02T03:04:05.678Z, or a number in %s)", s, t.Unit)
}

// timeToUnit converts tm to an integer count of unit since the epoch.
func timeToUnit(tm time.Time, unit arrow.TimeUnit) (int64, bool) {
	sec := tm.Unix()
	nsec := int64(tm.Nanosecond())
	var mul, div int64
	switch unit {
	case arrow.Second:
		return sec, true
	case arrow.Millisecond:
		mul, div = 1_000, 1_000_000
	case arrow.Microsecond:
		mul, div = 1_000_000, 1_000
	default:
		mul, div = 1_000_000_000, 1
	}
	if sec > math.MaxInt64/mul-1 || sec < math.MinInt64/mul+1 {
		return 0, false
	}
	return sec*mul + nsec/div, true
}

func ParseDate(path string, s string) (any, error) {
	tm, err := time.Parse("2006-01-02", s)
	if err != nil {
		return nil, FieldError(path, "%q is not a date (want YYYY-MM-DD)", s)
	}
	days := tm.Unix() / 86400
	if days < math.MinInt32 || days > math.MaxInt32 {
		return nil, FieldError(path, "date %q is out of range", s)
	}
	return int32(days), nil
}

// ParseBool reads a CSV field as a boolean: true or false in any case, or 1 or 0 (as
// pyarrow's and DuckDB's CSV readers do).
func ParseBool(path, s string) (any, error) {
	switch strings.ToLower(s) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return nil, FieldError(path, "%q is not a boolean (want true, false, 1 or 0)", s)
}
