package engine

import (
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/sink"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// writeParquetOp is the logical operator "write_parquet": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type writeParquetOp struct{}

func init() { registerOp("write_parquet", writeParquetOp{}) }

func (writeParquetOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if n.Path == "" {
		return rberr.New(rberr.Plan, "%s: no output directory given", name)
	}
	for _, f := range in.schema.Fields() {
		if !sink.Writable(f.Type) {
			return rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to Parquet yet", name, f.Name, expr.TypeName(f.Type))
		}
	}
	ln.path = n.Path
	ln.schema = runtime.WriteSummarySchema
	return nil
}

func (writeParquetOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (writeParquetOp) build(g *graph, n *lnode, filterAbove *lnode) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	schema := n.inputs[0].schema
	path := n.path
	in.st.Chain("write_parquet", func(subtask int) runtime.Operator {
		w := &sink.WriteParquetOp{Dir: path, Schema: schema, Subtask: subtask}
		return w
	})
	return flow{st: in.st}, nil
}

func (writeParquetOp) explain(n *lnode) (detail string) {
	detail = n.path
	return
}
