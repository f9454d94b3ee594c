package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// AggregateArgs are the arguments of "aggregate" (group_by(...).agg(...)): the group keys
// and the aggregations; over an unbounded input (an updating result) MiniBatch is how
// long changes are gathered before they are emitted and StateTTL how long a group's state
// is kept after its last update (durations), as Flink's table.exec.mini-batch.allow-latency
// and table.exec.state.ttl.
type AggregateArgs struct {
	Keys      []*plan.Expr `json:"keys,omitempty"`
	Aggs      []*plan.Expr `json:"aggs,omitempty"`
	MiniBatch string       `json:"mini_batch,omitempty"`
	StateTTL  string       `json:"state_ttl,omitempty"`
}

// aggregateOp is the logical operator "aggregate": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type aggregateOp struct {
	AggregateArgs
	keys      []expr.Bound
	aggs      []agg.Spec
	retractOp int   // over a changelog: the input's op column
	miniBatch int64 // over an unbounded input: mini-batch interval (µs)
	stateTTL  int64 // and state TTL (µs); 0: none
}

func init() {
	registerOp("aggregate", opReg[AggregateArgs]{new: func(a *AggregateArgs) logicalOp { return &aggregateOp{AggregateArgs: *a} },
		stateful: true,
		rewrite: func(n *plan.Node, a *AggregateArgs) {
			rewriteAggExprs(n, a.Keys, a.Aggs, false, false, func(aggs []*plan.Expr) any { c := *a; c.Aggs = aggs; return &c })
		}})
}

func (o *aggregateOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: name}
	if len(o.Aggs) == 0 {
		return rberr.New(rberr.Plan, "%s: no aggregations given to agg(...)", name)
	}
	seen := map[string]bool{}
	keys, fields, err := compileKeys(scope, o.Keys, name, "group", seen, "")
	if err != nil {
		return err
	}
	o.keys = keys
	for _, a := range o.Aggs {
		spec, err := agg.Compile(scope, a)
		if err != nil {
			return err
		}
		if seen[spec.Name] {
			return rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, spec.Name)
		}
		seen[spec.Name] = true
		o.aggs = append(o.aggs, spec)
		fields = append(fields, arrow.Field{Name: spec.Name, Type: spec.OutType, Nullable: true})
	}
	agg.ShareArgs(o.aggs)
	if in.changelog != "" {
		// An updating input: its -U and -D rows are taken back out of their groups.
		for _, a := range o.aggs {
			if !agg.Retractable[a.Fn] {
				return rberr.New(rberr.Plan, "%s: its input is an updating stream (the changelog of %s), whose retracted rows a group_by must take back out of its groups, and %s (%s) cannot: only count, sum, mean, min, max, first, last and n_unique can", name, in.changelog, a.Name, a.Fn)
			}
		}
		if seen[agg.OpColumn] {
			return rberr.New(rberr.Plan, "%s: %q is the op column of an updating group_by's result; name the column otherwise", name, agg.OpColumn)
		}
		op, ok := opColumnBound(in.schema)
		if !ok {
			return rberr.New(rberr.Internal, "%s: the updating input has no %s column", name, agg.OpColumn)
		}
		o.retractOp = op.Expr.(*expr.ColExpr).Idx
		ln.changelog = name
		ln.changelogKeys = keyNames(fields, len(o.Keys))
		fields = append(fields, arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String})
	} else {
		var unbounded, maybe []string
		sourceBoundedness([]*lnode{in}, &unbounded, &maybe)
		if len(unbounded) > 0 {
			// An unbounded input never ends: emit an updating result (changelog.go).
			if seen[agg.OpColumn] {
				return rberr.New(rberr.Plan, "%s: %q is the op column of an updating group_by's result; name the column otherwise", name, agg.OpColumn)
			}
			ln.changelog = name
			ln.changelogKeys = keyNames(fields, len(o.Keys))
			fields = append(fields, arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String})
		}
	}
	for _, d := range []struct {
		what, val string
		to        *int64
	}{{"mini_batch", o.MiniBatch, &o.miniBatch}, {"state_ttl", o.StateTTL, &o.stateTTL}} {
		if d.val == "" {
			continue
		}
		us, err := plan.ParseDuration(d.val)
		if err != nil || us <= 0 {
			return rberr.New(rberr.Plan, "%s: %s must be a positive duration such as \"1s\", got %q", name, d.what, d.val)
		}
		*d.to = us
	}
	ln.schema = arrow.NewSchema(fields, nil)
	return nil
}

func (o *aggregateOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	cols := refs(append(append([]*plan.Expr{}, o.Keys...), o.Aggs...)...)
	if in := ln.inputs[0]; in.changelog != "" {
		cols[agg.OpColumn] = true
		for _, a := range o.aggs {
			if a.Fn == "first" || a.Fn == "last" {
				// first and last tell rows apart by all their columns: a retraction takes
				// out the earliest remaining row equal to it (retractpick.go).
				for _, f := range in.schema.Fields() {
					cols[f.Name] = true
				}
				break
			}
		}
	}
	b.require(n.Input, ln.inputs[0], cols)
}

// A group_by takes an updating input: it takes the retracted rows back out of its groups
// (changelog.go).
func (o *aggregateOp) takeUpdates(ln, from *lnode) error { return nil }

func (o *aggregateOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *aggregateOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	k, err := g.buildKeyed(n, o.keys)
	if err != nil {
		return k.in, err
	}
	keys, types := k.keys, k.types
	// A bounded group_by fed by parallel subtasks pre-aggregates in each of them before
	// the exchange (agg/preagg.go); an updating one emits as its input comes, and keeps
	// its rows' way through the exchange.
	preAgg := preAggregate && n.changelog == "" && k.in.st.Parallel > 1 && agg.PreAggregatable(o.aggs) && !k.local
	if preAgg {
		partial := agg.PartialSchema(types, o.aggs)
		k.in.st.ChainHelper("pre-aggregate", func(int) runtime.Operator {
			return &agg.PreAggOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: o.aggs, Partial: partial, BatchSize: g.BatchSize}
		})
	}
	st := k.stage(g, "aggregate", preAgg)
	st.Chain("aggregate", func(int) runtime.Operator {
		return &agg.GroupByOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: o.aggs, Schema: n.schema, BatchSize: g.BatchSize,
			Changelog: n.changelog != "", Retract: n.inputs[0].changelog != "", OpCol: o.retractOp, MiniBatch: time.Duration(o.miniBatch) * time.Microsecond,
			TTL: time.Duration(o.stateTTL) * time.Microsecond, PreAgg: preAgg}
	})
	return flow{st: st, part: k.output(n)}, nil
}

// stateConfig implements stateConfigurer: a state restored into other aggregations
// would be read as theirs.
func (o *aggregateOp) stateConfig(*lnode) string { return "group_by with " + aggStateText(o.aggs) }

func (o *aggregateOp) explain(n *lnode) (detail string) {
	keys := make([]string, len(o.keys))
	for i, k := range o.keys {
		keys[i] = k.String()
	}
	detail = fmt.Sprintf("keys [%s], aggs [%s]", strings.Join(keys, ", "), aggsText(o.aggs))
	if n.changelog != "" {
		detail += ", updating (changelog in " + agg.OpColumn
		if o.miniBatch > 0 {
			detail += ", mini-batch " + plan.FormatDuration(o.miniBatch)
		}
		if o.stateTTL > 0 {
			detail += ", state TTL " + plan.FormatDuration(o.stateTTL)
		}
		detail += ")"
	}
	return
}

// preAggregate turns pre-aggregation on (tests and benchmarks compare without it).
var preAggregate = true

// keyNames are the names of the first n fields (a group_by's keys).
func keyNames(fields []arrow.Field, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fields[i].Name
	}
	return out
}
