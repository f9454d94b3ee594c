package agg_test

import (
	"context"
	"math"
	"math/big"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

var statsSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
}, nil)

// statAgg is one aggregation of the test: function, column, options, ordering column.
type statAgg struct {
	fn, col string
	opts    map[string]any
	by      string
}

var statAggs = []statAgg{
	{fn: "std", col: "f"},
	{fn: "var", col: "v", opts: map[string]any{"ddof": 0}},
	{fn: "median", col: "v"},
	{fn: "quantile", col: "f", opts: map[string]any{"quantile": 0.3, "interpolation": "linear"}},
	{fn: "quantile", col: "v", opts: map[string]any{"quantile": 0.7}},
	{fn: "quantile", col: "f", opts: map[string]any{"quantile": 0.55}},
	{fn: "quantile", col: "f", opts: map[string]any{"quantile": 0.81}},
	{fn: "quantile", col: "v", opts: map[string]any{"quantile": 0.4, "interpolation": "lower"}},
	{fn: "quantile", col: "f", opts: map[string]any{"quantile": 0.4, "interpolation": "higher"}},
	{fn: "quantile", col: "v", opts: map[string]any{"quantile": 0.25, "interpolation": "midpoint"}},
	{fn: "approx_n_unique", col: "s"},
	{fn: "any", col: "b"},
	{fn: "all", col: "b", opts: map[string]any{"ignore_nulls": false}},
	{fn: "arg_max", col: "v"},
	{fn: "arg_min", col: "s"},
	{fn: "max_by", col: "s", by: "v"},
	{fn: "min_by", col: "v", by: "f"},
}

func statSpecs(t *testing.T) []agg.Spec {
	t.Helper()
	scope := &expr.CompileScope{Schema: statsSchema, Op: "test"}
	var out []agg.Spec
	for i, a := range statAggs {
		c := a.col
		e := &plan.Expr{Agg: a.fn, Args: []*plan.Expr{{Col: &c}}, Options: a.opts}
		if a.by != "" {
			by := a.by
			e.Args = append(e.Args, &plan.Expr{Col: &by})
		}
		alias := a.fn + "_" + string(rune('a'+i))
		s, err := agg.Compile(scope, &plan.Expr{Alias: &alias, Args: []*plan.Expr{e}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// statStream is a deterministic stream of random batches with nulls everywhere, NaN in f,
// and repeated values (ties for arg_max, max_by).
func statStream(seed int64, batches int) ([]opstest.Step, [][]any) {
	return statStreamOver(seed, batches, 7, 20)
}

// statStreamOver is statStream with k one of keys values and up to most rows a batch.
func statStreamOver(seed int64, batches, keys, most int) ([]opstest.Step, [][]any) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var all [][]any
	words := []string{"a", "b", "c", "dd", "e", "ff", "g"}
	for b := 0; b < batches; b++ {
		n := 1 + rng.Intn(most)
		rows := make([][]any, n)
		for i := range rows {
			f := math.Round(rng.Float64()*1000) / 8
			if rng.Intn(40) == 0 {
				f = math.NaN()
			}
			r := []any{int64(rng.Intn(keys)), int64(rng.Intn(50) - 25), f, words[rng.Intn(len(words))], rng.Intn(6) != 0}
			for c := 1; c < len(r); c++ {
				if rng.Intn(9) == 0 {
					r[c] = nil
				}
			}
			rows[i] = r
		}
		all = append(all, rows...)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(statsSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
		if b%4 == 3 {
			steps = append(steps, opstest.Step{WM: int64(b)})
		}
	}
	return steps, all
}

// order is < with NaN after every number (the order of sorting and of max).
func order(a, b any) int {
	switch x := a.(type) {
	case int64:
		y := b.(int64)
		return cmpInt(x < y, x > y)
	case string:
		y := b.(string)
		return cmpInt(x < y, x > y)
	case float64:
		y := b.(float64)
		xn, yn := math.IsNaN(x), math.IsNaN(y)
		if xn || yn {
			return cmpInt(!xn && yn, xn && !yn)
		}
		return cmpInt(x < y, x > y)
	}
	panic("order")
}

// better reports whether a beats b for arg_max (max) or arg_min as Polars chooses: NaN
// loses to every number; equal values do not beat each other.
func better(a, b any, max bool) bool {
	fa, aok := a.(float64)
	fb, bok := b.(float64)
	if aok && bok && math.IsNaN(fa) != math.IsNaN(fb) {
		return math.IsNaN(fb)
	}
	if aok && bok && math.IsNaN(fa) {
		return false
	}
	o := order(a, b)
	return (max && o > 0) || (!max && o < 0)
}

func cmpInt(lt, gt bool) int {
	switch {
	case lt:
		return -1
	case gt:
		return 1
	}
	return 0
}

func toFloat(v any) float64 {
	if i, ok := v.(int64); ok {
		return float64(i)
	}
	return v.(float64)
}

// refVariance is the variance with divisor n - ddof, from an exact mean and exact sum of
// squared deviations (math/big).
func refVariance(xs []float64, ddof int) any {
	n := len(xs)
	if n <= ddof {
		return nil
	}
	for _, x := range xs {
		if math.IsNaN(x) {
			return math.NaN()
		}
	}
	prec := uint(2000)
	sum := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		sum.Add(sum, new(big.Float).SetPrec(prec).SetFloat64(x))
	}
	mean := new(big.Float).SetPrec(prec).Quo(sum, new(big.Float).SetPrec(prec).SetInt64(int64(n)))
	m2 := new(big.Float).SetPrec(prec)
	for _, x := range xs {
		d := new(big.Float).SetPrec(prec).Sub(new(big.Float).SetPrec(prec).SetFloat64(x), mean)
		m2.Add(m2, d.Mul(d, d))
	}
	v, _ := m2.Quo(m2, new(big.Float).SetPrec(prec).SetInt64(int64(n-ddof))).Float64()
	return v
}

// refQuantile follows Polars' definition: position (n-1)*q in the sorted values.
func refQuantile(xs []float64, q float64, interp string) any {
	if len(xs) == 0 {
		return nil
	}
	s := append([]float64(nil), xs...)
	sort.Slice(s, func(i, j int) bool { return order(s[i], s[j]) < 0 })
	pos := float64(len(s)-1) * q
	lo, hi := int(math.Floor(pos)), int(math.Ceil(pos))
	switch interp {
	case "nearest":
		return s[int(math.Round(pos))]
	case "lower":
		return s[lo]
	case "higher":
		return s[hi]
	case "midpoint":
		if lo == hi {
			return s[lo]
		}
		return (s[lo] + s[hi]) / 2
	}
	if lo == hi {
		return s[lo]
	}
	return s[lo] + (s[hi]-s[lo])*(pos-float64(lo))
}

// refStats computes the statAggs per group of k with plain Go.
func refStats(rows [][]any) []string {
	col := map[string]int{"k": 0, "v": 1, "f": 2, "s": 3, "b": 4}
	groups := map[any][][]any{}
	var keys []any
	for _, r := range rows {
		if _, ok := groups[r[0]]; !ok {
			keys = append(keys, r[0])
		}
		groups[r[0]] = append(groups[r[0]], r)
	}
	var out []string
	for _, k := range keys {
		g := groups[k]
		vals := []any{k}
		for _, a := range statAggs {
			c := col[a.col]
			var nonNull []any
			var floats []float64
			for _, r := range g {
				if r[c] != nil {
					nonNull = append(nonNull, r[c])
					if a.col == "v" || a.col == "f" {
						floats = append(floats, toFloat(r[c]))
					}
				}
			}
			q, _ := a.opts["quantile"].(float64)
			interp, _ := a.opts["interpolation"].(string)
			var res any
			switch a.fn {
			case "std":
				if v := refVariance(floats, 1); v != nil {
					res = math.Sqrt(v.(float64))
				}
			case "var":
				res = refVariance(floats, 0)
			case "median":
				res = refQuantile(floats, 0.5, "linear")
			case "quantile":
				if interp == "" {
					interp = "nearest"
				}
				res = refQuantile(floats, q, interp)
			case "approx_n_unique": // exact at these sizes
				seen := map[any]bool{}
				for _, v := range nonNull {
					seen[v] = true
				}
				res = int64(len(seen))
			case "any":
				res = false
				for _, v := range nonNull {
					if v.(bool) {
						res = true
					}
				}
			case "all":
				res = true
				if len(nonNull) < len(g) {
					res = nil
				}
				for _, v := range nonNull {
					if !v.(bool) {
						res = false
					}
				}
			case "arg_max", "arg_min":
				best := -1
				for i, r := range g {
					if r[c] == nil {
						continue
					}
					if best < 0 {
						best = i
						continue
					}
					if better(r[c], g[best][c], a.fn == "arg_max") {
						best = i
					}
				}
				if best >= 0 {
					res = int64(best)
				}
			case "max_by", "min_by":
				bc := col[a.by]
				best := -1
				for i, r := range g {
					if r[bc] == nil {
						continue
					}
					if best < 0 {
						best = i
						continue
					}
					if better(r[bc], g[best][bc], a.fn == "max_by") {
						best = i
					}
				}
				if best >= 0 {
					res = g[best][c]
				}
			}
			vals = append(vals, res)
		}
		out = append(out, opstest.Row(vals...))
	}
	sort.Strings(out)
	return out
}

func statsOp(t *testing.T) opstest.Op {
	specs := statSpecs(t)
	keys := []expr.Expr{opstest.Col(statsSchema, "k")}
	fields := []arrow.Field{statsSchema.Field(0)}
	for _, s := range specs {
		fields = append(fields, arrow.Field{Name: s.Name, Type: s.OutType, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	return opstest.Op{
		New: func() runtime.Operator {
			return &agg.GroupByOp{Name: "group_by", Keys: keys, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
				Aggs: specs, Schema: schema, BatchSize: 5}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 16,
	}
}

// std, var, median, quantile (every interpolation), approx_n_unique, any, all, arg_max,
// arg_min, max_by and min_by in group_by give the plain-Go reference's results (exact
// variance with math/big; Polars' quantile positions; input-order positions) straight,
// checkpointed and restored at other parallelisms, with both backends.
func TestStatsGroupByThreeWays(t *testing.T) {
	steps, rows := statStream(5, 36)
	defer opstest.Release(steps)
	opstest.RunAll(t, statsOp(t), steps, 7, refStats(rows))
}

// The accumulators merge (as session windows merge groups): folding groups together gives
// the reference's result over their rows.
func TestStatsMerge(t *testing.T) {
	steps, rows := statStream(8, 24)
	defer opstest.Release(steps)
	specs := statSpecs(t)
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	// One group per batch (no keys, ids set by hand), then all merged into group 0.
	tab := agg.NewTable("merge", nil, nil, specs)
	defer tab.Release()
	nb := 0
	for _, st := range steps {
		if st.Rec == nil {
			continue
		}
		ids := make([]uint32, st.Rec.NumRows())
		for i := range ids {
			ids[i] = uint32(nb)
		}
		if err := tab.Update(ec, st.Rec, ids, st.Seq); err != nil {
			t.Fatal(err)
		}
		nb++
	}
	// Merge in an order other than the input's, as sessions may.
	for _, src := range rand.New(rand.NewSource(1)).Perm(nb) {
		if src == 0 {
			continue
		}
		for _, a := range tab.Accs() {
			a.Merge(0, uint32(src))
			a.Reset(uint32(src))
		}
	}
	cols, err := tab.AggColumns(mem, []uint32{0})
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.ReleaseAll(cols)
	vals := []any{int64(0)}
	for _, c := range cols {
		vals = append(vals, opstest.Value(c, 0))
	}
	for _, r := range rows {
		r[0] = int64(0)
	}
	opstest.Equal(t, []string{opstest.Row(vals...)}, refStats(rows))
}

// approx_n_unique stays within 3% of the exact count over many distinct values, also
// when sketches merge.
func TestApproxNUniqueAccuracy(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := expr.NewEvalCtx(context.Background(), mem)
	specs := statSpecs(t)[10:11]
	tab := agg.NewTable("hll", nil, nil, specs)
	defer tab.Release()
	rng := rand.New(rand.NewSource(3))
	exact := map[string]bool{}
	for b := 0; b < 40; b++ {
		rows := make([][]any, 5000)
		ids := make([]uint32, len(rows))
		for i := range rows {
			w := strings.Repeat("x", rng.Intn(3)) + string(rune('a'+rng.Intn(26))) + big.NewInt(rng.Int63n(60000)).String()
			exact[w] = true
			rows[i] = []any{nil, nil, nil, w, nil}
			ids[i] = uint32(b % 2)
		}
		rec := opstest.Batch(statsSchema, rows)
		err := tab.Update(ec, rec, ids, runtime.MakeSeq(0, int64(b), 0))
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
	}
	tab.Accs()[0].Merge(0, 1)
	cols, err := tab.AggColumns(mem, []uint32{0})
	if err != nil {
		t.Fatal(err)
	}
	defer runtime.ReleaseAll(cols)
	got := float64(opstest.Value(cols[0], 0).(int64))
	if want := float64(len(exact)); math.Abs(got-want) > 0.03*want {
		t.Fatalf("approx_n_unique = %v, exact %v", got, want)
	}
}

// Options are checked: unknown names (with a suggestion), out-of-range values, types.
func TestStatsOptionErrors(t *testing.T) {
	scope := &expr.CompileScope{Schema: statsSchema, Op: "agg"}
	for _, c := range []struct {
		fn, col string
		opts    map[string]any
		want    string
	}{
		{"std", "f", map[string]any{"dof": 1}, `did you mean "ddof"`},
		{"var", "f", map[string]any{"ddof": -1}, "non-negative"},
		{"quantile", "f", nil, "needs the quantile"},
		{"quantile", "f", map[string]any{"quantile": 1.5}, "between 0 and 1"},
		{"quantile", "f", map[string]any{"quantile": 0.5, "interpolation": "linaer"}, `did you mean "linear"`},
		{"any", "f", nil, "needs a boolean column"},
		{"median", "s", nil, "needs a numeric column"},
		{"sum", "v", map[string]any{"ddof": 1}, "takes no options"},
		{"max_by", "v", nil, "the expression to order by"},
	} {
		col := c.col
		_, err := agg.Compile(scope, &plan.Expr{Agg: c.fn, Args: []*plan.Expr{{Col: &col}}, Options: c.opts})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s(%s, %v): %v, want an error with %q", c.fn, c.col, c.opts, err, c.want)
		}
	}
}

// median and quantile spill (as every value of a group), with the other statistics: a
// group_by over 2000 keys whose cap spills its table again and again gives the
// reference's results.
func TestStatsSpill(t *testing.T) {
	steps, rows := statStreamOver(11, 60, 2000, 500)
	defer opstest.Release(steps)
	spills := 0
	got, _ := opstest.WithinCap(t, statsOp(t), steps, 1, 1<<40, func(o runtime.Operator) opstest.CapUse {
		resident, written, n := agg.SpillUse(o)
		spills = n
		return opstest.CapUse{Resident: resident, Spilled: written}
	})
	if spills < 2 {
		t.Fatalf("spilled %d times under a 1-byte cap", spills)
	}
	opstest.Equal(t, got, refStats(rows))
}
