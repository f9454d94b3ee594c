package engine

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/zeebo/xxh3"
)

// ScanParquetArgs are the arguments of "scan_parquet": the files, directories or globs
// read, the columns read (absent: all) and the event time.
type ScanParquetArgs struct {
	Paths   []string `json:"paths,omitempty"`
	Columns []string `json:"columns,omitempty"`
	plan.EventTimeDef
}

// scanParquetOp is the logical operator "scan_parquet": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type scanParquetOp struct {
	ScanParquetArgs
	dataset    *batch.Dataset
	projection []int // indexes into dataset.Schema
}

func init() {
	registerOp("scan_parquet", opReg[ScanParquetArgs]{new: func(a *ScanParquetArgs) logicalOp { return &scanParquetOp{ScanParquetArgs: *a} }})
}

func (o *scanParquetOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	ds, ok := b.datasets[n]
	if !ok {
		if len(o.Paths) == 0 {
			return rberr.New(rberr.Plan, "%s: no path given", name)
		}
		key := strings.Join(o.Paths, "\x00")
		if b.cache != nil {
			ds = b.cache.datasets[key]
		}
		if ds == nil {
			files, err := batch.ResolvePaths(o.Paths)
			if err != nil {
				return err
			}
			if ds, err = batch.OpenParquet(files); err != nil {
				return err
			}
			if b.cache != nil {
				b.cache.datasets[key] = ds
			}
		}
		b.datasets[n] = ds
	}
	o.dataset = ds
	var err error
	if o.projection, err = b.bindScanColumns(n, o.Columns, ln, ds.Schema); err != nil {
		return err
	}
	if b.columns != nil { // after projection pushdown: the columns actually read
		if err := ds.CheckColumns(o.projection); err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", name)
		}
	}
	return bindEventTime(o.EventTimeDef, ln)
}

func (o *scanParquetOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	requireScanColumns(b, n, ln, o.EventTime, need)
}

// requireScanColumns pushes the columns needed of a file scan (and its event-time column)
// into it.
func requireScanColumns(b *binder, n *plan.Node, ln *lnode, eventTime string, need map[string]bool) {
	if need == nil {
		return
	}
	if eventTime != "" {
		need[eventTime] = true
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

func (o *scanParquetOp) estimateRows(*lnode) (int64, bool) {
	var rows int64
	for _, sp := range o.dataset.Splits {
		rows += sp.NumRows
	}
	return rows, true
}

func (o *scanParquetOp) sourceFingerprint(*lnode) (string, bool) {
	return filesFingerprint(o.dataset.Files), true
}

func (o *scanParquetOp) splitsPerFile() []int64 {
	splits := make([]int64, len(o.dataset.Files))
	for _, sp := range o.dataset.Splits {
		splits[sp.FileIndex]++
	}
	return splits
}

// filesFingerprint names the files a scan reads, for checkpoints: how many, and a hash of
// their absolute paths.
func filesFingerprint(files []string) string {
	h := xxh3.New()
	for _, f := range files {
		abs, _ := filepath.Abs(f)
		_, _ = h.WriteString(abs + "\x00")
	}
	return fmt.Sprintf("%d files:%016x", len(files), h.Sum64())
}

func (o *scanParquetOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	return o.buildFiltered(g, n, prune, nil)
}

// buildFiltered builds the scan with a filter fused into it (nil: none).
func (o *scanParquetOp) buildFiltered(g *graph, n *lnode, prune *plan.Expr, filter *source.Filter) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	src := &source.ParquetSource{Ds: o.dataset, Projection: o.projection, BatchSize: g.BatchSize, Filter: filter}
	if n.wm != nil {
		readCol := n.timeIdx
		statCol := o.projection[readCol]
		src.Clk = source.NewParquetClock(o.dataset, statCol, readCol, n.wm.Bound, n.schema.Field(readCol).Type, g.Batch)
	}
	if prune != nil {
		src.Prune = &source.Pruner{Pred: prune, Schema: o.dataset.Schema}
	}
	p := min(g.Parallel, max(1, len(o.dataset.Splits)))
	name := fmt.Sprintf("scan_parquet(%d files)", len(o.dataset.Files))
	if filter != nil {
		name += " + filter"
	}
	st := g.NewStage(name, p)
	st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
	g.splitCounts[ord] = len(o.dataset.Splits)
	for _, sp := range o.dataset.Splits {
		g.totalRows += sp.NumRows
	}
	g.totalSplits += len(o.dataset.Splits)
	g.files = append(g.files, o.dataset.Files...)
	return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
}

func (o *scanParquetOp) explain(n *lnode) (detail string) {
	detail = fmt.Sprintf("%d files, %d row groups, columns %s", len(o.dataset.Files), len(o.dataset.Splits), fieldNames(n))
	if n.wm != nil {
		detail += fmt.Sprintf(", event time %q (watermark %s behind)", n.wm.Column, plan.FormatDuration(n.wm.Bound))
	}
	return
}

// bindScanColumns returns a file scan's projection (the columns the plan names, or those
// projection pushdown left, or all) over the files' schema, and sets its output schema.
func (b *binder) bindScanColumns(n *plan.Node, cols []string, ln *lnode, schema *arrow.Schema) ([]int, error) {
	if pushed, ok := b.columns[n]; ok {
		cols = pushed
	}
	var projection []int
	if cols == nil {
		for i := range schema.Fields() {
			projection = append(projection, i)
		}
	} else {
		for _, c := range cols {
			idx := schema.FieldIndices(c)
			if len(idx) == 0 {
				return nil, (&expr.CompileScope{Schema: schema, Op: ln.name}).ColumnNotFound(c)
			}
			projection = append(projection, idx[0])
		}
	}
	fields := make([]arrow.Field, len(projection))
	for i, idx := range projection {
		fields[i] = schema.Field(idx)
	}
	ln.schema = arrow.NewSchema(fields, nil)
	return projection, nil
}
