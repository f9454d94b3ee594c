package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/dedup"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// RankArgs are the arguments of "rank", Flink's streaming top-N over an append-only
// input: the N first rows per partition (Keys; none: one partition) by the OrderBy
// expressions (each descending if Descending says so, and with nulls first if NullsFirst
// does: one flag for all, or one per expression; absent: ascending, nulls last), ties in
// arrival order (KeepLast: the later row first — n = 1 is then Flink's deduplication
// keeping the last row). RankColumn, if set, names an output column with each row's row
// number (1 = first). Without OrderBy the rows rank in arrival order (Flink's ORDER BY
// PROCTIME()): ArrivalOrder keeps the first n rows per partition, KeepLast the last n. The
// result is updating: a changelog with the op column last (dedup.RankOp says which changes
// it emits). The input may be updating too (Flink's retract rank): its retracted rows leave
// the partitions they are in, and the rows below the top n move up.
type RankArgs struct {
	Keys         []*plan.Expr `json:"keys,omitempty"`
	N            *int64       `json:"n,omitempty"`
	OrderBy      []*plan.Expr `json:"order_by,omitempty"`
	Descending   []bool       `json:"descending,omitempty"`
	NullsFirst   []bool       `json:"nulls_first,omitempty"`
	KeepLast     bool         `json:"keep_last,omitempty"`
	ArrivalOrder bool         `json:"arrival_order,omitempty"`
	RankColumn   string       `json:"rank_column,omitempty"`
}

// rankOp is the logical operator "rank": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type rankOp struct {
	RankArgs
	keys    []expr.Bound // over the input (its exchange)
	opKeys  []expr.Bound // over the rows the operator keeps (the input but its op column)
	orderBy []expr.Expr  // over the rows the operator keeps
	desc    []bool
	nulls   []bool // nulls first, per expression
	n       int64
	opCol   int           // over an updating input: its op column; -1 otherwise
	rows    *arrow.Schema // the rows the operator keeps
}

func init() {
	registerOp("rank", opReg[RankArgs]{new: func(a *RankArgs) logicalOp { return &rankOp{RankArgs: *a} }, stateful: true})
}

// bind validates a streaming top-N and marks its output as updating.
func (o *rankOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if o.N == nil || *o.N <= 0 {
		return rberr.New(rberr.Plan, "%s: n must be a positive number of rows", ln.name)
	}
	o.n = *o.N
	if o.keys, err = bindKeys(o.Keys, ln, in, "partition a top-N"); err != nil {
		return err
	}
	// Over an updating input the operator keeps the rows without their op column: its keys
	// and ordering expressions are compiled over those.
	o.opCol, o.rows, o.opKeys = -1, in.schema, o.keys
	if in.changelog != "" {
		op, ok := opColumnBound(in.schema)
		if !ok {
			return rberr.New(rberr.Internal, "%s: the updating input has no %s column", ln.name, agg.OpColumn)
		}
		o.opCol = op.Expr.(*expr.ColExpr).Idx
		fs := append([]arrow.Field{}, in.schema.Fields()[:o.opCol]...)
		o.rows = arrow.NewSchema(append(fs, in.schema.Fields()[o.opCol+1:]...), nil)
		if o.opKeys, err = bindKeys(o.Keys, ln, &lnode{schema: o.rows}, "partition a top-N"); err != nil {
			return err
		}
	}
	if len(o.Descending) > 1 && len(o.Descending) != len(o.OrderBy) {
		return rberr.New(rberr.Plan, "%s: descending takes one flag or one per ordering expression (%d), got %d", ln.name, len(o.OrderBy), len(o.Descending))
	}
	if len(o.NullsFirst) > 1 && len(o.NullsFirst) != len(o.OrderBy) {
		return rberr.New(rberr.Plan, "%s: nulls_first takes one flag or one per ordering expression (%d), got %d", ln.name, len(o.OrderBy), len(o.NullsFirst))
	}
	flag := func(fs []bool, i int) bool {
		switch {
		case len(fs) == 1:
			return fs[0]
		case len(fs) > 1:
			return fs[i]
		}
		return false
	}
	scope := &expr.CompileScope{Schema: o.rows, Op: ln.name}
	o.orderBy, o.desc, o.nulls = nil, nil, nil
	for i, e := range o.OrderBy {
		ob, err := scope.Compile(e)
		if err != nil {
			return err
		}
		ob = expr.DecodeDictionary(ob) // ranks by the values
		if t := ob.Type(); !expr.IsNumeric(t) && !expr.IsString(t) && !expr.IsTemporal(t) && t.ID() != arrow.BOOL {
			return rberr.New(rberr.Type, "%s: cannot rank by %s of type %s", ln.name, ob, expr.TypeName(t))
		}
		o.orderBy, o.desc = append(o.orderBy, ob), append(o.desc, flag(o.Descending, i))
		o.nulls = append(o.nulls, flag(o.NullsFirst, i))
	}
	switch {
	case o.ArrivalOrder && (len(o.orderBy) > 0 || o.KeepLast):
		return rberr.New(rberr.Plan, "%s: arrival_order ranks the rows as they come (the first n stay); it takes no order_by and no keep_last", ln.name)
	case len(o.orderBy) == 0 && !o.KeepLast && !o.ArrivalOrder:
		return rberr.New(rberr.Plan, "%s: give the columns to rank by (ORDER BY); without them every row ties and the first n rows would stay forever (say arrival_order to keep them so)", ln.name)
	}
	fields := append([]arrow.Field{}, o.rows.Fields()...)
	if o.RankColumn != "" {
		if o.rows.HasField(o.RankColumn) || o.RankColumn == agg.OpColumn {
			return rberr.New(rberr.Plan, "%s: the input already has a column named %q; name the row number otherwise", ln.name, o.RankColumn)
		}
		fields = append(fields, arrow.Field{Name: o.RankColumn, Type: arrow.PrimitiveTypes.Int64})
	}
	if o.opCol < 0 && in.schema.HasField(agg.OpColumn) {
		return rberr.New(rberr.Plan, "%s: %q is the op column of the top-N's updating result; name the input column otherwise", ln.name, agg.OpColumn)
	}
	fields = append(fields, arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String})
	ln.schema = arrow.NewSchema(fields, nil)
	ln.changelog = ln.name
	// What identifies a row of the result: (partition, row number), or the partition
	// when it holds one row — if the partition keys are input columns.
	var keys []string
	for _, k := range o.keys {
		c, ok := k.Expr.(*expr.ColExpr)
		if !ok {
			keys = nil
			ln.noKeyWhy = fmt.Sprintf("its partition key %s is not a column", k)
			break
		}
		keys = append(keys, c.Name)
	}
	switch {
	case ln.noKeyWhy != "":
	case o.RankColumn != "":
		ln.changelogKeys = append(keys, o.RankColumn)
	case o.n == 1 && len(keys) > 0:
		ln.changelogKeys = keys
	case o.n == 1:
		ln.noKeyWhy = "it has no partition columns"
	default:
		ln.noKeyWhy = fmt.Sprintf("it keeps %d rows per partition without their row number", o.n)
	}
	return nil
}

// takeUpdates accepts an updating input (Flink's retract rank; bind set it up).
func (o *rankOp) takeUpdates(ln, from *lnode) error { return nil }

func (o *rankOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Input, ln.inputs[0], nil)
}

func (o *rankOp) estimateRows(n *lnode) (int64, bool) { return inputRows(n) }

func (o *rankOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	k, err := g.buildKeyed(n, o.keys)
	if err != nil {
		return k.in, err
	}
	keys, types := keyExprs(o.opKeys)
	st := k.stage(g, "rank", false)
	op := &dedup.RankOp{Name: n.name, Keys: keys, KeyTypes: types, OrderBy: o.orderBy, Descending: o.desc, NullsFirst: o.nulls,
		N: int(o.n), KeepLast: o.KeepLast, RankCol: o.RankColumn != "", Retract: o.opCol >= 0, OpCol: o.opCol,
		InSchema: o.rows, Schema: n.schema, BatchSize: g.BatchSize}
	st.Chain(fmt.Sprintf("rank(%d)", o.n), func(int) runtime.Operator { c := *op; return &c })
	return flow{st: st}, nil
}

// stateConfig implements stateConfigurer: rows kept for one order are not those of
// another.
func (o *rankOp) stateConfig(n *lnode) string { return "rank (" + o.explain(n) + ")" }

func (o *rankOp) explain(*lnode) string {
	by := make([]string, len(o.orderBy))
	for i, e := range o.orderBy {
		by[i] = e.String()
		if o.desc[i] {
			by[i] += " desc"
		}
		if o.nulls[i] {
			by[i] += " nulls first"
		}
	}
	keys := make([]string, len(o.keys))
	for i, k := range o.keys {
		keys[i] = k.String()
	}
	what := fmt.Sprintf("top %d", o.n)
	if o.KeepLast && o.n == 1 {
		what = "last row"
	}
	order := "by [" + strings.Join(by, ", ") + "]"
	switch {
	case len(by) == 0 && o.KeepLast:
		order = "by arrival, the latest first"
	case len(by) == 0:
		order = "by arrival"
	}
	detail := fmt.Sprintf("%s per [%s] %s", what, strings.Join(keys, ", "), order)
	if o.opCol >= 0 {
		detail += ", over an updating input (retract)"
	}
	if o.RankColumn != "" {
		detail += ", row number in " + o.RankColumn
	}
	return detail + ", updating (changelog in " + agg.OpColumn + ")"
}
