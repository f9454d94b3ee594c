package window

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Window slicing (as Flink's window TVF slicing): sliding and cumulate windows overlap,
// so a row is in several windows (size/slide of them, or up to max_size/step). Instead of
// updating the accumulators of each, the window aggregation updates those of the row's
// slice (Windower.SliceSize: every window is a whole number of slices) and a window's
// result merges the slices it spans when it fires.
//
// A slice takes rows only while no window over it has fired or closed: then each of its
// rows is on time for every window over it, as if it had been added to each. A row for
// which one of its windows has fired or closed (by the watermark of its batch) takes the
// per-window path as before (the window's pane, its own table), and a window's result is
// its pane and its slices merged. When its first window fires, a slice is frozen (its
// accumulators become a batch of partial states, merged into each later window) and it is
// dropped once its last window has fired. A fired window's merged state stays in its pane
// for allowed_lateness, which late rows update and re-emit as before.
//
// Only where merging is exact (PreAggregatable: not the aggregations of rows' positions,
// whose rows of different slices do not compare; not median or quantile), and not for
// processing time or the late-rows output. Checkpoints save windows, not slices (each
// unfired window's pane and slices merged, PanesTable as before), so a restored operator
// starts with panes and no slices.

// Slicing turns window slicing on (tests and benchmarks compare without it).
var Slicing = true

// slice holds the accumulators of one slice's rows: a table while no window over it has
// fired, then its partial states (frozen).
type slice struct {
	agg    *agg.Table
	frozen arrow.RecordBatch
	// isFrozen: the slice takes no more rows (its frozen batch is nil once spilled).
	isFrozen bool
	spilled  agg.Parts // its groups spilled to disk (spill.go)
}

// groups returns the number of groups of the slice.
func (s *slice) groups() int {
	if s.frozen != nil {
		return int(s.frozen.NumRows())
	}
	if s.agg != nil {
		return s.agg.NumGroups()
	}
	return 0
}

func (s *slice) release() {
	if s.agg != nil {
		s.agg.Release()
		s.agg = nil
	}
	if s.frozen != nil {
		s.frozen.Release()
		s.frozen = nil
	}
}

// openSlices sets up slicing where it applies.
func (o *WindowAggOp) openSlices() {
	o.sliceLen = 0
	// With allowed lateness and spilling, a fired window's state stays where it is for late
	// rows, in its pane (spill.go): no slices.
	if !Slicing || o.Processing || o.LateOutput || (o.Win.Kind != "sliding" && o.Win.Kind != "cumulate") ||
		!PreAggregatable(o.Win, o.Aggs) || (o.Lateness > 0 && o.spiller != nil) {
		return
	}
	if s := o.Win.SliceSize(); s > 0 && s < o.Win.size {
		o.sliceLen = s
		o.slices = map[int64]*slice{}
		o.slicedTo = math.MinInt64
		o.partial = agg.PartialSchema(o.KeyTypes, o.Aggs)
	}
}

// sliceable reports whether rows of slice s can update the slice (every window over it
// still to fire, and none closed by lateWM); false where s is in no window.
func (o *WindowAggOp) sliceable(s, lateWM int64) bool {
	if sl := o.slices[s]; sl != nil && sl.isFrozen {
		return false
	}
	o.wbuf = o.Win.Assign(s, o.wbuf[:0])
	if len(o.wbuf) == 0 {
		return false
	}
	for _, w := range o.wbuf {
		if w[1]-1 <= lateWM || w[1]-1 <= o.slicedTo {
			return false
		}
		if p := o.panes[w]; p != nil && p.fired {
			return false
		}
	}
	return true
}

// route sorts row i of event time (or slice start) t into the rows of its slice or of its
// windows, or the late rows; c caches the answer for the last slice and gathers its rows
// (the caller flushes c after the last row).
func (o *WindowAggOp) route(i int32, t, lateWM int64, bySlice map[int64][]int32, rows map[[2]int64][]int32, late []int32, c *sliceCache) []int32 {
	s := o.Win.sliceOf(t, o.sliceLen)
	if !c.ok || c.s != s {
		c.flush(bySlice)
		c.s, c.ok, c.sliceable = s, true, o.sliceable(s, lateWM)
		if c.sliceable {
			c.rows = bySlice[s]
		}
	}
	if c.sliceable {
		c.rows = append(c.rows, i)
		return late
	}
	o.wbuf = o.Win.Assign(t, o.wbuf[:0])
	accepted := false
	for _, w := range o.wbuf {
		if w[1]-1+o.Lateness <= lateWM {
			continue // this window is already closed
		}
		rows[w] = append(rows[w], i)
		accepted = true
	}
	if !accepted {
		late = append(late, i)
	}
	return late
}

type sliceCache struct {
	s             int64
	ok, sliceable bool
	rows          []int32 // the rows of slice s routed since it came, not yet in bySlice
}

// flush puts the rows gathered for the cached slice into bySlice.
func (c *sliceCache) flush(bySlice map[int64][]int32) {
	if c.ok && c.sliceable {
		bySlice[c.s] = c.rows
	}
	c.rows = nil
}

// addToSlices updates the slices' accumulators with their rows of rec (partial states if
// partial).
func (o *WindowAggOp) addToSlices(rec arrow.RecordBatch, seq runtime.Seq, bySlice map[int64][]int32, partial bool) error {
	starts := make([]int64, 0, len(bySlice))
	for s := range bySlice {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	n := int(rec.NumRows())
	for _, s := range starts {
		sl := o.slices[s]
		if sl == nil {
			hint := o.sliceGroups
			if prev := o.slices[s-o.sliceLen]; prev != nil {
				hint = max(hint, prev.groups())
			}
			sl = &slice{agg: o.newTable(hint)}
			o.slices[s] = sl
		}
		sub := rec
		if idx := bySlice[s]; len(idx) != n {
			var err error
			if sub, err = runtime.TakeRows(o.tc.Eval, rec, idx); err != nil {
				return err
			}
		} else {
			rec.Retain()
		}
		var err error
		if partial {
			err = sl.agg.MergePartial(o.tc.Eval, sub)
		} else {
			_, err = sl.agg.Consume(o.tc.Eval, sub, seq)
		}
		sub.Release()
		if err != nil {
			return err
		}
	}
	return nil
}

// sliceStarts returns the starts of the live slices in order.
func (o *WindowAggOp) sliceStarts() []int64 {
	starts := make([]int64, 0, len(o.slices))
	for s := range o.slices {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	return starts
}

// freeze turns a slice's table into its partial states.
func (o *WindowAggOp) freeze(sl *slice) error {
	if sl.isFrozen {
		return nil
	}
	rec, err := sl.agg.PartialBatch(o.tc.Eval.Mem, o.partial)
	if err != nil {
		return err
	}
	o.sliceGroups = sl.agg.NumGroups()
	sl.agg.Release()
	sl.agg, sl.frozen, sl.isFrozen = nil, rec, true
	return nil
}

// slicesToFire returns the windows that the clock now passes over live slices, each with
// its slices in order, and notes that the clock got there. fire merges each window's
// slices into its pane (mergeSlices) just before the pane fires, so that the table of a
// fired window is freed before the next one takes one, then drops the slices whose
// windows have all fired (dropSlices). It returns nil when the clock has not moved on.
func (o *WindowAggOp) slicesToFire(now int64) map[[2]int64][]int64 {
	if o.sliceLen == 0 || now <= o.slicedTo {
		return nil
	}
	from := o.slicedTo
	o.slicedTo = now
	of := map[[2]int64][]int64{}
	for _, s := range o.sliceStarts() {
		for _, w := range o.Win.Assign(s, nil) {
			if w[1]-1 > from && w[1]-1 <= now {
				of[w] = append(of[w], s)
			}
		}
	}
	return of
}

// mergeSlices merges slices ss into the pane of window w (made if need be, its table
// sized as the last window's, or as its slices' groups together for the first).
func (o *WindowAggOp) mergeSlices(w [2]int64, ss []int64) error {
	hint := o.paneGroups
	for _, s := range ss {
		sl := o.slices[s]
		if o.paneGroups == 0 {
			hint += sl.groups()
		}
		if err := o.freeze(sl); err != nil {
			return err
		}
	}
	p := o.panes[w]
	if p == nil {
		p = &pane{start: w[0], end: w[1], agg: o.newTable(hint)}
		o.panes[w] = p
	}
	if p.fired {
		return nil
	}
	for _, s := range ss {
		if err := p.agg.MergePartial(o.tc.Eval, o.slices[s].frozen); err != nil {
			return err
		}
	}
	return nil
}

// dropSlices drops the slices whose windows have all fired by now.
func (o *WindowAggOp) dropSlices(now int64) {
	for s, sl := range o.slices {
		last := int64(math.MinInt64)
		for _, w := range o.Win.Assign(s, nil) {
			last = max(last, w[1])
		}
		if last-1 <= now {
			if o.spiller != nil {
				o.spiller.Remove(&sl.spilled)
			}
			sl.release()
			delete(o.slices, s)
		}
	}
}

// slicedWindows returns, for a checkpoint, every window still to fire over live slices,
// in order.
func (o *WindowAggOp) slicedWindows() [][2]int64 {
	if o.sliceLen == 0 {
		return nil
	}
	seen := map[[2]int64]bool{}
	var ws [][2]int64
	for _, s := range o.sliceStarts() {
		for _, w := range o.Win.Assign(s, nil) {
			if w[1]-1 <= o.slicedTo || seen[w] {
				continue // fired: its pane holds its slices
			}
			if p := o.panes[w]; p != nil && p.fired {
				continue
			}
			seen[w] = true
			ws = append(ws, w)
		}
	}
	sortWindows(ws)
	return ws
}

// windowSlices returns the live slices of window w (none without slicing).
func (o *WindowAggOp) windowSlices(w [2]int64) []*slice {
	if o.sliceLen == 0 {
		return nil
	}
	var ss []*slice
	for s := w[0]; s < w[1]; s += o.sliceLen {
		if sl := o.slices[s]; sl != nil {
			ss = append(ss, sl)
		}
	}
	return ss
}

// windowTable returns, for a checkpoint, the state of window w still to fire over live
// slices: its pane (if any) and its slices merged, in a new table (the caller releases
// it).
func (o *WindowAggOp) windowTable(w [2]int64) (*agg.Table, error) {
	mem := o.tc.Eval.Mem
	t := agg.NewTable(o.Name, o.Keys, o.KeyTypes, o.Aggs)
	merge := func(src *agg.Table) error {
		if src == nil || src.NumGroups() == 0 {
			return nil
		}
		rec, err := src.PartialBatch(mem, o.partial)
		if err != nil {
			return err
		}
		err = t.MergePartial(o.tc.Eval, rec)
		rec.Release()
		return err
	}
	var err error
	if p := o.panes[w]; p != nil {
		err = merge(p.agg)
	}
	for _, sl := range o.windowSlices(w) {
		if err != nil {
			break
		}
		if sl.frozen != nil {
			err = t.MergePartial(o.tc.Eval, sl.frozen)
		} else {
			err = merge(sl.agg)
		}
	}
	if err != nil {
		t.Release()
		return nil, err
	}
	return t, nil
}

func (o *WindowAggOp) closeSlices() {
	for _, sl := range o.slices {
		sl.release()
	}
	o.slices = nil
	o.spiller.Close()
}

// sliceColumn returns the slice starts of a batch of partial states (before its key
// hash).
func sliceColumn(rec arrow.RecordBatch) (*array.Int64, bool) {
	c, ok := rec.Column(int(rec.NumCols()) - 2).(*array.Int64)
	return c, ok
}
