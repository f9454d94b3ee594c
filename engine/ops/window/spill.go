package window

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Spilling windows. With a state backend that spills (state_backend="pebble") and a
// memory cap (state_memory_limit), a window aggregation without allowed lateness counts
// the tables of its open windows and slices against the cap (after each batch; for
// tables with values out of line, once the rows since the last count reach a fourth of
// the groups). Over the cap, it spills the largest tables (and frozen slices) until they
// hold half of it (tables under agg.MinSpillBytes stay): their groups' partial states go
// to partitions by key hash on disk (agg.Spiller), and a spilled window or slice goes on
// with an empty table. A window with spilled state fires a partition at a time: the
// partition's groups of its pane and slices, on disk and in memory, merged into one
// table (split again when a partition outgrows the cap) and emitted. A checkpoint saves
// such a window the same way, a partition at a time, as rows of PanesTable like any
// other window's, so the format of checkpoints does not change; a restore spills again
// as the cap requires.
//
// Processing-time windows spill the same way (they fire on the clock through the same
// fire). Median and quantile spill as every value of a group. Not spilled (their state
// stays in memory, as before): windows with allowed lateness (a fired window keeps its
// groups for late rows, which re-emit single keys), session windows and a global window
// aggregation (no key). The late-rows output (LateOutput) aggregates nothing.

// canSpill reports whether the operator's windows may spill.
func (o *WindowAggOp) canSpill() bool {
	return !o.LateOutput && o.Lateness == 0 && len(o.Keys) > 0
}

func (o *WindowAggOp) openSpill(tc *runtime.TaskCtx) {
	o.spiller = nil
	if o.canSpill() {
		o.spiller = agg.NewSpiller(tc, o.Name, o.KeyTypes, o.Aggs, func() *agg.Table { return o.newTable(0) })
	}
}

// checkCap is called after rows rows were folded in: over the cap, it spills the largest
// tables of open windows and slices until they hold half of it.
func (o *WindowAggOp) checkCap(rows int) error {
	if o.spiller == nil {
		return nil
	}
	o.spillRows += int64(rows)
	type cand struct {
		bytes int64
		pane  *pane
		slice *slice
	}
	var cands []cand
	groups, variable := 0, false
	for _, p := range o.panes {
		if !p.fired {
			groups += p.agg.NumGroups()
			variable = variable || p.agg.VariableSize()
			cands = append(cands, cand{pane: p})
		}
	}
	for _, sl := range o.slices {
		if sl.agg != nil {
			groups += sl.agg.NumGroups()
			variable = variable || sl.agg.VariableSize()
		}
		if sl.agg != nil || sl.frozen != nil {
			cands = append(cands, cand{slice: sl})
		}
	}
	if variable && o.spillRows < max(int64(groups)/4, 4096) {
		return nil
	}
	o.spillRows = 0
	total := int64(0)
	for i, c := range cands {
		switch {
		case c.pane != nil:
			cands[i].bytes = c.pane.agg.MemBytes()
		case c.slice.agg != nil:
			cands[i].bytes = c.slice.agg.MemBytes()
		default:
			cands[i].bytes = keyed.RecordBytes(c.slice.frozen)
		}
		total += cands[i].bytes
	}
	limit := o.spiller.Limit()
	if total > limit {
		sort.Slice(cands, func(i, j int) bool { return cands[i].bytes > cands[j].bytes })
		for _, c := range cands {
			if total <= limit/2 || c.bytes < agg.MinSpillBytes {
				break
			}
			var err error
			if c.pane != nil {
				err = o.spillTable(&c.pane.agg, &c.pane.spilled)
			} else {
				err = o.spillSlice(c.slice)
			}
			if err != nil {
				return err
			}
			total -= c.bytes
		}
	}
	o.spiller.Show(total)
	return nil
}

// spillTable spills *t into parts and gives *t an empty table.
func (o *WindowAggOp) spillTable(t **agg.Table, parts *agg.Parts) error {
	if (*t).NumGroups() == 0 {
		return nil
	}
	if err := o.spiller.Spill(*t, parts); err != nil {
		return err
	}
	(*t).Discard()
	*t = o.newTable(0)
	return nil
}

// spillSlice spills a slice: its table (it goes on taking rows into an empty one) or its
// frozen partial states.
func (o *WindowAggOp) spillSlice(sl *slice) error {
	if sl.agg != nil {
		return o.spillTable(&sl.agg, &sl.spilled)
	}
	if err := o.spiller.SpillBatch(sl.frozen, &sl.spilled); err != nil {
		return err
	}
	sl.frozen.Release()
	sl.frozen = nil
	return nil
}

// windowSpilled reports whether any state of window w (its pane, its live slices) is on
// disk.
func (o *WindowAggOp) windowSpilled(w [2]int64) bool {
	if o.spiller == nil {
		return false
	}
	if p := o.panes[w]; p != nil && !p.spilled.Empty() {
		return true
	}
	for _, sl := range o.windowSlices(w) {
		if !sl.spilled.Empty() {
			return true
		}
	}
	return false
}

// mergeWindow gives emit the groups of window w (its pane and live slices, on disk and in
// memory), a partition at a time (agg.Spiller.Merge). Nothing is changed or deleted.
func (o *WindowAggOp) mergeWindow(w [2]int64, emit func(*agg.Table) error) error {
	var (
		parts   []*agg.Parts
		tables  []*agg.Table
		batches []arrow.RecordBatch
	)
	if p := o.panes[w]; p != nil {
		parts, tables = append(parts, &p.spilled), append(tables, p.agg)
	}
	for _, sl := range o.windowSlices(w) {
		parts = append(parts, &sl.spilled)
		if sl.agg != nil {
			tables = append(tables, sl.agg)
		}
		if sl.frozen != nil {
			batches = append(batches, sl.frozen)
		}
	}
	return o.spiller.Merge(o.tc, parts, tables, batches, emit)
}

// fireSpilled fires window w, some of whose state is on disk, a partition at a time, and
// drops its pane (without allowed lateness nothing is kept after firing). Its slices are
// frozen (dropSlices drops them once their last window has fired).
func (o *WindowAggOp) fireSpilled(w [2]int64, out runtime.Emitter) error {
	for _, sl := range o.windowSlices(w) {
		if err := o.freeze(sl); err != nil {
			return err
		}
	}
	err := o.mergeWindow(w, func(t *agg.Table) error { return o.emitGroups(w, t, nil, out) })
	if err != nil {
		return err
	}
	o.tc.Metrics.WindowsFired.Add(1)
	if p := o.panes[w]; p != nil {
		o.spiller.Remove(&p.spilled)
		p.agg.Release()
		delete(o.panes, w)
	}
	return nil
}
