package engine

import (
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ScanTextArgs are the arguments of "scan_csv" and "scan_ndjson": the files, directories
// or globs read, the columns read (absent: all), the format's options (plan.TextDef) and
// the event time.
type ScanTextArgs struct {
	Paths   []string      `json:"paths,omitempty"`
	Columns []string      `json:"columns,omitempty"`
	Text    *plan.TextDef `json:"text,omitempty"`
	plan.EventTimeDef
}

// scanTextOp is the logical operator "scan_csv" or "scan_ndjson": files of CSV or
// newline-delimited JSON, one split per file, the schema given or inferred from a
// sample (batch.OpenText).
type scanTextOp struct {
	ScanTextArgs
	format     batch.TextFormat
	text       *batch.TextDataset
	projection []int // indexes into text.Schema
}

func init() {
	for op, format := range map[string]batch.TextFormat{"scan_csv": batch.CSV, "scan_ndjson": batch.NDJSON} {
		registerOp(op, opReg[ScanTextArgs]{new: func(a *ScanTextArgs) logicalOp { return &scanTextOp{ScanTextArgs: *a, format: format} }})
	}
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

func (o *scanTextOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	ds, ok := b.texts[n]
	if !ok {
		if len(o.Paths) == 0 {
			return rberr.New(rberr.Plan, "%s: no path given", name)
		}
		opts, err := textReadOptions(o.format, o.Text, name)
		if err != nil {
			return err
		}
		kind := batch.CSVFiles
		if o.format == batch.NDJSON {
			kind = batch.NDJSONFiles
		}
		files, err := batch.ResolveFiles(o.Paths, kind)
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
	o.text = ds
	var err error
	if o.projection, err = b.bindScanColumns(n, o.Columns, ln, ds.Schema); err != nil {
		return err
	}
	return bindEventTime(o.EventTimeDef, ln)
}

func (o *scanTextOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	requireScanColumns(b, n, ln, o.EventTime, need)
}

// textBytesPerRow is the size of a CSV or NDJSON row assumed when estimating rows from
// file sizes: small enough that a file of wide rows is not taken for a small one.
const textBytesPerRow = 16

// estimateRows is a rough estimate: the files' bytes / textBytesPerRow.
func (o *scanTextOp) estimateRows(*lnode) (int64, bool) {
	var bytes int64
	for _, f := range o.text.Files {
		st, err := os.Stat(f)
		if err != nil {
			return 0, false
		}
		bytes += st.Size()
	}
	return bytes/textBytesPerRow + 1, true
}

func (o *scanTextOp) sourceFingerprint(*lnode) (string, bool) {
	return filesFingerprint(o.text.Files), true
}

// splitsPerFile: one split per file.
func (o *scanTextOp) splitsPerFile() []int64 {
	splits := make([]int64, len(o.text.Files))
	for i := range splits {
		splits[i] = 1
	}
	return splits
}

func (o *scanTextOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	files := len(o.text.Files)
	src := &source.TextSource{Ds: o.text, Projection: o.projection, BatchSize: g.BatchSize}
	if n.wm != nil && !g.Batch {
		src.Clk = source.NewClock(files, n.schema.FieldIndices(n.wm.Column)[0], n.wm.Bound)
	}
	p := min(g.Parallel, max(1, files))
	st := g.NewStage(fmt.Sprintf("%s(%d files)", n.op, files), p)
	st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
	g.splitCounts[ord] = files
	g.totalSplits += files
	g.files = append(g.files, o.text.Files...)
	return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
}

func (o *scanTextOp) explain(n *lnode) (detail string) {
	detail = fmt.Sprintf("%d files, columns %s", len(o.text.Files), fieldNames(n))
	if o.text.Inferred {
		detail += " (schema inferred from a sample)"
	}
	if n.wm != nil {
		detail += fmt.Sprintf(", event time %q (watermark %s behind)", n.wm.Column, plan.FormatDuration(n.wm.Bound))
	}
	return
}
