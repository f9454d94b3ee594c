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

func (writeParquetOp) build(g *graph, n *lnode, filterAbove *lnode) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	schema := n.inputs[0].schema
	path := n.path
	rolling := n.rolling
	in.st.Chain("write_parquet", func(subtask int) runtime.Operator {
		return &sink.WriteParquetOp{Dir: path, Schema: schema, Subtask: subtask, Rolling: rolling}
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
