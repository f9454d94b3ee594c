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
)

// datagenOp is the logical operator "datagen": its binding and validation, the input columns it
// needs, its physical form and its explain text.
type datagenOp struct{}

func init() { registerLegacyOp("datagen", datagenOp{}, false) }

// bindDatagenNexmark is shared by datagen, nexmark.
func bindDatagenNexmark(b *binder, n *plan.Node, ln *lnode) error {
	if err := b.bindGenerator(n, ln); err != nil {
		return err
	}
	return nil
}

func (datagenOp) bind(b *binder, n *plan.Node, ln *lnode) error {
	return bindDatagenNexmark(b, n, ln)
}

func (datagenOp) require(b *binder, n *plan.Node, ln *lnode, need map[string]bool) {}

// buildDatagenNexmark is shared by datagen, nexmark.
func buildDatagenNexmark(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	ord := g.ordinal
	g.ordinal++
	block := pacedBlock(n.rate, g.BatchSize, g.Parallel)
	blocks := int64(-1)
	if n.count >= 0 {
		blocks = (n.count + block - 1) / block
		g.totalRows += n.count
		g.totalSplits += int(blocks)
	} else {
		g.unbounded = true
	}
	p := g.Parallel
	if blocks >= 0 && int64(p) > max(1, blocks) {
		p = int(max(1, blocks))
	}
	src := &source.GenSource{Gen: n.gen, Count: n.count, Rate: n.rate, Block: block}
	if !g.Batch {
		src.Clk = sourceClock(n)
	} else if n.genTime {
		dt := n.schema.Field(n.timeIdx).Type
		gn := n.gen
		src.Safe = func(i int64) int64 { return expr.SafeWatermark(gn.EventTime(i), dt) }
		src.Clk = func() *source.Clock { return source.NewBatchClock(1) }
	}
	st := g.NewStage(n.op, p)
	st.Source = func(subtask int) runtime.SourceFn { return source.Task(ord, src, subtask, p, 0) }
	g.splitCounts[ord] = int(blocks)
	return flow{st: st, ordered: true, ordinals: []int{ord}}, nil
}

func (datagenOp) build(g *graph, n *lnode, prune *plan.Expr) (flow, error) {
	return buildDatagenNexmark(g, n, prune)
}

// explainDatagenNexmark is shared by datagen, nexmark.
func explainDatagenNexmark(n *lnode) (detail string) {
	bound := "unbounded"
	if n.count >= 0 {
		bound = fmt.Sprintf("%d rows", n.count)
	}
	detail = fmt.Sprintf("%s, rate %v/s", bound, n.rate)
	return
}

func (datagenOp) explain(n *lnode) (detail string) {
	return explainDatagenNexmark(n)
}

// bindGenerator builds a datagen or nexmark source.
func (b *binder) bindGenerator(n *plan.Node, ln *lnode) error {
	if n.Rate < 0 {
		return rberr.New(rberr.Plan, "%s: the rate must be positive, got %v", ln.name, n.Rate)
	}
	ln.rate, ln.count = n.Rate, -1
	if n.Count != nil {
		if *n.Count < 0 {
			return rberr.New(rberr.Plan, "%s: the number of rows must not be negative, got %d", ln.name, *n.Count)
		}
		ln.count = *n.Count
	}
	spacing := int64(n.Rate)
	var err error
	if n.Op == "nexmark" {
		ln.genEvents = true
		if spacing == 0 {
			spacing = 100_000
		}
		ln.gen, err = gen.NewNexmark(gen.NexmarkConfig{Seed: n.Seed, EventsPerSecond: spacing}, n.Kind)
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", ln.name)
		}
		if n.EventTime == "" {
			// The standard Nexmark watermark: event time minus 4 seconds.
			n2 := *n
			n2.EventTime = "date_time"
			if n2.MaxOutOfOrderness == "" {
				n2.MaxOutOfOrderness = "4s"
			}
			n = &n2
		}
	} else {
		if len(n.Fields) == 0 {
			return rberr.New(rberr.Plan, "%s: no fields given", ln.name)
		}
		fields := make([]arrow.Field, len(n.Fields))
		specs := map[string]gen.FieldSpec{}
		for i, f := range n.Fields {
			dt, err := expr.ParseType(f.Type)
			if err != nil {
				return rberr.Wrap(rberr.Plan, err, "%s: field %q", ln.name, f.Name)
			}
			fields[i] = arrow.Field{Name: f.Name, Type: dt, Nullable: f.Nulls > 0}
			specs[f.Name] = gen.FieldSpec{Kind: f.Kind, Min: f.Min, Max: f.Max, Length: f.Length, Nulls: f.Nulls}
		}
		if spacing == 0 {
			spacing = 1000
		}
		ln.gen, err = gen.NewDatagen(arrow.NewSchema(fields, nil), gen.DatagenConfig{Seed: n.Seed, RowsPerSecond: spacing, Fields: specs})
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s", ln.name)
		}
	}
	ln.schema = ln.gen.Schema()
	if err := b.bindEventTime(n, ln); err != nil {
		return err
	}
	if ln.wm != nil {
		// Nexmark's date_time and every datagen timestamp or date column carry the row's
		// event time, non-decreasing in the sequence index.
		id := ln.schema.Field(ln.schema.FieldIndices(ln.wm.Column)[0]).Type.ID()
		ln.genTime = (n.Op == "nexmark" && ln.wm.Column == "date_time") ||
			(n.Op == "datagen" && (id == arrow.TIMESTAMP || id == arrow.DATE32))
	}
	return nil
}
