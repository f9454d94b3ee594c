package window

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Pre-aggregation of event-time windows in batch mode (agg/preagg.go has the group_by's):
// each subtask before the hash exchange aggregates its rows per key and per slice, and
// sends partial states; the window aggregation merges each slice's partial state into
// every window that covers the slice. Slices are the windows themselves for tumbling
// windows, the greatest common divisor of size and slide for sliding windows and the step
// for cumulate windows (as Flink's window slicing): every window is a whole number of
// slices, so a slice's rows are in exactly the windows that contain its start.
//
// A slice is sent on before the watermark that closes the first window over it, so the
// window aggregation has every partial state of a window before it fires, as it would
// have the rows; in batch mode no row is late, so no slice comes after its windows
// fired. (In streaming mode lateness is judged row by row against the watermark of each
// row's source split, which partial states of many rows cannot keep: the planner uses
// pre-aggregation in batch mode only; nor for session windows, processing time or the
// late-rows output; nor, where windows span several slices, for aggregations of rows'
// positions: PreAggregatable.) Rows without an event time pass through, for the window aggregation
// to count them late. The adaptive stop (agg.Adaptive) counts the groups of all open
// slices.

// PreAggregatable reports whether a window aggregation over windows w with aggregations
// aggs can be pre-aggregated by slice: not session windows; and where a window spans
// several slices (sliding, cumulate), no aggregation that depends on rows' positions
// (first, last, max_by, min_by, arg_max, arg_min): a batch's rows of one window are then
// split over slices, whose positions do not compare.
func PreAggregatable(w Windower, aggs []agg.Spec) bool {
	if w.SliceSize() == 0 || !agg.PreAggregatable(aggs) {
		return false
	}
	if w.Kind == "tumbling" {
		return true
	}
	for _, a := range aggs {
		switch a.Fn {
		case "first", "last", "max_by", "min_by", "arg_max", "arg_min":
			return false
		}
	}
	return true
}

// SliceSize is the length of the slices of windows w (0 for session windows).
func (w Windower) SliceSize() int64 {
	switch w.Kind {
	case "tumbling":
		return w.size
	case "sliding":
		a, b := w.size, w.slide
		for b != 0 {
			a, b = b, a%b
		}
		return a
	case "cumulate":
		return w.step
	}
	return 0
}

// sliceOf is the start of the slice of event time ts.
func (w Windower) sliceOf(ts, slice int64) int64 {
	return expr.FloorDiv(ts-w.offs, slice)*slice + w.offs
}

// SliceField is the partial states' column of slice starts (µs).
var SliceField = arrow.Field{Name: "slice_start", Type: arrow.PrimitiveTypes.Int64}

// PreWindowAggOp pre-aggregates rows per key and slice. Partial is
// agg.PartialSchema(KeyTypes, Aggs, SliceField).
type PreWindowAggOp struct {
	runtime.BaseOp
	Name      string
	Keys      []expr.Expr
	KeyTypes  []arrow.DataType
	Aggs      []agg.Spec
	Win       Windower
	TimeIdx   int
	Partial   *arrow.Schema
	BatchSize int
	agg.Adaptive

	tc     *runtime.TaskCtx
	slice  int64
	slices map[int64]*agg.Table
	groups int // over all slices
	// lastGroups: the groups of the last slice flushed; a new slice's table starts at that
	// size or its predecessor's (up to maxSizedGroups).
	lastGroups int
	passing    bool
	hashes     agg.KeyHashes
	ts         []int64
	idxFree    [][]int32 // lists of row numbers by slice, kept from batch to batch
}

var _ runtime.PreBarrier = (*PreWindowAggOp)(nil)

func (o *PreWindowAggOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	if o.BatchSize <= 0 {
		o.BatchSize = 65536
	}
	o.slice = o.Win.SliceSize()
	o.slices = map[int64]*agg.Table{}
	o.hashes = agg.KeyHashes{Name: o.Name, Keys: o.Keys, Off: !agg.HashesWorthCarrying(o.KeyTypes)}
	return nil
}

// Passing reports whether the pre-aggregation has stopped (rows pass through).
func (o *PreWindowAggOp) Passing() bool { return o.passing }

func (o *PreWindowAggOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	if o.passing {
		return o.pass(m, m.Rec, out)
	}
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	o.ts = expr.EventTimes(rec.Column(o.TimeIdx), o.ts)
	rows := map[int64][]int32{}
	defer func() { // the row lists go back for the next batch
		for _, idx := range rows {
			o.idxFree = append(o.idxFree, idx[:0])
		}
	}()
	var untimed []int32
	// Rows mostly come in runs of one slice: the run's list is kept at hand and put in
	// the map when the slice changes (a map access per row was a tenth of the CPU).
	cur, curS, inRun := []int32(nil), int64(0), false
	for i, t := range o.ts[:n] {
		if t == math.MinInt64 {
			untimed = append(untimed, int32(i))
			continue
		}
		s := o.Win.sliceOf(t, o.slice)
		if !inRun || s != curS {
			if inRun {
				rows[curS] = cur
			}
			cur, curS, inRun = rows[s], s, true
			if cur == nil {
				cur = o.rowList(n)
			}
		}
		cur = append(cur, int32(i))
	}
	if inRun {
		rows[curS] = cur
	}
	if len(untimed) > 0 {
		lr, err := runtime.TakeRows(o.tc.Eval, rec, untimed)
		if err != nil {
			return err
		}
		if err := o.pass(m, lr, out); err != nil {
			return err
		}
	}
	starts := make([]int64, 0, len(rows))
	for s := range rows {
		starts = append(starts, s)
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	created := 0
	for _, s := range starts {
		t := o.slices[s]
		if t == nil {
			hint := o.lastGroups
			if prev := o.slices[s-o.slice]; prev != nil {
				hint = max(hint, prev.NumGroups())
			}
			t = agg.NewTableSized(o.Name, o.Keys, o.KeyTypes, o.Aggs, min(hint, maxSizedGroups))
			o.slices[s] = t
		}
		sub := rec
		if idx := rows[s]; len(idx) != n {
			var err error
			if sub, err = runtime.TakeRows(o.tc.Eval, rec, idx); err != nil {
				return err
			}
		} else {
			rec.Retain()
		}
		before := t.NumGroups()
		_, err := t.Consume(o.tc.Eval, sub, m.Seq)
		sub.Release()
		if err != nil {
			return err
		}
		created += t.NumGroups() - before
	}
	o.groups += created
	flush, pass := o.Folded(int64(n-len(untimed)), created, o.groups)
	o.passing = pass
	if flush {
		return o.flush(math.MaxInt64, out)
	}
	return nil
}

// rowList returns an empty list of row numbers, one a batch before used if there is one.
func (o *PreWindowAggOp) rowList(n int) []int32 {
	if k := len(o.idxFree); k > 0 {
		l := o.idxFree[k-1]
		o.idxFree = o.idxFree[:k-1]
		return l
	}
	return make([]int32, 0, n)
}

// pass sends rows on, with their key hash unless that is off (it takes rec).
func (o *PreWindowAggOp) pass(m runtime.Message, rec arrow.RecordBatch, out runtime.Emitter) error {
	if o.hashes.Off {
		return out.Emit(m.With(rec))
	}
	defer rec.Release()
	if rec.NumRows() == 0 {
		return nil
	}
	h, err := o.hashes.Append(o.tc.Eval, rec)
	if err != nil {
		return err
	}
	return out.Emit(m.With(h))
}

// flush sends on the partial states of the slices that end at or before upTo + 1.
func (o *PreWindowAggOp) flush(upTo int64, out runtime.Emitter) error {
	var starts []int64
	for s := range o.slices {
		if s+o.slice-1 <= upTo || upTo == math.MaxInt64 {
			starts = append(starts, s)
		}
	}
	sort.Slice(starts, func(i, j int) bool { return starts[i] < starts[j] })
	mem := o.tc.Eval.Mem
	for _, s := range starts {
		t := o.slices[s]
		delete(o.slices, s)
		n := t.NumGroups()
		o.groups -= n
		o.lastGroups = n
		if n == 0 {
			t.Release()
			continue
		}
		b := array.NewInt64Builder(mem)
		for i := 0; i < n; i++ {
			b.Append(s)
		}
		sc := b.NewArray()
		b.Release()
		rec, err := t.PartialBatch(mem, o.Partial, sc)
		sc.Release()
		t.Release()
		if err != nil {
			return err
		}
		if err := runtime.EmitSliced(rec, o.BatchSize, out); err != nil {
			return err
		}
	}
	if upTo == math.MaxInt64 {
		o.Sent()
	}
	return nil
}

// ProcessWatermark sends on the slices of the windows the watermark closes, ahead of it.
func (o *PreWindowAggOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if err := o.flush(wm, out); err != nil {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

// FlushBeforeBarrier implements runtime.PreBarrier: every slice goes out ahead of the
// barrier, so the pre-aggregation has no state of its own.
func (o *PreWindowAggOp) FlushBeforeBarrier(out runtime.Emitter) error {
	return o.flush(math.MaxInt64, out)
}

func (o *PreWindowAggOp) Finish(out runtime.Emitter) error { return o.flush(math.MaxInt64, out) }

func (o *PreWindowAggOp) Close() {
	for _, t := range o.slices {
		t.Release()
	}
	o.slices = nil
}
