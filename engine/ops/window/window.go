package window

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/plan"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Windows split into three parts, as bytewax does: the clock (event time from a column
// and the watermark, or processing time), the windower (which windows a row belongs to)
// and the window logic (an incremental hash aggregation per window).

// Windower assigns event times (µs) to windows [start, end).
type Windower struct {
	Kind                         string
	size, slide, Gap, step, offs int64
}

// maxWindows bounds how many windows one row may belong to (sliding / cumulate).
const maxWindows = 1000

func Compile(def *plan.WindowDef, name string) (Windower, error) {
	w := Windower{Kind: def.Kind}
	dur := func(field, v string, required bool) (int64, error) {
		if v == "" {
			if required {
				return 0, rberr.New(rberr.Plan, "%s: a %s window needs %s", name, def.Kind, field)
			}
			return 0, nil
		}
		d, err := plan.ParseDuration(v)
		if err != nil {
			return 0, rberr.New(rberr.Plan, "%s: window %s: %v", name, field, err)
		}
		if d <= 0 {
			return 0, rberr.New(rberr.Plan, "%s: window %s must be positive, got %q", name, field, v)
		}
		return d, nil
	}
	var err error
	if def.Offset != "" {
		// A negative offset (Flink's Time.hours(-8): days of UTC+8) shifts the windows
		// back: -7s of 10s windows is 3s.
		text, neg := strings.CutPrefix(strings.TrimSpace(def.Offset), "-")
		if w.offs, err = plan.ParseDuration(text); err != nil {
			return w, rberr.New(rberr.Plan, "%s: window offset: %v", name, err)
		}
		if neg {
			w.offs = -w.offs
		}
	}
	switch def.Kind {
	case "tumbling":
		w.size, err = dur("size", def.Size, true)
	case "sliding":
		if w.size, err = dur("size", def.Size, true); err == nil {
			w.slide, err = dur("every", def.Slide, true)
		}
		if err == nil && w.size/w.slide > maxWindows {
			err = rberr.New(rberr.Plan, "%s: a sliding window of %s every %s puts each row in %d windows; at most %d are allowed", name, def.Size, def.Slide, w.size/w.slide, maxWindows)
		}
	case "cumulate":
		if w.step, err = dur("step", def.Step, true); err == nil {
			w.size, err = dur("max_size", def.Size, true)
		}
		if err == nil && w.size%w.step != 0 {
			err = rberr.New(rberr.Plan, "%s: cumulate max_size %s must be a multiple of step %s", name, def.Size, def.Step)
		}
		if err == nil && w.size/w.step > maxWindows {
			err = rberr.New(rberr.Plan, "%s: cumulate windows of max_size %s and step %s are too many per row", name, def.Size, def.Step)
		}
	case "session":
		w.Gap, err = dur("gap", def.Gap, true)
	default:
		msg := fmt.Sprintf("%s: unknown window kind %q", name, def.Kind)
		if s := plan.Suggest(def.Kind, []string{"tumbling", "sliding", "session", "cumulate"}); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		err = rberr.New(rberr.Plan, "%s", msg)
	}
	return w, err
}

// CheckUnit refuses a window whose size, slide, step, gap or offset is not a whole number
// of the event-time column's unit (t): its bounds could not be written in the column's
// type (a 500 ms window over a timestamp[s] column came out with window_end ==
// window_start).
func (w Windower) CheckUnit(t arrow.DataType, name, col string) error {
	mul, div := expr.MicrosPer(t)
	if div != 1 || mul == 1 {
		return nil
	}
	for _, d := range []struct {
		what string
		v    int64
	}{{"size", w.size}, {"every", w.slide}, {"step", w.step}, {"gap", w.Gap}, {"offset", w.offs}} {
		if d.v%mul != 0 {
			return rberr.New(rberr.Plan, "%s: the window's %s (%s) is not a whole number of %s, the unit of the event-time column %q (%s); cast the column to a finer timestamp, e.g. col(%q).cast(rb.Timestamp(\"us\"))",
				name, d.what, time.Duration(d.v)*time.Microsecond, unitName(t), col, expr.TypeName(t), col)
		}
	}
	return nil
}

// unitName is the unit of an event-time column's type, in words.
func unitName(t arrow.DataType) string {
	if ts, ok := t.(*arrow.TimestampType); ok {
		return map[arrow.TimeUnit]string{arrow.Second: "seconds", arrow.Millisecond: "milliseconds"}[ts.Unit]
	}
	if t.ID() == arrow.DATE32 {
		return "days"
	}
	return "milliseconds" // int64 epoch milliseconds
}

// Assign appends the windows of event time ts to dst.
func (w Windower) Assign(ts int64, dst [][2]int64) [][2]int64 {
	switch w.Kind {
	case "tumbling":
		start := expr.FloorDiv(ts-w.offs, w.size)*w.size + w.offs
		return append(dst, [2]int64{start, start + w.size})
	case "sliding":
		last := expr.FloorDiv(ts-w.offs, w.slide)*w.slide + w.offs
		for start := last; start > ts-w.size; start -= w.slide {
			dst = append(dst, [2]int64{start, start + w.size})
		}
		return dst
	case "cumulate":
		start := expr.FloorDiv(ts-w.offs, w.size)*w.size + w.offs
		for end := start + w.step; end <= start+w.size; end += w.step {
			if end > ts {
				dst = append(dst, [2]int64{start, end})
			}
		}
		return dst
	}
	return dst
}

// pane is the state of one window: an incremental aggregation of its rows.
type pane struct {
	start, end int64
	agg        *agg.Table
	fired      bool
	touched    map[uint32]struct{} // groups updated by late rows since the last firing
	spilled    agg.Parts           // its groups spilled to disk (spill.go)
}

// WindowAggOp aggregates keyed (or non-keyed) rows per window. A window fires when the
// watermark passes its end; it stays open for allowed_lateness more, and each late row
// that still fits re-emits the updated result of its key. Rows later than that are
// dropped and counted, or emitted instead of results when the operator serves .late().
type WindowAggOp struct {
	runtime.BaseOp
	Name       string
	Keys       []expr.Expr
	KeyTypes   []arrow.DataType
	Aggs       []agg.Spec
	Schema     *arrow.Schema
	Win        Windower
	Lateness   int64
	TimeIdx    int
	TimeType   arrow.DataType
	Processing bool
	LateOutput bool
	BatchSize  int
	WindowTime bool // the output has window_time after window_end (expr.WindowColumns)
	// PreAgg: the input comes from a pre-aggregation (PreWindowAggOp, preagg.go): batches
	// of partial states per slice, or rows with their key hash as a last column.
	PreAgg bool

	tc    *runtime.TaskCtx
	wm    int64
	panes map[[2]int64]*pane
	// Slicing (sliced.go): the slice length (0: off), the live slices by start, how far
	// windows have taken their slices, and the schema of frozen slices.
	sliceLen int64
	slices   map[int64]*slice
	slicedTo int64
	partial  *arrow.Schema
	dirty    [][2]int64 // fired windows that late rows updated in this batch
	// The groups of the last window fired and of the last slice frozen: new tables start
	// at that size instead of growing to it.
	paneGroups, sliceGroups int
	ts                      []int64
	wbuf                    [][2]int64
	// Spilling (spill.go): nil keeps every window in memory.
	spiller   *agg.Spiller
	spillRows int64
}

func (o *WindowAggOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.wm = math.MinInt64
	o.panes = map[[2]int64]*pane{}
	o.openSpill(tc)
	o.openSlices()
	return nil
}

// maxSizedGroups bounds the size a new window's or slice's table starts at, so that a
// window that gets few rows (a late one) does not take a large table.
const maxSizedGroups = 1 << 18

// newTable returns a table for a new window or slice, sized for about groups groups.
func (o *WindowAggOp) newTable(groups int) *agg.Table {
	return agg.NewTableSized(o.Name, o.Keys, o.KeyTypes, o.Aggs, min(groups, maxSizedGroups))
}

func (o *WindowAggOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *WindowAggOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if o.PreAgg && agg.IsPartial(rec.Schema()) {
		return o.mergePartials(rec, out)
	}
	if o.Processing {
		now := time.Now().UnixMicro()
		o.ts = expr.Grow(o.ts[:0], n)[:n]
		for i := range o.ts {
			o.ts[i] = now
		}
	} else {
		o.ts = expr.EventTimes(rec.Column(o.TimeIdx), o.ts)
	}
	lateWM := o.wm
	if m.HasWM && m.WM > lateWM {
		lateWM = m.WM
	}
	rows := map[[2]int64][]int32{}
	var lateRows []int32
	var bySlice map[int64][]int32
	if o.sliceLen > 0 {
		bySlice = map[int64][]int32{}
		var c sliceCache
		for i, t := range o.ts {
			if t == math.MinInt64 { // null event time: cannot be placed in any window
				lateRows = append(lateRows, int32(i))
				continue
			}
			lateRows = o.route(int32(i), t, lateWM, bySlice, rows, lateRows, &c)
		}
		c.flush(bySlice)
	}
	for i, t := range o.ts {
		if bySlice != nil {
			break
		}
		if t == math.MinInt64 { // null event time: cannot be placed in any window
			lateRows = append(lateRows, int32(i))
			continue
		}
		o.wbuf = o.Win.Assign(t, o.wbuf[:0])
		accepted := false
		for _, w := range o.wbuf {
			if !o.Processing && w[1]-1+o.Lateness <= lateWM {
				continue // this window is already closed
			}
			rows[w] = append(rows[w], int32(i))
			accepted = true
		}
		if !accepted {
			lateRows = append(lateRows, int32(i))
		}
	}
	if err := countLate(o.tc, rec, m.Seq, lateRows, o.LateOutput, out); err != nil {
		return err
	}
	if o.LateOutput {
		// The late stream carries no results, but windows still track what is on time.
		return o.addToPanes(rec, m.Seq, rows, n, false)
	}
	if err := o.addToPanes(rec, m.Seq, rows, n, true); err != nil {
		return err
	}
	if len(bySlice) > 0 {
		if err := o.addToSlices(rec, m.Seq, bySlice, false); err != nil {
			return err
		}
	}
	// Updates go out before the cap is checked: a spilled table's group ids are gone.
	if err := o.emitUpdates(out); err != nil {
		return err
	}
	if o.overdue(rows) {
		// A late row (within the allowed lateness) opened a window the watermark has
		// passed: it fires now, as Flink's trigger fires on such an element, not at the
		// next watermark (which a stalled source may never send).
		if err := o.fire(o.wm, out); err != nil {
			return err
		}
	}
	return o.checkCap(n)
}

// overdue says whether a batch's rows went to a window that has not fired though the
// watermark has passed its end. (Rows of sliding windows go to slices only for windows
// the watermark has not passed: slices are merged into windows as it passes them.)
func (o *WindowAggOp) overdue(rows map[[2]int64][]int32) bool {
	if o.Processing || o.Lateness == 0 {
		return false
	}
	for w := range rows {
		if p := o.panes[w]; w[1]-1 <= o.wm && p != nil && !p.fired {
			return true
		}
	}
	return false
}

func (o *WindowAggOp) addToPanes(rec arrow.RecordBatch, seq runtime.Seq, rows map[[2]int64][]int32, n int, aggregate bool) error {
	ws := make([][2]int64, 0, len(rows))
	for w := range rows {
		ws = append(ws, w)
	}
	sortWindows(ws)
	for _, w := range ws {
		p := o.panes[w]
		if p == nil {
			p = &pane{start: w[0], end: w[1], agg: o.newTable(o.paneGroups)}
			o.panes[w] = p
		}
		if !aggregate {
			continue
		}
		sub, err := rowsOf(o.tc.Eval, rec, rows[w], n)
		if err != nil {
			return err
		}
		ids, err := p.agg.Consume(o.tc.Eval, sub, seq)
		sub.Release()
		if err != nil {
			return err
		}
		if p.fired {
			if p.touched == nil {
				p.touched = map[uint32]struct{}{}
				o.dirty = append(o.dirty, w)
			}
			for _, g := range ids {
				p.touched[g] = struct{}{}
			}
		}
	}
	return nil
}

// mergePartials folds partial states of slices (PreWindowAggOp) into every window over
// their slice. A window already closed takes none (in batch mode, where pre-aggregation
// runs, none is: a slice comes before the watermark that closes its windows).
func (o *WindowAggOp) mergePartials(rec arrow.RecordBatch, out runtime.Emitter) error {
	starts, ok := sliceColumn(rec)
	if !ok {
		return rberr.New(rberr.Internal, "%s: partial states without their slice", o.Name)
	}
	rows := map[[2]int64][]int32{}
	var late []int32
	var bySlice map[int64][]int32
	if o.sliceLen > 0 {
		bySlice = map[int64][]int32{}
		var c sliceCache
		for i, s := range starts.Int64Values() {
			late = o.route(int32(i), s, o.wm, bySlice, rows, late, &c)
		}
		c.flush(bySlice)
	}
	for i, s := range starts.Int64Values() {
		if bySlice != nil {
			break
		}
		o.wbuf = o.Win.Assign(s, o.wbuf[:0])
		accepted := false
		for _, w := range o.wbuf {
			if w[1]-1+o.Lateness <= o.wm {
				continue
			}
			rows[w] = append(rows[w], int32(i))
			accepted = true
		}
		if !accepted {
			late = append(late, int32(i))
		}
	}
	if len(late) > 0 {
		o.tc.Metrics.Late.Add(int64(len(late)))
	}
	ws := make([][2]int64, 0, len(rows))
	for w := range rows {
		ws = append(ws, w)
	}
	sortWindows(ws)
	n := int(rec.NumRows())
	for _, w := range ws {
		p := o.panes[w]
		if p == nil {
			p = &pane{start: w[0], end: w[1], agg: o.newTable(o.paneGroups)}
			o.panes[w] = p
		}
		sub, err := rowsOf(o.tc.Eval, rec, rows[w], n)
		if err != nil {
			return err
		}
		err = p.agg.MergePartial(o.tc.Eval, sub)
		sub.Release()
		if err != nil {
			return err
		}
	}
	if len(bySlice) > 0 {
		if err := o.addToSlices(rec, runtime.Seq{}, bySlice, true); err != nil {
			return err
		}
	}
	// Updates go out before the cap is checked: a spilled table's group ids are gone.
	if err := o.emitUpdates(out); err != nil {
		return err
	}
	return o.checkCap(n)
}

// ClosedWindows returns the windows of panes whose end the watermark has passed, in end
// order.
func ClosedWindows[V any](panes map[[2]int64]V, wm int64) [][2]int64 {
	var ws [][2]int64
	for w := range panes {
		if w[1]-1 <= wm {
			ws = append(ws, w)
		}
	}
	sortWindows(ws)
	return ws
}

// windowColumns builds window_start and window_end (and with withTime window_time)
// columns of n rows for one window.
// A bound outside the range of the time type is an error.
func windowColumns(ec *expr.EvalCtx, dt arrow.DataType, w [2]int64, n int, withTime bool) ([]arrow.Array, error) {
	starts, ends := make([]int64, n), make([]int64, n)
	for i := range starts {
		starts[i], ends[i] = w[0], w[1]
	}
	return expr.WindowColumns(ec, dt, starts, ends, withTime)
}

// countLate counts late rows and, for an operator that serves .late(), emits them, in
// the input order of their batch (seq): they are input rows.
func countLate(tc *runtime.TaskCtx, rec arrow.RecordBatch, seq runtime.Seq, rows []int32, emit bool, out runtime.Emitter) error {
	if len(rows) == 0 {
		return nil
	}
	tc.Metrics.Late.Add(int64(len(rows)))
	if !emit {
		return nil
	}
	lr, err := runtime.TakeRows(tc.Eval, rec, rows)
	if err != nil {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: lr, Seq: seq})
}

func sortWindows(ws [][2]int64) {
	sort.Slice(ws, func(i, j int) bool {
		if ws[i][1] != ws[j][1] {
			return ws[i][1] < ws[j][1]
		}
		return ws[i][0] < ws[j][0]
	})
}

// emitUpdates re-emits the results of keys that late rows changed in fired windows.
func (o *WindowAggOp) emitUpdates(out runtime.Emitter) error {
	dirty := o.dirty
	o.dirty = o.dirty[:0]
	sortWindows(dirty)
	for _, w := range dirty {
		p := o.panes[w]
		if p == nil || !p.fired || len(p.touched) == 0 {
			if p != nil {
				p.touched = nil
			}
			continue
		}
		gids := make([]uint32, 0, len(p.touched))
		for g := range p.touched {
			gids = append(gids, g)
		}
		sort.Slice(gids, func(i, j int) bool { return gids[i] < gids[j] })
		p.touched = nil
		if !p.spilled.Empty() {
			if err := o.emitSpilledUpdates(p, gids, out); err != nil {
				return err
			}
			continue
		}
		if err := o.emitPane(p, gids, out); err != nil {
			return err
		}
	}
	return nil
}

func (o *WindowAggOp) sortedPanes() [][2]int64 {
	ws := make([][2]int64, 0, len(o.panes))
	for w := range o.panes {
		ws = append(ws, w)
	}
	sortWindows(ws)
	return ws
}

// emitPane emits the results of groups gids (nil: all) of a window.
func (o *WindowAggOp) emitPane(p *pane, gids []uint32, out runtime.Emitter) error {
	n := p.agg.NumGroups()
	if gids != nil {
		n = len(gids)
	}
	if n == 0 {
		return nil
	}
	o.tc.Metrics.WindowsFired.Add(1)
	return o.emitGroups([2]int64{p.start, p.end}, p.agg, gids, out)
}

// emitGroups emits the results of groups gids (nil: all) of table t of window w.
func (o *WindowAggOp) emitGroups(w [2]int64, t *agg.Table, gids []uint32, out runtime.Emitter) error {
	n := t.NumGroups()
	if gids != nil {
		n = len(gids)
	}
	if n == 0 {
		return nil
	}
	mem := o.tc.Eval.Mem
	cols, err := t.KeyColumns(mem, gids)
	if err != nil {
		return err
	}
	wcols, err := windowColumns(o.tc.Eval, o.TimeType, w, n, o.WindowTime)
	if err != nil {
		runtime.ReleaseAll(cols)
		return rberr.Wrap(rberr.Data, err, "%s", o.Name)
	}
	cols = append(cols, wcols...)
	aggs, err := t.AggColumns(mem, gids)
	if err != nil {
		runtime.ReleaseAll(cols)
		return err
	}
	cols = append(cols, aggs...)
	rec := array.NewRecordBatch(o.Schema, cols, int64(n))
	runtime.ReleaseAll(cols)
	return runtime.EmitSliced(rec, o.BatchSize, out)
}

func (o *WindowAggOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	if err := o.fire(wm, out); err != nil {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

// fire emits every window whose end the clock has passed and drops windows whose
// allowed lateness is over.
func (o *WindowAggOp) fire(now int64, out runtime.Emitter) error {
	sliced := o.slicesToFire(now)
	ws := o.sortedPanes()
	if len(sliced) > 0 {
		for w := range sliced {
			if o.panes[w] == nil {
				ws = append(ws, w)
			}
		}
		sortWindows(ws)
	}
	for _, w := range ws {
		if w[1]-1 <= now && o.windowSpilled(w) {
			if p := o.panes[w]; p == nil || !p.fired {
				if err := o.fireSpilled(w, now, out); err != nil {
					return err
				}
				continue
			}
		}
		if ss, ok := sliced[w]; ok {
			if err := o.mergeSlices(w, ss); err != nil {
				return err
			}
		}
		p := o.panes[w]
		if !p.fired && p.end-1 <= now {
			p.fired = true
			o.paneGroups = p.agg.NumGroups()
			p.touched = nil
			if !o.LateOutput {
				if err := o.emitPane(p, nil, out); err != nil {
					return err
				}
			}
		}
		if p.fired && !o.keptForLateness(p, now) {
			o.dropPane(w, p)
		}
	}
	if sliced != nil {
		o.dropSlices(now)
	}
	return nil
}

// onTick fires processing-time windows.
func (o *WindowAggOp) onTick(out runtime.Emitter) error {
	if !o.Processing {
		return nil
	}
	return o.fire(time.Now().UnixMicro()-1, out)
}

func (o *WindowAggOp) tickInterval() time.Duration {
	if o.Processing {
		return 50 * time.Millisecond
	}
	return 0
}

func (o *WindowAggOp) Finish(out runtime.Emitter) error {
	// The final watermark has fired every event-time window; processing-time windows
	// fire at the end of a bounded input.
	if o.Processing {
		return o.fire(runtime.WatermarkMax, out)
	}
	return nil
}

func (o *WindowAggOp) Close() {
	for _, p := range o.panes {
		p.agg.Release()
	}
	o.panes = nil
	o.closeSlices()
}

// rowsOf returns the rows idx of rec (n rows), retained: rec itself when idx is all of them.
func rowsOf(ec *expr.EvalCtx, rec arrow.RecordBatch, idx []int32, n int) (arrow.RecordBatch, error) {
	if len(idx) == n {
		rec.Retain()
		return rec, nil
	}
	return runtime.TakeRows(ec, rec, idx)
}
