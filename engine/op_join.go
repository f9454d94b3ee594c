package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// joinOp is the logical operator "join": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type joinOp struct{}

func init() { registerLegacyOp("join", joinOp{}, true) }

func (joinOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	name := ln.name
	if len(n.Inputs) != 2 {
		return rberr.New(rberr.Plan, "%s: a join takes exactly two inputs", name)
	}
	for _, sub := range n.Inputs {
		in, err := b.bind(sub)
		if err != nil {
			return err
		}
		ln.inputs = append(ln.inputs, in)
	}
	if err := b.bindJoin(n, ln, ln.inputs[0], ln.inputs[1]); err != nil {
		return err
	}
	return nil
}

func (joinOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	b.require(n.Inputs[0], ln.inputs[0], nil)
	b.require(n.Inputs[1], ln.inputs[1], nil)
}

func (joinOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	var edges []runtime.Edge
	js := n.join
	parallel := g.Parallel
	var flows [2]flow
	for side, in := range n.inputs {
		f, err := g.build(in, nil)
		if err != nil {
			return f, err
		}
		flows[side] = f
	}
	bcast := -1
	if regularJoin(js.How) && js.How != "cross" {
		var err error
		if bcast, err = g.broadcastSide(n); err != nil {
			return flow{}, err
		}
	}
	for side, in := range n.inputs {
		f := flows[side]
		keys := js.LeftKeys
		if side == 1 {
			keys = js.RightKeys
		}
		if js.How == "asof" && !g.Batch {
			// Streaming: left rows wait for the watermark, which is of event time.
			what := [2]string{"left", "right"}[side]
			col := js.LeftSchema.Field(js.LeftTime).Name
			if side == 1 {
				col = js.RightSchema.Field(js.RightTime).Name
			}
			if in.timeCol != col {
				return flow{}, rberr.New(rberr.Plan, "%s: in streaming mode an as-of join reads time from its inputs' event time, and the %s input's time column %q is not its event time; pass event_time=%q to its source (or run in batch mode)", n.name, what, col, col)
			}
		}
		e := runtime.Edge{From: f.st, Part: runtime.PartHash, Keys: keys}
		switch {
		case js.How == "cross" || len(keys) == 0: // every pair: one subtask sees both inputs whole
			e = runtime.Edge{From: f.st, Part: runtime.PartGather}
			parallel = 1
		case side == bcast:
			e = runtime.Edge{From: f.st, Part: runtime.PartBroadcast}
		case side == 1-bcast:
			// The other input stays where it is: no shuffle, and no skew from hot keys.
			e = runtime.Edge{From: f.st, Part: runtime.PartForward}
			parallel = f.st.Parallel
		}
		edges = append(edges, e)
	}
	st := g.NewStage("join", parallel, edges...)
	name := "join(" + js.How + ")"
	if bcast >= 0 {
		name = fmt.Sprintf("join(%s, broadcast %s)", js.How, [2]string{"left", "right"}[bcast])
	}
	st.Chain(name, func(int) runtime.Operator {
		base := join.JoinBase{Spec: js, EmitSz: g.BatchSize}
		if regularJoin(js.How) {
			return &join.HashJoinOp{JoinBase: base, LeftKeep: n.joinLeftKeep, Unbounded: n.joinUnbounded, Broadcast: bcast >= 0}
		}
		switch js.How {
		case "window":
			return &join.WindowJoinOp{JoinBase: base, Win: js.Win}
		case "interval":
			return &join.IntervalJoinOp{JoinBase: base}
		}
		return &join.AsofJoinOp{JoinBase: base}
	})
	return flow{st: st}, nil
}

// broadcastRows is the most rows (estimated) of an input that a join broadcasts on its
// own: as DuckDB's and Spark's thresholds, small enough to hold once per subtask.
const broadcastRows = 1 << 20

// broadcastSide decides the distribution of a relational join: the input it broadcasts
// to every subtask (the other staying where it is), or -1 for a hash join (both inputs
// partitioned by key). Only an input whose rows all meeting every subtask keeps the
// answer can be broadcast: either for inner joins, the right for left, semi and anti
// joins, the left for right joins; never for full joins. strategy "auto" broadcasts in
// batch mode, at parallelism above 1, in a job that can be neither checkpointed nor
// savepointed (plan.Options.Savepoints), the smaller of those
// inputs when its estimate (estimateRows) is at most broadcastRows and a quarter of the
// other's (or the other's is unknown).
func (g *graph) broadcastSide(n *lnode) (int, error) {
	js := n.join
	allowed := func(side int) bool {
		switch js.How {
		case "inner":
			return true
		case "left", "semi", "anti":
			return side == 1
		case "right":
			return side == 0
		}
		return false
	}
	var est [2]int64
	var known [2]bool
	for side, in := range n.inputs {
		est[side], known[side] = estimateRows(in)
	}
	// The smaller allowed side, by estimate (unknown counts as large).
	pick := -1
	for side := range 2 {
		if !allowed(side) {
			continue
		}
		if pick < 0 || (known[side] && (!known[pick] || est[side] < est[pick])) {
			pick = side
		}
	}
	switch n.joinStrategy {
	case "hash":
		return -1, nil
	case "broadcast":
		if pick < 0 {
			return -1, rberr.New(rberr.Plan, "%s: a %s join cannot broadcast either input (its unmatched rows on both sides must be found once); use strategy=\"hash\"", n.name, js.How)
		}
		if g.checkpointing {
			return -1, rberr.New(rberr.Plan, "%s: a broadcast join cannot be checkpointed (every subtask holds the broadcast input whole); use strategy=\"hash\" with checkpoints", n.name)
		}
		return pick, nil
	}
	if pick < 0 || !g.Batch || g.checkpointing || g.savepoints || g.Parallel == 1 || !known[pick] || est[pick] > broadcastRows {
		return -1, nil
	}
	if other := 1 - pick; known[other] && est[pick]*4 > est[other] {
		return -1, nil
	}
	return pick, nil
}

func (joinOp) explain(n *lnode) (detail string) {
	detail = n.join.How + " join"
	if n.changelog != "" {
		detail = "updating " + detail
	}
	if n.join.How == "asof" {
		detail += fmt.Sprintf(" (%s", n.join.Strategy)
		if n.join.HasTolerance {
			detail += ", tolerance " + plan.FormatDuration(n.join.Tolerance)
		}
		detail += fmt.Sprintf(") on %s = %s", n.join.LeftSchema.Field(n.join.LeftTime).Name, n.join.RightSchema.Field(n.join.RightTime).Name)
		if len(n.join.LeftKeys) > 0 {
			var by []string
			for i := range n.join.LeftKeys {
				by = append(by, fmt.Sprintf("%s = %s", n.join.LeftKeys[i], n.join.RightKeys[i]))
			}
			detail += " by " + strings.Join(by, ", ")
		}
	}
	if regularJoin(n.join.How) && n.join.How != "cross" {
		var on []string
		for i := range n.join.LeftKeys {
			on = append(on, fmt.Sprintf("%s = %s", n.join.LeftKeys[i], n.join.RightKeys[i]))
		}
		detail += " on " + strings.Join(on, ", ")
	}
	if n.join.How == "interval" {
		detail += fmt.Sprintf(", right rows from %s to %s around each left row", plan.FormatDuration(n.join.Lower), plan.FormatDuration(n.join.Upper))
	}
	return
}

// bindJoin validates a join of two inputs.
func (b *binder) bindJoin(n *plan.Node, ln *lnode, left, right *lnode) error {
	name := ln.name
	js := &join.Spec{Name: name, How: n.How, LeftSchema: left.schema, RightSchema: right.schema}
	regular := regularJoin(n.How)
	switch {
	case n.How == "cross":
		if len(n.LeftOn)+len(n.RightOn) > 0 {
			return rberr.New(rberr.Plan, "%s: a cross join takes no keys", name)
		}
	case n.How == "asof" && len(n.LeftOn) != len(n.RightOn):
		return rberr.New(rberr.Plan, "%s: give the same number of join keys for both sides (by_left and by_right, or by)", name)
	case n.How != "asof" && (len(n.LeftOn) == 0 || len(n.LeftOn) != len(n.RightOn)):
		return rberr.New(rberr.Plan, "%s: give the same number of join keys for both sides (left_on and right_on, or on)", name)
	}
	switch n.JoinStrategy {
	case "", "auto":
		ln.joinStrategy = "auto"
	case "hash", "broadcast":
		if !regular || n.How == "cross" {
			return rberr.New(rberr.Plan, "%s: strategy=%q is for joins on keys (inner, left, right, full, semi, anti)", name, n.JoinStrategy)
		}
		ln.joinStrategy = n.JoinStrategy
	default:
		return rberr.New(rberr.Plan, "%s: unknown join strategy %q (want \"auto\", \"hash\" or \"broadcast\")", name, n.JoinStrategy)
	}
	if n.How != "asof" && (n.LeftTime != "" || n.RightTime != "" || n.Strategy != "" || n.Tolerance != "") {
		return rberr.New(rberr.Plan, "%s: left_time, right_time, strategy and tolerance are options of as-of joins", name)
	}
	if regular && n.How != "inner" {
		var unbounded, maybe []string
		sourceBoundedness([]*lnode{left, right}, &unbounded, &maybe)
		if len(unbounded) > 0 {
			if n.How == "cross" {
				return rberr.New(rberr.Plan, "%s: a cross join needs bounded inputs, and %s is unbounded: it would pair every row with every row for ever. Join on keys instead", name, unbounded[0])
			}
			// Outer and anti joins emit updates as matches arrive (ops/join/updating.go).
			ln.joinUnbounded = true
		}
	}
	ls := &expr.CompileScope{Schema: left.schema, Op: name + " (left)"}
	rs := &expr.CompileScope{Schema: right.schema, Op: name + " (right)"}
	dropRight := map[string]bool{}
	dropLeft := map[string]bool{}
	for i := range n.LeftOn {
		lk, err := ls.Compile(n.LeftOn[i])
		if err != nil {
			return err
		}
		rk, err := rs.Compile(n.RightOn[i])
		if err != nil {
			return err
		}
		lk, rk = expr.DecodeDictionary(lk), expr.DecodeDictionary(rk)
		t, ok := expr.KeyType(lk.Type(), rk.Type())
		if !ok || !hashable(t) {
			return rberr.New(rberr.Type, "%s: cannot join %s (%s) with %s (%s)", name, lk, expr.TypeName(lk.Type()), rk, expr.TypeName(rk.Type()))
		}
		if !arrow.TypeEqual(lk.Type(), t) {
			lk = &expr.CastExpr{Arg: lk, To: t}
		}
		if !arrow.TypeEqual(rk.Type(), t) {
			rk = &expr.CastExpr{Arg: rk, To: t}
		}
		js.LeftKeys = append(js.LeftKeys, lk)
		js.RightKeys = append(js.RightKeys, rk)
		js.KeyTypes = append(js.KeyTypes, t)
		switch {
		case regular:
			// As Polars: inner and left joins keep the left keys, right joins the right
			// keys; full joins keep both.
			switch n.How {
			case "inner", "left":
				if n.RightOn[i].Col != nil {
					dropRight[*n.RightOn[i].Col] = true
				}
			case "right":
				if n.LeftOn[i].Col != nil {
					dropLeft[*n.LeftOn[i].Col] = true
				}
			}
		case n.LeftOn[i].Col != nil && n.RightOn[i].Col != nil && *n.LeftOn[i].Col == *n.RightOn[i].Col:
			dropRight[*n.RightOn[i].Col] = true
		case n.How == "asof" && n.RightOn[i].Col != nil:
			dropRight[*n.RightOn[i].Col] = true // as Polars: by_right keys are dropped too
		}
	}
	if regular {
		return b.finishRegularJoin(n, ln, js, left, right, dropLeft, dropRight)
	}
	timeOf := func(side *lnode, col, what string, scope *expr.CompileScope) (int, error) {
		if col == "" {
			if side.timeCol == "" {
				if n.How == "asof" {
					return 0, rberr.New(rberr.Plan, "%s: the %s input has no event time; name the time column (on=, or left_on=/right_on=) or pass event_time=<column> to its source", name, what)
				}
				return 0, rberr.New(rberr.Plan, "%s: the %s input has no event time; pass event_time=<column> to its source", name, what)
			}
			return side.timeIdx, nil
		}
		idx := side.schema.FieldIndices(col)
		if len(idx) == 0 {
			return 0, scope.ColumnNotFound(col)
		}
		if dt := side.schema.Field(idx[0]).Type; dt.ID() != arrow.TIMESTAMP && dt.ID() != arrow.DATE32 {
			timeName := "<time column>"
			if side.timeCol != "" {
				timeName = side.timeCol
			}
			return 0, rberr.New(rberr.Plan, "%s: on= names the time column of an as-of join, as in Polars, and the %s column %q is %s, not a timestamp or date. Join keys go in by=: write join_asof(other, on=%q, by=%q)", name, what, col, expr.TypeName(dt), timeName, col)
		}
		return idx[0], nil
	}
	var err error
	if js.LeftTime, err = timeOf(left, n.LeftTime, "left", ls); err != nil {
		return err
	}
	if js.RightTime, err = timeOf(right, n.RightTime, "right", rs); err != nil {
		return err
	}
	if n.How == "asof" {
		switch n.Strategy {
		case "", "backward":
			js.Strategy = "backward"
		case "forward", "nearest":
			js.Strategy = n.Strategy
		default:
			return rberr.New(rberr.Plan, "%s: unknown as-of strategy %q (want \"backward\", \"forward\" or \"nearest\")", name, n.Strategy)
		}
		if n.Tolerance != "" {
			if js.Tolerance, err = plan.ParseDuration(n.Tolerance); err != nil {
				return rberr.New(rberr.Plan, "%s: tolerance: %v", name, err)
			}
			if js.Tolerance < 0 {
				return rberr.New(rberr.Plan, "%s: tolerance must not be negative, got %q", name, n.Tolerance)
			}
			js.HasTolerance = true
		}
		// As Polars: with on= (one name for both sides) the right time column is dropped.
		if n.LeftTime != "" && n.LeftTime == n.RightTime {
			dropRight[n.RightTime] = true
		}
	}
	js.TimeType = left.schema.Field(js.LeftTime).Type
	suffix := n.Suffix
	if suffix == "" {
		suffix = "_right"
	}
	fields := append([]arrow.Field{}, left.schema.Fields()...)
	names := map[string]bool{}
	for _, f := range fields {
		names[f.Name] = true
	}
	for i, f := range right.schema.Fields() {
		if dropRight[f.Name] {
			continue
		}
		if names[f.Name] {
			f.Name += suffix
			if names[f.Name] {
				return rberr.New(rberr.Plan, "%s: the right column %q clashes with a left column even with the suffix %q", name, f.Name, suffix)
			}
		}
		names[f.Name] = true
		if n.How == "asof" {
			f.Nullable = true
		}
		fields = append(fields, f)
		js.RightKeep = append(js.RightKeep, i)
	}
	switch n.How {
	case "window":
		if n.Window == nil {
			return rberr.New(rberr.Plan, "%s: a window join needs a window", name)
		}
		if js.Win, err = window.Compile(n.Window, name); err != nil {
			return err
		}
		if js.Win.Kind == "session" {
			return rberr.New(rberr.Plan, "%s: window joins take tumbling, sliding or cumulate windows", name)
		}
		if names["window_start"] || names["window_end"] {
			return rberr.New(rberr.Plan, "%s: the inputs already have window_start/window_end columns", name)
		}
		fields = append(fields, arrow.Field{Name: "window_start", Type: js.TimeType}, arrow.Field{Name: "window_end", Type: js.TimeType})
	case "interval":
		if n.Lower == "" || n.Upper == "" {
			return rberr.New(rberr.Plan, "%s: an interval join needs lower and upper bounds", name)
		}
		if js.Lower, err = join.ParseSignedDuration(n.Lower); err != nil {
			return rberr.New(rberr.Plan, "%s: lower: %v", name, err)
		}
		if js.Upper, err = join.ParseSignedDuration(n.Upper); err != nil {
			return rberr.New(rberr.Plan, "%s: upper: %v", name, err)
		}
		if js.Lower > js.Upper {
			return rberr.New(rberr.Plan, "%s: lower bound %s is above upper bound %s", name, n.Lower, n.Upper)
		}
	case "asof":
	default:
		msg := fmt.Sprintf("%s: unknown join kind %q", name, n.How)
		if s := plan.Suggest(n.How, []string{"inner", "left", "right", "full", "semi", "anti", "cross", "window", "interval", "asof"}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return rberr.New(rberr.Plan, "%s", msg)
	}
	js.Schema = arrow.NewSchema(fields, nil)
	ln.join = js
	ln.schema = js.Schema
	if n.How != "window" {
		ln.timeCol = left.timeCol
	}
	return nil
}

// regularJoin reports whether how names a relational join (as opposed to the event-time
// window, interval and as-of joins).
func regularJoin(how string) bool {
	switch how {
	case "inner", "left", "right", "full", "semi", "anti", "cross":
		return true
	}
	return false
}

// finishRegularJoin lays out the output of a relational join as Polars does: the left
// columns (without the left keys for a right join), then the right columns (without the
// right keys for inner and left joins, none for semi and anti), right names that clash
// taking the suffix; the side that may be missing becomes nullable.
func (b *binder) finishRegularJoin(n *plan.Node, ln *lnode, js *join.Spec, left, right *lnode, dropLeft, dropRight map[string]bool) error {
	name := ln.name
	suffix := n.Suffix
	if suffix == "" {
		suffix = "_right"
	}
	nullLeft := n.How == "right" || n.How == "full"
	nullRight := n.How == "left" || n.How == "full"
	var fields []arrow.Field
	names := map[string]bool{}
	var leftKeep []int
	for i, f := range left.schema.Fields() {
		if dropLeft[f.Name] {
			continue
		}
		f.Nullable = f.Nullable || nullLeft
		fields = append(fields, f)
		names[f.Name] = true
		leftKeep = append(leftKeep, i)
	}
	if n.How != "semi" && n.How != "anti" {
		for i, f := range right.schema.Fields() {
			if dropRight[f.Name] {
				continue
			}
			if names[f.Name] {
				f.Name += suffix
				if names[f.Name] {
					return rberr.New(rberr.Plan, "%s: the right column %q clashes with a left column even with the suffix %q", name, f.Name, suffix)
				}
			}
			names[f.Name] = true
			f.Nullable = f.Nullable || nullRight
			fields = append(fields, f)
			js.RightKeep = append(js.RightKeep, i)
		}
	}
	if len(leftKeep) == left.schema.NumFields() {
		leftKeep = nil
	}
	if ln.joinUnbounded && n.How != "semi" {
		// An updating result: a changelog (changelog.go).
		if names[agg.OpColumn] {
			return rberr.New(rberr.Plan, "%s: %q is the op column of an updating join's result; rename the input column", name, agg.OpColumn)
		}
		fields = append(fields, arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String})
		ln.changelog = name
	}
	js.Schema = arrow.NewSchema(fields, nil)
	ln.join = js
	ln.joinLeftKeep = leftKeep
	ln.schema = js.Schema
	return nil
}
