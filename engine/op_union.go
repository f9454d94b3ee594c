package engine

import (
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// unionOp is the logical operator "union": its binding and validation, the input columns it
// needs, its physical form and its explain text.
// It takes no arguments beside its inputs.
type unionOp struct {
	// pick: by input, the columns of it the union passes on, in order (nil: all). After
	// projection pushdown an input shared with a consumer that needs more columns carries
	// those too; the union narrows every input to what its own consumers need.
	pick [][]int
}

func init() {
	registerOp("union", opReg[noArgs]{new: func(*noArgs) logicalOp { return &unionOp{} }})
}

func (o *unionOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	if len(n.Inputs) < 2 {
		return rberr.New(rberr.Plan, "%s: needs at least two inputs", name)
	}
	same := true
	for i, sub := range n.Inputs {
		in, err := b.bind(sub)
		if err != nil {
			return err
		}
		if i > 0 && !expr.SameColumns(ln.inputs[0].schema, in.schema) {
			same = false
		}
		ln.inputs = append(ln.inputs, in)
	}
	o.pick = nil
	ln.schema = ln.inputs[0].schema
	if need := b.unions[n]; !same && need != nil {
		if err := o.narrow(ln, need); err == nil {
			same = true
		}
	}
	if !same {
		for i, in := range ln.inputs[1:] {
			if !expr.SameColumns(ln.inputs[0].schema, in.schema) {
				return rberr.New(rberr.Schema, "%s: input %d has columns %s but input 0 has %s; select the same columns with the same types on both sides", name, i+1, expr.DescribeSchema(in.schema), expr.DescribeSchema(ln.inputs[0].schema))
			}
		}
	}
	ln.timeCol = ln.inputs[0].timeCol
	for _, in := range ln.inputs[1:] {
		if in.timeCol != ln.timeCol {
			ln.timeCol = ""
		}
	}
	return nil
}

// narrow sets the union's schema to the needed columns of its first input, in order, and
// picks them from every input; an error when an input lacks one or has it of another type.
func (o *unionOp) narrow(ln *lnode, need map[string]bool) error {
	var fields []arrow.Field
	for _, f := range ln.inputs[0].schema.Fields() {
		if need[f.Name] {
			fields = append(fields, f)
		}
	}
	o.pick = make([][]int, len(ln.inputs))
	for i, in := range ln.inputs {
		var cols []int
		for _, f := range fields {
			idx := in.schema.FieldIndices(f.Name)
			if len(idx) != 1 || !arrow.TypeEqual(in.schema.Field(idx[0]).Type, f.Type) {
				o.pick = nil
				return rberr.New(rberr.Schema, "column %q", f.Name)
			}
			cols = append(cols, idx[0])
		}
		if len(cols) < in.schema.NumFields() || !slices.IsSorted(cols) {
			o.pick[i] = cols
		}
	}
	md := ln.inputs[0].schema.Metadata()
	ln.schema = arrow.NewSchema(fields, &md)
	return nil
}

func (o *unionOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if len(need) > 0 {
		b.unions[n] = passedOn(ln, need)
	}
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

func (*unionOp) estimateRows(n *lnode) (int64, bool) {
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

func (o *unionOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	var edges []runtime.Edge
	out := flow{ordered: true}
	for i, in := range n.inputs {
		f, err := g.build(in, nil)
		if err != nil {
			return f, err
		}
		if o.pick != nil && o.pick[i] != nil {
			var exprs []expr.Expr
			for _, c := range o.pick[i] {
				name := in.schema.Field(c).Name
				e, err := (&expr.CompileScope{Schema: in.schema, Op: n.name}).Compile(&plan.Expr{Col: &name})
				if err != nil {
					return f, err
				}
				exprs = append(exprs, e)
			}
			schema := n.schema
			f.st.Chain("project", func(int) runtime.Operator { return &basic.ProjectOp{Name: n.name, Exprs: exprs, Schema: schema} })
		}
		edges = append(edges, runtime.Edge{From: f.st, Part: runtime.PartSplit})
		out.ordered = out.ordered && f.ordered
		out.ordinals = append(out.ordinals, f.ordinals...)
	}
	out.st = g.NewStage("union", g.Parallel, edges...)
	return out, nil
}

func (*unionOp) explain(n *lnode) (detail string) { return "" }
