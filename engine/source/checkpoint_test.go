package source

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/gen"
	"github.com/riverbed-engine/riverbed/state"
)

// recorder is the end of a test job: it keeps every row (as text) in arrival order, and
// how many rows had arrived when each checkpoint's barrier passed it. Every few batches
// it triggers a checkpoint, so checkpoints fall while the sources are reading.
type recorder struct {
	runtime.BaseOp
	mu      sync.Mutex
	job     *runtime.Job
	every   int
	batches int
	rows    []string
	marks   map[uint64]int
	last    uint64 // the checkpoint it triggered last
	// stopAfter: after that many batches it stops the job with drain (0: never).
	stopAfter int
}

func (r *recorder) ProcessBatch(m runtime.Message, _ runtime.Emitter) error {
	defer m.Rec.Release()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := 0; i < int(m.Rec.NumRows()); i++ {
		var parts []string
		for _, c := range m.Rec.Columns() {
			parts = append(parts, c.ValueStr(i))
		}
		r.rows = append(r.rows, strings.Join(parts, "|"))
	}
	r.batches++
	if r.stopAfter > 0 && r.batches == r.stopAfter {
		r.job.Stop(true)
	}
	if r.every > 0 && r.batches%r.every == 0 {
		if _, passed := r.marks[r.last]; r.last != 0 && passed {
			// Its barrier has passed (so every task has acknowledged it): wait for its
			// commit, so that the next one is not refused.
			r.mu.Unlock()
			_ = r.job.AwaitCheckpoint(context.Background(), r.last)
			r.mu.Lock()
		}
		if id, err := r.job.TriggerCheckpoint(); err == nil {
			r.last = id
		}
	}
	return nil
}

func (r *recorder) ProcessControl(m runtime.Message, out runtime.Emitter) error {
	if b, ok := m.Ctl.(runtime.Barrier); ok {
		r.mu.Lock()
		r.marks[b.ID] = len(r.rows)
		r.mu.Unlock()
	}
	return out.Emit(m)
}

// runSource runs src at parallelism p into a recorder, with checkpoints into dir (every
// `every` batches; 0: none), restoring cp if not nil. It returns the rows, the barrier
// marks and the job.
func runSource(t *testing.T, src Source, p int, dir string, cp *state.Checkpoint, every int) ([]string, map[uint64]int, *runtime.Job) {
	t.Helper()
	return runSourceStop(t, src, p, dir, cp, every, 0)
}

// runSourceStop is runSource, with the job stopped with drain after stopAfter batches (if
// not 0).
func runSourceStop(t *testing.T, src Source, p int, dir string, cp *state.Checkpoint, every, stopAfter int) ([]string, map[uint64]int, *runtime.Job) {
	t.Helper()
	st, err := state.NewStorage(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	first, err := st.NextID()
	if err != nil {
		t.Fatal(err)
	}
	if cp != nil {
		first = max(first, cp.Manifest.ID+1)
	}
	g := &runtime.Graph{Parallel: p, MaxPar: 128, BatchSize: 64}
	g.NodeID = "src"
	ss := g.NewStage("src", p)
	ss.Source = func(i int) runtime.SourceFn { return Task(0, src, i, p, 0) }
	g.NodeID = "rec"
	out := g.NewStage("rec", 1, runtime.Edge{From: ss, Part: runtime.PartGather})
	j := runtime.NewJob(context.Background(), nil, memory.DefaultAllocator, 1<<20)
	rec := &recorder{job: j, every: every, marks: map[uint64]int{}, stopAfter: stopAfter}
	out.Chain("rec", func(int) runtime.Operator { return rec })
	j.SetCheckpointing(runtime.CheckpointConfig{Storage: st, MaxParallelism: 128, Restore: cp, FirstID: first})
	if err := j.Prepare(g); err != nil {
		t.Fatal(err)
	}
	j.Launch(g, func() {}, nil)
	done := make(chan error, 1)
	go func() { done <- j.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute):
		j.Cancel()
		t.Fatal("the job did not end")
	}
	return rec.rows, rec.marks, j
}

// checkExactlyOnce runs a source with checkpoints, then restores every completed
// checkpoint at each parallelism in `to`: the rows before the checkpoint's barrier and
// the rows the restored job reads must together be the rows of the source, each once.
func checkExactlyOnce(t *testing.T, mk func() Source, from int, to []int) {
	t.Helper()
	dir := t.TempDir()
	rows, marks, j := runSource(t, mk(), from, dir, nil, 3)
	want := append([]string(nil), rows...)
	sort.Strings(want)
	for i := 1; i < len(want); i++ {
		if want[i] == want[i-1] {
			t.Fatalf("the uninterrupted run read %q twice", want[i])
		}
	}
	st, _ := state.NewStorage(dir, 1000)
	ids, err := st.Completed()
	if err != nil {
		t.Fatal(err)
	}
	// The periodic ones, taken while reading, and the final one.
	if len(ids) < 3 {
		t.Fatalf("%d checkpoints completed (%v), want at least 3 (checkpoints while reading and the final one)", len(ids), ids)
	}
	if n := j.CheckpointCounters().Failed; n != 0 {
		t.Fatalf("%d checkpoints failed: %s", n, j.CheckpointCounters().LastFailure)
	}
	mid := 0
	for _, id := range ids {
		cp, err := state.OpenCheckpoint(st.CheckpointDir(id))
		if err != nil {
			t.Fatal(err)
		}
		mark, ok := marks[id]
		final := id == ids[len(ids)-1]
		if final {
			mark, ok = len(rows), true
		}
		if !ok {
			// Completed without its barrier reaching the end: every task had finished
			// (a finished task counts as acknowledged), so every row came before it.
			mark = len(rows)
		}
		if mark > 0 && mark < len(rows) {
			mid++
		}
		for _, q := range to {
			rdir := filepath.Join(t.TempDir(), "restored")
			after, _, rj := runSource(t, mk(), q, rdir, cp, 0)
			got := append(append([]string(nil), rows[:mark]...), after...)
			sort.Strings(got)
			if len(got) != len(want) {
				t.Fatalf("restore of checkpoint %d (barrier after %d of %d rows) at parallelism %d→%d: %d rows before + %d after = %d, want %d",
					id, mark, len(rows), from, q, mark, len(after), len(got), len(want))
			}
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("restore of checkpoint %d at parallelism %d→%d: row %q where %q was expected", id, from, q, got[i], want[i])
				}
			}
			if final && len(after) != 0 {
				t.Fatalf("the final checkpoint %d restored read %d rows again", id, len(after))
			}
			for _, s := range rj.Checkpoints() {
				if s.ID <= id {
					t.Fatalf("a job restored from checkpoint %d took checkpoint %d: ids must increase across restarts", id, s.ID)
				}
			}
		}
	}
	if mid == 0 {
		t.Fatalf("no checkpoint fell in the middle of the input (marks %v of %d rows)", marks, len(rows))
	}
}

// seqGen generates the values 0, 1, 2, ... (event time = index).
type seqGen struct{}

func (seqGen) Schema() *arrow.Schema { return xSchema }
func (seqGen) Rows(_ memory.Allocator, start, end int64) (arrow.RecordBatch, error) {
	return seqBatch(start, end-start), nil
}
func (seqGen) EventTime(i int64) int64 { return i }

func TestCheckpointPositionsGenerator(t *testing.T) {
	mk := func() Source { return &GenSource{Gen: seqGen{}, Count: 6000, Block: 50} }
	t.Run("1to3", func(t *testing.T) { checkExactlyOnce(t, mk, 1, []int{1, 3}) })
	t.Run("3to1", func(t *testing.T) { checkExactlyOnce(t, mk, 3, []int{1, 2}) })
	// Many splits: the finished ones are settled into ranges while the job runs.
	many := func() Source { return &GenSource{Gen: seqGen{}, Count: 40000, Block: 40} }
	t.Run("manySplits", func(t *testing.T) { checkExactlyOnce(t, many, 2, []int{3}) })
}

// The block size of a paced generator depends on its parallelism: a restore adopts the
// block size recorded in the checkpoint, so split indices keep their meaning.
func TestCheckpointPositionsGeneratorOtherBlockSize(t *testing.T) {
	blocks := map[*GenSource]bool{}
	var mu sync.Mutex
	n := 0
	mk := func() Source {
		mu.Lock()
		defer mu.Unlock()
		n++
		s := &GenSource{Gen: seqGen{}, Count: 6000, Block: int64(30 + 17*n)}
		blocks[s] = true
		return s
	}
	checkExactlyOnce(t, mk, 3, []int{1, 2})
}

func TestCheckpointPositionsNexmark(t *testing.T) {
	g, err := gen.NewNexmark(gen.NexmarkConfig{Seed: 3}, "bid")
	if err != nil {
		t.Fatal(err)
	}
	mk := func() Source { return &GenSource{Gen: g, Count: 8000, Block: 64} }
	checkExactlyOnce(t, mk, 3, []int{1, 3})
}

func TestCheckpointPositionsParquet(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for f := 0; f < 3; f++ {
		path := filepath.Join(dir, fmt.Sprintf("f%d.parquet", f))
		writeParquet(t, path, 200, seqBatch(int64(f)*10000, 1100)) // row groups of 200 rows
		files = append(files, path)
	}
	ds, err := batch.OpenParquet(files)
	if err != nil {
		t.Fatal(err)
	}
	mk := func() Source { return &ParquetSource{Ds: ds, Projection: []int{0}, BatchSize: 30} }
	t.Run("1to3", func(t *testing.T) { checkExactlyOnce(t, mk, 1, []int{1, 3}) })
	t.Run("3to1", func(t *testing.T) { checkExactlyOnce(t, mk, 3, []int{1, 2}) })
}

func TestCheckpointPositionsArrowTable(t *testing.T) {
	sizes := []int64{70, 0, 130, 45, 200, 90, 10, 300}
	mk := func() Source {
		return &ArrowSource{Reader: tableReader(t, sizes...), BatchSize: 25, Table: true}
	}
	checkExactlyOnce(t, mk, 1, []int{1})
}

// A job stopped with drain ends with a final checkpoint that resumes each source where it
// stopped: a paced generator in the middle of a block, Parquet between row groups, an
// Arrow table between slices. The rows read before the stop and those a job restored from
// the final checkpoint reads (at another parallelism) are the source's rows, each once.
// The oracle is an uninterrupted run (itself checked for duplicates).
func TestDrainedStopResumesWhereTheSourcesStopped(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for f := 0; f < 3; f++ {
		path := filepath.Join(dir, fmt.Sprintf("f%d.parquet", f))
		writeParquet(t, path, 200, seqBatch(int64(f)*10000, 1100))
		files = append(files, path)
	}
	ds, err := batch.OpenParquet(files)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		mk   func() Source
		p    int
		to   []int
	}{
		{"paced generator", func() Source { return &GenSource{Gen: seqGen{}, Count: 6000, Rate: 30000, Block: 400} }, 2, []int{1, 3}},
		{"stopped in a split", func() Source { return chunkedGen{&GenSource{Gen: seqGen{}, Count: 6000, Block: 500}} }, 2, []int{1, 3}},
		{"parquet", func() Source { return &ParquetSource{Ds: ds, Projection: []int{0}, BatchSize: 30} }, 3, []int{1, 2}},
		{"arrow table", func() Source {
			return &ArrowSource{Reader: tableReader(t, 70, 0, 130, 45, 200, 90, 10, 300), BatchSize: 25, Table: true}
		}, 1, []int{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			all, _, _ := runSource(t, c.mk(), c.p, t.TempDir(), nil, 0)
			want := append([]string(nil), all...)
			sort.Strings(want)
			for i := 1; i < len(want); i++ {
				if want[i] == want[i-1] {
					t.Fatalf("the uninterrupted run read %q twice", want[i])
				}
			}
			ckdir := t.TempDir()
			rows, _, j := runSourceStop(t, c.mk(), c.p, ckdir, nil, 3, 12)
			if len(rows) == 0 || len(rows) >= len(want) {
				t.Fatalf("the stopped run read %d of %d rows: the stop did not fall in the middle", len(rows), len(want))
			}
			st, _ := state.NewStorage(ckdir, 1000)
			ids, err := st.Completed()
			if err != nil || len(ids) < 2 {
				t.Fatalf("completed checkpoints %v (%v): want a periodic one and the final one", ids, err)
			}
			if n := j.CheckpointCounters().Failed; n != 0 {
				t.Fatalf("%d checkpoints failed: %s", n, j.CheckpointCounters().LastFailure)
			}
			cp, err := state.OpenCheckpoint(st.CheckpointDir(ids[len(ids)-1]))
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range c.to {
				after, _, _ := runSource(t, c.mk(), q, filepath.Join(t.TempDir(), "restored"), cp, 0)
				got := append(append([]string(nil), rows...), after...)
				sort.Strings(got)
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Fatalf("restored at parallelism %d: %d rows before the stop + %d after = %d, want the %d rows of the source once each",
						q, len(rows), len(after), len(got), len(want))
				}
			}
		})
	}
}

// chunkedGen is a generator whose blocks are read 10 rows at a time, and whose reader
// returns ErrStopped when the job stops, in the middle of a block.
type chunkedGen struct{ *GenSource }

func (s chunkedGen) Open(_ *ReadCtx, sp Split) (SplitReader, error) {
	return &chunkReader{s: s.GenSource, pos: sp.From, end: min((sp.Index+1)*s.Block, s.Count)}, nil
}

type chunkReader struct {
	s   *GenSource
	pos Position
	end int64
}

func (r *chunkReader) Next(rc *ReadCtx) (arrow.RecordBatch, int64, error) {
	select {
	case <-rc.Stopped:
		return nil, 0, ErrStopped
	default:
	}
	if r.pos.Row >= r.end {
		return nil, 0, io.EOF
	}
	time.Sleep(200 * time.Microsecond)
	end := min(r.pos.Row+10, r.end)
	rec, err := r.s.Gen.Rows(rc.Mem, r.pos.Row, end)
	chunk := r.pos.Row
	r.pos.Row = end
	return rec, chunk, err
}

func (r *chunkReader) Position() Position { return r.pos }
func (r *chunkReader) Close()             {}

// The done ranges of a source's splits encode and decode, merging neighbours.
func TestRangeSet(t *testing.T) {
	var r rangeSet
	for _, i := range []int64{5, 3, 4, 0, 9, 1, 7, 8, 2} {
		r.add(i)
	}
	if fmt.Sprint(r) != "[{0 6} {7 10}]" {
		t.Fatalf("ranges %v", r)
	}
	if r.first() != 6 || !r.has(9) || r.has(6) || r.has(10) {
		t.Fatalf("first %d", r.first())
	}
	back, err := decodeRanges(r.encode())
	if err != nil || fmt.Sprint(back) != fmt.Sprint(r) {
		t.Fatalf("decoded %v, %v", back, err)
	}
	for _, bad := range [][]byte{nil, {5}, {1, 4, 2}, {1, 2, 2, 0}} {
		if _, err := decodeRanges(bad); err == nil {
			t.Fatalf("decodeRanges(%v) accepted", bad)
		}
	}
	_ = array.NewInt64Builder
}
