package engine

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/engine/source"
	"github.com/riverbed-engine/riverbed/internal/gen"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/zeebo/xxh3"
)

// DatagenArgs are the arguments of "datagen", a generated source: its columns, the rows
// per second (0: as fast as it can), the number of rows (absent: unbounded), the seed and
// the event time.
type DatagenArgs struct {
	Fields []plan.FieldDef `json:"fields,omitempty"`
	Rate   float64         `json:"rate,omitempty"`
	Count  *int64          `json:"count,omitempty"`
	Seed   int64           `json:"seed,omitempty"`
	plan.EventTimeDef
}

// datagenOp is the logical operator "datagen": its binding and validation, and (as a
// generator) its physical form and explain text.
type datagenOp struct {
	DatagenArgs
	generator
}

func init() {
	registerOp("datagen", opReg[DatagenArgs]{new: func(a *DatagenArgs) logicalOp { return &datagenOp{DatagenArgs: *a} }})
}

func (o *datagenOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	if err := o.bindCount(ln, o.Rate, o.Count); err != nil {
		return err
	}
	if len(o.Fields) == 0 {
		return rberr.New(rberr.Plan, "%s: no fields given", ln.name)
	}
	fields := make([]arrow.Field, len(o.Fields))
	specs := map[string]gen.FieldSpec{}
	for i, f := range o.Fields {
		dt, err := expr.ParseType(f.Type)
		if err != nil {
			return rberr.Wrap(rberr.Plan, err, "%s: field %q", ln.name, f.Name)
		}
		fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: f.Nulls > 0}
		specs[f.Name] = gen.FieldSpec{Kind: f.Kind, Min: f.Min, Max: f.Max, Length: f.Length, Nulls: f.Nulls}
	}
	spacing := int64(o.Rate)
	if spacing == 0 {
		spacing = 1000
	}
	var err error
	o.gen, err = gen.NewDatagen(arrow.NewSchema(fields, nil), gen.DatagenConfig{Seed: o.Seed, RowsPerSecond: spacing, Fields: specs})
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", ln.name)
	}
	ln.schema = o.gen.Schema()
	if err := bindEventTime(o.EventTimeDef, ln); err != nil {
		return err
	}
	if ln.wm != nil {
		// Every datagen timestamp or date column carries the row's event time,
		// non-decreasing in the sequence index.
		id := ln.schema.Field(ln.schema.FieldIndices(ln.wm.Column)[0]).Type.ID()
		o.genTime = id == arrow.TIMESTAMP || id == arrow.DATE32
	}
	return nil
}

func (o *datagenOp) boundedness(*lnode) (unbounded, maybe string) {
	if o.count < 0 {
		return "datagen without number_of_rows", ""
	}
	return "", ""
}

// generator is a bound datagen or nexmark source: its physical form, row estimate,
// fingerprint and explain text.
type generator struct {
	gen     gen.Generator
	count   int64 // rows (datagen) or events (nexmark); -1: unbounded
	rate    float64
	genTime bool // the event-time column is the generator's own clock (non-decreasing in the index)
}

// bindCount checks a generator's rate and count.
func (s *generator) bindCount(ln *lnode, rate float64, count *int64) error {
	if rate < 0 {
		return rberr.New(rberr.Plan, "%s: the rate must be positive, got %v", ln.name, rate)
	}
	s.rate, s.count = rate, -1
	if count != nil {
		if *count < 0 {
			return rberr.New(rberr.Plan, "%s: the number of rows must not be negative, got %d", ln.name, *count)
		}
		s.count = *count
	}
	return nil
}

func (s *generator) require(*binder, *plan.Node, *lnode, map[string]bool) {}

func (s *generator) estimateRows(*lnode) (int64, bool) {
	if s.count >= 0 {
		return s.count, true
	}
	return 0, false
}

func (s *generator) sourceFingerprint(*lnode) (string, bool) {
	return fmt.Sprintf("%016x", xxh3.HashString(fmt.Sprintf("%s|%d|%d", s.gen.Schema(), s.gen.EventTime(0), s.gen.EventTime(1000)))), true
}

func (s *generator) build(g *graph, n *lnode, _ *plan.Expr) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	block := pacedBlock(s.rate, g.BatchSize, g.Parallel)
	blocks := int64(-1)
	if s.count >= 0 {
		blocks = (s.count + block - 1) / block
		g.totalRows += s.count
		g.totalSplits += int(blocks)
	} else {
		g.unbounded = true
	}
	p := g.Parallel
	if blocks >= 0 && int64(p) > max(1, blocks) {
		p = int(max(1, blocks))
	}
	src := &source.GenSource{Gen: s.gen, Count: s.count, Rate: s.rate, Block: block}
	if !g.Batch {
		src.Clk = sourceClock(n)
	} else if s.genTime {
		dt := n.schema.Field(n.timeIdx).Type
		gn := s.gen
		src.Safe = func(i int64) int64 { return expr.SafeWatermark(gn.EventTime(i), dt) }
		src.Clk = func() *source.Clock { return source.NewBatchClock(1) }
	}
	st := g.NewStage(n.op, p)
	st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
	g.splitCounts[ord] = int(blocks)
	return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
}

func (s *generator) explain(*lnode) string {
	bound := "unbounded"
	if s.count >= 0 {
		bound = fmt.Sprintf("%d rows", s.count)
	}
	return fmt.Sprintf("%s, rate %v/s", bound, s.rate)
}
