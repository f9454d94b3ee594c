package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/udf"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// MapBatchesArgs are the arguments of "map_batches": the host's function (its id) and the
// columns it returns (absent: the input's).
type MapBatchesArgs struct {
	UDF    int64           `json:"udf,omitempty"`
	Schema []plan.FieldDef `json:"schema,omitempty"`
}

// mapBatchesOp is the logical operator "map_batches": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type mapBatchesOp struct {
	MapBatchesArgs
}

func init() {
	registerOp("map_batches", opReg[MapBatchesArgs]{new: func(a *MapBatchesArgs) logicalOp { return &mapBatchesOp{MapBatchesArgs: *a} }})
}

func (o *mapBatchesOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	ln.schema = in.schema
	if len(o.Schema) > 0 {
		fields := make([]arrow.Field, len(o.Schema))
		for i, f := range o.Schema {
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

func (o *mapBatchesOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil) // the function sees every column
}

func (o *mapBatchesOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *mapBatchesOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], nil)
	if err != nil {
		return f, err
	}
	id := o.UDF
	f.st.Chain("map_batches", func(int) runtime.Operator { return &udf.MapBatchesOp{Name: n.name, Udf: id, Schema: n.schema} })
	return f, nil
}

func (o *mapBatchesOp) explain(*lnode) string { return "" }
