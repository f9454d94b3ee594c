package over_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/over"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// frameSets are frames of every kind: over rows, over a range of event time, unbounded,
// and mixed.
var frameSets = map[string][]refAgg{
	"rows": {{fn: "sum", arg: "v", rows: true, n: 2}, {fn: "count", rows: true, n: 3}, {fn: "max", arg: "x", rows: true, n: 1},
		{fn: "mean", arg: "v", rows: true, n: 4}, {fn: "count", arg: "v", rows: true, n: 0}},
	"range": {{fn: "sum", arg: "x", n: 5}, {fn: "count", n: 5}, {fn: "min", arg: "v", n: 3}, {fn: "mean", arg: "x", n: 0},
		{fn: "max", arg: "v", n: 8}},
	"unbounded": {{fn: "sum", arg: "v", rows: true, unbounded: true}, {fn: "count", unbounded: true},
		{fn: "min", arg: "x", rows: true, unbounded: true}, {fn: "mean", arg: "v", unbounded: true}},
	"mixed": {{fn: "sum", arg: "v", rows: true, n: 3}, {fn: "max", arg: "v", n: 6}, {fn: "count", arg: "x", unbounded: true}},
}

// With every partition moved to the store after each release (the Pebble runs), frames
// give the reference's rows straight, checkpointed (stored partitions saved with the
// others) and restored at other parallelisms.
func TestSpilledFramesThreeWays(t *testing.T) {
	defer over.SpillAllParts()()
	steps, evs, stamps := frameStream(3, 40)
	defer opstest.Release(steps)
	for name, aggs := range frameSets {
		t.Run(name+"/", func(t *testing.T) { opstest.RunAll(t, frameOp(aggs), steps, 7, refFrames(evs, stamps, aggs)) })
	}
}

// Frames over thousands of partitions whose state outgrows the cap keep those used
// longest ago in the store and bring them back when their rows are released: the rows are
// the reference's, and most partitions go to the store. The filter of stored partitions
// starts small and is rebuilt from the store as they outgrow it.
func TestFramesBeyondTheCap(t *testing.T) {
	defer over.SmallPartFilter()()
	keys := make([]string, 3000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	steps, evs, stamps := frameStreamOf(5, 60, keys, 800)
	defer opstest.Release(steps)
	for name, aggs := range frameSets {
		t.Run(name, func(t *testing.T) {
			stored := 0
			got, _ := opstest.WithinCap(t, frameOp(aggs), steps, 4<<20, 1<<40, func(o runtime.Operator) opstest.CapUse {
				_, _, inStore, _ := over.PartUse(o)
				stored = max(stored, inStore)
				return opstest.CapUse{}
			})
			if stored < 1000 {
				t.Fatalf("at most %d partitions stored: the state should outgrow the cap", stored)
			}
			opstest.Equal(t, got, refFrames(evs, stamps, aggs))
			t.Logf("up to %d partitions stored", stored)
		})
	}
}

// A stream of ever new keys: the key table keeps only the keys with a partition in
// memory or a pending row, not every key stored, and the rows are the reference's.
func TestFramesKeyTableKeepsOnlyLiveKeys(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	var steps []opstest.Step
	var evs [][]frameEvent
	var stamps []int64
	wm := int64(math.MinInt64)
	// Batch b's keys are the b-th stretch of 400: each key lives one batch.
	for b := 0; b < 100; b++ {
		var rows [][]any
		var es []frameEvent
		for i := 0; i < 400; i++ {
			e := frameEvent{k: fmt.Sprintf("key-%d", b*400+rng.Intn(400)), ts: int64(b*3 + rng.Intn(6)), v: int64(rng.Intn(50)),
				x: float64(rng.Intn(400)) / 8, batch: b, index: i}
			rows, es = append(rows, e.row()), append(es, e)
		}
		steps = append(steps, opstest.Step{Rec: opstest.Batch(frameIn, rows), Seq: runtime.MakeSeq(0, int64(b), 0), WM: wm, HasWM: true})
		evs, stamps = append(evs, es), append(stamps, wm)
		wm = int64(b*3 - 1)
		steps = append(steps, opstest.Step{WM: wm})
		evs, stamps = append(evs, nil), append(stamps, wm)
	}
	defer opstest.Release(steps)
	aggs := frameSets["mixed"]
	most := 0
	got, _ := opstest.WithinCap(t, frameOp(aggs), steps, 4<<20, 1<<40, func(o runtime.Operator) opstest.CapUse {
		_, _, _, inTable := over.PartUse(o)
		most = max(most, inTable)
		return opstest.CapUse{}
	})
	if most > 10000 {
		t.Fatalf("the key table held up to %d keys: it keeps the stored ones", most)
	}
	opstest.Equal(t, got, refFrames(evs, stamps, aggs))
	t.Logf("at most %d keys in the table", most)
}
