package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/udf"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// mapBatchesOp is the logical operator "map_batches": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type mapBatchesOp struct{}

func init() { registerLegacyOp("map_batches", mapBatchesOp{}, false) }

func (mapBatchesOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	ln.udf = n.UDF
	ln.schema = in.schema
	if len(n.Schema) > 0 {
		fields := make([]arrow.Field, len(n.Schema))
		for i, f := range n.Schema {
			dt, err := expr.ParseType(f.Type)
			if err != nil {
				return rberr.Wrap(rberr.Plan, err, "%s: schema column %q", name, f.Name)
			}
			fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: true}
		}
		ln.schema = arrow.NewSchema(fields, nil)
	}
	if ln.schema.HasField(in.timeCol) {
		ln.timeCol = in.timeCol
	}
	return nil
}

func (mapBatchesOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil) // the function sees every column
}

func (mapBatchesOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], nil)
	if err != nil {
		return f, err
	}
	f.st.Chain("map_batches", func(int) runtime.Operator { return &udf.MapBatchesOp{Name: n.name, Udf: n.udf, Schema: n.schema} })
	return f, nil
}

func (mapBatchesOp) explain(n *lnode) (detail string) { return "" }
