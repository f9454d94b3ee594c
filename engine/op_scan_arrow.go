package engine

import (
	"fmt"
	"time"

	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// scanArrowOp is the logical operator "scan_arrow": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type scanArrowOp struct{}

func init() { registerLegacyOp("scan_arrow", scanArrowOp{}, false) }

func (scanArrowOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	if n.Source < 0 || n.Source >= len(b.inputs) {
		return rberr.New(rberr.Plan, "%s: input %d was not provided (%d inputs given)", name, n.Source, len(b.inputs))
	}
	ln.source, ln.bounded, ln.table = n.Source, n.Bounded, n.Table
	ln.rows = -1
	if n.Rows != nil {
		ln.rows = *n.Rows
	}
	ln.schema = b.inputs[n.Source]
	if err := b.bindEventTime(n, ln); err != nil {
		return err
	}
	return nil
}

func (scanArrowOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {}

func (scanArrowOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	if n.source >= len(g.inputs) || g.inputs[n.source] == nil {
		return flow{}, rberr.New(rberr.Plan, "input stream %d is read by two scan_arrow operators; a stream can be read once: give one operator an \"id\" and use it again as {\"ref\": id}", n.source)
	}
	src := &source.ArrowSource{Ordinal: ord, Reader: g.inputs[n.source], BatchSize: g.BatchSize, Table: n.table}
	var idle time.Duration
	if !g.Batch {
		src.Clk = sourceClock(n)
	}
	if n.wm != nil && !g.Batch {
		idle = time.Duration(n.wm.Idle) * time.Microsecond
	}
	g.inputs[n.source] = nil
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

func (scanArrowOp) explain(n *lnode) (detail string) {
	detail = fmt.Sprintf("input %d", n.source)
	return
}
