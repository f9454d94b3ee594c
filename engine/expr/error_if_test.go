package expr

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// error_if(cond, value): the value where cond is nowhere true (NULL is not true), else a
// DataError with the message.
func TestErrorIf(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "v", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	batch := func(ns []int64, valid []bool) arrow.RecordBatch {
		b := array.NewRecordBuilder(mem, schema)
		defer b.Release()
		b.Field(0).(*array.Int64Builder).AppendValues(ns, valid)
		for i := range ns {
			b.Field(1).(*array.StringBuilder).Append(strings.Repeat("x", i))
		}
		return b.NewRecordBatch()
	}
	col := func(n string) *plan.Expr { return &plan.Expr{Col: &n} }
	one, _ := json.Marshal(1)
	e := &plan.Expr{Fn: "error_if", Args: []*plan.Expr{
		{Fn: "gt", Args: []*plan.Expr{col("n"), {Lit: one, Type: "int64"}}}, col("v")},
		Options: map[string]any{"message": "more than one row"}}
	sc := &CompileScope{Schema: schema, Op: "select"}
	c, err := sc.Compile(e)
	if err != nil {
		t.Fatal(err)
	}
	if c.Type().ID() != arrow.STRING {
		t.Fatalf("type %s, want the value's", c.Type())
	}
	ec := NewEvalCtx(context.Background(), mem)
	ok := batch([]int64{0, 1, 5}, []bool{true, true, false}) // NULL > 1 is not true
	defer ok.Release()
	d, err := c.Eval(ec, ok)
	if err != nil {
		t.Fatal(err)
	}
	got := d.(interface{ MakeArray() arrow.Array }).MakeArray()
	if s := got.(*array.String); s.Len() != 3 || s.Value(2) != "xx" {
		t.Errorf("want the values back, got %v", got)
	}
	got.Release()
	d.Release()
	bad := batch([]int64{0, 2, 1}, nil)
	defer bad.Release()
	_, err = c.Eval(ec, bad)
	if err == nil || rberr.KindOf(err) != rberr.Data || !strings.Contains(err.Error(), "more than one row") {
		t.Fatalf("want a DataError with the message, got %v", err)
	}
	delete(e.Options, "message")
	if _, err := sc.Compile(e); err == nil || !strings.Contains(err.Error(), "needs a message") {
		t.Errorf("without a message: %v", err)
	}
}
