package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// joinOp is the logical operator "join": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type joinOp struct{}

func init() { registerOp("join", joinOp{}) }

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

func (joinOp) build(g *graph, n *lnode, filterAbove *lnode) (flow, error) {
	var edges []runtime.Edge
	js := n.join
	parallel := g.Parallel
	for side, in := range n.inputs {
		f, err := g.build(in, nil)
		if err != nil {
			return f, err
		}
		keys := js.LeftKeys
		if side == 1 {
			keys = js.RightKeys
		}
		e := runtime.Edge{From: f.st, Part: runtime.PartHash, Keys: keys}
		if js.How == "cross" { // every pair: one subtask sees both inputs whole
			e = runtime.Edge{From: f.st, Part: runtime.PartGather}
			parallel = 1
		}
		edges = append(edges, e)
	}
	st := g.NewStage("join", parallel, edges...)
	st.Chain("join("+js.How+")", func(int) runtime.Operator {
		base := join.JoinBase{Spec: js, EmitSz: g.BatchSize}
		if regularJoin(js.How) {
			return &join.HashJoinOp{JoinBase: base, LeftKeep: n.joinLeftKeep}
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

func (joinOp) explain(n *lnode) (detail string) {
	detail = n.join.How + " join"
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
	case len(n.LeftOn) == 0 || len(n.LeftOn) != len(n.RightOn):
		return rberr.New(rberr.Plan, "%s: give the same number of join keys for both sides (left_on and right_on, or on)", name)
	}
	if regular && n.How != "inner" {
		var unbounded, maybe []string
		sourceBoundedness([]*lnode{left, right}, &unbounded, &maybe)
		if len(unbounded) > 0 {
			return rberr.New(rberr.Plan, "%s: a %s join needs bounded inputs, and %s is unbounded: on an unbounded stream it could never know that a row has no match. Use an inner join, or a window or interval join", name, n.How, unbounded[0])
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
		}
	}
	if regular {
		return b.finishRegularJoin(n, ln, js, left, right, dropLeft, dropRight)
	}
	timeOf := func(side *lnode, what string) (int, error) {
		if side.timeCol == "" {
			return 0, rberr.New(rberr.Plan, "%s: the %s input has no event time; pass event_time=<column> to its source", name, what)
		}
		return side.timeIdx, nil
	}
	var err error
	if js.LeftTime, err = timeOf(left, "left"); err != nil {
		return err
	}
	if js.RightTime, err = timeOf(right, "right"); err != nil {
		return err
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
	js.Schema = arrow.NewSchema(fields, nil)
	ln.join = js
	ln.joinLeftKeep = leftKeep
	ln.schema = js.Schema
	return nil
}
