package engine

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// topnOp is the logical operator "topn": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type topnOp struct{}

func init() { registerLegacyOp("topn", topnOp{}, true) }

func (topnOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := b.bindTopN(n, ln, in); err != nil {
		return err
	}
	return nil
}

func (topnOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	requireDedupTopn(b, n, ln, need)
}

func (topnOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	return buildDedupTopn(g, n, prune)
}

func (topnOp) explain(n *lnode) (detail string) {
	detail = fmt.Sprintf("top %d by %s", n.limit, n.orderBy)
	if n.withTies {
		detail += " with ties"
	}
	return
}

// bindTopN validates a top-N per partition and window.
func (b *binder) bindTopN(n *plan.Node, ln, in *lnode) error {
	if n.N == nil || *n.N <= 0 {
		return rberr.New(rberr.Plan, "%s: n must be a positive number of rows", ln.name)
	}
	if n.OrderBy == nil {
		return rberr.New(rberr.Plan, "%s: give the column to rank by", ln.name)
	}
	keys, err := bindKeys(n.Keys, ln, in, "rank")
	if err != nil {
		return err
	}
	ln.keys = keys
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	ob, err := scope.Compile(n.OrderBy)
	if err != nil {
		return err
	}
	ob = expr.DecodeDictionary(ob) // ranks by the values
	if t := ob.Type(); !expr.IsNumeric(t) && !expr.IsString(t) && !expr.IsTemporal(t) && t.ID() != arrow.BOOL {
		return rberr.New(rberr.Type, "%s: cannot rank by %s of type %s", ln.name, ob, expr.TypeName(t))
	}
	ln.orderBy, ln.descending, ln.withTies, ln.limit = ob, n.Descending, n.WithTies, *n.N
	fields := append([]arrow.Field{}, in.schema.Fields()...)
	if n.Window != nil {
		if ln.win, err = window.Compile(n.Window, ln.name); err != nil {
			return err
		}
		if ln.win.Kind == "session" {
			return rberr.New(rberr.Plan, "%s: top-N takes tumbling, sliding or cumulate windows", ln.name)
		}
		col := n.Window.On
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
		ln.winTime, ln.winTimeIdx, ln.topWindow = col, idx[0], true
		tt := in.schema.Field(idx[0]).Type
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
			ln.winBounds[i] = idx[0]
		}
	}
	if in.schema.HasField("rank") {
		return rberr.New(rberr.Plan, "%s: the input already has a column named \"rank\"", ln.name)
	}
	fields = append(fields, arrow.Field{Name: "rank", Type: arrow.PrimitiveTypes.Int64})
	ln.schema = arrow.NewSchema(fields, nil)
	return nil
}
