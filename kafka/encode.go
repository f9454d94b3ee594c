package kafka

import (
	"bytes"
	"context"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// EncoderOptions configure NewEncoder.
type EncoderOptions struct {
	// Format of the record values: JSON (one object per row, every column),
	// Raw (the one value column's bytes per row) or ArrowIPC (an IPC stream
	// per batch, or per RowsPerRecord rows).
	Format Format
	// Topic of the records (the producer's default topic when empty).
	Topic string
	// KeyColumn, if set, gives each record its key: the bytes of a binary
	// or string value, the JSON text of any other; null makes no key. Not
	// with ArrowIPC.
	KeyColumn string
	// KeyColumns, if more than one, give each record a key that is a JSON
	// object of those columns (Flink's key.fields with key.format json);
	// one is the same as KeyColumn. Not with ArrowIPC.
	KeyColumns []string
	// KeyType, if set (instead of KeyColumn and KeyColumns), says that each record's
	// key is computed apart from the batch's columns (an expression of them, say):
	// EncodeKeyed takes the keys as an array of this type, written as a KeyColumn
	// would be. Not with ArrowIPC.
	KeyType arrow.DataType
	// PartitionColumns, if set, choose each record's partition: records with
	// equal values in them go to one partition, murmur2 of the values
	// (encoded as a key of those columns would be) modulo the partition
	// count, as the Java client partitions by key. The producer must use
	// ColumnPartitioner. Not with ArrowIPC.
	PartitionColumns []string
	// ValueColumn names the column Raw writes; it may be left out when the
	// schema has one column besides the key.
	ValueColumn string
	// RowsPerRecord bounds the rows in one ArrowIPC record (0: one record
	// per batch).
	RowsPerRecord int
	// AvroSchemaID (format Avro), if not 0, is the registry id of the rows' schema
	// (AvroSchemaOf): each value then has Confluent's wire-format prefix.
	AvroSchemaID int32
	// AvroRegistry (format Avro) is the URL of the schema registry the sink
	// registers the schema with (AvroSchemaID is then set by the sink).
	AvroRegistry string
	// AvroSchema (format Avro), if set, is the writer schema (a record, JSON
	// text) rows are written as, instead of one derived from the columns
	// (encode_avro_schema.go).
	AvroSchema string
	// AvroSubjectStrategy (with AvroRegistry) names the subject the schema is
	// registered under (SubjectName; "": TopicNameStrategy).
	AvroSubjectStrategy string
}

// AvroRecordName is the name of the record schema write_kafka derives from the columns.
const AvroRecordName = "row"

// Encoder turns Arrow record batches into Kafka records. It is not safe for
// concurrent use.
type Encoder struct {
	opts   EncoderOptions
	schema *arrow.Schema
	key    int // key column, -1 for none
	keys   []int
	keyArr bool  // the keys come as an array apart from the batch (KeyType)
	parts  []int // partition columns
	value  int   // Raw's value column
	avro   *avroWriter
}

// columns resolves names to indices of columns a key can be made of.
func (e *Encoder) columns(what string, names []string) ([]int, error) {
	var out []int
	for _, c := range names {
		idx := e.schema.FieldIndices(c)
		if len(idx) != 1 {
			return nil, rberr.New(rberr.ColumnNotFound, "kafka: no %s column %q in %s", what, c, e.schema)
		}
		if err := textcodec.CheckType(c, e.schema.Field(idx[0]).Type, true); err != nil {
			return nil, rberr.Wrap(rberr.Type, err, "kafka: %s", what)
		}
		out = append(out, idx[0])
	}
	return out, nil
}

// keyOf is the key of row i made of columns cols: one column's bytes or JSON
// text (keyBytes), several as a JSON object.
func (e *Encoder) keyOf(batch arrow.RecordBatch, cols []int, i int) ([]byte, error) {
	if len(cols) == 1 {
		return keyBytes(batch.Column(cols[0]), i)
	}
	var buf bytes.Buffer
	buf.WriteByte('{')
	for n, c := range cols {
		if n > 0 {
			buf.WriteByte(',')
		}
		textcodec.WriteJSONString(&buf, e.schema.Field(c).Name)
		buf.WriteByte(':')
		if err := textcodec.WriteJSONValue(&buf, batch.Column(c), i); err != nil {
			return nil, rberr.Wrap(rberr.Data, err, "kafka: column %q row %d", e.schema.Field(c).Name, i)
		}
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// NewEncoder checks that batches of schema can be written in opts.Format.
func NewEncoder(schema *arrow.Schema, opts EncoderOptions) (*Encoder, error) {
	e := &Encoder{opts: opts, schema: schema, key: -1, value: -1}
	if len(opts.KeyColumns) == 1 && opts.KeyColumn == "" {
		opts.KeyColumn, opts.KeyColumns = opts.KeyColumns[0], nil
		e.opts = opts
	}
	if len(opts.KeyColumns) > 1 {
		if opts.KeyColumn != "" {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: give KeyColumn or KeyColumns, not both")
		}
		var err error
		if e.keys, err = e.columns("key", opts.KeyColumns); err != nil {
			return nil, err
		}
		e.key = e.keys[0]
	}
	if len(opts.PartitionColumns) > 0 {
		var err error
		if e.parts, err = e.columns("partition_by", opts.PartitionColumns); err != nil {
			return nil, err
		}
	}
	if opts.KeyColumn != "" {
		idx := schema.FieldIndices(opts.KeyColumn)
		if len(idx) != 1 {
			return nil, rberr.New(rberr.ColumnNotFound, "kafka: no key column %q in %s", opts.KeyColumn, schema)
		}
		e.key = idx[0]
		if err := textcodec.CheckType(opts.KeyColumn, schema.Field(e.key).Type, true); err != nil {
			return nil, rberr.Wrap(rberr.Type, err, "kafka: key")
		}
	}
	if opts.KeyType != nil {
		if opts.KeyColumn != "" || len(opts.KeyColumns) > 0 {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: give key columns or a key type, not both")
		}
		if err := textcodec.CheckType("key", opts.KeyType, true); err != nil {
			return nil, rberr.Wrap(rberr.Type, err, "kafka: key")
		}
		e.keyArr = true
	}
	switch opts.Format {
	case JSON:
		for _, f := range schema.Fields() {
			if err := textcodec.CheckType(f.Name, f.Type, true); err != nil {
				return nil, rberr.Wrap(rberr.Type, err, "kafka: JSON cannot write")
			}
		}
	case Raw:
		if opts.ValueColumn != "" {
			idx := schema.FieldIndices(opts.ValueColumn)
			if len(idx) != 1 {
				return nil, rberr.New(rberr.ColumnNotFound, "kafka: no value column %q in %s", opts.ValueColumn, schema)
			}
			e.value = idx[0]
		} else {
			for i := range schema.NumFields() {
				if i == e.key {
					continue
				}
				if e.value >= 0 {
					return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"raw\" writes one column; name it (the schema has several: %s)", schema)
				}
				e.value = i
			}
			if e.value < 0 {
				return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"raw\" needs a value column")
			}
		}
		switch t := schema.Field(e.value).Type; t.ID() {
		case arrow.BINARY, arrow.LARGE_BINARY, arrow.STRING, arrow.LARGE_STRING:
		default:
			return nil, rberr.New(rberr.Type, "kafka: format \"raw\" writes a binary or string column, %q is %s", schema.Field(e.value).Name, t)
		}
	case Avro:
		var prefix []byte
		if opts.AvroSchemaID != 0 {
			prefix = WireHeader(opts.AvroSchemaID)
		}
		var err error
		if opts.AvroSchema != "" {
			e.avro, err = newSchemaAvroWriter(schema, opts.AvroSchema, prefix)
		} else {
			e.avro, err = newAvroWriter(schema, prefix)
		}
		if err != nil {
			return nil, err
		}
	case ArrowIPC:
		if e.key >= 0 || e.keyArr {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"arrow\" writes many rows per record and cannot take a key")
		}
		if len(e.parts) > 0 {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"arrow\" writes many rows per record and cannot partition them by column")
		}
		if opts.RowsPerRecord < 0 {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: RowsPerRecord must not be negative")
		}
	default:
		return nil, rberr.New(rberr.InvalidArgument, "kafka: cannot encode format %q (want json, avro, raw or arrow)", opts.Format)
	}
	return e, nil
}

// Encode returns the records for batch, in row order. A value JSON cannot
// hold (NaN, infinity) is an error naming the column and row.
func (e *Encoder) Encode(batch arrow.RecordBatch) ([]*kgo.Record, error) {
	if e.keyArr {
		return nil, rberr.New(rberr.Internal, "kafka: the encoder's keys are computed apart (KeyType): call EncodeKeyed")
	}
	return e.encode(batch, nil)
}

// EncodeKeyed is Encode for an encoder with KeyType: keys holds each row's key (a
// null: no key), of KeyType and as long as batch.
func (e *Encoder) EncodeKeyed(batch arrow.RecordBatch, keys arrow.Array) ([]*kgo.Record, error) {
	if !e.keyArr {
		return nil, rberr.New(rberr.Internal, "kafka: the encoder takes no keys apart (no KeyType): call Encode")
	}
	if keys.Len() != int(batch.NumRows()) || !arrow.TypeEqual(keys.DataType(), e.opts.KeyType) {
		return nil, rberr.New(rberr.Internal, "kafka: %d keys of %s for %d rows, want %s", keys.Len(), keys.DataType(), batch.NumRows(), e.opts.KeyType)
	}
	return e.encode(batch, keys)
}

func (e *Encoder) encode(batch arrow.RecordBatch, keys arrow.Array) ([]*kgo.Record, error) {
	if !batch.Schema().Equal(e.schema) {
		return nil, rberr.New(rberr.Schema, "kafka: batch schema %s differs from the encoder's %s", batch.Schema(), e.schema)
	}
	if e.opts.Format == ArrowIPC {
		return e.encodeIPC(batch)
	}
	n := int(batch.NumRows())
	recs := make([]*kgo.Record, n)
	var buf bytes.Buffer
	for i := range n {
		rec := &kgo.Record{Topic: e.opts.Topic}
		switch e.opts.Format {
		case JSON:
			buf.Reset()
			buf.WriteByte('{')
			for c, f := range e.schema.Fields() {
				if c > 0 {
					buf.WriteByte(',')
				}
				textcodec.WriteJSONString(&buf, f.Name)
				buf.WriteByte(':')
				if err := textcodec.WriteJSONValue(&buf, batch.Column(c), i); err != nil {
					return nil, rberr.Wrap(rberr.Data, err, "kafka: column %q row %d", f.Name, i)
				}
			}
			buf.WriteByte('}')
			rec.Value = bytes.Clone(buf.Bytes())
		case Raw:
			rec.Value = rawBytes(batch.Column(e.value), i)
		case Avro:
			v, err := e.avro.row(batch, i)
			if err != nil {
				return nil, err
			}
			rec.Value = v
		}
		switch {
		case keys != nil:
			k, err := keyBytes(keys, i)
			if err != nil {
				return nil, rberr.Wrap(rberr.Data, err, "kafka: key of row %d", i)
			}
			rec.Key = k
		case len(e.keys) > 1:
			k, err := e.keyOf(batch, e.keys, i)
			if err != nil {
				return nil, err
			}
			rec.Key = k
		case e.key >= 0:
			k, err := keyBytes(batch.Column(e.key), i)
			if err != nil {
				return nil, rberr.Wrap(rberr.Data, err, "kafka: key column %q row %d", e.opts.KeyColumn, i)
			}
			rec.Key = k
		}
		if len(e.parts) > 0 {
			p, err := e.keyOf(batch, e.parts, i)
			if err != nil {
				return nil, err
			}
			if p == nil {
				p = []byte("null") // a null value: one partition for all of them
			}
			rec.Context = context.WithValue(context.Background(), partitionBytesKey{}, p)
		}
		recs[i] = rec
	}
	return recs, nil
}

func (e *Encoder) encodeIPC(batch arrow.RecordBatch) ([]*kgo.Record, error) {
	n := batch.NumRows()
	step := int64(e.opts.RowsPerRecord)
	if step == 0 || step > n {
		step = n
	}
	var recs []*kgo.Record
	for lo := int64(0); lo < n || (n == 0 && lo == 0); lo += max(step, 1) {
		hi := min(lo+step, n)
		part := batch.NewSlice(lo, hi)
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(e.schema), ipc.WithAllocator(memory.DefaultAllocator))
		err := w.Write(part)
		part.Release()
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, rberr.Wrap(rberr.Internal, err, "kafka: writing Arrow IPC")
		}
		recs = append(recs, &kgo.Record{Topic: e.opts.Topic, Value: buf.Bytes()})
		if n == 0 {
			break
		}
	}
	return recs, nil
}

func rawBytes(a arrow.Array, i int) []byte {
	if a.IsNull(i) {
		return nil
	}
	switch a := a.(type) {
	case *array.Binary:
		return bytes.Clone(a.Value(i))
	case *array.LargeBinary:
		return bytes.Clone(a.Value(i))
	case *array.String:
		return []byte(a.Value(i))
	case *array.LargeString:
		return []byte(a.Value(i))
	}
	return nil
}

func keyBytes(a arrow.Array, i int) ([]byte, error) {
	if a.IsNull(i) {
		return nil, nil
	}
	switch a.DataType().ID() {
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.STRING, arrow.LARGE_STRING:
		return rawBytes(a, i), nil
	}
	var buf bytes.Buffer
	if err := textcodec.WriteJSONValue(&buf, a, i); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// partitionBytesKey is the record context key of the bytes whose hash chooses a
// record's partition (EncoderOptions.PartitionColumns).
type partitionBytesKey struct{}

// ColumnPartitioner is the producer partitioner of records encoded with
// PartitionColumns: murmur2 of their partition bytes modulo the partition
// count (the Java client's key partitioning), whatever their key. Records
// without partition bytes are partitioned by key, keyless ones spread.
func ColumnPartitioner() kgo.Partitioner { return columnPartitioner{kgo.StickyKeyPartitioner(nil)} }

type columnPartitioner struct{ byKey kgo.Partitioner }

func (p columnPartitioner) ForTopic(t string) kgo.TopicPartitioner {
	return &columnTopicPartitioner{byKey: p.byKey.ForTopic(t), hash: p.byKey.ForTopic(t)}
}

type columnTopicPartitioner struct {
	byKey, hash kgo.TopicPartitioner
}

func partitionBytes(r *kgo.Record) ([]byte, bool) {
	if r.Context == nil {
		return nil, false
	}
	b, ok := r.Context.Value(partitionBytesKey{}).([]byte)
	return b, ok
}

func (p *columnTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	if _, ok := partitionBytes(r); ok {
		return true
	}
	return p.byKey.RequiresConsistency(r)
}

func (p *columnTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if b, ok := partitionBytes(r); ok {
		// A keyed record: the sticky key partitioner hashes its key with murmur2.
		return p.hash.Partition(&kgo.Record{Key: b}, n)
	}
	return p.byKey.Partition(r, n)
}

func (p *columnTopicPartitioner) OnNewBatch() {
	if nb, ok := p.byKey.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

// Sink partitioners, with the names of Flink's sink.partitioner.
const (
	// PartitionDefault partitions by key (murmur2 of the key modulo the partition
	// count, as the Java client), keyless records sticky: a batch at a time to one
	// partition (franz-go's default).
	PartitionDefault = "default"
	// PartitionFixed sends every record of parallel subtask i to partition i modulo
	// the partition count (Flink's FlinkFixedPartitioner).
	PartitionFixed = "fixed"
	// PartitionRoundRobin sends each subtask's records to the partitions in turn,
	// 0, 1, ... n-1, 0, ..., whatever their key.
	PartitionRoundRobin = "round-robin"
)

// SinkPartitioner is the producer partitioner of sink partitioner name for parallel
// subtask subtask, or nil for franz-go's default (PartitionDefault, "").
func SinkPartitioner(name string, subtask int) (kgo.Partitioner, error) {
	switch name {
	case "", PartitionDefault:
		return nil, nil
	case PartitionFixed:
		return kgo.BasicConsistentPartitioner(func(string) func(*kgo.Record, int) int {
			return func(_ *kgo.Record, n int) int { return subtask % n }
		}), nil
	case PartitionRoundRobin:
		return kgo.RoundRobinPartitioner(), nil
	}
	return nil, rberr.New(rberr.InvalidArgument, "kafka: partitioner must be %q, %q or %q, got %q",
		PartitionDefault, PartitionFixed, PartitionRoundRobin, name)
}
