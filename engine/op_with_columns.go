package engine

import (
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// withColumnsOp is the logical operator "with_columns": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type withColumnsOp struct{}

func init() { registerLegacyOp("with_columns", withColumnsOp{}, false) }

func (withColumnsOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	return bindSelectWithColumns(b, n, ln)
}

func (withColumnsOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	var m map[string]bool
	if need != nil {
		m = map[string]bool{}
		defined := map[string]bool{}
		for _, e := range n.Exprs {
			defined[expr.OutputName(e)] = true
		}
		for k := range need {
			if !defined[k] {
				m[k] = true
			}
		}
		union(m, refs(n.Exprs...))
	}
	b.require(n.Input, ln.inputs[0], m)
}

func (withColumnsOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	return buildSelectWithColumns(g, n, prune)
}

func (withColumnsOp) explain(n *lnode) (detail string) {
	return explainSelectWithColumns(n)
}
