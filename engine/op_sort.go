package engine

import (
	"fmt"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/basic"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// sortOp is the logical operator "sort": its binding and validation, the input columns it
// needs, its physical form and its explain text. tailOp ("tail") and explodeOp
// ("explode") follow.
type sortOp struct{}

type tailOp struct{}

type explodeOp struct{}

func init() {
	registerLegacyOp("sort", sortOp{}, true)
	registerLegacyOp("tail", tailOp{}, true)
	registerLegacyOp("explode", explodeOp{}, false)
}

// needBounded refuses an operator that must see its whole input over an unbounded one.
func needBounded(ln, in *lnode, what string) error {
	var unbounded, maybe []string
	sourceBoundedness([]*lnode{in}, &unbounded, &maybe)
	if len(unbounded) > 0 {
		return rberr.New(rberr.Plan, "%s: %s needs a bounded input (it emits once the input ends), and %s is unbounded", ln.name, what, unbounded[0])
	}
	return nil
}

func (sortOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := needBounded(ln, in, "sort"); err != nil {
		return err
	}
	if len(n.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: give at least one column or expression to sort by", ln.name)
	}
	broadcast := func(v []bool, what string) ([]bool, error) {
		switch len(v) {
		case len(n.Keys):
			return v, nil
		case 0:
			return make([]bool, len(n.Keys)), nil
		case 1:
			out := make([]bool, len(n.Keys))
			for i := range out {
				out[i] = v[0]
			}
			return out, nil
		}
		return nil, rberr.New(rberr.Plan, "%s: %s has %d values for %d sort keys", ln.name, what, len(v), len(n.Keys))
	}
	if ln.sortDesc, err = broadcast(n.SortDescending, "descending"); err != nil {
		return err
	}
	if ln.nullsLast, err = broadcast(n.NullsLast, "nulls_last"); err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	if _, err := compileKeysOf(scope, n.Keys, ln, "sort", sortable, nil, ""); err != nil {
		return err
	}
	ln.schema, ln.timeCol = in.schema, in.timeCol
	return nil
}

// sortable reports whether arrow-go's sort takes keys of type t.
func sortable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.NULL, arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME32, arrow.TIME64, arrow.DECIMAL128:
		return true
	}
	return expr.IsNumeric(t)
}

func (sortOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	var cols map[string]bool
	if need != nil {
		cols = refs(n.Keys...)
		for c := range need {
			cols[c] = true
		}
	}
	b.require(n.Input, ln.inputs[0], cols)
}

func (sortOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("sort", in) // the sort is stable: ties keep input order
	keys, _ := keyExprs(n.keys)
	st.Chain("sort", func(int) runtime.Operator {
		return &basic.SortOp{Keys: keys, Descending: n.sortDesc, NullsLast: n.nullsLast, Schema: n.schema, EmitSz: g.BatchSize}
	})
	// One subtask emits the rows in order, and chained operators keep it; an order of
	// sequence numbers no longer applies.
	return flow{st: st}, nil
}

func (sortOp) explain(n *lnode) string {
	parts := make([]string, len(n.keys))
	for i, k := range n.keys {
		parts[i] = k.Expr.String()
		if n.sortDesc[i] {
			parts[i] += " descending"
		}
		if n.nullsLast[i] {
			parts[i] += " nulls last"
		}
	}
	return "by " + strings.Join(parts, ", ")
}

func (tailOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := needBounded(ln, in, "tail"); err != nil {
		return err
	}
	if n.N == nil || *n.N < 0 {
		return rberr.New(rberr.Plan, "%s: needs a non-negative number of rows", ln.name)
	}
	ln.limit, ln.schema, ln.timeCol = *n.N, in.schema, in.timeCol
	return nil
}

func (tailOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], need)
}

func (tailOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("tail", in)
	limit := n.limit
	st.Chain(fmt.Sprintf("tail(%d)", limit), func(int) runtime.Operator { return &basic.TailOp{N: limit, Schema: n.schema} })
	return flow{st: st}, nil
}

func (tailOp) explain(n *lnode) string { return fmt.Sprint(n.limit) }

func (explodeOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if len(n.Columns) == 0 {
		return rberr.New(rberr.Plan, "%s: give the list columns to explode", ln.name)
	}
	fields := append([]arrow.Field(nil), in.schema.Fields()...)
	seen := map[int]bool{}
	for _, c := range n.Columns {
		idx := in.schema.FieldIndices(c)
		if len(idx) == 0 {
			return (&expr.CompileScope{Schema: in.schema, Op: ln.name}).ColumnNotFound(c)
		}
		i := idx[0]
		lt, ok := fields[i].Type.(arrow.ListLikeType)
		if !ok || fields[i].Type.ID() == arrow.FIXED_SIZE_LIST || fields[i].Type.ID() == arrow.MAP {
			return rberr.New(rberr.Type, "%s: explode needs list columns, and %q is %s", ln.name, c, expr.TypeName(fields[i].Type))
		}
		if !seen[i] {
			seen[i] = true
			ln.explodeCols = append(ln.explodeCols, i)
		}
		fields[i] = arrow.Field{Name: fields[i].Name, Type: lt.Elem(), Nullable: true}
	}
	slices.Sort(ln.explodeCols)
	ln.explodeEmpty, ln.explodeDropNulls = n.EmptyAsNull, n.DropNulls
	ln.schema, ln.timeCol = arrow.NewSchema(fields, nil), in.timeCol
	return nil
}

func (explodeOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	var cols map[string]bool
	if need != nil {
		cols = map[string]bool{}
		for c := range need {
			cols[c] = true
		}
		for _, c := range n.Columns {
			cols[c] = true
		}
	}
	b.require(n.Input, ln.inputs[0], cols)
}

func (explodeOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], nil)
	if err != nil {
		return f, err
	}
	f.st.Chain("explode", func(int) runtime.Operator {
		return &basic.ExplodeOp{Cols: n.explodeCols, Schema: n.schema, Name: n.name,
			EmptyAsNull: n.explodeEmpty, DropNulls: n.explodeDropNulls}
	})
	return f, nil
}

func (explodeOp) explain(n *lnode) string {
	names := make([]string, len(n.explodeCols))
	for i, c := range n.explodeCols {
		names[i] = n.schema.Field(c).Name
	}
	return strings.Join(names, ", ")
}

// uniqueOp is the logical operator "unique": Keys are the key columns, Mode which row of a
// key is kept ("first", "last", "any", "none").
type uniqueOp struct{}

func init() { registerLegacyOp("unique", uniqueOp{}, true) }

func (uniqueOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	switch n.Mode {
	case "first", "any":
	case "last", "none":
		if err := needBounded(ln, in, fmt.Sprintf("unique(keep=%q)", n.Mode)); err != nil {
			return err
		}
	default:
		return rberr.New(rberr.Plan, "%s: keep must be \"first\", \"last\", \"any\" or \"none\", got %q", ln.name, n.Mode)
	}
	if len(n.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: give the columns whose values must be unique", ln.name)
	}
	if err := b.compileKeys(n, ln, in, "deduplicate"); err != nil {
		return err
	}
	ln.keep = n.Mode
	ln.schema, ln.timeCol = in.schema, in.timeCol
	return nil
}

func (uniqueOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (uniqueOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("unique", in) // first and last are in input order
	keys, types := keyExprs(n.keys)
	st.Chain("unique", func(int) runtime.Operator {
		return &basic.UniqueOp{Keys: keys, KeyTypes: types, Keep: n.keep, Schema: n.schema, EmitSz: g.BatchSize}
	})
	return flow{st: st}, nil
}

func (uniqueOp) explain(n *lnode) string {
	parts := make([]string, len(n.keys))
	for i, k := range n.keys {
		parts[i] = k.Expr.String()
	}
	return fmt.Sprintf("%s, keep %s", strings.Join(parts, ", "), n.keep)
}
