package kafka

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DeadLetterSchema is the schema of dead-letter rows: one per record that
// could not be decoded, with where it came from, its raw bytes as they came,
// and why it could not be read.
var DeadLetterSchema = arrow.NewSchema([]arrow.Field{
	{Name: "topic", Type: arrow.BinaryTypes.String},
	{Name: "partition", Type: arrow.PrimitiveTypes.Int32},
	{Name: "offset", Type: arrow.PrimitiveTypes.Int64},
	{Name: "timestamp", Type: KafkaTimestampType},
	{Name: "key", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "value", Type: arrow.BinaryTypes.Binary, Nullable: true},
	{Name: "headers", Type: HeaderType},
	{Name: "error", Type: arrow.BinaryTypes.String},
}, nil)

// DeadLetters returns the dead-letter rows of bad records (DeadLetterSchema),
// in their order. The caller releases the batch.
func DeadLetters(mem memory.Allocator, bad []BadRecord) arrow.RecordBatch {
	b := array.NewRecordBuilder(mem, DeadLetterSchema)
	defer b.Release()
	topic := b.Field(0).(*array.StringBuilder)
	part := b.Field(1).(*array.Int32Builder)
	off := b.Field(2).(*array.Int64Builder)
	ts := b.Field(3).(*array.TimestampBuilder)
	key := b.Field(4).(*array.BinaryBuilder)
	val := b.Field(5).(*array.BinaryBuilder)
	hdr := b.Field(6).(*array.ListBuilder)
	hs := hdr.ValueBuilder().(*array.StructBuilder)
	hk := hs.FieldBuilder(0).(*array.StringBuilder)
	hv := hs.FieldBuilder(1).(*array.BinaryBuilder)
	reason := b.Field(7).(*array.StringBuilder)
	for _, r := range bad {
		topic.Append(r.Topic)
		part.Append(r.Partition)
		off.Append(r.Offset)
		ts.Append(arrow.Timestamp(r.Timestamp))
		for _, p := range []struct {
			b *array.BinaryBuilder
			v []byte
		}{{key, r.Key}, {val, r.Value}} {
			if p.v == nil {
				p.b.AppendNull()
			} else {
				p.b.Append(p.v)
			}
		}
		hdr.Append(true)
		for _, h := range r.Headers {
			hs.Append(true)
			hk.Append(h.Key)
			if h.Value == nil {
				hv.AppendNull()
			} else {
				hv.Append(h.Value)
			}
		}
		reason.Append(r.Reason)
	}
	return b.NewRecordBatch()
}
