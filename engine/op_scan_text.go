package engine

import (
	"fmt"
	"unicode/utf8"

	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// scanTextOp is the logical operator "scan_csv" or "scan_ndjson": files of CSV or
// newline-delimited JSON, one split per file, the schema given or inferred from a
// sample (batch.OpenText).
type scanTextOp struct{ format batch.TextFormat }

func init() {
	registerLegacyOp("scan_csv", scanTextOp{batch.CSV}, false)
	registerLegacyOp("scan_ndjson", scanTextOp{batch.NDJSON}, false)
}

// textReadOptions maps a node's "text" object to batch.TextOptions.
func textReadOptions(format batch.TextFormat, d *plan.TextDef, name string) (batch.TextOptions, error) {
	opts := batch.TextOptions{Format: format, HasHeader: true}
	if d == nil {
		return opts, nil
	}
	if d.Schema != "" {
		s, err := decodeSchema(d.Schema)
		if err != nil {
			return opts, rberr.New(rberr.Plan, "%s: schema: %v", name, err)
		}
		opts.Schema = s
	}
	if d.InferRows < -1 {
		return opts, rberr.New(rberr.Plan, "%s: infer_schema_length must be positive (or None: every row), got %d", name, d.InferRows)
	}
	opts.InferRows = d.InferRows
	if format == batch.NDJSON {
		if d.HasHeader != nil || d.Separator != "" || d.CommentPrefix != "" || len(d.NullValues) > 0 {
			return opts, rberr.New(rberr.Plan, "%s: has_header, separator, comment_prefix and null_values are options of CSV, not of newline-delimited JSON", name)
		}
		return opts, nil
	}
	if d.HasHeader != nil {
		opts.HasHeader = *d.HasHeader
	}
	one := func(s, what string) (rune, error) {
		if s == "" {
			return 0, nil
		}
		r, n := utf8.DecodeRuneInString(s)
		if n != len(s) || r == utf8.RuneError {
			return 0, rberr.New(rberr.Plan, "%s: %s must be one character, got %q", name, what, s)
		}
		return r, nil
	}
	var err error
	if opts.Separator, err = one(d.Separator, "separator"); err != nil {
		return opts, err
	}
	if opts.Comment, err = one(d.CommentPrefix, "comment_prefix"); err != nil {
		return opts, err
	}
	opts.NullValues = d.NullValues
	return opts, nil
}

func (o scanTextOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	ds, ok := b.texts[n]
	if !ok {
		if len(n.Paths) == 0 {
			return rberr.New(rberr.Plan, "%s: no path given", name)
		}
		opts, err := textReadOptions(o.format, n.Text, name)
		if err != nil {
			return err
		}
		kind := batch.CSVFiles
		if o.format == batch.NDJSON {
			kind = batch.NDJSONFiles
		}
		files, err := batch.ResolveFiles(n.Paths, kind)
		if err != nil {
			return err
		}
		if ds, err = batch.OpenText(files, opts); err != nil {
			return err
		}
		if b.texts == nil {
			b.texts = map[*plan.Node]*batch.TextDataset{}
		}
		b.texts[n] = ds
	}
	ln.text = ds
	if err := b.bindScanColumns(n, ln, ds.Schema); err != nil {
		return err
	}
	return b.bindEventTime(n, ln)
}

func (scanTextOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	scanParquetOp{}.require(b, n, ln, need)
}

func (o scanTextOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	files := len(n.text.Files)
	src := &source.TextSource{Ds: n.text, Projection: n.projection, BatchSize: g.BatchSize}
	if n.wm != nil && !g.Batch {
		src.Clk = source.NewClock(files, n.schema.FieldIndices(n.wm.Column)[0], n.wm.Bound)
	}
	p := min(g.Parallel, max(1, files))
	st := g.NewStage(fmt.Sprintf("%s(%d files)", n.op, files), p)
	st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
	g.splitCounts[ord] = files
	g.totalSplits += files
	g.files = append(g.files, n.text.Files...)
	return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
}

func (o scanTextOp) explain(n *lnode) (detail string) {
	detail = fmt.Sprintf("%d files, columns %s", len(n.text.Files), fieldNames(n))
	if n.text.Inferred {
		detail += " (schema inferred from a sample)"
	}
	if n.wm != nil {
		detail += fmt.Sprintf(", event time %q (watermark %s behind)", n.wm.Column, plan.FormatDuration(n.wm.Bound))
	}
	return
}
