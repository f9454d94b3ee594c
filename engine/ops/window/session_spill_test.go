package window_test

import (
	"context"
	"math"
	"math/rand"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

var sessionDef = plan.WindowDef{Kind: "session", Gap: "3us"}

// Session windows whose state outgrows the cap keep the keys used longest ago in the
// store (every session of each, and its timer) and bring them back when a row of the
// key comes or a timer is due: the results are the reference's, and after every step
// the tables hold at most the cap by the operator's estimate (plus the batch just
// folded in, before it spills). Watermarks bring keys back 500 at a time, and the filter
// of stored keys starts small (it is rebuilt from the store as they outgrow it).
func TestSessionWindowsSpillBeyondTheCap(t *testing.T) {
	defer window.SetSessionChunk(500, 100)()
	steps, evs, stamps := wideStream(5, 24, 1500, 20000)
	defer opstest.Release(steps)
	const capBytes = 256 << 10
	for _, lateness := range []int64{0, 8} {
		want := refSessions(evs, stamps, 3, lateness)
		spills, stored := 0, 0
		got, most := opstest.WithinCap(t, windowOp(t, sessionDef, lateness), steps, capBytes, 2*capBytes, func(o runtime.Operator) opstest.CapUse {
			resident, n, _, inStore := window.SessionUse(o)
			spills, stored = n, max(stored, inStore)
			return opstest.CapUse{Resident: resident, Spilled: int64(n)}
		})
		if spills < 5 || stored < 1000 {
			t.Fatalf("lateness %d: %d evictions, at most %d keys stored: the state should outgrow the cap many times", lateness, spills, stored)
		}
		opstest.Equal(t, got, want)
		t.Logf("lateness %d: %d rows; %d evictions, up to %d keys stored; at most %d KB held", lateness, len(want), spills, stored, most.Resident>>10)
	}
}

// With every key moved to the store after each batch and watermark, session windows give
// the reference's results straight, checkpointed (stored sessions saved with the others)
// and restored at other parallelisms; with allowed lateness, fired sessions are stored
// with their lateness timers and late rows still update them.
func TestSpilledSessionWindowsThreeWays(t *testing.T) {
	defer window.SpillAllSessions()()
	steps, evs, stamps := stream(3, 40)
	defer opstest.Release(steps)
	for _, lateness := range []int64{0, 12} {
		want := refSessions(evs, stamps, 3, lateness)
		opstest.RunAll(t, windowOp(t, sessionDef, lateness), steps, 8, want)
	}
}

// A stream of ever new keys (each a session or two, fired and dropped) keeps the key
// table near the keys with open sessions, in memory: it does not grow with every key
// ever seen. The results are the reference's.
func TestSessionKeyTableDoesNotGrowWithEveryKey(t *testing.T) {
	const batches, rows = 40, 2000
	rng := rand.New(rand.NewSource(4))
	var steps []opstest.Step
	var evs [][]event
	var stamps []int64
	wm := int64(math.MinInt64)
	for b := 0; b < batches; b++ {
		recRows := make([][]any, rows)
		es := make([]event, rows)
		for i := range recRows {
			e := event{k: int64(b*rows + i/2), ts: int64(b*4 + rng.Intn(6)), v: int64(rng.Intn(100))}
			recRows[i], es[i] = []any{e.k, e.ts, e.v}, e
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, recRows), Seq: runtime.MakeSeq(0, int64(b), 0), WM: wm, HasWM: true})
		evs, stamps = append(evs, es), append(stamps, wm)
		wm = int64(b*4 - 2)
		steps = append(steps, opstest.Step{WM: wm})
		evs, stamps = append(evs, nil), append(stamps, wm)
	}
	defer opstest.Release(steps)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	o := windowOp(t, sessionDef, 0).New()
	tc := runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, state.DefaultMaxParallelism)
	if err := o.Open(tc); err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	out := &rowsOut{}
	most := 0
	for i, st := range steps {
		var err error
		if st.Rec == nil {
			err = o.ProcessWatermark(st.WM, out)
		} else {
			st.Rec.Retain()
			err = o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: st.Rec, Seq: st.Seq, WM: st.WM, HasWM: st.HasWM}, out)
		}
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		_, _, keys, _ := window.SessionUse(o)
		most = max(most, keys)
	}
	if err := o.ProcessWatermark(runtime.WatermarkMax, out); err != nil {
		t.Fatal(err)
	}
	// About three batches of keys have open sessions at a time; the table is rebuilt
	// when it holds twice those and 4096 more.
	if most > 8*rows+4096 {
		t.Fatalf("the key table held up to %d keys of the %d seen: it grows with every key", most, batches*rows/2)
	}
	sort.Strings(out.rows)
	opstest.Equal(t, out.rows, refSessions(evs, stamps, 3, 0))
	t.Logf("%d keys seen, at most %d in the key table", batches*rows/2, most)
}

type rowsOut struct{ rows []string }

func (c *rowsOut) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		c.rows = append(c.rows, opstest.Rows(m.Rec)...)
		m.Rec.Release()
	}
	return nil
}
