package engine

import (
	"fmt"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// rewriteAggExprs lets group_by(...).agg(...) and window agg(...) take expressions of
// aggregations, as Polars does (col("a").sum() / col("b").sum(), 0.5 * col("x").max()):
// before binding, such an aggregate or window_agg node becomes a select over a node of
// plain aggregations, each nested aggregation computed once under a hidden name. The node
// keeps its identity (its id and the references to it), so the rest of the plan does not
// change. A window's late-rows node (output "late") only takes the plain aggregations:
// its output is its input's rows.
func rewriteAggExprs(outs []*plan.Node) {
	seen := map[*plan.Node]bool{}
	var walk func(n *plan.Node)
	walk = func(n *plan.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		walk(n.Input)
		for _, in := range n.Inputs {
			walk(in)
		}
		if n.Op == "aggregate" || n.Op == "window_agg" {
			rewriteAggregate(n)
		}
	}
	for _, o := range outs {
		walk(o)
	}
}

// plainAgg reports whether e is one aggregation, maybe aliased.
func plainAgg(e *plan.Expr) bool {
	for e != nil && e.Alias != nil && len(e.Args) == 1 {
		e = e.Args[0]
	}
	return e != nil && e.Agg != ""
}

// hasAgg reports whether an aggregation occurs anywhere in e.
func hasAgg(e *plan.Expr) bool {
	if e == nil {
		return false
	}
	if e.Agg != "" {
		return true
	}
	for _, a := range e.Args {
		if hasAgg(a) {
			return true
		}
	}
	return false
}

func rewriteAggregate(n *plan.Node) {
	complex := false
	for _, a := range n.Aggs {
		if !plainAgg(a) && hasAgg(a) {
			complex = true
		}
	}
	if !complex {
		return
	}
	inner := *n
	inner.ID = ""
	inner.Aggs = nil
	var final []*plan.Expr
	for _, k := range n.Keys {
		name := expr.OutputName(k)
		final = append(final, &plan.Expr{Col: &name})
	}
	if n.Op == "window_agg" {
		for _, c := range []string{"window_start", "window_end"} {
			name := c
			final = append(final, &plan.Expr{Col: &name})
		}
	}
	hidden := 0
	var lift func(e *plan.Expr) *plan.Expr
	lift = func(e *plan.Expr) *plan.Expr {
		if e == nil {
			return nil
		}
		if e.Agg != "" {
			name := fmt.Sprintf("__agg_%d", hidden)
			hidden++
			inner.Aggs = append(inner.Aggs, &plan.Expr{Alias: &name, Args: []*plan.Expr{e}})
			return &plan.Expr{Col: &name}
		}
		c := *e
		c.Args = make([]*plan.Expr, len(e.Args))
		for i, a := range e.Args {
			c.Args[i] = lift(a)
		}
		return &c
	}
	for _, a := range n.Aggs {
		name := expr.OutputName(a)
		if plainAgg(a) {
			inner.Aggs = append(inner.Aggs, a)
			final = append(final, &plan.Expr{Col: &name})
			continue
		}
		if !hasAgg(a) {
			// Not an aggregation at all: leave it for the aggregate's own error.
			inner.Aggs = append(inner.Aggs, a)
			final = append(final, &plan.Expr{Col: &name})
			continue
		}
		body := a
		for body.Alias != nil && len(body.Args) == 1 {
			body = body.Args[0]
		}
		final = append(final, &plan.Expr{Alias: &name, Args: []*plan.Expr{lift(body)}})
	}
	if n.Op == "window_agg" && n.Output == "late" {
		n.Aggs = inner.Aggs
		return
	}
	*n = plan.Node{Op: "select", ID: n.ID, Input: &inner, Args: &SelectArgs{Exprs: final}}
	rewriteOver(n, final)
}
