package kafka

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/big"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hamba/avro/v2"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Writing Avro: each row is one datum in Avro's binary encoding, of a record schema
// derived from the columns (AvroSchemaOf), the inverse of what the reader makes of an
// Avro schema: bool boolean, int8..int32 and uint8, uint16 int, int64 and uint32 long,
// float32 float, float64 double, string string, binary bytes, date32 date,
// timestamp[ms/us, zone] timestamp-millis/-micros, timestamp[ms/us] without zone
// local-timestamp-*, decimal128(p, s) bytes decimal(p, s), struct record, list array; a
// nullable column ["null", T]. With a schema id (a registry), each value has
// Confluent's 5-byte prefix.

// AvroSchemaOf is the Avro record schema (JSON text) of rows of schema, named name.
func AvroSchemaOf(schema *arrow.Schema, name string) (string, error) {
	fields := make([]any, 0, schema.NumFields())
	for _, f := range schema.Fields() {
		t, err := avroTypeOf(f.Name, name+"_"+f.Name, f.Type, f.Nullable)
		if err != nil {
			return "", rberr.Wrap(rberr.Type, err, "kafka: Avro cannot write")
		}
		fields = append(fields, map[string]any{"name": f.Name, "type": t})
	}
	b, err := json.Marshal(map[string]any{"type": "record", "name": name, "fields": fields})
	if err != nil {
		return "", rberr.Wrap(rberr.Internal, err, "kafka: Avro schema")
	}
	return string(b), nil
}

func avroTypeOf(path, recName string, t arrow.DataType, nullable bool) (any, error) {
	var out any
	switch t := t.(type) {
	case *arrow.BooleanType:
		out = "boolean"
	case *arrow.Int8Type, *arrow.Int16Type, *arrow.Int32Type, *arrow.Uint8Type, *arrow.Uint16Type:
		out = "int"
	case *arrow.Int64Type, *arrow.Uint32Type:
		out = "long"
	case *arrow.Float32Type:
		out = "float"
	case *arrow.Float64Type:
		out = "double"
	case *arrow.StringType, *arrow.LargeStringType:
		out = "string"
	case *arrow.BinaryType, *arrow.LargeBinaryType:
		out = "bytes"
	case *arrow.Date32Type:
		out = map[string]any{"type": "int", "logicalType": "date"}
	case *arrow.TimestampType:
		var lt string
		switch t.Unit {
		case arrow.Millisecond:
			lt = "timestamp-millis"
		case arrow.Microsecond:
			lt = "timestamp-micros"
		default:
			return nil, fmt.Errorf("column %q: %s (Avro has timestamps in ms or us; cast it)", path, t)
		}
		if t.TimeZone == "" {
			lt = "local-" + lt
		}
		out = map[string]any{"type": "long", "logicalType": lt}
	case *arrow.Decimal128Type:
		out = map[string]any{"type": "bytes", "logicalType": "decimal", "precision": t.Precision, "scale": t.Scale}
	case *arrow.StructType:
		var fs []any
		for _, f := range t.Fields() {
			ft, err := avroTypeOf(path+"."+f.Name, recName+"_"+f.Name, f.Type, f.Nullable)
			if err != nil {
				return nil, err
			}
			fs = append(fs, map[string]any{"name": f.Name, "type": ft})
		}
		out = map[string]any{"type": "record", "name": recName, "fields": fs}
	case *arrow.ListType:
		it, err := avroTypeOf(path+"[]", recName, t.Elem(), t.ElemField().Nullable)
		if err != nil {
			return nil, err
		}
		out = map[string]any{"type": "array", "items": it}
	case *arrow.LargeListType:
		it, err := avroTypeOf(path+"[]", recName, t.Elem(), t.ElemField().Nullable)
		if err != nil {
			return nil, err
		}
		out = map[string]any{"type": "array", "items": it}
	default:
		return nil, fmt.Errorf("column %q: type %s has no Avro form here", path, t)
	}
	if nullable {
		return []any{"null", out}, nil
	}
	return out, nil
}

// avroWriter writes rows of one schema as Avro datums.
type avroWriter struct {
	schema *arrow.Schema
	prefix []byte // the registry's wire-format header, or nil
	w      *avro.Writer
	// enc, if set, writes a row by a writer schema of the user's (encode_avro_schema.go).
	enc func(w *avro.Writer, child func(int) arrow.Array, i int) error
}

func newAvroWriter(schema *arrow.Schema, prefix []byte) (*avroWriter, error) {
	if _, err := AvroSchemaOf(schema, "row"); err != nil {
		return nil, err
	}
	return &avroWriter{schema: schema, prefix: prefix, w: avro.NewWriter(nil, 256)}, nil
}

// row is the datum of row i.
func (a *avroWriter) row(batch arrow.RecordBatch, i int) ([]byte, error) {
	a.w.Reset(nil)
	if a.prefix != nil {
		_, _ = a.w.Write(a.prefix)
	}
	if a.enc != nil {
		if err := a.enc(a.w, batch.Column, i); err != nil {
			return nil, err
		}
		return bytes.Clone(a.w.Buffer()), nil
	}
	for c, f := range a.schema.Fields() {
		if err := a.value(f.Name, batch.Column(c), i, f.Nullable); err != nil {
			return nil, err
		}
	}
	return bytes.Clone(a.w.Buffer()), nil
}

func (a *avroWriter) value(path string, arr arrow.Array, i int, nullable bool) error {
	w := a.w
	if nullable {
		if arr.IsNull(i) {
			w.WriteLong(0)
			return nil
		}
		w.WriteLong(1)
	} else if arr.IsNull(i) {
		return rberr.New(rberr.Data, "kafka: column %q row %d: null in a non-nullable column", path, i)
	}
	switch arr := arr.(type) {
	case *array.Boolean:
		w.WriteBool(arr.Value(i))
	case *array.Int8:
		w.WriteInt(int32(arr.Value(i)))
	case *array.Int16:
		w.WriteInt(int32(arr.Value(i)))
	case *array.Int32:
		w.WriteInt(arr.Value(i))
	case *array.Uint8:
		w.WriteInt(int32(arr.Value(i)))
	case *array.Uint16:
		w.WriteInt(int32(arr.Value(i)))
	case *array.Int64:
		w.WriteLong(arr.Value(i))
	case *array.Uint32:
		w.WriteLong(int64(arr.Value(i)))
	case *array.Float32:
		w.WriteFloat(arr.Value(i))
	case *array.Float64:
		w.WriteDouble(arr.Value(i))
	case *array.String:
		w.WriteString(arr.Value(i))
	case *array.LargeString:
		w.WriteString(arr.Value(i))
	case *array.Binary:
		w.WriteBytes(arr.Value(i))
	case *array.LargeBinary:
		w.WriteBytes(arr.Value(i))
	case *array.Date32:
		w.WriteInt(int32(arr.Value(i)))
	case *array.Timestamp:
		w.WriteLong(int64(arr.Value(i)))
	case *array.Decimal128:
		w.WriteBytes(twosComplement(arr.Value(i).BigInt()))
	case *array.Struct:
		st := arr.DataType().(*arrow.StructType)
		for f := range st.NumFields() {
			if err := a.value(path+"."+st.Field(f).Name, arr.Field(f), i, st.Field(f).Nullable); err != nil {
				return err
			}
		}
	case array.ListLike:
		lo, hi := arr.ValueOffsets(i)
		elem := arr.ListValues()
		nullable := arr.DataType().(arrow.ListLikeType).ElemField().Nullable
		if hi > lo {
			w.WriteBlockHeader(hi-lo, -1)
			for j := lo; j < hi; j++ {
				if err := a.value(path+"[]", elem, int(j), nullable); err != nil {
					return err
				}
			}
		}
		w.WriteLong(0)
	default:
		return rberr.New(rberr.Type, "kafka: column %q: type %s has no Avro form here", path, arr.DataType())
	}
	return nil
}

// twosComplement is v as Avro's decimal bytes: the shortest big-endian two's complement.
func twosComplement(v *big.Int) []byte {
	if v.Sign() >= 0 {
		b := v.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	n := (new(big.Int).Not(v).BitLen() + 8) / 8 // bytes holding v with its sign bit
	m := new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), uint(8*n)), v)
	b := m.Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	return b
}
