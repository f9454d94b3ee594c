package kafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// InferJSONSchema infers the Arrow schema of JSON objects from a sample of
// record values, as a user would write it by hand:
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
// Fields are in order of first appearance. Values that are not JSON objects
// (and tombstones) are skipped; a sample without any object is an error, as
// are values of one field whose types cannot be united (a number in one
// record and a string in another): both ask for an explicit schema.
func InferJSONSchema(values [][]byte) (*arrow.Schema, error) {
	root := &shape{}
	n := 0
	for _, v := range values {
		if v == nil {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		var doc any
		if dec.Decode(&doc) != nil {
			continue
		}
		if _, err := dec.Token(); err != io.EOF {
			continue
		}
		if _, ok := doc.(map[string]any); !ok {
			continue
		}
		if err := root.add("", doc, 0); err != nil {
			return nil, rberr.New(rberr.Schema, "kafka: cannot infer a JSON schema: %v; pass schema=", err)
		}
		n++
	}
	if n == 0 {
		return nil, rberr.New(rberr.Schema, "kafka: cannot infer a JSON schema: the sample holds no JSON object (%d records read); pass schema=", len(values))
	}
	fs := root.fields()
	if len(fs) == 0 {
		return nil, rberr.New(rberr.Schema, "kafka: cannot infer a JSON schema: the sampled objects have no fields; pass schema=")
	}
	return arrow.NewSchema(fs, nil), nil
}

// maxInferDepth bounds the nesting that inference follows (deeper values are
// an error): the decoder would read such a schema, but nobody writes one.
const maxInferDepth = 64

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
	case map[string]any:
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
	case map[string]any:
		if s.kids == nil {
			s.kids = map[string]*shape{}
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys) // Go maps lose the object's order; sorted is stable
		for _, k := range keys {
			f := s.kids[k]
			if f == nil {
				f = &shape{}
				s.kids[k] = f
				s.names = append(s.names, k)
			}
			if err := f.add(joinPath(path, k), x[k], depth+1); err != nil {
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
