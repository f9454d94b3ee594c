package expr

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// min_horizontal / max_horizontal(x, y, ...): the smallest (largest) of the arguments row
// by row, nulls skipped (all null: null), as Polars'. Each argument is evaluated once and
// folded into the result so far by a pair expression compiled over a batch of two columns,
// when(b < a).then(b).otherwise(fill_null(a, b)), so the plan grows with the number of
// arguments, not faster (a when/then tree of them refers to each operand several times
// per level). The result has the type the arguments share, as when/then's.

func init() { Functions = append(Functions, "min_horizontal", "max_horizontal") }

type horizontalExpr struct {
	args    []Expr
	pairs   []Expr          // pairs[i] folds args[i+1] into the result so far
	schemas []*arrow.Schema // the two-column batch of each pair
	text    string
}

func (s *CompileScope) compileHorizontal(fn string, args []Expr, text string) (Expr, error) {
	if len(args) == 0 {
		return nil, s.Errorf(rberr.Plan, "%s needs at least one expression", fn)
	}
	cmp := "lt"
	if fn == "max_horizontal" {
		cmp = "gt"
	}
	a, b := "a", "b"
	pair := &plan.Expr{Fn: "case_when", Args: []*plan.Expr{
		{Fn: cmp, Args: []*plan.Expr{{Col: &b}, {Col: &a}}},
		{Col: &b},
		{Fn: "fill_null", Args: []*plan.Expr{{Col: &a}, {Col: &b}}},
	}}
	h := &horizontalExpr{args: args, text: text}
	acc := args[0].Type()
	for i, x := range args[1:] {
		sc := arrow.NewSchema([]arrow.Field{{Name: a, Type: acc, Nullable: true}, {Name: b, Type: x.Type(), Nullable: true}}, nil)
		p, err := (&CompileScope{Schema: sc, Op: s.Op}).Compile(pair)
		if err != nil {
			return nil, s.Errorf(rberr.Type, "%s: %s (%s) cannot be compared with the expressions before it (%s)",
				text, args[i+1], TypeName(x.Type()), TypeName(acc))
		}
		h.pairs, h.schemas = append(h.pairs, p), append(h.schemas, sc)
		acc = p.Type()
	}
	return h, nil
}

func (h *horizontalExpr) Type() arrow.DataType {
	if len(h.pairs) == 0 {
		return h.args[0].Type()
	}
	return h.pairs[len(h.pairs)-1].Type()
}

func (h *horizontalExpr) String() string { return h.text }

func (h *horizontalExpr) Eval(ec *EvalCtx, rec arrow.RecordBatch) (compute.Datum, error) {
	acc, err := h.args[0].Eval(ec, rec)
	if err != nil {
		return nil, err
	}
	n := int(rec.NumRows())
	for i, p := range h.pairs {
		accA, err := DatumToArray(ec, acc, n)
		if err != nil {
			return nil, err
		}
		x, err := h.args[i+1].Eval(ec, rec)
		if err != nil {
			accA.Release()
			return nil, err
		}
		xA, err := DatumToArray(ec, x, n)
		if err != nil {
			accA.Release()
			return nil, err
		}
		batch := array.NewRecordBatch(h.schemas[i], []arrow.Array{accA, xA}, int64(n))
		accA.Release()
		xA.Release()
		acc, err = p.Eval(ec, batch)
		batch.Release()
		if err != nil {
			return nil, err
		}
	}
	return acc, nil
}
