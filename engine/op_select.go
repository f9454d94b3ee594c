package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/ops/over"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// SelectArgs are the arguments of "select": the output columns, one expression each.
type SelectArgs struct {
	Exprs []*plan.Expr `json:"exprs,omitempty"`
}

// selectOp is the logical operator "select": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type selectOp struct {
	SelectArgs
	projection
}

func init() {
	registerOp("select", opReg[SelectArgs]{new: func(a *SelectArgs) logicalOp { return &selectOp{SelectArgs: *a} },
		rewrite: func(n *plan.Node, a *SelectArgs) {
			if whole := rewriteSelectAggs(n, a.Exprs, true); n.Op != "aggregate" {
				rewriteOver(n, a.Exprs, whole)
			}
		}})
}

// projection is a bound select or with_columns: its output columns, one expression each.
type projection struct {
	exprs []expr.Bound
}

// rewriteOver turns a select or with_columns whose expressions use window functions
// over(...) into an "over" node of that mode (op_over.go); whole: some of them are
// aggregations outside group_by, given to every row (rewriteSelectAggs). The node keeps
// its identity.
func rewriteOver(n *plan.Node, exprs []*plan.Expr, whole bool) {
	for _, e := range exprs {
		if over.Contains(e) {
			n.Args = &OverArgs{Exprs: exprs, Mode: n.Op, Whole: whole}
			n.Op = "over"
			return
		}
	}
}

// bindExprs binds the expressions of select (or with_columns) over schema, whose first fields
// are those of in, into p.exprs and ln.schema.
func (p *projection) bindExprs(ln, in *lnode, schema *arrow.Schema, exprs []*plan.Expr, withColumns bool) error {
	name := ln.name
	scope := &expr.CompileScope{Schema: schema, Op: name}
	var out []expr.Bound
	if withColumns {
		for i, f := range in.schema.Fields() {
			out = append(out, expr.Bound{Expr: &expr.ColExpr{Idx: i, Name: f.Name, Dt: f.Type}, Name: f.Name})
		}
	}
	seen := map[string]bool{}
	for _, e := range exprs {
		be, err := scope.CompileNamed(e)
		if err != nil {
			return err
		}
		if seen[be.Name] {
			return rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, be.Name)
		}
		seen[be.Name] = true
		replaced := false
		for i := range out {
			if out[i].Name == be.Name {
				out[i], replaced = be, true
			}
		}
		if !replaced {
			out = append(out, be)
		}
	}
	if in.changelog != "" {
		// An updating input: its op column goes on, selected or not (changelog.go).
		if err := checkOpColumnExprs(name, in.changelog, out); err != nil {
			return err
		}
		if !seen[agg.OpColumn] && !withColumns {
			if op, ok := opColumnBound(in.schema); ok {
				out = append(out, op)
			}
		}
	}
	p.exprs = out
	ln.schema = boundSchema(out)
	// The event time goes on in its column, or renamed (SQL's window_time AS rowtime keeps
	// the time attribute, as Flink's), unchanged either way.
	renamed := ""
	for _, e := range out {
		if c, ok := e.Expr.(*expr.ColExpr); ok && in.timeCol != "" && c.Name == in.timeCol {
			if e.Name == in.timeCol {
				ln.timeCol = in.timeCol
			} else if renamed == "" {
				renamed = e.Name
			}
		}
	}
	if ln.timeCol == "" && renamed != "" && len(ln.schema.FieldIndices(renamed)) == 1 {
		ln.timeCol = renamed
	}
	return nil
}

// takeUpdates passes an updating input's changes on: each change row is projected as a
// row, its op column kept (changelog.go).
func (p *projection) takeUpdates(ln, from *lnode) error {
	ln.changelog = from.changelog
	ln.changelogKeys = survivingKeys(p.exprs, from.changelogKeys)
	ln.noKeyWhy, ln.changelogFiltered = from.noKeyWhy, from.changelogFiltered
	if ln.changelogKeys == nil && from.changelogKeys != nil {
		ln.noKeyWhy = fmt.Sprintf("its key columns (%s) are not all kept unchanged by %s", strings.Join(from.changelogKeys, ", "), ln.name)
	}
	return nil
}

func (p *projection) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

// build chains the projection onto its input's stage.
func (p *projection) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], nil)
	if err != nil {
		return f, err
	}
	exprs := make([]expr.Expr, len(p.exprs))
	for i, b := range p.exprs {
		exprs[i] = b.Expr
	}
	from := make([]int, len(p.exprs))
	for i, b := range p.exprs {
		from[i] = -1
		if c, ok := b.Expr.(*expr.ColExpr); ok {
			from[i] = c.Idx
		}
	}
	exprs = expr.Share(exprs)
	f.st.Chain(n.op, func(int) runtime.Operator { return &basic.ProjectOp{Name: n.name, Exprs: exprs, Schema: n.schema} })
	f.part = carried(f, n.inputs[0], n, from)
	return f, nil
}

func (p *projection) explain(*lnode) string {
	parts := make([]string, len(p.exprs))
	for i, e := range p.exprs {
		if c, ok := e.Expr.(*expr.ColExpr); ok && c.Name == e.Name {
			parts[i] = e.Name
		} else {
			parts[i] = fmt.Sprintf("%s = %s", e.Name, e.Expr)
		}
	}
	return strings.Join(parts, ", ")
}

func (o *selectOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if len(o.Exprs) == 0 {
		return rberr.New(rberr.Plan, "%s: no columns selected", ln.name)
	}
	return o.bindExprs(ln, in, in.schema, o.used(b, n), false)
}

// used is the select's expressions whose output some consumer uses, once projection
// pushdown has found them (require); all of them before.
func (o *selectOp) used(b *binder, n *plan.Node) []*plan.Expr {
	need, ok := b.selects[n]
	if !ok {
		return o.Exprs
	}
	var out []*plan.Expr
	for _, e := range o.Exprs {
		if need[expr.OutputName(e)] {
			out = append(out, e)
		}
	}
	if len(out) == 0 { // no column used (a count of rows): the cheapest one keeps the rows
		out = []*plan.Expr{o.Exprs[0]}
		for _, e := range o.Exprs {
			if e.Col != nil {
				out[0] = e
				break
			}
		}
	}
	return out
}

// require needs what the used expressions read: an output column no consumer uses is
// dropped from the select (used), so that neither it nor its inputs are computed or read.
func (o *selectOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if need == nil || ln.inputs[0].changelog != "" {
		requireSelect(b, n, ln, o.Exprs)
		return
	}
	b.selects[n] = passedOn(ln, need)
	requireSelect(b, n, ln, o.used(b, n))
}

// requireSelect needs the columns that the expressions of a select read.
func requireSelect(b *binder, n *plan.Node, ln *lnode, exprs []*plan.Expr) {
	cols := refs(exprs...)
	if ln.inputs[0].changelog != "" {
		cols = union(cols, map[string]bool{agg.OpColumn: true})
	}
	b.require(n.Input, ln.inputs[0], cols)
}
