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

// SortArgs are the arguments of "sort": the sort keys, each descending or not and with
// nulls last or not (one flag for all keys, or one per key; absent: false).
type SortArgs struct {
	Keys           []*plan.Expr `json:"keys,omitempty"`
	SortDescending []bool       `json:"sort_descending,omitempty"`
	NullsLast      []bool       `json:"nulls_last,omitempty"`
}

// sortOp is the logical operator "sort": its binding and validation, the input columns it
// needs, its physical form and its explain text. tailOp ("tail"), explodeOp
// ("explode") and uniqueOp ("unique") follow.
type sortOp struct {
	SortArgs
	keys            []expr.Bound
	desc, nullsLast []bool // per key
}

// TailArgs are the arguments of "tail": the last N rows of a bounded input; with Length,
// the first Length of the N places from the end (Polars' slice(-N, Length): with fewer
// than N rows, the places before the first row are empty).
type TailArgs struct {
	N      *int64 `json:"n,omitempty"`
	Length *int64 `json:"length,omitempty"`
}

type tailOp struct {
	TailArgs
	n int64
}

// ExplodeArgs are the arguments of "explode": the list columns whose elements become
// rows; an empty list gives a null row if EmptyAsNull (else none), a null list no row if
// DropNulls (else a null row).
type ExplodeArgs struct {
	Columns     []string `json:"columns,omitempty"`
	EmptyAsNull bool     `json:"empty_as_null,omitempty"`
	DropNulls   bool     `json:"drop_nulls,omitempty"`
}

type explodeOp struct {
	ExplodeArgs
	cols []int // the list columns' indexes, ascending
}

func init() {
	registerOp("sort", opReg[SortArgs]{new: func(a *SortArgs) logicalOp { return &sortOp{SortArgs: *a} }, stateful: true})
	registerOp("tail", opReg[TailArgs]{new: func(a *TailArgs) logicalOp { return &tailOp{TailArgs: *a} }, stateful: true})
	registerOp("explode", opReg[ExplodeArgs]{new: func(a *ExplodeArgs) logicalOp { return &explodeOp{ExplodeArgs: *a} }})
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

func (o *sortOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := needBounded(ln, in, "sort"); err != nil {
		return err
	}
	if len(o.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: give at least one column or expression to sort by", ln.name)
	}
	broadcast := func(v []bool, what string) ([]bool, error) {
		switch len(v) {
		case len(o.Keys):
			return v, nil
		case 0:
			return make([]bool, len(o.Keys)), nil
		case 1:
			out := make([]bool, len(o.Keys))
			for i := range out {
				out[i] = v[0]
			}
			return out, nil
		}
		return nil, rberr.New(rberr.Plan, "%s: %s has %d values for %d sort keys", ln.name, what, len(v), len(o.Keys))
	}
	if o.desc, err = broadcast(o.SortDescending, "descending"); err != nil {
		return err
	}
	if o.nullsLast, err = broadcast(o.NullsLast, "nulls_last"); err != nil {
		return err
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: ln.name}
	if o.keys, _, err = compileKeysOf(scope, o.Keys, ln.name, "sort", sortable, nil, ""); err != nil {
		return err
	}
	for i, k := range o.keys {
		if k.Type().ID() == arrow.FLOAT16 { // sorted as the float32 values it holds exactly
			o.keys[i].Expr = &expr.CastExpr{Arg: k.Expr, To: arrow.PrimitiveTypes.Float32}
		}
	}
	ln.schema, ln.timeCol = in.schema, in.timeCol
	return nil
}

// sortable reports whether arrow-go's sort takes keys of type t.
func sortable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.NULL, arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME32, arrow.TIME64, arrow.DECIMAL128,
		arrow.FLOAT16: // as float32 (bind)
		return true
	}
	return expr.IsNumeric(t)
}

func (o *sortOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	var cols map[string]bool
	if need != nil {
		cols = refs(o.Keys...)
		for c := range need {
			cols[c] = true
		}
	}
	b.require(n.Input, ln.inputs[0], cols)
}

func (o *sortOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *sortOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	keys, _ := keyExprs(o.keys)
	desc, nullsLast := o.desc, o.nullsLast
	if in.st.Parallel > 1 && !g.checkpointing && !g.savepoints && !g.restoring {
		// Each subtask of the input sorts its rows; one merges the sorted runs. The rows
		// carry their place in the input, so ties keep input order (basic.SortMergeOp).
		// A job that may take checkpoints or savepoints (checkpoint_dir, a restore, a
		// started job the host may ask for a savepoint) sorts on one subtask, whose
		// checkpointed state is its rows: the merge has no state of its own and reads its
		// inputs one at a time (TaskCtx.BlockInput), which barrier alignment also does.
		inSchema := n.inputs[0].schema
		in.st.Chain("sort (local)", func(int) runtime.Operator {
			return &basic.SortOp{Keys: keys, Descending: desc, NullsLast: nullsLast, Schema: inSchema, EmitSz: g.BatchSize, Local: true}
		})
		st := g.NewStage("sort", 1, runtime.Edge{From: in.st, Part: runtime.PartGather})
		st.Chain("sort", func(int) runtime.Operator {
			return &basic.SortMergeOp{Keys: keys, Descending: desc, NullsLast: nullsLast, Schema: n.schema, EmitSz: g.BatchSize}
		})
		return flow{st: st}, nil
	}
	st := g.gatherInOrder("sort", in, n.inputs[0].schema) // the sort is stable: ties keep input order
	st.Chain("sort", func(int) runtime.Operator {
		return &basic.SortOp{Keys: keys, Descending: desc, NullsLast: nullsLast, Schema: n.schema, EmitSz: g.BatchSize}
	})
	// One subtask emits the rows in order, and chained operators keep it; an order of
	// sequence numbers no longer applies.
	return flow{st: st}, nil
}

func (o *sortOp) explain(*lnode) string {
	parts := make([]string, len(o.keys))
	for i, k := range o.keys {
		parts[i] = k.Expr.String()
		if o.desc[i] {
			parts[i] += " descending"
		}
		if o.nullsLast[i] {
			parts[i] += " nulls last"
		}
	}
	return "by " + strings.Join(parts, ", ")
}

func (o *tailOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := needBounded(ln, in, "tail"); err != nil {
		return err
	}
	if o.N == nil || *o.N < 0 {
		return rberr.New(rberr.Plan, "%s: needs a non-negative number of rows", ln.name)
	}
	if o.Length != nil && *o.Length < 0 {
		return rberr.New(rberr.Plan, "%s: needs a non-negative length, got %d", ln.name, *o.Length)
	}
	o.n, ln.schema, ln.timeCol = *o.N, in.schema, in.timeCol
	return nil
}

func (o *tailOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], need)
}

func (o *tailOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *tailOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("tail", in, n.inputs[0].schema)
	limit, length := o.n, int64(-1)
	if o.Length != nil {
		length = *o.Length
	}
	st.Chain("tail("+o.explain(n)+")", func(int) runtime.Operator {
		return &basic.TailOp{N: limit, Length: length, Schema: n.schema}
	})
	return flow{st: st}, nil
}

func (o *tailOp) explain(*lnode) string {
	if o.Length != nil {
		return fmt.Sprintf("%d, length %d", o.n, *o.Length)
	}
	return fmt.Sprint(o.n)
}

func (o *explodeOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if len(o.Columns) == 0 {
		return rberr.New(rberr.Plan, "%s: give the list columns to explode", ln.name)
	}
	fields := append([]arrow.Field(nil), in.schema.Fields()...)
	seen := map[int]bool{}
	for _, c := range o.Columns {
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
			o.cols = append(o.cols, i)
		}
		fields[i] = arrow.Field{Name: fields[i].Name, Type: lt.Elem(), Nullable: true}
	}
	slices.Sort(o.cols)
	ln.schema, ln.timeCol = arrow.NewSchema(fields, nil), in.timeCol
	return nil
}

func (o *explodeOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	var cols map[string]bool
	if need != nil {
		cols = map[string]bool{}
		for c := range need {
			cols[c] = true
		}
		for _, c := range o.Columns {
			cols[c] = true
		}
	}
	b.require(n.Input, ln.inputs[0], cols)
}

func (o *explodeOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	f, err := g.build(n.inputs[0], nil)
	if err != nil {
		return f, err
	}
	cols, empty, dropNulls := o.cols, o.EmptyAsNull, o.DropNulls
	f.st.Chain("explode", func(int) runtime.Operator {
		return &basic.ExplodeOp{Cols: cols, Schema: n.schema, Name: n.name, EmptyAsNull: empty, DropNulls: dropNulls}
	})
	return f, nil
}

func (o *explodeOp) explain(n *lnode) string {
	names := make([]string, len(o.cols))
	for i, c := range o.cols {
		names[i] = n.schema.Field(c).Name
	}
	return strings.Join(names, ", ")
}

// UniqueArgs are the arguments of "unique": Keys are the key columns, Mode which row of a
// key is kept ("first", "last", "any", "none").
type UniqueArgs struct {
	Keys []*plan.Expr `json:"keys,omitempty"`
	Mode string       `json:"mode,omitempty"`
}

// uniqueOp is the logical operator "unique".
type uniqueOp struct {
	UniqueArgs
	keys []expr.Bound
}

func init() {
	registerOp("unique", opReg[UniqueArgs]{new: func(a *UniqueArgs) logicalOp { return &uniqueOp{UniqueArgs: *a} }, stateful: true})
}

func (o *uniqueOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	switch o.Mode {
	case "first", "any":
	case "last", "none":
		if err := needBounded(ln, in, fmt.Sprintf("unique(keep=%q)", o.Mode)); err != nil {
			return err
		}
	default:
		return rberr.New(rberr.Plan, "%s: keep must be \"first\", \"last\", \"any\" or \"none\", got %q", ln.name, o.Mode)
	}
	if len(o.Keys) == 0 {
		return rberr.New(rberr.Plan, "%s: give the columns whose values must be unique", ln.name)
	}
	if o.keys, err = bindKeys(o.Keys, ln, in, "deduplicate"); err != nil {
		return err
	}
	ln.schema, ln.timeCol = in.schema, in.timeCol
	return nil
}

func (o *uniqueOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (o *uniqueOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *uniqueOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	st := g.gatherInOrder("unique", in, n.inputs[0].schema) // first and last are in input order
	keys, types := keyExprs(o.keys)
	keep := o.Mode
	st.Chain("unique", func(int) runtime.Operator {
		return &basic.UniqueOp{Keys: keys, KeyTypes: types, Keep: keep, Schema: n.schema, EmitSz: g.BatchSize}
	})
	return flow{st: st}, nil
}

// stateConfig implements stateConfigurer.
func (o *uniqueOp) stateConfig(n *lnode) string { return "unique (" + o.explain(n) + ")" }

func (o *uniqueOp) explain(*lnode) string {
	parts := make([]string, len(o.keys))
	for i, k := range o.keys {
		parts[i] = k.Expr.String()
	}
	return fmt.Sprintf("%s, keep %s", strings.Join(parts, ", "), o.Mode)
}
