package kafka

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// Format names a record value encoding.
type Format string

const (
	// JSON is one JSON object per record, read against a given Arrow schema.
	JSON Format = "json"
	// CSV is one CSV row per record, read against a given Arrow schema.
	CSV Format = "csv"
	// Raw is the record value as it is: one column of type binary or string
	// (the schema's single field; binary "value" when no schema is given).
	Raw Format = "raw"
	// ArrowIPC is an Arrow IPC stream (schema message and record batches) per
	// record, all with the given schema.
	ArrowIPC Format = "arrow"
	// Avro is one binary-encoded Avro datum per record, of a given writer schema
	// whose top level is a record (see decode_avro.go).
	Avro Format = "avro"
)

// Metadata names the Kafka metadata columns a decoder appends after the value
// columns; an empty name leaves that column out.
type Metadata struct {
	Key       string // binary, null for a record without a key
	Headers   string // list<struct<key: string, value: binary>>, in record order
	Topic     string // string
	Partition string // int32
	Offset    string // int64
	Timestamp string // timestamp[ms, UTC]: the record's Kafka timestamp
}

// AllMetadata is Metadata with every column under its default name.
var AllMetadata = Metadata{
	Key: "kafka_key", Headers: "kafka_headers", Topic: "kafka_topic",
	Partition: "kafka_partition", Offset: "kafka_offset", Timestamp: "kafka_timestamp",
}

// HeaderType is the type of the headers metadata column.
var HeaderType = arrow.ListOf(arrow.StructOf(
	arrow.Field{Name: "key", Type: arrow.BinaryTypes.String},
	arrow.Field{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true},
))

// KafkaTimestampType is the type of the timestamp metadata column.
var KafkaTimestampType = &arrow.TimestampType{Unit: arrow.Millisecond, TimeZone: "UTC"}

func (m Metadata) fields() []arrow.Field {
	var fs []arrow.Field
	add := func(name string, t arrow.DataType, nullable bool) {
		if name != "" {
			fs = append(fs, arrow.Field{Name: name, Type: t, Nullable: nullable})
		}
	}
	add(m.Key, arrow.BinaryTypes.Binary, true)
	add(m.Headers, HeaderType, false)
	add(m.Topic, arrow.BinaryTypes.String, false)
	add(m.Partition, arrow.PrimitiveTypes.Int32, false)
	add(m.Offset, arrow.PrimitiveTypes.Int64, false)
	add(m.Timestamp, KafkaTimestampType, false)
	return fs
}

// appendMeta appends rec's metadata n times to the metadata builders bs (in
// the order of m.fields()).
func (m Metadata) appendMeta(bs []array.Builder, rec *kgo.Record, n int) {
	i := 0
	next := func() array.Builder { b := bs[i]; i++; return b }
	if m.Key != "" {
		b := next().(*array.BinaryBuilder)
		for range n {
			if rec.Key == nil {
				b.AppendNull()
			} else {
				b.Append(rec.Key)
			}
		}
	}
	if m.Headers != "" {
		b := next().(*array.ListBuilder)
		sb := b.ValueBuilder().(*array.StructBuilder)
		kb := sb.FieldBuilder(0).(*array.StringBuilder)
		vb := sb.FieldBuilder(1).(*array.BinaryBuilder)
		for range n {
			b.Append(true)
			for _, h := range rec.Headers {
				sb.Append(true)
				kb.Append(h.Key)
				if h.Value == nil {
					vb.AppendNull()
				} else {
					vb.Append(h.Value)
				}
			}
		}
	}
	if m.Topic != "" {
		b := next().(*array.StringBuilder)
		for range n {
			b.Append(rec.Topic)
		}
	}
	if m.Partition != "" {
		b := next().(*array.Int32Builder)
		for range n {
			b.Append(rec.Partition)
		}
	}
	if m.Offset != "" {
		b := next().(*array.Int64Builder)
		for range n {
			b.Append(rec.Offset)
		}
	}
	if m.Timestamp != "" {
		b := next().(*array.TimestampBuilder)
		ms := rec.Timestamp.UnixMilli()
		for range n {
			b.Append(arrow.Timestamp(ms))
		}
	}
}

// BadRecord is a record that could not be decoded. It keeps the raw bytes so
// it can be written to a dead-letter output as it came.
type BadRecord struct {
	Topic     string
	Partition int32
	Offset    int64
	Timestamp int64 // Kafka timestamp, milliseconds since the epoch
	Key       []byte
	Value     []byte
	Headers   []kgo.RecordHeader
	// Reason says what is wrong, naming the field where there is one.
	Reason string
}

// Err is the error that fails a job on a bad record (kind Data); it names the
// topic, partition and offset.
func (b BadRecord) Err() error {
	return rberr.New(rberr.Data, "kafka topic %q partition %d offset %d: %s", b.Topic, b.Partition, b.Offset, b.Reason)
}

func badRecord(rec *kgo.Record, reason string) BadRecord {
	return BadRecord{
		Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Timestamp: rec.Timestamp.UnixMilli(), Key: rec.Key, Value: rec.Value,
		Headers: rec.Headers, Reason: reason,
	}
}

// Decoded is the result of decoding a slice of records: a batch of the good
// rows (in record order; possibly empty, never nil; the caller releases it)
// and every record that could not be decoded.
type Decoded struct {
	Batch arrow.RecordBatch
	Bad   []BadRecord
}

// DecoderOptions configure NewDecoder.
type DecoderOptions struct {
	Format Format
	// Schema is the schema of the value columns. Required for JSON, CSV and
	// ArrowIPC; for Raw a single binary or string field (default: binary
	// "value").
	Schema *arrow.Schema
	// Metadata columns to append after the value columns.
	Metadata Metadata
	// AvroSchema is the Avro writer schema (JSON text) of format Avro; Schema is
	// then derived from it (AvroSchema) and must be left nil.
	AvroSchema string
	// SchemaRegistry (format Avro): the URL of a Confluent schema registry. Each value
	// is then in its wire format (a 0 byte, a 4-byte schema id, the datum) and read
	// with the schema the id names, into the columns of AvroSchema (the reader
	// schema): fields matched by name, missing ones null (registry.go).
	SchemaRegistry string
	// AvroWriterSchema (format Avro, without SchemaRegistry): the Avro schema the values
	// were written with, when it differs from AvroSchema (then the reader schema); each
	// datum is read with it and resolved into the reader's (resolve_avro.go).
	AvroWriterSchema string
	// CSVDelimiter separates CSV fields (default ',').
	CSVDelimiter rune
	// UpsertKeys, if set, read the records as Flink's upsert-kafka source does: each
	// record is an upsert of its key, and one with a null value (a tombstone) a delete of
	// it. The value columns named are the key columns: a tombstone's row holds them, read
	// from the record key as the upsert sink writes it (one column: its text, or its
	// bytes, or its JSON text if it is neither; several: a JSON object), and nulls in
	// every other value column. The decoded batches then end with the string column
	// UpsertOpColumn: "+U" for an upsert, "-D" for a tombstone.
	UpsertKeys     []string
	UpsertOpColumn string
	// Mem allocates the batches (default: the Go allocator).
	Mem memory.Allocator
}

// Decoder turns Kafka records into Arrow record batches. A Decoder is not
// safe for concurrent use.
type Decoder struct {
	opts   DecoderOptions
	schema *arrow.Schema // value columns then metadata columns
	nvalue int           // number of value columns
	parse  func(value []byte) ([]any, error)
	// flat reads the commonest JSON objects of a schema of scalar columns straight into
	// the builders; a record it cannot read goes to parse
	flat *textcodec.JSONFlatReader
	ipc  *ipcDecoder
	// upsert reading (UpsertKeys): the key columns' places among the value columns and
	// the reader of a tombstone's key
	keyIdx   []int
	keyParse func(key []byte) ([]any, error)
}

// NewDecoder checks opts and returns a decoder. Errors are InvalidArgument
// (bad options) or Type (a field type the format cannot produce).
func NewDecoder(opts DecoderOptions) (*Decoder, error) {
	if opts.Mem == nil {
		opts.Mem = memory.DefaultAllocator
	}
	if opts.CSVDelimiter == 0 {
		opts.CSVDelimiter = ','
	}
	d := &Decoder{opts: opts}
	switch opts.Format {
	case JSON, CSV:
		if opts.Schema == nil || opts.Schema.NumFields() == 0 {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format %q needs a schema with at least one field", opts.Format)
		}
		for _, f := range opts.Schema.Fields() {
			if err := textcodec.CheckType(f.Name, f.Type, opts.Format == JSON); err != nil {
				return nil, rberr.Wrap(rberr.Type, err, "kafka: format %q cannot read", opts.Format)
			}
		}
		if opts.Format == JSON {
			d.parse = textcodec.NewJSONRowParser(opts.Schema).Parse
			d.flat = textcodec.NewJSONFlatReader(opts.Schema)
		} else {
			if !textcodec.ValidDelimiter(opts.CSVDelimiter) {
				return nil, rberr.New(rberr.InvalidArgument, "kafka: CSV delimiter %q is not allowed", opts.CSVDelimiter)
			}
			d.parse = func(v []byte) ([]any, error) { return textcodec.ParseCSVRow(opts.Schema, opts.CSVDelimiter, v) }
		}
	case Raw:
		if opts.Schema == nil {
			opts.Schema = arrow.NewSchema([]arrow.Field{{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true}}, nil)
			d.opts.Schema = opts.Schema
		}
		if opts.Schema.NumFields() != 1 {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"raw\" reads one column, the schema has %d", opts.Schema.NumFields())
		}
		f := opts.Schema.Field(0)
		switch f.Type.ID() {
		case arrow.BINARY, arrow.LARGE_BINARY:
			d.parse = func(v []byte) ([]any, error) {
				if v == nil {
					return []any{nil}, nil
				}
				return []any{v}, nil
			}
		case arrow.STRING, arrow.LARGE_STRING:
			d.parse = func(v []byte) ([]any, error) {
				if v == nil {
					return []any{nil}, nil
				}
				if !utf8.Valid(v) {
					return nil, textcodec.FieldError(f.Name, "value is not valid UTF-8")
				}
				return []any{string(v)}, nil
			}
		default:
			return nil, rberr.New(rberr.Type, "kafka: format \"raw\" reads binary or string, not %s (field %q)", f.Type, f.Name)
		}
		if !f.Nullable {
			inner := d.parse
			d.parse = func(v []byte) ([]any, error) {
				if v == nil {
					return nil, textcodec.FieldError(f.Name, "null value (tombstone) for a non-nullable column")
				}
				return inner(v)
			}
		}
	case Avro:
		if opts.AvroSchema == "" {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"avro\" needs the Avro schema of the records")
		}
		as, schema, err := AvroSchema(opts.AvroSchema)
		if err != nil {
			return nil, err
		}
		if opts.Schema != nil && !opts.Schema.Equal(schema) {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"avro\" takes its columns from the Avro schema, not from another schema")
		}
		opts.Schema, d.opts.Schema = schema, schema
		switch {
		case opts.SchemaRegistry != "" && opts.AvroWriterSchema != "":
			return nil, rberr.New(rberr.InvalidArgument, "kafka: with a schema registry the writer schema of each record is the one its id names: give no writer schema")
		case opts.SchemaRegistry != "":
			if d.parse, err = avroRegistryParser(opts.SchemaRegistry, as); err != nil {
				return nil, err
			}
		case opts.AvroWriterSchema != "":
			if d.parse, err = AvroWriterParser(opts.AvroWriterSchema, as); err != nil {
				return nil, err
			}
		default:
			d.parse = newAvroParser(as).parse
		}
	case ArrowIPC:
		if opts.Schema == nil {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"arrow\" needs the schema the records carry")
		}
		d.ipc = &ipcDecoder{schema: opts.Schema, mem: opts.Mem}
	default:
		return nil, rberr.New(rberr.InvalidArgument, "kafka: unknown format %q (want json, csv, raw, arrow or avro)", opts.Format)
	}
	fields := append([]arrow.Field{}, opts.Schema.Fields()...)
	seen := map[string]bool{}
	for _, f := range fields {
		seen[f.Name] = true
	}
	for _, f := range opts.Metadata.fields() {
		if seen[f.Name] {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: metadata column %q has the name of another column", f.Name)
		}
		seen[f.Name] = true
		fields = append(fields, f)
	}
	d.nvalue = opts.Schema.NumFields()
	if len(opts.UpsertKeys) > 0 {
		if err := d.upsertKeys(opts, seen); err != nil {
			return nil, err
		}
		fields = append(fields, arrow.Field{Name: opts.UpsertOpColumn, Type: arrow.BinaryTypes.String})
	}
	d.schema = arrow.NewSchema(fields, nil)
	return d, nil
}

// upsertKeys sets up upsert reading (DecoderOptions.UpsertKeys): the key columns and the
// reader of tombstone keys. seen holds the names of the columns before the op column.
func (d *Decoder) upsertKeys(opts DecoderOptions, seen map[string]bool) error {
	if opts.Format == ArrowIPC {
		return rberr.New(rberr.InvalidArgument, "kafka: upsert reading takes format json, csv, raw or avro, not %q", opts.Format)
	}
	if opts.UpsertOpColumn == "" || seen[opts.UpsertOpColumn] {
		return rberr.New(rberr.InvalidArgument, "kafka: upsert reading needs an op column name that no other column has, got %q", opts.UpsertOpColumn)
	}
	var keyFields []arrow.Field
	for _, k := range opts.UpsertKeys {
		idx := opts.Schema.FieldIndices(k)
		if len(idx) != 1 {
			return rberr.New(rberr.InvalidArgument, "kafka: the key column %q is not a value column", k)
		}
		f := opts.Schema.Field(idx[0])
		if err := textcodec.CheckType(f.Name, f.Type, true); err != nil {
			return rberr.Wrap(rberr.Type, err, "kafka: the record key cannot be read")
		}
		f.Nullable = true
		d.keyIdx = append(d.keyIdx, idx[0])
		keyFields = append(keyFields, f)
	}
	keySchema := arrow.NewSchema(keyFields, nil)
	obj := textcodec.NewJSONRowParser(keySchema)
	if len(keyFields) > 1 {
		d.keyParse = obj.Parse
		return nil
	}
	f := keyFields[0]
	switch f.Type.ID() {
	case arrow.BINARY, arrow.LARGE_BINARY:
		d.keyParse = func(k []byte) ([]any, error) { return []any{append([]byte(nil), k...)}, nil }
	case arrow.STRING, arrow.LARGE_STRING:
		d.keyParse = func(k []byte) ([]any, error) {
			if !utf8.Valid(k) {
				return nil, textcodec.FieldError(f.Name, "the record key is not valid UTF-8")
			}
			return []any{string(k)}, nil
		}
	default: // the key is the column's JSON text
		name, err := json.Marshal(f.Name)
		if err != nil {
			return rberr.Wrap(rberr.Internal, err, "kafka: key column %q", f.Name)
		}
		d.keyParse = func(k []byte) ([]any, error) {
			doc := make([]byte, 0, len(name)+len(k)+3)
			doc = append(append(append(append(doc, '{'), name...), ':'), k...)
			row, err := obj.Parse(append(doc, '}'))
			if err != nil {
				return nil, fmt.Errorf("%q is not the JSON text of a %s (the key column %q)", k, f.Type, f.Name)
			}
			return row, nil
		}
	}
	return nil
}

// tombstone is the row of a tombstone in upsert reading: its key columns from the record
// key, nulls elsewhere.
func (d *Decoder) tombstone(rec *kgo.Record) ([]any, error) {
	if rec.Key == nil {
		return nil, errors.New("a tombstone (null value) without a key: it deletes nothing")
	}
	keys, err := d.keyParse(rec.Key)
	if err != nil {
		return nil, fmt.Errorf("record key: %w", err)
	}
	row := make([]any, d.nvalue)
	for i, at := range d.keyIdx {
		row[at] = keys[i]
	}
	return row, nil
}

// Schema is the schema of the decoded batches: the value columns, then the
// metadata columns.
func (d *Decoder) Schema() *arrow.Schema { return d.schema }

// Decode decodes recs (control records are skipped). Records that cannot be
// decoded are returned in Bad, never dropped; the batch holds all the others.
func (d *Decoder) Decode(recs []*kgo.Record) (Decoded, error) {
	if d.ipc != nil {
		return d.ipc.decode(d, recs)
	}
	b := array.NewRecordBuilder(d.opts.Mem, d.schema)
	defer b.Release()
	bs := b.Fields()
	b.Reserve(len(recs))
	if d.flat != nil {
		d.flat.Reserve(bs[:d.nvalue], len(recs))
	}
	var bad []BadRecord
	for _, rec := range recs {
		if rec.Attrs.IsControl() {
			continue
		}
		if d.flat != nil && d.flat.Read(rec.Value) {
			d.flat.Append(bs[:d.nvalue])
		} else {
			var row []any
			var err error
			if d.keyIdx != nil && rec.Value == nil {
				row, err = d.tombstone(rec)
			} else {
				row, err = d.parse(rec.Value)
			}
			if err != nil {
				var fatal registryFatal
				if errors.As(err, &fatal) {
					return Decoded{}, fatal.err
				}
				bad = append(bad, badRecord(rec, err.Error()))
				continue
			}
			for i, v := range row {
				textcodec.AppendValue(bs[i], v)
			}
		}
		d.opts.Metadata.appendMeta(bs[d.nvalue:], rec, 1)
		if d.keyIdx != nil {
			op := "+U"
			if rec.Value == nil {
				op = "-D"
			}
			bs[len(bs)-1].(*array.StringBuilder).Append(op)
		}
	}
	return Decoded{Batch: b.NewRecordBatch(), Bad: bad}, nil
}
