package engine

import (
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// WithColumnsArgs are the arguments of "with_columns": columns added to the input's, or
// replacing those of the same name, one expression each.
type WithColumnsArgs struct {
	Exprs []*plan.Expr `json:"exprs,omitempty"`
}

// withColumnsOp is the logical operator "with_columns": its binding and validation, the input columns it
// needs, its physical form and its explain text (those of a projection, op_select.go).
type withColumnsOp struct {
	WithColumnsArgs
	projection
}

func init() {
	registerOp("with_columns", opReg[WithColumnsArgs]{new: func(a *WithColumnsArgs) logicalOp { return &withColumnsOp{WithColumnsArgs: *a} },
		rewrite: func(n *plan.Node, a *WithColumnsArgs) {
			if whole := rewriteSelectAggs(n, a.Exprs, false); n.Op != "aggregate" {
				rewriteOver(n, a.Exprs, whole)
			}
		}})
}

func (o *withColumnsOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	return o.bindExprs(ln, in, in.schema, o.Exprs, true)
}

func (o *withColumnsOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	requireWithColumns(b, n, ln, o.Exprs, need)
}

// requireWithColumns needs the columns the expressions of a with_columns read, and those
// needed above that it does not define.
func requireWithColumns(b *binder, n *plan.Node, ln *lnode, exprs []*plan.Expr, need map[string]bool) {
	var m map[string]bool
	if need != nil {
		m = map[string]bool{}
		defined := map[string]bool{}
		for _, e := range exprs {
			defined[expr.OutputName(e)] = true
		}
		for k := range need {
			if !defined[k] {
				m[k] = true
			}
		}
		union(m, refs(exprs...))
	}
	b.require(n.Input, ln.inputs[0], m)
}
