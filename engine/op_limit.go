package engine

import (
	"fmt"
	"sync/atomic"

	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// LimitArgs are the arguments of "limit": the first N rows (of an ordered input; any N
// rows of an unordered one), after the first Offset rows (none when nil).
type LimitArgs struct {
	N      *int64 `json:"n,omitempty"`
	Offset *int64 `json:"offset,omitempty"`
}

// limitOp is the logical operator "limit": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type limitOp struct {
	LimitArgs
	n, offset int64
}

func init() {
	registerOp("limit", opReg[LimitArgs]{new: func(a *LimitArgs) logicalOp { return &limitOp{LimitArgs: *a} }, stateful: true})
}

func (o *limitOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if o.N == nil || *o.N < 0 {
		return rberr.New(rberr.Plan, "%s: needs a non-negative number of rows", ln.name)
	}
	if o.Offset != nil {
		if *o.Offset < 0 {
			return rberr.New(rberr.Plan, "%s: needs a non-negative offset, got %d", ln.name, *o.Offset)
		}
		o.offset = *o.Offset
	}
	o.n, ln.schema, ln.timeCol = *o.N, in.schema, in.timeCol
	return nil
}

func (o *limitOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], need)
}

func (o *limitOp) estimateRows(n *lnode) (int64, bool) {
	if in, ok := estimateRows(n.inputs[0]); ok {
		return min(max(in-o.offset, 0), o.n), true
	}
	return o.n, true
}

func (o *limitOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	first := g.ordinal // the sources built under this limit take the next ordinals
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("limit", in, n.inputs[0].schema)
	limit := o.n
	// Once the limit has its rows nothing more is needed, ordered input or not (over an
	// unordered stream they are any n rows, as Polars' head after a shuffle), so it asks the
	// sources it reads to stop: an unbounded input would otherwise never end the job. In a
	// tree those are the sources built under it, which nothing else reads (the other input
	// of a join over a limited subquery goes on). In a DAG the sources are shared: a limit
	// may stop them only when every output ends in a limit, and then once all those limits
	// have their rows (see limitQuorum).
	stop, quorum := true, (*atomic.Int32)(nil)
	var sources []int
	if g.dag {
		stop, quorum = stop && g.limitQuorum != nil, g.limitQuorum
	} else {
		sources = []int{}
		for o := first; o < g.ordinal; o++ {
			sources = append(sources, o)
		}
	}
	offset := o.offset
	st.Chain("limit("+o.explain(n)+")", func(int) runtime.Operator {
		return &basic.LimitOp{N: limit, Offset: offset, StopSrcs: stop, Sources: sources, Quorum: quorum}
	})
	in.st = st
	return in, nil
}

func (o *limitOp) explain(*lnode) string {
	if o.offset > 0 {
		return fmt.Sprintf("%d, offset %d", o.n, o.offset)
	}
	return fmt.Sprint(o.n)
}
