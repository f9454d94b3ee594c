package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// selectOp is the logical operator "select": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type selectOp struct{}

func init() { registerLegacyOp("select", selectOp{}, false) }

// bindSelectWithColumns is shared by select, with_columns.
func bindSelectWithColumns(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if len(n.Exprs) == 0 && n.Op == "select" {
		return rberr.New(rberr.Plan, "%s: no columns selected", name)
	}
	return bindProjection(ln, in, in.schema, n.Exprs, n.Op == "with_columns")
}

// bindProjection binds the expressions of select (or with_columns) over schema, whose
// first fields are those of in, into ln.exprs and ln.schema.
func bindProjection(ln, in *lnode, schema *arrow.Schema, exprs []*plan.Expr, withColumns bool) error {
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
	ln.exprs = out
	ln.schema = boundSchema(out)
	for _, e := range out {
		if c, ok := e.Expr.(*expr.ColExpr); ok && e.Name == in.timeCol && c.Name == in.timeCol {
			ln.timeCol = in.timeCol
		}
	}
	return nil
}

func (selectOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	return bindSelectWithColumns(b, n, ln)
}

func (selectOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	cols := refs(n.Exprs...)
	if ln.inputs[0].changelog != "" {
		cols = union(cols, map[string]bool{agg.OpColumn: true})
	}
	b.require(n.Input, ln.inputs[0], cols)
}

// buildSelectWithColumns is shared by select, with_columns.
func buildSelectWithColumns(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], nil)
	if err != nil {
		return f, err
	}
	exprs := make([]expr.Expr, len(n.exprs))
	for i, b := range n.exprs {
		exprs[i] = b.Expr
	}
	f.st.Chain(n.op, func(int) runtime.Operator { return &basic.ProjectOp{Name: n.name, Exprs: exprs, Schema: n.schema} })
	return f, nil
}

func (selectOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	return buildSelectWithColumns(g, n, prune)
}

// explainSelectWithColumns is shared by select, with_columns.
func explainSelectWithColumns(n *lnode) (detail string) {
	parts := make([]string, len(n.exprs))
	for i, e := range n.exprs {
		if c, ok := e.Expr.(*expr.ColExpr); ok && c.Name == e.Name {
			parts[i] = e.Name
		} else {
			parts[i] = fmt.Sprintf("%s = %s", e.Name, e.Expr)
		}
	}
	detail = strings.Join(parts, ", ")
	return
}

func (selectOp) explain(n *lnode) (detail string) {
	return explainSelectWithColumns(n)
}
