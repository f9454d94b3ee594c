package agg_test

import (
	"fmt"
	"math/rand"
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
	const capBytes = 256 << 10
	op := cappedChangelogOp(t, capBytes, func(o *agg.GroupByOp) { o.MiniBatch = time.Hour })
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

// netResult is the result a changelog leaves (rows formatted by opstest.Row, the op
// last, in any order): each row as often as +I and +U add it less -U and -D take it back
// (apply, additions first). A row taken back more often than added fails t.
func netResult(t *testing.T, rows []string) []string {
	t.Helper()
	var adds, takes []string
	for _, r := range rows {
		if _, op := splitChange(r); op == agg.OpInsert || op == agg.OpUpdateAfter {
			adds = append(adds, r)
		} else {
			takes = append(takes, r)
		}
	}
	table := map[string]int{}
	apply(t, table, append(adds, takes...))
	return rowsOf(table)
}

// With groups in the spill store, the rows whose groups are not in memory are parked and
// folded in a few batches later (here once about 40 of them wait; every group moves to
// the store after each batch): run straight, checkpointed (a barrier folds them in first)
// and restored at other parallelisms, the changes leave the reference result, and rows
// were parked across batches.
func TestGroupByChangelogParkedThreeWays(t *testing.T) {
	defer agg.SpillAnyTable(false)()
	defer agg.ParkWithin(2000)()
	steps, rows := aggStream(19, 40)
	defer opstest.Release(steps)
	want := refGroupBy(rows, []int{0})
	for name, phases := range opstest.Plans(len(steps), 7) {
		t.Run(name, func(t *testing.T) {
			op, made := countingOp(changelogOp(t, "k"))
			got := opstest.Run(t, op, steps, phases, state.PebbleBackend)
			opstest.Equal(t, netResult(t, got), want)
			var parked, unparks int64
			for _, o := range made() {
				p, u := agg.ParkUse(o)
				parked, unparks = parked+p, unparks+u
			}
			// The batches average 13 rows: folding in after each would park at most that.
			if name == "straight" && (unparks == 0 || parked/unparks <= int64(len(rows)/40)) {
				t.Fatalf("%d rows parked, folded in %d times: rows should wait across batches", parked, unparks)
			}
		})
	}
}

// Parked rows are folded in once the first of them has waited half of ParkWait, on the
// runtime's tick (every half of ParkWait: none waits longer than ParkWait), at a barrier
// and at the end of the input; until then the result lags behind the
// input by them. Applied in order, the changes never take back a row the result does not
// hold; the result is the reference over the input so far after each of those; a tick
// before the wait is over emits nothing; the table and the parked rows stay within the
// cap.
func TestGroupByParkedRowsWait(t *testing.T) {
	defer agg.ParkWithin(48 << 10)()
	steps, rows := wideStream(5, 60, 40000)
	defer opstest.Release(steps)
	const capBytes = 256 << 10
	clock := time.Unix(1_000_000, 0)
	op := cappedChangelogOp(t, capBytes, func(o *agg.GroupByOp) { o.Now = func() time.Time { return clock } })
	if d := op.TickInterval(); d != agg.ParkWait/2 {
		t.Fatalf("tick every %v, want %v", d, agg.ParkWait/2)
	}
	out := &sink{}
	table := map[string]int{}
	pos := 0
	caughtUp := func(when string) {
		t.Helper()
		apply(t, table, out.take())
		if n := agg.Parked(op); n > 0 {
			t.Fatalf("%s: %d rows still parked", when, n)
		}
		opstest.Equal(t, rowsOf(table), refGroupBy(rows[:pos], []int{0}))
	}
	lagged, early := 0, 0
	for i, st := range steps {
		st.Rec.Retain()
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq}, out); err != nil {
			t.Fatal(err)
		}
		pos += int(st.Rec.NumRows())
		apply(t, table, out.take())
		if agg.Parked(op) > 0 {
			lagged++
		}
		if resident, _, _ := agg.SpillUse(op); resident > capBytes+500*1024 {
			t.Fatalf("after batch %d the table and parked rows hold %d bytes, over the cap of %d", i, resident, capBytes)
		}
		switch {
		case i%15 == 14:
			if err := op.FlushBeforeBarrier(out); err != nil {
				t.Fatal(err)
			}
			caughtUp(fmt.Sprintf("barrier after batch %d", i))
		case i%10 == 9:
			clock = clock.Add(agg.ParkWait / 2)
			if err := op.OnTick(out); err != nil {
				t.Fatal(err)
			}
			caughtUp(fmt.Sprintf("tick after batch %d", i))
		case i%10 == 4 && agg.Parked(op) > 0:
			clock = clock.Add(agg.ParkWait / 8)
			if err := op.OnTick(out); err != nil {
				t.Fatal(err)
			}
			if got := out.take(); len(got) > 0 {
				t.Fatalf("a tick before the rows' wait was over emitted %d changes", len(got))
			}
			early++
		}
	}
	if err := op.Finish(out); err != nil {
		t.Fatal(err)
	}
	caughtUp("end of input")
	rowsParked, unparks := agg.ParkUse(op)
	if lagged < len(steps)/4 || early == 0 || unparks < 3 {
		t.Fatalf("rows parked after %d of %d batches, %d early ticks, folded in %d times: the cap should park rows across batches", lagged, len(steps), early, unparks)
	}
	t.Logf("%d rows parked, folded in %d times", rowsParked, unparks)
}

// Keys that turn hot after their groups went to the store come back into memory: after
// a phase of cold keys only (whose groups fill the store), most rows of a phase where ten
// keys take four rows in five find their group in memory instead of being parked, and
// the changes, applied in order, give the reference result.
func TestGroupByParkedHotKeysComeBack(t *testing.T) {
	defer agg.ParkWithin(16 << 10)()
	defer agg.TableWithin(1 << 20)()
	rng := rand.New(rand.NewSource(3))
	var steps []opstest.Step
	var rows [][]any
	for b := range 100 {
		batch := make([][]any, 200)
		for i := range batch {
			k := int64(1000 + rng.Intn(50000))
			if b >= 40 && rng.Intn(5) > 0 {
				k = int64(rng.Intn(10))
			}
			batch[i] = []any{k, fmt.Sprint("g", rng.Intn(3)), int64(rng.Intn(2000) - 1000), rng.Float64() * 100, fmt.Sprint("word", rng.Intn(2000))}
		}
		rows = append(rows, batch...)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, batch), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	defer opstest.Release(steps)
	op := cappedChangelogOp(t, 256<<10, nil)
	out := &sink{}
	table := map[string]int{}
	var parkedBefore int64
	for i, st := range steps {
		if i == 40 {
			parkedBefore, _ = agg.ParkUse(op)
		}
		st.Rec.Retain()
		if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq}, out); err != nil {
			t.Fatal(err)
		}
		apply(t, table, out.take())
	}
	if err := op.Finish(out); err != nil {
		t.Fatal(err)
	}
	apply(t, table, out.take())
	opstest.Equal(t, rowsOf(table), refGroupBy(rows, []int{0}))
	parked, _ := agg.ParkUse(op)
	hotPhase := int64(60 * 200)
	if parkedBefore == 0 || parked-parkedBefore > hotPhase*2/5 {
		t.Fatalf("%d rows parked in the cold phase, %d of the %d rows of the hot phase: hot keys should come back into memory", parkedBefore, parked-parkedBefore, hotPhase)
	}
	t.Logf("%d rows parked in the cold phase, %d of %d in the hot phase", parkedBefore, parked-parkedBefore, hotPhase)
}

// cappedChangelogOp is an open updating group_by by "k" on the Pebble backend with memory
// cap capBytes, set up by set (may be nil) before it opens; it is closed, and its memory
// checked, when t ends.
func cappedChangelogOp(t *testing.T, capBytes int64, set func(*agg.GroupByOp)) *agg.GroupByOp {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	t.Cleanup(func() { mem.AssertSize(t, 0) })
	op := changelogOp(t, "k").New().(*agg.GroupByOp)
	if set != nil {
		set(op)
	}
	tc := runtime.NewStandaloneTaskCtx(t.Context(), mem, 0, 1, 16)
	tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: capBytes, Dir: t.TempDir()}
	if err := op.Open(tc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(op.Close)
	return op
}
