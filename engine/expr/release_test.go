package expr_test

import (
	"encoding/json"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// The kernels that cast their arguments to a common type (when/then, is_in) release every
// buffer they make or take: a NULL branch, a branch already of the result's type, a value
// cast to the column's type. Each is checked against its plain answer.
func TestCastingKernelsRelease(t *testing.T) {
	a := "a"
	col := &plan.Expr{Col: &a}
	lit := func(v, typ string) *plan.Expr { return &plan.Expr{Lit: json.RawMessage(v), Type: typ} }
	cases := []struct {
		name string
		e    *plan.Expr
		want string
	}{
		{"when with a null branch", &plan.Expr{Fn: "case_when", Args: []*plan.Expr{
			{Fn: "eq", Args: []*plan.Expr{col, lit("3", "int64")}}, lit("null", "bool"),
			{Fn: "lt", Args: []*plan.Expr{col, lit("2", "int64")}}}}, "[true false (null)]"},
		{"when of one type", &plan.Expr{Fn: "case_when", Args: []*plan.Expr{
			{Fn: "gt", Args: []*plan.Expr{col, lit("1", "int64")}}, col, lit("0", "int64")}}, "[0 2 3]"},
		{"is_in with a cast", &plan.Expr{Fn: "is_in", Args: []*plan.Expr{col, lit("1.0", "float64"), lit("3.0", "float64")}}, "[true false true]"},
	}
	sc := arrow.NewSchema([]arrow.Field{{Name: a, Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			b := array.NewInt64Builder(mem)
			b.AppendValues([]int64{1, 2, 3}, nil)
			arr := b.NewArray()
			b.Release()
			rec := array.NewRecordBatch(sc, []arrow.Array{arr}, 3)
			arr.Release()
			defer rec.Release()
			e, err := (&expr.CompileScope{Schema: sc, Op: "test"}).Compile(c.e)
			if err != nil {
				t.Fatal(err)
			}
			ec := expr.NewEvalCtx(t.Context(), mem)
			d, err := e.Eval(ec, rec)
			if err != nil {
				t.Fatal(err)
			}
			got, err := expr.DatumToArray(ec, d, 3)
			if err != nil {
				t.Fatal(err)
			}
			defer got.Release()
			if got.String() != c.want {
				t.Fatalf("%s gives %s, want %s", e, got, c.want)
			}
		})
	}
}
