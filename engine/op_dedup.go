package engine

import (
	"fmt"
	"math"

	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// dedupOp is the logical operator "dedup": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type dedupOp struct{}

func init() { registerLegacyOp("dedup", dedupOp{}, true) }

func (dedupOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := b.bindDedup(n, ln, in); err != nil {
		return err
	}
	return nil
}

// requireDedupTopn is shared by dedup, topn.
func requireDedupTopn(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (dedupOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	requireDedupTopn(b, n, ln, need)
}

// buildDedupTopn is shared by dedup, topn.
func buildDedupTopn(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	keys, types := keyExprs(n.keys)
	p := g.Parallel
	if len(keys) == 0 {
		p = 1
	}
	inSchema := n.inputs[0].schema
	st := g.NewStage(n.op, p, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: keys})
	if n.op == "dedup" {
		timeIdx := n.inputs[0].timeIdx
		st.Chain("dedup", func(int) runtime.Operator {
			return &dedup.DedupOp{Name: n.name, Keys: keys, KeyTypes: types, Within: n.within, TimeIdx: timeIdx,
				InSchema: inSchema, Batch: g.BatchSize}
		})
		return flow{st: st}, nil
	}
	op := &dedup.TopNOp{Name: n.name, Keys: keys, KeyTypes: types, OrderBy: n.orderBy, Descending: n.descending,
		WithTies: n.withTies, N: int(n.limit), Schema: n.schema, InSchema: inSchema, BatchSize: g.BatchSize}
	if n.topWindow {
		w := n.win
		op.Win = &w
		op.TimeIdx = n.winTimeIdx
		op.TimeType = inSchema.Field(op.TimeIdx).Type
	} else {
		op.StartIdx, op.EndIdx = n.winBounds[0], n.winBounds[1]
	}
	st.Chain(fmt.Sprintf("top_n(%d)", n.limit), func(int) runtime.Operator { c := *op; return &c })
	return flow{st: st}, nil
}

func (dedupOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	return buildDedupTopn(g, n, prune)
}

func (dedupOp) explain(n *lnode) (detail string) {
	detail = fmt.Sprintf("within %s", plan.FormatDuration(n.within))
	return
}

// bindDedup validates a deduplication: keys and the event-time bound.
func (b *binder) bindDedup(n *plan.Node, ln, in *lnode) error {
	if len(n.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: give the columns that identify duplicates", ln.name)
	}
	keys, err := bindKeys(n.Keys, ln, in, "deduplicate")
	if err != nil {
		return err
	}
	ln.keys = keys
	if in.timeCol == "" {
		return rberr.New(rberr.Plan, "%s: the input has no event time; pass event_time=<column> to the source", ln.name)
	}
	ln.within = math.MaxInt64
	if n.Within != "" {
		d, err := plan.ParseDuration(n.Within)
		if err != nil || d <= 0 {
			return rberr.New(rberr.Plan, "%s: within: %v", ln.name, runtime.ErrOrNegative(err))
		}
		ln.within = d
	}
	ln.schema, ln.timeCol = in.schema, in.timeCol
	return nil
}
