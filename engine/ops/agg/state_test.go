package agg_test

import (
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

var inSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "g", Type: arrow.BinaryTypes.String, Nullable: true},
	{Name: "v", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
	{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
	{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
}, nil)

func spec(t *testing.T, fn, col, alias string) agg.Spec {
	t.Helper()
	e := &plan.Expr{Agg: fn}
	if col != "" {
		c := col
		e.Args = []*plan.Expr{{Col: &c}}
	}
	a := alias
	s, err := agg.Compile(&expr.CompileScope{Schema: inSchema, Op: "test"}, &plan.Expr{Alias: &a, Args: []*plan.Expr{e}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// aggStream is a deterministic stream of random batches (with nulls everywhere) and
// watermarks.
func aggStream(seed int64, batches int) ([]opstest.Step, [][]any) {
	rng := rand.New(rand.NewSource(seed))
	var steps []opstest.Step
	var all [][]any // every row, in input order
	words := []string{"a", "b", "c", "dd", "e"}
	for b := 0; b < batches; b++ {
		n := 1 + rng.Intn(25)
		rows := make([][]any, n)
		for i := range rows {
			r := []any{int64(rng.Intn(9)), words[rng.Intn(3)], int64(rng.Intn(2000) - 1000), rng.Float64() * 100, words[rng.Intn(len(words))]}
			for c := range r {
				if rng.Intn(8) == 0 {
					r[c] = nil
				}
			}
			rows[i] = r
		}
		all = append(all, rows...)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(inSchema, rows), Seq: runtime.MakeSeq(0, int64(b), 0)})
		if b%3 == 2 {
			steps = append(steps, opstest.Step{WM: int64(b)})
		}
	}
	return steps, all
}

// refGroupBy computes group_by(keys).agg(count(), sum(v), mean(f), min(s), max(v),
// first(s), last(s), n_unique(s), count(v)) with plain maps.
func refGroupBy(rows [][]any, keyCols []int) []string {
	m := refGroups(rows, keyCols)
	out := make([]string, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// refGroups is refGroupBy's result by key (the key formatted by opstest.Row).
func refGroups(rows [][]any, keyCols []int) map[string]string {
	type acc struct {
		key          []any
		n, cntV      int64
		sumV         int64
		hasV         bool
		sumF         float64
		nF           int64
		minS, firstS any
		lastS        any
		maxV         any
		uniq         map[string]bool
	}
	groups := map[string]*acc{}
	var order []string
	for _, r := range rows {
		key := make([]any, len(keyCols))
		for i, c := range keyCols {
			key[i] = r[c]
		}
		ks := opstest.Row(key...)
		a := groups[ks]
		if a == nil {
			a = &acc{key: key, uniq: map[string]bool{}}
			groups[ks] = a
			order = append(order, ks)
		}
		a.n++
		if v, ok := r[2].(int64); ok {
			a.sumV += v
			a.hasV = true
			a.cntV++
			if a.maxV == nil || v > a.maxV.(int64) {
				a.maxV = v
			}
		}
		if f, ok := r[3].(float64); ok {
			a.sumF += f
			a.nF++
		}
		if s, ok := r[4].(string); ok {
			if a.minS == nil || s < a.minS.(string) {
				a.minS = s
			}
			if a.firstS == nil {
				a.firstS = s
			}
			a.lastS = s
			a.uniq[s] = true
		}
	}
	out := map[string]string{}
	for _, ks := range order {
		a := groups[ks]
		var sum, mean any
		if a.hasV {
			sum = a.sumV
		}
		if a.nF > 0 {
			mean = a.sumF / float64(a.nF)
		}
		vals := append(append([]any{}, a.key...), a.n, sum, mean, a.minS, a.maxV, a.firstS, a.lastS, int64(len(a.uniq)), a.cntV)
		out[ks] = opstest.Row(vals...)
	}
	return out
}

func groupByOp(t *testing.T, keys ...string) opstest.Op { return groupByOpOn(t, inSchema, keys...) }

// groupByOpOn is groupByOp over another schema: inSchema with other key column types.
func groupByOpOn(t *testing.T, in *arrow.Schema, keys ...string) opstest.Op {
	aggs := []agg.Spec{spec(t, "count", "", "n"), spec(t, "sum", "v", "sum_v"), spec(t, "mean", "f", "mean_f"),
		spec(t, "min", "s", "min_s"), spec(t, "max", "v", "max_v"), spec(t, "first", "s", "first_s"),
		spec(t, "last", "s", "last_s"), spec(t, "n_unique", "s", "uniq_s"), spec(t, "count", "v", "count_v")}
	var kexprs []expr.Expr
	var ktypes []arrow.DataType
	var fields []arrow.Field
	for _, k := range keys {
		kexprs = append(kexprs, opstest.Col(in, k))
		f, _ := in.FieldsByName(k)
		ktypes = append(ktypes, f[0].Type)
		fields = append(fields, f[0])
	}
	for _, a := range aggs {
		fields = append(fields, arrow.Field{Name: a.Name, Type: a.OutType, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	return opstest.Op{
		New: func() runtime.Operator {
			return &agg.GroupByOp{Name: "group_by", Keys: kexprs, KeyTypes: ktypes, Aggs: aggs, Schema: schema, BatchSize: 7}
		},
		Keys:   opstest.KeysOf(kexprs),
		MaxPar: 16,
	}
}

// group_by gives the reference's groups straight, checkpointed every few batches and
// restored at other parallelisms, with both backends; one key, two keys, no key.
func TestGroupByStateThreeWays(t *testing.T) {
	steps, rows := aggStream(1, 30)
	defer opstest.Release(steps)
	for _, keys := range [][]string{{"k"}, {"k", "g"}, {"g"}, nil} {
		t.Run(strings.Join(keys, ",")+"/", func(t *testing.T) {
			var cols []int
			for _, k := range keys {
				cols = append(cols, inSchema.FieldIndices(k)[0])
			}
			op := groupByOp(t, keys...)
			want := refGroupBy(rows, cols)
			if keys == nil {
				op.Keys = nil
			}
			opstest.RunAll(t, op, steps, 6, want)
		})
	}
}

// State saved by a group_by with other aggregations (another version of the plan) is
// refused on restore with an error naming the operator and the table.
func TestGroupByStateOfAnotherVersion(t *testing.T) {
	steps, _ := aggStream(2, 4)
	defer opstest.Release(steps)
	a := groupByOp(t, "k")
	b := a
	b.New = func() runtime.Operator {
		op := a.New().(*agg.GroupByOp)
		op.Aggs = op.Aggs[:3]
		op.Schema = arrow.NewSchema(op.Schema.Fields()[:4], nil)
		return op
	}
	err := opstest.RestoreError(t, a, b, steps, state.MemoryBackend)
	if err == nil || !strings.Contains(err.Error(), "group_by") || !strings.Contains(err.Error(), agg.GroupsTable) {
		t.Fatalf("restoring another version's state: %v", err)
	}
	t.Log(err)
}

// renamed is a group_by of a later version that keeps its groups in another table.
type renamed struct{ *agg.GroupByOp }

func (renamed) StateTables() []state.TableSpec {
	return []state.TableSpec{{Name: "groups.v2", Kind: state.List, Key: state.Bytes, Value: state.Bytes}}
}

// State saved into a table the operator no longer declares is refused on restore, with
// both backends, by an error naming the operator's id and the table.
func TestGroupByStateOfUndeclaredTable(t *testing.T) {
	steps, _ := aggStream(3, 4)
	defer opstest.Release(steps)
	a := groupByOp(t, "k")
	b := a
	b.New = func() runtime.Operator { return renamed{a.New().(*agg.GroupByOp)} }
	for _, be := range opstest.Backends {
		err := opstest.RestoreError(t, a, b, steps, be)
		if err == nil || !strings.Contains(err.Error(), "op-under-test") || !strings.Contains(err.Error(), agg.GroupsTable) {
			t.Fatalf("%s: restoring a table the operator no longer declares: %v", be, err)
		}
		t.Logf("%s: %v", be, err)
	}
}
