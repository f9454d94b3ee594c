package sink

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// These tests drive the sink's checkpoint hooks as the checkpoint machinery does (prepare
// at the barrier, complete once durable, restore before input) and read the directory
// back with arrow-go's own Parquet reader, as any reader would: only visible files, and
// they must hold every row written before the last completed checkpoint exactly once.

var schema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}}, nil)

// run is one run of a job with a write_parquet sink at some parallelism.
type run struct {
	t   *testing.T
	job *runtime.Job
	ops []*WriteParquetOp
}

func startRun(t *testing.T, dir string, parallel int) *run {
	t.Helper()
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	j := runtime.NewJob(ctx, runtime.WriteSummarySchema, mem, 0)
	r := &run{t: t, job: j}
	for s := range parallel {
		op := &WriteParquetOp{Dir: dir, Schema: schema, Subtask: s, Rolling: batch.RollingPolicy{MaxRowsPerFile: 300}}
		if err := op.Open(&runtime.TaskCtx{Ctx: ctx, Eval: expr.NewEvalCtx(ctx, mem), Job: j}); err != nil {
			t.Fatal(err)
		}
		r.ops = append(r.ops, op)
	}
	return r
}

// write writes the values from..to-1, spread over the subtasks in batches of 70.
func (r *run) write(from, to int64) {
	r.t.Helper()
	for i, at := 0, from; at < to; i, at = i+1, at+70 {
		b := array.NewInt64Builder(memory.NewGoAllocator())
		for v := at; v < min(at+70, to); v++ {
			b.Append(v)
		}
		col := b.NewArray()
		b.Release()
		rec := array.NewRecordBatch(schema, []arrow.Array{col}, int64(col.Len()))
		col.Release()
		if err := r.ops[i%len(r.ops)].ProcessBatch(runtime.Message{Rec: rec}, nil); err != nil {
			r.t.Fatal(err)
		}
	}
}

// prepare takes checkpoint id on every subtask and returns their parts.
func (r *run) prepare(id uint64) [][]byte {
	r.t.Helper()
	var parts [][]byte
	for _, op := range r.ops {
		p, err := op.PrepareCheckpoint(runtime.Barrier{ID: id})
		if err != nil {
			r.t.Fatal(err)
		}
		parts = append(parts, p)
	}
	return parts
}

func (r *run) complete(id uint64) {
	r.t.Helper()
	for _, op := range r.ops {
		if err := op.CheckpointComplete(id); err != nil {
			r.t.Fatal(err)
		}
	}
}

// restore hands parts to subtask 0 and nil to the others, as the restore does.
func (r *run) restore(parts [][]byte) {
	r.t.Helper()
	for i := len(r.ops) - 1; i >= 0; i-- { // subtask 0 last: the others may be running already
		var p [][]byte
		if i == 0 {
			p = parts
		}
		if err := r.ops[i].RestoreCheckpoint(p); err != nil {
			r.t.Fatal(err)
		}
	}
}

// visible reads every file a reader of dir sees, sorted.
func visible(t *testing.T, dir string) []int64 {
	t.Helper()
	var got []int64
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".") || strings.HasPrefix(n, "_") || !strings.HasSuffix(n, ".parquet") {
			continue
		}
		pf, err := file.OpenParquetFile(filepath.Join(dir, n), false)
		if err != nil {
			t.Fatal(err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.NewGoAllocator())
		if err != nil {
			t.Fatal(err)
		}
		tbl, err := fr.ReadTable(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range tbl.Column(0).Data().Chunks() {
			got = append(got, c.(*array.Int64).Int64Values()...)
		}
		tbl.Release()
		pf.Close()
	}
	slices.Sort(got)
	return got
}

// upTo is the plain reference: every value below n once.
func upTo(n int64) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i)
	}
	return v
}

func inProgress(t *testing.T, dir, run string) []string {
	t.Helper()
	var out []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "."+FilePrefix+run) && strings.HasSuffix(e.Name(), ".inprogress") {
			out = append(out, e.Name())
		}
	}
	return out
}

func check(t *testing.T, dir string, n int64, when string) {
	t.Helper()
	if got, want := visible(t, dir), upTo(n); !slices.Equal(got, want) {
		t.Fatalf("%s: %d rows visible, want each of 0..%d once", when, len(got), n-1)
	}
}

// A crash between a checkpoint's barrier and its completion: the restore (at another
// parallelism) commits that checkpoint's files, removes the rows written after it, and the
// replayed rows land in new files, so every row is in the output once.
func TestSinkCrashBetweenPrepareAndComplete(t *testing.T) {
	for _, par := range [][2]int{{2, 3}, {3, 1}, {2, 2}} {
		dir := filepath.Join(t.TempDir(), "out")
		r1 := startRun(t, dir, par[0])
		r1.write(0, 1000)
		r1.prepare(1)
		check(t, dir, 0, "before checkpoint 1 completes")
		r1.complete(1)
		check(t, dir, 1000, "after checkpoint 1")
		r1.write(1000, 2000)
		parts := r1.prepare(2)
		r1.write(2000, 2500) // after the barrier; then the process dies
		check(t, dir, 1000, "checkpoint 2 not complete")

		r2 := startRun(t, dir, par[1])
		r2.write(2000, 2070) // a subtask of the new run may be writing already
		r2.restore(parts)
		check(t, dir, 2000, "after the restore")
		if left := inProgress(t, dir, r1.job.ID); len(left) > 0 {
			t.Fatalf("in-progress files of the failed run left: %v", left)
		}
		if len(inProgress(t, dir, r2.job.ID)) == 0 {
			t.Fatal("the restore removed the new run's own file")
		}
		r2.write(2070, 3000) // the rest of the replay
		r2.prepare(3)
		r2.complete(3)
		check(t, dir, 3000, "after the replay")
	}
}

// A crash after a checkpoint completed, once with only some subtasks' files committed and
// once with all: the restore commits them again, harmlessly; completion twice is harmless
// too.
func TestSinkCrashAfterComplete(t *testing.T) {
	for _, partial := range []bool{true, false} {
		dir := t.TempDir()
		r1 := startRun(t, dir, 2)
		r1.write(0, 1000)
		parts := r1.prepare(1)
		if partial {
			if err := r1.ops[0].CheckpointComplete(1); err != nil {
				t.Fatal(err)
			}
		} else {
			r1.complete(1)
			r1.complete(1)
			check(t, dir, 1000, "after checkpoint 1")
		}
		r1.write(1000, 1200) // then the process dies
		r2 := startRun(t, dir, 2)
		r2.restore(parts)
		r2.restore(parts) // a restore that crashed and ran again
		check(t, dir, 1000, "after the restore")
		r2.write(1000, 1500)
		r2.prepare(2)
		r2.complete(2)
		check(t, dir, 1500, "after the replay")
	}
}

// Files of a checkpoint that never completed are committed with the next one that does
// (they came before its barrier), and stored in its state for a restore.
func TestSinkLaterCheckpointCommitsEarlierFiles(t *testing.T) {
	for _, crash := range []bool{false, true} {
		dir := t.TempDir()
		r1 := startRun(t, dir, 2)
		r1.write(0, 500)
		r1.prepare(1) // never completes
		r1.write(500, 900)
		parts := r1.prepare(2)
		check(t, dir, 0, "nothing complete")
		if !crash {
			r1.complete(2)
			check(t, dir, 900, "after checkpoint 2")
			continue
		}
		r2 := startRun(t, dir, 1)
		r2.restore(parts)
		check(t, dir, 900, "after a restore of checkpoint 2")
	}
}

// A restore of checkpoint 1 while checkpoint 2 was taken but never completed (no manifest):
// checkpoint 2's files are leftovers and go; so do the files of a run that restored and
// crashed before its first checkpoint. Other files are left alone.
func TestSinkRestoreRemovesLeftovers(t *testing.T) {
	dir := t.TempDir()
	r1 := startRun(t, dir, 2)
	r1.write(0, 600)
	parts1 := r1.prepare(1)
	r1.complete(1)
	r1.write(600, 1100)
	r1.prepare(2)
	r1.write(1100, 1200)

	r2 := startRun(t, dir, 3)
	r2.restore(parts1)
	r2.write(600, 1000) // and dies before its first checkpoint
	check(t, dir, 600, "after the first restore")

	others := []string{".notes.inprogress", "_SUCCESS", ".other-00000.parquet.inprogress"}
	for _, n := range others {
		if err := os.WriteFile(filepath.Join(dir, n), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r3 := startRun(t, dir, 2)
	r3.restore(parts1)
	check(t, dir, 600, "after the second restore")
	for _, old := range []*run{r1, r2} {
		if left := inProgress(t, dir, old.job.ID); len(left) > 0 {
			t.Fatalf("leftovers of run %s: %v", old.job.ID, left)
		}
	}
	for _, n := range others {
		if _, err := os.Stat(filepath.Join(dir, n)); err != nil {
			t.Fatalf("%s, not the sink's, was removed", n)
		}
	}
	r3.write(600, 2000)
	r3.prepare(3)
	r3.complete(3)
	check(t, dir, 2000, "after the replay")
}

// A job that ends (stop) commits everything it wrote, pre-committed files of a checkpoint
// that had not completed included, in one commit; a checkpoint completing after that is
// harmless.
func TestSinkEndCommitAfterCheckpoints(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, dir, 2)
	r.write(0, 500)
	r.prepare(1)
	r.complete(1)
	r.write(500, 800)
	r.prepare(2)
	r.write(800, 1000)
	if err := r.job.CommitWriters(dir, nil, false, 0); err != nil {
		t.Fatal(err)
	}
	check(t, dir, 1000, "after the end")
	r.complete(2)
	check(t, dir, 1000, "after a late completion")
}

// Damaged state is a Data error; a restore before the sink is opened is refused.
func TestSinkRestoreErrors(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, dir, 1)
	if err := r.ops[0].RestoreCheckpoint([][]byte{[]byte("{")}); rberr.KindOf(err) != rberr.Data {
		t.Fatalf("damaged state: %v", err)
	}
	evil := []byte(`{"version":1,"dir":"` + dir + `","pending":[{"checkpoint":1,"files":[{"in_progress":"../x","final":"y.parquet"}]}]}`)
	if err := r.ops[0].RestoreCheckpoint([][]byte{evil}); rberr.KindOf(err) != rberr.Data {
		t.Fatalf("state naming a file outside the directory: %v", err)
	}
	op := &WriteParquetOp{Dir: dir, Schema: schema}
	if err := op.RestoreCheckpoint(nil); rberr.KindOf(err) != rberr.Internal {
		t.Fatalf("restore before open: %v", err)
	}
}

// Completions arrive on another goroutine while the subtask goes on writing and taking
// checkpoints (run under -race): every row before the last completed checkpoint ends up
// visible once.
func TestSinkCompletionOnAnotherGoroutine(t *testing.T) {
	dir := t.TempDir()
	r := startRun(t, dir, 1)
	done := make(chan uint64)
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for id := range done {
			if err := r.ops[0].CheckpointComplete(id); err != nil {
				t.Error(err)
			}
		}
	}()
	for id := uint64(1); id <= 20; id++ {
		r.write(int64(id-1)*100, int64(id)*100)
		r.prepare(id)
		done <- id
	}
	close(done)
	<-finished
	check(t, dir, 2000, "after 20 checkpoints")
}
