package engine

import (
	"fmt"
	"slices"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/over"
	"github.com/riverbed-engine/riverbed/engine/plan"
)

// rewriteAggExprs lets group_by(...).agg(...) and window agg(...) take expressions of
// aggregations, as Polars does (col("a").sum() / col("b").sum(), 0.5 * col("x").max()),
// and constants, given to every group:
// before binding (the rewrite of aggregate and window_agg), such a node becomes a select
// over a node of plain aggregations, each nested aggregation computed once under a hidden
// name. The node keeps its identity (its id and the references to it), so the rest of the
// plan does not change. keys and aggs are the node's; windowed: its output has
// window_start and window_end after the keys; late: it is a window's late-rows node
// (output "late"), which only takes the plain aggregations, as its output is its input's
// rows. withAggs returns the node's arguments with other aggregations.
func rewriteAggExprs(n *plan.Node, keys, aggs []*plan.Expr, windowed, late bool, withAggs func([]*plan.Expr) any) {
	complex := false
	for _, a := range aggs {
		if !plainAgg(a) && hasAgg(a) || !late && constant(a) {
			complex = true
		}
	}
	if !complex {
		return
	}
	inner := *n
	inner.ID = ""
	var innerAggs, final []*plan.Expr
	for _, k := range keys {
		name := expr.OutputName(k)
		final = append(final, &plan.Expr{Col: &name})
	}
	if windowed {
		for _, c := range []string{"window_start", "window_end"} {
			name := c
			final = append(final, &plan.Expr{Col: &name})
		}
	}
	hidden := 0
	lift := func(e *plan.Expr) *plan.Expr {
		return replaceAggs(e, false, func(a *plan.Expr) *plan.Expr {
			name := fmt.Sprintf("__agg_%d", hidden)
			hidden++
			innerAggs = append(innerAggs, &plan.Expr{Alias: &name, Args: []*plan.Expr{a}})
			return &plan.Expr{Col: &name}
		})
	}
	for _, a := range aggs {
		name := expr.OutputName(a)
		if plainAgg(a) {
			innerAggs = append(innerAggs, a)
			final = append(final, &plan.Expr{Col: &name})
			continue
		}
		if !hasAgg(a) {
			if !late && constant(a) {
				// A constant (rb.lit(None).alias("x")), given to every group, as Polars.
				final = append(final, a)
				continue
			}
			// Not an aggregation at all: leave it for the aggregate's own error.
			innerAggs = append(innerAggs, a)
			final = append(final, &plan.Expr{Col: &name})
			continue
		}
		body := a
		for body.Alias != nil && len(body.Args) == 1 {
			body = body.Args[0]
		}
		final = append(final, &plan.Expr{Alias: &name, Args: []*plan.Expr{lift(body)}})
	}
	if late {
		n.Args = withAggs(innerAggs)
		return
	}
	if len(innerAggs) == 0 { // constants only: the groups still need an aggregation
		name := "__agg_rows"
		innerAggs = append(innerAggs, &plan.Expr{Alias: &name, Args: []*plan.Expr{{Agg: "count"}}})
	}
	inner.Args = withAggs(innerAggs)
	*n = plan.Node{Op: "select", ID: n.ID, Input: &inner, Args: &SelectArgs{Exprs: final}}
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

// rewriteSelectAggs lets select and with_columns take aggregations outside group_by, as
// Polars does. A select whose every expression aggregates, each column it reads inside an
// aggregation (col("x").sum(), col("a").max() - col("a").min(), rb.count()), or is a
// constant, becomes group_by().agg() of them: one row (over an unbounded input, an updating one). Otherwise
// each aggregation not already in an over(...) is computed over the whole input and given
// to every row, as .over() with no partition (col("x") - col("x").mean()); rewriteOver
// then makes the node an over node; rewriteSelectAggs reports whether it made such
// over(...)s. The node keeps its identity.
func rewriteSelectAggs(n *plan.Node, exprs []*plan.Expr, isSelect bool) bool {
	bare := false
	for _, e := range exprs {
		if bareAgg(e) {
			bare = true
		}
	}
	if !bare {
		return false
	}
	if isSelect && !slices.ContainsFunc(exprs, func(e *plan.Expr) bool { return !scalarAgg(e) && !constant(e) }) {
		if !slices.ContainsFunc(exprs, constant) {
			n.Op, n.Args = "aggregate", &AggregateArgs{Aggs: exprs}
			return false
		}
		// Constants beside them (rb.lit(None).alias("x")): a select of the constants and
		// the aggregate's columns, in their order, over the aggregate of the rest.
		var aggs, final []*plan.Expr
		for _, e := range exprs {
			if constant(e) {
				final = append(final, e)
				continue
			}
			aggs = append(aggs, e)
			name := expr.OutputName(e)
			final = append(final, &plan.Expr{Col: &name})
		}
		inner := *n
		inner.ID, inner.Op, inner.Args = "", "aggregate", &AggregateArgs{Aggs: aggs}
		rewriteAggExprs(&inner, nil, aggs, false, false, func(aggs []*plan.Expr) any { return &AggregateArgs{Aggs: aggs} })
		n.Input, n.Args = &inner, &SelectArgs{Exprs: final}
		return false
	}
	for i, e := range exprs {
		exprs[i] = replaceAggs(e, true, func(a *plan.Expr) *plan.Expr {
			return &plan.Expr{Fn: "over", Args: []*plan.Expr{a}, Options: map[string]any{"partition_by": 0}}
		})
	}
	return true
}

// replaceAggs returns a copy of e with each aggregation in it replaced by with(it); with
// skipOver, those inside an over(...) are left as they are.
func replaceAggs(e *plan.Expr, skipOver bool, with func(*plan.Expr) *plan.Expr) *plan.Expr {
	switch {
	case e == nil || skipOver && over.IsOver(e):
		return e
	case e.Agg != "":
		return with(e)
	}
	c := *e
	c.Args = make([]*plan.Expr, len(e.Args))
	for i, a := range e.Args {
		c.Args[i] = replaceAggs(a, skipOver, with)
	}
	return &c
}

// bareAgg reports whether an aggregation occurs in e outside every over(...).
func bareAgg(e *plan.Expr) bool {
	if e == nil || over.IsOver(e) {
		return false
	}
	if e.Agg != "" {
		return true
	}
	return slices.ContainsFunc(e.Args, bareAgg)
}

// constant reports whether e reads no column and aggregates nothing (a literal, maybe
// cast or aliased).
func constant(e *plan.Expr) bool {
	if e == nil {
		return true
	}
	if e.Col != nil || e.Agg != "" || over.IsOver(e) {
		return false
	}
	return !slices.ContainsFunc(e.Args, func(a *plan.Expr) bool { return !constant(a) })
}

// scalarAgg reports whether e aggregates, with no over(...) and every column it reads
// inside an aggregation: one value for the whole input.
func scalarAgg(e *plan.Expr) bool {
	var columnsAggregated func(e *plan.Expr) bool
	columnsAggregated = func(e *plan.Expr) bool {
		switch {
		case e == nil || e.Agg != "":
			return true
		case e.Col != nil || over.IsOver(e):
			return false
		}
		return !slices.ContainsFunc(e.Args, func(a *plan.Expr) bool { return !columnsAggregated(a) })
	}
	return hasAgg(e) && !over.Contains(e) && columnsAggregated(e)
}
