package expr

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ParseType parses a type name of the plan format: "int8".."int64", "uint8".."uint64",
// "float32", "float64", "bool", "utf8" (or "string"), "large_utf8", "binary", "date32",
// "null", "timestamp[us]", "timestamp[ms, tz=UTC]", "duration[ms]", "decimal128(15, 2)".
func ParseType(s string) (arrow.DataType, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	switch t {
	case "int8":
		return arrow.PrimitiveTypes.Int8, nil
	case "int16":
		return arrow.PrimitiveTypes.Int16, nil
	case "int32":
		return arrow.PrimitiveTypes.Int32, nil
	case "int64":
		return arrow.PrimitiveTypes.Int64, nil
	case "uint8":
		return arrow.PrimitiveTypes.Uint8, nil
	case "uint16":
		return arrow.PrimitiveTypes.Uint16, nil
	case "uint32":
		return arrow.PrimitiveTypes.Uint32, nil
	case "uint64":
		return arrow.PrimitiveTypes.Uint64, nil
	case "float32", "float":
		return arrow.PrimitiveTypes.Float32, nil
	case "float64", "double":
		return arrow.PrimitiveTypes.Float64, nil
	case "bool", "boolean":
		return arrow.FixedWidthTypes.Boolean, nil
	case "utf8", "string", "str":
		return arrow.BinaryTypes.String, nil
	case "large_utf8", "large_string":
		return arrow.BinaryTypes.LargeString, nil
	case "binary":
		return arrow.BinaryTypes.Binary, nil
	case "date32", "date":
		return arrow.FixedWidthTypes.Date32, nil
	case "null":
		return arrow.Null, nil
	}
	for _, prefix := range []string{"decimal128(", "decimal("} {
		if strings.HasPrefix(t, prefix) && strings.HasSuffix(t, ")") {
			var p, sc int32
			inner := strings.ReplaceAll(t[len(prefix):len(t)-1], " ", "")
			if _, err := fmt.Sscanf(inner, "%d,%d", &p, &sc); err != nil || fmt.Sprintf("%d,%d", p, sc) != inner {
				return nil, rberr.New(rberr.Plan, "unknown type %q (expected decimal128(precision, scale))", s)
			}
			if p < 1 || p > 38 || sc < 0 || sc > p {
				return nil, rberr.New(rberr.Plan, "type %q: a decimal128 needs 1 <= precision <= 38 and 0 <= scale <= precision", s)
			}
			return &arrow.Decimal128Type{Precision: p, Scale: sc}, nil
		}
	}
	for _, prefix := range []string{"timestamp[", "duration["} {
		if strings.HasPrefix(t, prefix) && strings.HasSuffix(t, "]") {
			inner := t[len(prefix) : len(t)-1]
			parts := strings.Split(inner, ",")
			unit, err := parseUnit(strings.TrimSpace(parts[0]))
			if err != nil {
				return nil, rberr.New(rberr.Plan, "unknown type %q: %v", s, err)
			}
			if prefix == "duration[" {
				if len(parts) != 1 {
					return nil, rberr.New(rberr.Plan, "unknown type %q", s)
				}
				return &arrow.DurationType{Unit: unit}, nil
			}
			tz := ""
			if len(parts) == 2 {
				kv := strings.TrimSpace(parts[1])
				if !strings.HasPrefix(kv, "tz=") {
					return nil, rberr.New(rberr.Plan, "unknown type %q: expected 'tz=...' after the unit", s)
				}
				// Time zone names are case-sensitive: take them from the original string.
				orig := s[strings.Index(strings.ToLower(s), "tz=")+3 : len(s)-1]
				tz = strings.TrimSpace(orig)
			} else if len(parts) > 2 {
				return nil, rberr.New(rberr.Plan, "unknown type %q", s)
			}
			return &arrow.TimestampType{Unit: unit, TimeZone: tz}, nil
		}
	}
	return nil, rberr.New(rberr.Plan, "unknown type %q (expected e.g. int64, float64, utf8, bool, date32, timestamp[us])", s)
}

func parseUnit(u string) (arrow.TimeUnit, error) {
	switch u {
	case "s":
		return arrow.Second, nil
	case "ms":
		return arrow.Millisecond, nil
	case "us":
		return arrow.Microsecond, nil
	case "ns":
		return arrow.Nanosecond, nil
	}
	return 0, fmt.Errorf("unknown time unit %q (expected s, ms, us or ns)", u)
}

// TypeName renders a type the way ParseType reads it.
func TypeName(dt arrow.DataType) string {
	switch t := dt.(type) {
	case *arrow.TimestampType:
		if t.TimeZone != "" {
			return fmt.Sprintf("timestamp[%s, tz=%s]", t.Unit, t.TimeZone)
		}
		return fmt.Sprintf("timestamp[%s]", t.Unit)
	case *arrow.DurationType:
		return fmt.Sprintf("duration[%s]", t.Unit)
	case *arrow.Decimal128Type:
		return fmt.Sprintf("decimal128(%d, %d)", t.Precision, t.Scale)
	}
	switch dt.ID() {
	case arrow.STRING:
		return "utf8"
	case arrow.BOOL:
		return "bool"
	case arrow.FLOAT32:
		return "float32"
	case arrow.FLOAT64:
		return "float64"
	}
	return dt.String()
}

func IsInteger(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64:
		return true
	}
	return false
}

func IsSigned(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64:
		return true
	}
	return false
}

func IsFloat(dt arrow.DataType) bool {
	return dt.ID() == arrow.FLOAT32 || dt.ID() == arrow.FLOAT64
}

func IsNumeric(dt arrow.DataType) bool { return IsInteger(dt) || IsFloat(dt) }

func IsString(dt arrow.DataType) bool {
	return dt.ID() == arrow.STRING || dt.ID() == arrow.LARGE_STRING
}

func IsTemporal(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.DURATION:
		return true
	}
	return false
}

// numericSupertype is the type both operands of an arithmetic operator (or both join keys)
// are cast to. Equal types stay as they are; any float makes float64 (float32 only if both
// are float32); integers widen to int64 (uint64 only if both are unsigned). Comparisons do
// not cast: they compare exactly (numeric.go); arithmetic also lets an integer literal take
// the other side's type (arithSupertype).
func numericSupertype(a, b arrow.DataType) arrow.DataType {
	if arrow.TypeEqual(a, b) {
		return a
	}
	if a.ID() == arrow.NULL {
		return b
	}
	if b.ID() == arrow.NULL {
		return a
	}
	if IsFloat(a) || IsFloat(b) {
		if a.ID() == arrow.FLOAT32 && b.ID() == arrow.FLOAT32 {
			return arrow.PrimitiveTypes.Float32
		}
		return arrow.PrimitiveTypes.Float64
	}
	if !IsSigned(a) && !IsSigned(b) {
		return arrow.PrimitiveTypes.Uint64
	}
	return arrow.PrimitiveTypes.Int64
}

// SameColumns reports whether two schemas have the same column names and types.
func SameColumns(a, b *arrow.Schema) bool {
	if a.NumFields() != b.NumFields() {
		return false
	}
	for i := range a.Fields() {
		if a.Field(i).Name != b.Field(i).Name || !arrow.TypeEqual(a.Field(i).Type, b.Field(i).Type) {
			return false
		}
	}
	return true
}

// DescribeSchema renders a schema for messages: {name: type, ...}.
func DescribeSchema(s *arrow.Schema) string {
	parts := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		parts[i] = fmt.Sprintf("%s: %s", f.Name, TypeName(f.Type))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}
