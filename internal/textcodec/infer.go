package textcodec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// JSONInferrer infers the Arrow schema of JSON objects from a sample of
// values, as a user would write it by hand:
//
//   - an integral number is int64, any other number float64 (int64 and
//     float64 values of one field make float64);
//   - a string is a string (timestamps stay text: cast them, or pass a
//     schema with a timestamp column, which the decoder reads from RFC 3339);
//   - true/false is bool; an object is a struct of the union of its fields;
//     an array is a list of the union of its elements' types;
//   - a field that is null in every sampled value is a string (null there);
//     one that is {} (or a list of {}) in every sampled value is left out; every field is
//     nullable.
//
// Fields are in order of first appearance, in the order the objects give them.
type JSONInferrer struct {
	root    shape
	objects int
}

// Add folds one value of the sample in. It returns false, without error, for a
// value that is not one JSON object (not JSON, another kind of value, or data after
// it); an error says that the value's types cannot be united with the earlier
// values' (a number in one and a string in another).
func (in *JSONInferrer) Add(value []byte) (bool, error) {
	doc, ok := decodeOrdered(value)
	if !ok {
		dec := json.NewDecoder(bytes.NewReader(value))
		if _, err := decodeTokens(dec, 0); errors.Is(err, errTooDeep) {
			return true, fmt.Errorf("a value is nested more than %d levels deep", maxInferDepth)
		}
		return false, nil
	}
	if _, isObj := doc.(*orderedObject); !isObj {
		return false, nil
	}
	if err := in.root.add("", doc, 0); err != nil {
		return true, err
	}
	in.objects++
	return true, nil
}

// Objects is the number of JSON objects added.
func (in *JSONInferrer) Objects() int { return in.objects }

// Fields is the inferred schema's fields (none if no object had a field).
func (in *JSONInferrer) Fields() []arrow.Field { return in.root.fields() }

// InferJSONSchema infers a schema from a sample of values (see JSONInferrer); what
// names the reader in errors ("kafka"). Values that are not JSON objects (and nil
// values: Kafka tombstones) are skipped; a sample without any object is an error, as
// are values of one field whose types cannot be united: both ask for an explicit
// schema.
func InferJSONSchema(values [][]byte, what string) (*arrow.Schema, error) {
	var in JSONInferrer
	for _, v := range values {
		if v == nil {
			continue
		}
		if _, err := in.Add(v); err != nil {
			return nil, rberr.New(rberr.Schema, "%s: cannot infer a JSON schema: %v; pass schema=", what, err)
		}
	}
	if in.Objects() == 0 {
		return nil, rberr.New(rberr.Schema, "%s: cannot infer a JSON schema: the sample holds no JSON object (%d records read); pass schema=", what, len(values))
	}
	fs := in.Fields()
	if len(fs) == 0 {
		return nil, rberr.New(rberr.Schema, "%s: cannot infer a JSON schema: the sampled objects have no fields; pass schema=", what)
	}
	return arrow.NewSchema(fs, nil), nil
}

// orderedObject is a JSON object with its keys in document order (a Go map
// loses the order; inference keeps it, as Polars and pyarrow do).
type orderedObject struct {
	keys []string
	vals []any
}

// decodeOrdered decodes one JSON value (numbers as json.Number, objects as
// *orderedObject); false if value is not exactly one JSON value, or is nested
// deeper than maxInferDepth allows.
func decodeOrdered(value []byte) (any, bool) {
	if !utf8.Valid(value) { // JSON text is UTF-8: the row parser refuses such a value too
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	v, err := decodeTokens(dec, 0)
	if err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}

var errTooDeep = errors.New("nested too deeply")

func decodeTokens(dec *json.Decoder, depth int) (any, error) {
	if depth > maxInferDepth+1 {
		return nil, errTooDeep
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			obj := &orderedObject{}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := k.(string)
				if !ok {
					return nil, errors.New("object key is not a string")
				}
				v, err := decodeTokens(dec, depth+1)
				if err != nil {
					return nil, err
				}
				obj.keys = append(obj.keys, key)
				obj.vals = append(obj.vals, v)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return obj, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeTokens(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}

// maxInferDepth bounds the nesting that inference follows (deeper values are
// an error): the decoder would read such a schema, but the Arrow C data interface
// that hands batches to Python takes at most 64 levels, the batch's own included.
const maxInferDepth = 63

// shape is what the sample says of one value: its JSON kind and, for objects
// and arrays, what is inside.
type shape struct {
	kind  string // "", "null", "bool", "int", "float", "string", "object", "array"
	names []string
	kids  map[string]*shape
	elem  *shape
}

func (s *shape) add(path string, v any, depth int) error {
	if depth > maxInferDepth {
		return fmt.Errorf("field %q is nested more than %d levels deep", path, maxInferDepth)
	}
	var kind string
	switch x := v.(type) {
	case nil:
		if s.kind == "" {
			s.kind = "null"
		}
		return nil
	case bool:
		kind = "bool"
	case json.Number:
		kind = "float"
		if _, err := x.Int64(); err == nil {
			kind = "int"
		}
	case string:
		kind = "string"
	case *orderedObject:
		kind = "object"
	case []any:
		kind = "array"
	default:
		return fmt.Errorf("field %q: unexpected JSON value %T", path, v)
	}
	switch {
	case s.kind == "" || s.kind == "null":
		s.kind = kind
	case s.kind == kind:
	case (s.kind == "int" && kind == "float") || (s.kind == "float" && kind == "int"):
		s.kind = "float"
	default:
		return fmt.Errorf("field %q is a JSON %s in one record and a JSON %s in another", show(path), jsonWord(s.kind), jsonWord(kind))
	}
	switch x := v.(type) {
	case *orderedObject:
		if s.kids == nil {
			s.kids = map[string]*shape{}
		}
		for i, k := range x.keys {
			f := s.kids[k]
			if f == nil {
				f = &shape{}
				s.kids[k] = f
				s.names = append(s.names, k)
			}
			if err := f.add(JoinPath(path, k), x.vals[i], depth+1); err != nil {
				return err
			}
		}
	case []any:
		if s.elem == nil {
			s.elem = &shape{}
		}
		for _, e := range x {
			if err := s.elem.add(path+"[]", e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func show(path string) string {
	if path == "" {
		return "(the value)"
	}
	return path
}

func jsonWord(kind string) string {
	switch kind {
	case "int", "float":
		return "number"
	case "bool":
		return "boolean"
	}
	return kind
}

// fields lists the fields of an object shape. A field that is an empty object
// in every sample holds nothing to read and is left out.
func (s *shape) fields() []arrow.Field {
	fs := make([]arrow.Field, 0, len(s.names))
	for _, name := range s.names {
		if f := s.kids[name]; !f.empty() {
			fs = append(fs, arrow.Field{Name: name, Type: f.dataType(), Nullable: true})
		}
	}
	return fs
}

// empty: an object without fields in every sample (or a list of those).
func (s *shape) empty() bool {
	switch s.kind {
	case "object":
		for _, k := range s.kids {
			if !k.empty() {
				return false
			}
		}
		return true
	case "array":
		return s.elem != nil && s.elem.empty()
	}
	return false
}

func (s *shape) dataType() arrow.DataType {
	switch s.kind {
	case "bool":
		return arrow.FixedWidthTypes.Boolean
	case "int":
		return arrow.PrimitiveTypes.Int64
	case "float":
		return arrow.PrimitiveTypes.Float64
	case "object":
		return arrow.StructOf(s.fields()...)
	case "array":
		elem := arrow.DataType(arrow.BinaryTypes.String)
		if s.elem != nil {
			elem = s.elem.dataType()
		}
		return arrow.ListOfField(arrow.Field{Name: "item", Type: elem, Nullable: true})
	}
	return arrow.BinaryTypes.String
}
