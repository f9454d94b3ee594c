package agg_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// countingOp is op whose instances are kept, to ask them what they spilled.
func countingOp(op opstest.Op) (opstest.Op, func() []runtime.Operator) {
	var mu sync.Mutex
	var made []runtime.Operator
	mk := op.New
	op.New = func() runtime.Operator {
		o := mk()
		mu.Lock()
		made = append(made, o)
		mu.Unlock()
		return o
	}
	return op, func() []runtime.Operator { mu.Lock(); defer mu.Unlock(); return made }
}

// mustHaveMoved fails unless the group_bys ops moved groups to their spill stores and
// read some back.
func mustHaveMoved(t *testing.T, ops []runtime.Operator) {
	t.Helper()
	var evicted, thawed int64
	for _, o := range ops {
		e, th := agg.ColdUse(o)
		evicted, thawed = evicted+e, thawed+th
	}
	if evicted == 0 || thawed == 0 {
		t.Fatalf("%d groups moved to the store, %d read back: the Pebble runs should move them", evicted, thawed)
	}
}

// An updating group_by that moves groups to its spill store after each batch (the Pebble
// backend under a 1-byte cap, however small the table: every group, or half of them)
// emits exactly the reference changelog: groups come back from the store with their state
// and their last emitted rows, straight, checkpointed (the stored groups saved with those
// in memory, whose stored copies are out of date) and restored at other parallelisms; one
// key and two.
func TestGroupByChangelogSpilledThreeWays(t *testing.T) {
	steps, rows := aggStream(13, 30)
	defer opstest.Release(steps)
	for _, c := range []struct {
		keys []string
		half bool
	}{{[]string{"k"}, false}, {[]string{"k", "g"}, false}, {[]string{"k"}, true}} {
		name := strings.Join(c.keys, ",")
		if c.half {
			name += "/half"
		}
		keys := c.keys
		t.Run(name, func(t *testing.T) {
			defer agg.SpillAnyTable(c.half)()
			var cols []int
			for _, k := range keys {
				cols = append(cols, inSchema.FieldIndices(k)[0])
			}
			op, made := countingOp(changelogOp(t, keys...))
			opstest.RunAll(t, op, steps, 6, refChanges(steps, rows, cols))
			mustHaveMoved(t, made())
		})
	}
}

// An updating group_by over about twenty times its cap of groups keeps its table within
// the cap after every batch (the groups updated longest ago in the store), reads groups
// back when their keys come again, and emits the reference changelog.
func TestGroupByChangelogWithinCap(t *testing.T) {
	steps, rows := wideStream(9, 60, 40000)
	defer opstest.Release(steps)
	const capBytes = 256 << 10
	op := changelogOp(t, "k")
	var evicted, thawed int64
	got, most := opstest.WithinCap(t, op, steps, capBytes, 0, func(o runtime.Operator) opstest.CapUse {
		resident, written, _ := agg.SpillUse(o)
		evicted, thawed = agg.ColdUse(o)
		return opstest.CapUse{Resident: resident, Spilled: written}
	})
	opstest.Equal(t, got, refChanges(steps, rows, []int{0}))
	if evicted < 10000 || thawed < 1000 {
		t.Fatalf("%d groups moved to the store, %d read back: the state should take many times the cap", evicted, thawed)
	}
	t.Logf("at most %d KB held; %d groups moved out, %d read back, %d KB written", most.Resident>>10, evicted, thawed, most.Spilled>>10)
}

// A checkpoint of an updating group_by with groups in memory and in its spill store (half
// of them moved out after each batch, some read back, so with stale copies in the store)
// holds each group once, with its current count: the reference's.
func TestGroupByChangelogCheckpointHoldsEachGroupOnce(t *testing.T) {
	defer agg.SpillAnyTable(true)()
	steps, rows := wideStream(4, 20, 3000)
	defer opstest.Release(steps)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	o := changelogOp(t, "k").New()
	tc := runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, state.DefaultMaxParallelism)
	tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: 1, Dir: t.TempDir()}
	if err := o.Open(tc); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	out := &sink{}
	for _, st := range steps {
		st.Rec.Retain()
		if err := o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq}, out); err != nil {
			t.Fatal(err)
		}
		out.take()
	}
	if _, thawed := agg.ColdUse(o); thawed == 0 {
		t.Fatal("no group was read back from the store")
	}
	ks := o.(runtime.KeyedState)
	be, err := state.NewBackend(state.Options{Tables: ks.StateTables()})
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	if err := ks.SaveState(be); err != nil {
		t.Fatal(err)
	}
	got := map[any]int64{}
	err = keyed.ReadState(be, mem, "group_by", agg.ChangelogTable, agg.ChangelogStateSchema(o), func(_ int, rec arrow.RecordBatch) error {
		n := rec.Column(rec.Schema().FieldIndices("acc:n")[0]).(*array.Int64)
		for i := 0; i < int(rec.NumRows()); i++ {
			k := opstest.Value(rec.Column(0), i)
			if _, dup := got[k]; dup {
				t.Errorf("group %v saved twice", k)
			}
			got[k] = n.Value(i)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[any]int64{}
	for _, r := range rows {
		want[r[0]]++
	}
	if len(got) != len(want) {
		t.Fatalf("%d groups saved, want %d", len(got), len(want))
	}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("group %v saved with count %d, want %d", k, got[k], n)
		}
	}
}

// Keys of the types that gained a state encoding last (fixed-size binaries, float16s) go
// to the store and come back like the others: an updating group_by keyed by them, every
// group moved out after each batch, emits the reference changelog straight, checkpointed
// and restored at other parallelisms.
func TestGroupByChangelogSpilledFixedSizeBinaryAndFloat16Keys(t *testing.T) {
	steps, rows := aggStream(17, 30)
	defer opstest.Release(steps)
	for _, c := range []struct {
		typ arrow.DataType
		key func(int64) any
	}{
		{&arrow.FixedSizeBinaryType{ByteWidth: 4}, func(k int64) any { return fmt.Sprintf("%04d", k) }},
		{arrow.FixedWidthTypes.Float16, func(k int64) any { return float64(k) / 2 }},
	} {
		t.Run(c.typ.String(), func(t *testing.T) {
			defer agg.SpillAnyTable(false)()
			fields := inSchema.Fields()
			fields[0].Type = c.typ
			in := arrow.NewSchema(fields, nil)
			var keyed [][]any
			var ksteps []opstest.Step
			at := 0
			for _, st := range steps {
				if st.Rec == nil {
					ksteps = append(ksteps, st)
					continue
				}
				batch := make([][]any, st.Rec.NumRows())
				for i := range batch {
					r := append([]any(nil), rows[at]...)
					if r[0] != nil {
						r[0] = c.key(r[0].(int64))
					}
					batch[i] = r
					at++
				}
				keyed = append(keyed, batch...)
				ksteps = append(ksteps, opstest.Step{Rec: opstest.Batch(in, batch), Seq: st.Seq})
			}
			defer opstest.Release(ksteps)
			op, made := countingOp(changelogOpOn(t, in, "k"))
			opstest.RunAll(t, op, ksteps, 6, refChanges(ksteps, keyed, []int{0}))
			mustHaveMoved(t, made())
		})
	}
}

// A mini-batch also ends when its groups outgrow the cap: an updating group_by with an
// hour-long mini-batch over about twenty times its cap of groups emits changes before any
// tick, keeps its table within the cap after every batch (groups moving to the store
// between the early mini-batches), and its changes applied to an empty table give the
// reference result. Without the early end its pending groups grew without bound.
func TestGroupByMiniBatchEndsAtTheCap(t *testing.T) {
	steps, rows := wideStream(5, 60, 40000)
	defer opstest.Release(steps)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const capBytes = 256 << 10
	op := changelogOp(t, "k").New().(*agg.GroupByOp)
	op.MiniBatch = time.Hour
	tc := runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 16)
	tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: capBytes, Dir: t.TempDir()}
	if err := op.Open(tc); err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	out := &sink{}
	var most int64
	for i, st := range steps {
		st.Rec.Retain()
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq}, out); err != nil {
			t.Fatal(err)
		}
		resident, _, _ := agg.SpillUse(op)
		most = max(most, resident)
		// The batch that crosses the cap brings at most its own 500 groups over it.
		if resident > capBytes+500*1024 {
			t.Fatalf("after batch %d the table holds %d bytes, over its cap of %d", i, resident, capBytes)
		}
	}
	early := len(out.rows)
	if err := op.OnTick(out); err != nil {
		t.Fatal(err)
	}
	evicted, _ := agg.ColdUse(op)
	if early == 0 || evicted < 10000 {
		t.Fatalf("%d changes before the tick, %d groups moved to the store: the cap should end mini-batches", early, evicted)
	}
	table := map[string]int{}
	apply(t, table, out.take())
	opstest.Equal(t, rowsOf(table), refGroupBy(rows, []int{0}))
	t.Logf("at most %d KB held after a batch; %d groups moved out; %d changes before the tick", most>>10, evicted, early)
}
