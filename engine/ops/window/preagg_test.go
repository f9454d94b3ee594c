package window_test

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// batchStream is stream's batch-mode twin: rows with disordered event times, no batch
// stamped with a watermark, and watermarks that only rise to just below the earliest
// event time still to come (as batch mode's safe watermarks), so no row is late.
func batchStream(seed int64, batches int) ([]opstest.Step, [][]event, []int64) {
	rng := rand.New(rand.NewSource(seed))
	var evs [][]event
	var rows [][][]any
	for b := 0; b < batches; b++ {
		n := 1 + rng.Intn(12)
		var es []event
		var rs [][]any
		for i := 0; i < n; i++ {
			var k any = int64(rng.Intn(6))
			if rng.Intn(10) == 0 {
				k = nil
			}
			e := event{k: k, ts: int64(b*4 + rng.Intn(24) - 12), v: int64(rng.Intn(100))}
			es = append(es, e)
			rs = append(rs, []any{e.k, e.ts, e.v})
		}
		evs = append(evs, es)
		rows = append(rows, rs)
	}
	// The safe watermark after batch b: below every later row.
	after := make([]int64, batches)
	low := int64(math.MaxInt64)
	for b := batches - 1; b >= 0; b-- {
		after[b] = low - 1
		for _, e := range evs[b] {
			low = min(low, e.ts)
		}
	}
	var steps []opstest.Step
	var outEvs [][]event
	var stamps []int64
	for b := range evs {
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, rows[b]), Seq: runtime.MakeSeq(0, int64(b), 0)})
		outEvs = append(outEvs, evs[b])
		stamps = append(stamps, math.MinInt64)
		if b%3 == 2 && b < batches-1 {
			steps = append(steps, opstest.Step{WM: after[b]})
			outEvs = append(outEvs, nil)
			stamps = append(stamps, after[b])
		}
	}
	return steps, outEvs, stamps
}

// preWindowChain is a pre-aggregation feeding a window aggregation in one subtask (as
// preAggChain in the agg package's tests).
type preWindowChain struct {
	*window.WindowAggOp
	pre *window.PreWindowAggOp
}

type into struct {
	op  runtime.Operator
	out runtime.Emitter
}

func (e into) Emit(m runtime.Message) error {
	switch m.Kind {
	case runtime.MsgBatch:
		return e.op.ProcessBatch(m, e.out)
	case runtime.MsgWatermark:
		return e.op.ProcessWatermark(m.N, e.out)
	}
	return nil
}

func (c *preWindowChain) Open(tc *runtime.TaskCtx) error {
	if err := c.pre.Open(tc); err != nil {
		return err
	}
	return c.WindowAggOp.Open(tc)
}

func (c *preWindowChain) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	return c.pre.ProcessBatch(m, into{c.WindowAggOp, out})
}

func (c *preWindowChain) ProcessWatermark(wm int64, out runtime.Emitter) error {
	return c.pre.ProcessWatermark(wm, into{c.WindowAggOp, out})
}

func (c *preWindowChain) Finish(out runtime.Emitter) error {
	if err := c.pre.Finish(into{c.WindowAggOp, out}); err != nil {
		return err
	}
	return c.WindowAggOp.Finish(out)
}

func (c *preWindowChain) FlushBeforeBarrier(out runtime.Emitter) error {
	return c.pre.FlushBeforeBarrier(into{c.WindowAggOp, out})
}

func (c *preWindowChain) Close() {
	c.pre.Close()
	c.WindowAggOp.Close()
}

var preAggVariants = map[string]func(*window.PreWindowAggOp){
	"defaults":          func(*window.PreWindowAggOp) {},
	"small table":       func(o *window.PreWindowAggOp) { o.MaxGroups, o.SampleRows, o.MinReduction = 2, math.MaxInt32, 1e-9 },
	"pass after sample": func(o *window.PreWindowAggOp) { o.SampleRows, o.MinReduction = 1, math.MaxFloat64 },
}

func preAggregated(op opstest.Op, tune func(*window.PreWindowAggOp)) opstest.Op {
	next := op.New
	op.New = func() runtime.Operator {
		w := next().(*window.WindowAggOp)
		w.PreAgg = true
		pre := &window.PreWindowAggOp{Name: w.Name, Keys: w.Keys, KeyTypes: w.KeyTypes, Aggs: w.Aggs, Win: w.Win,
			TimeIdx: w.TimeIdx, Partial: agg.PartialSchema(w.KeyTypes, w.Aggs, window.SliceField), BatchSize: 3}
		tune(pre)
		return &preWindowChain{WindowAggOp: w, pre: pre}
	}
	return op
}

// In batch mode (no row late), tumbling, sliding (slices of the size's and slide's
// greatest common divisor) and cumulate windows, with and without an offset, give the
// reference's results pre-aggregated by slice, on every path of the pre-aggregation,
// straight, checkpointed and restored at other parallelisms.
func TestPreWindowAggThreeWays(t *testing.T) {
	steps, evs, stamps := batchStream(7, 60)
	defer opstest.Release(steps)
	for _, def := range []plan.WindowDef{
		{Kind: "tumbling", Size: "10us"},
		{Kind: "tumbling", Size: "10us", Offset: "3us"},
		{Kind: "sliding", Size: "12us", Slide: "4us"},
		{Kind: "sliding", Size: "10us", Slide: "4us", Offset: "1us"},
		{Kind: "cumulate", Step: "4us", Size: "16us"},
	} {
		w, err := window.Compile(&def, "window_agg")
		if err != nil {
			t.Fatal(err)
		}
		want := refWindows(evs, stamps, func(ts int64) [][2]int64 { return w.Assign(ts, nil) }, 0)
		if len(want) < 20 {
			t.Fatalf("the reference has only %d rows", len(want))
		}
		for name, tune := range preAggVariants {
			t.Run(fmt.Sprintf("%s %s %s offset %s/%s/", def.Kind, def.Size, def.Slide, def.Offset, name), func(t *testing.T) {
				opstest.RunAll(t, preAggregated(windowOp(t, def, 0), tune), steps, 8, want)
			})
		}
	}
}

// Slices: a tumbling window's slice is the window, a sliding window's the greatest
// common divisor of size and slide, a cumulate window's its step.
func TestSliceSize(t *testing.T) {
	for _, c := range []struct {
		def  plan.WindowDef
		want int64
	}{
		{plan.WindowDef{Kind: "tumbling", Size: "10s"}, 10_000_000},
		{plan.WindowDef{Kind: "sliding", Size: "10s", Slide: "2s"}, 2_000_000},
		{plan.WindowDef{Kind: "sliding", Size: "10s", Slide: "4s"}, 2_000_000},
		{plan.WindowDef{Kind: "sliding", Size: "9s", Slide: "6s"}, 3_000_000},
		{plan.WindowDef{Kind: "cumulate", Step: "2s", Size: "8s"}, 2_000_000},
	} {
		w, err := window.Compile(&c.def, "w")
		if err != nil {
			t.Fatal(err)
		}
		if got := w.SliceSize(); got != c.want {
			t.Errorf("%+v: slice %d, want %d", c.def, got, c.want)
		}
	}
}

// Which window aggregations pre-aggregate: not sessions; tumbling windows with any
// aggregation the group_by pre-aggregates; sliding and cumulate windows only without
// aggregations of rows' positions.
func TestPreAggregatable(t *testing.T) {
	specs := aggs(t)
	first := specs[:1:1]
	first = append(first, agg.Spec{Fn: "first"})
	for _, c := range []struct {
		def  plan.WindowDef
		aggs []agg.Spec
		want bool
	}{
		{plan.WindowDef{Kind: "tumbling", Size: "1s"}, specs, true},
		{plan.WindowDef{Kind: "tumbling", Size: "1s"}, first, true},
		{plan.WindowDef{Kind: "tumbling", Size: "1s"}, []agg.Spec{{Fn: "median"}}, false},
		{plan.WindowDef{Kind: "sliding", Size: "2s", Slide: "1s"}, specs, true},
		{plan.WindowDef{Kind: "sliding", Size: "2s", Slide: "1s"}, first, false},
		{plan.WindowDef{Kind: "cumulate", Step: "1s", Size: "4s"}, []agg.Spec{{Fn: "arg_max"}}, false},
		{plan.WindowDef{Kind: "session", Gap: "1s"}, specs, false},
	} {
		w, err := window.Compile(&c.def, "w")
		if err != nil {
			t.Fatal(err)
		}
		if got := window.PreAggregatable(w, c.aggs); got != c.want {
			t.Errorf("%s with %d aggregations (last %s): %v, want %v", c.def.Kind, len(c.aggs), c.aggs[len(c.aggs)-1].Fn, got, c.want)
		}
	}
}
