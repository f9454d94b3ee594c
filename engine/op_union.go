package engine

import (
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// unionOp is the logical operator "union": its binding and validation, the input columns it
// needs, its physical form and its explain text.
// It takes no arguments beside its inputs.
type unionOp struct{}

func init() {
	registerOp("union", opReg[noArgs]{new: func(*noArgs) logicalOp { return unionOp{} }})
}

func (unionOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	if len(n.Inputs) < 2 {
		return rberr.New(rberr.Plan, "%s: needs at least two inputs", name)
	}
	for i, sub := range n.Inputs {
		in, err := b.bind(sub)
		if err != nil {
			return err
		}
		if i > 0 && !expr.SameColumns(ln.inputs[0].schema, in.schema) {
			return rberr.New(rberr.Schema, "%s: input %d has columns %s but input 0 has %s; select the same columns with the same types on both sides", name, i, expr.DescribeSchema(in.schema), expr.DescribeSchema(ln.inputs[0].schema))
		}
		ln.inputs = append(ln.inputs, in)
	}
	ln.schema = ln.inputs[0].schema
	ln.timeCol = ln.inputs[0].timeCol
	for _, in := range ln.inputs[1:] {
		if in.timeCol != ln.timeCol {
			ln.timeCol = ""
		}
	}
	return nil
}

func (unionOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	for i, sub := range n.Inputs {
		var m map[string]bool
		if need != nil {
			m = map[string]bool{}
			for k := range need {
				m[k] = true
			}
		}
		b.require(sub, ln.inputs[i], m)
	}
}

func (unionOp) estimateRows(n *lnode) (int64, bool) {
	var rows int64
	for _, in := range n.inputs {
		r, ok := estimateRows(in)
		if !ok {
			return 0, false
		}
		rows += r
	}
	return rows, true
}

func (unionOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	var edges []runtime.Edge
	out := flow{ordered: true}
	for _, in := range n.inputs {
		f, err := g.build(in, nil)
		if err != nil {
			return f, err
		}
		edges = append(edges, runtime.Edge{From: f.st, Part: runtime.PartSplit})
		out.ordered = out.ordered && f.ordered
		out.ordinals = append(out.ordinals, f.ordinals...)
	}
	out.st = g.NewStage("union", g.Parallel, edges...)
	return out, nil
}

func (unionOp) explain(n *lnode) (detail string) { return "" }
