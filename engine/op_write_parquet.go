package engine

import (
	"fmt"
	"strings"
	"time"

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
type writeParquetOp struct{ text batch.TextFormat }

func init() {
	registerLegacyOp("write_parquet", writeParquetOp{}, true)
	registerLegacyOp("write_csv", writeParquetOp{text: batch.CSV}, true)
	registerLegacyOp("write_ndjson", writeParquetOp{text: batch.NDJSON}, true)
}

// isFileSink says whether op writes files into a directory (committed by the job).
func isFileSink(op string) bool {
	return op == "write_parquet" || op == "write_csv" || op == "write_ndjson"
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

func (o writeParquetOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if n.Path == "" {
		return rberr.New(rberr.Plan, "%s: no output directory given", name)
	}
	if o.text != "" {
		if ln.textWrite, err = textWriteOptions(o.text, n.Text, name); err != nil {
			return err
		}
		for _, f := range in.schema.Fields() {
			if !batch.TextWritable(o.text, f.Type) {
				return rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to %s; cast it (to a string, say) or leave it out", name, f.Name, expr.TypeName(f.Type), strings.ToUpper(string(o.text)))
			}
		}
	} else {
		if n.Text != nil {
			return rberr.New(rberr.Plan, "%s: \"text\" options are for write_csv and write_ndjson", name)
		}
		for _, f := range in.schema.Fields() {
			if !sink.Writable(f.Type) {
				return rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to Parquet yet", name, f.Name, expr.TypeName(f.Type))
			}
		}
	}
	if n.MaxRowsPerFile < 0 {
		return rberr.New(rberr.Plan, "%s: max_rows_per_file must be positive, got %d", name, n.MaxRowsPerFile)
	}
	if n.MaxBytesPerFile < 0 {
		return rberr.New(rberr.Plan, "%s: max_bytes_per_file must be positive, got %d", name, n.MaxBytesPerFile)
	}
	ln.rolling = batch.RollingPolicy{MaxRowsPerFile: n.MaxRowsPerFile, MaxBytesPerFile: n.MaxBytesPerFile}
	if n.RolloverInterval != "" {
		us, err := plan.ParseDuration(n.RolloverInterval)
		if err != nil {
			return rberr.New(rberr.Plan, "%s: rollover_interval: %v", name, err)
		}
		if us <= 0 {
			return rberr.New(rberr.Plan, "%s: rollover_interval must be positive, got %q", name, n.RolloverInterval)
		}
		ln.rolling.RolloverInterval = time.Duration(us) * time.Microsecond
	}
	ln.path = n.Path
	ln.schema = runtime.WriteSummarySchema
	return nil
}

func (writeParquetOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (writeParquetOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	schema := n.inputs[0].schema
	path := n.path
	rolling := n.rolling
	text := n.textWrite
	in.st.Chain(n.op, func(subtask int) runtime.Operator {
		return &sink.WriteParquetOp{Dir: path, Schema: schema, Subtask: subtask, Rolling: rolling, Text: text}
	})
	return flow{st: in.st}, nil
}

func (writeParquetOp) explain(n *lnode) (detail string) {
	detail = n.path
	var roll []string
	if r := n.rolling.MaxRowsPerFile; r > 0 {
		roll = append(roll, fmt.Sprintf("max_rows_per_file=%d", r))
	}
	if b := n.rolling.MaxBytesPerFile; b > 0 {
		roll = append(roll, fmt.Sprintf("max_bytes_per_file=%d", b))
	}
	if d := n.rolling.RolloverInterval; d > 0 {
		roll = append(roll, "rollover_interval="+d.String())
	}
	if len(roll) > 0 {
		detail += " (" + strings.Join(roll, ", ") + ")"
	}
	return
}
