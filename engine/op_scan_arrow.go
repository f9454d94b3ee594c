package engine

import (
	"fmt"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"

	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// ScanArrowArgs are the arguments of "scan_arrow": Source is the index of an input stream
// handed over with the plan; Bounded says the stream is finite (false: it may be live and
// never end), Live that it is live (the user said it never ends: unbounded, as a
// generator), Table that it reads an in-memory table (which can be read again), Rows a
// table's rows (for estimates).
type ScanArrowArgs struct {
	Source  int    `json:"source,omitempty"`
	Bounded bool   `json:"bounded,omitempty"`
	Live    bool   `json:"live,omitempty"`
	Table   bool   `json:"table,omitempty"`
	Rows    *int64 `json:"rows,omitempty"`
	plan.EventTimeDef
}

// scanArrowOp is the logical operator "scan_arrow": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type scanArrowOp struct {
	ScanArrowArgs
}

func init() {
	registerOp("scan_arrow", opReg[ScanArrowArgs]{new: func(a *ScanArrowArgs) logicalOp { return &scanArrowOp{ScanArrowArgs: *a} }})
}

func (o *scanArrowOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	if o.Source < 0 || o.Source >= len(b.inputs) {
		return rberr.New(rberr.Plan, "%s: input %d was not provided (%d inputs given)", ln.name, o.Source, len(b.inputs))
	}
	ln.schema = b.inputs[o.Source]
	for _, f := range ln.schema.Fields() {
		if why := uncarried(f.Type); why != "" {
			return rberr.New(rberr.Type, "%s: column %q is %s, %s; cast or drop it before handing the data over (e.g. pyarrow's Table.drop_columns)", ln.name, f.Name, expr.TypeName(f.Type), why)
		}
	}
	return bindEventTime(o.EventTimeDef, ln)
}

// uncarried says why the engine cannot carry a column of type t through its operators
// (they gather rows, which these layouts do not support), or "" when it can.
func uncarried(t arrow.DataType) string {
	switch t.ID() {
	case arrow.SPARSE_UNION, arrow.DENSE_UNION:
		return "a union, which riverbed does not carry"
	case arrow.RUN_END_ENCODED:
		return "run-end encoded, which riverbed does not carry (decode it first: pyarrow.compute.run_end_decode)"
	case arrow.LIST_VIEW, arrow.LARGE_LIST_VIEW:
		return "a list view, which riverbed does not carry (cast it to a list)"
	}
	if n, ok := t.(arrow.NestedType); ok {
		for _, f := range n.Fields() {
			if why := uncarried(f.Type); why != "" {
				return "holding " + why
			}
		}
	}
	return ""
}

func (o *scanArrowOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {}

func (o *scanArrowOp) boundedness(*lnode) (unbounded, maybe string) {
	if o.Live && !o.Bounded {
		return "an Arrow stream declared live (bounded=False)", ""
	}
	if !o.Bounded {
		return "", "an Arrow stream, which may be live"
	}
	return "", ""
}

func (o *scanArrowOp) estimateRows(*lnode) (int64, bool) {
	if o.Table && o.Rows != nil && *o.Rows >= 0 {
		return *o.Rows, true
	}
	return 0, false
}

func (o *scanArrowOp) sourceFingerprint(*lnode) (string, bool) { return "", true }

// checkCheckpointable refuses a live stream, which cannot be read again after a restore.
func (o *scanArrowOp) checkCheckpointable(n *lnode) error {
	if !o.Table {
		return rberr.New(rberr.InvalidArgument, "%s reads a live Python stream (a RecordBatchReader or generator), which cannot be read again after a restore, so the job cannot be checkpointed; pass a pyarrow Table, or turn checkpoints off (no checkpoint_dir)", n.name)
	}
	return nil
}

func (o *scanArrowOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	if o.Source >= len(g.inputs) || g.inputs[o.Source] == nil {
		return flow{}, rberr.New(rberr.Plan, "input stream %d is read by two scan_arrow operators; a stream can be read once: give one operator an \"id\" and use it again as {\"ref\": id}", o.Source)
	}
	src := &source.ArrowSource{Ordinal: ord, Reader: g.inputs[o.Source], BatchSize: g.BatchSize, Table: o.Table}
	var idle time.Duration
	if !g.Batch {
		src.Clk = sourceClock(n)
	}
	if n.wm != nil && !g.Batch {
		idle = time.Duration(n.wm.Idle) * time.Microsecond
	}
	g.inputs[o.Source] = nil
	st := g.NewStage("scan_arrow", 1)
	st.Replayable = src.Replayable
	st.Source = func(int) runtime.SourceFn { return source.Task(ord, src, 0, 1, idle) }
	g.splitCounts[ord] = -1
	f := flow{st: st, ordered: true, ordinals: []int{ord}}
	if g.Parallel > 1 {
		f.st = g.NewStage("rebalance", g.Parallel, runtime.Edge{From: st, Part: runtime.PartSplit})
	}
	return f, nil
}

func (o *scanArrowOp) explain(*lnode) string { return fmt.Sprintf("input %d", o.Source) }
