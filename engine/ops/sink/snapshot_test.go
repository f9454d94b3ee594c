package sink

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The snapshot sink's materialization is checked against a plain reference: the multiset
// of rows that the generated changes leave (a slice of rows, each +I/+U appending one,
// each -U/-D removing one equal row). Its output is read back from the Parquet files it
// writes, with arrow-go's own reader.

var (
	snapTable = arrow.NewSchema([]arrow.Field{
		{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	}, nil)
	snapInput = arrow.NewSchema(append(append([]arrow.Field{}, snapTable.Fields()...),
		arrow.Field{Name: OpColumnName, Type: arrow.BinaryTypes.String}), nil)
)

// changes generates batches of changes over rows with many duplicates (nulls, NaN, equal
// rows under several keys), and the table they leave after each batch.
func changes(seed int64, batches int) ([][][]any, [][][]any) {
	rng := rand.New(rand.NewSource(seed))
	strs := []any{"a", "b", nil}
	floats := []any{1.5, math.NaN(), nil, 0.0}
	var held [][]any
	var out, tables [][][]any
	for range batches {
		var batch [][]any
		for range 1 + rng.Intn(40) {
			if len(held) == 0 || rng.Float64() < 0.6 {
				row := []any{int64(rng.Intn(8)), strs[rng.Intn(3)], floats[rng.Intn(4)]}
				if rng.Intn(10) == 0 {
					row[0] = nil
				}
				held = append(held, row)
				op := "+I"
				if rng.Intn(2) == 0 {
					op = "+U"
				}
				batch = append(batch, append(append([]any{}, row...), op))
				continue
			}
			i := rng.Intn(len(held))
			row := held[i]
			held = append(held[:i], held[i+1:]...)
			op := "-U"
			if rng.Intn(2) == 0 {
				op = "-D"
			}
			batch = append(batch, append(append([]any{}, row...), op))
		}
		// A batch may hold a row's insert and its removal in either order.
		rng.Shuffle(len(batch), func(a, b int) { batch[a], batch[b] = batch[b], batch[a] })
		out = append(out, batch)
		tables = append(tables, append([][]any(nil), held...))
	}
	return out, tables
}

func formatRows(rows [][]any) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = opstest.Row(r...)
	}
	sort.Strings(out)
	return out
}

func tableKeys() []expr.Expr {
	return []expr.Expr{opstest.Col(snapTable, "k"), opstest.Col(snapTable, "s"), opstest.Col(snapTable, "f")}
}

// emittingSnapshot is the sink under test in opstest's runs: at the end it writes its part
// of the table as a job without checkpoints does, reads the file back and emits its rows
// (so the runs compare what a reader of the snapshot gets).
type emittingSnapshot struct {
	*SnapshotOp
	t *testing.T
}

func (e emittingSnapshot) Finish(out runtime.Emitter) error {
	if err := e.SnapshotOp.Finish(discardEmitter{}); err != nil {
		return err
	}
	dir := filepath.Join(e.Dir, inProgressName(0))
	files, _ := filepath.Glob(filepath.Join(dir, "part-*.parquet"))
	for _, f := range files {
		if !strings.HasPrefix(filepath.Base(f), partPrefix(e.Subtask)) {
			continue
		}
		for _, rec := range readParquet(e.t, f) {
			if err := out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: rec}); err != nil {
				return err
			}
		}
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	return nil
}

func partPrefix(subtask int) string { return fmt.Sprintf("part-%05d-", subtask) }

type discardEmitter struct{}

func (discardEmitter) Emit(m runtime.Message) error {
	if m.Rec != nil {
		m.Rec.Release()
	}
	return nil
}

// readParquet reads a Parquet file with arrow-go's reader.
func readParquet(t *testing.T, path string) []arrow.RecordBatch {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1 << 16}, memory.NewGoAllocator())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	tr := array.NewTableReader(tbl, 1<<16)
	defer tr.Release()
	var out []arrow.RecordBatch
	for tr.Next() {
		rec := tr.RecordBatch()
		rec.Retain()
		out = append(out, rec)
	}
	return out
}

func snapshotOp(t *testing.T, dir string) opstest.Op {
	return opstest.Op{
		New: func() runtime.Operator {
			return emittingSnapshot{&SnapshotOp{Name: "write_parquet_snapshot", Dir: dir, Schema: snapTable, OpCol: 3, Keys: tableKeys(), Keep: 3}, t}
		},
		Keys: opstest.KeysOf([]expr.Expr{opstest.Col(snapInput, "k"), opstest.Col(snapInput, "s"), opstest.Col(snapInput, "f")}),
	}
}

func steps(batches [][][]any) []opstest.Step {
	var out []opstest.Step
	for i, b := range batches {
		out = append(out, opstest.Step{Rec: opstest.Batch(snapInput, b), Seq: runtime.MakeSeq(0, int64(i), 0)})
	}
	return out
}

// TestSnapshotMaterializes: straight, checkpointed (state restored into fresh subtasks)
// and rescaled runs, on both backends (Pebble spilling every row), all give the table
// the reference leaves.
func TestSnapshotMaterializes(t *testing.T) {
	batches, tables := changes(7, 60)
	st := steps(batches)
	defer opstest.Release(st)
	opstest.RunAll(t, snapshotOp(t, t.TempDir()), st, 7, formatRows(tables[len(tables)-1]))
}

// TestSnapshotAppendOnly: an input without an op column is all inserts.
func TestSnapshotAppendOnly(t *testing.T) {
	rows := [][]any{{int64(1), "a", 1.5}, {int64(1), "a", 1.5}, {nil, nil, nil}, {int64(2), "b", math.NaN()}}
	st := []opstest.Step{{Rec: opstest.Batch(snapTable, rows[:2])}, {Rec: opstest.Batch(snapTable, rows[2:])}}
	defer opstest.Release(st)
	dir := t.TempDir()
	op := opstest.Op{
		New: func() runtime.Operator {
			return emittingSnapshot{&SnapshotOp{Name: "write_parquet_snapshot", Dir: dir, Schema: snapTable, OpCol: -1, Keys: tableKeys(), Keep: 3}, t}
		},
		Keys: opstest.KeysOf(tableKeys()),
	}
	got := opstest.Run(t, op, st, []opstest.Phase{{Parallel: 2, Until: 2}}, "memory")
	opstest.Equal(t, got, formatRows(rows))
}

// TestSnapshotRetractingAbsentRow: a -D of a row the table does not hold fails, naming
// the sink and the row.
func TestSnapshotRetractingAbsentRow(t *testing.T) {
	ctx := context.Background()
	mem := memory.NewGoAllocator()
	o := &SnapshotOp{Name: "write_parquet_snapshot", Dir: t.TempDir(), Schema: snapTable, OpCol: 3, Keys: tableKeys(), Keep: 3}
	if err := o.Open(runtime.NewStandaloneTaskCtx(ctx, mem, 0, 1, 128)); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	rec := opstest.Batch(snapInput, [][]any{{int64(1), "a", 1.5, "+I"}, {int64(1), "a", 2.5, "-D"}})
	err := o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: rec}, nil)
	if err == nil || rberr.KindOf(err) != rberr.Data || !strings.Contains(err.Error(), "write_parquet_snapshot") || !strings.Contains(err.Error(), "f=2.5") {
		t.Fatalf("got %v, want a data error naming the sink and the row", err)
	}
}

// snapRun is one run of a job with the sink at some parallelism: its subtasks share a
// gate, changes go to the subtask owning each row's key group.
type snapRun struct {
	t   *testing.T
	ops []*SnapshotOp
	tcs []*runtime.TaskCtx
}

func startSnapRun(t *testing.T, dir string, parallel, keep int) *snapRun {
	t.Helper()
	r := &snapRun{t: t}
	gate := NewSnapshotGate()
	for s := range parallel {
		o := &SnapshotOp{Name: "write_parquet_snapshot", Dir: dir, Schema: snapTable, OpCol: 3, Keys: tableKeys(), Keep: keep, Subtask: s, Gate: gate}
		tc := runtime.NewStandaloneTaskCtx(context.Background(), memory.NewGoAllocator(), s, parallel, 128)
		if err := o.Open(tc); err != nil {
			t.Fatal(err)
		}
		r.ops, r.tcs = append(r.ops, o), append(r.tcs, tc)
	}
	t.Cleanup(func() {
		for _, o := range r.ops {
			o.Close()
		}
	})
	return r
}

func (r *snapRun) feed(batch [][]any) {
	r.t.Helper()
	rec := opstest.Batch(snapInput, batch)
	defer rec.Release()
	ec := expr.NewEvalCtx(context.Background(), memory.NewGoAllocator())
	keys, err := runtime.EvalColumns(ec, []expr.Expr{opstest.Col(snapInput, "k"), opstest.Col(snapInput, "s"), opstest.Col(snapInput, "f")}, rec)
	if err != nil {
		r.t.Fatal(err)
	}
	hs := make([]uint64, rec.NumRows())
	expr.HashColumns(keys, hs)
	runtime.ReleaseAll(keys)
	idx := make([][]int32, len(r.ops))
	for i, h := range hs {
		s := subtaskOf(h, len(r.ops))
		idx[s] = append(idx[s], int32(i))
	}
	for s, rows := range idx {
		if len(rows) == 0 {
			continue
		}
		part, err := runtime.TakeRows(ec, rec, rows)
		if err != nil {
			r.t.Fatal(err)
		}
		if err := r.ops[s].ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: part}, nil); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *snapRun) prepare(id uint64) [][]byte {
	r.t.Helper()
	var parts [][]byte
	for _, o := range r.ops {
		p, err := o.PrepareCheckpoint(runtime.Barrier{ID: id})
		if err != nil {
			r.t.Fatal(err)
		}
		parts = append(parts, p)
	}
	return parts
}

func (r *snapRun) complete(id uint64) {
	r.t.Helper()
	for _, o := range r.ops {
		if err := o.CheckpointComplete(id); err != nil {
			r.t.Fatal(err)
		}
	}
}

// restore restores the rows of checkpointed table rows (the keyed state, as a plain
// replay of them) and the hook parts, subtask 0 last (the others wait for it).
func (r *snapRun) restore(table [][]any, parts [][]byte) {
	r.t.Helper()
	var ins [][]any
	for _, row := range table {
		ins = append(ins, append(append([]any{}, row...), "+I"))
	}
	if len(ins) > 0 {
		r.feed(ins)
	}
	done := make(chan error, len(r.ops))
	for i := len(r.ops) - 1; i >= 1; i-- {
		go func(o *SnapshotOp) { done <- o.RestoreCheckpoint(nil) }(r.ops[i])
	}
	if err := r.ops[0].RestoreCheckpoint(parts); err != nil {
		r.t.Fatal(err)
	}
	for range len(r.ops) - 1 {
		if err := <-done; err != nil {
			r.t.Fatal(err)
		}
	}
}

func subtaskOf(h uint64, parallel int) int {
	kg := int(h % 128) // state.KeyGroup is tested elsewhere; any fixed routing will do here
	return kg * parallel / 128
}

// snapshotRows reads snapshot name of dir as a reader does (visible files only).
func snapshotRows(t *testing.T, dir, name string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") || !strings.HasSuffix(e.Name(), ".parquet") {
			continue
		}
		for _, rec := range readParquet(t, filepath.Join(dir, name, e.Name())) {
			got = append(got, opstest.Rows(rec)...)
			rec.Release()
		}
	}
	sort.Strings(got)
	return got
}

// listing is what a reader of dir sees: committed snapshots and _latest's content.
func listing(t *testing.T, dir string) (snaps []string, latest string, hidden []string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		switch {
		case strings.HasPrefix(e.Name(), "."):
			hidden = append(hidden, e.Name())
		case strings.HasPrefix(e.Name(), snapshotPrefix):
			snaps = append(snaps, e.Name())
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, PointerFile)); err == nil {
		latest = strings.TrimSpace(string(b))
	}
	return snaps, latest, hidden
}

// TestSnapshotTwoPhaseCommit: a snapshot is visible only once its checkpoint completes,
// each committed snapshot is the table at its checkpoint, _latest names the newest, old
// snapshots go beyond keep, and a checkpoint that never completed leaves nothing.
func TestSnapshotTwoPhaseCommit(t *testing.T) {
	dir := t.TempDir()
	batches, tables := changes(11, 8)
	r := startSnapRun(t, dir, 3, 2)
	r.feed(batches[0])
	r.prepare(1)
	if snaps, latest, _ := listing(t, dir); len(snaps) > 0 || latest != "" {
		t.Fatalf("before completion a reader sees %v, _latest %q", snaps, latest)
	}
	r.feed(batches[1]) // after the barrier: not in snapshot 1
	r.complete(1)
	opstest.Equal(t, snapshotRows(t, dir, "snapshot-1"), formatRows(tables[0]))
	r.prepare(2) // never completes (an aborted checkpoint)
	r.feed(batches[2])
	r.prepare(3)
	r.complete(3)
	snaps, latest, hidden := listing(t, dir)
	if latest != "snapshot-3" || strings.Join(snaps, ",") != "snapshot-1,snapshot-3" || len(hidden) != 0 {
		t.Fatalf("after checkpoint 3: snapshots %v, _latest %q, hidden %v", snaps, latest, hidden)
	}
	opstest.Equal(t, snapshotRows(t, dir, "snapshot-3"), formatRows(tables[2]))
	r.feed(batches[3])
	r.prepare(4)
	r.complete(4)
	snaps, latest, _ = listing(t, dir)
	if latest != "snapshot-4" || strings.Join(snaps, ",") != "snapshot-3,snapshot-4" {
		t.Fatalf("keep=2: snapshots %v, _latest %q", snaps, latest)
	}
	opstest.Equal(t, snapshotRows(t, dir, "snapshot-4"), formatRows(tables[3]))
}

// TestSnapshotRestore: a crash after checkpoint 5's barrier, before it was committed, and
// with checkpoint 6 in progress: the restore (at another parallelism) commits snapshot 5,
// removes 6's leftovers, and goes on.
func TestSnapshotRestore(t *testing.T) {
	dir := t.TempDir()
	batches, tables := changes(13, 8)
	r := startSnapRun(t, dir, 2, 3)
	for i := range 3 {
		r.feed(batches[i])
	}
	r.prepare(4)
	r.complete(4)
	r.feed(batches[3])
	parts := r.prepare(5) // the checkpoint completes, but the crash comes before the commit
	r.feed(batches[4])
	r.prepare(6)
	if _, latest, hidden := listing(t, dir); latest != "snapshot-4" || len(hidden) != 2 {
		t.Fatalf("before the crash: _latest %q, hidden %v", latest, hidden)
	}

	r2 := startSnapRun(t, dir, 3, 3)
	r2.restore(tables[3], parts)
	snaps, latest, hidden := listing(t, dir)
	if latest != "snapshot-5" || strings.Join(snaps, ",") != "snapshot-4,snapshot-5" || len(hidden) != 0 {
		t.Fatalf("after the restore: snapshots %v, _latest %q, hidden %v", snaps, latest, hidden)
	}
	opstest.Equal(t, snapshotRows(t, dir, "snapshot-5"), formatRows(tables[3]))
	// The restored run's checkpoint ids start again at 1 (as after a savepoint's restore):
	// its snapshots are numbered on from the restored one's.
	r2.feed(batches[4])
	r2.prepare(1)
	r2.complete(1)
	snaps, latest, _ = listing(t, dir)
	if latest != "snapshot-7" || strings.Join(snaps, ",") != "snapshot-4,snapshot-5,snapshot-7" {
		t.Fatalf("after the restored run's checkpoint 1: snapshots %v, _latest %q", snaps, latest)
	}
	opstest.Equal(t, snapshotRows(t, dir, "snapshot-7"), formatRows(tables[4]))

	// Restoring checkpoint 5 again (an older one): snapshot 7, of a checkpoint whose
	// effects the restore undoes, is removed.
	r3 := startSnapRun(t, dir, 1, 3)
	r3.restore(tables[3], parts)
	snaps, latest, _ = listing(t, dir)
	if latest != "snapshot-5" || strings.Join(snaps, ",") != "snapshot-4,snapshot-5" {
		t.Fatalf("after restoring 5 again: snapshots %v, _latest %q", snaps, latest)
	}
}

// TestSnapshotWithoutCheckpoints: a job without checkpoints writes snapshot 0 at the end
// of its input, visible once the job commits; a failed job leaves nothing.
func TestSnapshotWithoutCheckpoints(t *testing.T) {
	batches, tables := changes(17, 5)
	for _, fail := range []bool{false, true} {
		dir := t.TempDir()
		r := startSnapRun(t, dir, 2, 3)
		for _, b := range batches {
			r.feed(b)
		}
		for _, o := range r.ops {
			if err := o.Finish(discardEmitter{}); err != nil {
				t.Fatal(err)
			}
		}
		c := &endCommitter{o: r.ops[0]}
		if fail {
			c.Abort()
			if snaps, latest, hidden := listing(t, dir); len(snaps)+len(hidden) > 0 || latest != "" {
				t.Fatalf("a failed job left %v %v %q", snaps, hidden, latest)
			}
			continue
		}
		if err := c.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, latest, _ := listing(t, dir); latest != "snapshot-0" {
			t.Fatalf("_latest %q", latest)
		}
		opstest.Equal(t, snapshotRows(t, dir, "snapshot-0"), formatRows(tables[len(tables)-1]))
	}
}

// TestCheckSnapshotDir: "error" refuses a directory with snapshots, "overwrite" empties
// it of them; leftovers in progress are removed either way.
func TestCheckSnapshotDir(t *testing.T) {
	dir := t.TempDir()
	for _, d := range []string{"snapshot-3", ".snapshot-4.inprogress", "other"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, PointerFile), []byte("snapshot-3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := CheckSnapshotDir("write_parquet_snapshot", dir, "error")
	if err == nil || !strings.Contains(err.Error(), "snapshot-3") || !strings.Contains(err.Error(), "overwrite") {
		t.Fatalf("got %v", err)
	}
	if err := CheckSnapshotDir("write_parquet_snapshot", dir, "overwrite"); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "other" {
		t.Fatalf("left %v", ents)
	}
}
