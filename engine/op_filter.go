package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// FilterArgs are the arguments of "filter": the rows for which Predicate is true are kept.
type FilterArgs struct {
	Predicate *plan.Expr `json:"predicate,omitempty"`
}

// filterOp is the logical operator "filter": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type filterOp struct {
	FilterArgs
	pred expr.Expr
	keep []int // the input columns passed on, after projection pushdown (nil: all)
}

func init() {
	registerOp("filter", opReg[FilterArgs]{new: func(a *FilterArgs) logicalOp { return &filterOp{FilterArgs: *a} }})
}

func (o *filterOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: name}
	pred, err := scope.Compile(o.Predicate)
	if err != nil {
		return err
	}
	if pred.Type().ID() == arrow.NULL {
		// always unknown (SQL's WHERE NULL, Polars' filter(lit(None))): no row passes
		if pred, err = scope.Compile(&plan.Expr{Cast: "bool", Args: []*plan.Expr{o.Predicate}}); err != nil {
			return err
		}
	}
	if pred.Type().ID() != arrow.BOOL {
		return rberr.New(rberr.Type, "%s: the predicate %s is %s, not bool; compare it, e.g. %s > 0", name, pred, expr.TypeName(pred.Type()), pred)
	}
	o.pred, ln.schema, ln.timeCol, o.keep = pred, in.schema, in.timeCol, nil
	if keep, ok := b.filters[n]; ok {
		var fields []arrow.Field
		for i, f := range in.schema.Fields() {
			if keep[f.Name] {
				o.keep = append(o.keep, i)
				fields = append(fields, f)
			}
		}
		if len(o.keep) == in.schema.NumFields() {
			o.keep = nil
		} else {
			md := in.schema.Metadata()
			ln.schema = arrow.NewSchema(fields, &md)
		}
	}
	return nil
}

// require needs what its consumers need and what the predicate reads; it passes on only
// the columns its consumers need (and the event time), when they do not need them all.
func (o *filterOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if len(need) > 0 && ln.inputs[0].changelog == "" {
		b.filters[n] = passedOn(ln, need)
	}
	b.require(n.Input, ln.inputs[0], union(need, refs(o.Predicate)))
}

// A filter passes an updating input's changes on (changelog.go).
func (o *filterOp) takeUpdates(ln, from *lnode) error {
	ln.changelog, ln.changelogKeys, ln.noKeyWhy = from.changelog, from.changelogKeys, from.noKeyWhy
	ln.changelogFiltered = true
	return nil
}

func (o *filterOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *filterOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in := n.inputs[0]
	var f flow
	var err error
	if scan, ok := in.impl.(*scanParquetOp); ok && g.uses[in] <= 1 && in.wm == nil {
		// A filter straight over a Parquet scan of its own (without event time) is fused
		// into it (source.Filter).
		var fused *source.Filter
		if fused, err = o.fused(n, in); err != nil {
			return f, err
		}
		f, err = g.buildNodeWith(in, func() (flow, error) { return scan.buildFiltered(g, in, o.Predicate, fused) })
	} else {
		// Its input may skip what the predicate refutes (a Parquet scan prunes row groups).
		f, err = g.build(in, o.Predicate)
		if err == nil {
			pred, keep := o.pred, o.keep
			f.st.Chain("filter", func(int) runtime.Operator { return &basic.FilterOp{Name: n.name, Pred: pred, Keep: keep} })
		}
	}
	if err != nil {
		return f, err
	}
	from := o.keep
	if from == nil {
		from = make([]int, n.schema.NumFields())
		for i := range from {
			from[i] = i
		}
	}
	f.part = carried(f, n.inputs[0], n, from)
	return f, nil
}

// fused is the filter as a scan of in runs it: the predicate compiled again over the
// columns it reads (decoded first), and the columns passed on.
func (o *filterOp) fused(n, in *lnode) (*source.Filter, error) {
	f := &source.Filter{Name: n.name, Out: o.keep}
	var fields []arrow.Field
	for i, fd := range in.schema.Fields() {
		if refs(o.Predicate)[fd.Name] {
			f.Reads = append(f.Reads, i)
			fields = append(fields, fd)
		}
	}
	f.ReadSchema = arrow.NewSchema(fields, nil)
	pred, err := (&expr.CompileScope{Schema: f.ReadSchema, Op: n.name}).Compile(o.Predicate)
	if err != nil {
		return nil, err
	}
	f.Pred = pred
	if f.Out == nil {
		for i := range in.schema.Fields() {
			f.Out = append(f.Out, i)
		}
	}
	return f, nil
}

func (o *filterOp) explain(n *lnode) string { return o.pred.String() }
