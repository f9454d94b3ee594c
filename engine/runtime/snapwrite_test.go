package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/state"
)

// heldBackend is the memory backend whose Snapshot (the asynchronous write) waits until
// the test releases it, or fails, as heldWrites says.
const heldBackend = "test-held"

type heldWrites struct {
	mu      sync.Mutex
	entered chan struct{} // closed when a write has started
	release chan struct{} // a write waits for it
	fail    error         // the next write fails with it
}

var held heldWrites

// hold makes the next writes wait until the returned function is called.
func (h *heldWrites) hold(fail error) (entered <-chan struct{}, release func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.entered, h.release, h.fail = make(chan struct{}), make(chan struct{}), fail
	var once sync.Once
	rel := h.release
	return h.entered, func() { once.Do(func() { close(rel) }) }
}

type heldStore struct{ state.Backend }

func (s heldStore) Snapshot(w *state.Writer, opID string) error {
	held.mu.Lock()
	entered, release, fail := held.entered, held.release, held.fail
	held.fail = nil
	if entered != nil {
		select {
		case <-entered:
		default:
			close(entered)
		}
	}
	held.mu.Unlock()
	if release != nil {
		<-release
	}
	if fail != nil {
		return fail
	}
	return s.Backend.Snapshot(w, opID)
}

func init() {
	state.RegisterBackend(heldBackend, func(opts state.Options) (state.Backend, error) {
		opts.Backend = state.MemoryBackend
		be, err := state.NewBackend(opts)
		return heldStore{be}, err
	})
}

// countOp counts the rows of each value it sees (keyed state: value -> count).
type countOp struct {
	BaseOp
	mu     sync.Mutex
	counts map[int64]int64
}

func (o *countOp) ProcessBatch(m Message, out Emitter) error {
	o.mu.Lock()
	col := m.Rec.Column(0).(*array.Int64)
	for i := 0; i < col.Len(); i++ {
		o.counts[col.Value(i)]++
	}
	o.mu.Unlock()
	return out.Emit(m)
}

func (o *countOp) StateTables() []state.TableSpec {
	return []state.TableSpec{{Name: "counts", Kind: state.Value}}
}

func (o *countOp) SaveState(b state.Backend) error {
	t, _ := b.Table("counts")
	for k, n := range o.counts {
		key := binary.LittleEndian.AppendUint64(nil, uint64(k))
		val := binary.LittleEndian.AppendUint64(nil, uint64(n))
		if err := b.Put(t, int(k%128), [][]byte{key}, [][]byte{val}); err != nil {
			return err
		}
	}
	return nil
}

func (o *countOp) LoadState(state.Backend) error { return nil }

// savedCounts reads countOp's state from checkpoint dir.
func savedCounts(t *testing.T, dir, opID string) map[int64]int64 {
	t.Helper()
	cp, err := state.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	be, err := state.NewBackend(state.Options{Tables: (&countOp{}).StateTables(), MaxParallelism: 128})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := be.Restore([]*state.Checkpoint{cp}, opID); err != nil {
		t.Fatal(err)
	}
	tb, _ := be.Table("counts")
	out := map[int64]int64{}
	for kg := 0; kg < 128; kg++ {
		err := be.Scan(tb, kg, func(key, _, value []byte) error {
			out[int64(binary.LittleEndian.Uint64(key))] = int64(binary.LittleEndian.Uint64(value))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// barrierSink records the rows and barriers that reach the last stage.
type barrierSink struct {
	BaseOp
	mu       sync.Mutex
	rows     int
	barriers []uint64
	sawOne   chan struct{} // closed at the first barrier
}

func (o *barrierSink) ProcessBatch(m Message, _ Emitter) error {
	o.mu.Lock()
	o.rows += int(m.Rec.NumRows())
	o.mu.Unlock()
	m.Rec.Release()
	return nil
}

func (o *barrierSink) ProcessControl(m Message, out Emitter) error {
	if b, ok := m.Ctl.(Barrier); ok {
		o.mu.Lock()
		if len(o.barriers) == 0 {
			close(o.sawOne)
		}
		o.barriers = append(o.barriers, b.ID)
		o.mu.Unlock()
	}
	return out.Emit(m)
}

func (o *barrierSink) rowCount() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.rows
}

// heldJob runs source → countOp (keyed state on the held backend) → barrierSink, one
// subtask each. The source emits value i in batch i, injecting barriers between batches
// (with rows >= 0, it waits for one after rows/2 batches if none came before), and after each barrier waits on
// next before going on; it ends after rows batches, or runs until stopped if rows < 0.
type heldJob struct {
	j       *Job
	count   *countOp
	sink    *barrierSink
	storage *state.Storage
	next    chan struct{}
	// sentAt is how many batches the source had sent when it injected each barrier.
	mu     sync.Mutex
	sentAt map[uint64]int64
}

func startHeld(t *testing.T, rows int64, fail func(i int64) error) *heldJob {
	t.Helper()
	h := &heldJob{count: &countOp{counts: map[int64]int64{}}, sink: &barrierSink{sawOne: make(chan struct{})},
		next: make(chan struct{}), sentAt: map[uint64]int64{}}
	g := &Graph{Parallel: 1, MaxPar: 128, BatchSize: 10}
	g.NodeID = "src"
	src := g.NewStage("src", 1)
	src.Source = func(int) SourceFn {
		return func(tc *TaskCtx, out Emitter) error {
			for i := int64(0); rows < 0 || i < rows; i++ {
				if tc.Job.StopSources.Load() {
					return nil
				}
				b, ok := tc.PollBarrier()
				if rows >= 0 && i == rows/2 && !ok && len(h.sentAt) == 0 {
					var err error
					if b, err = waitBarrier(tc); err != nil {
						return err
					}
					ok = true
				}
				if ok {
					h.mu.Lock()
					h.sentAt[b.ID] = i
					h.mu.Unlock()
					if err := tc.InjectBarrier(b); err != nil {
						return err
					}
					if b.Final && tc.AwaitCheckpoint(b.ID) == nil {
						return nil
					}
					select {
					case <-h.next:
					case <-tc.Ctx.Done():
						return tc.Ctx.Err()
					}
				}
				if fail != nil {
					if err := fail(i); err != nil {
						return err
					}
				}
				if err := out.Emit(Message{Kind: MsgBatch, Rec: filled(i, 1)}); err != nil {
					return err
				}
				if rows < 0 {
					time.Sleep(time.Millisecond)
				}
			}
			return nil
		}
	}
	g.NodeID = "count"
	cs := g.NewStage("count", 1, Edge{From: src, Part: partForward})
	cs.Chain("count", func(int) Operator { return h.count })
	g.NodeID = "sink"
	ss := g.NewStage("sink", 1, Edge{From: cs, Part: partForward})
	ss.Chain("sink", func(int) Operator { return h.sink })
	var err error
	h.storage, err = state.NewStorage(t.TempDir(), 5)
	if err != nil {
		t.Fatal(err)
	}
	h.j = NewJob(context.Background(), nil, memory.DefaultAllocator, 0)
	h.j.SetCheckpointing(CheckpointConfig{Storage: h.storage, MaxParallelism: 128, Backend: heldBackend})
	h.j.Launch(g, func() {}, nil)
	return h
}

func (h *heldJob) wait(t *testing.T) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- h.j.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(2 * time.Minute):
		h.j.Cancel()
		t.Fatal("the job did not end")
		return nil
	}
}

// within waits for ch, failing the test if it does not come.
func within(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(time.Minute):
		t.Fatalf("%s did not happen", what)
	}
}

// noGoroutinesLeft waits until the number of goroutines is back to n.
func noGoroutinesLeft(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); goruntime.NumGoroutine() > n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before the job:\n%s", goruntime.NumGoroutine(), n, buf[:goruntime.Stack(buf, true)])
		}
	}
}

// expectedCounts is what countOp holds after batches [0, n): one row of each value.
func expectedCounts(n int64) map[int64]int64 {
	m := map[int64]int64{}
	for i := int64(0); i < n; i++ {
		m[i] = 1
	}
	return m
}

func sameCounts(a, b map[int64]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// The barrier goes downstream while the task's state is still being written, the rows
// after the barrier are processed meanwhile (they change the operator's state), and the
// checkpoint holds the state as it was at the barrier; it completes only once the write
// has ended.
func TestBarrierPassesBeforeTheWriteEnds(t *testing.T) {
	before := goruntime.NumGoroutine()
	entered, release := held.hold(nil)
	defer release()
	const rows = 200
	h := startHeld(t, rows, nil)
	id, err := h.j.TriggerCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	within(t, entered, "the write of the checkpoint")
	within(t, h.sink.sawOne, "the barrier reaching the sink")
	close(h.next) // the source goes on: rows after the barrier
	for deadline := time.Now().Add(time.Minute); h.sink.rowCount() < rows; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the rows after the barrier did not pass while the write was held: %d of %d", h.sink.rowCount(), rows)
		}
	}
	if c := h.j.CheckpointCounters(); !c.InProgress || c.Completed != 0 {
		t.Fatalf("counters %+v: the checkpoint should still be in progress", c)
	}
	release()
	if err := h.j.AwaitCheckpoint(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	if err := h.wait(t); err != nil {
		t.Fatal(err)
	}
	if got, want := h.count.counts, expectedCounts(rows); !sameCounts(got, want) {
		t.Fatalf("the operator counted %d values, want %d", len(got), len(want))
	}
	cs := h.j.Checkpoints()
	if len(cs) == 0 || cs[0].ID != id {
		t.Fatalf("checkpoints %+v, want %d first", cs, id)
	}
	h.mu.Lock()
	at := h.sentAt[id]
	h.mu.Unlock()
	if got, want := savedCounts(t, cs[0].Path, "count"), expectedCounts(at); !sameCounts(got, want) {
		t.Fatalf("checkpoint %d holds %d values, want the %d counted before its barrier", id, len(got), len(want))
	}
	noGoroutinesLeft(t, before)
}

// A write that fails fails its checkpoint (whose directory is deleted), not the job: the
// next checkpoint completes.
func TestFailedWriteFailsTheCheckpointOnly(t *testing.T) {
	before := goruntime.NumGoroutine()
	entered, release := held.hold(errors.New("disk full (injected)"))
	release()
	h := startHeld(t, -1, nil)
	id, err := h.j.TriggerCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	within(t, entered, "the write of the checkpoint")
	close(h.next)
	err = h.j.AwaitCheckpoint(context.Background(), id)
	if err == nil || !errorContains(err, "disk full (injected)") {
		t.Fatalf("checkpoint %d: %v, want the injected failure", id, err)
	}
	st, err := h.j.Checkpoint(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	at := h.sentAt[st.ID]
	h.mu.Unlock()
	if got, want := savedCounts(t, st.Path, "count"), expectedCounts(at); !sameCounts(got, want) {
		t.Fatalf("checkpoint %d holds %d values, want %d", st.ID, len(got), len(want))
	}
	h.j.Stop(true)
	if err := h.wait(t); err != nil {
		t.Fatal(err)
	}
	if c := h.j.CheckpointCounters(); c.Failed != 1 || c.Completed < 2 {
		t.Fatalf("counters %+v, want one failed and the later ones completed", c)
	}
	// Deleted by the abort, or by the last write still running in it (by the job's end).
	if _, err := os.Stat(h.storage.CheckpointDir(id)); !os.IsNotExist(err) {
		t.Fatalf("the failed checkpoint's directory is still there (%v)", err)
	}
	noGoroutinesLeft(t, before)
}

func errorContains(err error, s string) bool { return err != nil && strings.Contains(err.Error(), s) }

// A savepoint, and a stop with a savepoint, end only once every write has: while the write
// is held they have not returned, the savepoint has no manifest yet and the job runs on.
func TestSavepointAndStopWaitForTheWrite(t *testing.T) {
	for _, stop := range []bool{false, true} {
		t.Run(fmt.Sprintf("stop=%v", stop), func(t *testing.T) {
			before := goruntime.NumGoroutine()
			entered, release := held.hold(nil)
			defer release()
			h := startHeld(t, -1, nil)
			close(h.next)
			dir := filepath.Join(t.TempDir(), "sp")
			type result struct {
				st  CheckpointStats
				err error
			}
			res := make(chan result, 1)
			go func() {
				var r result
				if stop {
					r.st, r.err = h.j.StopWithSavepoint(context.Background(), dir)
				} else {
					r.st, r.err = h.j.Savepoint(context.Background(), dir)
				}
				res <- r
			}()
			within(t, entered, "the write of the savepoint")
			within(t, h.sink.sawOne, "the barrier reaching the sink")
			select {
			case r := <-res:
				t.Fatalf("the savepoint returned (%v) while a write was held", r.err)
			case <-h.j.done:
				t.Fatal("the job ended while a write was held")
			default:
			}
			if _, err := os.Stat(filepath.Join(dir, state.MetadataFile)); !os.IsNotExist(err) {
				t.Fatalf("the savepoint has a manifest while a write is held (%v)", err)
			}
			release()
			r := <-res
			if r.err != nil {
				t.Fatal(r.err)
			}
			h.mu.Lock()
			at := h.sentAt[r.st.ID]
			h.mu.Unlock()
			if got, want := savedCounts(t, dir, "count"), expectedCounts(at); !sameCounts(got, want) {
				t.Fatalf("the savepoint holds %d values, want %d", len(got), len(want))
			}
			if !stop {
				h.j.Stop(true)
			}
			if err := h.wait(t); err != nil {
				t.Fatal(err)
			}
			noGoroutinesLeft(t, before)
		})
	}
}

// A job that fails while a write is held ends once the write has stopped: the checkpoint
// is aborted, its directory deleted, and no goroutine is left.
func TestJobFailureStopsTheWrite(t *testing.T) {
	before := goruntime.NumGoroutine()
	entered, release := held.hold(nil)
	defer release()
	failed := make(chan struct{})
	var once sync.Once
	var h *heldJob
	h = startHeld(t, -1, func(i int64) error {
		select {
		case <-entered:
			once.Do(func() { close(failed) })
			return errors.New("source broke (injected)")
		default:
			return nil
		}
	})
	id, err := h.j.TriggerCheckpoint()
	if err != nil {
		t.Fatal(err)
	}
	close(h.next)
	within(t, failed, "the source failing")
	// The job cannot end while the write is held: the task waits for it.
	select {
	case <-h.j.done:
		t.Fatal("the job ended while a write was held")
	default:
	}
	release()
	if err := h.wait(t); err == nil || !errorContains(err, "source broke (injected)") {
		t.Fatalf("the job ended with %v, want the source's failure", err)
	}
	if err := h.j.AwaitCheckpoint(context.Background(), id); err == nil {
		t.Fatalf("checkpoint %d completed although the job failed", id)
	}
	if _, err := os.Stat(h.storage.CheckpointDir(id)); !os.IsNotExist(err) {
		t.Fatalf("the aborted checkpoint's directory is still there (%v)", err)
	}
	noGoroutinesLeft(t, before)
}
