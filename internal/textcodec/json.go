package textcodec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
)

// parseJSONRow reads one JSON object against schema. Fields of the object
// that the schema does not name are ignored; fields the object lacks, and
// JSON nulls, are nulls (an error for a non-nullable field).
func ParseJSONRow(schema *arrow.Schema, value []byte) ([]any, error) {
	if value == nil {
		return nil, errors.New("null value (tombstone): no JSON object to read")
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: data after the top-level value")
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the value is a JSON %s, not an object", jsonKind(doc))
	}
	return jsonFields(schema.Fields(), obj, "")
}

func jsonFields(fields []arrow.Field, obj map[string]any, parent string) ([]any, error) {
	row := make([]any, len(fields))
	for i, f := range fields {
		path := JoinPath(parent, f.Name)
		v, err := jsonValue(path, f.Type, obj[f.Name])
		if err != nil {
			return nil, err
		}
		if v == nil && !f.Nullable {
			return nil, FieldError(path, "missing or null, but the column is not nullable")
		}
		row[i] = v
	}
	return row, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonMismatch(path string, t arrow.DataType, v any) error {
	s := fmt.Sprint(v)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return FieldError(path, "expected %s, got JSON %s %s", t, jsonKind(v), strconv.Quote(s))
}

// jsonValue converts a decoded JSON value to the intermediate form of type t.
func jsonValue(path string, t arrow.DataType, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t := t.(type) {
	case *arrow.BooleanType:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case *arrow.Float32Type, *arrow.Float64Type:
		if n, ok := v.(json.Number); ok {
			f, err := ParseFloat(path, t, string(n))
			if err != nil || (t.ID() == arrow.FLOAT32 && math.IsInf(f.(float64), 0)) {
				return nil, FieldError(path, "%s is out of range for %s", n, t)
			}
			return f, nil
		}
	case *arrow.StringType, *arrow.LargeStringType:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		// As encoding/json writes []byte: standard base64.
		if s, ok := v.(string); ok {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				return nil, FieldError(path, "binary must be base64: %v", err)
			}
			return b, nil
		}
	case *arrow.TimestampType:
		switch v := v.(type) {
		case json.Number:
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return nil, FieldError(path, "%s is not an integer count of %s since the epoch", v, t.Unit)
			}
			return n, nil
		case string:
			return ParseTimestamp(path, t, v)
		}
	case *arrow.Date32Type:
		switch v := v.(type) {
		case json.Number:
			n, err := strconv.ParseInt(string(v), 10, 32)
			if err != nil {
				return nil, FieldError(path, "%s is not an integer count of days since the epoch", v)
			}
			return int32(n), nil
		case string:
			return ParseDate(path, v)
		}
	case *arrow.StructType:
		if obj, ok := v.(map[string]any); ok {
			return jsonFields(t.Fields(), obj, path)
		}
	case *arrow.ListType:
		return jsonList(path, t.ElemField(), v)
	case *arrow.LargeListType:
		return jsonList(path, t.ElemField(), v)
	default:
		if IsInteger(t) {
			if n, ok := v.(json.Number); ok {
				return ParseInteger(path, t, string(n))
			}
		}
	}
	return nil, jsonMismatch(path, t, v)
}

func jsonList(path string, elem arrow.Field, v any) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, jsonMismatch(path, arrow.ListOfField(elem), v)
	}
	out := make([]any, len(arr))
	for i, e := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		x, err := jsonValue(p, elem.Type, e)
		if err != nil {
			return nil, err
		}
		if x == nil && !elem.Nullable {
			return nil, FieldError(p, "null, but the list's elements are not nullable")
		}
		out[i] = x
	}
	return out, nil
}
