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

// OverArgs are the arguments of "over": the expressions of a select or with_columns
// (Mode) that use window functions over partitions. A select or with_columns node
// becomes an over node when it uses them (rewriteOver, op_select.go).
type OverArgs struct {
	Exprs []*plan.Expr `json:"exprs,omitempty"`
	Mode  string       `json:"mode,omitempty"`
}

// overOp is the logical operator "over": a select or with_columns (its mode) whose
// expressions use window functions over partitions (col("x").cum_sum().over("k")). The
// window functions are computed on one subtask that sees the whole bounded input in
// input order (over.Op), then the projection reads their columns.
type overOp struct {
	OverArgs
	funcs []over.Func   // the window functions
	aug   *arrow.Schema // the input's schema with their columns appended (what proj reads)
	proj  projection
}

func init() {
	registerOp("over", opReg[OverArgs]{new: func(a *OverArgs) logicalOp { return &overOp{OverArgs: *a} }, stateful: true})
}

func (o *overOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := needBounded(ln, in, "a window function over(...)"); err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	fields := append([]arrow.Field{}, in.schema.Fields()...)
	o.funcs = nil
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
			name := fmt.Sprintf("__over_%d", len(o.funcs))
			o.funcs = append(o.funcs, f)
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
	exprs := make([]*plan.Expr, len(o.Exprs))
	for i, e := range o.Exprs {
		l, err := lift(e)
		if err != nil {
			return err
		}
		if name := expr.OutputName(e); expr.OutputName(l) != name {
			l = &plan.Expr{Alias: &name, Args: []*plan.Expr{l}}
		}
		exprs[i] = l
	}
	o.aug = arrow.NewSchema(fields, nil)
	return o.proj.bindExprs(ln, in, o.aug, exprs, o.Mode == "with_columns")
}

func (o *overOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if o.Mode == "with_columns" {
		requireWithColumns(b, n, ln, o.Exprs, need)
		return
	}
	requireSelect(b, n, ln, o.Exprs)
}

func (o *overOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("over", in, n.inputs[0].schema)
	funcs, aug, inSchema := o.funcs, o.aug, n.inputs[0].schema
	st.Chain("over", func(int) runtime.Operator {
		return &over.Op{Name: n.name, Funcs: funcs, Schema: aug, In: inSchema, EmitSz: g.BatchSize}
	})
	exprs := make([]expr.Expr, len(o.proj.exprs))
	for i, b := range o.proj.exprs {
		exprs[i] = b.Expr
	}
	st.Chain("project", func(int) runtime.Operator { return &basic.ProjectOp{Name: n.name, Exprs: exprs, Schema: n.schema} })
	// One subtask emits the rows in input order, and chained operators keep it.
	return flow{st: st}, nil
}

func (o *overOp) explain(n *lnode) string {
	parts := make([]string, len(o.funcs))
	for i, f := range o.funcs {
		parts[i] = fmt.Sprintf("__over_%d = %s", i, f.Text)
	}
	return fmt.Sprintf("window functions [%s]; %s", strings.Join(parts, ", "), o.proj.explain(n))
}
