package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/batch"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/sink"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/internal/textcodec"
)

// writeParquetOp is the logical operator "write_parquet" (text empty), or
// "write_csv" / "write_ndjson": its binding and validation, the input columns it needs,
// its physical form and its explain text. The three differ only in the files'
// format; they roll and commit (exactly once at checkpoints) alike.
type writeParquetOp struct {
	WriteParquetArgs
	text      batch.TextFormat // "" for Parquet
	rolling   batch.RollingPolicy
	textWrite *batch.TextWriteOptions // write_csv, write_ndjson
}

// WriteParquetArgs are the arguments of "write_parquet", "write_csv" and "write_ndjson":
// the output directory, the mode ("error", "append", "overwrite"), the rolling policy
// (0 or "": no limit; RolloverInterval a duration) and, for CSV and NDJSON, the format's
// options (plan.TextDef: include_header, separator, null_value).
type WriteParquetArgs struct {
	Path             string        `json:"path,omitempty"`
	Mode             string        `json:"mode,omitempty"`
	MaxRowsPerFile   int64         `json:"max_rows_per_file,omitempty"`
	MaxBytesPerFile  int64         `json:"max_bytes_per_file,omitempty"`
	RolloverInterval string        `json:"rollover_interval,omitempty"`
	Text             *plan.TextDef `json:"text,omitempty"`
}

func init() {
	for op, text := range map[string]batch.TextFormat{"write_parquet": "", "write_csv": batch.CSV, "write_ndjson": batch.NDJSON} {
		registerOp(op, opReg[WriteParquetArgs]{new: func(a *WriteParquetArgs) logicalOp { return &writeParquetOp{WriteParquetArgs: *a, text: text} },
			stateful: true})
	}
}

// sinkDir: the files go into Path (job.go checks it before the job and commits it after).
func (o *writeParquetOp) sinkDir() (dir, mode string) { return o.Path, o.Mode }

// write_parquet takes an updating input: it writes the change rows, op column included
// (a log of changes). CSV and NDJSON files take appended rows only.
func (o *writeParquetOp) takeUpdates(ln, from *lnode) error {
	if o.text != "" {
		return refuseUpdates(ln, from)
	}
	return nil
}

// textWriteOptions maps a write_csv / write_ndjson node's "text" object.
func textWriteOptions(format batch.TextFormat, d *plan.TextDef, name string) (*batch.TextWriteOptions, error) {
	opts := &batch.TextWriteOptions{Format: format, Header: true}
	if d == nil {
		return opts, nil
	}
	if d.Schema != "" || d.InferRows != 0 || d.HasHeader != nil || d.CommentPrefix != "" || len(d.NullValues) > 0 {
		return nil, rberr.New(rberr.Plan, "%s: schema, infer_rows, has_header, comment_prefix and null_values are options of readers", name)
	}
	if format == batch.NDJSON {
		if d.IncludeHeader != nil || d.Separator != "" || d.NullValue != "" {
			return nil, rberr.New(rberr.Plan, "%s: include_header, separator and null_value are options of CSV, not of newline-delimited JSON", name)
		}
		return opts, nil
	}
	if d.IncludeHeader != nil {
		opts.Header = *d.IncludeHeader
	}
	if d.Separator != "" {
		r := []rune(d.Separator)
		if len(r) != 1 || !textcodec.ValidDelimiter(r[0]) {
			return nil, rberr.New(rberr.Plan, "%s: separator must be one character other than a quote or a line break, got %q", name, d.Separator)
		}
		opts.Separator = r[0]
	}
	if strings.ContainsAny(d.NullValue, "\r\n\"") || (opts.Separator != 0 && strings.ContainsRune(d.NullValue, opts.Separator)) || (opts.Separator == 0 && strings.Contains(d.NullValue, ",")) {
		return nil, rberr.New(rberr.Plan, "%s: null_value %q would need quoting, so it could not be told from a string", name, d.NullValue)
	}
	opts.Null = d.NullValue
	return opts, nil
}

func (o *writeParquetOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if o.Path == "" {
		return rberr.New(rberr.Plan, "%s: no output directory given", name)
	}
	if o.text != "" {
		if o.textWrite, err = textWriteOptions(o.text, o.Text, name); err != nil {
			return err
		}
		for _, f := range in.schema.Fields() {
			if !batch.TextWritable(o.text, f.Type) {
				hint := "cast it (to a string, say) or leave it out"
				switch {
				case f.Type.ID() == arrow.MAP:
					hint = "leave it out (a map is written by write_kafka in format avro)"
				case arrow.IsNested(f.Type.ID()) && o.text != batch.NDJSON:
					hint = "leave it out, or write the stream with write_ndjson, which keeps nested values"
				}
				return rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to %s; %s", name, f.Name, expr.TypeName(f.Type), strings.ToUpper(string(o.text)), hint)
			}
		}
	} else {
		if o.Text != nil {
			return rberr.New(rberr.Plan, "%s: \"text\" options are for write_csv and write_ndjson", name)
		}
		for _, f := range in.schema.Fields() {
			if !sink.Writable(f.Type) {
				return rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to Parquet yet", name, f.Name, expr.TypeName(f.Type))
			}
		}
	}
	if o.MaxRowsPerFile < 0 {
		return rberr.New(rberr.Plan, "%s: max_rows_per_file must be positive, got %d", name, o.MaxRowsPerFile)
	}
	if o.MaxBytesPerFile < 0 {
		return rberr.New(rberr.Plan, "%s: max_bytes_per_file must be positive, got %d", name, o.MaxBytesPerFile)
	}
	o.rolling = batch.RollingPolicy{MaxRowsPerFile: o.MaxRowsPerFile, MaxBytesPerFile: o.MaxBytesPerFile}
	if o.RolloverInterval != "" {
		us, err := plan.ParseDuration(o.RolloverInterval)
		if err != nil {
			return rberr.New(rberr.Plan, "%s: rollover_interval: %v", name, err)
		}
		if us <= 0 {
			return rberr.New(rberr.Plan, "%s: rollover_interval must be positive, got %q", name, o.RolloverInterval)
		}
		o.rolling.RolloverInterval = time.Duration(us) * time.Microsecond
	}
	ln.schema = runtime.WriteSummarySchema
	return nil
}

func (o *writeParquetOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (o *writeParquetOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	schema := n.inputs[0].schema
	path := o.Path
	rolling := o.rolling
	text := o.textWrite
	in.st.Chain(n.op, func(subtask int) runtime.Operator {
		return &sink.WriteParquetOp{Dir: path, Schema: schema, Subtask: subtask, Rolling: rolling, Text: text}
	})
	return flow{st: in.st}, nil
}

func (o *writeParquetOp) explain(*lnode) (detail string) {
	detail = o.Path
	var roll []string
	if r := o.rolling.MaxRowsPerFile; r > 0 {
		roll = append(roll, fmt.Sprintf("max_rows_per_file=%d", r))
	}
	if b := o.rolling.MaxBytesPerFile; b > 0 {
		roll = append(roll, fmt.Sprintf("max_bytes_per_file=%d", b))
	}
	if d := o.rolling.RolloverInterval; d > 0 {
		roll = append(roll, "rollover_interval="+d.String())
	}
	if len(roll) > 0 {
		detail += " (" + strings.Join(roll, ", ") + ")"
	}
	return
}
