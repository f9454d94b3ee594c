package kafka

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/hamba/avro/v2"

	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Writing Avro with a writer schema of the user's (EncoderOptions.AvroSchema): the
// columns are matched to the record's fields by name, at any depth, and each value is
// encoded as its field's Avro type says. What the column types can be is checked when
// the encoder is made (so when the plan is bound), building a tree of avroEnc:
//
//	boolean: bool; int: int8..int32, uint8, uint16 (date: date32); long: any integer
//	up to int64/uint32 (timestamp-*/local-timestamp-*: timestamp of that unit);
//	float: float32; double: float32, float64; string and enum: string (an enum
//	symbol not in the schema is an error naming column and row); bytes: binary or
//	string (decimal: decimal128 of the same scale, precision at most the schema's);
//	fixed: fixed_size_binary of its size or binary (decimal: decimal128, as bytes);
//	record: struct (fields by name); array: list; map: map or list of struct<key,
//	value>; union: the column's type picks the first branch that takes it, a null
//	the null branch; a struct with one field per branch, named as read_kafka names
//	them, writes the branch of its set field.
//
// A field without a column of its name is written with its default (a field without
// default is an error); a column that is no field of the schema is an error.

// avroEnc writes the value of row i of arr.
type avroEnc func(w *avro.Writer, arr arrow.Array, i int) error

// newSchemaAvroWriter prepares the writing of rows of schema as datums of Avro record
// schema text.
func newSchemaAvroWriter(schema *arrow.Schema, text string, prefix []byte) (*avroWriter, error) {
	s, err := avro.Parse(text)
	if err != nil {
		return nil, rberr.Wrap(rberr.InvalidArgument, err, "kafka: not a valid Avro schema")
	}
	rs, ok := deref(s).(*avro.RecordSchema)
	if !ok {
		return nil, rberr.New(rberr.InvalidArgument, "kafka: the Avro schema to write must be a record (its fields are the columns), got %s", s.Type())
	}
	fields := make([]arrow.Field, schema.NumFields())
	for i := range fields {
		fields[i] = schema.Field(i)
	}
	enc, err := recordEnc("", rs, fields, "column")
	if err != nil {
		return nil, rberr.Wrap(rberr.Type, err, "kafka: Avro cannot write")
	}
	return &avroWriter{schema: schema, prefix: prefix, w: avro.NewWriter(nil, 256), enc: enc}, nil
}

// recordEnc writes record rs from fields (columns, or the fields of a struct column),
// given as children i of a row: enc is called with the index of the child array.
func recordEnc(path string, rs *avro.RecordSchema, fields []arrow.Field, what string) (func(w *avro.Writer, child func(int) arrow.Array, i int) error, error) {
	byName := map[string]int{}
	for i, f := range fields {
		byName[f.Name] = i
	}
	used := map[string]bool{}
	type part struct {
		col int // -1: the default
		enc avroEnc
		def []byte
	}
	parts := make([]part, len(rs.Fields()))
	for k, f := range rs.Fields() {
		fp := joinAvroPath(path, f.Name())
		c, ok := byName[f.Name()]
		if !ok {
			if !f.HasDefault() {
				return nil, fmt.Errorf("field %q of the Avro schema has no %s of its name and no default", fp, what)
			}
			d, err := encodeDefault(f)
			if err != nil {
				return nil, fmt.Errorf("field %q: its default cannot be written: %v", fp, err)
			}
			parts[k] = part{col: -1, def: d}
			continue
		}
		used[f.Name()] = true
		e, err := schemaEnc(fp, f.Type(), fields[c].Type)
		if err != nil {
			return nil, err
		}
		parts[k] = part{col: c, enc: e}
	}
	for _, f := range fields {
		if !used[f.Name] {
			return nil, fmt.Errorf("%s %q is not a field of the Avro record %s (select the %ss to write)", what, joinAvroPath(path, f.Name), rs.FullName(), what)
		}
	}
	return func(w *avro.Writer, child func(int) arrow.Array, i int) error {
		for _, p := range parts {
			if p.col < 0 {
				_, _ = w.Write(p.def)
				continue
			}
			if err := p.enc(w, child(p.col), i); err != nil {
				return err
			}
		}
		return nil
	}, nil
}

func joinAvroPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// encodeDefault is the binary encoding of field f's default.
func encodeDefault(f *avro.Field) ([]byte, error) {
	s := deref(f.Type())
	var out []byte
	if u, ok := s.(*avro.UnionSchema); ok { // the default is of the first branch
		out = append(out, 0) // branch 0: zigzag 0
		s = deref(u.Types()[0])
	}
	if s.Type() == avro.Null {
		return out, nil
	}
	b, err := avro.Marshal(s, f.Default())
	if err != nil {
		return nil, err
	}
	return append(out, b...), nil
}

func nullErr(path string, i int, s avro.Schema) error {
	return rberr.New(rberr.Data, "kafka: column %q row %d: null, but its Avro type %s has no null", path, i, describe(s))
}

// schemaEnc writes values of Arrow type t as Avro schema s.
func schemaEnc(path string, s avro.Schema, t arrow.DataType) (avroEnc, error) {
	s = deref(s)
	if u, ok := s.(*avro.UnionSchema); ok {
		return unionEnc(path, u, t)
	}
	inner, err := valueEnc(path, s, t)
	if err != nil {
		return nil, err
	}
	return func(w *avro.Writer, arr arrow.Array, i int) error {
		if arr.IsNull(i) {
			return nullErr(path, i, s)
		}
		return inner(w, arr, i)
	}, nil
}

func unionEnc(path string, u *avro.UnionSchema, t arrow.DataType) (avroEnc, error) {
	branches, null := unionBranches(u)
	writeNull := func(w *avro.Writer, i int) error {
		if null < 0 {
			return nullErr(path, i, u)
		}
		w.WriteLong(int64(null))
		return nil
	}
	// A struct of one field per branch, as read_kafka reads a union of several types.
	if st, ok := t.(*arrow.StructType); ok && len(branches) > 1 && st.NumFields() == len(branches) {
		encs := make([]avroEnc, len(branches))
		match := true
		for k, b := range branches {
			if st.Field(k).Name != unionBranchName(u.Types()[b]) {
				match = false
				break
			}
			e, err := valueEnc(joinAvroPath(path, st.Field(k).Name), deref(u.Types()[b]), st.Field(k).Type)
			if err != nil {
				return nil, err
			}
			encs[k] = e
		}
		if match {
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				if arr.IsNull(i) {
					return writeNull(w, i)
				}
				sa := arr.(*array.Struct)
				for k, b := range branches {
					if c := sa.Field(k); !c.IsNull(i) {
						w.WriteLong(int64(b))
						return encs[k](w, c, i)
					}
				}
				return writeNull(w, i)
			}, nil
		}
	}
	var firstErr error
	for _, b := range branches {
		e, err := valueEnc(path, deref(u.Types()[b]), t)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		return func(w *avro.Writer, arr arrow.Array, i int) error {
			if arr.IsNull(i) {
				return writeNull(w, i)
			}
			w.WriteLong(int64(b))
			return e(w, arr, i)
		}, nil
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("column %q: %s cannot be written as the union %s (it has null only)", path, t, describe(u))
	}
	return nil, firstErr
}

func cannot(path string, t arrow.DataType, s avro.Schema, hint string) error {
	if hint != "" {
		hint = " (" + hint + ")"
	}
	return fmt.Errorf("column %q: %s cannot be written as Avro %s%s", path, t, describe(s), hint)
}

// valueEnc writes non-null values of Arrow type t as non-union Avro schema s.
func valueEnc(path string, s avro.Schema, t arrow.DataType) (avroEnc, error) {
	switch s := s.(type) {
	case *avro.RecordSchema:
		st, ok := t.(*arrow.StructType)
		if !ok {
			return nil, cannot(path, t, s, "a record is written from a struct")
		}
		rec, err := recordEnc(path, s, st.Fields(), "struct field")
		if err != nil {
			return nil, err
		}
		return func(w *avro.Writer, arr arrow.Array, i int) error {
			sa := arr.(*array.Struct)
			return rec(w, sa.Field, i)
		}, nil
	case *avro.ArraySchema:
		lt, ok := t.(arrow.ListLikeType)
		if !ok || t.ID() == arrow.MAP {
			return nil, cannot(path, t, s, "an array is written from a list")
		}
		item, err := schemaEnc(path+"[]", s.Items(), lt.Elem())
		if err != nil {
			return nil, err
		}
		return func(w *avro.Writer, arr arrow.Array, i int) error {
			l := arr.(array.ListLike)
			lo, hi := l.ValueOffsets(i)
			if hi > lo {
				w.WriteBlockHeader(hi-lo, -1)
				for j := lo; j < hi; j++ {
					if err := item(w, l.ListValues(), int(j)); err != nil {
						return err
					}
				}
			}
			w.WriteLong(0)
			return nil
		}, nil
	case *avro.MapSchema:
		lt, ok := t.(arrow.ListLikeType)
		var kv *arrow.StructType
		if ok {
			kv, _ = lt.Elem().(*arrow.StructType)
		}
		if kv == nil || kv.NumFields() != 2 || (kv.Field(0).Type.ID() != arrow.STRING && kv.Field(0).Type.ID() != arrow.LARGE_STRING) {
			return nil, cannot(path, t, s, "a map is written from a map of string keys or a list of struct<key: string, value>")
		}
		key, err := schemaEnc(path+"{}", avro.NewPrimitiveSchema(avro.String, nil), kv.Field(0).Type)
		if err != nil {
			return nil, err
		}
		val, err := schemaEnc(path+"{}", s.Values(), kv.Field(1).Type)
		if err != nil {
			return nil, err
		}
		return func(w *avro.Writer, arr arrow.Array, i int) error {
			l := arr.(array.ListLike)
			lo, hi := l.ValueOffsets(i)
			entries := l.ListValues().(*array.Struct)
			if hi > lo {
				w.WriteBlockHeader(hi-lo, -1)
				for j := lo; j < hi; j++ {
					if err := key(w, entries.Field(0), int(j)); err != nil {
						return err
					}
					if err := val(w, entries.Field(1), int(j)); err != nil {
						return err
					}
				}
			}
			w.WriteLong(0)
			return nil
		}, nil
	case *avro.EnumSchema:
		if t.ID() != arrow.STRING && t.ID() != arrow.LARGE_STRING {
			return nil, cannot(path, t, s, "an enum is written from a string")
		}
		idx := map[string]int32{}
		for k, sym := range s.Symbols() {
			idx[sym] = int32(k)
		}
		return func(w *avro.Writer, arr arrow.Array, i int) error {
			v := arr.ValueStr(i)
			if sa, ok := arr.(*array.String); ok {
				v = sa.Value(i)
			}
			k, ok := idx[v]
			if !ok {
				return rberr.New(rberr.Data, "kafka: column %q row %d: %q is not a symbol of the Avro enum %s", path, i, v, s.FullName())
			}
			w.WriteInt(k)
			return nil
		}, nil
	case *avro.FixedSchema:
		if logicalOf(s) == avro.Decimal {
			return decimalEnc(path, s, t, s.Logical(), s.Size())
		}
		switch t := t.(type) {
		case *arrow.FixedSizeBinaryType:
			if t.ByteWidth != s.Size() {
				return nil, cannot(path, t, s, fmt.Sprintf("%d bytes", s.Size()))
			}
		case *arrow.BinaryType:
		default:
			return nil, cannot(path, t, s, "")
		}
		return func(w *avro.Writer, arr arrow.Array, i int) error {
			var b []byte
			switch a := arr.(type) {
			case *array.FixedSizeBinary:
				b = a.Value(i)
			case *array.Binary:
				b = a.Value(i)
			}
			if len(b) != s.Size() {
				return rberr.New(rberr.Data, "kafka: column %q row %d: %d bytes, but the Avro fixed %s has %d", path, i, len(b), s.FullName(), s.Size())
			}
			_, _ = w.Write(b)
			return nil
		}, nil
	case *avro.PrimitiveSchema:
		return primitiveEnc(path, s, t)
	}
	return nil, cannot(path, t, s, "")
}

func primitiveEnc(path string, s *avro.PrimitiveSchema, t arrow.DataType) (avroEnc, error) {
	lt := logicalOf(s)
	switch s.Type() {
	case avro.Boolean:
		if t.ID() == arrow.BOOL {
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteBool(arr.(*array.Boolean).Value(i))
				return nil
			}, nil
		}
	case avro.Int:
		if lt == avro.Date {
			if t.ID() == arrow.DATE32 {
				return func(w *avro.Writer, arr arrow.Array, i int) error {
					w.WriteInt(int32(arr.(*array.Date32).Value(i)))
					return nil
				}, nil
			}
			return nil, cannot(path, t, s, "a date is written from date32")
		}
		switch t.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.UINT8, arrow.UINT16:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteInt(int32(intValue(arr, i)))
				return nil
			}, nil
		}
		if t.ID() == arrow.INT64 || t.ID() == arrow.UINT32 {
			return nil, cannot(path, t, s, "cast it to int32, or use long")
		}
	case avro.Long:
		switch lt {
		case avro.TimestampMillis, avro.TimestampMicros, avro.LocalTimestampMillis, avro.LocalTimestampMicros:
			unit := arrow.Millisecond
			if lt == avro.TimestampMicros || lt == avro.LocalTimestampMicros {
				unit = arrow.Microsecond
			}
			if ts, ok := t.(*arrow.TimestampType); ok && ts.Unit == unit {
				return func(w *avro.Writer, arr arrow.Array, i int) error {
					w.WriteLong(int64(arr.(*array.Timestamp).Value(i)))
					return nil
				}, nil
			}
			return nil, cannot(path, t, s, fmt.Sprintf("cast it to timestamp[%s]", unit))
		case "":
		default:
			return nil, cannot(path, t, s, "")
		}
		switch t.ID() {
		case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteLong(intValue(arr, i))
				return nil
			}, nil
		}
	case avro.Float:
		if t.ID() == arrow.FLOAT32 {
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteFloat(arr.(*array.Float32).Value(i))
				return nil
			}, nil
		}
		if t.ID() == arrow.FLOAT64 {
			return nil, cannot(path, t, s, "cast it to float32, or use double")
		}
	case avro.Double:
		switch t.ID() {
		case arrow.FLOAT32:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteDouble(float64(arr.(*array.Float32).Value(i)))
				return nil
			}, nil
		case arrow.FLOAT64:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteDouble(arr.(*array.Float64).Value(i))
				return nil
			}, nil
		}
	case avro.String:
		switch t.ID() {
		case arrow.STRING:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteString(arr.(*array.String).Value(i))
				return nil
			}, nil
		case arrow.LARGE_STRING:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteString(arr.(*array.LargeString).Value(i))
				return nil
			}, nil
		}
	case avro.Bytes:
		if lt == avro.Decimal {
			return decimalEnc(path, s, t, s.Logical(), 0)
		}
		switch t.ID() {
		case arrow.BINARY:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteBytes(arr.(*array.Binary).Value(i))
				return nil
			}, nil
		case arrow.LARGE_BINARY:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteBytes(arr.(*array.LargeBinary).Value(i))
				return nil
			}, nil
		case arrow.STRING:
			return func(w *avro.Writer, arr arrow.Array, i int) error {
				w.WriteBytes([]byte(arr.(*array.String).Value(i)))
				return nil
			}, nil
		}
	}
	return nil, cannot(path, t, s, "")
}

// intValue is integer row i of arr (an integer array of at most 64 bits, uint64 aside).
func intValue(arr arrow.Array, i int) int64 {
	switch a := arr.(type) {
	case *array.Int8:
		return int64(a.Value(i))
	case *array.Int16:
		return int64(a.Value(i))
	case *array.Int32:
		return int64(a.Value(i))
	case *array.Int64:
		return a.Value(i)
	case *array.Uint8:
		return int64(a.Value(i))
	case *array.Uint16:
		return int64(a.Value(i))
	case *array.Uint32:
		return int64(a.Value(i))
	}
	panic(fmt.Sprintf("kafka: intValue of %s", arr.DataType()))
}

// decimalEnc writes decimal128 values as an Avro decimal on bytes (size 0) or on a
// fixed of size bytes.
func decimalEnc(path string, s avro.Schema, t arrow.DataType, l avro.LogicalSchema, size int) (avroEnc, error) {
	d, _ := l.(*avro.DecimalLogicalSchema)
	dt, ok := t.(*arrow.Decimal128Type)
	if d == nil || !ok || int(dt.Scale) != d.Scale() || int(dt.Precision) > d.Precision() {
		want := "decimal128"
		if d != nil {
			want = fmt.Sprintf("decimal128(%d, %d) or less precise, of scale %d", d.Precision(), d.Scale(), d.Scale())
		}
		return nil, cannot(path, t, s, "cast it to "+want)
	}
	return func(w *avro.Writer, arr arrow.Array, i int) error {
		v := arr.(*array.Decimal128).Value(i).BigInt()
		b := twosComplement(v)
		if size == 0 {
			w.WriteBytes(b)
			return nil
		}
		if len(b) > size {
			return rberr.New(rberr.Data, "kafka: column %q row %d: decimal %s does not fit in %d bytes", path, i, v, size)
		}
		pad := byte(0)
		if v.Sign() < 0 {
			pad = 0xff
		}
		out := make([]byte, size)
		for k := range size - len(b) {
			out[k] = pad
		}
		copy(out[size-len(b):], b)
		_, _ = w.Write(out)
		return nil
	}, nil
}
