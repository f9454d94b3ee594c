package expr

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// Share: the subtrees that occur more than once become one sharedExpr (and only those:
// the same text with literals of another type is another subtree), and a shared list
// evaluated while sharing (EvalCtx.StartSharing) gives what the unshared list gives, also where a shared
// subtree sits in a when/then branch evaluated on some rows only (its value over those
// rows is not the whole batch's).
func TestSharedSubexpressionsEvaluateAsUnshared(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ec := NewEvalCtx(context.Background(), mem)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "x", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	for i := range 300 {
		if i%17 == 0 {
			b.Field(0).AppendNull()
		} else {
			b.Field(0).(*array.Float64Builder).Append(float64(i%23) - 7.5)
		}
		b.Field(1).(*array.StringBuilder).Append([]string{"abc", "xbz", "", "zzb"}[i%4])
	}
	rec := b.NewRecordBatch()
	b.Release()
	defer rec.Release()

	col := func(n string) *plan.Expr { return &plan.Expr{Col: &n} }
	lit := func(v, typ string) *plan.Expr { return &plan.Expr{Lit: json.RawMessage(v), Type: typ} }
	call := func(fn string, args ...*plan.Expr) *plan.Expr { return &plan.Expr{Fn: fn, Args: args} }
	price := call("mul", col("x"), call("sub", lit("1", "int64"), call("mul", col("x"), lit("0.01", "float64"))))
	costly := &plan.Expr{Fn: "str_contains", Args: []*plan.Expr{col("s")}, Options: map[string]any{"pattern": "b.$"}} // a regex: lazy in when/then
	list := []*plan.Expr{
		price,
		call("mul", price, call("add", lit("1", "int64"), col("x"))),
		call("case_when", call("gt", col("x"), lit("5", "int64")), call("case_when", costly, price, lit("0", "float64")),
			lit("-1", "float64")),
		call("case_when", costly, lit("1", "int64"), lit("2", "int64")),
		call("add", col("x"), lit("1", "int64")),   // the same text as the next,
		call("add", col("x"), lit("1", "float64")), // with a literal of another type
	}
	compile := func() []Expr {
		sc := &CompileScope{Schema: schema, Op: "test"}
		out := make([]Expr, len(list))
		for i, e := range list {
			c, err := sc.Compile(e)
			if err != nil {
				t.Fatal(err)
			}
			out[i] = c
		}
		return out
	}
	plain, shared := compile(), Share(compile())

	var found []*sharedExpr
	var walk func(Expr)
	walk = func(e Expr) {
		if s, ok := e.(*sharedExpr); ok {
			found = append(found, s)
		}
		for _, c := range childrenOf(e) {
			walk(c)
		}
	}
	for _, e := range shared {
		walk(e)
	}
	distinct := map[*sharedExpr]bool{}
	for _, s := range found {
		distinct[s] = true
	}
	// price (4 uses), 1 - x * 0.01 and x * 0.01 within it, and the regex (twice); not
	// x + 1, whose literals differ in type.
	if len(distinct) != 4 {
		t.Fatalf("%d shared subexpressions (%d uses), want 4", len(distinct), len(found))
	}
	for s := range distinct {
		if s.String() == `(col("x") + lit(1))` {
			t.Fatalf("x + 1 with an int64 and a float64 literal shared")
		}
	}

	for round := range 2 { // the memo is per batch: a second batch must not see the first's values
		r := rec
		if round == 1 {
			r = rec.NewSlice(7, 250)
		}
		ec.StartSharing()
		for i := range list {
			want := evalAll(t, ec, plain[i], r)
			got := evalAll(t, ec, shared[i], r)
			if !array.Equal(want, got) {
				t.Fatalf("round %d, %s: shared gives %v, unshared %v", round, plain[i], got, want)
			}
			want.Release()
			got.Release()
		}
		ec.EndSharing()
		if round == 1 {
			r.Release()
		}
	}
}

func evalAll(t *testing.T, ec *EvalCtx, e Expr, rec arrow.RecordBatch) arrow.Array {
	t.Helper()
	d, err := e.Eval(ec, rec)
	if err != nil {
		t.Fatal(err)
	}
	a, err := DatumToArray(ec, d, int(rec.NumRows()))
	if err != nil {
		t.Fatal(err)
	}
	return a
}
