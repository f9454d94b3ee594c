package keyed_test

import (
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/state"
)

// A state table whose bytes are not an Arrow stream (a damaged or foreign savepoint) is an
// error naming the operator and the table, not a crash.
func TestReadStateOfGarbage(t *testing.T) {
	be, err := state.NewBackend(state.Options{Tables: []state.TableSpec{keyed.BatchTable("rows.v1")}, MaxParallelism: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	tb, _ := be.Table("rows.v1")
	for _, garbage := range [][]byte{{}, {1, 2, 3}, []byte("ARROW1 but not really an arrow stream at all")} {
		if err := be.Append(tb, 2, [][]byte{{}}, [][]byte{garbage}); err != nil {
			t.Fatal(err)
		}
		schema := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)
		err = keyed.ReadState(be, memory.DefaultAllocator, "dedup", "rows.v1", schema, func(int, arrow.RecordBatch) error { return nil })
		if err == nil || !strings.Contains(err.Error(), "dedup") || !strings.Contains(err.Error(), `"rows.v1"`) {
			t.Fatalf("garbage %q: %v", garbage, err)
		}
		if err := be.Delete(tb, 2, [][]byte{{}}); err != nil {
			t.Fatal(err)
		}
	}
}
