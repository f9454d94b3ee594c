package over_test

import (
	"math/rand"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/over"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

var schema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "t", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "x", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

func colRef(name string) *plan.Expr { return &plan.Expr{Col: &name} }

// overExpr builds fn(x, opts).over(k, order_by=t).
func overExpr(fn string, opts map[string]any, agg bool) *plan.Expr {
	inner := &plan.Expr{Fn: fn, Args: []*plan.Expr{colRef("x")}, Options: opts}
	if agg {
		inner = &plan.Expr{Agg: fn, Args: []*plan.Expr{colRef("x")}}
	}
	return &plan.Expr{Fn: "over", Args: []*plan.Expr{inner, colRef("k"), colRef("t")},
		Options: map[string]any{"partition_by": 1}}
}

var cases = []struct {
	fn   string
	opts map[string]any
	agg  bool
}{
	{fn: "cum_sum"}, {fn: "cum_max"}, {fn: "cum_count"}, {fn: "shift", opts: map[string]any{"n": 1}},
	{fn: "rank", opts: map[string]any{"method": "min"}}, {fn: "rolling_sum", opts: map[string]any{"window_size": 3, "min_samples": 1}},
	{fn: "first", agg: true},
}

// reference computes the cases per partition of k, rows ordered by t then input order.
func reference(rows [][]any) []string {
	type row struct {
		i    int
		t, x any
	}
	parts := map[any][]row{}
	for i, r := range rows {
		parts[r[0]] = append(parts[r[0]], row{i, r[1], r[2]})
	}
	res := make([][]any, len(rows))
	for i, r := range rows {
		res[i] = append([]any{}, r...)
	}
	lessT := func(a, b any) bool { // nulls first
		if a == nil || b == nil {
			return a == nil && b != nil
		}
		return a.(int64) < b.(int64)
	}
	for _, p := range parts {
		sort.SliceStable(p, func(a, b int) bool { return lessT(p[a].t, p[b].t) })
		var sum, mx, cnt int64
		set := false
		var first any
		for j, r := range p {
			var cs, cm, sh, rs, rk any
			if r.x != nil {
				v := r.x.(int64)
				sum += v
				cnt++
				if !set || v > mx {
					mx = v
				}
				set = true
				cs, cm = sum, mx
				if first == nil {
					first = v
				}
				lower := int64(1)
				for _, q := range p {
					if q.x != nil && q.x.(int64) < v {
						lower++
					}
				}
				rk = lower
			}
			if j > 0 {
				sh = p[j-1].x
			}
			var ws int64
			n := 0
			for _, q := range p[max(0, j-2) : j+1] {
				if q.x != nil {
					ws += q.x.(int64)
					n++
				}
			}
			if n > 0 {
				rs = ws
			}
			res[r.i] = append(res[r.i], cs, cm, cnt, sh, rk, rs)
		}
		for _, r := range p {
			res[r.i] = append(res[r.i], first)
		}
	}
	out := make([]string, len(rows))
	for i, r := range res {
		out[i] = opstest.Row(r...)
	}
	sort.Strings(out)
	return out
}

// The window functions give the plain-Go reference's values, straight and from
// checkpoints taken while the operator holds its rows (at parallelism 1, as it runs).
func TestOverThreeWays(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	var steps []opstest.Step
	var rows [][]any
	for b := 0; b < 20; b++ {
		var batch [][]any
		for i := 0; i < 1+rng.Intn(12); i++ {
			r := []any{int64(rng.Intn(4)), int64(rng.Intn(30)), int64(rng.Intn(20) - 10)}
			for c := range r {
				if rng.Intn(8) == 0 {
					r[c] = nil
				}
			}
			batch = append(batch, r)
		}
		rows = append(rows, batch...)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(schema, batch), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	defer opstest.Release(steps)
	scope := &expr.CompileScope{Schema: schema, Op: "over"}
	fields := append([]arrow.Field{}, schema.Fields()...)
	var funcs []over.Func
	for i, c := range cases {
		f, err := over.Compile(scope, overExpr(c.fn, c.opts, c.agg))
		if err != nil {
			t.Fatal(err)
		}
		funcs = append(funcs, f)
		fields = append(fields, arrow.Field{Name: string(rune('a' + i)), Type: f.OutType, Nullable: true})
	}
	out := arrow.NewSchema(fields, nil)
	op := opstest.Op{New: func() runtime.Operator {
		return &over.Op{Name: "over", Funcs: funcs, Schema: out, In: schema, EmitSz: 7}
	}}
	opstest.RunAll(t, op, steps, 5, reference(rows))
}
