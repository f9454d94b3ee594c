package kafka

import (
	"bytes"

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
	// ValueColumn names the column Raw writes; it may be left out when the
	// schema has one column besides the key.
	ValueColumn string
	// RowsPerRecord bounds the rows in one ArrowIPC record (0: one record
	// per batch).
	RowsPerRecord int
}

// Encoder turns Arrow record batches into Kafka records. It is not safe for
// concurrent use.
type Encoder struct {
	opts   EncoderOptions
	schema *arrow.Schema
	key    int // key column, -1 for none
	value  int // Raw's value column
}

// NewEncoder checks that batches of schema can be written in opts.Format.
func NewEncoder(schema *arrow.Schema, opts EncoderOptions) (*Encoder, error) {
	e := &Encoder{opts: opts, schema: schema, key: -1, value: -1}
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
	case ArrowIPC:
		if e.key >= 0 {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: format \"arrow\" writes many rows per record and cannot take a key column")
		}
		if opts.RowsPerRecord < 0 {
			return nil, rberr.New(rberr.InvalidArgument, "kafka: RowsPerRecord must not be negative")
		}
	default:
		return nil, rberr.New(rberr.InvalidArgument, "kafka: cannot encode format %q (want json, raw or arrow)", opts.Format)
	}
	return e, nil
}

// Encode returns the records for batch, in row order. A value JSON cannot
// hold (NaN, infinity) is an error naming the column and row.
func (e *Encoder) Encode(batch arrow.RecordBatch) ([]*kgo.Record, error) {
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
		}
		if e.key >= 0 {
			k, err := keyBytes(batch.Column(e.key), i)
			if err != nil {
				return nil, rberr.Wrap(rberr.Data, err, "kafka: key column %q row %d", e.opts.KeyColumn, i)
			}
			rec.Key = k
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
