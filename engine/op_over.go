package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/ops/over"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// overOp is the logical operator "over": a select or with_columns (its mode) whose
// expressions use window functions over partitions (col("x").cum_sum().over("k")). The
// window functions are computed on one subtask that sees the whole bounded input in
// input order (over.Op), then the projection reads their columns.
type overOp struct{}

func init() { registerLegacyOp("over", overOp{}, true) }

// rewriteOver turns each select or with_columns node that uses over(...) into an "over"
// node of that mode. The node keeps its identity.
func rewriteOver(outs []*plan.Node) {
	seen := map[*plan.Node]bool{}
	var walk func(n *plan.Node)
	walk = func(n *plan.Node) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		walk(n.Input)
		for _, in := range n.Inputs {
			walk(in)
		}
		if n.Op != "select" && n.Op != "with_columns" {
			return
		}
		for _, e := range n.Exprs {
			if over.Contains(e) {
				n.Mode, n.Op = n.Op, "over"
				return
			}
		}
	}
	for _, o := range outs {
		walk(o)
	}
}

func (overOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := needBounded(ln, in, "a window function over(...)"); err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	fields := append([]arrow.Field{}, in.schema.Fields()...)
	ln.overFuncs = nil
	var lift func(e *plan.Expr) (*plan.Expr, error)
	lift = func(e *plan.Expr) (*plan.Expr, error) {
		if e == nil {
			return nil, nil
		}
		if over.IsOver(e) {
			f, err := over.Compile(scope, e)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("__over_%d", len(ln.overFuncs))
			ln.overFuncs = append(ln.overFuncs, f)
			fields = append(fields, arrow.Field{Name: name, Type: f.OutType, Nullable: true})
			return &plan.Expr{Col: &name}, nil
		}
		c := *e
		c.Args = make([]*plan.Expr, len(e.Args))
		for i, a := range e.Args {
			if c.Args[i], err = lift(a); err != nil {
				return nil, err
			}
		}
		return &c, nil
	}
	exprs := make([]*plan.Expr, len(n.Exprs))
	for i, e := range n.Exprs {
		l, err := lift(e)
		if err != nil {
			return err
		}
		if name := expr.OutputName(e); expr.OutputName(l) != name {
			l = &plan.Expr{Alias: &name, Args: []*plan.Expr{l}}
		}
		exprs[i] = l
	}
	ln.overAug = arrow.NewSchema(fields, nil)
	return bindProjection(ln, in, ln.overAug, exprs, n.Mode == "with_columns")
}

func (overOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if n.Mode == "with_columns" {
		withColumnsOp{}.require(b, n, ln, need)
		return
	}
	selectOp{}.require(b, n, ln, need)
}

func (overOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("over", in)
	funcs, aug, inSchema := n.overFuncs, n.overAug, n.inputs[0].schema
	st.Chain("over", func(int) runtime.Operator {
		return &over.Op{Name: n.name, Funcs: funcs, Schema: aug, In: inSchema, EmitSz: g.BatchSize}
	})
	exprs := make([]expr.Expr, len(n.exprs))
	for i, b := range n.exprs {
		exprs[i] = b.Expr
	}
	st.Chain("project", func(int) runtime.Operator { return &basic.ProjectOp{Name: n.name, Exprs: exprs, Schema: n.schema} })
	// One subtask emits the rows in input order, and chained operators keep it.
	return flow{st: st}, nil
}

func (overOp) explain(n *lnode) string {
	parts := make([]string, len(n.overFuncs))
	for i, f := range n.overFuncs {
		parts[i] = fmt.Sprintf("__over_%d = %s", i, f.Text)
	}
	return fmt.Sprintf("window functions [%s]; %s", strings.Join(parts, ", "), explainSelectWithColumns(n))
}
