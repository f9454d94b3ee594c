package window

import (
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Spilling windows. With a state backend that spills (state_backend="pebble") and a
// memory cap (state_memory_limit), a window aggregation counts the tables of its open
// windows and slices (and, with allowed lateness, of fired windows) against the cap
// (after each batch; for tables with values out of line, once the rows since the last
// count reach a fourth of the groups). Over the cap, it spills the largest tables (and frozen slices) until they
// hold half of it (tables under agg.MinSpillBytes stay): their groups' partial states go
// to partitions by key hash on disk (agg.Spiller), and a spilled window or slice goes on
// with an empty table. A window with spilled state fires a partition at a time: the
// partition's groups of its pane and slices, on disk and in memory, merged into one
// table (split again when a partition outgrows the cap) and emitted. A checkpoint saves
// such a window the same way, a partition at a time, as rows of PanesTable like any
// other window's, so the format of checkpoints does not change; a restore spills again
// as the cap requires.
//
// With allowed lateness, a spilled window that fires keeps its state (its runs and its
// table) until the lateness is over (keptForLateness); late rows go into its table, and
// the keys they touched are re-emitted from the partitions that hold them merged
// (emitSpilledUpdates), before the cap is checked again (spilling the table loses its
// group ids). Such windows are not sliced (openSlices), so their state is one pane.
// Processing-time windows spill the same way (they fire on the clock through the same
// fire). Median and quantile spill as every value of a group. Session windows keep state
// by key in a store of their own (session_spill.go). Not spilled (its state stays in
// memory, as before): a global window aggregation (no key).
// The late-rows output (LateOutput) aggregates nothing.

// canSpill reports whether the operator's windows may spill.
func (o *WindowAggOp) canSpill() bool {
	return !o.LateOutput && len(o.Keys) > 0
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
		if !p.fired || len(p.touched) == 0 {
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
// drops its pane, unless allowed lateness keeps it after now (its state stays, on disk
// and in memory, for late rows: emitSpilledUpdates). Its slices are frozen (dropSlices
// drops them once their last window has fired).
func (o *WindowAggOp) fireSpilled(w [2]int64, now int64, out runtime.Emitter) error {
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
		if o.keptForLateness(p, now) {
			p.fired, p.touched = true, nil
			return nil
		}
		o.dropPane(w, p)
	}
	return nil
}

// keptForLateness reports whether fired pane p stays after now for late rows.
func (o *WindowAggOp) keptForLateness(p *pane, now int64) bool {
	return now != runtime.WatermarkMax && p.end-1+o.Lateness > now
}

// dropPane forgets window w's pane p and its state on disk.
func (o *WindowAggOp) dropPane(w [2]int64, p *pane) {
	if o.spiller != nil {
		o.spiller.Remove(&p.spilled)
	}
	p.agg.Release()
	delete(o.panes, w)
}

// emitSpilledUpdates re-emits the results of groups gids of fired pane p (updated by late
// rows), whose other state is on disk: the partitions holding them are merged (state on
// disk and in memory) and each group's merged result emitted.
func (o *WindowAggOp) emitSpilledUpdates(p *pane, gids []uint32, out runtime.Emitter) error {
	w := [2]int64{p.start, p.end}
	keys, err := p.agg.KeyColumns(o.tc.Eval.Mem, gids)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(keys)
	hashes := p.agg.Hashes()
	want := map[int]bool{}
	for _, g := range gids {
		want[o.spiller.PartOf(hashes[g])] = true
	}
	found := make([]uint32, len(gids))
	o.tc.Metrics.WindowsFired.Add(1)
	return o.spiller.MergeParts(o.tc, []*agg.Parts{&p.spilled}, []*agg.Table{p.agg}, nil, want, func(t *agg.Table) error {
		t.Lookup(keys, found)
		var in []uint32
		for _, g := range found {
			if g != agg.NoGroup {
				in = append(in, g)
			}
		}
		if len(in) == 0 {
			return nil
		}
		sort.Slice(in, func(i, j int) bool { return in[i] < in[j] })
		return o.emitGroups(w, t, in, out)
	})
}
