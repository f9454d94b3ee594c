package state_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/state"
)

// A savepoint read back as tables holds exactly what was written: typed values with their
// key groups, rows tables decoded into the rows' own columns, and timers.
func TestReadSnapshotTables(t *testing.T) {
	i64 := state.Encoding{Type: arrow.PrimitiveTypes.Int64}
	specs := []state.TableSpec{
		{Name: "counts", Kind: state.Value, Key: i64, Value: i64},
		{Name: "rows", Kind: state.List, Key: state.Bytes, Value: state.Bytes, Rows: true},
	}
	b, err := state.NewBackend(state.Options{Tables: specs, MaxParallelism: 8})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	enc := func(v int64) []byte {
		bld := array.NewInt64Builder(memory.DefaultAllocator)
		defer bld.Release()
		bld.Append(v)
		a := bld.NewArray()
		defer a.Release()
		out, err := state.EncodeValue(nil, a, 0)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for kg, kv := range map[int][2]int64{3: {1, 10}, 5: {2, 20}} {
		if err := b.Put(0, kg, [][]byte{enc(kv[0])}, [][]byte{enc(kv[1])}); err != nil {
			t.Fatal(err)
		}
	}
	// Two row batches in key group 3, one in key group 6.
	schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}, {Name: "s", Type: arrow.BinaryTypes.String}}, nil)
	stream := func(xs []int64, ss []string) []byte {
		rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
		defer rb.Release()
		rb.Field(0).(*array.Int64Builder).AppendValues(xs, nil)
		rb.Field(1).(*array.StringBuilder).AppendValues(ss, nil)
		rec := rb.NewRecordBatch()
		defer rec.Release()
		var buf bytes.Buffer
		w := ipc.NewWriter(&buf, ipc.WithSchema(schema))
		if err := w.Write(rec); err != nil {
			t.Fatal(err)
		}
		w.Close()
		return buf.Bytes()
	}
	if err := b.Append(1, 3, [][]byte{{}, {}}, [][]byte{stream([]int64{1, 2}, []string{"a", "b"}), stream([]int64{3}, []string{"c"})}); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(1, 6, [][]byte{{}}, [][]byte{stream([]int64{4}, []string{"d"})}); err != nil {
		t.Fatal(err)
	}
	timers := state.NewTimers(0, 8)
	if err := timers.Register(state.EventTime, state.Timer{KeyGroup: 2, Key: []byte("k"), Namespace: []byte("n"), Timestamp: 77}); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "sp")
	w, err := state.BeginSavepoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Snapshot(w, "op"); err != nil {
		t.Fatal(err)
	}
	if err := timers.Snapshot(w, "op"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(state.JobOptions{MaxParallelism: 8}); err != nil {
		t.Fatal(err)
	}

	cp, tables, err := state.InspectSnapshot(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range tables {
		names = append(names, tb.Operator+"/"+tb.Table+"/"+tb.Kind)
	}
	if want := []string{"op/_timers/timers", "op/counts/value", "op/rows/list"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("tables %v, want %v", names, want)
	}
	read := func(table string) [][]any {
		rr, err := state.ReadSnapshotTable(cp, tables, "op", table)
		if err != nil {
			t.Fatal(err)
		}
		defer rr.Release()
		var out [][]any
		for rr.Next() {
			rec := rr.RecordBatch()
			for i := 0; i < int(rec.NumRows()); i++ {
				var row []any
				for c := 0; c < int(rec.NumCols()); c++ {
					row = append(row, rec.Column(c).GetOneForMarshal(i))
				}
				out = append(out, row)
			}
		}
		return out
	}
	if got, want := read("counts"), [][]any{{int32(3), int64(1), int64(10), nil}, {int32(5), int64(2), int64(20), nil}}; !reflect.DeepEqual(got, want) {
		t.Errorf("counts %v, want %v", got, want)
	}
	if got, want := read("rows"), [][]any{{int32(3), int64(1), "a"}, {int32(3), int64(2), "b"}, {int32(3), int64(3), "c"}, {int32(6), int64(4), "d"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("rows %v, want %v", got, want)
	}
	if got, want := fmt.Sprint(read("_timers")), "[[0 2 [107] [110] 77]]"; got != want {
		t.Errorf("timers %v, want %v", got, want)
	}
	if _, err := state.ReadSnapshotTable(cp, tables, "op", "nope"); err == nil {
		t.Error("an unknown table must be an error")
	}
}
