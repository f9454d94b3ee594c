package kafka

import (
	"math/big"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/hamba/avro/v2"
)

// The Avro datums the encoder writes, decoded by hamba/avro's own (reflection-based)
// Unmarshal with the derived schema, give back the rows.
func TestAvroEncodeDecodesWithHamba(t *testing.T) {
	mem := memory.NewGoAllocator()
	dt := &arrow.Decimal128Type{Precision: 20, Scale: 3}
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int32},
		{Name: "d", Type: dt, Nullable: true},
		{Name: "l", Type: arrow.ListOf(arrow.PrimitiveTypes.Int64)},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	vals := []int64{0, 1, -1, 127, 128, -128, -129, 255, 256, -32768, 1 << 40, -(1 << 62)}
	for i, v := range vals {
		b.Field(0).(*array.Int32Builder).Append(int32(i))
		if i == 3 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromI64(v))
		}
		lb := b.Field(2).(*array.ListBuilder)
		lb.Append(true)
		for j := range i % 3 {
			lb.ValueBuilder().(*array.Int64Builder).Append(v + int64(j))
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	text, err := AvroSchemaOf(schema, AvroRecordName)
	if err != nil {
		t.Fatal(err)
	}
	as := avro.MustParse(text)
	enc, err := NewEncoder(schema, EncoderOptions{Format: Avro, AvroSchemaID: 7})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := enc.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range recs {
		if string(r.Value[:5]) != string(WireHeader(7)) || r.Value[4] != 7 {
			t.Fatalf("row %d: prefix %x", i, r.Value[:5])
		}
		var got map[string]any
		if err := avro.Unmarshal(as, r.Value[5:], &got); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if got["id"].(int) != i {
			t.Errorf("row %d: id %v", i, got["id"])
		}
		if i == 3 {
			if got["d"] != nil {
				t.Errorf("row 3: d %v, want null", got["d"])
			}
		} else {
			want := new(big.Rat).SetFrac(big.NewInt(vals[i]), big.NewInt(1000))
			d, ok := got["d"].(*big.Rat)
			if !ok || d.Cmp(want) != 0 {
				t.Errorf("row %d: d %v, want %v", i, got["d"], want)
			}
		}
		if l := got["l"].([]any); len(l) != i%3 {
			t.Errorf("row %d: list %v", i, l)
		}
	}
}

func TestSinkPartitioner(t *testing.T) {
	p, err := SinkPartitioner(PartitionFixed, 5)
	if err != nil {
		t.Fatal(err)
	}
	tp := p.ForTopic("t")
	if got := tp.Partition(nil, 3); got != 2 {
		t.Errorf("fixed: subtask 5 of 3 partitions went to %d, want 2", got)
	}
	if p, _ := SinkPartitioner(PartitionDefault, 0); p != nil {
		t.Error("default: want franz-go's default (nil)")
	}
	if _, err := SinkPartitioner("hash", 0); err == nil {
		t.Error("unknown partitioner: no error")
	}
}
