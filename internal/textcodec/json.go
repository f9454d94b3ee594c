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
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/valyala/fastjson"
)

// JSONRowParser reads JSON objects against one schema (see ParseJSONRow). It is safe
// for concurrent use.
type JSONRowParser struct {
	fields *jsonFieldSet
}

// jsonFieldSet is the fields of a schema or struct, with their children's, looked up by
// name.
type jsonFieldSet struct {
	fields   []arrow.Field
	index    map[string]int
	children []*jsonFieldSet // per field: its struct's fields, or its list elements' struct's
}

func newJSONFieldSet(fields []arrow.Field) *jsonFieldSet {
	fs := &jsonFieldSet{fields: fields, index: make(map[string]int, len(fields)),
		children: make([]*jsonFieldSet, len(fields))}
	for i, f := range fields {
		fs.index[f.Name] = i
		fs.children[i] = jsonChildren(f.Type)
	}
	return fs
}

func jsonChildren(t arrow.DataType) *jsonFieldSet {
	switch t := t.(type) {
	case *arrow.StructType:
		return newJSONFieldSet(t.Fields())
	case *arrow.ListType:
		return jsonChildren(t.Elem())
	case *arrow.LargeListType:
		return jsonChildren(t.Elem())
	}
	return nil
}

// NewJSONRowParser prepares the reading of JSON objects against schema.
func NewJSONRowParser(schema *arrow.Schema) *JSONRowParser {
	return &JSONRowParser{fields: newJSONFieldSet(schema.Fields())}
}

// ParseJSONRow reads one JSON object against schema: NewJSONRowParser(schema).Parse(value).
func ParseJSONRow(schema *arrow.Schema, value []byte) ([]any, error) {
	return NewJSONRowParser(schema).Parse(value)
}

var jsonParsers fastjson.ParserPool

// Parse reads one JSON object. Fields of the object that the schema does not name are
// ignored; fields the object lacks, and JSON nulls, are nulls (an error for a non-nullable
// field). A name given twice takes its last value.
//
// The document is validated strictly (RFC 8259, as encoding/json) and parsed with
// fastjson. A document that holds what fastjson reads differently from encoding/json —
// control characters, escaped UTF-16 surrogates — is first normalised through
// encoding/json (lone surrogates become U+FFFD, as there); text that is not UTF-8 is an
// error.
func (p *JSONRowParser) Parse(value []byte) ([]any, error) {
	if value == nil {
		return nil, errors.New("null value (tombstone): no JSON object to read")
	}
	value = bytes.Trim(value, " \t\r\n") // JSON's whitespace, which encoding/json also allows around the value
	if !plainJSON(value) {
		if !utf8.Valid(value) { // JSON text is UTF-8 (RFC 8259), as pyarrow's reader requires
			return nil, errors.New("not valid JSON: the text is not valid UTF-8")
		}
		norm, err := normaliseJSON(value)
		if err != nil {
			return nil, err
		}
		value = norm
	} else if err := fastjson.ValidateBytes(value); err != nil {
		if strings.HasPrefix(err.Error(), "unexpected tail") {
			return nil, errors.New("not valid JSON: data after the top-level value")
		}
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	fp := jsonParsers.Get()
	defer jsonParsers.Put(fp)
	doc, err := fp.ParseBytes(value)
	if err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if doc.Type() != fastjson.TypeObject {
		return nil, fmt.Errorf("the value is a JSON %s, not an object", jsonKind(doc))
	}
	obj, _ := doc.Object()
	return jsonFields(p.fields, obj, "")
}

// plainJSON reports whether value is valid UTF-8 without control characters (raw tabs and
// newlines included) and without escaped surrogates (\uD800-\uDFFF): fastjson reads such
// a document exactly as encoding/json does.
func plainJSON(value []byte) bool {
	ascii := true
	for i, c := range value {
		switch {
		case c < 0x20:
			return false
		case c >= 0x80:
			ascii = false
		case c == '\\' && i+3 < len(value) && value[i+1] == 'u' && (value[i+2]|0x20) == 'd' && isHighHex(value[i+3]):
			return false
		}
	}
	return ascii || utf8.Valid(value)
}

// isHighHex reports whether c is one of the hex digits 8-f (either case).
func isHighHex(c byte) bool {
	return c == '8' || c == '9' || (c|0x20) >= 'a' && (c|0x20) <= 'f'
}

// normaliseJSON decodes value with encoding/json and encodes it again.
func normaliseJSON(value []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not valid JSON: data after the top-level value")
	}
	return json.Marshal(doc)
}

func jsonFields(fs *jsonFieldSet, obj *fastjson.Object, parent string) ([]any, error) {
	vals := make([]*fastjson.Value, len(fs.fields))
	obj.Visit(func(k []byte, v *fastjson.Value) {
		if i, ok := fs.index[string(k)]; ok {
			vals[i] = v
		}
	})
	row := make([]any, len(fs.fields))
	for i, f := range fs.fields {
		v, err := jsonValue(parent, f.Name, -1, f.Type, fs.children[i], vals[i])
		if err != nil {
			return nil, err
		}
		if v == nil && !f.Nullable {
			return nil, FieldError(JoinPath(parent, f.Name), "missing or null, but the column is not nullable")
		}
		row[i] = v
	}
	return row, nil
}

func jsonKind(v *fastjson.Value) string {
	switch v.Type() {
	case fastjson.TypeNull:
		return "null"
	case fastjson.TypeTrue, fastjson.TypeFalse:
		return "boolean"
	case fastjson.TypeNumber:
		return "number"
	case fastjson.TypeString:
		return "string"
	case fastjson.TypeArray:
		return "array"
	}
	return "object"
}

// jsonPath is the path of a value: field name under parent, or element elem (>= 0) of
// the list at parent. It is built only for an error message.
func jsonPath(parent, name string, elem int) string {
	if elem >= 0 {
		return fmt.Sprintf("%s[%d]", parent, elem)
	}
	return JoinPath(parent, name)
}

func jsonMismatch(path string, t arrow.DataType, v *fastjson.Value) error {
	s := string(v.MarshalTo(nil))
	if v.Type() == fastjson.TypeString {
		s = string(v.GetStringBytes())
	}
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return FieldError(path, "expected %s, got JSON %s %s", t, jsonKind(v), strconv.Quote(s))
}

// jsonValue converts a JSON value (nil: missing) to the intermediate form of type t; the
// value is field name of parent, or element elem (>= 0) of the list at parent.
func jsonValue(parent, name string, elem int, t arrow.DataType, kids *jsonFieldSet, v *fastjson.Value) (any, error) {
	if v == nil || v.Type() == fastjson.TypeNull {
		return nil, nil
	}
	path := func() string { return jsonPath(parent, name, elem) }
	typ := v.Type()
	switch t := t.(type) {
	case *arrow.BooleanType:
		if typ == fastjson.TypeTrue || typ == fastjson.TypeFalse {
			return typ == fastjson.TypeTrue, nil
		}
	case *arrow.Float32Type, *arrow.Float64Type:
		if typ == fastjson.TypeNumber {
			n := string(v.MarshalTo(nil))
			f, err := ParseFloat(path(), t, n)
			if err != nil || (t.ID() == arrow.FLOAT32 && math.IsInf(f.(float64), 0)) {
				return nil, FieldError(path(), "%s is out of range for %s", n, t)
			}
			return f, nil
		}
	case *arrow.StringType, *arrow.LargeStringType:
		if typ == fastjson.TypeString {
			return string(v.GetStringBytes()), nil
		}
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		// As encoding/json writes []byte: standard base64.
		if typ == fastjson.TypeString {
			s := v.GetStringBytes()
			b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(b, s)
			if err != nil {
				return nil, FieldError(path(), "binary must be base64: %v", err)
			}
			return b[:n], nil
		}
	case *arrow.TimestampType:
		switch typ {
		case fastjson.TypeNumber:
			raw := string(v.MarshalTo(nil))
			n, err := strconv.ParseInt(raw, 10, 64)
			if err != nil {
				return nil, FieldError(path(), "%s is not an integer count of %s since the epoch", raw, t.Unit)
			}
			return n, nil
		case fastjson.TypeString:
			return ParseTimestamp(path(), t, string(v.GetStringBytes()))
		}
	case *arrow.Decimal128Type:
		// A JSON number, read exactly (not through a float), or decimal text.
		switch typ {
		case fastjson.TypeNumber:
			return ParseDecimal(path(), t, string(v.MarshalTo(nil)))
		case fastjson.TypeString:
			return ParseDecimal(path(), t, string(v.GetStringBytes()))
		}
	case *arrow.Date32Type:
		switch typ {
		case fastjson.TypeNumber:
			raw := string(v.MarshalTo(nil))
			n, err := strconv.ParseInt(raw, 10, 32)
			if err != nil {
				return nil, FieldError(path(), "%s is not an integer count of days since the epoch", raw)
			}
			return int32(n), nil
		case fastjson.TypeString:
			return ParseDate(path(), string(v.GetStringBytes()))
		}
	case *arrow.StructType:
		if typ == fastjson.TypeObject {
			obj, _ := v.Object()
			return jsonFields(kids, obj, path())
		}
	case *arrow.ListType:
		return jsonList(path(), t.ElemField(), kids, v)
	case *arrow.LargeListType:
		return jsonList(path(), t.ElemField(), kids, v)
	default:
		if IsInteger(t) && typ == fastjson.TypeNumber {
			return ParseInteger(path(), t, string(v.MarshalTo(nil)))
		}
	}
	return nil, jsonMismatch(path(), t, v)
}

func jsonList(path string, elem arrow.Field, kids *jsonFieldSet, v *fastjson.Value) (any, error) {
	if v.Type() != fastjson.TypeArray {
		return nil, jsonMismatch(path, arrow.ListOfField(elem), v)
	}
	arr, _ := v.Array()
	out := make([]any, len(arr))
	for i, e := range arr {
		x, err := jsonValue(path, "", i, elem.Type, kids, e)
		if err != nil {
			return nil, err
		}
		if x == nil && !elem.Nullable {
			return nil, FieldError(jsonPath(path, "", i), "null, but the list's elements are not nullable")
		}
		out[i] = x
	}
	return out, nil
}
