package textcodec

import (
	"errors"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// csvKind is what the sampled fields of a CSV column look like, from the most
// specific to the most general.
type csvKind uint8

const (
	kindNull      csvKind = iota // only nulls so far
	kindInt                      // int64
	kindFloat                    // float64 (also ints mixed with floats)
	kindBool                     // true / false, any case
	kindDate                     // YYYY-MM-DD
	kindTimestamp                // a timestamp without a zone (or dates mixed with them)
	kindZoned                    // a timestamp with a zone offset (read as UTC)
	kindString
)

// CSVInferrer infers the types of CSV columns from the text of a sample of rows,
// as pyarrow and DuckDB do: a column whose sampled fields are all integers is
// int64, numbers float64, true/false bool, YYYY-MM-DD date32, timestamps
// timestamp[us] (timestamp[us, UTC] when every one has a zone offset), anything
// else (and a column that is null in every sampled row) string. Nulls do not count.
type CSVInferrer struct {
	kinds []csvKind
}

// Add folds one row in; null says which fields are nulls. Fields beyond the
// first row's count are ignored (the reader refuses such rows).
func (c *CSVInferrer) Add(row []string, null func(string) bool) {
	for len(c.kinds) < len(row) {
		c.kinds = append(c.kinds, kindNull)
	}
	for i, s := range row {
		if null(s) {
			continue
		}
		c.kinds[i] = unite(c.kinds[i], classify(s))
	}
}

// Types returns the inferred type of each of n columns.
func (c *CSVInferrer) Types(n int) []arrow.DataType {
	out := make([]arrow.DataType, n)
	for i := range out {
		k := kindNull
		if i < len(c.kinds) {
			k = c.kinds[i]
		}
		switch k {
		case kindInt:
			out[i] = arrow.PrimitiveTypes.Int64
		case kindFloat:
			out[i] = arrow.PrimitiveTypes.Float64
		case kindBool:
			out[i] = arrow.FixedWidthTypes.Boolean
		case kindDate:
			out[i] = arrow.FixedWidthTypes.Date32
		case kindTimestamp:
			out[i] = &arrow.TimestampType{Unit: arrow.Microsecond}
		case kindZoned:
			out[i] = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
		default:
			out[i] = arrow.BinaryTypes.String
		}
	}
	return out
}

func unite(a, b csvKind) csvKind {
	switch {
	case a == kindNull || a == b:
		return b
	case (a == kindInt && b == kindFloat) || (a == kindFloat && b == kindInt):
		return kindFloat
	case (a == kindDate && b == kindTimestamp) || (a == kindTimestamp && b == kindDate):
		return kindTimestamp
	}
	return kindString
}

func classify(s string) csvKind {
	t := strings.TrimSpace(s)
	if _, err := strconv.ParseInt(t, 10, 64); err == nil {
		return kindInt
	}
	if isDecimalFloat(t) {
		if _, err := strconv.ParseFloat(t, 64); err == nil || errors.Is(err, strconv.ErrRange) { // 1e400: inf
			return kindFloat
		}
	}
	switch strings.ToLower(s) {
	case "true", "false":
		return kindBool
	}
	if len(s) == 10 {
		if _, err := time.Parse("2006-01-02", s); err == nil {
			return kindDate
		}
	}
	if len(s) >= 16 && s[4] == '-' {
		for i, layout := range timestampLayouts {
			if _, err := time.Parse(layout, s); err == nil {
				if i == 0 || i == 2 { // the layouts with a zone
					return kindZoned
				}
				return kindTimestamp
			}
		}
	}
	return kindString
}

// isDecimalFloat: s is a number as CSV files write them (digits, '.', an exponent, a
// sign, or nan/inf), not one of Go's other float spellings (hexadecimal, '_').
func isDecimalFloat(s string) bool {
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "nan", "inf", "infinity":
		return true
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c == '.', c == 'e', c == 'E', c == '+', c == '-':
		default:
			return false
		}
	}
	return true
}

// CSVAppender returns the function that appends one CSV field of column f to b
// (a builder of f.Type): null says which fields are nulls (a null in a
// non-nullable column is an error). Errors name the column, as FieldError does;
// the caller adds the file and line.
func CSVAppender(f arrow.Field, b array.Builder, null func(string) bool) (func(s string) error, error) {
	if err := CheckType(f.Name, f.Type, false); err != nil {
		return nil, err
	}
	path := f.Name
	nullable := f.Nullable
	var conv func(s string) error
	switch b := b.(type) {
	case *array.Int64Builder:
		conv = func(s string) error {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				n, err = strconv.ParseInt(strings.TrimSpace(s), 10, 64)
				if err != nil {
					return FieldError(path, "%q is not a %s", s, f.Type)
				}
			}
			b.Append(n)
			return nil
		}
	case *array.Float64Builder:
		conv = func(s string) error {
			x, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil || !isDecimalFloat(strings.TrimSpace(s)) {
				if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
					b.Append(x) // ±Inf or 0 beyond the range, as pyarrow and Polars read it
					return nil
				}
				return FieldError(path, "%q is not a %s", s, f.Type)
			}
			b.Append(x)
			return nil
		}
	case *array.StringBuilder:
		conv = func(s string) error {
			if !utf8.ValidString(s) {
				return FieldError(path, "not valid UTF-8")
			}
			b.Append(s)
			return nil
		}
	default:
		conv = func(s string) error {
			v, err := CSVValue(f, s)
			if err != nil {
				return err
			}
			AppendValue(b, v)
			return nil
		}
	}
	return func(s string) error {
		if null(s) {
			if !nullable {
				return FieldError(path, "null, but the column is not nullable")
			}
			b.AppendNull()
			return nil
		}
		return conv(s)
	}, nil
}
