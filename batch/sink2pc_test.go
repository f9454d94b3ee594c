package batch

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

var seqSchema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

// seqRecord holds the values from..to-1.
func seqRecord(from, to int64) arrow.RecordBatch {
	b := array.NewInt64Builder(memory.NewGoAllocator())
	defer b.Release()
	for v := from; v < to; v++ {
		b.Append(v)
	}
	col := b.NewArray()
	defer col.Release()
	return array.NewRecordBatch(seqSchema, []arrow.Array{col}, to-from)
}

// visibleValues reads every visible file of dir (as a reader of the sink's output would
// see them) with arrow-go's own Parquet reader and returns the values in file order.
func visibleValues(t *testing.T, dir string) []int64 {
	t.Helper()
	var got []int64
	for _, name := range listDir(t, dir) { // sorted by name: file order
		if hidden(name) {
			continue
		}
		p := filepath.Join(dir, name)
		tbl := readWithPqarrow(t, p)
		for _, c := range tbl.Column(0).Data().Chunks() {
			got = append(got, c.(*array.Int64).Int64Values()...)
		}
		tbl.Release()
	}
	return got
}

func span(from, to int64) []int64 {
	var v []int64
	for x := from; x < to; x++ {
		v = append(v, x)
	}
	return v
}

func write(t *testing.T, w *FileWriter, from, to int64) {
	t.Helper()
	rec := seqRecord(from, to)
	defer rec.Release()
	writeBatches(t, w, rec, 700)
}

// A checkpointed sink: pre-committed files stay invisible until their checkpoint commits;
// a crash after checkpoint 2 was taken but before it was committed restores it, commits
// its files (again: idempotent), drops the rows written after it, and numbers new files
// after the checkpoint's, so the output holds every row exactly once.
func TestParquetTwoPhaseCommitAcrossACrash(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	mem := memory.NewGoAllocator()
	w, err := NewParquetWriter(dir, "part-0", seqSchema, mem, 1500)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 0, 2000)
	cp1, err := w.PreCommit()
	if err != nil {
		t.Fatal(err)
	}
	if len(cp1.Files) != 2 || cp1.Next != 2 {
		t.Fatalf("checkpoint 1 pending %+v, want 2 files (1500 rows per file)", cp1)
	}
	if got := visibleValues(t, dir); len(got) != 0 {
		t.Fatalf("pre-committed rows are visible: %d", len(got))
	}
	write(t, w, 2000, 2600)
	if err := CommitPending(dir, cp1); err != nil {
		t.Fatal(err)
	}
	if got := visibleValues(t, dir); !slices.Equal(got, span(0, 2000)) {
		t.Fatalf("after commit 1: %d rows visible, want 0..1999", len(got))
	}
	cp2, err := w.PreCommit()
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 2600, 3000) // after checkpoint 2; then the process dies (no Commit, no Abort)

	// Restore from checkpoint 2: commit its pending files twice (a crash during the first
	// commit repeats it), remove the rest, go on writing after it.
	for range 2 {
		if err := CommitPending(dir, cp2); err != nil {
			t.Fatal(err)
		}
	}
	if err := CleanupInProgress(dir, "part-0", cp2); err != nil {
		t.Fatal(err)
	}
	for _, name := range listDir(t, dir) {
		if isInProgressOf(name, "part-0") {
			t.Fatalf("in-progress file %s left after restore", name)
		}
	}
	w2, err := RestoreParquetWriter(dir, "part-0", seqSchema, mem, 1500, cp2)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w2, 2600, 3000) // replayed by the sources
	if _, _, err := w2.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := visibleValues(t, dir); !slices.Equal(got, span(0, 3000)) {
		t.Fatalf("after restore: %d rows visible, want each of 0..2999 once", len(got))
	}
}

// A pending file that vanished is an error naming it, not a silent loss; another writer's
// in-progress files (a longer prefix) survive the cleanup.
func TestParquetCommitPendingErrors(t *testing.T) {
	dir := t.TempDir()
	mem := memory.NewGoAllocator()
	w, err := NewParquetWriter(dir, "part-1", seqSchema, mem, 0)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewParquetWriter(dir, "part-10", seqSchema, mem, 0)
	if err != nil {
		t.Fatal(err)
	}
	write(t, w, 0, 10)
	write(t, other, 0, 10)
	p, err := w.PreCommit()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.PreCommit(); err != nil {
		t.Fatal(err)
	}
	if err := CleanupInProgress(dir, "part-1"); err != nil {
		t.Fatal(err)
	}
	names := listDir(t, dir)
	if !slices.Contains(names, ".part-10-00000.parquet.inprogress") || slices.Contains(names, ".part-1-00000.parquet.inprogress") {
		t.Fatalf("cleanup of part-1 left %v", names)
	}
	err = CommitPending(dir, p)
	if err == nil || !containsAll(err.Error(), "part-1-00000.parquet", "missing") {
		t.Fatalf("commit of a vanished file: %v", err)
	}
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
