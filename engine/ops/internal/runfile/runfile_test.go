package runfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var schema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

func batch(mem memory.Allocator, vals ...int64) arrow.RecordBatch {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.AppendValues(vals, nil)
	a := b.NewArray()
	defer a.Release()
	return array.NewRecordBatch(schema, []arrow.Array{a}, int64(len(vals)))
}

func readAll(t *testing.T, src Source) []int64 {
	t.Helper()
	var got []int64
	for {
		rec, err := src()
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			return got
		}
		got = append(got, rec.Column(0).(*array.Int64).Int64Values()...)
		rec.Release()
	}
}

// Runs read back batch by batch as written, each on its own, in the order written; the
// directory holds them until Remove, which leaves nothing behind; the bytes are counted.
func TestRunsRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	dir := filepath.Join(t.TempDir(), "work")
	r := &Files{Op: "test", What: "a test run", Dir: dir, Mem: mem}
	if r.Count() != 0 || (*Files)(nil).Count() != 0 {
		t.Fatal("runs before any was written")
	}
	for i := int64(0); i < 3; i++ {
		recs := []arrow.RecordBatch{batch(mem, 10*i, 10*i+1), batch(mem, 10*i+2)}
		if err := r.Write(schema, func() (arrow.RecordBatch, error) {
			if len(recs) == 0 {
				return nil, nil
			}
			rec := recs[0]
			recs = recs[1:]
			return rec, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	if r.Count() != 3 || r.Written == 0 {
		t.Fatalf("%d runs, %d bytes written", r.Count(), r.Written)
	}
	src, err := r.OpenRun(1)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, src); len(got) != 3 || got[0] != 10 || got[2] != 12 {
		t.Fatalf("run 1 read back as %v", got)
	}
	r.RemoveRun(1)
	srcs, err := r.OpenFirst(1)
	if err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, srcs[0]); len(got) != 3 || got[0] != 0 {
		t.Fatalf("run 0 read back as %v", got)
	}
	if _, err := r.OpenRun(1); err == nil || !strings.Contains(err.Error(), "test: cannot read a test run back") {
		t.Fatalf("reading a removed run: %v", err)
	}
	r.Remove()
	if ents, err := os.ReadDir(dir); err != nil || len(ents) != 0 {
		t.Fatalf("left behind: %v %v", ents, err)
	}
}

// A working directory that cannot be made is an error naming the operator and the run.
func TestRunsInAnUnusableDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := &Files{Op: "group_by", What: "spilled aggregation state", Dir: filepath.Join(file, "work"), Mem: mem}
	err := r.Write(schema, func() (arrow.RecordBatch, error) { return nil, nil })
	if err == nil || !strings.Contains(err.Error(), "group_by: cannot make the working directory for spilled aggregation state") {
		t.Fatalf("got %v", err)
	}
}
