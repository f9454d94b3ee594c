package agg_test

import (
	"math/big"
	"math/rand"
	"sort"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

var typedSchema = arrow.NewSchema([]arrow.Field{
	{Name: "k", Type: arrow.PrimitiveTypes.Int64},
	{Name: "i8", Type: arrow.PrimitiveTypes.Int8, Nullable: true},
	{Name: "u64", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
	{Name: "f32", Type: arrow.PrimitiveTypes.Float32, Nullable: true},
	{Name: "dec", Type: &arrow.Decimal128Type{Precision: 12, Scale: 2}, Nullable: true},
	{Name: "d32", Type: arrow.FixedWidthTypes.Date32, Nullable: true},
	{Name: "b", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	{Name: "big", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
}, nil)

// The aggregations whose accumulator states the test round-trips, over every storage:
// (function, column).
var typedAggs = [][2]string{{"sum", "i8"}, {"max", "i8"}, {"mean", "u64"}, {"max", "u64"}, {"sum", "f32"},
	{"min", "f32"}, {"sum", "dec"}, {"max", "dec"}, {"mean", "dec"}, {"min", "d32"}, {"first", "d32"},
	{"last", "b"}, {"max", "b"}, {"mean", "big"}, {"n_unique", "dec"}}

// Accumulators of every storage (signed, unsigned, float, decimal, temporal, bool; exact
// means whose sums overflow int64 and uint64) survive checkpoints and rescaling: group_by
// over them gives the plain-Go reference's results (exact sums with math/big) three ways.
func TestGroupByStateAllStorages(t *testing.T) {
	testGroupByAllStorages(t, func(op opstest.Op) opstest.Op { return op })
}

// testGroupByAllStorages runs TestGroupByStateAllStorages' group_by, as wrap makes it.
func testGroupByAllStorages(t *testing.T, wrap func(opstest.Op) opstest.Op) {
	rng := rand.New(rand.NewSource(11))
	var steps []opstest.Step
	var rows [][]any
	for b := 0; b < 24; b++ {
		var batch [][]any
		for i := 0; i < 1+rng.Intn(10); i++ {
			r := []any{int64(rng.Intn(5)), int64(rng.Intn(200) - 100), uint64(1<<63) + uint64(rng.Int63n(1<<62)),
				rng.Float64()*10 - 5, int64(rng.Intn(100000)), int64(rng.Intn(20000)), rng.Intn(2) == 0,
				int64(1<<62) + rng.Int63n(1<<61)}
			for c := 1; c < len(r); c++ {
				if rng.Intn(7) == 0 {
					r[c] = nil
				}
			}
			batch = append(batch, r)
		}
		rows = append(rows, batch...)
		steps = append(steps, opstest.Step{Rec: opstest.Batch(typedSchema, batch), Seq: runtime.MakeSeq(0, int64(b), 0)})
	}
	defer opstest.Release(steps)

	scope := &expr.CompileScope{Schema: typedSchema, Op: "test"}
	var specs []agg.Spec
	fields := []arrow.Field{typedSchema.Field(0)}
	for i, a := range typedAggs {
		c := a[1]
		alias := a[0] + "_" + c + "_" + string(rune('a'+i))
		s, err := agg.Compile(scope, &plan.Expr{Alias: &alias, Args: []*plan.Expr{{Agg: a[0], Args: []*plan.Expr{{Col: &c}}}}})
		if err != nil {
			t.Fatal(err)
		}
		specs = append(specs, s)
		fields = append(fields, arrow.Field{Name: s.Name, Type: s.OutType, Nullable: true})
	}
	schema := arrow.NewSchema(fields, nil)
	keys := []expr.Expr{opstest.Col(typedSchema, "k")}
	op := opstest.Op{
		New: func() runtime.Operator {
			return &agg.GroupByOp{Name: "group_by", Keys: keys, KeyTypes: []arrow.DataType{arrow.PrimitiveTypes.Int64},
				Aggs: specs, Schema: schema, BatchSize: 3}
		},
		Keys:   opstest.KeysOf(keys),
		MaxPar: 8,
	}
	opstest.RunAll(t, wrap(op), steps, 5, refTyped(rows))
}

// refTyped computes the aggregations of typedAggs per key, in plain Go.
func refTyped(rows [][]any) []string {
	col := map[string]int{}
	for i, f := range typedSchema.Fields() {
		col[f.Name] = i
	}
	byKey := map[int64][][]any{}
	for _, r := range rows {
		byKey[r[0].(int64)] = append(byKey[r[0].(int64)], r)
	}
	dec := func(v int64) string { return decimal128.FromI64(v).ToString(2) }
	var out []string
	for k, rs := range byKey {
		vals := []any{k}
		for _, a := range typedAggs {
			var present []any
			for _, r := range rs {
				if v := r[col[a[1]]]; v != nil {
					present = append(present, v)
				}
			}
			if len(present) == 0 {
				if a[0] == "n_unique" {
					vals = append(vals, int64(0))
				} else {
					vals = append(vals, nil)
				}
				continue
			}
			var v any
			switch a[0] + " " + a[1] {
			case "sum i8":
				s := int64(0)
				for _, x := range present {
					s += x.(int64)
				}
				v = s
			case "max i8", "min d32", "max dec":
				m := present[0].(int64)
				for _, x := range present {
					if (a[0] == "max") == (x.(int64) > m) && x.(int64) != m {
						m = x.(int64)
					}
				}
				v = m
				if a[1] == "dec" {
					v = dec(m)
				}
			case "max u64":
				m := present[0].(uint64)
				for _, x := range present {
					m = max(m, x.(uint64))
				}
				v = m
			case "mean u64", "mean big", "mean dec":
				s := new(big.Int)
				for _, x := range present {
					switch x := x.(type) {
					case uint64:
						s.Add(s, new(big.Int).SetUint64(x))
					case int64:
						s.Add(s, big.NewInt(x))
					}
				}
				f := new(big.Float).SetPrec(200).SetInt(s)
				f.Quo(f, big.NewFloat(float64(len(present))))
				if a[1] == "dec" {
					f.Quo(f, big.NewFloat(100))
				}
				v, _ = f.Float64()
			case "sum f32":
				s := 0.0
				for _, x := range present {
					s += float64(float32(x.(float64)))
				}
				v = s
			case "min f32":
				m := float64(float32(present[0].(float64)))
				for _, x := range present {
					m = min(m, float64(float32(x.(float64))))
				}
				v = m
			case "sum dec":
				s := int64(0)
				for _, x := range present {
					s += x.(int64)
				}
				v = dec(s)
			case "first d32":
				v = present[0]
			case "last b":
				v = present[len(present)-1]
			case "max b":
				m := false
				for _, x := range present {
					m = m || x.(bool)
				}
				v = m
			case "n_unique dec":
				u := map[int64]bool{}
				for _, x := range present {
					u[x.(int64)] = true
				}
				v = int64(len(u))
			default:
				panic(a)
			}
			vals = append(vals, v)
		}
		out = append(out, opstest.Row(vals...))
	}
	sort.Strings(out)
	return out
}
