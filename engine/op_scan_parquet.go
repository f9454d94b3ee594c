package engine

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// scanParquetOp is the logical operator "scan_parquet": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type scanParquetOp struct{}

func init() { registerLegacyOp("scan_parquet", scanParquetOp{}, false) }

func (scanParquetOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	ds, ok := b.datasets[n]
	if !ok {
		if len(n.Paths) == 0 {
			return rberr.New(rberr.Plan, "%s: no path given", name)
		}
		files, err := batch.ResolvePaths(n.Paths)
		if err != nil {
			return err
		}
		ds, err = batch.OpenParquet(files)
		if err != nil {
			return err
		}
		b.datasets[n] = ds
	}
	ln.dataset = ds
	if err := b.bindScanColumns(n, ln, ds.Schema); err != nil {
		return err
	}
	if b.columns != nil { // after projection pushdown: the columns actually read
		if err := ds.CheckColumns(ln.projection); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", name)
		}
	}
	if err := b.bindEventTime(n, ln); err != nil {
		return err
	}
	return nil
}

func (scanParquetOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if need == nil {
		return
	}
	if n.EventTime != "" {
		need[n.EventTime] = true
	}
	var cols []string
	for _, f := range ln.schema.Fields() {
		if need[f.Name] {
			cols = append(cols, f.Name)
		}
	}
	if len(cols) == 0 && ln.schema.NumFields() > 0 {
		cols = []string{ln.schema.Field(0).Name} // row counts still need one column
	}
	b.columns[n] = cols
}

func (scanParquetOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	src := &source.ParquetSource{Ds: n.dataset, Projection: n.projection, BatchSize: g.BatchSize}
	if n.wm != nil {
		readCol := n.timeIdx
		statCol := n.projection[readCol]
		src.Clk = source.NewParquetClock(n.dataset, statCol, readCol, n.wm.Bound, n.schema.Field(readCol).Type, g.Batch)
	}
	if prune != nil {
		src.Prune = &source.Pruner{Pred: prune, Schema: n.dataset.Schema}
	}
	p := min(g.Parallel, max(1, len(n.dataset.Splits)))
	st := g.NewStage(fmt.Sprintf("scan_parquet(%d files)", len(n.dataset.Files)), p)
	st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
	g.splitCounts[ord] = len(n.dataset.Splits)
	for _, sp := range n.dataset.Splits {
		g.totalRows += sp.NumRows
	}
	g.totalSplits += len(n.dataset.Splits)
	g.files = append(g.files, n.dataset.Files...)
	return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
}

func (scanParquetOp) explain(n *lnode) (detail string) {
	detail = fmt.Sprintf("%d files, %d row groups, columns %s", len(n.dataset.Files), len(n.dataset.Splits), fieldNames(n))
	if n.wm != nil {
		detail += fmt.Sprintf(", event time %q (watermark %s behind)", n.wm.Column, plan.FormatDuration(n.wm.Bound))
	}
	return
}

// bindScanColumns sets a file scan's projection (the columns the plan names, or those
// projection pushdown left, or all) over the files' schema, and its output schema.
func (b *binder) bindScanColumns(n *plan.Node, ln *lnode, schema *arrow.Schema) error {
	cols := n.Columns
	if pushed, ok := b.columns[n]; ok {
		cols = pushed
	}
	ln.projection = nil
	if cols == nil {
		for i := range schema.Fields() {
			ln.projection = append(ln.projection, i)
		}
	} else {
		for _, c := range cols {
			idx := schema.FieldIndices(c)
			if len(idx) == 0 {
				return (&expr.CompileScope{Schema: schema, Op: ln.name}).ColumnNotFound(c)
			}
			ln.projection = append(ln.projection, idx[0])
		}
	}
	fields := make([]arrow.Field, len(ln.projection))
	for i, idx := range ln.projection {
		fields[i] = schema.Field(idx)
	}
	ln.schema = arrow.NewSchema(fields, nil)
	return nil
}
