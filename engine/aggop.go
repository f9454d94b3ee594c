package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// aggregateOp is a hash aggregation over the key groups its subtask owns. On a bounded
// input it emits every group when the final watermark arrives (at finish).
type aggregateOp struct {
	runtime.BaseOp
	name      string
	keys      []expr.Expr
	keyTypes  []arrow.DataType
	aggs      []aggSpec
	schema    *arrow.Schema
	batchSize int
	tc        *runtime.TaskCtx
	agg       *hashAgg
}

func (o *aggregateOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.agg = newHashAgg(o.name, o.keys, o.keyTypes, o.aggs)
	return nil
}

func (o *aggregateOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *aggregateOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	defer m.Rec.Release()
	_, err := o.agg.consume(o.tc.Ec, m.Rec, m.Seq)
	return err
}

func (o *aggregateOp) Finish(out runtime.Emitter) error {
	n := o.agg.numGroups()
	if n == 0 && len(o.keys) == 0 {
		// A global aggregation over no rows still has one row (count 0, sums null), as SQL.
		o.agg.groups.Hash = append(o.agg.groups.Hash, 0)
		n = 1
	}
	if n == 0 {
		return nil
	}
	mem := o.tc.Ec.Mem
	cols, err := o.agg.keyColumns(mem, nil)
	if err != nil {
		return err
	}
	aggs, err := o.agg.aggColumns(mem, nil)
	if err != nil {
		runtime.ReleaseAll(cols)
		return err
	}
	cols = append(cols, aggs...)
	rec := array.NewRecordBatch(o.schema, cols, int64(n))
	runtime.ReleaseAll(cols)
	return runtime.EmitSliced(rec, o.batchSize, out)
}

func (o *aggregateOp) Close() {
	if o.agg != nil {
		o.agg.release()
	}
}
