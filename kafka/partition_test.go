package kafka

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Kafka's own murmur2 test vectors (UtilsTest.testMurmur2 of the Java client): the
// partition of partition bytes b among n is (murmur2(b) & 0x7fffffff) % n.
func TestColumnPartitionerIsTheJavaClientsMurmur2(t *testing.T) {
	vectors := map[string]int32{"21": -973932308, "foobar": -790332482, "a-little-bit-long-string": -985981536,
		"a-little-bit-longer-string": -1486304829, "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, "abc": 479470107}
	schema := arrow.NewSchema([]arrow.Field{{Name: "p", Type: arrow.BinaryTypes.String}, {Name: "k", Type: arrow.BinaryTypes.String}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	var want []int32
	for s, h := range vectors {
		b.Field(0).(*array.StringBuilder).Append(s)
		b.Field(1).(*array.StringBuilder).Append("key-" + s)
		want = append(want, h)
	}
	batch := b.NewRecordBatch()
	defer batch.Release()
	enc, err := NewEncoder(schema, EncoderOptions{Format: JSON, Topic: "t", KeyColumn: "k", PartitionColumns: []string{"p"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := enc.Encode(batch)
	if err != nil {
		t.Fatal(err)
	}
	tp := ColumnPartitioner().ForTopic("t")
	for _, n := range []int{1, 7, 1000} {
		for i, r := range recs {
			if got, exp := tp.Partition(r, n), int((uint32(want[i])&0x7fffffff)%uint32(n)); got != exp {
				t.Errorf("row %d among %d partitions: got %d, want %d", i, n, got, exp)
			}
			if !tp.RequiresConsistency(r) {
				t.Error("a record partitioned by column must keep its partition")
			}
		}
	}
	if string(recs[0].Key[:4]) != "key-" {
		t.Errorf("the key is the key column, got %q", recs[0].Key)
	}
}

func TestSeveralKeyColumnsMakeAJSONObject(t *testing.T) {
	schema := arrow.NewSchema([]arrow.Field{{Name: "u", Type: arrow.PrimitiveTypes.Int64}, {Name: "r", Type: arrow.BinaryTypes.String, Nullable: true}}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{7, 8}, nil)
	b.Field(1).(*array.StringBuilder).Append("eu")
	b.Field(1).(*array.StringBuilder).AppendNull()
	batch := b.NewRecordBatch()
	defer batch.Release()
	enc, err := NewEncoder(schema, EncoderOptions{Format: JSON, KeyColumns: []string{"u", "r"}})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := enc.Encode(batch)
	if err != nil {
		t.Fatal(err)
	}
	if string(recs[0].Key) != `{"u":7,"r":"eu"}` || string(recs[1].Key) != `{"u":8,"r":null}` {
		t.Errorf("keys: %s, %s", recs[0].Key, recs[1].Key)
	}
	if _, err := NewEncoder(schema, EncoderOptions{Format: JSON, PartitionColumns: []string{"nope"}}); err == nil {
		t.Error("an unknown partition column is not refused")
	}
	if _, err := NewEncoder(schema, EncoderOptions{Format: ArrowIPC, PartitionColumns: []string{"u"}}); err == nil {
		t.Error("partition columns with Arrow IPC (many rows per record) are not refused")
	}
}
