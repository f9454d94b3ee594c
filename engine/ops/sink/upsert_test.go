package sink

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/kafka"
)

// Upsert records of a changelog: +I and +U rows become the key's value (without the op),
// -D rows a tombstone (null value), -U rows nothing.
func TestUpsertRecords(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "user", Type: arrow.BinaryTypes.String},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64},
		{Name: "__op", Type: arrow.BinaryTypes.String},
	}, nil)
	valueSchema := arrow.NewSchema(schema.Fields()[:2], nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "a", "a", "b"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 1, 1, 2, 1}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"+I", "+I", "-U", "+U", "-D"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	enc, err := kafka.NewEncoder(valueSchema, kafka.EncoderOptions{Format: kafka.JSON, KeyColumn: "user"})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := UpsertRecords(expr.NewEvalCtx(context.Background(), mem), enc, valueSchema, rec, 2)
	if err != nil {
		t.Fatal(err)
	}
	type want struct {
		key string
		n   int64 // -1: tombstone
	}
	wants := []want{{"a", 1}, {"b", 1}, {"a", 2}, {"b", -1}}
	if len(recs) != len(wants) {
		t.Fatalf("%d records, want %d", len(recs), len(wants))
	}
	for i, w := range wants {
		r := recs[i]
		if string(r.Key) != w.key {
			t.Fatalf("record %d: key %q, want %q", i, r.Key, w.key)
		}
		if w.n < 0 {
			if r.Value != nil {
				t.Fatalf("record %d: value %s, want a tombstone", i, r.Value)
			}
			continue
		}
		var v map[string]any
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		if _, ok := v["__op"]; ok || v["user"] != w.key || v["n"] != float64(w.n) {
			t.Fatalf("record %d: value %s", i, r.Value)
		}
	}
}
