package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// filterOp is the logical operator "filter": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type filterOp struct{}

func init() { registerLegacyOp("filter", filterOp{}, false) }

func (filterOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: name}
	pred, err := scope.Compile(n.Predicate)
	if err != nil {
		return err
	}
	if pred.Type().ID() != arrow.BOOL {
		return rberr.New(rberr.Type, "%s: the predicate %s is %s, not bool; compare it, e.g. %s > 0", name, pred, expr.TypeName(pred.Type()), pred)
	}
	ln.pred, ln.predExpr, ln.schema, ln.timeCol = pred, n.Predicate, in.schema, in.timeCol
	return nil
}

func (filterOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], union(need, refs(n.Predicate)))
}

func (filterOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], n.predExpr)
	if err != nil {
		return f, err
	}
	f.st.Chain("filter", func(int) runtime.Operator { return &basic.FilterOp{Name: n.name, Pred: n.pred} })
	return f, nil
}

func (filterOp) explain(n *lnode) (detail string) {
	detail = n.pred.String()
	return
}
