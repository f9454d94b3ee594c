package source

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
	_ "github.com/riverbed-engine/riverbed/state/pebblestate" // the Pebble backend, for tests only
)

// A test-only keyed operator: the sum and count of x per key k, checkpointed through
// runtime.KeyedState into one Value table by key group (the same key groups the hash
// exchange routes by).

var xkSchema = arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.PrimitiveTypes.Int64}, {Name: "k", Type: arrow.PrimitiveTypes.Int64}}, nil)

const numKeys = 13

// xkGen generates x = i and k = i mod numKeys.
type xkGen struct{}

func (xkGen) Schema() *arrow.Schema { return xkSchema }
func (xkGen) Rows(mem memory.Allocator, start, end int64) (arrow.RecordBatch, error) {
	xb, kb := array.NewInt64Builder(mem), array.NewInt64Builder(mem)
	defer xb.Release()
	defer kb.Release()
	for i := start; i < end; i++ {
		xb.Append(i)
		kb.Append(i % numKeys)
	}
	x, k := xb.NewArray(), kb.NewArray()
	defer x.Release()
	defer k.Release()
	return array.NewRecordBatch(xkSchema, []arrow.Array{x, k}, end-start), nil
}
func (xkGen) EventTime(i int64) int64 { return i }

type sums struct {
	mu  sync.Mutex
	sum map[int64][2]int64 // key -> (sum, count), summed over subtasks at finish
}

type sumOp struct {
	runtime.BaseOp
	maxPar   int
	acc      map[int64][2]int64
	out      *sums
	failSave *int // fail this many SaveState calls
	mu       *sync.Mutex
}

func (o *sumOp) ProcessBatch(m runtime.Message, _ runtime.Emitter) error {
	defer m.Rec.Release()
	x := m.Rec.Column(0).(*array.Int64).Int64Values()
	k := m.Rec.Column(1).(*array.Int64).Int64Values()
	for i := range x {
		a := o.acc[k[i]]
		o.acc[k[i]] = [2]int64{a[0] + x[i], a[1] + 1}
	}
	return nil
}

func (o *sumOp) Finish(runtime.Emitter) error {
	o.out.mu.Lock()
	defer o.out.mu.Unlock()
	for k, a := range o.acc {
		b := o.out.sum[k]
		o.out.sum[k] = [2]int64{a[0] + b[0], a[1] + b[1]}
	}
	return nil
}

func (o *sumOp) StateTables() []state.TableSpec {
	return []state.TableSpec{{Name: "sums", Kind: state.Value}}
}

func keyGroupOf(k int64, maxPar int) int {
	b := array.NewInt64Builder(memory.DefaultAllocator)
	defer b.Release()
	b.Append(k)
	a := b.NewArray()
	defer a.Release()
	h := make([]uint64, 1)
	expr.HashColumns([]arrow.Array{a}, h)
	return state.KeyGroup(h[0], maxPar)
}

func (o *sumOp) SaveState(b state.Backend) error {
	o.mu.Lock()
	fail := *o.failSave > 0
	if fail {
		*o.failSave--
	}
	o.mu.Unlock()
	if fail {
		return errors.New("disk full (injected)")
	}
	t, _ := b.Table("sums")
	for k, a := range o.acc {
		key := binary.LittleEndian.AppendUint64(nil, uint64(k))
		val := binary.LittleEndian.AppendUint64(binary.LittleEndian.AppendUint64(nil, uint64(a[0])), uint64(a[1]))
		if err := b.Put(t, keyGroupOf(k, o.maxPar), [][]byte{key}, [][]byte{val}); err != nil {
			return err
		}
	}
	return nil
}

func (o *sumOp) LoadState(b state.Backend) error {
	t, _ := b.Table("sums")
	lo, hi := b.KeyGroups()
	for kg := lo; kg < hi; kg++ {
		err := b.Scan(t, kg, func(key, _, value []byte) error {
			k := int64(binary.LittleEndian.Uint64(key))
			o.acc[k] = [2]int64{int64(binary.LittleEndian.Uint64(value)), int64(binary.LittleEndian.Uint64(value[8:]))}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// runKeyed runs generator → hash exchange by k → sumOp at parallelism p, with
// checkpoints every few batches into dir (if every > 0), restoring cp if set.
func runKeyed(t *testing.T, p int, dir string, cp *state.Checkpoint, every int, failSave int, backend string) (map[int64][2]int64, *runtime.Job) {
	t.Helper()
	sums, j, err := runKeyedAs(t, "sum", p, dir, cp, every, failSave, backend, false)
	if err != nil {
		t.Fatal(err)
	}
	return sums, j
}

// runKeyedAs is runKeyed with the sum operator under id opID; it returns the error of
// preparing the job (a restore that does not fit).
func runKeyedAs(t *testing.T, opID string, p int, dir string, cp *state.Checkpoint, every int, failSave int, backend string, allow bool) (map[int64][2]int64, *runtime.Job, error) {
	t.Helper()
	st, err := state.NewStorage(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := st.NextID()
	if cp != nil {
		first = max(first, cp.Manifest.ID+1)
	}
	g := &runtime.Graph{Parallel: p, MaxPar: 128, BatchSize: 64}
	g.NodeID = "gen"
	src := &GenSource{Gen: xkGen{}, Count: 20000, Block: 100}
	ss := g.NewStage("gen", 2)
	ss.Source = func(i int) runtime.SourceFn { return Task(0, src, i, 2, 0) }
	g.NodeID = opID
	ks := g.NewStage("sum", p, runtime.Edge{From: ss, Part: runtime.PartHash, Keys: []expr.Expr{&expr.ColExpr{Idx: 1, Name: "k", Dt: arrow.PrimitiveTypes.Int64}}})
	out := &sums{sum: map[int64][2]int64{}}
	var mu sync.Mutex
	fails := failSave
	ks.Chain("sum", func(int) runtime.Operator {
		return &sumOp{maxPar: 128, acc: map[int64][2]int64{}, out: out, failSave: &fails, mu: &mu}
	})
	j := runtime.NewJob(context.Background(), nil, memory.DefaultAllocator, 1<<20)
	g.NodeID = "rec"
	if every > 0 {
		// A trigger after every few batches of the source (stage "rec" sees no rows).
		ss.Chain("trigger", func(int) runtime.Operator { return &triggerOp{job: j, every: every} })
	}
	j.SetCheckpointing(runtime.CheckpointConfig{Storage: st, MaxParallelism: 128, Restore: cp, FirstID: first, Backend: backend,
		WorkDir: filepath.Join(dir, ".work"), AllowNonRestoredState: allow})
	if err := j.Prepare(g); err != nil {
		return nil, nil, err
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
	return out.sum, j, nil
}

// A checkpoint holding state of an operator the plan no longer has is refused, naming
// the operator, unless its state may be dropped; an operator without state in the
// checkpoint starts empty.
func TestRestoreWithUnknownOperator(t *testing.T) {
	dir := t.TempDir()
	runKeyed(t, 2, dir, nil, 4, 0, state.MemoryBackend)
	st, _ := state.NewStorage(dir, 1000)
	ids, _ := st.Completed()
	var cp *state.Checkpoint
	for _, id := range ids {
		c, err := state.OpenCheckpoint(st.CheckpointDir(id))
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Manifest.Operators) > 0 {
			cp = c
			break
		}
	}
	if cp == nil {
		t.Fatal("no checkpoint with state")
	}
	_, _, err := runKeyedAs(t, "renamed", 2, t.TempDir(), cp, 0, 0, state.MemoryBackend, false)
	if err == nil || !strings.Contains(err.Error(), `operator "sum"`) || !strings.Contains(err.Error(), "allow_non_restored_state") {
		t.Fatalf("restore into a plan without operator sum: %v", err)
	}
	got, _, err := runKeyedAs(t, "renamed", 2, t.TempDir(), cp, 0, 0, state.MemoryBackend, true)
	if err != nil {
		t.Fatal(err)
	}
	// The renamed operator started empty and saw only the rows after the checkpoint.
	all := keyedOracle()
	n, total := int64(0), int64(0)
	for k, v := range got {
		n += v[1]
		total += all[k][1]
	}
	if n == 0 || n >= total {
		t.Fatalf("the renamed operator counted %d of %d rows; it should count only those after the checkpoint", n, total)
	}
}

// triggerOp passes batches on and triggers a checkpoint every few batches, waiting for
// the previous one (whose barrier has passed it) to complete first, so that checkpoints
// are not refused while one is in flight.
type triggerOp struct {
	runtime.BaseOp
	job     *runtime.Job
	every   int
	batches int
	passed  uint64 // the last barrier that passed this operator
}

var (
	triggerMu   sync.Mutex
	lastTrigger = map[*runtime.Job]uint64{}
)

func (o *triggerOp) ProcessControl(m runtime.Message, out runtime.Emitter) error {
	if b, ok := m.Ctl.(runtime.Barrier); ok {
		o.passed = b.ID
	}
	return out.Emit(m)
}

func (o *triggerOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	o.batches++
	if o.batches%o.every == 0 {
		triggerMu.Lock()
		last := lastTrigger[o.job]
		triggerMu.Unlock()
		if last != 0 && o.passed >= last {
			_ = o.job.AwaitCheckpoint(context.Background(), last)
		}
		triggerMu.Lock()
		if id, err := o.job.TriggerCheckpoint(); err == nil {
			lastTrigger[o.job] = id
		}
		triggerMu.Unlock()
	}
	return out.Emit(m)
}

func keyedOracle() map[int64][2]int64 {
	want := map[int64][2]int64{}
	for i := int64(0); i < 20000; i++ {
		a := want[i%numKeys]
		want[i%numKeys] = [2]int64{a[0] + i, a[1] + 1}
	}
	return want
}

func equalSums(a, b map[int64][2]int64) bool {
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

// Keyed state saved at checkpoints and restored at another parallelism (key groups
// redistributed) gives, with the rest of the input replayed, the sums of an
// uninterrupted run, for every checkpoint, with either backend.
func TestKeyedStateRestoresAtOtherParallelism(t *testing.T) {
	want := keyedOracle()
	for _, backend := range []string{state.MemoryBackend, state.PebbleBackend} {
		dir := t.TempDir()
		got, j := runKeyed(t, 2, dir, nil, 4, 0, backend)
		if !equalSums(got, want) {
			t.Fatalf("uninterrupted run: %v, want %v", got, want)
		}
		st, _ := state.NewStorage(dir, 1000)
		ids, _ := st.Completed()
		if len(ids) < 3 {
			t.Fatalf("%d checkpoints completed, want at least 3 (failed: %+v)", len(ids), j.CheckpointCounters())
		}
		withState := 0
		for _, id := range ids {
			cp, err := state.OpenCheckpoint(st.CheckpointDir(id))
			if err != nil {
				t.Fatal(err)
			}
			expect := want
			if len(cp.Manifest.Operators) > 0 {
				withState++
			} else {
				// Taken after the operator had finished (and emitted its sums): every
				// split is read, nothing is left to do.
				expect = map[int64][2]int64{}
			}
			for _, q := range []int{1, 3} {
				got, _ := runKeyed(t, q, t.TempDir(), cp, 0, 0, backend)
				if !equalSums(got, expect) {
					t.Fatalf("%s: restore of checkpoint %d at parallelism 2→%d: %v, want %v", backend, id, q, got, want)
				}
			}
		}
		if withState == 0 {
			t.Fatal("no checkpoint held keyed state")
		}
	}
}

// A snapshot that fails aborts its checkpoint (its directory is removed, the failure is
// counted) and the job goes on; later checkpoints complete.
func TestFailedSnapshotAbortsCheckpoint(t *testing.T) {
	dir := t.TempDir()
	got, j := runKeyed(t, 2, dir, nil, 4, 1, state.MemoryBackend)
	if !equalSums(got, keyedOracle()) {
		t.Fatal("wrong sums after a failed checkpoint")
	}
	c := j.CheckpointCounters()
	if c.Failed != 1 || c.Completed < 2 {
		t.Fatalf("counters %+v: want 1 failed and later ones completed", c)
	}
	if c.LastFailure == "" || !contains(c.LastFailure, "disk full (injected)") {
		t.Fatalf("last failure %q does not name the cause", c.LastFailure)
	}
	st, _ := state.NewStorage(dir, 1000)
	done, _ := st.Completed()
	ents, _ := os.ReadDir(dir)
	chk := 0
	for _, e := range ents {
		if len(e.Name()) > 4 && e.Name()[:4] == "chk-" {
			chk++
		}
	}
	if chk != len(done) {
		t.Fatalf("%d checkpoint directories, %d complete: the aborted one was left behind", chk, len(done))
	}
	cs := j.Checkpoints()
	for k := 1; k < len(cs); k++ {
		if cs[k].ID <= cs[k-1].ID {
			t.Fatalf("checkpoint ids do not increase: %d then %d", cs[k-1].ID, cs[k].ID)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
