package engine

import (
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// nexmarkOp is the logical operator "nexmark": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type nexmarkOp struct{}

func init() { registerLegacyOp("nexmark", nexmarkOp{}, false) }

func (nexmarkOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	return bindDatagenNexmark(b, n, ln)
}

func (nexmarkOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {}

func (nexmarkOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	return buildDatagenNexmark(g, n, prune)
}

func (nexmarkOp) explain(n *lnode) (detail string) {
	return explainDatagenNexmark(n)
}
