package runtime

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Event time inside the engine is int64 microseconds since the Unix epoch, whatever the
// unit of the column it comes from. Watermarks use the same scale.

// Sources generate watermarks with the clock of engine/source (source.Clock): per split
// lane, the largest event time read minus max_out_of_orderness, minus 1 µs.

// SourceEventTime resolves a source's event_time settings against its output schema.
func SourceEventTime(n plan.EventTimeDef, schema *arrow.Schema, name string) (*WatermarkSpec, error) {
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
