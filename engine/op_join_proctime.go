package engine

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/join"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// The processing-time temporal join (how "proctime", SQL's FOR SYSTEM_TIME AS OF
// PROCTIME()): each left row is joined, when it arrives, with the current version of its
// key in the right input — the latest right row of the key so far, a changelog's -D
// deleting it — and the result is append-only (ops/join/proctime.go). Inner (ProctimeHow
// "inner" or absent) or left. The output is the left columns, then the right ones but its
// key columns (as an as-of join's), a clashing name with the suffix.

// finishProctimeJoin completes the binding of a processing-time temporal join: its kind
// and output columns.
func (o *joinOp) finishProctimeJoin(ln *lnode, js *join.Spec, left, right *lnode, dropRight map[string]bool) error {
	name := ln.name
	switch o.ProctimeHow {
	case "", "inner":
	case "left":
		o.proctimeLeft = true
	default:
		return rberr.New(rberr.Plan, "%s: a processing-time temporal join is \"inner\" or \"left\", not %q", name, o.ProctimeHow)
	}
	if left.changelog != "" {
		return rberr.New(rberr.Plan, "%s: the left input of a processing-time temporal join is an updating stream (the changelog of %s); it takes appended rows, each joined once when it arrives", name, left.changelog)
	}
	fields := append([]arrow.Field{}, left.schema.Fields()...)
	names := map[string]bool{}
	for _, f := range fields {
		names[f.Name] = true
	}
	fields, keep, err := o.appendRight(name, fields, names, right.schema, dropRight, o.proctimeLeft)
	if err != nil {
		return err
	}
	js.RightKeep = keep
	js.Schema = arrow.NewSchema(fields, nil)
	o.spec = js
	ln.schema = js.Schema
	ln.timeCol = left.timeCol
	return nil
}

// buildProctime builds the join's stage: both inputs hash-partitioned by key; a bounded
// right input is read whole before any left row (when the two share no upstream), so that
// every left row sees the whole right table.
func (o *joinOp) buildProctime(g *graph, n *lnode) (flow, error) {
	js := o.spec
	var edges []runtime.Edge
	for side, in := range n.inputs {
		f, err := g.build(in, nil)
		if err != nil {
			return f, err
		}
		keys := js.LeftKeys
		if side == 1 {
			keys = js.RightKeys
		}
		edges = append(edges, runtime.Edge{From: f.st, Part: runtime.PartHash, Keys: keys})
	}
	var unbounded, maybe []string
	sourceBoundedness([]*lnode{n.inputs[1]}, &unbounded, &maybe)
	hold := len(unbounded) == 0 && independent(n.inputs[0], n.inputs[1])
	left, opCol := o.proctimeLeft, o.proctimeOpCol
	st := g.NewStage("join", g.Parallel, edges...)
	st.Chain("join(proctime)", func(int) runtime.Operator {
		return &join.ProctimeJoinOp{JoinBase: join.JoinBase{Spec: js, EmitSz: g.BatchSize}, Left: left, RightOpCol: opCol, HoldLeft: hold}
	})
	return flow{st: st}, nil
}
