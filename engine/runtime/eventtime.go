package runtime

import (
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Event time inside the engine is int64 microseconds since the Unix epoch, whatever the
// unit of the column it comes from. Watermarks use the same scale.

// Watermarker generates bounded-out-of-orderness watermarks for one source subtask: after
// each batch, the watermark is the largest event time seen minus the bound, minus one
// microsecond (as Flink's BoundedOutOfOrdernessWatermarks).
type Watermarker struct {
	col     int   // index of the event-time column in the source's output
	bound   int64 // microseconds
	maxTs   int64
	emitted int64
	buf     []int64
}

func NewWatermarker(col int, bound int64) *Watermarker {
	return &Watermarker{col: col, bound: bound, maxTs: math.MinInt64, emitted: math.MinInt64}
}

// observe folds a batch in and returns the new watermark, or false if it did not advance.
func (w *Watermarker) observe(rec arrow.RecordBatch) (int64, bool) {
	w.buf = expr.EventTimes(rec.Column(w.col), w.buf)
	for _, t := range w.buf {
		if t > w.maxTs {
			w.maxTs = t
		}
	}
	if w.maxTs == math.MinInt64 {
		return 0, false
	}
	wm := w.maxTs - w.bound - 1
	if wm <= w.emitted {
		return 0, false
	}
	w.emitted = wm
	return wm, true
}

// EmitWithWatermark sends a batch, stamped with the split's watermark before it, and, if
// it advanced event time, the watermark after it.
func EmitWithWatermark(w *Watermarker, m Message, out Emitter) error {
	var wm int64
	advanced := false
	if w != nil {
		m.WM, m.HasWM = w.emitted, true
		wm, advanced = w.observe(m.Rec)
	}
	if err := out.Emit(m); err != nil {
		return err
	}
	if advanced {
		return out.Emit(Message{Kind: MsgWatermark, N: wm})
	}
	return nil
}

// SourceEventTime resolves a source's event_time settings against its output schema.
func SourceEventTime(n *plan.Node, schema *arrow.Schema, name string) (*WatermarkSpec, error) {
	if n.EventTime == "" {
		if n.MaxOutOfOrderness != "" || n.IdleTimeout != "" {
			return nil, rberr.New(rberr.Plan, "%s: max_out_of_orderness and idle_timeout need event_time=<column>", name)
		}
		return nil, nil
	}
	idx := schema.FieldIndices(n.EventTime)
	if len(idx) == 0 {
		return nil, (&expr.CompileScope{Schema: schema, Op: name}).ColumnNotFound(n.EventTime)
	}
	if dt := schema.Field(idx[0]).Type; !expr.TimeColumnOK(dt) {
		return nil, rberr.New(rberr.Type, "%s: event_time column %q is %s; it must be a timestamp, a date or int64 epoch milliseconds", name, n.EventTime, expr.TypeName(dt))
	}
	spec := &WatermarkSpec{Column: n.EventTime}
	if n.MaxOutOfOrderness != "" {
		d, err := plan.ParseDuration(n.MaxOutOfOrderness)
		if err != nil || d < 0 {
			return nil, rberr.New(rberr.Plan, "%s: max_out_of_orderness: %v", name, ErrOrNegative(err))
		}
		spec.Bound = d
	}
	if n.IdleTimeout != "" {
		d, err := plan.ParseDuration(n.IdleTimeout)
		if err != nil || d <= 0 {
			return nil, rberr.New(rberr.Plan, "%s: idle_timeout: %v", name, ErrOrNegative(err))
		}
		spec.Idle = d
	}
	return spec, nil
}

type WatermarkSpec struct {
	Column string
	Bound  int64 // µs
	Idle   int64 // µs; 0 = never idle
}

func ErrOrNegative(err error) error {
	if err != nil {
		return err
	}
	return rberr.New(rberr.Plan, "must be positive")
}
