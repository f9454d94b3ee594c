package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/sink"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// WriteSnapshotArgs are the arguments of "write_parquet_snapshot": the output directory,
// the mode ("error" or "overwrite", for a directory that holds snapshots already) and how
// many committed snapshots to keep (0: DefaultKeepSnapshots).
type WriteSnapshotArgs struct {
	Path string `json:"path,omitempty"`
	Mode string `json:"mode,omitempty"`
	Keep int    `json:"keep,omitempty"`
}

// DefaultKeepSnapshots is how many committed snapshots write_parquet_snapshot keeps.
const DefaultKeepSnapshots = 3

// writeSnapshotOp is the logical operator "write_parquet_snapshot": it materializes its
// input (a changelog, or appended rows) into the table the changes make and writes the
// whole table as a Parquet snapshot at each checkpoint (engine/ops/sink/snapshot.go).
type writeSnapshotOp struct {
	WriteSnapshotArgs
	schema *arrow.Schema // the table: the input's columns without the op column
	opCol  int           // the input's op column, or -1
	keys   []int         // the partitioning key columns, in schema
}

func init() {
	registerOp("write_parquet_snapshot", opReg[WriteSnapshotArgs]{new: func(a *WriteSnapshotArgs) logicalOp { return &writeSnapshotOp{WriteSnapshotArgs: *a} },
		stateful: true})
}

// snapshotSink is implemented by write_parquet_snapshot: its directory is checked before
// the job starts (sink.CheckSnapshotDir) and no other sink may write into it.
type snapshotSink interface {
	snapshotDir() (dir, mode string)
}

func (o *writeSnapshotOp) snapshotDir() (dir, mode string) { return o.Path, o.Mode }

// write_parquet_snapshot takes an updating input: that is what it is for.
func (o *writeSnapshotOp) takeUpdates(ln, from *lnode) error { return nil }

func (o *writeSnapshotOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if o.Path == "" {
		return rberr.New(rberr.Plan, "%s: no output directory given", name)
	}
	if o.Mode != "" && o.Mode != "error" && o.Mode != "overwrite" {
		return rberr.New(rberr.Plan, "%s: unknown mode %q (expected \"error\" or \"overwrite\")", name, o.Mode)
	}
	if o.Keep < 0 {
		return rberr.New(rberr.Plan, "%s: keep must be at least 1, got %d", name, o.Keep)
	}
	if o.Keep == 0 {
		o.Keep = DefaultKeepSnapshots
	}
	o.opCol = -1
	if in.changelog != "" {
		idx := in.schema.FieldIndices(agg.OpColumn)
		if len(idx) != 1 {
			return rberr.New(rberr.Internal, "%s: the updating input has no %s column", name, agg.OpColumn)
		}
		o.opCol = idx[0]
	}
	var fields []arrow.Field
	for i, f := range in.schema.Fields() {
		if i == o.opCol {
			continue
		}
		if !sink.Writable(f.Type) {
			return rberr.New(rberr.Type, "%s: column %q has type %s, which cannot be written to Parquet yet", name, f.Name, expr.TypeName(f.Type))
		}
		if !expr.HashableType(f.Type) {
			// Rows are told apart and partitioned by their values: a dictionary column's
			// indices differ from batch to batch.
			return rberr.New(rberr.Type, "%s: column %q is dictionary-encoded (%s); cast it to its value type first (col(%q).cast(...))", name, f.Name, expr.TypeName(f.Type), f.Name)
		}
		fields = append(fields, f)
	}
	if len(fields) == 0 {
		return rberr.New(rberr.Plan, "%s: the input has no columns to write", name)
	}
	o.schema = arrow.NewSchema(fields, nil)
	o.keys = nil
	if in.changelog != "" && len(in.changelogKeys) > 0 {
		for _, k := range in.changelogKeys {
			idx := o.schema.FieldIndices(k)
			if len(idx) != 1 {
				o.keys = nil
				break
			}
			o.keys = append(o.keys, idx[0])
		}
	}
	if len(o.keys) == 0 {
		for i := range fields {
			o.keys = append(o.keys, i)
		}
	}
	ln.schema = runtime.WriteSummarySchema
	return nil
}

func (o *writeSnapshotOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

// keyExprs are the partitioning keys over schema s, where column i of the table is
// column at(i) of s.
func (o *writeSnapshotOp) keyExprs(s *arrow.Schema, at func(int) int) []expr.Expr {
	out := make([]expr.Expr, len(o.keys))
	for i, k := range o.keys {
		c := at(k)
		f := s.Field(c)
		out[i] = &expr.ColExpr{Idx: c, Name: f.Name, Dt: f.Type}
	}
	return out
}

func (o *writeSnapshotOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	inSchema := n.inputs[0].schema
	opCol := o.opCol
	inCol := func(i int) int {
		if opCol >= 0 && i >= opCol {
			return i + 1
		}
		return i
	}
	exchange := o.keyExprs(inSchema, inCol)
	keys := o.keyExprs(o.schema, func(i int) int { return i })
	st := g.NewStage(n.op, g.Parallel, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: exchange})
	schema, dir, keep, name := o.schema, o.Path, o.Keep, n.name
	gate := sink.NewSnapshotGate()
	st.Chain(n.op, func(subtask int) runtime.Operator {
		return &sink.SnapshotOp{Name: name, Dir: dir, Schema: schema, OpCol: opCol, Keys: keys, Keep: keep, Subtask: subtask, Gate: gate}
	})
	return flow{st: st}, nil
}

func (o *writeSnapshotOp) explain(*lnode) string {
	names := make([]string, len(o.keys))
	for i, k := range o.keys {
		names[i] = o.schema.Field(k).Name
	}
	return fmt.Sprintf("%s (keep %d, by %s)", o.Path, o.Keep, strings.Join(names, ", "))
}
