package window_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// wideStream is stream over many keys: batches of rows rows whose keys take one of keys
// values, so that each window holds thousands of groups.
func wideStream(seed int64, batches, rows, keys int) ([]opstest.Step, [][]event, []int64) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var evs [][]event
	var stamps []int64
	wm := int64(math.MinInt64)
	for b := 0; b < batches; b++ {
		recRows := make([][]any, rows)
		es := make([]event, rows)
		for i := range recRows {
			var k any = int64(rng.Intn(keys))
			if rng.Intn(50) == 0 {
				k = nil
			}
			e := event{k: k, ts: int64(b*4 + rng.Intn(24) - 12), v: int64(rng.Intn(1000))}
			recRows[i], es[i] = []any{e.k, e.ts, e.v}, e
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, recRows), Seq: runtime.MakeSeq(0, int64(b), 0), WM: wm, HasWM: true})
		evs, stamps = append(evs, es), append(stamps, wm)
		if b%2 == 1 {
			wm = int64(b*4 - 6)
			steps = append(steps, opstest.Step{WM: wm})
			evs, stamps = append(evs, nil), append(stamps, wm)
		}
	}
	return steps, evs, stamps
}

var spillCases = []struct {
	def     plan.WindowDef
	windows func(int64) [][2]int64
}{
	{plan.WindowDef{Kind: "tumbling", Size: "10us"}, slidingOf(10, 10)},
	{plan.WindowDef{Kind: "sliding", Size: "12us", Slide: "4us"}, slidingOf(12, 4)},
	{plan.WindowDef{Kind: "cumulate", Step: "4us", Size: "16us"}, cumulateOf(4, 16)},
}

func floorTo(ts, d int64) int64 { return int64(math.Floor(float64(ts)/float64(d))) * d }

// slidingOf gives the windows of size every slide, starting at multiples of slide, of an
// event time.
func slidingOf(size, slide int64) func(int64) [][2]int64 {
	return func(ts int64) (ws [][2]int64) {
		for start := floorTo(ts, slide); start > ts-size; start -= slide {
			ws = append(ws, [2]int64{start, start + size})
		}
		return ws
	}
}

// cumulateOf gives the windows from a multiple of size, growing by step up to size, of an
// event time.
func cumulateOf(step, size int64) func(int64) [][2]int64 {
	return func(ts int64) (ws [][2]int64) {
		start := floorTo(ts, size)
		for end := start + step; end <= start+size; end += step {
			if end > ts {
				ws = append(ws, [2]int64{start, end})
			}
		}
		return ws
	}
}

// Windows whose open state takes several times the memory cap spill their tables (and
// frozen slices) to disk and fire a partition at a time: the results are the
// reference's, and after every batch the tables hold at most the cap by the operator's
// estimate (plus the batch just folded in, before it spills).
func TestWindowsSpillBeyondTheCap(t *testing.T) {
	steps, evs, stamps := wideStream(5, 24, 1500, 20000)
	defer opstest.Release(steps)
	const capBytes = 256 << 10
	for _, c := range spillCases {
		t.Run(c.def.Kind, func(t *testing.T) {
			want := refWindows(evs, stamps, c.windows, 0)
			spills := 0
			got, most := opstest.WithinCap(t, windowOp(t, c.def, 0), steps, capBytes, 2*capBytes, func(o runtime.Operator) opstest.CapUse {
				resident, n := window.SpillUse(o)
				spills = n
				return opstest.CapUse{Resident: resident, Spilled: int64(n)}
			})
			if spills < 5 {
				t.Fatalf("spilled %d tables: the state should outgrow the cap many times", spills)
			}
			if len(got) != len(want) {
				t.Fatalf("%d rows, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("row %d is %s, want %s", i, got[i], want[i])
				}
			}
			t.Logf("%d rows; %d tables spilled; at most %d KB held", len(want), spills, most.Resident>>10)
		})
	}
}

// spilledUnderCap runs op over steps under a 256 KiB cap: it must spill many tables and
// give want.
func spilledUnderCap(t *testing.T, op opstest.Op, steps []opstest.Step, want []string) {
	t.Helper()
	spills := 0
	got, _ := opstest.WithinCap(t, op, steps, 256<<10, 1<<40, func(o runtime.Operator) opstest.CapUse {
		resident, n := window.SpillUse(o)
		spills = n
		return opstest.CapUse{Resident: resident, Spilled: int64(n)}
	})
	if spills < 5 {
		t.Fatalf("spilled %d tables: the state should outgrow the cap many times", spills)
	}
	opstest.Equal(t, got, want)
}

// Windows with allowed lateness spill too: a fired window keeps its state (on disk and in
// memory) until its lateness is over, and each late row re-emits its key's result merged
// from both; the results are the reference's (fired windows and their updates), tumbling
// windows under a cap, and checkpointed and restored at other parallelisms with every
// table spilled.
func TestWindowsWithLatenessSpill(t *testing.T) {
	const lateness = 8
	steps, evs, stamps := wideStream(9, 14, 1500, 20000)
	defer opstest.Release(steps)
	for _, c := range spillCases[:1] {
		t.Run(c.def.Kind, func(t *testing.T) {
			want := refWindows(evs, stamps, c.windows, lateness)
			spilledUnderCap(t, windowOp(t, c.def, lateness), steps, want)
		})
	}
	steps3, evs3, stamps3 := wideStream(6, 8, 1000, 20000)
	defer opstest.Release(steps3)
	c := spillCases[0]
	opstest.RunAll(t, windowOp(t, c.def, lateness), steps3, 5, refWindows(evs3, stamps3, c.windows, lateness))
}

// Windows with a median spill it as every value of a group, and give the reference's
// medians (straight under a cap; and, tumbling, checkpointed and restored at other
// parallelisms with every table spilled).
func TestWindowsSpillMedian(t *testing.T) {
	steps, evs, stamps := wideStream(7, 12, 1500, 20000)
	defer opstest.Release(steps)
	withMedian = true
	defer func() { withMedian = false }()
	for _, c := range []int{0, 2} { // tumbling, cumulate (several windows a row)
		c := spillCases[c]
		t.Run(c.def.Kind, func(t *testing.T) {
			want := refWindows(evs, stamps, c.windows, 0)
			spilledUnderCap(t, windowOpOf(t, c.def, 0, aggs(t, medianOfV)), steps, want)
		})
	}
	steps3, evs3, stamps3 := wideStream(6, 10, 1000, 20000)
	defer opstest.Release(steps3)
	c := spillCases[0]
	opstest.RunAll(t, windowOpOf(t, c.def, 0, aggs(t, medianOfV)), steps3, 5, refWindows(evs3, stamps3, c.windows, 0))
}

// The same windows, spilling (the Pebble backend under a 1-byte cap: every table of 64
// KiB or more spills), straight, checkpointed every few batches (spilled windows saved a
// partition at a time) and restored at other parallelisms.
func TestSpilledWindowsThreeWays(t *testing.T) {
	steps, evs, stamps := wideStream(6, 10, 1000, 20000)
	defer opstest.Release(steps)
	for _, c := range spillCases {
		t.Run(fmt.Sprint(c.def.Kind, "/"), func(t *testing.T) {
			opstest.RunAll(t, windowOp(t, c.def, 0), steps, 5, refWindows(evs, stamps, c.windows, 0))
		})
	}
}
