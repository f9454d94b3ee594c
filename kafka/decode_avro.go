package kafka

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
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
//	long local-timestamp-millis/-micros timestamp[ms/us] (no zone), string uuid string,
//	bytes or fixed decimal(p, s) decimal128(p, s) (exact; p up to 38),
//	a union of several non-null types a struct with one nullable field per branch,
//	named by the branch's type (see unionBranchName), the datum's branch set and the
//	others null; the struct itself is null for the union's null branch.
//
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
	open := map[string]bool{rs.FullName(): true}
	for _, f := range rs.Fields() {
		t, nullable, err := avroArrowIn(f.Name(), f.Type(), open)
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
	return avroArrowIn(path, s, map[string]bool{})
}

// avroArrowIn is avroArrow inside the records named in open: a record that holds itself
// (a linked list, a tree) has no Arrow type, which cannot nest without end.
func avroArrowIn(path string, s avro.Schema, open map[string]bool) (arrow.DataType, bool, error) {
	s = deref(s)
	switch s := s.(type) {
	case *avro.UnionSchema:
		branches, null := unionBranches(s)
		if len(branches) == 0 {
			return nil, false, fmt.Errorf("field %q: a union of null only holds nothing", path)
		}
		if len(branches) == 1 {
			t, nullable, err := avroArrowIn(path, s.Types()[branches[0]], open)
			return t, nullable || null >= 0, err
		}
		// Several types: a struct with one nullable field per type, named by it, of
		// which the one of the datum's branch is set.
		fs := make([]arrow.Field, len(branches))
		seen := map[string]bool{}
		for i, b := range branches {
			name := unionBranchName(s.Types()[b])
			if seen[name] {
				return nil, false, fmt.Errorf("field %q: two branches of the union are named %q", path, name)
			}
			seen[name] = true
			t, _, err := avroArrowIn(textcodec.JoinPath(path, name), s.Types()[b], open)
			if err != nil {
				return nil, false, err
			}
			fs[i] = arrow.Field{Name: name, Type: t, Nullable: true}
		}
		return arrow.StructOf(fs...), null >= 0, nil
	case *avro.RecordSchema:
		if open[s.FullName()] {
			return nil, false, fmt.Errorf("field %q: record %s holds itself, which no Arrow type can (a recursive Avro type cannot be a column)", path, s.FullName())
		}
		open[s.FullName()] = true
		defer delete(open, s.FullName())
		var fs []arrow.Field
		for _, f := range s.Fields() {
			t, nullable, err := avroArrowIn(textcodec.JoinPath(path, f.Name()), f.Type(), open)
			if err != nil {
				return nil, false, err
			}
			fs = append(fs, arrow.Field{Name: f.Name(), Type: t, Nullable: nullable})
		}
		return arrow.StructOf(fs...), false, nil
	case *avro.ArraySchema:
		t, nullable, err := avroArrowIn(path+"[]", s.Items(), open)
		if err != nil {
			return nil, false, err
		}
		return arrow.ListOfField(arrow.Field{Name: "item", Type: t, Nullable: nullable}), false, nil
	case *avro.MapSchema:
		t, nullable, err := avroArrowIn(path+"{}", s.Values(), open)
		if err != nil {
			return nil, false, err
		}
		return arrow.ListOf(arrow.StructOf(arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
			arrow.Field{Name: "value", Type: t, Nullable: nullable})), false, nil
	case *avro.EnumSchema:
		return arrow.BinaryTypes.String, false, nil
	case *avro.FixedSchema:
		switch lt := logicalOf(s); lt {
		case "":
		case avro.Decimal:
			return decimalType(path, s.Logical())
		default:
			return nil, false, fmt.Errorf("field %q: fixed with logical type %s is not supported", path, lt)
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
				return decimalType(path, s.Logical())
			}
			return arrow.BinaryTypes.Binary, false, nil
		case avro.Null:
			return nil, false, fmt.Errorf("field %q: a field of type null holds nothing", path)
		}
	}
	return nil, false, fmt.Errorf("field %q: Avro type %s is not supported", path, s.Type())
}

// unionBranches are the indices of the non-null branches of union s, and the index
// of its null branch (-1 if none).
func unionBranches(s *avro.UnionSchema) (branches []int, null int) {
	null = -1
	for i, t := range s.Types() {
		if t.Type() == avro.Null {
			null = i
		} else {
			branches = append(branches, i)
		}
	}
	return branches, null
}

// unionBranchName names the struct field of a union branch: a named type (record,
// enum, fixed) by its name, others by their logical type if any ("timestamp-millis"),
// else by their type ("long", "string", "array", "map").
func unionBranchName(s avro.Schema) string {
	s = deref(s)
	if n, ok := s.(avro.NamedSchema); ok {
		return n.Name()
	}
	if lt := logicalOf(s); lt != "" {
		return string(lt)
	}
	return string(s.Type())
}

// decimalType is the Arrow type of an Avro decimal: decimal128 with its precision and
// scale.
func decimalType(path string, l avro.LogicalSchema) (arrow.DataType, bool, error) {
	d, ok := l.(*avro.DecimalLogicalSchema)
	if !ok {
		return nil, false, fmt.Errorf("field %q: malformed decimal logical type", path)
	}
	if d.Precision() < 1 || d.Precision() > 38 || d.Scale() < 0 || d.Scale() > d.Precision() {
		return nil, false, fmt.Errorf("field %q: decimal(%d, %d) is not supported (precision 1 to 38, scale 0 to precision)", path, d.Precision(), d.Scale())
	}
	return &arrow.Decimal128Type{Precision: int32(d.Precision()), Scale: int32(d.Scale())}, false, nil
}

// readDecimal is the decimal of b, a big-endian two's-complement unscaled integer, in
// the intermediate form (decimal128.Num), checked against the precision.
func readDecimal(path string, b []byte, l avro.LogicalSchema) (any, error) {
	d := l.(*avro.DecimalLogicalSchema)
	if len(b) == 0 {
		return nil, textcodec.FieldError(path, "a decimal of no bytes")
	}
	v := new(big.Int).SetBytes(b)
	if b[0]&0x80 != 0 { // negative: two's complement
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	if v.BitLen() > 127 {
		return nil, textcodec.FieldError(path, "decimal %s does not fit in precision %d", v, d.Precision())
	}
	n := decimal128.FromBigInt(v)
	if !n.FitsInPrecision(int32(d.Precision())) {
		return nil, textcodec.FieldError(path, "decimal %s (unscaled) does not fit in precision %d", v, d.Precision())
	}
	return n, nil
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
		idx := r.ReadLong()
		types := s.Types()
		switch {
		case r.Error != nil:
			return nil, fmt.Errorf("%w: field %q: %v", errAvro, path, r.Error)
		case idx < 0 || idx >= int64(len(types)):
			return nil, textcodec.FieldError(path, "union branch %d does not exist (the union has %d)", idx, len(types))
		case types[idx].Type() == avro.Null:
			return nil, nil
		}
		branches, _ := unionBranches(s)
		if len(branches) == 1 {
			return p.read(path, types[idx], budget)
		}
		out := make([]any, len(branches))
		for i, b := range branches {
			if int64(b) == idx {
				v, err := p.read(textcodec.JoinPath(path, unionBranchName(types[b])), types[b], budget)
				if err != nil {
					return nil, err
				}
				out[i] = v
			}
		}
		return out, nil
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
		if err := p.check(path); err != nil {
			return nil, err
		}
		if logicalOf(s) == avro.Decimal {
			return readDecimal(path, b, s.Logical())
		}
		return b, nil
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
			b := r.ReadBytes()
			if logicalOf(s) == avro.Decimal {
				if err := p.check(path); err != nil {
					return nil, err
				}
				return readDecimal(path, b, s.Logical())
			}
			v = b
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
