package engine

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// TopNArgs are the arguments of "topn": the N first rows by OrderBy (Descending or not;
// WithTies: and every row tied with the n-th) per key and window: the windows assigned
// by Window, or (absent) the (window_start, window_end) of each row of a window result.
type TopNArgs struct {
	Keys       []*plan.Expr    `json:"keys,omitempty"`
	N          *int64          `json:"n,omitempty"`
	OrderBy    *plan.Expr      `json:"order_by,omitempty"`
	Descending bool            `json:"descending,omitempty"`
	WithTies   bool            `json:"with_ties,omitempty"`
	Window     *plan.WindowDef `json:"window,omitempty"`
}

// topnOp is the logical operator "topn": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type topnOp struct {
	TopNArgs
	keys      []expr.Bound
	n         int64
	orderBy   expr.Expr
	assigns   bool            // it assigns windows (else reads window_start/window_end)
	win       window.Windower // assigns: the windows, and the column of their event time
	timeIdx   int
	winBounds [2]int // else: the input's window_start and window_end
}

func init() {
	registerOp("topn", opReg[TopNArgs]{new: func(a *TopNArgs) logicalOp { return &topnOp{TopNArgs: *a} }, stateful: true})
}

func (o *topnOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (o *topnOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	if !o.assigns && !g.Batch {
		// Ranking a window result: with allowed_lateness a window re-emits a key's result
		// for each late row, and the ranking would hold the superseded results next to the
		// new one (a key twice in a window's top n, another pushed out).
		for in := n.inputs[0]; in != nil; {
			if w, ok := in.impl.(*windowAggOp); ok {
				if w.lateness > 0 {
					return flow{}, rberr.New(rberr.Plan, "%s: ranks the results of %s, whose allowed_lateness re-emits a key's result for each late row: the ranking would hold superseded results too; rank them in batch mode, or with allowed_lateness=0", n.name, in.name)
				}
				break
			}
			if len(in.inputs) != 1 {
				break
			}
			in = in.inputs[0]
		}
	}
	k, err := g.buildKeyed(n, o.keys)
	if err != nil {
		return k.in, err
	}
	keys, types := k.keys, k.types
	inSchema := n.inputs[0].schema
	st := k.stage(g, "topn", false)
	op := &dedup.TopNOp{Name: n.name, Keys: keys, KeyTypes: types, OrderBy: o.orderBy, Descending: o.Descending,
		WithTies: o.WithTies, N: int(o.n), Schema: n.schema, InSchema: inSchema, BatchSize: g.BatchSize}
	if o.assigns {
		w := o.win
		op.Win = &w
		op.TimeIdx = o.timeIdx
		op.TimeType = inSchema.Field(op.TimeIdx).Type
	} else {
		op.StartIdx, op.EndIdx = o.winBounds[0], o.winBounds[1]
	}
	st.Chain(fmt.Sprintf("top_n(%d)", o.n), func(int) runtime.Operator { c := *op; return &c })
	return flow{st: st}, nil
}

// stateConfig implements stateConfigurer.
func (o *topnOp) stateConfig(n *lnode) string { return "top-N (" + o.explain(n) + ")" }

func (o *topnOp) explain(*lnode) (detail string) {
	detail = fmt.Sprintf("top %d by %s", o.n, o.orderBy)
	if o.WithTies {
		detail += " with ties"
	}
	return
}

// bind validates a top-N per partition and window.
func (o *topnOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if o.N == nil || *o.N <= 0 {
		return rberr.New(rberr.Plan, "%s: n must be a positive number of rows", ln.name)
	}
	if o.OrderBy == nil {
		return rberr.New(rberr.Plan, "%s: give the column to rank by", ln.name)
	}
	if o.keys, err = bindKeys(o.Keys, ln, in, "rank"); err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	ob, err := scope.Compile(o.OrderBy)
	if err != nil {
		return err
	}
	ob = expr.DecodeDictionary(ob) // ranks by the values
	if t := ob.Type(); !expr.IsNumeric(t) && !expr.IsString(t) && !expr.IsTemporal(t) && t.ID() != arrow.BOOL {
		return rberr.New(rberr.Type, "%s: cannot rank by %s of type %s", ln.name, ob, expr.TypeName(t))
	}
	o.orderBy, o.n = ob, *o.N
	fields := append([]arrow.Field{}, in.schema.Fields()...)
	if o.Window != nil {
		if o.win, err = window.Compile(o.Window, ln.name); err != nil {
			return err
		}
		if o.win.Kind == "session" {
			return rberr.New(rberr.Plan, "%s: top-N takes tumbling, sliding or cumulate windows", ln.name)
		}
		col := o.Window.On
		if col == "" {
			col = in.timeCol
		}
		if col == "" {
			return rberr.New(rberr.Plan, "%s: the input has no event time; pass event_time=<column> to the source", ln.name)
		}
		idx := in.schema.FieldIndices(col)
		if len(idx) == 0 {
			return (&expr.CompileScope{Schema: in.schema, Op: ln.name}).ColumnNotFound(col)
		}
		o.timeIdx, o.assigns = idx[0], true
		tt := in.schema.Field(idx[0]).Type
		if err := o.win.CheckUnit(tt, ln.name, col); err != nil {
			return err
		}
		if in.schema.HasField("window_start") || in.schema.HasField("window_end") {
			return rberr.New(rberr.Plan, "%s: the input already has window_start/window_end columns; rank them with top_n on the window result", ln.name)
		}
		fields = append(fields, arrow.Field{Name: "window_start", Type: tt}, arrow.Field{Name: "window_end", Type: tt})
	} else {
		for i, c := range []string{"window_start", "window_end"} {
			idx := in.schema.FieldIndices(c)
			if len(idx) == 0 {
				return rberr.New(rberr.Plan, "%s: without a window, top-N ranks the rows of each window of a window result, but the input has no %q column", ln.name, c)
			}
			o.winBounds[i] = idx[0]
		}
	}
	if in.schema.HasField("rank") {
		return rberr.New(rberr.Plan, "%s: the input already has a column named \"rank\"", ln.name)
	}
	fields = append(fields, arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int64})
	ln.schema = arrow.NewSchema(fields, nil)
	return nil
}
