package engine

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// JoinArgs are the arguments of "join" (of inputs [left, right]): How is a relational join
// ("inner", "left", "right", "full", "semi", "anti", "cross") or an event-time join
// ("window", "interval", "asof"); LeftOn and RightOn the keys (as-of joins: Polars' by,
// which may be absent); Suffix is added to right column names that clash (default
// "_right").
//
// Relational joins: JoinStrategy is "auto" (absent), "hash" (both inputs partitioned by
// key) or "broadcast" (the smaller input whole to every subtask). Window joins: the
// Window. Interval joins: Lower and Upper, the bounds of the right rows' time around
// each left row's (signed durations). As-of joins: the time column of each input
// (LeftTime, RightTime; absent: its event time), the Strategy ("backward" (default),
// "forward", "nearest") and the Tolerance (a duration: farther matches are none).
type JoinArgs struct {
	How          string       `json:"how,omitempty"`
	LeftOn       []*plan.Expr `json:"left_on,omitempty"`
	RightOn      []*plan.Expr `json:"right_on,omitempty"`
	Suffix       *string      `json:"suffix,omitempty"` // nil: "_right"; "" is kept (clashing names are then an error)
	JoinStrategy string       `json:"join_strategy,omitempty"`
	// NullsEqual (relational joins on keys): null keys match null keys (a key of several
	// columns matches where each column is equal or both are null), as Polars'
	// nulls_equal=True and SQL's IS NOT DISTINCT FROM; by default a null key matches nothing.
	NullsEqual bool            `json:"nulls_equal,omitempty"`
	Window     *plan.WindowDef `json:"window,omitempty"`
	// WindowHow is the kind of a window join: "inner" (absent), "left", "right", "full",
	// "semi" or "anti" (rows of a window without a match; ops/join's WindowJoinOp).
	WindowHow string `json:"window_how,omitempty"`
	// NullAware (an anti window join on one key) is SQL's NOT IN per window: a left row
	// is kept when the right side has no row in its window, or when its key is not null
	// and no right row of the window has an equal or a null key. The join then runs on
	// one subtask, which sees every right row of a window.
	NullAware bool `json:"null_aware,omitempty"`
	// WindowTime (window joins): the output has a window_time column after window_end,
	// the window's last instant (window_end minus one unit of the time column, Flink's
	// window_time), which is its event time.
	WindowTime bool   `json:"window_time,omitempty"`
	Lower      string `json:"lower,omitempty"`
	Upper      string `json:"upper,omitempty"`
	LeftTime   string `json:"left_time,omitempty"`
	RightTime  string `json:"right_time,omitempty"`
	Strategy   string `json:"strategy,omitempty"`
	Tolerance  string `json:"tolerance,omitempty"`
	// StateTTL (relational joins on keys over unbounded inputs): a kept row not matched
	// for this long (processing time) is dropped, as Flink's table.exec.state.ttl.
	StateTTL string `json:"state_ttl,omitempty"`
	// Where (relational joins) is a condition a pair of rows with equal keys must also
	// meet to match, as the rest of SQL's ON: over the left columns and every right
	// column (a name that clashes with a left one takes Suffix). Over unbounded inputs,
	// inner joins only.
	Where *plan.Expr `json:"where,omitempty"`
	// ProctimeHow is the kind of a processing-time temporal join (how "proctime"):
	// "inner" (absent) or "left" (op_join_proctime.go).
	ProctimeHow string `json:"proctime_how,omitempty"`
}

// joinOp is the logical operator "join": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type joinOp struct {
	JoinArgs
	spec     *join.Spec
	leftKeep []int  // a relational join's left columns in its output (nil: all)
	strategy string // relational joins: "auto", "hash" or "broadcast"
	// unbounded: a relational join other than inner over an unbounded input, which emits
	// as rows arrive (an updating result, but for semi)
	unbounded bool
	stateTTL  int64 // µs; 0: none (ops/join/ttl.go)
	// updating[side]: that input is a changelog whose op column is opCol[side]; the join
	// reads its rows without it (ops/join/updating.go).
	updating [2]bool
	opCol    [2]int
	// cond is Where bound over condSchema: the left columns, then every right column.
	cond       expr.Expr
	condSchema *arrow.Schema
	// a processing-time temporal join: whether it is a left join, and the op column of a
	// right input that is a changelog (-1: append-only)
	proctimeLeft  bool
	proctimeOpCol int
}

func init() {
	registerOp("join", opReg[JoinArgs]{new: func(a *JoinArgs) logicalOp { return &joinOp{JoinArgs: *a} }, stateful: true})
}

func (o *joinOp) bind(b *binder, n *plan.Node, ln *lnode) error {
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
	if err := o.bindJoin(ln, ln.inputs[0], ln.inputs[1]); err != nil {
		return err
	}
	if keep, ok := b.joins[n]; ok {
		o.narrow(ln, keep)
	}
	return nil
}

// narrow keeps only the output columns in keep (after projection pushdown: those its
// consumers use), so the join gathers no other. Names stay as they were bound with all
// columns (a right column keeps the suffix of a clash with a left column dropped).
func (o *joinOp) narrow(ln *lnode, keep map[string]bool) {
	js := o.spec
	left := ln.inputs[0]
	if js == nil || !regularJoin(js.How) || ln.changelog != "" {
		return
	}
	leftKeep := o.leftKeep
	if leftKeep == nil {
		leftKeep = make([]int, left.schema.NumFields())
		for i := range leftKeep {
			leftKeep[i] = i
		}
	}
	out := js.Schema.Fields()
	var fields []arrow.Field
	var lk, rk []int
	for at, i := range leftKeep {
		if keep[out[at].Name] {
			fields, lk = append(fields, out[at]), append(lk, i)
		}
	}
	for j, i := range js.RightKeep {
		if f := out[len(leftKeep)+j]; keep[f.Name] {
			fields, rk = append(fields, f), append(rk, i)
		}
	}
	if len(fields) == len(out) || len(fields) == 0 {
		return
	}
	if len(lk) == left.schema.NumFields() {
		lk = nil
	} else if lk == nil {
		lk = []int{}
	}
	js.Schema = arrow.NewSchema(fields, nil)
	js.RightKeep, o.leftKeep, ln.schema = rk, lk, js.Schema
}

// A semi or anti join emits at most its left input's rows.
func (o *joinOp) estimateRows(n *lnode) (int64, bool) {
	if o.spec != nil && (o.spec.How == "semi" || o.spec.How == "anti") {
		return estimateRows(n.inputs[0])
	}
	return 0, false
}

// require pushes the columns a relational join's consumers need down to its inputs: each
// side's keys, its event-time column, and the inputs of the output columns needed. A
// right column that took the suffix keeps the left column it clashed with, so that the
// join binds again with the same output names. Event-time joins, and inputs that carry
// a changelog, take every column.
func (o *joinOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if len(need) > 0 && ln.changelog == "" {
		b.joins[n] = passedOn(ln, need)
	}
	lneed, rneed := o.inputNeeds(ln, need)
	b.require(n.Inputs[0], ln.inputs[0], lneed)
	b.require(n.Inputs[1], ln.inputs[1], rneed)
}

// inputNeeds maps the output columns needed to the columns of each input (nil: all).
func (o *joinOp) inputNeeds(ln *lnode, need map[string]bool) (lneed, rneed map[string]bool) {
	js := o.spec
	left, right := ln.inputs[0], ln.inputs[1]
	if need == nil || js == nil || !regularJoin(js.How) || left.changelog != "" || right.changelog != "" {
		return nil, nil
	}
	lneed, rneed = refs(o.LeftOn...), refs(o.RightOn...)
	if o.cond != nil {
		nl := left.schema.NumFields()
		for c := range refs(o.Where) {
			for _, i := range o.condSchema.FieldIndices(c) {
				if i < nl {
					lneed[c] = true
				} else if rn := right.schema.Field(i - nl).Name; rn != c {
					rneed[rn], lneed[rn] = true, true // keep the clash that gave it the suffix
				} else {
					rneed[rn] = true
				}
			}
		}
	}
	for side, in := range ln.inputs {
		if in.timeCol != "" {
			[2]map[string]bool{lneed, rneed}[side][in.timeCol] = true
		}
	}
	out := js.Schema.Fields()
	at := 0
	for i, f := range left.schema.Fields() {
		if o.leftKeep != nil && (at >= len(o.leftKeep) || o.leftKeep[at] != i) {
			continue
		}
		if need[out[at].Name] {
			lneed[f.Name] = true
		}
		at++
	}
	for _, i := range js.RightKeep {
		name := right.schema.Field(i).Name
		if at < len(out) && need[out[at].Name] {
			rneed[name] = true
			if out[at].Name != name {
				lneed[name] = true // the clash that gave it the suffix
			}
		}
		at++
	}
	return lneed, rneed
}

func (o *joinOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	if o.How == "proctime" {
		return o.buildProctime(g, n)
	}
	var edges []runtime.Edge
	js := o.spec
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
		if bcast, err = g.broadcastSide(n, o); err != nil {
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
		if g.partitionedOn(f, in, keys, keyTypes(keys), parallel) {
			e.Part, e.Keys = runtime.PartForward, nil // its rows are where the exchange would put them
		}
		switch {
		case js.How == "cross" || len(keys) == 0 || js.NullAware: // every pair (NOT IN: every right row of a window): one subtask sees both inputs whole
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
	build := -1 // the input to read first and build on (ops/join/probe.go)
	switch {
	case bcast >= 0:
		build = bcast
	case regularJoin(js.How) && !g.unbounded:
		build = buildSide(n)
	}
	// A semi or anti join may build on its left input (a mark join) where no checkpoint
	// holds its marks.
	markBuild := (js.How == "semi" || js.How == "anti") && o.cond == nil && bcast < 0 && g.Batch && !g.checkpointing &&
		!g.savepoints && !o.unbounded
	// A semi or anti join keeps only which keys its right input has where it never emits,
	// saves or streams a right row.
	keysOnly := (js.How == "semi" || js.How == "anti") && o.cond == nil && g.Batch && !g.checkpointing &&
		!g.savepoints && !o.unbounded && o.stateTTL == 0 && !o.updating[0] && !o.updating[1]
	buildFirst := build >= 0 && independent(n.inputs[0], n.inputs[1])
	st := g.NewStage("join", parallel, edges...)
	name := "join(" + js.How + ")"
	if bcast >= 0 {
		name = fmt.Sprintf("join(%s, broadcast %s)", js.How, [2]string{"left", "right"}[bcast])
	}
	st.Chain(name, func(int) runtime.Operator {
		base := join.JoinBase{Spec: js, EmitSz: g.BatchSize}
		if regularJoin(js.How) {
			return &join.HashJoinOp{JoinBase: base, LeftKeep: o.leftKeep, Unbounded: o.unbounded, Broadcast: bcast >= 0, Build: build, BuildFirst: buildFirst, MarkBuild: markBuild, KeysOnly: keysOnly,
				TTL: time.Duration(o.stateTTL) * time.Microsecond, Updating: o.updating, OpCol: o.opCol, Cond: o.cond, CondSchema: o.condSchema}
		}
		switch js.How {
		case "window":
			return &join.WindowJoinOp{JoinBase: base, Win: js.Win}
		case "interval":
			return &join.IntervalJoinOp{JoinBase: base}
		}
		return &join.AsofJoinOp{JoinBase: base}
	})
	return flow{st: st, part: o.outputPartitioning(n, edges, parallel)}, nil
}

// keyTypes are the types of key expressions (nil where one has none to tell).
func keyTypes(keys []expr.Expr) []arrow.DataType {
	types := make([]arrow.DataType, len(keys))
	for i, k := range keys {
		if c, ok := k.(*expr.ColExpr); ok {
			types[i] = c.Dt
		}
	}
	return types
}

// outputPartitioning is how a regular join's output is spread over its subtasks when
// both inputs came by key (a hash exchange, or a forward edge from a flow partitioned on
// the keys): by the left keys' columns where every output row has its left row (inner,
// left, semi, anti), by the right keys' where every one has its right row (right),
// when those columns are in the output; nil otherwise.
func (o *joinOp) outputPartitioning(n *lnode, edges []runtime.Edge, parallel int) *partitioning {
	js := o.spec
	if !regularJoin(js.How) || len(edges) != 2 {
		return nil
	}
	for _, e := range edges {
		if e.Part != runtime.PartHash && e.Part != runtime.PartForward {
			return nil // gathered, or broadcast: the other input stayed where it was
		}
	}
	left := n.inputs[0].schema.NumFields()
	var from []int // output column -> left column, or left+right column
	if o.leftKeep == nil {
		for i := 0; i < left; i++ {
			from = append(from, i)
		}
	} else {
		from = append(from, o.leftKeep...)
	}
	for _, i := range js.RightKeep {
		from = append(from, left+i)
	}
	keys, base := js.LeftKeys, 0
	switch js.How {
	case "inner", "left", "semi", "anti":
	case "right":
		keys, base = js.RightKeys, left
	default:
		return nil
	}
	p := &partitioning{node: n}
	for _, k := range keys {
		c, ok := k.(*expr.ColExpr)
		if !ok {
			return nil
		}
		at := slices.Index(from, base+c.Idx)
		if at < 0 {
			return nil
		}
		p.cols = append(p.cols, at)
	}
	return p
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
// inputs when its size hint (sizeHint: a filter as a fifth of its input, a join as its
// larger input) is at most broadcastRows and a quarter of the other's (or the other's is
// unknown). A hint that is too small costs time and memory in every subtask, not answers.
func (g *graph) broadcastSide(n *lnode, o *joinOp) (int, error) {
	js := o.spec
	allowed := func(side int) bool { return join.OneSided(js.How, side) }
	var est [2]int64
	var known [2]bool
	for side, in := range n.inputs {
		est[side], known[side] = sizeHint(in)
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
	switch o.strategy {
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

// stateConfig implements stateConfigurer: the rows a join kept, restored into another
// kind, keys, condition, bounds or strategy, would be matched (and retracted) as that
// join's (an inner join's rows restored into a left join took back rows it never
// padded). The state TTL may change.
func (o *joinOp) stateConfig(n *lnode) string { return "join (" + o.describe(n, false) + ")" }

func (o *joinOp) explain(n *lnode) string { return o.describe(n, true) }

// describe is explain's text, with the state TTL when withTTL.
func (o *joinOp) describe(n *lnode, withTTL bool) (detail string) {
	detail = o.spec.How + " join"
	if n.changelog != "" {
		detail = "updating " + detail
	}
	if o.spec.How == "asof" {
		detail += fmt.Sprintf(" (%s", o.spec.Strategy)
		if o.spec.HasTolerance {
			detail += ", tolerance " + plan.FormatDuration(o.spec.Tolerance)
		}
		detail += fmt.Sprintf(") on %s = %s", o.spec.LeftSchema.Field(o.spec.LeftTime).Name, o.spec.RightSchema.Field(o.spec.RightTime).Name)
		if len(o.spec.LeftKeys) > 0 {
			var by []string
			for i := range o.spec.LeftKeys {
				by = append(by, fmt.Sprintf("%s = %s", o.spec.LeftKeys[i], o.spec.RightKeys[i]))
			}
			detail += " by " + strings.Join(by, ", ")
		}
	}
	if regularJoin(o.spec.How) && o.spec.How != "cross" {
		var on []string
		for i := range o.spec.LeftKeys {
			on = append(on, fmt.Sprintf("%s = %s", o.spec.LeftKeys[i], o.spec.RightKeys[i]))
		}
		detail += " on " + strings.Join(on, ", ")
	}
	if regularJoin(o.spec.How) && o.cond != nil { // a cross join's too
		detail += " where " + o.cond.String()
	}
	if regularJoin(o.spec.How) && o.stateTTL > 0 && withTTL {
		detail += ", state TTL " + plan.FormatDuration(o.stateTTL)
	}
	if o.spec.How == "window" && o.spec.WindowHow != "inner" && o.spec.WindowHow != "" {
		detail = o.spec.WindowHow + " " + detail
		if o.spec.NullAware {
			detail = "null-aware " + detail
		}
	}
	if o.spec.How == "proctime" {
		var on []string
		for i := range o.spec.LeftKeys {
			on = append(on, fmt.Sprintf("%s = %s", o.spec.LeftKeys[i], o.spec.RightKeys[i]))
		}
		detail = fmt.Sprintf("%sprocessing-time temporal join on %s (each left row with the right version of its key at its arrival)",
			map[bool]string{true: "left ", false: ""}[o.proctimeLeft], strings.Join(on, ", "))
	}
	if o.spec.How == "interval" {
		detail += fmt.Sprintf(", right rows from %s to %s around each left row", plan.FormatDuration(o.spec.Lower), plan.FormatDuration(o.spec.Upper))
	}
	return
}

// takeUpdates accepts updating inputs for the joins on keys (bindJoin reads them without
// their op column; ops/join/updating.go); the event-time joins and cross joins take
// appended rows only.
func (o *joinOp) takeUpdates(ln, from *lnode) error {
	if regularJoin(o.How) && o.How != "cross" {
		return nil
	}
	if o.How == "proctime" {
		if from == ln.inputs[1] && ln.inputs[0].changelog == "" {
			return nil // its right table may be a changelog
		}
		return rberr.New(rberr.Plan, "%s: the left input of a processing-time temporal join is an updating stream (the changelog of %s); it takes appended rows, each joined once when it arrives", ln.name, ln.inputs[0].changelog)
	}
	return rberr.New(rberr.Plan, "%s: its input is an updating stream (the changelog of %s, with an %s column of +I/-U/+U/-D changes), and a %s join takes appended rows only; joins on keys (inner, left, right, full, semi, anti) take updates. See docs/changelog.md", ln.name, from.changelog, agg.OpColumn, o.How)
}

// withoutOps is an updating input as the join reads it: its schema without the op column
// (whose index it returns); an append-only input as it is (-1).
func withoutOps(in *lnode) (*lnode, int) {
	if in.changelog == "" {
		return in, -1
	}
	idx := in.schema.FieldIndices(agg.OpColumn)
	if len(idx) != 1 {
		return in, -1
	}
	fields := append([]arrow.Field{}, in.schema.Fields()[:idx[0]]...)
	fields = append(fields, in.schema.Fields()[idx[0]+1:]...)
	c := *in
	c.schema = arrow.NewSchema(fields, nil)
	return &c, idx[0]
}

// bindJoin validates a join of two inputs.
func (o *joinOp) bindJoin(ln, left, right *lnode) error {
	name := ln.name
	if regularJoin(o.How) && o.How != "cross" {
		var col int
		if left, col = withoutOps(left); col >= 0 {
			o.updating[0], o.opCol[0] = true, col
		}
		if right, col = withoutOps(right); col >= 0 {
			o.updating[1], o.opCol[1] = true, col
		}
	}
	o.proctimeOpCol = -1
	if o.How == "proctime" {
		right, o.proctimeOpCol = withoutOps(right)
	}
	js := &join.Spec{Name: name, How: o.How, LeftSchema: left.schema, RightSchema: right.schema, NullsEqual: o.NullsEqual}
	regular := regularJoin(o.How)
	if o.NullsEqual && (!regular || o.How == "cross") {
		return rberr.New(rberr.Plan, "%s: nulls_equal is an option of joins on keys (inner, left, right, full, semi, anti)", name)
	}
	switch {
	case o.How == "cross":
		if len(o.LeftOn)+len(o.RightOn) > 0 {
			return rberr.New(rberr.Plan, "%s: a cross join takes no keys", name)
		}
	case o.How == "asof" && len(o.LeftOn) != len(o.RightOn):
		return rberr.New(rberr.Plan, "%s: give the same number of join keys for both sides (by_left and by_right, or by)", name)
	case o.How != "asof" && (len(o.LeftOn) == 0 || len(o.LeftOn) != len(o.RightOn)):
		return rberr.New(rberr.Plan, "%s: give the same number of join keys for both sides (left_on and right_on, or on)", name)
	}
	switch o.JoinStrategy {
	case "", "auto":
		o.strategy = "auto"
	case "hash", "broadcast":
		if !regular || o.How == "cross" {
			return rberr.New(rberr.Plan, "%s: strategy=%q is for joins on keys (inner, left, right, full, semi, anti)", name, o.JoinStrategy)
		}
		o.strategy = o.JoinStrategy
	default:
		return rberr.New(rberr.Plan, "%s: unknown join strategy %q (want \"auto\", \"hash\" or \"broadcast\")", name, o.JoinStrategy)
	}
	if o.How != "proctime" && o.ProctimeHow != "" {
		return rberr.New(rberr.Plan, "%s: proctime_how is an option of processing-time temporal joins (how \"proctime\")", name)
	}
	if o.How != "window" && (o.WindowHow != "" || o.WindowTime) {
		return rberr.New(rberr.Plan, "%s: window_how and window_time are options of window joins", name)
	}
	if o.NullAware && (o.WindowHow != "anti" || len(o.LeftOn) != 1) {
		return rberr.New(rberr.Plan, "%s: null_aware is an option of window anti joins on one key (SQL's NOT IN)", name)
	}
	windowHow := o.WindowHow
	switch windowHow {
	case "":
		windowHow = "inner"
	case "inner", "left", "right", "full", "semi", "anti":
	default:
		msg := fmt.Sprintf("%s: unknown window join kind %q (want \"inner\", \"left\", \"right\", \"full\", \"semi\" or \"anti\")", name, o.WindowHow)
		if s := plan.Suggest(o.WindowHow, []string{"inner", "left", "right", "full", "semi", "anti"}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return rberr.New(rberr.Plan, "%s", msg)
	}
	if o.How != "asof" && (o.LeftTime != "" || o.RightTime != "" || o.Strategy != "" || o.Tolerance != "") {
		return rberr.New(rberr.Plan, "%s: left_time, right_time, strategy and tolerance are options of as-of joins", name)
	}
	if o.StateTTL != "" {
		if !regular || o.How == "cross" {
			return rberr.New(rberr.Plan, "%s: state_ttl is an option of joins on keys (inner, left, right, full, semi, anti)", name)
		}
		us, err := plan.ParseDuration(o.StateTTL)
		if err != nil || us <= 0 {
			return rberr.New(rberr.Plan, "%s: state_ttl must be a positive duration such as \"1h\", got %q", name, o.StateTTL)
		}
		var unbounded, maybe []string
		sourceBoundedness([]*lnode{left, right}, &unbounded, &maybe)
		if len(unbounded) > 0 { // a join of bounded inputs keeps its rows to the end
			o.stateTTL = us
		}
	}
	if o.updating[0] || o.updating[1] {
		// Updating inputs: every kind emits changes as rows arrive, retractions included.
		o.unbounded = true
	} else if regular && o.How != "inner" {
		var unbounded, maybe []string
		sourceBoundedness([]*lnode{left, right}, &unbounded, &maybe)
		if len(unbounded) > 0 {
			if o.How == "cross" {
				return rberr.New(rberr.Plan, "%s: a cross join needs bounded inputs, and %s is unbounded: it would pair every row with every row for ever. Join on keys instead", name, unbounded[0])
			}
			// Outer and anti joins emit updates as matches arrive (ops/join/updating.go).
			o.unbounded = true
		}
	}
	ls := &expr.CompileScope{Schema: left.schema, Op: name + " (left)"}
	rs := &expr.CompileScope{Schema: right.schema, Op: name + " (right)"}
	dropRight := map[string]bool{}
	dropLeft := map[string]bool{}
	for i := range o.LeftOn {
		lk, err := ls.Compile(o.LeftOn[i])
		if err != nil {
			return err
		}
		rk, err := rs.Compile(o.RightOn[i])
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
			switch o.How {
			case "inner", "left":
				if o.RightOn[i].Col != nil {
					dropRight[*o.RightOn[i].Col] = true
				}
			case "right":
				if o.LeftOn[i].Col != nil {
					dropLeft[*o.LeftOn[i].Col] = true
				}
			}
		case o.LeftOn[i].Col != nil && o.RightOn[i].Col != nil && *o.LeftOn[i].Col == *o.RightOn[i].Col:
			// A window join keeps the key of the side whose rows it may emit unmatched
			// (as Polars' joins): the left one, the right one for a right join, both
			// for a full join (the right one with the suffix).
			switch windowHow {
			case "right":
				dropLeft[*o.LeftOn[i].Col] = true
			case "full":
			default:
				dropRight[*o.RightOn[i].Col] = true
			}
		case (o.How == "asof" || o.How == "proctime") && o.RightOn[i].Col != nil:
			dropRight[*o.RightOn[i].Col] = true // as Polars: by_right keys are dropped too
		}
	}
	if regular {
		if err := o.bindWhere(name, left, right); err != nil {
			return err
		}
		return o.finishRegularJoin(ln, js, left, right, dropLeft, dropRight)
	}
	if o.Where != nil {
		return rberr.New(rberr.Plan, "%s: where= is a condition of joins on keys (inner, left, right, full, semi, anti) and cross joins, not of %s joins", name, o.How)
	}
	if o.How == "proctime" {
		return o.finishProctimeJoin(ln, js, left, right, dropRight)
	}
	timeOf := func(side *lnode, col, what string, scope *expr.CompileScope) (int, error) {
		if col == "" {
			if side.timeCol == "" {
				if o.How == "asof" {
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
	if js.LeftTime, err = timeOf(left, o.LeftTime, "left", ls); err != nil {
		return err
	}
	if js.RightTime, err = timeOf(right, o.RightTime, "right", rs); err != nil {
		return err
	}
	if o.How == "asof" {
		switch o.Strategy {
		case "", "backward":
			js.Strategy = "backward"
		case "forward", "nearest":
			js.Strategy = o.Strategy
		default:
			return rberr.New(rberr.Plan, "%s: unknown as-of strategy %q (want \"backward\", \"forward\" or \"nearest\")", name, o.Strategy)
		}
		if o.Tolerance != "" {
			if js.Tolerance, err = plan.ParseDuration(o.Tolerance); err != nil {
				return rberr.New(rberr.Plan, "%s: tolerance: %v", name, err)
			}
			if js.Tolerance < 0 {
				return rberr.New(rberr.Plan, "%s: tolerance must not be negative, got %q", name, o.Tolerance)
			}
			js.HasTolerance = true
		}
		// As Polars: with on= (one name for both sides) the right time column is dropped.
		if o.LeftTime != "" && o.LeftTime == o.RightTime {
			dropRight[o.RightTime] = true
		}
	}
	js.TimeType = left.schema.Field(js.LeftTime).Type
	// A window join pads the side whose rows it may emit unmatched with nulls.
	nullLeft := o.How == "window" && (windowHow == "right" || windowHow == "full")
	nullRight := o.How == "asof" || (o.How == "window" && (windowHow == "left" || windowHow == "full"))
	var fields []arrow.Field
	names := map[string]bool{}
	for i, f := range left.schema.Fields() {
		if dropLeft[f.Name] {
			continue
		}
		f.Nullable = f.Nullable || nullLeft
		fields = append(fields, f)
		names[f.Name] = true
		js.LeftKeep = append(js.LeftKeep, i)
	}
	if len(js.LeftKeep) == len(left.schema.Fields()) {
		js.LeftKeep = nil
	}
	if windowHow != "semi" && windowHow != "anti" {
		if fields, js.RightKeep, err = o.appendRight(name, fields, names, right.schema, dropRight, nullRight); err != nil {
			return err
		}
	}
	switch o.How {
	case "window":
		if o.Window == nil {
			return rberr.New(rberr.Plan, "%s: a window join needs a window", name)
		}
		if js.Win, err = window.Compile(o.Window, name); err != nil {
			return err
		}
		if js.Win.Kind == "session" {
			return rberr.New(rberr.Plan, "%s: window joins take tumbling, sliding or cumulate windows", name)
		}
		if err := js.Win.CheckUnit(js.TimeType, name, left.schema.Field(js.LeftTime).Name); err != nil {
			return err
		}
		js.WindowHow = windowHow
		js.NullAware, js.WindowTime = o.NullAware, o.WindowTime
		if names["window_start"] || names["window_end"] || (o.WindowTime && names["window_time"]) {
			return rberr.New(rberr.Plan, "%s: the inputs already have window_start/window_end%s columns", name, map[bool]string{true: "/window_time"}[o.WindowTime])
		}
		fields = append(fields, arrow.Field{Name: "window_start", Type: js.TimeType}, arrow.Field{Name: "window_end", Type: js.TimeType})
		if o.WindowTime {
			fields = append(fields, arrow.Field{Name: "window_time", Type: js.TimeType})
		}
	case "interval":
		if o.Lower == "" || o.Upper == "" {
			return rberr.New(rberr.Plan, "%s: an interval join needs lower and upper bounds", name)
		}
		if js.Lower, err = join.ParseSignedDuration(o.Lower); err != nil {
			return rberr.New(rberr.Plan, "%s: lower: %v", name, err)
		}
		if js.Upper, err = join.ParseSignedDuration(o.Upper); err != nil {
			return rberr.New(rberr.Plan, "%s: upper: %v", name, err)
		}
		if js.Lower > js.Upper {
			return rberr.New(rberr.Plan, "%s: lower bound %s is above upper bound %s", name, o.Lower, o.Upper)
		}
	case "asof":
	default:
		msg := fmt.Sprintf("%s: unknown join kind %q", name, o.How)
		if s := plan.Suggest(o.How, []string{"inner", "left", "right", "full", "semi", "anti", "cross", "window", "interval", "asof", "proctime"}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		return rberr.New(rberr.Plan, "%s", msg)
	}
	js.Schema = arrow.NewSchema(fields, nil)
	o.spec = js
	ln.schema = js.Schema
	if o.How != "window" {
		ln.timeCol = left.timeCol
	} else if o.WindowTime {
		ln.timeCol = "window_time"
	}
	return nil
}

// regularJoin reports whether how names a relational join (as opposed to the event-time
// window, interval and as-of joins).
// bindWhere binds the join condition (Where) over the left columns and every right
// column, the right names that clash with a left one taking the suffix.
func (o *joinOp) bindWhere(name string, left, right *lnode) error {
	if o.Where == nil {
		return nil
	}
	if o.unbounded || o.stateTTL > 0 {
		return rberr.New(rberr.Plan, "%s: a join condition beyond the key equalities (where=, or the rest of SQL's ON) over unbounded or updating inputs, or with a state TTL, is supported for inner joins without a state TTL only (filter the inner join's result instead); this %s join would have to take back rows it emitted when a later row meets the condition", name, o.How)
	}
	fields := append([]arrow.Field(nil), left.schema.Fields()...)
	names := map[string]bool{}
	for _, f := range fields {
		names[f.Name] = true
	}
	fields, _, err := o.appendRight(name, fields, names, right.schema, nil, false)
	if err != nil {
		return err
	}
	o.condSchema = arrow.NewSchema(fields, nil)
	scope := &expr.CompileScope{Schema: o.condSchema, Op: name + " (where)"}
	cond, err := scope.Compile(o.Where)
	if err != nil {
		return err
	}
	if cond.Type().ID() != arrow.BOOL {
		return rberr.New(rberr.Type, "%s: the join condition %s is %s, not bool; compare it, e.g. %s > 0", name, cond, expr.TypeName(cond.Type()), cond)
	}
	o.cond = cond
	return nil
}

// suffixOf is the suffix a join gives right columns whose names clash ("_right" unless
// set).
func (o *joinOp) suffixOf() string {
	if o.Suffix == nil {
		return "_right"
	}
	return *o.Suffix
}

// appendRight appends the right input's columns (but those in drop) to fields, whose names
// are taken in names (updated): a name that clashes takes the join's suffix, and the
// columns become nullable if nullable. It returns the fields and the right columns kept.
func (o *joinOp) appendRight(name string, fields []arrow.Field, names map[string]bool, right *arrow.Schema, drop map[string]bool, nullable bool) ([]arrow.Field, []int, error) {
	var keep []int
	for i, f := range right.Fields() {
		if drop[f.Name] {
			continue
		}
		if names[f.Name] {
			f.Name += o.suffixOf()
			if names[f.Name] {
				return nil, nil, rberr.New(rberr.Plan, "%s: the right column %q clashes with a left column even with the suffix %q", name, f.Name, o.suffixOf())
			}
		}
		names[f.Name] = true
		f.Nullable = f.Nullable || nullable
		fields = append(fields, f)
		keep = append(keep, i)
	}
	return fields, keep, nil
}

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
func (o *joinOp) finishRegularJoin(ln *lnode, js *join.Spec, left, right *lnode, dropLeft, dropRight map[string]bool) error {
	name := ln.name
	nullLeft := o.How == "right" || o.How == "full"
	nullRight := o.How == "left" || o.How == "full"
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
	if o.How != "semi" && o.How != "anti" {
		var err error
		if fields, js.RightKeep, err = o.appendRight(name, fields, names, right.schema, dropRight, nullRight); err != nil {
			return err
		}
	}
	if len(leftKeep) == left.schema.NumFields() {
		leftKeep = nil
	} else if leftKeep == nil {
		leftKeep = []int{} // none (a right join of a left input of keys only), not all
	}
	if o.unbounded && (o.How != "semi" || o.updating[0] || o.updating[1]) {
		// An updating result: a changelog (changelog.go).
		if names[agg.OpColumn] {
			return rberr.New(rberr.Plan, "%s: %q is the op column of an updating join's result; rename the input column", name, agg.OpColumn)
		}
		fields = append(fields, arrow.Field{Name: agg.OpColumn, Type: arrow.BinaryTypes.String})
		ln.changelog = name
		ln.changelogKeys, ln.noKeyWhy = o.upsertKey(fields, js, left, right)
	}
	js.Schema = arrow.NewSchema(fields, nil)
	o.spec = js
	o.leftKeep = leftKeep
	ln.schema = js.Schema
	return nil
}

// upsertKey finds the columns that identify a row of an updating join's result (its
// changelog keys, which write_kafka(upsert=True) keys records by), or says why there are
// none. There are when each input that can hold several rows of one join key cannot: it is
// the changelog of a group_by whose keys are among its join key columns (at most one row
// per key at any time). Then the result has at most one row per join key, and all the
// changes of a join key pass through one subtask of the join in order (the group's
// changes come from one upstream subtask, by key): the key is the join key columns, as
// the result names them — the left ones for inner, left, semi and anti joins, the right
// ones for right joins. Semi and anti joins need it of their left input only; a full
// join has none (a row padded on the left has null left keys).
func (o *joinOp) upsertKey(fields []arrow.Field, js *join.Spec, left, right *lnode) ([]string, string) {
	if o.How == "full" {
		return nil, "it is a full join (a row of either side may stand alone, the other side's key columns null); join with how=\"left\", \"right\" or \"inner\" to key by the join key"
	}
	// oneRowPerKey says why side (its join keys on) may hold several rows of a join key.
	oneRowPerKey := func(in *lnode, on []expr.Expr, what string) string {
		var cols []string
		for _, e := range on {
			c, ok := keyColumn(e)
			if !ok {
				return fmt.Sprintf("its %s join key %s is an expression, not a column", what, e)
			}
			cols = append(cols, c)
		}
		switch {
		case in.changelog == "":
			return fmt.Sprintf("its %s input appends rows, which may share a join key (only the changelog of a group_by by join key columns has one row per key)", what)
		case in.changelogKeys == nil:
			why := in.noKeyWhy
			if why == "" {
				why = "it has no key that identifies its rows"
			}
			return fmt.Sprintf("its %s input, the changelog of %s, may hold several rows of a join key: %s", what, in.changelog, why)
		}
		for _, k := range in.changelogKeys {
			if !slices.Contains(cols, k) {
				return fmt.Sprintf("its %s input, the changelog of %s, is keyed by %s, which are not all among its join keys (%s): it may hold several rows of a join key", what, in.changelog, strings.Join(in.changelogKeys, ", "), strings.Join(cols, ", "))
			}
		}
		return ""
	}
	keySide, on := left, js.LeftKeys
	if o.How == "right" {
		keySide, on = right, js.RightKeys
	}
	what := map[bool]string{true: "left", false: "right"}[o.How != "right"]
	if why := oneRowPerKey(keySide, on, what); why != "" {
		return nil, why
	}
	if o.How == "inner" || o.How == "left" || o.How == "right" {
		other, otherOn, otherWhat := right, js.RightKeys, "right"
		if o.How == "right" {
			other, otherOn, otherWhat = left, js.LeftKeys, "left"
		}
		if why := oneRowPerKey(other, otherOn, otherWhat); why != "" {
			return nil, why
		}
	}
	// The key columns as the result names them: the left columns come first with their
	// names; a right join's right key columns follow the left ones it keeps.
	var keys []string
	if o.How != "right" {
		for _, e := range on {
			c, _ := keyColumn(e)
			keys = append(keys, c)
		}
		return keys, ""
	}
	at := len(fields) - len(js.RightKeep) - 1 // the op column is last
	for _, e := range on {
		c, _ := keyColumn(e)
		for j, i := range js.RightKeep {
			if right.schema.Field(i).Name == c {
				keys = append(keys, fields[at+j].Name)
			}
		}
	}
	return keys, ""
}

// keyColumn is the input column a compiled join key is (through casts to its own type,
// which SQL adds), if it is one.
func keyColumn(e expr.Expr) (string, bool) {
	for {
		switch x := e.(type) {
		case *expr.ColExpr:
			return x.Name, true
		case *expr.CastExpr:
			if !arrow.TypeEqual(x.Arg.Type(), x.To) {
				return "", false
			}
			e = x.Arg
		default:
			return "", false
		}
	}
}
