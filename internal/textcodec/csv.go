package textcodec

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

func ValidDelimiter(r rune) bool {
	return r != 0 && r != '"' && r != '\r' && r != '\n' && utf8.ValidRune(r) && r != utf8.RuneError
}

// parseCSVRow reads one CSV row (RFC 4180 quoting) with one field per schema
// column, in order. An empty field is a null, except in a string column,
// where it is the empty string.
func ParseCSVRow(schema *arrow.Schema, delim rune, value []byte) ([]any, error) {
	if value == nil {
		return nil, errors.New("null value (tombstone): no CSV row to read")
	}
	r := csv.NewReader(bytes.NewReader(value))
	r.Comma = delim
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err == io.EOF {
		return nil, errors.New("empty value: no CSV row to read")
	}
	if err != nil {
		return nil, fmt.Errorf("not valid CSV: %v", err)
	}
	if _, err := r.Read(); err != io.EOF {
		return nil, errors.New("not valid CSV: more than one row in the record")
	}
	fields := schema.Fields()
	if len(rec) != len(fields) {
		return nil, fmt.Errorf("CSV row has %d fields, the schema %d", len(rec), len(fields))
	}
	row := make([]any, len(fields))
	for i, f := range fields {
		v, err := CSVValue(f, rec[i])
		if err != nil {
			return nil, err
		}
		row[i] = v
	}
	return row, nil
}

func CSVValue(f arrow.Field, s string) (any, error) {
	path := f.Name
	switch f.Type.ID() {
	case arrow.STRING, arrow.LARGE_STRING:
		if !utf8.ValidString(s) {
			return nil, FieldError(path, "not valid UTF-8")
		}
		return s, nil
	}
	if s == "" {
		if !f.Nullable {
			return nil, FieldError(path, "empty (null), but the column is not nullable")
		}
		return nil, nil
	}
	switch t := f.Type.(type) {
	case *arrow.BooleanType:
		return ParseBool(path, s)
	case *arrow.Float32Type, *arrow.Float64Type:
		return ParseCSVFloat(path, t, strings.TrimSpace(s))
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		return []byte(s), nil
	case *arrow.TimestampType:
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return n, nil
		}
		return ParseTimestamp(path, t, s)
	case *arrow.Date32Type:
		return ParseDate(path, s)
	case *arrow.Decimal128Type:
		return ParseDecimal(path, t, s)
	}
	if IsInteger(f.Type) {
		return ParseInteger(path, f.Type, strings.TrimSpace(s))
	}
	return nil, FieldError(path, "type %s is not supported by CSV", f.Type)
}
