package agg_test

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// preAggChain is a pre-aggregation feeding a group_by in one subtask: what a subtask of
// the stage before the exchange sends to the group_by's subtasks. The test harness routes
// input rows by key first, so each chain's pre-aggregation sees only its subtask's keys;
// the group_by then gets partial states (and passed-through rows) as over the exchange.
// Its state is the group_by's: the pre-aggregation sends everything on before a barrier.
type preAggChain struct {
	*agg.GroupByOp
	pre *agg.PreAggOp
}

// into feeds what the pre-aggregation emits to the group_by.
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

func (c *preAggChain) Open(tc *runtime.TaskCtx) error {
	if err := c.pre.Open(tc); err != nil {
		return err
	}
	return c.GroupByOp.Open(tc)
}

func (c *preAggChain) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	return c.pre.ProcessBatch(m, into{c.GroupByOp, out})
}

func (c *preAggChain) ProcessWatermark(wm int64, out runtime.Emitter) error {
	return c.pre.ProcessWatermark(wm, into{c.GroupByOp, out})
}

func (c *preAggChain) Finish(out runtime.Emitter) error {
	if err := c.pre.Finish(into{c.GroupByOp, out}); err != nil {
		return err
	}
	return c.GroupByOp.Finish(out)
}

func (c *preAggChain) FlushBeforeBarrier(out runtime.Emitter) error {
	if err := c.pre.FlushBeforeBarrier(into{c.GroupByOp, out}); err != nil {
		return err
	}
	return c.GroupByOp.FlushBeforeBarrier(out)
}

func (c *preAggChain) Close() {
	c.pre.Close()
	c.GroupByOp.Close()
}

// preAggVariants tune the pre-aggregation so that every path runs: its defaults (with
// little input: pre-aggregating throughout); a table of two groups, sent on whenever it
// fills; passing rows through from the second batch on (after a sample of one batch);
// and a table of three groups that stops when it fills having reduced little.
var preAggVariants = map[string]func(*agg.PreAggOp){
	"defaults":          func(*agg.PreAggOp) {},
	"small table":       func(o *agg.PreAggOp) { o.MaxGroups, o.SampleRows, o.MinReduction = 2, math.MaxInt32, 1e-9 },
	"pass after sample": func(o *agg.PreAggOp) { o.SampleRows, o.MinReduction = 1, math.MaxFloat64 },
	"pass when full":    func(o *agg.PreAggOp) { o.MaxGroups, o.SampleRows, o.MinReduction = 3, math.MaxInt32, 3 },
}

// preAggregated returns op (a group_by) with a pre-aggregation in front, tuned by tune.
func preAggregated(op opstest.Op, tune func(*agg.PreAggOp)) opstest.Op {
	next := op.New
	op.New = func() runtime.Operator {
		g := next().(*agg.GroupByOp)
		g.PreAgg = true
		pre := &agg.PreAggOp{Name: g.Name, Keys: g.Keys, KeyTypes: g.KeyTypes, Aggs: g.Aggs,
			Partial: agg.PartialSchema(g.KeyTypes, g.Aggs), BatchSize: 4}
		tune(pre)
		return &preAggChain{GroupByOp: g, pre: pre}
	}
	return op
}

// Pre-aggregated, group_by gives the reference's groups on every path of the
// pre-aggregation (partial states, tables sent on as they fill, rows passed through, and
// a mix), straight, checkpointed and restored at other parallelisms, with both backends:
// the aggregations of refGroupBy (count, sum, mean, min, max, first, last, n_unique),
// one key, two keys, no key.
func TestPreAggGroupByThreeWays(t *testing.T) {
	steps, rows := aggStream(1, 30)
	defer opstest.Release(steps)
	for name, tune := range preAggVariants {
		for _, keys := range [][]string{{"k"}, {"k", "g"}, {"g"}, nil} {
			t.Run(name+"/"+strings.Join(keys, ",")+"/", func(t *testing.T) {
				var cols []int
				for _, k := range keys {
					cols = append(cols, inSchema.FieldIndices(k)[0])
				}
				op := preAggregated(groupByOp(t, keys...), tune)
				if keys == nil {
					op.Keys = nil
				}
				opstest.RunAll(t, op, steps, 6, refGroupBy(rows, cols))
			})
		}
	}
}

// The statistical and positional aggregations (std, var, approx_n_unique, any, all,
// arg_max, arg_min, max_by, min_by; and median and quantile, which the planner does not
// pre-aggregate, but whose partial states merge too) give the reference's results
// pre-aggregated, on every path.
func TestPreAggStatsThreeWays(t *testing.T) {
	steps, rows := statStream(5, 36)
	defer opstest.Release(steps)
	want := refStats(rows)
	for name, tune := range preAggVariants {
		t.Run(name, func(t *testing.T) {
			opstest.RunAll(t, preAggregated(statsOp(t), tune), steps, 7, want)
		})
	}
}

// Every storage (signed, unsigned, float, decimal, temporal, bool; exact means of
// integers whose sums overflow int64 and uint64) merges exactly from partial states.
func TestPreAggAllStorages(t *testing.T) {
	for name, tune := range preAggVariants {
		t.Run(name, func(t *testing.T) {
			testGroupByAllStorages(t, func(op opstest.Op) opstest.Op { return preAggregated(op, tune) })
		})
	}
}

// The planner does not pre-aggregate median and quantile (their partial state is every
// value); every other aggregation it does.
func TestPreAggregatable(t *testing.T) {
	for _, fn := range agg.Aggregations {
		want := fn != "median" && fn != "quantile"
		if got := agg.PreAggregatable([]agg.Spec{{Fn: fn}}); got != want {
			t.Errorf("PreAggregatable(%s) = %v, want %v", fn, got, want)
		}
	}
}

// emitted collects what an operator emits.
type emitted struct{ batches []arrow.RecordBatch }

func (e *emitted) Emit(m runtime.Message) error {
	if m.Kind == runtime.MsgBatch {
		e.batches = append(e.batches, m.Rec)
	}
	return nil
}

func (e *emitted) release() {
	for _, b := range e.batches {
		b.Release()
	}
}

// keyBatch is a batch of n rows of inSchema whose key k is key(i) (null when key gives
// -1) and whose g cycles through a few strings.
func keyBatch(n int, key func(i int) int64) arrow.RecordBatch {
	rows := make([][]any, n)
	words := []string{"x", "yy", "", "zzz"}
	for i := range rows {
		var k any = key(i)
		if key(i) < 0 {
			k = nil
		}
		var g any = words[i%len(words)]
		if i%11 == 0 {
			g = nil
		}
		rows[i] = []any{k, g, int64(i), float64(i) / 3, words[i%3]}
	}
	return opstest.Batch(inSchema, rows)
}

// runPre runs a pre-aggregation (tuned) over batches and returns what it emitted.
func runPre(t *testing.T, mem memory.Allocator, keys []string, batches []arrow.RecordBatch, tune func(*agg.PreAggOp)) (*agg.PreAggOp, *emitted) {
	t.Helper()
	g := groupByOp(t, keys...).New().(*agg.GroupByOp)
	return runPreOf(t, mem, g.Keys, g.KeyTypes, g.Aggs, batches, tune)
}

// runPreOf is runPre with the keys and aggregations given.
func runPreOf(t *testing.T, mem memory.Allocator, keys []expr.Expr, types []arrow.DataType, aggs []agg.Spec, batches []arrow.RecordBatch, tune func(*agg.PreAggOp)) (*agg.PreAggOp, *emitted) {
	t.Helper()
	pre := &agg.PreAggOp{Name: "group_by", Keys: keys, KeyTypes: types, Aggs: aggs,
		Partial: agg.PartialSchema(types, aggs), BatchSize: 1000}
	tune(pre)
	if err := pre.Open(runtime.NewStandaloneTaskCtx(context.Background(), mem, 0, 1, 16)); err != nil {
		t.Fatal(err)
	}
	out := &emitted{}
	for i, b := range batches {
		b.Retain()
		if err := pre.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: b, Seq: runtime.MakeSeq(0, int64(i), 0)}, out); err != nil {
			t.Fatal(err)
		}
	}
	if err := pre.ProcessWatermark(runtime.WatermarkMax, out); err != nil {
		t.Fatal(err)
	}
	if err := pre.Finish(out); err != nil {
		t.Fatal(err)
	}
	pre.Close()
	return pre, out
}

// The key hash a pre-aggregation sends with each partial state and each passed row is
// the hash the exchange would compute from the keys (expr.HashColumns), so that rows and
// partial states of a key reach the same subtask and key group: for an integer key, a
// string key, two keys, with null keys. Rows of one integer key pass through without
// hashes (the exchange hashes them itself, more cheaply than it would move a column).
func TestPreAggHashesAreTheExchangeHashes(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	batch := keyBatch(500, func(i int) int64 { return int64(i%37) - 1 })
	defer batch.Release()
	for _, keys := range [][]string{{"k"}, {"g"}, {"k", "g"}} {
		for _, pass := range []bool{false, true} {
			tune := func(*agg.PreAggOp) {}
			if pass {
				tune = preAggVariants["pass after sample"]
			}
			_, out := runPre(t, mem, keys, []arrow.RecordBatch{batch, batch}, tune)
			var kexprs []expr.Expr
			for _, k := range keys {
				kexprs = append(kexprs, opstest.Col(inSchema, k))
			}
			seen := 0
			for _, b := range out.batches {
				if !runtime.CarriesKeyHashes(b.Schema()) {
					// Rows passed through without hashes: only for one integer key.
					if !pass || len(keys) != 1 || keys[0] != "k" || agg.IsPartial(b.Schema()) {
						t.Fatalf("keys %v (passing %v): a batch without key hashes (%s)", keys, pass, b.Schema())
					}
					seen += int(b.NumRows())
					continue
				}
				var kcols []arrow.Array
				if agg.IsPartial(b.Schema()) {
					kcols = b.Columns()[:len(keys)]
				} else {
					var err error
					if kcols, err = runtime.EvalColumns(ec, kexprs, b); err != nil {
						t.Fatal(err)
					}
					defer runtime.ReleaseAll(kcols)
				}
				want := make([]uint64, b.NumRows())
				expr.HashColumns(kcols, want)
				got := b.Column(int(b.NumCols()) - 1).(*array.Uint64).Uint64Values()
				for i := range want {
					if got[i] != want[i] {
						t.Fatalf("keys %v (passing %v): row %d carries hash %x, the exchange computes %x", keys, pass, i, got[i], want[i])
					}
				}
				seen += int(b.NumRows())
			}
			if seen == 0 {
				t.Fatalf("keys %v: nothing emitted", keys)
			}
			out.release()
		}
	}
}

// With few keys the pre-aggregation sends one partial state per key; with a distinct key
// in (nearly) every row, it stops after its sample and passes rows through with their
// hash, having sent on what it held: each input row is then in exactly one output row.
func TestPreAggAdapts(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const n, batches = 4096, 12
	few, many := make([]arrow.RecordBatch, batches), make([]arrow.RecordBatch, batches)
	for b := range few {
		few[b] = keyBatch(n, func(i int) int64 { return int64(i % 100) })
		many[b] = keyBatch(n, func(i int) int64 { return int64(b*n + i) })
	}
	defer opstest.Release(toSteps(few))
	defer opstest.Release(toSteps(many))
	tune := func(o *agg.PreAggOp) { o.SampleRows, o.MaxGroups = 3*n, 1<<20 }

	pre, out := runPre(t, mem, []string{"k"}, few, tune)
	rows := 0
	for _, b := range out.batches {
		if !agg.IsPartial(b.Schema()) {
			t.Fatalf("few keys: a batch of rows passed through (%s)", b.Schema())
		}
		rows += int(b.NumRows())
	}
	if pre.Passing() || rows != 100 {
		t.Fatalf("few keys: %d partial states sent (want 100), passing %v", rows, pre.Passing())
	}
	out.release()

	pre, out = runPre(t, mem, []string{"k"}, many, tune)
	partials, passed := 0, 0
	for _, b := range out.batches {
		if agg.IsPartial(b.Schema()) {
			partials += int(b.NumRows())
		} else {
			passed += int(b.NumRows())
		}
	}
	if !pre.Passing() || partials != 3*n || passed != (batches-3)*n {
		t.Fatalf("distinct keys: %d partial states and %d rows passed (want %d and %d), passing %v",
			partials, passed, 3*n, (batches-3)*n, pre.Passing())
	}
	out.release()
}

// A distinct count's partial state carries the values it holds, so a pre-aggregation
// whose (key, value) pairs hardly repeat sends as much as the rows themselves, however
// much its keys repeat: it stops after its sample and passes rows through. Over the
// same 100 keys with 3 values each (s), or 4 and nulls (g), it keeps pre-aggregating.
func TestPreAggAdaptsToHeldValues(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	const n, batches = 4096, 6
	in := make([]arrow.RecordBatch, batches)
	for b := range in {
		in[b] = keyBatch(n, func(i int) int64 { return int64(i % 100) }) // v: the row's number in its batch
	}
	defer opstest.Release(toSteps(in))
	for _, c := range []struct {
		fn, col string
		pass    bool
	}{{"n_unique", "v", true}, {"n_unique", "s", false}, {"n_unique", "g", false}} {
		aggs := []agg.Spec{spec(t, "count", "", "n"), spec(t, c.fn, c.col, "x")}
		pre, out := runPreOf(t, mem, []expr.Expr{opstest.Col(inSchema, "k")}, []arrow.DataType{arrow.PrimitiveTypes.Int64},
			aggs, in, func(o *agg.PreAggOp) { o.SampleRows, o.MaxGroups = n, 1<<20 })
		passed := 0
		for _, b := range out.batches {
			if !agg.IsPartial(b.Schema()) {
				passed += int(b.NumRows())
			}
		}
		want := 0
		if c.pass {
			want = (batches - 1) * n
		}
		if pre.Passing() != c.pass || passed != want {
			t.Errorf("%s(%s): passing %v with %d rows passed through, want %v and %d", c.fn, c.col, pre.Passing(), passed, c.pass, want)
		}
		out.release()
	}
}

func toSteps(bs []arrow.RecordBatch) []opstest.Step {
	steps := make([]opstest.Step, len(bs))
	for i, b := range bs {
		steps[i] = opstest.Step{Rec: b}
	}
	return steps
}
