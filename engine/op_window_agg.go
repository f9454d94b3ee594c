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

// WindowAggArgs are the arguments of "window_agg": the keys, the aggregations, the
// window, how late rows may come (a duration) and the output: "results" (default) or
// "late" (the input rows that came too late for every window, the late side output).
// With window_time (event-time windows) the results have a window_time column after
// window_end, each window's last instant (window_end minus one unit of the time column:
// Flink's window_time), which is their event time: a further window aggregation or
// window join over them assigns windows by it (Flink's cascading window aggregation).
type WindowAggArgs struct {
	Keys            []*plan.Expr    `json:"keys,omitempty"`
	Aggs            []*plan.Expr    `json:"aggs,omitempty"`
	Window          *plan.WindowDef `json:"window,omitempty"`
	AllowedLateness string          `json:"allowed_lateness,omitempty"`
	Output          string          `json:"output,omitempty"`
	WindowTime      bool            `json:"window_time,omitempty"`
}

// windowAggOp is the logical operator "window_agg": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type windowAggOp struct {
	WindowAggArgs
	keys       []expr.Bound
	aggs       []agg.Spec
	win        window.Windower
	lateness   int64
	lateOutput bool
	processing bool
	winTime    string // the input column windows read event time from
	winTimeIdx int    // its index in the input's schema
	timeOut    bool   // window_time is in the output (asked for and, after projection pushdown, used)
}

func init() {
	registerOp("window_agg", opReg[WindowAggArgs]{new: func(a *WindowAggArgs) logicalOp { return &windowAggOp{WindowAggArgs: *a} },
		stateful: true,
		rewrite: func(n *plan.Node, a *WindowAggArgs) {
			rewriteAggExprs(n, a.Keys, a.Aggs, true, a.Output == "late", func(aggs []*plan.Expr) any { c := *a; c.Aggs = aggs; return &c })
		}})
}

func (o *windowAggOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {
	if o.lateOutput {
		b.require(n.Input, ln.inputs[0], nil)
		return
	}
	if o.WindowTime && need != nil && !need["window_time"] {
		b.noWindowTime[n] = true // computed for no one: the second bind leaves it out
	}
	m := refs(append(append([]*plan.Expr{}, o.Keys...), o.Aggs...)...)
	if o.winTime != "" {
		m[o.winTime] = true
	}
	b.require(n.Input, ln.inputs[0], m)
}

func (o *windowAggOp) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	k, err := g.buildKeyed(n, o.keys)
	if err != nil {
		return k.in, err
	}
	keys, types := k.keys, k.types
	timeIdx := -1
	var timeType arrow.DataType = &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}
	if !o.processing {
		timeIdx = o.winTimeIdx
		timeType = n.inputs[0].schema.Field(timeIdx).Type
	}
	// In batch mode an event-time window aggregation fed by parallel subtasks
	// pre-aggregates by slice in each of them before the exchange (window/preagg.go).
	preAgg := preAggregate && g.Batch && !o.processing && !o.lateOutput && k.in.st.Parallel > 1 &&
		window.PreAggregatable(o.win, o.aggs) && !k.local
	if preAgg {
		partial := agg.PartialSchema(types, o.aggs, window.SliceField)
		k.in.st.ChainHelper("pre-aggregate", func(int) runtime.Operator {
			return &window.PreWindowAggOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: o.aggs, Win: o.win,
				TimeIdx: timeIdx, Partial: partial, BatchSize: g.BatchSize}
		})
	}
	st := k.stage(g, "window_agg", preAgg)
	name := fmt.Sprintf("window_agg(%s)", o.Window.Kind)
	if o.lateOutput {
		name += " late rows" // its late_records are its output, not dropped rows
	}
	if o.win.Kind == "session" {
		st.Chain(name, func(int) runtime.Operator {
			return &window.SessionAggOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: o.aggs, Schema: n.schema,
				Gap: o.win.Gap, Lateness: o.lateness, TimeIdx: timeIdx, TimeType: timeType, LateOutput: o.lateOutput, BatchSize: g.BatchSize, WindowTime: o.timeOut && !o.lateOutput}
		})
	} else {
		st.Chain(name, func(int) runtime.Operator {
			return &window.WindowAggOp{Name: n.name, Keys: keys, KeyTypes: types, Aggs: o.aggs, Schema: n.schema, Win: o.win,
				Lateness: o.lateness, TimeIdx: timeIdx, TimeType: timeType, Processing: o.processing,
				LateOutput: o.lateOutput, BatchSize: g.BatchSize, PreAgg: preAgg, WindowTime: o.timeOut && !o.lateOutput}
		})
	}
	return flow{st: st}, nil
}

func (o *windowAggOp) explain(*lnode) (detail string) {
	keys := make([]string, len(o.keys))
	for i, k := range o.keys {
		keys[i] = k.String()
	}
	detail = fmt.Sprintf("%s, keys [%s], aggs [%s], allowed lateness %s",
		o.windowText(), strings.Join(keys, ", "), aggsText(o.aggs), plan.FormatDuration(o.lateness))
	if o.lateOutput {
		detail += ", emitting late rows"
	}
	return
}

// windowText renders the window definition: "tumbling window of 10s on \"ts\"",
// "sliding window of 10s every 2s ...", "session window with gap 5s ...", "cumulate window
// of 1h in steps of 10m ...", with its offset and its time (event time of a column, or
// processing time).
// stateConfig implements stateConfigurer.
func (o *windowAggOp) stateConfig(*lnode) string {
	return o.windowText() + " with " + aggStateText(o.aggs)
}

func (o *windowAggOp) windowText() string {
	d := o.Window
	dur := func(s string) string {
		us, err := plan.ParseDuration(s)
		if err != nil {
			return s
		}
		return plan.FormatDuration(us)
	}
	var text string
	switch d.Kind {
	case "sliding":
		text = fmt.Sprintf("sliding window of %s every %s", dur(d.Size), dur(d.Slide))
	case "session":
		text = fmt.Sprintf("session window with gap %s", dur(d.Gap))
	case "cumulate":
		text = fmt.Sprintf("cumulate window of %s in steps of %s", dur(d.Size), dur(d.Step))
	default:
		text = fmt.Sprintf("%s window of %s", d.Kind, dur(d.Size))
	}
	if d.Offset != "" {
		text += ", offset " + dur(d.Offset)
	}
	if o.processing {
		return text + " in processing time"
	}
	return fmt.Sprintf("%s on %q", text, o.winTime)
}

// bind validates a window aggregation.
func (o *windowAggOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	in, err := b.single(n, ln)
	if err != nil {
		return err
	}
	name := ln.name
	if o.Window == nil {
		return rberr.New(rberr.Plan, "%s: no window given", name)
	}
	win, err := window.Compile(o.Window, name)
	if err != nil {
		return err
	}
	o.win = win
	switch o.Window.Time {
	case "", "event":
	case "processing":
		o.processing = true
	default:
		return rberr.New(rberr.Plan, "%s: window time must be \"event\" or \"processing\", got %q", name, o.Window.Time)
	}
	if o.processing && win.Kind == "session" {
		return rberr.New(rberr.Plan, "%s: session windows need event time", name)
	}
	if o.processing && o.WindowTime {
		return rberr.New(rberr.Plan, "%s: window_time is the event time of event-time windows; processing-time windows have none", name)
	}
	timeType := arrow.DataType(&arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"})
	if !o.processing {
		col := o.Window.On
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
		o.winTime, o.winTimeIdx = col, idx[0]
		if err := win.CheckUnit(timeType, name, col); err != nil {
			return err
		}
	}
	if o.AllowedLateness != "" {
		if o.processing {
			return rberr.New(rberr.Plan, "%s: allowed_lateness applies to event-time windows only", name)
		}
		d, err := plan.ParseDuration(o.AllowedLateness)
		if err != nil || d < 0 {
			return rberr.New(rberr.Plan, "%s: allowed_lateness: %v", name, runtime.ErrOrNegative(err))
		}
		o.lateness = d
	}
	switch o.Output {
	case "", "results":
	case "late":
		o.lateOutput = true
	default:
		return rberr.New(rberr.Plan, "%s: output must be \"results\" or \"late\", got %q", name, o.Output)
	}
	scope := &expr.CompileScope{Schema: in.schema, Op: name}
	seen := map[string]bool{"window_start": true, "window_end": true, "window_time": o.WindowTime}
	var aggFields, keyFields []arrow.Field
	clash := " or clashes with window_start/window_end"
	if o.WindowTime {
		clash = " or clashes with window_start/window_end/window_time"
	}
	if o.keys, keyFields, err = compileKeys(scope, o.Keys, name, "key", seen, clash); err != nil {
		return err
	}
	if len(o.Aggs) == 0 {
		return rberr.New(rberr.Plan, "%s: no aggregations given to agg(...)", name)
	}
	for _, a := range o.Aggs {
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
		o.aggs = append(o.aggs, spec)
		aggFields = append(aggFields, arrow.Field{Name: spec.Name, Type: spec.OutType, Nullable: true})
	}
	agg.ShareArgs(o.aggs)
	if o.lateOutput {
		ln.schema, ln.timeCol = in.schema, in.timeCol
		return nil
	}
	fields := append(keyFields, arrow.Field{Name: "window_start", Type: timeType}, arrow.Field{Name: "window_end", Type: timeType})
	ln.timeCol = ""
	if o.timeOut = o.WindowTime && !b.noWindowTime[n]; o.timeOut {
		fields = append(fields, arrow.Field{Name: "window_time", Type: timeType})
		ln.timeCol = "window_time"
	}
	ln.schema = arrow.NewSchema(append(fields, aggFields...), nil)
	return nil
}
