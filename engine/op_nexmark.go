package engine

import (
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/internal/gen"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// NexmarkArgs are the arguments of "nexmark", the Nexmark benchmark's generated events of
// one kind ("person", "auction", "bid"): events per second (0: as fast as it can), the
// number of events (absent: unbounded), the seed and the event time (absent: date_time,
// 4s out of order, the standard Nexmark watermark).
type NexmarkArgs struct {
	Kind  string  `json:"kind,omitempty"`
	Rate  float64 `json:"rate,omitempty"`
	Count *int64  `json:"count,omitempty"`
	Seed  int64   `json:"seed,omitempty"`
	plan.EventTimeDef
}

// nexmarkOp is the logical operator "nexmark": its binding and validation, and (as a
// generator, op_datagen.go) its physical form and explain text.
type nexmarkOp struct {
	NexmarkArgs
	generator
}

func init() {
	registerOp("nexmark", opReg[NexmarkArgs]{new: func(a *NexmarkArgs) logicalOp { return &nexmarkOp{NexmarkArgs: *a} }})
}

func (o *nexmarkOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	if err := o.bindCount(ln, o.Rate, o.Count); err != nil {
		return err
	}
	spacing := int64(o.Rate)
	if spacing == 0 {
		spacing = 100_000
	}
	var err error
	o.gen, err = gen.NewNexmark(gen.NexmarkConfig{Seed: o.Seed, EventsPerSecond: spacing}, o.Kind)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", ln.name)
	}
	ln.schema = o.gen.Schema()
	et := o.EventTimeDef
	if et.EventTime == "" {
		// The standard Nexmark watermark: event time minus 4 seconds.
		et.EventTime = "date_time"
		if et.MaxOutOfOrderness == "" {
			et.MaxOutOfOrderness = "4s"
		}
	}
	if err := bindEventTime(et, ln); err != nil {
		return err
	}
	// date_time carries the event's time, non-decreasing in the sequence index.
	o.genTime = ln.wm != nil && ln.wm.Column == "date_time"
	return nil
}

func (o *nexmarkOp) boundedness(*lnode) (unbounded, maybe string) {
	if o.count < 0 {
		return "nexmark without max_events", ""
	}
	return "", ""
}
