package engine

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// A sort at parallelism 4 in a job without checkpoints (a local sort per subtask and a
// merge that reads its inputs one at a time) gives the stable sort of the input and frees
// what it allocated. (With runs on disk it is tested in engine/ops/basic and from Python:
// this package's tests run without the Pebble backend linked, see checkpoint_test.go.)
func TestParallelSortJob(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // the job's working directory without checkpoint_dir
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	tbl, ids, amounts := makeInput(mem, 20000, 20, 7)
	defer tbl.Release()
	opts := `"parallelism":4,"batch_size":256`
	plan := `{"version":1,"options":{` + opts + `},"root":{"op":"sort","keys":[{"col":"amount"},{"col":"user_id"}],
		"sort_descending":[true,false],"nulls_last":[true],"input":{"op":"scan_arrow","source":0}}}`
	type row struct {
		id  int64
		amt *float64
		at  int
	}
	want := make([]row, len(ids))
	for i := range ids {
		want[i] = row{ids[i], amounts[i], i}
	}
	slices.SortStableFunc(want, func(a, b row) int {
		switch {
		case a.amt == nil && b.amt == nil:
		case a.amt == nil:
			return 1
		case b.amt == nil:
			return -1
		case *a.amt > *b.amt:
			return -1
		case *a.amt < *b.amt:
			return 1
		}
		return int(a.id - b.id)
	})
	// Rows equal on both keys are equal rows: their order shows in no column. The
	// keys' order and the rows' multiset are what can be compared.
	job, err := Start(context.Background(), []byte(plan), []array.RecordReader{array.NewTableReader(tbl, 1000)}, mem)
	if err != nil {
		t.Fatal(err)
	}
	var recs []arrow.RecordBatch
	for {
		rec, err := job.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, rec)
	}
	var local, merge *runtime.OperatorMetrics
	for _, m := range job.Metrics() {
		switch m.Operator {
		case "sort (local)":
			local = &m
		case "sort":
			merge = &m
		}
	}
	if local == nil || local.Parallelism != 4 || merge == nil || merge.Parallelism != 1 {
		t.Fatalf("want a local sort on 4 subtasks and a merge on 1: %+v %+v", local, merge)
	}
	if local.Spilled != 0 || local.SpillResident != 0 {
		t.Errorf("in memory, the local sorts spilled %d bytes, hold %d", local.Spilled, local.SpillResident)
	}
	var got []string
	for _, rec := range recs {
		uid := rec.Column(0).(*array.Int64)
		amt := rec.Column(1).(*array.Float64)
		for i := 0; i < int(rec.NumRows()); i++ {
			a := "null"
			if amt.IsValid(i) {
				a = fmt.Sprint(amt.Value(i))
			}
			got = append(got, fmt.Sprintf("%s/%d", a, uid.Value(i)))
		}
		rec.Release()
	}
	if len(got) != len(want) {
		t.Fatalf("%d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		a := "null"
		if w.amt != nil {
			a = fmt.Sprint(*w.amt)
		}
		if s := fmt.Sprintf("%s/%d", a, w.id); got[i] != s {
			t.Fatalf("row %d: %s, want %s", i, got[i], s)
		}
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("left behind in the working directory: %v", ents)
	}
}
