package join_test

import (
	"context"
	"fmt"
	"math/rand"
	goruntime "runtime"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// countingEmitter checks each output row of the join (the left and the right row of a
// pair have the same key, which their payloads start with) and counts them.
type countingEmitter struct {
	t    *testing.T
	rows int
	keys map[int64]int
}

func (e *countingEmitter) Emit(m runtime.Message) error {
	if m.Kind != runtime.MsgBatch {
		return nil
	}
	defer m.Rec.Release()
	k := m.Rec.Column(0).(*array.Int64)
	lp := m.Rec.Column(1).(*array.String)
	rp := m.Rec.Column(2).(*array.String)
	for i := 0; i < int(m.Rec.NumRows()); i++ {
		want := fmt.Sprintf("%d:", k.Value(i))
		if !strings.HasPrefix(lp.Value(i), want) || !strings.HasPrefix(rp.Value(i), want) {
			e.t.Fatalf("row %d of an output batch pairs %q with %q for key %d", i, lp.Value(i)[:12], rp.Value(i)[:12], k.Value(i))
		}
		e.keys[k.Value(i)]++
	}
	e.rows += int(m.Rec.NumRows())
	return nil
}

// heapLive is the Go heap in use after a collection.
// heapLive is the Go heap after a collection: the least of three readings, since
// goroutines of the process (a spill store's background work, the runtime's own) may
// allocate between a collection and its reading.
func heapLive() int64 {
	least := int64(-1)
	for range 3 {
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		if h := int64(ms.HeapAlloc); least < 0 || h < least {
			least = h
		}
	}
	return least
}

// TestSpillingJoinWithinCap joins two inputs whose rows take ten times the join's memory
// cap (state_backend="pebble"): after every batch, the memory the engine accounts for
// (rows in memory, the join's index of its rows and keys, the spill store's buffers)
// stays within the cap, and the Go heap (Arrow buffers are allocated there in this test)
// grows by no more than the cap plus a small constant; every pair comes out once. The
// index is large enough here (tens of bytes per row, for 40,000 rows; keys far apart, so
// that they are hashed, not grouped directly) that not counting it would break both
// bounds.
func TestSpillingJoinWithinCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 80 MB to a spill store")
	}
	const (
		capBytes = 8 << 20
		payload  = 2000
		perSide  = 21000
		batch    = 500
		slack    = 1 << 20   // the two pieces used last, bookkeeping
		stride   = 1_000_003 // between keys
		heapMore = 8 << 20   // Pebble's own Go buffers (its table writer and readers, flushes in progress: measured up to ~6 MiB), the test's
	)
	schema := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "p", Type: arrow.BinaryTypes.String}}, nil)
	keys := []expr.Expr{opstest.Col(schema, "k")}
	out := arrow.NewSchema([]arrow.Field{schema.Field(0), schema.Field(1), {Name: "p_r", Type: arrow.BinaryTypes.String}}, nil)
	spec := &join.Spec{Name: "inner_join", How: "inner", LeftKeys: keys, RightKeys: keys, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
		LeftSchema: schema, RightSchema: schema, RightKeep: []int{1}, Schema: out}
	mem := memory.NewGoAllocator()
	pad := strings.Repeat("x", payload)
	mk := func(side, from int) arrow.RecordBatch {
		kb := array.NewInt64Builder(mem)
		pb := array.NewStringBuilder(mem)
		defer kb.Release()
		defer pb.Release()
		for i := from; i < from+batch; i++ {
			// The right side's key i arrives 1000 rows after the left side's: each lookup
			// finds one row, kept a while ago.
			k := int64(i) * stride
			if side == 1 {
				k = int64(i-1000) * stride
			}
			kb.Append(k)
			pb.Append(fmt.Sprintf("%d:%d:", k, side) + pad)
		}
		k, p := kb.NewArray(), pb.NewArray()
		defer k.Release()
		defer p.Release()
		return array.NewRecordBatch(schema, []arrow.Array{k, p}, batch)
	}

	before := heapLive()
	op := &join.HashJoinOp{JoinBase: join.JoinBase{Spec: spec, EmitSz: 1024}}
	tc := runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 128)
	tc.Job.Spill = runtime.SpillConfig{Backend: state.PebbleBackend, MemoryLimit: capBytes, Dir: t.TempDir()}
	if err := op.Open(tc); err != nil {
		t.Fatal(err)
	}
	em := &countingEmitter{t: t, keys: map[int64]int{}}
	var rowBytes, maxHeld, maxHeap, maxIndex int64
	for from := 0; from < perSide; from += batch {
		for side := 0; side < 2; side++ {
			rec := mk(side, from)
			rowBytes += int64(rec.NumRows()) * (payload + 16)
			if err := op.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Side: side}, em); err != nil {
				t.Fatal(err)
			}
		}
		st := op.SpillStats()
		held := st.Resident + st.Index + st.Store
		maxHeld, maxIndex = max(maxHeld, held), max(maxIndex, st.Index)
		if held > capBytes+slack {
			t.Fatalf("after %d rows per side the join holds %d bytes (rows %d, index %d, spill store %d): more than its cap of %d", from+batch, held, st.Resident, st.Index, st.Store, capBytes)
		}
		if from%(10*batch) == 0 || from+batch == perSide {
			// The Go heap, Arrow buffers included, against the accounting: what the
			// process really holds for the join is within the cap too. The spill
			// store's buffers (memtables, block cache) are counted as well: Pebble
			// keeps some of its memory in the Go heap.
			grown := heapLive() - before
			maxHeap = max(maxHeap, grown)
			if grown > held+heapMore {
				t.Fatalf("after %d rows per side the Go heap grew by %d bytes, the join accounts for %d (rows %d, index %d, spill store %d)", from+batch, grown, held, st.Resident, st.Index, st.Store)
			}
			if grown > capBytes+heapMore {
				t.Fatalf("after %d rows per side the Go heap grew by %d bytes: more than the cap of %d", from+batch, grown, capBytes)
			}
		}
	}
	st := op.SpillStats()
	t.Logf("state %d MB against a cap of %d MB: held at most %d bytes (index up to %d), Go heap grew at most %d; spilled %d MB",
		rowBytes>>20, capBytes>>20, maxHeld, maxIndex, maxHeap, st.SpilledBytes>>20)
	if rowBytes < 10*capBytes || st.Spilled == 0 {
		t.Fatalf("the state (%d bytes) should be ten times the cap and spill", rowBytes)
	}
	if maxIndex < 2*slack {
		t.Fatalf("the index (%d bytes at most) is too small for the test to show it is counted", maxIndex)
	}
	if err := op.Finish(em); err != nil {
		t.Fatal(err)
	}
	op.Close()
	// Reference: left key i (0 <= i < perSide) meets the right row with key i, which
	// exists for i < perSide-1000; each such key comes out once.
	if em.rows != perSide-1000 {
		t.Fatalf("%d pairs, want %d", em.rows, perSide-1000)
	}
	for i := int64(0); i < perSide-1000; i++ {
		if k := i * stride; em.keys[k] != 1 {
			t.Fatalf("key %d came out %d times, want once", k, em.keys[k])
		}
	}
}

// TestSpillingWindowJoinWithinCap joins, in windows of ten minutes over an hour, a narrow
// left side with a right side whose rows take five times the join's memory cap; every
// window stays open to the end. After every batch what the cap accounts for (rows in
// memory, the key ids and each window's rows by side and key, the spill store's buffers)
// stays within the cap plus a slack, the rows spill, and the pairs equal a plain-Go
// reference.
func TestSpillingWindowJoinWithinCap(t *testing.T) {
	if testing.Short() {
		t.Skip("writes about 40 MB to a spill store")
	}
	const (
		capBytes = 8 << 20
		slack    = 1 << 20
		keys     = 5000
		perKey   = 4 // rows of each side per key
		pad      = 2000
		size     = 600_000_000 // µs: a window
	)
	left := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "ts", Type: tsType},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64}}, nil)
	right := arrow.NewSchema([]arrow.Field{{Name: "k", Type: arrow.PrimitiveTypes.Int64}, {Name: "ts", Type: tsType},
		{Name: "id", Type: arrow.PrimitiveTypes.Int64}, {Name: "pad", Type: arrow.BinaryTypes.String}}, nil)
	w, err := window.Compile(&plan.WindowDef{Kind: "tumbling", Size: "10m"}, "window_join")
	if err != nil {
		t.Fatal(err)
	}
	lk, rk := []expr.Expr{opstest.Col(left, "k")}, []expr.Expr{opstest.Col(right, "k")}
	fields := append(append([]arrow.Field{}, left.Fields()...), arrow.Field{Name: "id_r", Type: arrow.PrimitiveTypes.Int64},
		arrow.Field{Name: "window_start", Type: tsType}, arrow.Field{Name: "window_end", Type: tsType})
	spec := &join.Spec{Name: "window_join", How: "window", LeftKeys: lk, RightKeys: rk, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
		LeftSchema: left, RightSchema: right, LeftTime: 1, RightTime: 1, RightKeep: []int{2}, TimeType: tsType,
		Win: w, Schema: arrow.NewSchema(fields, nil)}
	op := opstest.Op{New: func() runtime.Operator {
		return &join.WindowJoinOp{JoinBase: join.JoinBase{Spec: spec, EmitSz: 512}, Win: w}
	}}

	type row struct{ k, ts, id int64 }
	rng := rand.New(rand.NewSource(4))
	var rows [2][]row
	id := int64(0)
	for k := int64(0); k < keys; k++ {
		for side := range rows {
			for range perKey {
				rows[side] = append(rows[side], row{k, rng.Int63n(6 * size), id})
				id++
			}
		}
	}
	var steps []opstest.Step
	for side := range rows {
		rng.Shuffle(len(rows[side]), func(a, b int) { rows[side][a], rows[side][b] = rows[side][b], rows[side][a] })
	}
	for from := 0; from < len(rows[0]); from += 500 {
		for side, schema := range []*arrow.Schema{left, right} {
			var batch [][]any
			for _, r := range rows[side][from:min(from+500, len(rows[side]))] {
				vals := []any{r.k, r.ts, r.id}
				if side == 1 {
					vals = append(vals, fmt.Sprintf("%d:", r.id)+strings.Repeat("x", pad))
				}
				batch = append(batch, vals)
			}
			steps = append(steps, opstest.Step{Side: side, Rec: opstest.Batch(schema, batch), Seq: runtime.MakeSeq(side, int64(len(steps)), 0)})
		}
	}
	defer opstest.Release(steps)
	// Reference: every left and right row of a key in the same window make a pair.
	type cell struct{ k, w int64 }
	byCell := map[cell][]row{}
	for _, r := range rows[1] {
		c := cell{r.k, r.ts / size}
		byCell[c] = append(byCell[c], r)
	}
	var want []string
	for _, l := range rows[0] {
		c := cell{l.k, l.ts / size}
		for _, r := range byCell[c] {
			want = append(want, opstest.Row(l.k, l.ts, l.id, r.id, c.w*size, (c.w+1)*size))
		}
	}
	sort.Strings(want)
	state := int64(len(rows[1])) * pad
	if state < 4*capBytes || len(want) < keys {
		t.Fatalf("the right side (%d bytes) should be four times the cap, and the pairs (%d) many", state, len(want))
	}
	got, most := opstest.WithinCap(t, op, steps, capBytes, slack, join.SpillUse)
	t.Logf("state %d MB against a cap of %d MB: held at most %d bytes (index up to %d), spilled %d MB",
		state>>20, capBytes>>20, most.Resident, most.Index, most.Spilled>>20)
	if most.Spilled < state/2 || most.Index < 2*slack {
		t.Fatalf("spilled %d bytes of a state of %d; the index (%d bytes at most) is too small to show it is counted", most.Spilled, state, most.Index)
	}
	opstest.Equal(t, got, want)
}
