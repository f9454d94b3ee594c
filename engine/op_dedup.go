package engine

import (
	"fmt"
	"math"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// DedupArgs are the arguments of "dedup": the first row per key within that much event
// time (a duration; absent: ever).
type DedupArgs struct {
	Keys   []*plan.Expr `json:"keys,omitempty"`
	Within string       `json:"within,omitempty"`
}

// dedupOp is the logical operator "dedup": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type dedupOp struct {
	DedupArgs
	keys   []expr.Bound
	within int64 // µs
}

func init() {
	registerOp("dedup", opReg[DedupArgs]{new: func(a *DedupArgs) logicalOp { return &dedupOp{DedupArgs: *a} }, stateful: true})
}

// bind validates a deduplication: keys and the event-time bound.
func (o *dedupOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if len(o.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: give the columns that identify duplicates", ln.name)
	}
	if o.keys, err = bindKeys(o.Keys, ln, in, "deduplicate"); err != nil {
		return err
	}
	if in.timeCol == "" {
		return rberr.New(rberr.Plan, "%s: the input has no event time; pass event_time=<column> to the source", ln.name)
	}
	o.within = math.MaxInt64
	if o.Within != "" {
		d, err := plan.ParseDuration(o.Within)
		if err != nil || d <= 0 {
			return rberr.New(rberr.Plan, "%s: within: %v", ln.name, runtime.ErrOrNegative(err))
		}
		o.within = d
	}
	ln.schema, ln.timeCol = in.schema, in.timeCol
	return nil
}

func (o *dedupOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (o *dedupOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *dedupOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	k, err := g.buildKeyed(n, o.keys)
	if err != nil {
		return k.in, err
	}
	keys, types := k.keys, k.types
	inSchema := n.inputs[0].schema
	timeIdx := n.inputs[0].timeIdx
	within := o.within
	st := k.stage(g, "dedup", false)
	st.Chain("dedup", func(int) runtime.Operator {
		return &dedup.DedupOp{Name: n.name, Keys: keys, KeyTypes: types, Within: within, TimeIdx: timeIdx,
			InSchema: inSchema, Batch: g.BatchSize}
	})
	return flow{st: st}, nil
}

// stateConfig implements stateConfigurer: keys seen restored under another interval
// would drop other rows.
func (o *dedupOp) stateConfig(n *lnode) string { return "dedup (" + o.explain(n) + ")" }

func (o *dedupOp) explain(*lnode) string {
	if o.within == math.MaxInt64 {
		return "first row per key"
	}
	return fmt.Sprintf("within %s", plan.FormatDuration(o.within))
}
