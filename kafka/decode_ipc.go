package kafka

import (
	"bytes"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ipcDecoder reads records that each hold an Arrow IPC stream.
type ipcDecoder struct {
	schema *arrow.Schema
	mem    memory.Allocator
}

// readIPC reads every batch of one record's IPC stream. A damaged stream is
// an error (the IPC reader's panics on hostile input included), never a crash.
func (d *ipcDecoder) readIPC(value []byte) (batches []arrow.RecordBatch, err error) {
	defer func() {
		if r := recover(); r != nil {
			for _, b := range batches {
				b.Release()
			}
			batches = nil
			err = fmt.Errorf("damaged Arrow IPC stream: %v", r)
		}
	}()
	if value == nil {
		return nil, fmt.Errorf("null value (tombstone): no Arrow IPC stream to read")
	}
	r, err := ipc.NewReader(bytes.NewReader(value), ipc.WithAllocator(d.mem))
	if err != nil {
		return nil, fmt.Errorf("not an Arrow IPC stream: %v", err)
	}
	defer r.Release()
	if !r.Schema().Equal(d.schema) {
		return nil, fmt.Errorf("Arrow IPC stream has schema %s, want %s", r.Schema(), d.schema)
	}
	for r.Next() {
		b := r.RecordBatch()
		b.Retain()
		batches = append(batches, b)
	}
	if err := r.Err(); err != nil {
		for _, b := range batches {
			b.Release()
		}
		return nil, fmt.Errorf("damaged Arrow IPC stream: %v", err)
	}
	// Validate the buffers: a stream can be well-formed in its messages
	// and still hold offsets pointing outside its data.
	for _, b := range batches {
		for i, c := range b.Columns() {
			if err := validateArray(c); err != nil {
				for _, b := range batches {
					b.Release()
				}
				return nil, fmt.Errorf("damaged Arrow IPC stream: column %q: %v", d.schema.Field(i).Name, err)
			}
		}
	}
	return batches, nil
}

func validateArray(a arrow.Array) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	if v, ok := a.(interface{ ValidateFull() error }); ok {
		return v.ValidateFull()
	}
	if v, ok := a.(interface{ Validate() error }); ok {
		return v.Validate()
	}
	return nil
}

func (d *ipcDecoder) decode(dd *Decoder, recs []*kgo.Record) (Decoded, error) {
	var (
		bad   []BadRecord
		parts []arrow.RecordBatch
	)
	defer func() {
		for _, p := range parts {
			p.Release()
		}
	}()
	meta := array.NewRecordBuilder(d.mem, arrow.NewSchema(dd.schema.Fields()[dd.nvalue:], nil))
	defer meta.Release()
	var rows int64
	for _, rec := range recs {
		if rec.Attrs.IsControl() {
			continue
		}
		bs, err := d.readIPC(rec.Value)
		if err != nil {
			bad = append(bad, badRecord(rec, err.Error()))
			continue
		}
		n := 0
		for _, b := range bs {
			n += int(b.NumRows())
		}
		parts = append(parts, bs...)
		dd.opts.Metadata.appendMeta(meta.Fields(), rec, n)
		rows += int64(n)
	}
	cols := make([]arrow.Array, 0, dd.schema.NumFields())
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	for i := 0; i < dd.nvalue; i++ {
		if len(parts) == 0 {
			cols = append(cols, array.MakeArrayOfNull(d.mem, d.schema.Field(i).Type, 0))
			continue
		}
		chunks := make([]arrow.Array, len(parts))
		for j, p := range parts {
			chunks[j] = p.Column(i)
		}
		c, err := array.Concatenate(chunks, d.mem)
		if err != nil {
			return Decoded{}, fmt.Errorf("kafka: concatenating Arrow IPC batches: %w", err)
		}
		cols = append(cols, c)
	}
	mb := meta.NewRecordBatch()
	defer mb.Release()
	cols = append(cols, mb.Columns()...)
	for _, c := range mb.Columns() {
		c.Retain()
	}
	return Decoded{Batch: array.NewRecordBatch(dd.schema, cols, rows), Bad: bad}, nil
}
