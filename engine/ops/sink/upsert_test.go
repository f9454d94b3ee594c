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
	"github.com/twmb/franz-go/pkg/kgo"
)

// Upsert records of a changelog: +I and +U rows become the key's value (without the op),
// -D rows a tombstone (null value), -U rows nothing; after a filter (lone retracts), a -U
// row nothing when a +U of its key follows in the batch, else a tombstone (the group's new
// row was filtered out: the key left the result).
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
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"a", "b", "a", "c", "a", "b", "c", "a", "c"}, nil)
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 1, 1, 5, 2, 1, 5, 2, 6}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"+I", "+I", "-U", "+I", "+U", "-D", "-U", "-U", "+U"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	enc, err := kafka.NewEncoder(valueSchema, kafka.EncoderOptions{Format: kafka.JSON, KeyColumn: "user"})
	if err != nil {
		t.Fatal(err)
	}
	for _, lone := range []bool{false, true} {
		recs, _, err := UpsertRecords(expr.NewEvalCtx(context.Background(), mem), enc, valueSchema, rec, 2, lone)
		if err != nil {
			t.Fatal(err)
		}
		wants := []upsertWant{{"a", 1}, {"b", 1}, {"c", 5}, {"a", 2}, {"b", -1}, {"c", 6}}
		if lone {
			// a's first -U is replaced by its +U, c's -U by its +U; a's last -U has no +U
			// after it.
			wants = []upsertWant{{"a", 1}, {"b", 1}, {"c", 5}, {"a", 2}, {"b", -1}, {"a", -1}, {"c", 6}}
		}
		checkUpserts(t, recs, wants)
	}
}

type upsertWant struct {
	key string
	n   int64 // -1: tombstone
}

func checkUpserts(t *testing.T, recs []*kgo.Record, wants []upsertWant) {
	t.Helper()
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

// A changelog keyed by several columns (a group_by's keys, an updating join's join keys):
// each record's key is a JSON object of them in key order — in format raw too, whose
// value is the one value column — whatever the values hold (quotes, a null).
func TestUpsertRecordsCompositeKey(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "a", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "b", Type: arrow.PrimitiveTypes.Int64},
		{Name: "v", Type: arrow.BinaryTypes.String},
		{Name: "__op", Type: arrow.BinaryTypes.String},
	}, nil)
	valueSchema := arrow.NewSchema(schema.Fields()[:3], nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.StringBuilder).AppendValues([]string{"ab", "a", "x\"y", ""}, []bool{true, true, true, false})
	b.Field(1).(*array.Int64Builder).AppendValues([]int64{1, 21, -3, 4}, nil)
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"p", "q", "r", "s"}, nil)
	b.Field(3).(*array.StringBuilder).AppendValues([]string{"+I", "+U", "-D", "+I"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	for _, format := range []kafka.Format{kafka.JSON, kafka.Raw} {
		opts := kafka.EncoderOptions{Format: format, KeyColumns: []string{"a", "b"}}
		if format == kafka.Raw {
			opts.ValueColumn = "v"
		}
		enc, err := kafka.NewEncoder(valueSchema, opts)
		if err != nil {
			t.Fatal(err)
		}
		recs, _, err := UpsertRecords(expr.NewEvalCtx(context.Background(), mem), enc, valueSchema, rec, 3, false)
		if err != nil {
			t.Fatal(err)
		}
		wantKeys := []map[string]any{{"a": "ab", "b": 1.0}, {"a": "a", "b": 21.0}, {"a": "x\"y", "b": -3.0}, {"a": nil, "b": 4.0}}
		if len(recs) != len(wantKeys) {
			t.Fatalf("%s: %d records", format, len(recs))
		}
		for i, r := range recs {
			var k map[string]any
			if err := json.Unmarshal(r.Key, &k); err != nil {
				t.Fatalf("%s: key %q: %v", format, r.Key, err)
			}
			if len(k) != 2 || k["a"] != wantKeys[i]["a"] || k["b"] != wantKeys[i]["b"] {
				t.Fatalf("%s: record %d: key %s, want %v", format, i, r.Key, wantKeys[i])
			}
			if string(r.Key[:5]) != `{"a":` {
				t.Fatalf("%s: key %s: not in key order", format, r.Key)
			}
			if (i == 2) != (r.Value == nil) {
				t.Fatalf("%s: record %d: value %q", format, i, r.Value)
			}
			if format == kafka.Raw && i != 2 && string(r.Value) != []string{"p", "q", "", "s"}[i] {
				t.Fatalf("raw: record %d: value %q", i, r.Value)
			}
		}
	}
}
