package engine

import (
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// windowAggOp is the logical operator "window_agg": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type windowAggOp struct{}

func init() { registerOp("window_agg", windowAggOp{}) }

func (windowAggOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	if err := b.bindWindow(n, ln, in); err != nil {
		return err
	}
	return nil
}

func (windowAggOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if ln.lateOutput {
		b.require(n.Input, ln.inputs[0], nil)
		return
	}
	m := refs(append(append([]*plan.Expr{}, n.Keys...), n.Aggs...)...)
	if ln.winTime != "" {
		m[ln.winTime] = true
	}
	b.require(n.Input, ln.inputs[0], m)
}

func (windowAggOp) build(g *graph, n *lnode, filterAbove *lnode) (flow, error) {
	in, err := g.build(n.inputs[0], nil)
	if err != nil {
		return in, err
	}
	keys, types := keyExprs(n.keys)
	p := g.Parallel
	if len(keys) == 0 {
		p = 1
	}
	timeIdx := -1
	var timeType arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	if !n.processing {
		timeIdx = n.winTimeIdx
		timeType = n.inputs[0].schema.Field(timeIdx).Type
	}
	// In batch mode an event-time window aggregation fed by parallel subtasks
	// pre-aggregates by slice in each of them before the exchange (window/preagg.go).
	preAgg := preAggregate && g.Batch && !n.processing && !n.lateOutput && in.st.Parallel > 1 &&
		window.PreAggregatable(n.win, n.aggs)
	if preAgg {
		partial := agg.PartialSchema(types, n.aggs, window.SliceField)
		in.st.ChainHelper("pre-aggregate", func(int) runtime.Operator {
			return &window.PreWindowAggOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: n.aggs, Win: n.win,
				TimeIdx: timeIdx, Partial: partial, BatchSize: g.BatchSize}
		})
	}
	st := g.NewStage("window_agg", p, runtime.Edge{From: in.st, Part: runtime.PartHash, Keys: keys, Hashed: preAgg})
	name := fmt.Sprintf("window_agg(%s)", n.winDef.Kind)
	if n.lateOutput {
		name += " late rows" // its late_records are its output, not dropped rows
	}
	if n.win.Kind == "session" {
		st.Chain(name, func(int) runtime.Operator {
			return &window.SessionAggOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: n.aggs, Schema: n.schema,
				Gap: n.win.Gap, Lateness: n.lateness, TimeIdx: timeIdx, TimeType: timeType, LateOutput: n.lateOutput, BatchSize: g.BatchSize}
		})
	} else {
		st.Chain(name, func(int) runtime.Operator {
			return &window.WindowAggOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: n.aggs, Schema: n.schema, Win: n.win,
				Lateness: n.lateness, TimeIdx: timeIdx, TimeType: timeType, Processing: n.processing,
				LateOutput: n.lateOutput, BatchSize: g.BatchSize, PreAgg: preAgg}
		})
	}
	return flow{st: st}, nil
}

func (windowAggOp) explain(n *lnode) (detail string) {
	keys := make([]string, len(n.keys))
	for i, k := range n.keys {
		keys[i] = k.String()
	}
	detail = fmt.Sprintf("%s, keys [%s], aggs [%s], allowed lateness %s",
		windowText(n), strings.Join(keys, ", "), aggsText(n.aggs), plan.FormatDuration(n.lateness))
	if n.lateOutput {
		detail += ", emitting late rows"
	}
	return
}

// bindWindow validates a window aggregation.
func (b *binder) bindWindow(n *plan.Node, ln, in *lnode) error {
	name := ln.name
	if n.Window == nil {
		return rberr.New(rberr.Plan, "%s: no window given", name)
	}
	win, err := window.Compile(n.Window, name)
	if err != nil {
		return err
	}
	ln.win, ln.winDef = win, n.Window
	switch n.Window.Time {
	case "", "event":
	case "processing":
		ln.processing = true
	default:
		return rberr.New(rberr.Plan, "%s: window time must be \"event\" or \"processing\", got %q", name, n.Window.Time)
	}
	if ln.processing && win.Kind == "session" {
		return rberr.New(rberr.Plan, "%s: session windows need event time", name)
	}
	timeType := arrow.DataType(&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	if !ln.processing {
		col := n.Window.On
		if col == "" {
			col = in.timeCol
		}
		if col == "" {
			return rberr.New(rberr.Plan, "%s: the input has no event time; pass event_time=<column> to the source, or window(..., on=<column>)", name)
		}
		idx := in.schema.FieldIndices(col)
		if len(idx) == 0 {
			return (&expr.CompileScope{Schema: in.schema, Op: name}).ColumnNotFound(col)
		}
		timeType = in.schema.Field(idx[0]).Type
		if !expr.TimeColumnOK(timeType) {
			return rberr.New(rberr.Type, "%s: event time column %q is %s; it must be a timestamp, a date or int64 epoch milliseconds", name, col, expr.TypeName(timeType))
		}
		ln.winTime, ln.winTimeIdx = col, idx[0]
	}
	if n.AllowedLateness != "" {
		if ln.processing {
			return rberr.New(rberr.Plan, "%s: allowed_lateness applies to event-time windows only", name)
		}
		d, err := plan.ParseDuration(n.AllowedLateness)
		if err != nil || d < 0 {
			return rberr.New(rberr.Plan, "%s: allowed_lateness: %v", name, runtime.ErrOrNegative(err))
		}
		ln.lateness = d
	}
	switch n.Output {
	case "", "results":
	case "late":
		ln.lateOutput = true
	default:
		return rberr.New(rberr.Plan, "%s: output must be \"results\" or \"late\", got %q", name, n.Output)
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: name}
	seen := map[string]bool{"window_start": true, "window_end": true}
	var aggFields []arrow.Field
	keyFields, err := compileKeys(scope, n.Keys, ln, "key", seen, " or clashes with window_start/window_end")
	if err != nil {
		return err
	}
	if len(n.Aggs) == 0 {
		return rberr.New(rberr.Plan, "%s: no aggregations given to agg(...)", name)
	}
	for _, a := range n.Aggs {
		spec, err := agg.Compile(scope, a)
		if err != nil {
			return err
		}
		if win.Kind == "session" && (spec.Fn == "arg_max" || spec.Fn == "arg_min") {
			// Sessions merge, and positions within merged sessions that shared input
			// batches are not known.
			return rberr.New(rberr.Plan, "%s: %s is not available in session windows (use max_by / min_by for the value at the largest / smallest row)", name, spec.Fn)
		}
		if seen[spec.Name] {
			return rberr.New(rberr.Plan, "%s: the output column %q is produced twice; give one of them another name with .alias(...)", name, spec.Name)
		}
		seen[spec.Name] = true
		ln.aggs = append(ln.aggs, spec)
		aggFields = append(aggFields, arrow.Field{Name: spec.Name, Type: spec.OutType, Nullable: true})
	}
	if ln.lateOutput {
		ln.schema, ln.timeCol = in.schema, in.timeCol
		return nil
	}
	fields := append(keyFields, arrow.Field{Name: "window_start", Type: timeType}, arrow.Field{Name: "window_end", Type: timeType})
	ln.schema = arrow.NewSchema(append(fields, aggFields...), nil)
	ln.timeCol = ""
	return nil
}
