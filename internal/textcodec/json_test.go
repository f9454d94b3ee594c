package textcodec

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
)

// The reference the JSON row parser is checked against: the same conversion written over
// encoding/json's generic decoding (maps, json.Number), which defines the semantics.

func refParseJSONRow(schema *arrow.Schema, value []byte) ([]any, error) {
	if value == nil {
		return nil, errors.New("null value (tombstone): no JSON object to read")
	}
	if !utf8.Valid(value) { // JSON text is UTF-8; encoding/json would read U+FFFD
		return nil, errors.New("not valid JSON: the text is not valid UTF-8")
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
		return nil, fmt.Errorf("the value is a JSON %s, not an object", refJSONKind(doc))
	}
	return refJSONFields(schema.Fields(), obj, "")
}

func refJSONFields(fields []arrow.Field, obj map[string]any, parent string) ([]any, error) {
	row := make([]any, len(fields))
	for i, f := range fields {
		path := JoinPath(parent, f.Name)
		v, err := refJSONValue(path, f.Type, obj[f.Name])
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

func refJSONKind(v any) string {
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

func refJSONMismatch(path string, t arrow.DataType, v any) error {
	s := fmt.Sprint(v)
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return FieldError(path, "expected %s, got JSON %s %s", t, refJSONKind(v), strconv.Quote(s))
}

// jsonValue converts a decoded JSON value to the intermediate form of type t.
func refJSONValue(path string, t arrow.DataType, v any) (any, error) {
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
			return refJSONFields(t.Fields(), obj, path)
		}
	case *arrow.ListType:
		return refJSONList(path, t.ElemField(), v)
	case *arrow.LargeListType:
		return refJSONList(path, t.ElemField(), v)
	default:
		if IsInteger(t) {
			if n, ok := v.(json.Number); ok {
				return ParseInteger(path, t, string(n))
			}
		}
	}
	return nil, refJSONMismatch(path, t, v)
}

func refJSONList(path string, elem arrow.Field, v any) (any, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, refJSONMismatch(path, arrow.ListOfField(elem), v)
	}
	out := make([]any, len(arr))
	for i, e := range arr {
		p := fmt.Sprintf("%s[%d]", path, i)
		x, err := refJSONValue(p, elem.Type, e)
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

var fuzzJSONSchema = arrow.NewSchema([]arrow.Field{
	{Name: "i", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "u8", Type: arrow.PrimitiveTypes.Uint8, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "bin", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}, Nullable: true},
	{Name: "d", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "req", Type: arrow.PrimitiveTypes.Int32, Nullable: false},
	{Name: "st", Type: arrow.StructOf(
		arrow.Field{Name: "x", Type: arrow.PrimitiveTypes.Int16, Nullable: true},
		arrow.Field{Name: "l", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true}), Nullable: true},
	{Name: "ls", Type: arrow.ListOfField(arrow.Field{Name: "item", Nullable: false, Type: arrow.StructOf(
		arrow.Field{Name: "y", Type: arrow.PrimitiveTypes.Float64, Nullable: true})}), Nullable: true},
}, nil)

var jsonSeeds = []string{
	`{"req": 1, "i": 5, "s": "x"}`,
	`{"req": 1, "i": 5, "i": 6}`,
	`{"req": 1, "s": "a\ud800b"}`,
	`{"req": 1, "s": "a\ud83d\ude00b"}`,
	"{\"req\": 1, \"s\": \"bad \xff utf8\"}",
	"{\"req\": 1, \"s\": \"tab\tinside\"}",
	"\t{\"req\": 1}\n",
	`{"req": 1, "u8": 256}`,
	`{"req": 1, "u8": -1}`,
	`{"req": 1, "i": 01}`,
	`{"req": 1, "i": 1.0}`,
	`{"req": 1, "f": 1e400}`,
	`{"req": 1, "f32": 1e39}`,
	`{"req": 1, "f": NaN}`,
	`{"req": 1, "b": true, "bin": "aGk="}`,
	`{"req": 1, "bin": "!!"}`,
	`{"req": 1, "ts": "2026-01-02T03:04:05Z", "d": "2026-01-02"}`,
	`{"req": 1, "ts": 1700000000000, "d": 19000}`,
	`{"req": null}`,
	`{}`,
	`[1, 2]`,
	`"x"`,
	`{"req": 1} {"req": 2}`,
	`{"req": 1, "st": {"x": 3, "l": ["a", null, "b"]}, "ls": [{"y": 1.5}, {"y": null}]}`,
	`{"req": 1, "ls": [null]}`,
	`{"req": 1, "st": {"l": [1]}}`,
	`{"req": 1, "st": [1]}`,
	`{"req": 1, "s": "\u00e9\/\"\\"}`,
	`{"req": 1, "s": "<&>"}`,
	`{"req": 1,}`,
	`{"req": 1, "x": {"deep": [[[[{"a": "b"}]]]]}}`,
	`{"req": 1, "s": "\x"}`,
	``,
	`   `,
}

// FuzzJSONRow: the row parser (fastjson, with the encoding/json fallback) gives what the
// encoding/json reference gives — the same values, or an error where it errs.
func FuzzJSONRow(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	p := NewJSONRowParser(fuzzJSONSchema)
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := p.Parse(v)
		want, werr := refParseJSONRow(fuzzJSONSchema, v)
		if err != nil && strings.Contains(err.Error(), "too big depth") {
			return // fastjson's nesting limit (300) is below encoding/json's
		}
		if (err != nil) != (werr != nil) {
			t.Fatalf("%q: error %v, reference error %v", v, err, werr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("%q:\n got  %#v\n want %#v", v, got, want)
		}
	})
}

func TestJSONRowSeedsMatchTheReference(t *testing.T) {
	p := NewJSONRowParser(fuzzJSONSchema)
	valid := 0
	for _, s := range jsonSeeds {
		got, err := p.Parse([]byte(s))
		want, werr := refParseJSONRow(fuzzJSONSchema, []byte(s))
		if (err != nil) != (werr != nil) {
			t.Fatalf("%q: error %v, reference error %v", s, err, werr)
		}
		if err == nil {
			valid++
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%q:\n got  %#v\n want %#v", s, got, want)
			}
		}
	}
	if valid < 12 {
		t.Fatalf("only %d seeds parse: the test would not check values", valid)
	}
}

// Decimal text is read exactly (no float on the way), rounded half away from zero to the
// type's scale; too many digits for its precision, or text that is no number, is an error
// naming the field.
func TestParseDecimal(t *testing.T) {
	d := func(p, s int32) *arrow.Decimal128Type { return &arrow.Decimal128Type{Precision: p, Scale: s} }
	for _, c := range []struct {
		typ  *arrow.Decimal128Type
		in   string
		want string // "" for an error
	}{
		{d(10, 2), "12.345", "12.35"}, {d(10, 2), "-12.345", "-12.35"}, {d(10, 2), "12.344999", "12.34"},
		{d(10, 2), "0.1", "0.10"}, {d(10, 2), "1e3", "1000.00"}, {d(10, 2), "-2.5E-1", "-0.25"},
		{d(38, 0), "99999999999999999999999999999999999999", "99999999999999999999999999999999999999"},
		{d(38, 0), "100000000000000000000000000000000000000", ""}, {d(5, 2), "999.995", ""},
		{d(5, 2), "999.994", "999.99"}, {d(5, 2), " 1.5 ", "1.50"}, {d(5, 2), "1/2", ""}, {d(5, 2), "x", ""},
		{d(5, 2), "0.30000000000000004", "0.30"}, {d(5, -1), "125", "130"},
	} {
		got, err := ParseDecimal("f", c.typ, c.in)
		switch {
		case c.want == "":
			if err == nil || !strings.Contains(err.Error(), `field "f"`) {
				t.Errorf("%s as %s: %v, %v; want an error naming the field", c.in, c.typ, got, err)
			}
		case err != nil:
			t.Errorf("%s as %s: %v", c.in, c.typ, err)
		case got.ToString(c.typ.Scale) != c.want:
			t.Errorf("%s as %s: %s, want %s", c.in, c.typ, got.ToString(c.typ.Scale), c.want)
		}
	}
}

// decimalTypes are the types FuzzParseDecimal reads each text as.
var decimalTypes = []*arrow.Decimal128Type{
	{Precision: 38, Scale: 0}, {Precision: 10, Scale: 2}, {Precision: 5, Scale: -1},
	{Precision: 38, Scale: 10}, {Precision: 18, Scale: 18},
}

var decimalGrammar = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// refParseDecimal reads decimal text as t's unscaled integer by moving digits: the
// digits of the number, shifted by its exponent and t's scale, the first digit dropped
// deciding the rounding (half away from zero). ok false: no decimal number, or too many
// digits for t.
func refParseDecimal(t *arrow.Decimal128Type, s string) (string, bool) {
	s = strings.TrimSpace(s)
	if !decimalGrammar.MatchString(s) {
		return "", false
	}
	neg := s[0] == '-'
	s = strings.TrimLeft(s, "+-")
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e := strings.TrimLeft(strings.TrimLeft(s[i+1:], "+-"), "0")
		if len(e) > 4 {
			return "", false // an exponent beyond 9999
		}
		exp, _ = strconv.Atoi(e)
		if strings.Contains(s[i+1:], "-") {
			exp = -exp
		}
		s = s[:i]
	}
	whole, frac, _ := strings.Cut(s, ".")
	digits := whole + frac
	shift := exp - len(frac) + int(t.Scale) // the value is digits x 10^shift
	var unscaled string
	if shift >= 0 {
		unscaled = digits + strings.Repeat("0", shift)
	} else {
		keep := len(digits) + shift // digits kept; the first dropped decides
		dropped := byte('0')
		if keep >= 0 && keep < len(digits) {
			dropped = digits[keep]
		}
		unscaled = "0"
		if keep > 0 {
			unscaled = digits[:keep]
		}
		if dropped >= '5' {
			n, _ := new(big.Int).SetString(unscaled, 10)
			unscaled = n.Add(n, big.NewInt(1)).String()
		}
	}
	unscaled = strings.TrimLeft(unscaled, "0")
	if unscaled == "" {
		return "0", true
	}
	if len(unscaled) > int(t.Precision) {
		return "", false
	}
	if neg {
		unscaled = "-" + unscaled
	}
	return unscaled, true
}

// ParseDecimal against refParseDecimal, over each of decimalTypes: the same value or
// both an error (naming the field), never a panic or a hang.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"12.345", "-12.345", "0.1", "1e3", "-2.5E-1", "999.995", " 1.5 ", "1/2", "x",
		"0x10", "1_000", "0b101", "0x1p4", "Inf", "NaN", "-.5", "5.", ".", "+", "1e", "1e+", "1e9999", "1e-9999",
		"1e99999", "00012.5000", "-0.004", "99999999999999999999999999999999999999", "123456789012345678901.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, typ := range decimalTypes {
			got, err := ParseDecimal("f", typ, s)
			want, ok := refParseDecimal(typ, s)
			switch {
			case !ok:
				if err == nil || !strings.Contains(err.Error(), `field "f"`) {
					t.Fatalf("%q as %s: %s, %v; want an error naming the field", s, typ, got.BigInt(), err)
				}
			case err != nil:
				t.Fatalf("%q as %s: %v; want %s", s, typ, err, want)
			case got.BigInt().String() != want:
				t.Fatalf("%q as %s: %s, want %s", s, typ, got.BigInt(), want)
			}
		}
	})
}
