package join

import (
	"cmp"
	"math"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Joins of two keyed streams in event time. Both inputs are hash-partitioned by their
// join keys, so rows with equal keys meet in one subtask; a shared grouper turns the keys
// of either side into one key id.

// joinSpec is what every join operator needs from binding.
type Spec struct {
	Name                string
	How                 string
	NullsEqual          bool // null keys match null keys (else a null key matches nothing)
	LeftKeys, RightKeys []expr.Expr
	KeyTypes            []arrow.DataType
	LeftSchema          *arrow.Schema
	RightSchema         *arrow.Schema
	LeftTime, RightTime int // event-time columns
	RightKeep           []int
	LeftKeep            []int // event-time joins: the left columns in the output (nil: all)
	Schema              *arrow.Schema
	Win                 window.Windower
	// WindowHow is the kind of a window join: "inner" (or empty), "left", "right",
	// "full", "semi" or "anti".
	WindowHow string
	// NullAware: an anti window join with SQL's NOT IN semantics (WindowJoinOp).
	NullAware bool
	// WindowTime: window joins add window_time after window_end (expr.WindowColumns).
	WindowTime   bool
	Lower, Upper int64
	TimeType     arrow.DataType
	// As-of joins: Strategy is "backward", "forward" or "nearest"; a match farther than
	// Tolerance (µs, if HasTolerance) is none.
	Strategy     string
	Tolerance    int64
	HasTolerance bool
}

func ParseSignedDuration(s string) (int64, error) {
	neg := len(s) > 0 && s[0] == '-'
	if neg || (len(s) > 0 && s[0] == '+') {
		s = s[1:]
	}
	d, err := plan.ParseDuration(s)
	if neg {
		d = -d
	}
	return d, err
}

// joinSide is the state of one input of a join operator.
type joinSide struct {
	store keyed.RowStore
	buf   []int64
}

// JoinBase holds what all join operators share.
type JoinBase struct {
	runtime.BaseOp
	Spec   *Spec
	tc     *runtime.TaskCtx
	wm     int64
	keys   *keyed.Grouper
	sides  [2]joinSide
	ids    []uint32
	EmitSz int
	spill  *keyed.Spill // nil: state in memory
}

func (j *JoinBase) openBase(tc *runtime.TaskCtx) {
	j.tc = tc
	j.wm = math.MinInt64
	j.keys = keyed.NewGrouper(j.Spec.KeyTypes)
	// Both sides share one memory cap (with spilling, state_backend="pebble").
	// The key ids count against it (each kind adds its own index: SetIndex).
	sp := keyed.NewSpill(tc, j.Spec.Name)
	j.spill = sp
	sp.SetIndex(j.keys.MemBytes)
	j.sides[0].store.Init(j.Spec.LeftSchema, sp)
	j.sides[1].store.Init(j.Spec.RightSchema, sp)
}

// keyIDs returns the key id of each row of a batch from one side.
func (j *JoinBase) keyIDs(side int, rec arrow.RecordBatch) ([]uint32, error) {
	exprs := j.Spec.LeftKeys
	if side == 1 {
		exprs = j.Spec.RightKeys
	}
	if len(exprs) == 0 { // a cross join: every row has the one key
		return make([]uint32, rec.NumRows()), nil
	}
	cols, err := runtime.EvalColumns(j.tc.Eval, exprs, rec)
	if err != nil {
		return nil, err
	}
	defer runtime.ReleaseAll(cols)
	ids := make([]uint32, rec.NumRows())
	if err := j.keys.Consume(j.tc.Eval.Ctx, cols, ids); err != nil {
		return nil, err
	}
	if !j.Spec.NullsEqual {
		markNullKeys(cols, ids)
	}
	return ids, nil
}

// markNullKeys sets the key id of rows with a null key to nullKey: a null key matches
// nothing (as in SQL). A column of the null type has no validity bitmap (arrow-go's
// IsNull is false there), yet every value of it is null.
func markNullKeys(cols []arrow.Array, ids []uint32) {
	for _, c := range cols {
		if c.DataType().ID() == arrow.NULL {
			for i := range ids {
				ids[i] = nullKey
			}
			break
		}
		if c.NullN() == 0 {
			continue
		}
		for i := range ids {
			if c.IsNull(i) {
				ids[i] = nullKey
			}
		}
	}
}

// nullKey is the key id of rows with a null join key: they never match.
const nullKey = keyed.NoGroup

func (j *JoinBase) times(side int, rec arrow.RecordBatch) []int64 {
	col := j.Spec.LeftTime
	if side == 1 {
		col = j.Spec.RightTime
	}
	j.sides[side].buf = expr.EventTimes(rec.Column(col), j.sides[side].buf)
	return j.sides[side].buf
}

// arrive returns the key ids and event times of a batch from one side (nil ids for an
// empty batch).
func (j *JoinBase) arrive(m runtime.Message) ([]uint32, []int64, error) {
	if m.Rec.NumRows() == 0 {
		return nil, nil, nil
	}
	ids, err := j.keyIDs(m.Side, m.Rec)
	if err != nil {
		return nil, nil, err
	}
	return ids, j.times(m.Side, m.Rec), nil
}

// emitPairs builds output rows from pairs of left and right rows (right refs may be
// negative: no match) plus extra trailing columns.
func (j *JoinBase) emitPairs(left, right []keyed.RowRef, extra []arrow.Array, out runtime.Emitter) error {
	defer runtime.ReleaseAll(extra)
	if len(left) == 0 {
		return nil
	}
	ctx := j.tc.Eval.Ctx
	lcols, err := j.sides[0].store.Gather(ctx, left)
	if err != nil {
		return err
	}
	defer runtime.ReleaseAll(lcols)
	var rcols []arrow.Array
	if len(j.Spec.RightKeep) > 0 { // semi and anti joins keep no right column
		if rcols, err = j.sides[1].store.Gather(ctx, right); err != nil {
			return err
		}
		defer runtime.ReleaseAll(rcols)
	}
	cols := append([]arrow.Array{}, lcols...)
	if j.Spec.LeftKeep != nil {
		cols = cols[:0]
		for _, i := range j.Spec.LeftKeep {
			cols = append(cols, lcols[i])
		}
	}
	for _, i := range j.Spec.RightKeep {
		cols = append(cols, rcols[i])
	}
	cols = append(cols, extra...)
	rec := array.NewRecordBatch(j.Spec.Schema, cols, int64(len(left)))
	return runtime.EmitSliced(rec, j.EmitSz, out)
}

// emitRows is how many pairs the join gathers into one output batch: EmitSz, and with
// spilling no more than fit the spill's OutputBytes (by the average size of the rows of
// either side), so that building the output does not take memory far beyond the cap.
func (j *JoinBase) emitRows() int {
	budget := j.spill.OutputBytes()
	if budget == 0 {
		return j.EmitSz
	}
	row := j.sides[0].store.AvgRowBytes() + j.sides[1].store.AvgRowBytes()
	return int(max(min(int64(j.EmitSz), budget/max(row, 1)), 1))
}

func (j *JoinBase) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (j *JoinBase) Close() {
	j.sides[0].store.Release()
	j.sides[1].store.Release()
	if j.keys != nil {
		j.keys.Free()
	}
}

// WindowJoinOp joins the rows of both sides that have equal keys and fall in the same
// window; each window is joined when the watermark passes its end, once: its output is
// appended, never updated. By Spec.WindowHow, a left (right, full) join also emits the
// rows of the left (right, both) side that matched no row of the window, padded with
// nulls; a semi (anti) join emits each left row that has (has no) match in the window
// once, with its left columns only; a null-aware anti join (SQL's NOT IN) only when the
// window has no right row, or the left key is not null and no right row of the window
// has an equal or a null key. A null key matches nothing: its rows are kept only
// on a side whose unmatched rows are emitted. Whether a row matched is not state: at the
// window's end both of its sides are complete.
type WindowJoinOp struct {
	JoinBase
	Win   window.Windower
	panes map[[2]int64]*joinPane
	wbuf  [][2]int64
	// What the panes' lists take (counted against the memory cap with spilling): the
	// keys of every pane's side and the capacity of their lists of rows.
	paneKeys, paneRefs int64
}

type joinPane struct {
	rows [2]map[uint32][]keyed.RowRef // per side: key id -> rows
}

func (o *WindowJoinOp) Open(tc *runtime.TaskCtx) error {
	o.openBase(tc)
	o.panes = map[[2]int64]*joinPane{}
	o.spill.SetIndex(o.indexBytes)
	return nil
}

// Estimate of Go's memory for a window's pane: its entry in the map of panes, the pane and
// its two maps.
const windowPaneBytes = 48 + 8 + 2*48

// indexBytes estimates the memory of the join's index of its rows (counted against the
// memory cap with spilling): the key ids, and each window's rows by side and key.
func (o *WindowJoinOp) indexBytes() int64 {
	return o.keys.MemBytes() + int64(len(o.panes))*windowPaneBytes + o.paneKeys*sliceEntryBytes + o.paneRefs*refBytes
}

// place adds row r of side, with key id k, to the rows of window w.
func (o *WindowJoinOp) place(w [2]int64, side int, k uint32, r keyed.RowRef) {
	p := o.panes[w]
	if p == nil {
		p = &joinPane{rows: [2]map[uint32][]keyed.RowRef{{}, {}}}
		o.panes[w] = p
	}
	old, ok := p.rows[side][k]
	if !ok {
		o.paneKeys++
	}
	rows := append(old, r)
	o.paneRefs += int64(cap(rows) - cap(old))
	p.rows[side][k] = rows
}

// forget uncounts the lists of a window once it is joined.
func (o *WindowJoinOp) forget(p *joinPane) {
	for side := range p.rows {
		for _, refs := range p.rows[side] {
			o.paneRefs -= int64(cap(refs))
		}
		o.paneKeys -= int64(len(p.rows[side]))
	}
}

func (o *WindowJoinOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	ids, ts, err := o.arrive(m)
	if ids == nil || err != nil {
		return err
	}
	chunk, err := o.sides[m.Side].store.Add(rec)
	if err != nil {
		return err
	}
	lateWM := runtime.LateWatermark(o.wm, m)
	var late int64
	keepUnmatched := o.unmatchedSides()
	for i, t := range ts {
		// A null key matches nothing: its row is kept only where it is emitted unmatched,
		// but counted as late all the same. A null-aware anti join (NOT IN) keeps the
		// right rows of null keys too, and only one right row per key and window (whether
		// there is one is all it asks).
		existence := o.Spec.NullAware && m.Side == 1
		drop := ids[i] == nullKey && !keepUnmatched[m.Side] && !existence
		o.wbuf = o.Win.Assign(t, o.wbuf[:0])
		placed, stored := 0, 0
		for _, w := range o.wbuf {
			if t == math.MinInt64 || w[1]-1 <= lateWM {
				continue
			}
			if drop {
				placed = -1
				break
			}
			placed++
			if p := o.panes[w]; existence && p != nil && len(p.rows[1][ids[i]]) > 0 {
				continue
			}
			o.place(w, m.Side, ids[i], keyed.RowRef{Chunk: chunk, Row: int32(i)})
			stored++
		}
		if placed == 0 {
			late++
		}
		// The store counts one reference per row kept in a window.
		o.sides[m.Side].store.Live[chunk] += stored - 1
	}
	if late > 0 {
		o.tc.Metrics.Late.Add(late)
	}
	o.sides[m.Side].store.Settle(chunk) // nothing kept: release now
	return nil
}

func (o *WindowJoinOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	// The pairs of all closed windows (in end order) are gathered from the row stores
	// together, a batch at a time: many small windows cost one take per stored chunk, not
	// one per window.
	var left, right []keyed.RowRef
	var starts, ends []int64
	var done []*joinPane
	flush := func() error {
		var err error
		if len(left) > 0 {
			var extra []arrow.Array
			if extra, err = expr.WindowColumns(o.tc.Eval, o.Spec.TimeType, starts, ends, o.Spec.WindowTime); err == nil {
				err = o.emitPairs(left, right, extra, out)
			}
		}
		for _, p := range done {
			for side := range p.rows {
				for _, refs := range p.rows[side] {
					for _, r := range refs {
						o.sides[side].store.Drop(r)
					}
				}
			}
			o.forget(p)
		}
		left, right, starts, ends, done = left[:0], right[:0], starts[:0], ends[:0], done[:0]
		return err
	}
	for _, w := range window.ClosedWindows(o.panes, wm) {
		p := o.panes[w]
		delete(o.panes, w)
		done = append(done, p)
		n := len(left)
		left, right = o.windowPairs(p, left, right)
		for range len(left) - n {
			starts, ends = append(starts, w[0]), append(ends, w[1])
		}
		if len(left) >= o.EmitSz {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

// unmatchedSides says which sides' rows the join emits without a match (or, for an anti
// join, only without one): those rows are kept even with a null key.
func (o *WindowJoinOp) unmatchedSides() [2]bool {
	switch o.Spec.WindowHow {
	case "left", "anti":
		return [2]bool{true, false}
	case "right":
		return [2]bool{false, true}
	case "full":
		return [2]bool{true, true}
	}
	return [2]bool{}
}

// windowPairs appends the output rows of a closed window (pairs of left and right rows;
// a negative ref: nulls), by key id in order: each key's matched pairs (or for semi and
// anti joins, its left rows with or without a match) and its unmatched left rows, then
// the unmatched right rows.
func (o *WindowJoinOp) windowPairs(p *joinPane, left, right []keyed.RowRef) ([]keyed.RowRef, []keyed.RowRef) {
	how := o.Spec.WindowHow
	keep := o.unmatchedSides()
	sorted := func(m map[uint32][]keyed.RowRef) []uint32 {
		keys := make([]uint32, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return keys
	}
	// NOT IN (a null-aware anti join): when the window has right rows, a left row of a
	// null key, or any left row if a right row has a null key, compares as NULL, never
	// true: it is not kept.
	unknown := o.Spec.NullAware && len(p.rows[1]) > 0
	rightNull := unknown && len(p.rows[1][nullKey]) > 0
	for _, k := range sorted(p.rows[0]) {
		rs := p.rows[1][k]
		if k == nullKey {
			rs = nil
		}
		for _, l := range p.rows[0][k] {
			switch {
			case how == "anti" && unknown && (k == nullKey || rightNull):
			case how == "semi" || how == "anti":
				if (len(rs) > 0) == (how == "semi") {
					left, right = append(left, l), append(right, noRow)
				}
			case len(rs) == 0:
				if keep[0] {
					left, right = append(left, l), append(right, noRow)
				}
			default:
				for _, r := range rs {
					left, right = append(left, l), append(right, r)
				}
			}
		}
	}
	if keep[1] {
		for _, k := range sorted(p.rows[1]) {
			if k != nullKey && len(p.rows[0][k]) > 0 {
				continue
			}
			for _, r := range p.rows[1][k] {
				left, right = append(left, noRow), append(right, r)
			}
		}
	}
	return left, right
}

// IntervalJoinOp joins a left row with every right row of the same key whose event time
// lies in [left + lower, left + upper]. Rows are kept until no future row of the other side
// can match them; rows behind the watermark are late and dropped.
type IntervalJoinOp struct {
	JoinBase
	kept [2]map[uint32]*timeIndex
	add  map[uint32][]timedRef // this batch's rows per key
}

// timeIndex holds rows of one key sorted by time, as a few sorted runs whose sizes at least
// halve from one to the next (merged as a binary counter): adding a batch costs O(log n)
// per row amortized and finding the rows in a time range O(log² n), whatever order rows
// come in — in batch mode, all of an unsorted input.
type timeIndex struct {
	runs [][]timedRef
}

// add appends rows (in any order) as a run, merging runs to keep their sizes halving.
func (x *timeIndex) add(rows []timedRef) {
	run := append([]timedRef(nil), rows...)
	slices.SortFunc(run, func(a, b timedRef) int { return cmp.Compare(a.ts, b.ts) })
	x.runs = append(x.runs, run)
	for n := len(x.runs); n >= 2 && len(x.runs[n-2]) <= 2*len(x.runs[n-1]); n = len(x.runs) {
		a, b := x.runs[n-2], x.runs[n-1]
		merged := make([]timedRef, 0, len(a)+len(b))
		for len(a) > 0 && len(b) > 0 {
			if b[0].ts < a[0].ts {
				merged, b = append(merged, b[0]), b[1:]
			} else {
				merged, a = append(merged, a[0]), a[1:]
			}
		}
		x.runs[n-2] = append(append(merged, a...), b...)
		x.runs = x.runs[:n-1]
	}
}

// each calls fn for every row with time in [lo, hi].
func (x *timeIndex) each(lo, hi int64, fn func(timedRef)) {
	for _, run := range x.runs {
		at := sort.Search(len(run), func(i int) bool { return run[i].ts >= lo })
		for ; at < len(run) && run[at].ts <= hi; at++ {
			fn(run[at])
		}
	}
}

// dropBefore removes the rows with time below t, calling fn for each; it reports whether
// rows remain.
func (x *timeIndex) dropBefore(t int64, fn func(timedRef)) bool {
	live := x.runs[:0]
	for _, run := range x.runs {
		at := sort.Search(len(run), func(i int) bool { return run[i].ts >= t })
		for _, c := range run[:at] {
			fn(c)
		}
		if at < len(run) {
			live = append(live, run[at:])
		}
	}
	x.runs = live
	return len(live) > 0
}

type timedRef struct {
	ts  int64
	ref keyed.RowRef
	seq runtime.Seq // input position (batch, then ref.row), to break ties of equal times
}

func (a timedRef) before(b timedRef) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if a.seq != b.seq {
		return a.seq.Less(b.seq)
	}
	return a.ref.Row < b.ref.Row
}

func (o *IntervalJoinOp) Open(tc *runtime.TaskCtx) error {
	o.openBase(tc)
	o.kept = [2]map[uint32]*timeIndex{{}, {}}
	o.add = map[uint32][]timedRef{}
	return nil
}

func (o *IntervalJoinOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	if rec.NumRows() == 0 {
		return nil
	}
	side, other := m.Side, 1-m.Side
	ids, err := o.keyIDs(side, rec)
	if err != nil {
		return err
	}
	ts := o.times(side, rec)
	store := &o.sides[side].store
	chunk, err := store.Add(rec)
	if err != nil {
		return err
	}
	lateWM := runtime.LateWatermark(o.wm, m)
	var left, right []keyed.RowRef
	kept := 0
	var late int64
	for i, t := range ts {
		if t == math.MinInt64 || t <= lateWM {
			late++
			continue
		}
		if ids[i] == nullKey {
			continue
		}
		me := keyed.RowRef{Chunk: chunk, Row: int32(i)}
		lo, hi := t+o.Spec.Lower, t+o.Spec.Upper // other side's times that match a left row
		if side == 1 {
			lo, hi = t-o.Spec.Upper, t-o.Spec.Lower
		}
		if x := o.kept[other][ids[i]]; x != nil {
			x.each(lo, hi, func(c timedRef) {
				if side == 0 {
					left, right = append(left, me), append(right, c.ref)
				} else {
					left, right = append(left, c.ref), append(right, me)
				}
			})
		}
		o.add[ids[i]] = append(o.add[ids[i]], timedRef{ts: t, ref: me})
		kept++
	}
	for k, rows := range o.add {
		x := o.kept[side][k]
		if x == nil {
			x = &timeIndex{}
			o.kept[side][k] = x
		}
		x.add(rows)
		delete(o.add, k)
	}
	store.Live[chunk] = kept
	if late > 0 {
		o.tc.Metrics.Late.Add(late)
	}
	err = o.emitPairs(left, right, nil, out)
	if kept == 0 { // only then: emitting may already have dropped rows that were kept
		store.Settle(chunk)
	}
	return err
}

func (o *IntervalJoinOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	// Future rows have times above wm. A left row at t matches right rows up to t+upper;
	// a right row at t matches left rows from t-upper.
	horizon := [2]int64{o.Spec.Upper, -o.Spec.Lower}
	for side := 0; side < 2; side++ {
		// A row at t can go once t + horizon < wm: drop times below wm - horizon.
		cut := int64(math.MaxInt64)
		if h := horizon[side]; wm != runtime.WatermarkMax {
			switch {
			case h > 0 && wm < math.MinInt64+h:
				cut = math.MinInt64
			case h >= 0 || wm <= math.MaxInt64+h:
				cut = wm - h
			}
		}
		store := &o.sides[side].store
		for k, x := range o.kept[side] {
			if !x.dropBefore(cut, func(c timedRef) { store.Drop(c.ref) }) {
				delete(o.kept[side], k)
			}
		}
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: intervalOutputWatermark(wm, o.Spec.Upper)})
}

// intervalOutputWatermark is the watermark an interval join passes on. A pair carries its
// left row's time, and a right row still to come (time above wm) pairs with left rows from
// its time - upper: with upper > 0 those are behind wm, so the watermark is held back by
// upper, or they would be late downstream.
func intervalOutputWatermark(wm, upper int64) int64 {
	switch {
	case wm == runtime.WatermarkMax || upper <= 0:
		return wm
	case wm < math.MinInt64+upper:
		return math.MinInt64
	}
	return wm - upper
}

// rightBefore orders right rows by time, then input order; rows an operator made (no input
// order) by their columns.
func (o *AsofJoinOp) rightBefore(a, b timedRef) bool {
	if a.ts != b.ts || a.seq != b.seq || a.seq != runtime.SeqUnordered {
		return a.before(b)
	}
	if c := o.sides[1].store.CompareRows(a.ref, b.ref); c != 0 {
		return c < 0
	}
	return a.before(b)
}

// sortRight sorts the right rows that arrived out of order into their keys' lists.
func (o *AsofJoinOp) sortRight() {
	for k, from := range o.unsorted {
		list := o.right[k]
		tail := list[from:]
		sort.Slice(tail, func(a, b int) bool { return o.rightBefore(tail[a], tail[b]) })
		if from > 0 && o.rightBefore(tail[0], list[from-1]) {
			merged := make([]timedRef, 0, len(list))
			a, b := list[:from], tail
			for len(a) > 0 && len(b) > 0 {
				if o.rightBefore(b[0], a[0]) {
					merged, b = append(merged, b[0]), b[1:]
				} else {
					merged, a = append(merged, a[0]), a[1:]
				}
			}
			list = append(append(merged, a...), b...)
		}
		o.right[k] = list
		delete(o.unsorted, k)
	}
}

// AsofJoinOp joins each left row with one right row of the same key, by time (a left
// join: no such row gives nulls). Strategy "backward": the latest right row at or before
// the left row's time (of right rows with equal times, the last in input order; for rows
// an operator made, which have none: the greatest by their columns); "forward": the
// first at or after it (of equal times the first); "nearest": the closer of the two
// (ties: the forward one; of right rows with the nearest time, the last: as in Polars).
// A match farther than the tolerance is none. A left row waits until the watermark
// reaches its time, and, forward or nearest, until no right row still to come could be
// a better match.
type AsofJoinOp struct {
	JoinBase
	pending []asofLeft
	arrived uint64
	right   map[uint32][]timedRef // per key, sorted by (time, input order) up to unsorted[key]
	// Right rows are appended as they come and sorted when the watermark needs them, so an
	// input out of time order (all of it, in batch mode) costs a sort, not an insertion each.
	unsorted map[uint32]int
}

type asofLeft struct {
	ts  int64
	ord uint64 // arrival order, so that sorting keeps equal times in it
	key uint32
	ref keyed.RowRef
}

func (o *AsofJoinOp) Open(tc *runtime.TaskCtx) error {
	o.openBase(tc)
	o.right = map[uint32][]timedRef{}
	o.unsorted = map[uint32]int{}
	return nil
}

func (o *AsofJoinOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	ids, ts, err := o.arrive(m)
	if ids == nil || err != nil {
		return err
	}
	store := &o.sides[m.Side].store
	chunk, err := store.Add(rec)
	if err != nil {
		return err
	}
	lateWM := runtime.LateWatermark(o.wm, m)
	kept := 0
	var late int64
	var noTime []keyed.RowRef // left rows of a null time: no match, out at once
	for i, t := range ts {
		ref := keyed.RowRef{Chunk: chunk, Row: int32(i)}
		if t == math.MinInt64 {
			// A null time matches nothing (as in Polars and DuckDB): a left row is
			// still a row of the result, with nulls; a right row is no candidate.
			if m.Side == 0 {
				noTime = append(noTime, ref)
				kept++
			}
			continue
		}
		if t <= lateWM {
			late++
			continue
		}
		if m.Side == 1 && ids[i] == nullKey {
			continue
		}
		if m.Side == 0 {
			o.pending = append(o.pending, asofLeft{t, o.arrived, ids[i], ref})
			o.arrived++
		} else {
			list := o.right[ids[i]]
			e := timedRef{ts: t, ref: ref, seq: m.Seq}
			if _, ok := o.unsorted[ids[i]]; !ok && len(list) > 0 && !o.rightBefore(list[len(list)-1], e) {
				o.unsorted[ids[i]] = len(list) // list[:len] is sorted
			}
			o.right[ids[i]] = append(list, e)
		}
		kept++
	}
	store.Live[chunk] = kept
	if late > 0 {
		o.tc.Metrics.Late.Add(late)
	}
	store.Settle(chunk)
	if len(noTime) > 0 {
		none := make([]keyed.RowRef, len(noTime))
		for i := range none {
			none[i] = keyed.RowRef{Chunk: -1}
		}
		err := o.emitPairs(noTime, none, nil, out)
		for _, l := range noTime {
			store.Drop(l)
		}
		if err != nil {
			return err
		}
	}
	return o.sides[1].store.Err() // a row compared could not be read back
}

func (o *AsofJoinOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	o.sortRight()
	if err := o.sides[1].store.Err(); err != nil { // a row compared could not be read back
		return err
	}
	// Emit left rows whose time the watermark has reached and whose match is settled, in
	// time order.
	slices.SortFunc(o.pending, func(a, b asofLeft) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		return cmp.Compare(a.ord, b.ord)
	})
	n := sort.Search(len(o.pending), func(i int) bool { return o.pending[i].ts > wm })
	var left, right []keyed.RowRef
	keep := o.pending[:0:0]
	for _, l := range o.pending[:n] {
		r, settled := o.match(l, wm)
		if !settled {
			keep = append(keep, l)
			continue
		}
		left, right = append(left, l.ref), append(right, r)
	}
	err := o.emitPairs(left, right, nil, out)
	for _, l := range left {
		o.sides[0].store.Drop(l)
	}
	o.pending = append(keep, o.pending[n:]...)
	if err != nil {
		return err
	}
	// Per key, right rows before cut can match no left row still to come (their times are
	// above the watermark) nor a pending one: only the latest at or before it can (as
	// the backward match).
	var lowest map[uint32]int64
	if o.Spec.Strategy != "backward" {
		lowest = map[uint32]int64{}
		for _, l := range o.pending {
			if t, ok := lowest[l.key]; !ok || l.ts < t {
				lowest[l.key] = l.ts
			}
		}
	}
	for k, list := range o.right {
		cut := wm
		if t, ok := lowest[k]; ok && t <= cut {
			// Forward matches of pending rows begin at their time: keep every row there.
			cut = t - 1
		}
		at := sort.Search(len(list), func(i int) bool { return list[i].ts > cut }) - 1
		if at > 0 {
			for _, c := range list[:at] {
				o.sides[1].store.Drop(c.ref)
			}
			o.right[k] = append(list[:0], list[at:]...)
		}
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

// match finds the right row a left row (at or below the watermark) joins with, by the
// strategy (a negative chunk: none), and whether that is settled: right rows still to
// come have times above wm, so a forward or nearest match may wait for them.
func (o *AsofJoinOp) match(l asofLeft, wm int64) (keyed.RowRef, bool) {
	none := keyed.RowRef{Chunk: -1}
	list := o.right[l.key]
	tol, hasTol := o.Spec.Tolerance, o.Spec.HasTolerance
	// back: the last right row at or before l; fwd: the first at or after it (of equal
	// times, the first in input order).
	back := sort.Search(len(list), func(k int) bool { return list[k].ts > l.ts }) - 1
	fwd := sort.Search(len(list), func(k int) bool { return list[k].ts >= l.ts })
	within := func(d int64) bool { return !hasTol || d <= tol }
	switch o.Spec.Strategy {
	case "forward":
		if fwd < len(list) && list[fwd].ts <= wm {
			if within(list[fwd].ts - l.ts) {
				return list[fwd].ref, true
			}
			return none, true
		}
		if wm == runtime.WatermarkMax || (hasTol && wm-l.ts >= tol) {
			return none, true // nothing within reach can still come
		}
		return none, false
	case "nearest":
		haveBack := back >= 0 && within(l.ts-list[back].ts)
		if fwd < len(list) && list[fwd].ts <= wm {
			df := list[fwd].ts - l.ts
			if haveBack && l.ts-list[back].ts < df {
				return list[back].ref, true // ties go to the later row, as in Polars
			}
			if within(df) {
				// Of right rows with that time, the last (as backward's), as in Polars.
				t := list[fwd].ts
				last := fwd + sort.Search(len(list)-fwd, func(k int) bool { return list[fwd+k].ts > t }) - 1
				return list[last].ref, true
			}
			return none, true
		}
		// Rows still to come are later than wm: farther than wm - l.ts.
		switch {
		case wm == runtime.WatermarkMax:
		case haveBack && wm-l.ts >= l.ts-list[back].ts:
		case hasTol && wm-l.ts >= tol:
		default:
			return none, false
		}
		if haveBack {
			return list[back].ref, true
		}
		return none, true
	}
	if back >= 0 && within(l.ts-list[back].ts) {
		return list[back].ref, true
	}
	return none, true
}
