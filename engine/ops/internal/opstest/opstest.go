package opstest

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
	_ "github.com/riverbed-engine/riverbed/state/pebblestate" // the Pebble backend
)

// Step is one message of an input stream: a batch (Rec set) or a watermark.
type Step struct {
	Side  int               // input edge of a batch (join: 0 left, 1 right)
	Rec   arrow.RecordBatch // nil for a watermark
	Seq   runtime.Seq
	WM    int64 // a watermark step's watermark; a batch's split watermark if HasWM
	HasWM bool
	// End (no Rec): input Side has ended whole; an operator that is a runtime.InputEnder
	// is told. Instances restored after it are told again at once, as a restored job's
	// ended inputs end again.
	End bool
}

// Op describes the operator under test.
type Op struct {
	// New returns a fresh, unopened instance (the same configuration every time).
	New func() runtime.Operator
	// Keys evaluates the key columns a batch of side is routed by (what the hash exchange
	// evaluates). Nil for an operator without keys, which runs at parallelism 1 (every
	// row is in the key group of hash 0).
	Keys func(ec *expr.EvalCtx, side int, rec arrow.RecordBatch) ([]arrow.Array, error)
	// MaxPar is the number of key groups (128 if 0).
	MaxPar int
}

// Phase runs the steps up to (not including) Until at Parallel subtasks; a checkpoint is
// taken at its end when another phase follows, and restored into the next phase's
// subtasks.
type Phase struct {
	Parallel int
	Until    int
	// Keep: the checkpoint is taken, but the same instances go on (as after a checkpoint
	// that no failure follows); the next phase must have the same parallelism.
	Keep bool
}

// Plans returns the runs every operator test makes over n steps: straight (at
// parallelism 1 and 4); checkpointed every `every` steps (at parallelism 1 and 3), each
// checkpoint restored into fresh instances; the same checkpoints taken while the
// instances go on (saving must not disturb them); and rescaled 1 -> 4, 2 -> 1,
// 4 -> 3 -> 1, 1 -> 2 -> 4, with checkpoints at halves or thirds.
func Plans(n, every int) map[string][]Phase {
	var cps []Phase
	for at := every; at < n; at += every {
		cps = append(cps, Phase{Parallel: 1, Until: at})
	}
	cps = append(cps, Phase{Parallel: 1, Until: n})
	var keep []Phase
	for _, p := range cps {
		keep = append(keep, Phase{Parallel: 2, Until: p.Until, Keep: true})
	}
	third := n / 3
	return map[string][]Phase{
		"saves, no restore": keep,
		"straight":          {{Parallel: 1, Until: n}},
		"checkpoints":       cps,
		"rescale 1->4":      {{Parallel: 1, Until: n / 2}, {Parallel: 4, Until: n}},
		"rescale 2->1":      {{Parallel: 2, Until: n / 2}, {Parallel: 1, Until: n}},
		"rescale 4->3->1":   {{Parallel: 4, Until: third}, {Parallel: 3, Until: 2 * third}, {Parallel: 1, Until: n}},
		"rescale 1->2->4":   {{Parallel: 1, Until: third}, {Parallel: 2, Until: 2 * third}, {Parallel: 4, Until: n}},
		"straight at p=4":   {{Parallel: 4, Until: n}},
		"checkpoints at 3":  scale(cps, 3),
	}
}

func maxParallel(ps []Phase) int {
	m := 0
	for _, p := range ps {
		m = max(m, p.Parallel)
	}
	return m
}

func scale(ps []Phase, p int) []Phase {
	out := make([]Phase, len(ps))
	for i, ph := range ps {
		out[i] = Phase{Parallel: p, Until: ph.Until}
	}
	return out
}

// pebblePlans are the plans also run with the Pebble backend (every plan runs with the
// memory backend): straight, checkpoints at one parallelism, and rescaling up and down.
// With Pebble, operators also spill the rows they hold, as in a job with
// state_backend="pebble", under a memory cap of 1 byte: every chunk but the two used
// last is written to the spill store and read back when used.
var pebblePlans = map[string]bool{"straight": true, "checkpoints": true, "rescale 1->4": true, "rescale 4->3->1": true}

// Backends are the state backends runs are made with.
var Backends = []string{state.MemoryBackend, state.PebbleBackend}

// RunAll runs every plan of Plans (some also with Pebble: pebblePlans) and checks each
// output against want (rows formatted by Row, any order).
func RunAll(t *testing.T, op Op, steps []Step, every int, want []string) {
	t.Helper()
	sort.Strings(want)
	for name, phases := range Plans(len(steps), every) {
		for _, be := range Backends {
			if be != Backends[0] && !pebblePlans[name] {
				continue // Pebble is slower: a few plans cover it
			}
			if op.Keys == nil && maxParallel(phases) > 1 {
				continue // an operator without keys runs at parallelism 1
			}
			t.Run(name+"/"+be, func(t *testing.T) {
				got := Run(t, op, steps, phases, be)
				Equal(t, got, want)
			})
		}
	}
}

// Equal fails t unless got and want hold the same rows (both sorted).
func Equal(t *testing.T, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") == strings.Join(want, "\n") {
		return
	}
	gs, ws := map[string]int{}, map[string]int{}
	for _, r := range got {
		gs[r]++
	}
	for _, r := range want {
		ws[r]++
	}
	var missing, extra []string
	for r, n := range ws {
		if gs[r] < n {
			missing = append(missing, fmt.Sprintf("%s (x%d)", r, n-gs[r]))
		}
	}
	for r, n := range gs {
		if ws[r] < n {
			extra = append(extra, fmt.Sprintf("%s (x%d)", r, n-ws[r]))
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	t.Fatalf("%d rows, want %d\nmissing:\n  %s\nextra:\n  %s", len(got), len(want),
		strings.Join(head(missing), "\n  "), strings.Join(head(extra), "\n  "))
}

func head(s []string) []string {
	if len(s) > 20 {
		return append(s[:20], "...")
	}
	return s
}

// collector gathers an operator's output rows.
type collector struct {
	rows []string
}

func (c *collector) Emit(m runtime.Message) error {
	if m.Kind != runtime.MsgBatch {
		return nil
	}
	c.rows = append(c.rows, Rows(m.Rec)...)
	m.Rec.Release()
	return nil
}

type instance struct {
	op runtime.Operator
	tc *runtime.TaskCtx
}

// Run feeds steps through the phases and returns the output rows, sorted. The final
// watermark and Finish end the last phase.
func Run(t *testing.T, op Op, steps []Step, phases []Phase, backend string) []string {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	maxPar := op.MaxPar
	if maxPar == 0 {
		maxPar = state.DefaultMaxParallelism
	}
	out := &collector{}
	var cp *state.Checkpoint
	storage, err := state.NewStorage(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	const opID = "op-under-test"
	from := 0
	ec := expr.NewEvalCtx(ctx, mem)
	var insts []instance
	var ended []int // inputs ended so far
	endInput := func(side int) {
		for _, in := range insts {
			if e, ok := in.op.(runtime.InputEnder); ok {
				if err := e.EndInput(side, out); err != nil {
					t.Fatalf("end of input %d: %v", side, err)
				}
			}
		}
	}
	for pi, ph := range phases {
		if pi == 0 || !phases[pi-1].Keep {
			insts = open(t, op, ctx, mem, ph.Parallel, maxPar, cp, backend, opID)
			for _, side := range ended {
				endInput(side)
			}
		}
		for _, st := range steps[from:ph.Until] {
			if st.End {
				ended = append(ended, st.Side)
				endInput(st.Side)
				continue
			}
			if st.Rec == nil {
				for _, in := range insts {
					if err := in.op.ProcessWatermark(st.WM, out); err != nil {
						t.Fatalf("watermark %d: %v", st.WM, err)
					}
				}
				continue
			}
			parts := route(t, ec, op, st, maxPar, len(insts))
			for s, part := range parts {
				if part == nil {
					continue
				}
				m := runtime.Message{Kind: runtime.MsgBatch, Rec: part, Seq: st.Seq, WM: st.WM, HasWM: st.HasWM, Side: st.Side}
				if err := insts[s].op.ProcessBatch(m, out); err != nil {
					t.Fatalf("batch: %v", err)
				}
			}
		}
		from = ph.Until
		if pi == len(phases)-1 {
			for _, in := range insts {
				if err := in.op.ProcessWatermark(runtime.WatermarkMax, out); err != nil {
					t.Fatal(err)
				}
				if err := in.op.Finish(out); err != nil {
					t.Fatal(err)
				}
				in.op.Close()
			}
			break
		}
		for _, in := range insts {
			// What an operator holds back goes out ahead of the barrier, as the runtime
			// does once a barrier is aligned.
			if pb, ok := in.op.(runtime.PreBarrier); ok {
				if err := pb.FlushBeforeBarrier(out); err != nil {
					t.Fatalf("flush before barrier: %v", err)
				}
			}
		}
		cp = checkpoint(t, storage, uint64(pi+1), insts, backend, maxPar, opID, !ph.Keep)
		if ph.Keep {
			cp = nil
		}
	}
	sort.Strings(out.rows)
	return out.rows
}

// open opens parallel fresh instances of op and, with a checkpoint, restores each from
// the key groups it owns.
func open(t *testing.T, op Op, ctx context.Context, mem memory.Allocator, parallel, maxPar int, cp *state.Checkpoint, backend, opID string) []instance {
	t.Helper()
	insts := make([]instance, parallel)
	for s := range insts {
		o := op.New()
		tc := runtime.NewStandaloneTaskCtx(ctx, mem, s, parallel, maxPar)
		if backend == state.PebbleBackend {
			tc.Job.Spill = runtime.SpillConfig{Backend: backend, MemoryLimit: 1, Dir: spillDir(t)}
		}
		if err := o.Open(tc); err != nil {
			t.Fatal(err)
		}
		insts[s] = instance{o, tc}
		if cp == nil {
			continue
		}
		ks := o.(runtime.KeyedState)
		a, b := state.Range(s, maxPar, parallel)
		be, err := state.NewBackend(state.Options{Backend: backend, Tables: ks.StateTables(), MaxParallelism: maxPar,
			KeyGroupStart: a, KeyGroupEnd: b, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := be.Restore([]*state.Checkpoint{cp}, opID); err != nil {
			t.Fatal(err)
		}
		if err := ks.LoadState(be); err != nil {
			t.Fatalf("LoadState: %v", err)
		}
		if err := be.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return insts
}

// spillDir is the directory operators of a test spill into; it must be empty once they
// are closed (each removes its own spill store).
func spillDir(t *testing.T) string {
	dir := filepath.Join(t.TempDir(), "spill")
	t.Cleanup(func() {
		if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
			t.Errorf("the operators left %d spill stores behind", len(ents))
		}
	})
	return dir
}

// checkpoint saves every instance's state into a new checkpoint, closes the instances
// (if closeOps) and returns the checkpoint as read back from storage.
func checkpoint(t *testing.T, storage *state.Storage, id uint64, insts []instance, backend string, maxPar int, opID string, closeOps bool) *state.Checkpoint {
	t.Helper()
	w, err := storage.Begin(id)
	if err != nil {
		t.Fatal(err)
	}
	for s, in := range insts {
		ks := in.op.(runtime.KeyedState)
		a, b := state.Range(s, maxPar, len(insts))
		be, err := state.NewBackend(state.Options{Backend: backend, Tables: ks.StateTables(), MaxParallelism: maxPar,
			KeyGroupStart: a, KeyGroupEnd: b, Dir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if err := ks.SaveState(be); err != nil {
			t.Fatalf("SaveState: %v", err)
		}
		if err := be.Snapshot(w, opID); err != nil {
			t.Fatal(err)
		}
		if err := be.Close(); err != nil {
			t.Fatal(err)
		}
		if closeOps {
			in.op.Close()
		}
	}
	if _, err := w.Commit(state.JobOptions{MaxParallelism: maxPar}); err != nil {
		t.Fatal(err)
	}
	cp, err := state.OpenCheckpoint(storage.CheckpointDir(id))
	if err != nil {
		t.Fatal(err)
	}
	return cp
}

// route splits a batch by the subtask owning each row's key group (what the hash
// exchange does); parts[s] is nil when subtask s gets no row.
func route(t *testing.T, ec *expr.EvalCtx, op Op, st Step, maxPar, p int) []arrow.RecordBatch {
	t.Helper()
	n := int(st.Rec.NumRows())
	hs := make([]uint64, n)
	if op.Keys != nil {
		keys, err := op.Keys(ec, st.Side, st.Rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			expr.HashColumns(keys, hs)
		}
		runtime.ReleaseAll(keys)
	}
	idx := make([][]int32, p)
	for i, h := range hs {
		s := state.Subtask(state.KeyGroup(h, maxPar), maxPar, p)
		idx[s] = append(idx[s], int32(i))
	}
	parts := make([]arrow.RecordBatch, p)
	for s, rows := range idx {
		if len(rows) == 0 {
			continue
		}
		part, err := runtime.TakeRows(ec, st.Rec, rows)
		if err != nil {
			t.Fatal(err)
		}
		parts[s] = part
	}
	return parts
}

// Rows formats every row of rec with Row.
func Rows(rec arrow.RecordBatch) []string {
	out := make([]string, rec.NumRows())
	vals := make([]any, rec.NumCols())
	for i := range out {
		for c, col := range rec.Columns() {
			vals[c] = Value(col, i)
		}
		out[i] = Row(vals...)
	}
	return out
}

// Value is row i of col as a Go value: nil, int64, uint64, float64, bool or string
// (temporal values as their int64 count, decimals as their text, fixed-size binaries as
// strings, float16s as float64s).
func Value(col arrow.Array, i int) any {
	if col.IsNull(i) {
		return nil
	}
	switch a := col.(type) {
	case *array.Boolean:
		return a.Value(i)
	case *array.Float64:
		return a.Value(i)
	case *array.Float32:
		return float64(a.Value(i))
	case *array.String:
		return a.Value(i)
	case *array.LargeString:
		return a.Value(i)
	case *array.Binary:
		return string(a.Value(i))
	case *array.Uint64:
		return a.Value(i)
	case *array.Uint32:
		return uint64(a.Value(i))
	case *array.Decimal128:
		return a.Value(i).ToString(a.DataType().(*arrow.Decimal128Type).Scale)
	case *array.FixedSizeBinary:
		return string(a.Value(i))
	case *array.Float16:
		return float64(a.Value(i).Float32())
	}
	return expr.Int64Getter(col)(i)
}

// Row formats one row of Go values (nil, integers, floats, bool, string) so that equal
// rows format equally. Floats are rounded to 9 significant digits: a reference that sums
// in another order agrees.
func Row(vals ...any) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteString(" | ")
		}
		switch x := v.(type) {
		case nil:
			b.WriteString("null")
		case float64:
			if math.IsNaN(x) {
				b.WriteString("NaN")
			} else {
				fmt.Fprintf(&b, "%.9g", x)
			}
		case string:
			fmt.Fprintf(&b, "%q", x)
		case int:
			fmt.Fprintf(&b, "%d", x)
		case int32:
			fmt.Fprintf(&b, "%d", x)
		default:
			fmt.Fprintf(&b, "%v", x)
		}
	}
	return b.String()
}

// Batch builds a record batch of schema from rows of Go values (nil for null; int64 for
// signed integer and temporal columns and for decimals (unscaled), uint64, float64 (also
// for float16), string (also for fixed-size binaries), bool), with the default allocator.
func Batch(schema *arrow.Schema, rows [][]any) arrow.RecordBatch {
	b := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	defer b.Release()
	for _, r := range rows {
		for c, v := range r {
			fb := b.Field(c)
			if v == nil {
				fb.AppendNull()
				continue
			}
			switch fb := fb.(type) {
			case *array.Int64Builder:
				fb.Append(v.(int64))
			case *array.Int32Builder:
				fb.Append(int32(v.(int64)))
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(int64)))
			case *array.Float64Builder:
				fb.Append(v.(float64))
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.BooleanBuilder:
				fb.Append(v.(bool))
			case *array.Int8Builder:
				fb.Append(int8(v.(int64)))
			case *array.Uint64Builder:
				fb.Append(v.(uint64))
			case *array.Float32Builder:
				fb.Append(float32(v.(float64)))
			case *array.Date32Builder:
				fb.Append(arrow.Date32(v.(int64)))
			case *array.Decimal128Builder:
				fb.Append(decimal128.FromI64(v.(int64)))
			case *array.FixedSizeBinaryBuilder:
				fb.Append([]byte(v.(string)))
			case *array.Float16Builder:
				fb.Append(float16.New(float32(v.(float64))))
			default:
				panic(fmt.Sprintf("opstest.Batch: unsupported column type %s", schema.Field(c).Type))
			}
		}
	}
	return b.NewRecordBatch()
}

// Col compiles a reference to column name of schema.
func Col(schema *arrow.Schema, name string) expr.Expr {
	e, err := (&expr.CompileScope{Schema: schema, Op: "test"}).Compile(&plan.Expr{Col: &name})
	if err != nil {
		panic(err)
	}
	return e
}

// KeysOf returns an Op.Keys function evaluating exprs (per side) on a batch.
func KeysOf(exprs ...[]expr.Expr) func(ec *expr.EvalCtx, side int, rec arrow.RecordBatch) ([]arrow.Array, error) {
	return func(ec *expr.EvalCtx, side int, rec arrow.RecordBatch) ([]arrow.Array, error) {
		return runtime.EvalColumns(ec, exprs[side], rec)
	}
}

// Release releases the batches of steps.
func Release(steps []Step) {
	for _, s := range steps {
		if s.Rec != nil {
			s.Rec.Release()
		}
	}
}

// RestoreError runs op a over steps at parallelism 1, checkpoints it, and restores the
// checkpoint into op b (another version of the operator); it returns the error of
// Restore or LoadState (nil if both succeed).
func RestoreError(t *testing.T, a, b Op, steps []Step, backend string) error {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	maxPar := state.DefaultMaxParallelism
	storage, err := state.NewStorage(t.TempDir(), 2)
	if err != nil {
		t.Fatal(err)
	}
	o := a.New()
	tc := runtime.NewStandaloneTaskCtx(ctx, mem, 0, 1, maxPar)
	if err := o.Open(tc); err != nil {
		t.Fatal(err)
	}
	out := &collector{}
	for _, st := range steps {
		if st.End {
			continue
		}
		if st.Rec == nil {
			if err := o.ProcessWatermark(st.WM, out); err != nil {
				t.Fatal(err)
			}
			continue
		}
		st.Rec.Retain()
		if err := o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq, WM: st.WM, HasWM: st.HasWM, Side: st.Side}, out); err != nil {
			t.Fatal(err)
		}
	}
	const opID = "op-under-test"
	cp := checkpoint(t, storage, 1, []instance{{o, tc}}, backend, maxPar, opID, true)
	n := b.New()
	if err := n.Open(runtime.NewStandaloneTaskCtx(ctx, mem, 0, 1, maxPar)); err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	ks := n.(runtime.KeyedState)
	be, err := state.NewBackend(state.Options{Backend: backend, Tables: ks.StateTables(), MaxParallelism: maxPar, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := be.Restore([]*state.Checkpoint{cp}, opID); err != nil {
		return err
	}
	return ks.LoadState(be)
}

// SavepointTable runs op over steps at parallelism 1 (without the final watermark), takes
// a savepoint with the Pebble backend (which exports the portable Arrow files), and reads
// table back from the savepoint's files as a reader without riverbed would: each file
// t-<table>.arrow is an Arrow IPC file whose value column holds Arrow IPC streams. It
// returns the records of those streams (the caller releases them).
func SavepointTable(t *testing.T, op Op, steps []Step, table string) []arrow.RecordBatch {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ctx := context.Background()
	maxPar := op.MaxPar
	if maxPar == 0 {
		maxPar = state.DefaultMaxParallelism
	}
	insts := open(t, op, ctx, mem, 1, maxPar, nil, "", "")
	out := &collector{}
	for _, st := range steps {
		if st.End {
			continue
		}
		if st.Rec == nil {
			if err := insts[0].op.ProcessWatermark(st.WM, out); err != nil {
				t.Fatal(err)
			}
			continue
		}
		st.Rec.Retain()
		m := runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq, WM: st.WM, HasWM: st.HasWM, Side: st.Side}
		if err := insts[0].op.ProcessBatch(m, out); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(t.TempDir(), "savepoint")
	w, err := state.BeginSavepoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	ks := insts[0].op.(runtime.KeyedState)
	be, err := state.NewBackend(state.Options{Backend: state.PebbleBackend, Tables: ks.StateTables(), MaxParallelism: maxPar, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if err := ks.SaveState(be); err != nil {
		t.Fatal(err)
	}
	if err := be.Snapshot(w, "op"); err != nil {
		t.Fatal(err)
	}
	be.Close()
	insts[0].op.Close()
	if _, err := w.Commit(state.JobOptions{MaxParallelism: maxPar}); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*", "t-"+table+".arrow"))
	if err != nil || len(files) != 1 {
		t.Fatalf("savepoint files of table %s: %v %v", table, files, err)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := ipc.NewFileReader(f)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var recs []arrow.RecordBatch
	for i := 0; i < r.NumRecords(); i++ {
		rec, err := r.RecordBatch(i)
		if err != nil {
			t.Fatal(err)
		}
		vals := rec.Column(rec.Schema().FieldIndices("value")[0]).(*array.Binary)
		for j := 0; j < vals.Len(); j++ {
			sr, err := ipc.NewReader(bytes.NewReader(vals.Value(j)))
			if err != nil {
				t.Fatal(err)
			}
			for sr.Next() {
				b := sr.RecordBatch()
				b.Retain()
				recs = append(recs, b)
			}
			if sr.Err() != nil {
				t.Fatal(sr.Err())
			}
			sr.Release()
		}
	}
	return recs
}

// CapUse is what the memory cap of a spilling operator subtask accounts for (its
// keyed.SpillStats): rows in memory, its index of them, the spill store's buffers, and
// the bytes it spilled.
type CapUse struct{ Resident, Index, Store, Spilled int64 }

// Held is what counts against the cap.
func (u CapUse) Held() int64 { return u.Resident + u.Index + u.Store }

// WithinCap feeds steps to one subtask of op that spills to Pebble under a memory cap of
// capBytes (as with state_backend="pebble" and state_memory_limit), then the final
// watermark and Finish. After every step, what use(op) reports the operator holds must be
// within capBytes+slack. It returns the output rows (sorted, formatted by Row), the most
// the operator held and its largest index (in most), and what it spilled (most.Spilled).
func WithinCap(t *testing.T, op Op, steps []Step, capBytes, slack int64, use func(runtime.Operator) CapUse) (rows []string, most CapUse) {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	o := op.New()
	tc := runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, state.DefaultMaxParallelism)
	tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: capBytes, Dir: spillDir(t)}
	if err := o.Open(tc); err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed { // a failed check
			o.Close()
		}
	}()
	out := &collector{}
	check := func(i int) {
		u := use(o)
		if u.Held() > capBytes+slack {
			t.Fatalf("after step %d the operator holds %d bytes (rows %d, index %d, spill store %d): more than its cap of %d and %d of slack",
				i, u.Held(), u.Resident, u.Index, u.Store, capBytes, slack)
		}
		most.Resident, most.Index = max(most.Resident, u.Held()), max(most.Index, u.Index)
		most.Spilled = u.Spilled
	}
	for i, st := range steps {
		var err error
		switch {
		case st.End:
			if e, ok := o.(runtime.InputEnder); ok {
				err = e.EndInput(st.Side, out)
			}
		case st.Rec == nil:
			err = o.ProcessWatermark(st.WM, out)
		default:
			st.Rec.Retain()
			err = o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq, WM: st.WM, HasWM: st.HasWM, Side: st.Side}, out)
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		check(i)
	}
	if err := o.ProcessWatermark(runtime.WatermarkMax, out); err != nil {
		t.Fatal(err)
	}
	check(len(steps))
	if err := o.Finish(out); err != nil {
		t.Fatal(err)
	}
	o.Close()
	closed = true
	sort.Strings(out.rows)
	return out.rows, most
}
