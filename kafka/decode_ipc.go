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
	if err := checkIPCStream(value); err != nil {
		return nil, fmt.Errorf("not an Arrow IPC stream: %v", err)
	}
	limit := int64(len(value))
	// No message of the stream can be larger than the stream. (ipc.NewReader
	// drops these limits; a message reader keeps them.)
	// The reader allocates from Go's garbage-collected allocator, never
	// from d.mem: when arrow-go panics on a damaged stream it can drop
	// references it holds, and only the garbage collector gets those back.
	// The batch handed out is concatenated into d.mem.
	mem := memory.NewGoAllocator()
	mr := ipc.NewMessageReader(bytes.NewReader(value), ipc.WithAllocator(mem),
		ipc.WithMetadataSizeLimit(limit), ipc.WithBodySizeLimit(limit))
	r, err := ipc.NewReaderFromMessageReader(mr, ipc.WithAllocator(mem))
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
	// and still hold offsets pointing outside its data, or columns whose
	// length is not the batch's.
	for _, b := range batches {
		for i, c := range b.Columns() {
			err := validateArray(c)
			if err == nil && int64(c.Len()) != b.NumRows() {
				err = fmt.Errorf("%d values in a batch of %d rows", c.Len(), b.NumRows())
			}
			if err != nil {
				for _, b := range batches {
					b.Release()
				}
				return nil, fmt.Errorf("damaged Arrow IPC stream: column %q: %v", d.schema.Field(i).Name, err)
			}
		}
	}
	return batches, nil
}

// validateArray checks that a's buffers hold what its length and offsets
// claim (bitmaps, fixed-width values, offsets), recursively, so that a
// damaged stream fails here and not when a later operator reads it.
func validateArray(a arrow.Array) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	data := a.Data()
	end := data.Offset() + data.Len()
	bufs := data.Buffers()
	if a.NullN() > 0 && len(bufs) > 0 && bufs[0] != nil && bufs[0].Len()*8 < end {
		return fmt.Errorf("validity bitmap holds %d bits, need %d", bufs[0].Len()*8, end)
	}
	if fw, ok := a.DataType().(arrow.FixedWidthDataType); ok && a.DataType().ID() != arrow.BOOL {
		need := end * fw.BitWidth() / 8
		if len(bufs) < 2 || (need > 0 && (bufs[1] == nil || bufs[1].Len() < need)) {
			return fmt.Errorf("value buffer shorter than %d bytes", need)
		}
	} else if a.DataType().ID() == arrow.BOOL {
		if len(bufs) < 2 || (end > 0 && (bufs[1] == nil || bufs[1].Len()*8 < end)) {
			return fmt.Errorf("boolean buffer shorter than %d bits", end)
		}
	}
	if v, ok := a.(interface{ ValidateFull() error }); ok {
		if err := v.ValidateFull(); err != nil {
			return err
		}
	} else if v, ok := a.(interface{ Validate() error }); ok {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	switch a := a.(type) {
	case *array.Struct:
		for i := range a.NumField() {
			if err := validateArray(a.Field(i)); err != nil {
				return err
			}
		}
	case array.ListLike:
		return validateArray(a.ListValues())
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
