package kafka

import (
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/hamba/avro/v2"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// Avro: each record value is one Avro datum (binary encoding, no container file header
// and no schema-registry prefix) of a given writer schema, whose top level is a record.
// Its fields become the value columns:
//
//	boolean bool, int int32, long int64, float float32, double float64, string string,
//	bytes binary, enum string (the symbol), fixed binary, record struct, array list,
//	map list<struct<key string, value>>, ["null", T] nullable T,
//	int date date32, long timestamp-millis/-micros timestamp[ms/us, UTC],
//	long local-timestamp-millis/-micros timestamp[ms/us] (no zone), string uuid string.
//
// Unions of several non-null types and decimals are refused when the plan is bound.
// The datum is read straight into the decoders' intermediate form (hamba/avro's
// Reader, no reflection); a value that does not match the schema, or bytes after it,
// make the record bad (dead letter or error naming topic, partition and offset).

// AvroSchema parses an Avro schema (JSON text) whose top level is a record and returns
// it with the Arrow schema of its fields.
func AvroSchema(text string) (avro.Schema, *arrow.Schema, error) {
	s, err := avro.Parse(text)
	if err != nil {
		return nil, nil, rberr.Wrap(rberr.InvalidArgument, err, "kafka: not a valid Avro schema")
	}
	rs, ok := s.(*avro.RecordSchema)
	if !ok {
		return nil, nil, rberr.New(rberr.InvalidArgument, "kafka: the Avro schema must be a record (its fields are the columns), got %s", s.Type())
	}
	fields := make([]arrow.Field, 0, len(rs.Fields()))
	for _, f := range rs.Fields() {
		t, nullable, err := avroArrow(f.Name(), f.Type())
		if err != nil {
			return nil, nil, rberr.Wrap(rberr.Type, err, "kafka: Avro")
		}
		fields = append(fields, arrow.Field{Name: f.Name(), Type: t, Nullable: nullable})
	}
	return s, arrow.NewSchema(fields, nil), nil
}

func deref(s avro.Schema) avro.Schema {
	if r, ok := s.(*avro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func logicalOf(s avro.Schema) avro.LogicalType {
	if ls, ok := s.(avro.LogicalTypeSchema); ok && ls.Logical() != nil {
		return ls.Logical().Type()
	}
	return ""
}

// avroArrow is the Arrow type of Avro schema s, and whether it is nullable.
func avroArrow(path string, s avro.Schema) (arrow.DataType, bool, error) {
	s = deref(s)
	switch s := s.(type) {
	case *avro.UnionSchema:
		if !s.Nullable() {
			return nil, false, fmt.Errorf("field %q: a union of several types other than null is not supported", path)
		}
		_, typ := s.Indices()
		t, _, err := avroArrow(path, s.Types()[typ])
		return t, true, err
	case *avro.RecordSchema:
		var fs []arrow.Field
		for _, f := range s.Fields() {
			t, nullable, err := avroArrow(textcodec.JoinPath(path, f.Name()), f.Type())
			if err != nil {
				return nil, false, err
			}
			fs = append(fs, arrow.Field{Name: f.Name(), Type: t, Nullable: nullable})
		}
		return arrow.StructOf(fs...), false, nil
	case *avro.ArraySchema:
		t, nullable, err := avroArrow(path+"[]", s.Items())
		if err != nil {
			return nil, false, err
		}
		return arrow.ListOfField(arrow.Field{Name: "item", Type: t, Nullable: nullable}), false, nil
	case *avro.MapSchema:
		t, nullable, err := avroArrow(path+"{}", s.Values())
		if err != nil {
			return nil, false, err
		}
		return arrow.ListOf(arrow.StructOf(arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
			arrow.Field{Name: "value", Type: t, Nullable: nullable})), false, nil
	case *avro.EnumSchema:
		return arrow.BinaryTypes.String, false, nil
	case *avro.FixedSchema:
		if logicalOf(s) != "" {
			return nil, false, fmt.Errorf("field %q: fixed with logical type %s is not supported", path, logicalOf(s))
		}
		return arrow.BinaryTypes.Binary, false, nil
	case *avro.PrimitiveSchema:
		lt := logicalOf(s)
		switch s.Type() {
		case avro.Boolean:
			return arrow.FixedWidthTypes.Boolean, false, nil
		case avro.Int:
			if lt == avro.Date {
				return arrow.FixedWidthTypes.Date32, false, nil
			}
			return arrow.PrimitiveTypes.Int32, false, nil
		case avro.Long:
			switch lt {
			case avro.TimestampMillis:
				return &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}, false, nil
			case avro.TimestampMicros:
				return &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, false, nil
			case avro.LocalTimestampMillis:
				return &arrow.TimestampType{Unit: arrow.Millisecond}, false, nil
			case avro.LocalTimestampMicros:
				return &arrow.TimestampType{Unit: arrow.Microsecond}, false, nil
			}
			return arrow.PrimitiveTypes.Int64, false, nil
		case avro.Float:
			return arrow.PrimitiveTypes.Float32, false, nil
		case avro.Double:
			return arrow.PrimitiveTypes.Float64, false, nil
		case avro.String:
			return arrow.BinaryTypes.String, false, nil
		case avro.Bytes:
			if lt == avro.Decimal {
				return nil, false, fmt.Errorf("field %q: decimal is not supported yet", path)
			}
			return arrow.BinaryTypes.Binary, false, nil
		case avro.Null:
			return nil, false, fmt.Errorf("field %q: a field of type null holds nothing", path)
		}
	}
	return nil, false, fmt.Errorf("field %q: Avro type %s is not supported", path, s.Type())
}

// avroParser reads Avro datums of one record schema.
type avroParser struct {
	schema *avro.RecordSchema
	r      *avro.Reader
}

func newAvroParser(s avro.Schema) *avroParser {
	return &avroParser{schema: s.(*avro.RecordSchema), r: avro.NewReader(nil, 0)}
}

// errAvro is the reason of a datum that does not match the schema.
var errAvro = errors.New("not a valid Avro datum of the schema")

func (p *avroParser) parse(value []byte) (row []any, err error) {
	if value == nil {
		return nil, errors.New("null value (tombstone): no Avro datum to read")
	}
	r := p.r.Reset(value)
	r.Error = nil
	budget := len(value) // no block can have more items than the datum has bytes
	row = make([]any, len(p.schema.Fields()))
	for i, f := range p.schema.Fields() {
		if row[i], err = p.read(f.Name(), f.Type(), &budget); err != nil {
			return nil, err
		}
	}
	if r.Error != nil {
		return nil, fmt.Errorf("%w: %v", errAvro, r.Error)
	}
	r.Peek()
	if r.Error == nil {
		return nil, fmt.Errorf("%w: bytes after the end of the record", errAvro)
	}
	if !errors.Is(r.Error, io.EOF) {
		return nil, fmt.Errorf("%w: %v", errAvro, r.Error)
	}
	return row, nil
}

// read reads one value of schema s (at path) into the intermediate form (values.go).
func (p *avroParser) read(path string, s avro.Schema, budget *int) (any, error) {
	r := p.r
	if r.Error != nil {
		return nil, fmt.Errorf("%w: field %q: %v", errAvro, path, r.Error)
	}
	s = deref(s)
	switch s := s.(type) {
	case *avro.UnionSchema:
		null, typ := s.Indices()
		idx := r.ReadLong()
		switch {
		case r.Error != nil:
			return nil, fmt.Errorf("%w: field %q: %v", errAvro, path, r.Error)
		case idx == int64(null):
			return nil, nil
		case idx == int64(typ):
			return p.read(path, s.Types()[typ], budget)
		}
		return nil, textcodec.FieldError(path, "union branch %d does not exist (the union has 2)", idx)
	case *avro.RecordSchema:
		out := make([]any, len(s.Fields()))
		for i, f := range s.Fields() {
			v, err := p.read(textcodec.JoinPath(path, f.Name()), f.Type(), budget)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *avro.ArraySchema, *avro.MapSchema:
		out := []any{}
		for {
			n, _ := r.ReadBlockHeader()
			if r.Error != nil {
				return nil, fmt.Errorf("%w: field %q: %v", errAvro, path, r.Error)
			}
			if n == 0 {
				return out, nil
			}
			if n < 0 || n > int64(*budget) {
				return nil, textcodec.FieldError(path, "a block of %d items is longer than the record", n)
			}
			*budget -= int(n)
			for range n {
				if as, ok := s.(*avro.ArraySchema); ok {
					v, err := p.read(path+"[]", as.Items(), budget)
					if err != nil {
						return nil, err
					}
					out = append(out, v)
					continue
				}
				k := r.ReadString()
				if !utf8.ValidString(k) {
					return nil, textcodec.FieldError(path, "a map key is not valid UTF-8")
				}
				v, err := p.read(path+"{}", s.(*avro.MapSchema).Values(), budget)
				if err != nil {
					return nil, err
				}
				out = append(out, []any{k, v})
			}
		}
	case *avro.EnumSchema:
		i := r.ReadInt()
		if r.Error != nil {
			return nil, fmt.Errorf("%w: field %q: %v", errAvro, path, r.Error)
		}
		syms := s.Symbols()
		if i < 0 || int(i) >= len(syms) {
			return nil, textcodec.FieldError(path, "enum index %d out of range (%d symbols)", i, len(syms))
		}
		return syms[i], nil
	case *avro.FixedSchema:
		b := make([]byte, s.Size())
		r.Read(b)
		return b, p.check(path)
	case *avro.PrimitiveSchema:
		var v any
		switch s.Type() {
		case avro.Boolean:
			v = r.ReadBool()
		case avro.Int:
			i := r.ReadInt()
			if logicalOf(s) == avro.Date {
				v = i
			} else {
				v = int64(i)
			}
		case avro.Long:
			v = r.ReadLong()
		case avro.Float:
			v = float64(r.ReadFloat())
		case avro.Double:
			v = r.ReadDouble()
		case avro.String:
			str := r.ReadString()
			if r.Error == nil && !utf8.ValidString(str) {
				return nil, textcodec.FieldError(path, "string is not valid UTF-8")
			}
			v = str
		case avro.Bytes:
			v = r.ReadBytes()
		default:
			return nil, textcodec.FieldError(path, "Avro type %s cannot be read", s.Type())
		}
		return v, p.check(path)
	}
	return nil, textcodec.FieldError(path, "Avro type %s cannot be read", s.Type())
}

func (p *avroParser) check(path string) error {
	if p.r.Error != nil {
		return fmt.Errorf("%w: field %q: %v", errAvro, path, p.r.Error)
	}
	return nil
}
