package over

import (
	"container/heap"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// FrameAggs are the aggregations a frame over preceding rows computes.
var FrameAggs = []string{"count", "sum", "mean", "min", "max"}

// FrameAgg is one aggregation over a frame of a partition's rows ordered by one column
// (SQL's OVER (PARTITION BY ... ORDER BY o ROWS|RANGE BETWEEN ... PRECEDING AND CURRENT
// ROW)): the current row and the N rows before it (Rows), or the rows whose order value
// is at least the current one's minus N (RANGE; rows of equal order value see each
// other), or every row so far (Unbounded).
type FrameAgg struct {
	Fn        string    // count, sum, mean, min or max
	Text      string    // the expression, for errors
	Arg       expr.Expr // nil: count of rows
	Float     bool      // values are kept as float64 (else int64)
	Rows      bool
	Unbounded bool
	N         int64 // rows (Rows) or order units (RANGE: µs for times) preceding
	OutType   arrow.DataType
}

// FrameOp computes FrameAggs per partition (Keys, by which the input is hash
// partitioned) in the order of the Order column. With Time (Order is the event time),
// rows wait until the watermark reaches their time, then are taken in (order value,
// input order) and emitted with their aggregates; rows behind the watermark on arrival
// are late: dropped and counted. Without Time (bounded input ordered by another column)
// every row waits for the end of the input. Output: the input's columns, then one per
// aggregation (Schema), in (order value, input order).
//
// State per partition: the rows its frames may still reach (their order value and
// aggregated values; the rows themselves are emitted once) and, for unbounded frames,
// running count, sum, min and max.
type FrameOp struct {
	runtime.BaseOp
	Name     string
	Keys     []expr.Expr
	KeyTypes []arrow.DataType
	Order    expr.Expr
	Time     bool
	Aggs     []FrameAgg
	InSchema *arrow.Schema
	Schema   *arrow.Schema
	Batch    int

	tc      *runtime.TaskCtx
	groups  *keyed.Grouper
	store   keyed.RowStore
	pending []frameRow // a heap (pendingHeap)
	parts   []*framePart
	wm      int64
	ts      []int64
	cold    *coldParts
}

// cell is one value of an aggregation's argument.
type cell struct {
	i  int64
	f  float64
	ok bool
}

// frameRow is a row waiting for the watermark. Its input order is seq, then row, its row
// in its input batch (not ref.Row, its place in the store, which a restore changes:
// pending rows are saved in heap order).
type frameRow struct {
	ts   int64
	seq  runtime.Seq
	row  int32
	key  uint32
	ref  keyed.RowRef
	vals []cell // per aggregation
}

// runAcc is an unbounded frame's running aggregate.
type runAcc struct {
	n      int64 // values (count(): rows)
	si, mi int64
	hi     int64 // the integer sum is hi*2^64 + si (wideSum)
	sf, mf float64
}

// framePart is one partition's state: the rows its bounded frames may still reach (from
// head on), each bounded frame's sliding window over them, and the running aggregates of
// its unbounded frames.
type framePart struct {
	head int
	ts   []int64
	vals [][]cell // per aggregation
	win  []winAcc // per aggregation (bounded frames)
	run  []runAcc // per aggregation (unbounded frames)
	seen bool     // a row was added
}

// winAcc is a bounded frame's aggregate of the rows from lo to the last one added: rows
// enter at the end and leave at the front, so count and integer sums add and subtract,
// and min / max keep the rows that may still be the extreme (a monotonic queue, dq).
// A float sum never subtracts (1e20 + 1 - 1e20 is 0, inf - inf is NaN): it is the sum of
// the rows from split on (sf, added as they enter) and the sum of those from lo to split,
// read from front, the sums of each row to split computed when lo passed the last split
// (the two stacks of sliding-window aggregation: each row summed twice at most).
type winAcc struct {
	lo int
	n  int64
	si int64
	hi int64 // the integer sum is hi*2^64 + si (wideSum)
	sf float64
	dq []int
	// float sums: front[i-fbase] is the sum of rows i to split-1
	split, fbase int
	front        []float64
}

func (p *framePart) add(ts int64, vals []cell, aggs []FrameAgg) error {
	p.seen = true
	p.ts = append(p.ts, ts)
	j := len(p.ts) - 1
	for a := range aggs {
		p.vals[a] = append(p.vals[a], vals[a])
		ag := &aggs[a]
		var err error
		if ag.Unbounded {
			err = p.run[a].add(ag, vals[a])
		} else {
			err = p.enter(ag, a, j)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// addSum adds value c to a running sum: sf for floats; for integers si, wrapping, with
// hi counting the wraps (hi*2^64 + si is the whole sum, wideSum), so that only a sum or
// mean a row gets is checked, not a running total on the way (a frame adds its new row
// before its oldest leaves).
func addSum(ag *FrameAgg, sf *float64, si, hi *int64, c cell) {
	if ag.Float {
		*sf += c.f
		return
	}
	s := *si + c.i
	if (s^*si)&(s^c.i) < 0 {
		if c.i > 0 {
			*hi++
		} else {
			*hi--
		}
	}
	*si = s
}

// wideSum is the integer sum hi*2^64 + si as a frame's sum (an error when it leaves
// int64) or mean.
func wideSum(ag *FrameAgg, si, hi, n int64) (cell, error) {
	if ag.Fn == "mean" {
		if hi == 0 {
			return cell{f: float64(si) / float64(n), ok: n > 0}, nil
		}
		return cell{f: expr.DecMeanFloat(decimal128.New(hi+(si>>63), uint64(si)), 0, n), ok: n > 0}, nil
	}
	if hi != 0 {
		return cell{}, rberr.New(rberr.Data, "%s overflows int64", ag.Text)
	}
	return cell{i: si, ok: n > 0}, nil
}

// enter adds row j to aggregation a's window.
func (p *framePart) enter(ag *FrameAgg, a, j int) error {
	w, c := &p.win[a], p.vals[a][j]
	if !c.ok {
		return nil
	}
	w.n++
	switch ag.Fn {
	case "sum", "mean":
		addSum(ag, &w.sf, &w.si, &w.hi, c)
	case "min", "max":
		for len(w.dq) > 0 && !p.beats(ag, a, w.dq[len(w.dq)-1], j) {
			w.dq = w.dq[:len(w.dq)-1]
		}
		w.dq = append(w.dq, j)
	}
	return nil
}

// beats reports whether row i's value stays the min / max over row j's, which came
// after it. NaN is greater than every number (as in sort and group_by's min and max): the
// max of a frame holding one, never its min unless every value is NaN.
func (p *framePart) beats(ag *FrameAgg, a, i, j int) bool {
	x, y := p.vals[a][i], p.vals[a][j]
	isMax := ag.Fn == "max"
	if ag.Float {
		return better(isMax, x.f, y.f)
	}
	return isMax && x.i > y.i || !isMax && x.i < y.i
}

// floatLess orders floats with NaN greater than every number.
func floatLess(a, b float64) bool {
	if a != a {
		return false
	}
	return b != b || a < b
}

// slide drops the rows before lo from aggregation a's window.
func (p *framePart) slide(ag *FrameAgg, a, lo int) {
	w := &p.win[a]
	for ; w.lo < lo; w.lo++ {
		c := p.vals[a][w.lo]
		if !c.ok {
			continue
		}
		w.n--
		s := w.si - c.i
		if (w.si^c.i)&(w.si^s) < 0 { // wrapped: the whole sum is kept in hi
			if c.i > 0 {
				w.hi--
			} else {
				w.hi++
			}
		}
		w.si = s
		if len(w.dq) > 0 && w.dq[0] == w.lo {
			w.dq = w.dq[1:]
		}
	}
	if w.n == 0 {
		w.si, w.hi, w.dq = 0, 0, w.dq[:0]
	}
	if ag.Float && (ag.Fn == "sum" || ag.Fn == "mean") && w.lo >= w.split {
		// The rows before split have all left: the rows of the window become the front,
		// each with its sum to the end, and the rows after them are summed afresh.
		end := len(p.ts)
		w.front = w.front[:0]
		for i := end - 1; i >= w.lo; i-- {
			acc := 0.0
			if len(w.front) > 0 {
				acc = w.front[len(w.front)-1]
			}
			if c := p.vals[a][i]; c.ok {
				acc += c.f
			}
			w.front = append(w.front, acc)
		}
		slices.Reverse(w.front)
		w.split, w.fbase, w.sf = end, w.lo, 0
	}
}

// floatSum is the sum of a bounded float frame's window (slide has run).
func (w *winAcc) floatSum() float64 {
	if w.lo < w.split {
		return w.front[w.lo-w.fbase] + w.sf
	}
	return w.sf
}

// winResult is aggregation a's aggregate of its window.
func (p *framePart) winResult(ag *FrameAgg, a int) (cell, error) {
	w := &p.win[a]
	switch ag.Fn {
	case "count":
		return cell{i: w.n, ok: true}, nil
	case "sum", "mean":
		if !ag.Float {
			return wideSum(ag, w.si, w.hi, w.n)
		}
		if ag.Fn == "mean" {
			return cell{f: w.floatSum() / float64(w.n), ok: w.n > 0}, nil
		}
		return cell{f: w.floatSum(), ok: w.n > 0}, nil
	}
	if w.n == 0 {
		return cell{}, nil
	}
	return p.vals[a][w.dq[0]], nil
}

func (r *runAcc) add(a *FrameAgg, c cell) error {
	if !c.ok {
		return nil
	}
	if r.n == 0 {
		r.mi, r.mf = c.i, c.f
	}
	r.n++
	switch a.Fn {
	case "sum", "mean":
		addSum(a, &r.sf, &r.si, &r.hi, c)
	case "min", "max":
		if a.Float {
			if better(a.Fn == "max", c.f, r.mf) {
				r.mf = c.f
			}
		} else if (a.Fn == "max" && c.i > r.mi) || (a.Fn == "min" && c.i < r.mi) {
			r.mi = c.i
		}
	}
	return nil
}

// sfOrHi is what r keeps in its saved float sum (the state's sf column): the float sum,
// or for an integer aggregation, which has none, its wraps (hi, a whole number far
// below 2^53), so that a running sum beyond int64 survives a checkpoint in the same
// format (hi is 0 in a state saved before sums wrapped).
func (r *runAcc) sfOrHi(a *FrameAgg) float64 {
	if a.Float {
		return r.sf
	}
	return float64(r.hi)
}

// setSfOrHi sets from a saved float sum what sfOrHi saved.
func (r *runAcc) setSfOrHi(a *FrameAgg, v float64) {
	if a.Float {
		r.sf = v
	} else {
		r.hi = int64(v)
	}
}

// better: a replaces b as the min / max (NaN greater than every number).
func better(isMax bool, a, b float64) bool {
	if isMax {
		return floatLess(b, a)
	}
	return floatLess(a, b)
}

// result is the aggregate of r.
func (r *runAcc) result(a *FrameAgg) (cell, error) {
	switch a.Fn {
	case "count":
		return cell{i: r.n, ok: true}, nil
	case "sum", "mean":
		if !a.Float {
			return wideSum(a, r.si, r.hi, r.n)
		}
		if a.Fn == "mean" {
			return cell{f: r.sf / float64(r.n), ok: r.n > 0}, nil
		}
		return cell{f: r.sf, ok: r.n > 0}, nil
	}
	return cell{i: r.mi, f: r.mf, ok: r.n > 0}, nil
}

// evict drops the rows before every bounded frame's window (all rows without one).
func evict(aggs []FrameAgg, p *framePart) {
	lo := len(p.ts)
	for a := range aggs {
		if !aggs[a].Unbounded {
			lo = min(lo, p.win[a].lo)
		}
	}
	p.head = max(p.head, lo)
	if p.head > 64 && p.head*2 > len(p.ts) { // give the space of dropped rows back
		h := p.head
		p.ts = append([]int64(nil), p.ts[h:]...)
		for a := range p.vals {
			p.vals[a] = append([]cell(nil), p.vals[a][h:]...)
			w := &p.win[a]
			w.lo -= h
			w.split -= h
			w.fbase -= h
			if aggs[a].Unbounded {
				w.lo, w.split, w.fbase, w.front = 0, 0, 0, nil
			}
			dq := make([]int, len(w.dq))
			for i, j := range w.dq {
				dq[i] = j - h
			}
			w.dq = dq
		}
		p.head = 0
	}
}

func satSub(a, b int64) int64 {
	if a < math.MinInt64+b {
		return math.MinInt64
	}
	return a - b
}

func (o *FrameOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.groups = keyed.NewGrouper(o.KeyTypes)
	sp := keyed.NewSpill(tc, o.Name)
	if sp != nil {
		sp.SetIndex(o.indexBytes)
	}
	o.store.Init(o.InSchema, sp)
	o.wm = math.MinInt64
	o.cold = newColdParts(tc, o)
	return nil
}

func (o *FrameOp) Close() {
	if o.cold != nil {
		o.cold.Close()
	}
	o.store.Release()
	if o.groups != nil {
		o.groups.Free()
	}
}

func (o *FrameOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *FrameOp) part(key uint32) *framePart {
	for len(o.parts) <= int(key) {
		o.parts = append(o.parts, nil)
	}
	p := o.parts[key]
	if p == nil {
		p = newFramePart(len(o.Aggs))
		o.parts[key] = p
	}
	return p
}

func newFramePart(naggs int) *framePart {
	return &framePart{vals: make([][]cell, naggs), win: make([]winAcc, naggs), run: make([]runAcc, naggs)}
}

// rowsOf evaluates rec's partition keys, order values and aggregated values.
func (o *FrameOp) rowsOf(rec arrow.RecordBatch) (ids []uint32, ts []int64, vals [][]cell, err error) {
	ec := o.tc.Eval
	n := int(rec.NumRows())
	ids = make([]uint32, n)
	if len(o.Keys) > 0 {
		cols, err := runtime.EvalColumns(ec, o.Keys, rec)
		if err != nil {
			return nil, nil, nil, err
		}
		err = o.groups.Consume(ec.Ctx, cols, ids)
		runtime.ReleaseAll(cols)
		if err != nil {
			return nil, nil, nil, err
		}
	}
	oc, err := runtime.EvalColumns(ec, []expr.Expr{o.Order}, rec)
	if err != nil {
		return nil, nil, nil, err
	}
	defer runtime.ReleaseAll(oc)
	if ts, err = orderValues(oc[0], o.Time); err != nil {
		return nil, nil, nil, err
	}
	if !o.Time {
		for i, t := range ts {
			if t == math.MinInt64 {
				return nil, nil, nil, rberr.New(rberr.Data, "%s: the order_by value %s is null in a row; frames need every row's order_by value (filter the nulls out first)", o.Name, o.Order)
			}
			_ = i
		}
	}
	vals = make([][]cell, len(o.Aggs)) // per aggregation, per row
	for a := range o.Aggs {
		ag := &o.Aggs[a]
		var vs []cell
		if ag.Arg == nil {
			vs = make([]cell, n)
			for i := range vs {
				vs[i].ok = true
			}
			vals[a] = vs
			continue
		}
		cs, err := runtime.EvalColumns(ec, []expr.Expr{ag.Arg}, rec)
		if err != nil {
			return nil, nil, nil, rberr.Wrap(rberr.KindOf(err), err, "%s: %s", o.Name, ag.Text)
		}
		vs, err = cellsOf(ag, cs[0])
		cs[0].Release()
		if err != nil {
			return nil, nil, nil, err
		}
		vals[a] = vs
	}
	return ids, ts, vals, nil
}

func (o *FrameOp) ProcessBatch(m runtime.Message, _ runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	ids, ts, vals, err := o.rowsOf(rec)
	if err != nil {
		return err
	}
	chunk, err := o.store.Add(rec)
	if err != nil {
		return err
	}
	lateWM := runtime.LateWatermark(o.wm, m)
	kept := 0
	for i, t := range ts {
		if o.Time && (t == math.MinInt64 || t <= lateWM) {
			o.tc.Metrics.Late.Add(1)
			continue
		}
		r := frameRow{ts: t, seq: m.Seq, row: int32(i), key: ids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}, vals: make([]cell, len(o.Aggs))}
		for a := range o.Aggs {
			r.vals[a] = vals[a][i]
		}
		o.pending = append(o.pending, r)
		heap.Fix(pendingHeap{o}, len(o.pending)-1)
		kept++
	}
	o.store.Live[chunk] = kept
	o.store.Settle(chunk)
	return nil
}

func (o *FrameOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	if o.Time || wm == runtime.WatermarkMax {
		if err := o.release(wm, out); err != nil {
			return err
		}
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

// pendingHeap orders the pending rows by (order value, input order); rows an operator
// made, without input order, by their columns.
type pendingHeap struct{ o *FrameOp }

func (h pendingHeap) Len() int { return len(h.o.pending) }
func (h pendingHeap) Swap(i, j int) {
	p := h.o.pending
	p[i], p[j] = p[j], p[i]
}
func (h pendingHeap) Push(x any) { h.o.pending = append(h.o.pending, x.(frameRow)) }
func (h pendingHeap) Pop() any {
	p := h.o.pending
	r := p[len(p)-1]
	h.o.pending = p[:len(p)-1]
	return r
}
func (h pendingHeap) Less(i, j int) bool {
	x, y := &h.o.pending[i], &h.o.pending[j]
	if x.ts != y.ts {
		return x.ts < y.ts
	}
	if x.seq != y.seq {
		return x.seq.Less(y.seq)
	}
	if x.seq == runtime.SeqUnordered { // rows without input order: by their columns
		if c := h.o.store.CompareRows(x.ref, y.ref); c != 0 {
			return c < 0
		}
	}
	return x.row < y.row
}

func (o *FrameOp) Finish(out runtime.Emitter) error { return o.release(math.MaxInt64, out) }

// release computes and emits the pending rows up to wm, in (order value, input order).
func (o *FrameOp) release(wm int64, out runtime.Emitter) error {
	if len(o.pending) == 0 {
		return nil
	}
	// Pending rows are a heap in (order value, input order): take those the watermark
	// passed, in order.
	h := pendingHeap{o}
	var rows []frameRow
	for len(o.pending) > 0 && o.pending[0].ts <= wm {
		rows = append(rows, o.pending[0])
		last := len(o.pending) - 1
		o.pending[0] = o.pending[last]
		o.pending = o.pending[:last]
		if last > 0 {
			heap.Fix(h, 0)
		}
	}
	if err := o.store.Err(); err != nil { // a row compared could not be read back
		return err
	}
	n := len(rows)
	if n == 0 {
		return nil
	}
	if err := o.thawParts(rows); err != nil {
		return err
	}
	res, err := computeFrames(o.Aggs, rows, o.part)
	if err != nil {
		return err
	}
	refs := make([]keyed.RowRef, n)
	for i, r := range rows {
		refs[i] = r.ref
	}
	ec := o.tc.Eval
	err = o.store.GatherEach(ec.Ctx, refs, true, func(at []int32, cols []arrow.Array) error {
		lo, hi := 0, n
		if at != nil {
			lo, hi = int(at[0]), int(at[0])+len(at)
		}
		all := append([]arrow.Array{}, cols...)
		var made []arrow.Array
		defer func() { runtime.ReleaseAll(made) }()
		for a := range o.Aggs {
			c, err := o.column(&o.Aggs[a], res[a][lo:hi])
			if err != nil {
				return err
			}
			made = append(made, c)
			all = append(all, c)
		}
		return runtime.EmitSliced(array.NewRecordBatch(o.Schema, all, int64(hi-lo)), o.Batch, out)
	})
	for _, r := range rows {
		o.store.Drop(r.ref)
	}
	if err != nil {
		return err
	}
	return o.checkParts(n)
}

// computeFrames computes each aggregation of each row (rows in (order value, input
// order), of any partitions; part gives a partition's state): per order value, each row
// is added and its ROWS frames computed, then the RANGE frames of each, which see them
// all; then the rows no later frame reaches are dropped.
func computeFrames(aggs []FrameAgg, rows []frameRow, part func(uint32) *framePart) ([][]cell, error) {
	n := len(rows)
	res := make([][]cell, len(aggs)) // per aggregation, per released row
	for a := range res {
		res[a] = make([]cell, n)
	}
	for from := 0; from < n; {
		// The rows of one order value: each is added (its ROWS frames computed as it
		// is), then the RANGE frames of each, which see all of them.
		to := from + 1
		for to < n && rows[to].ts == rows[from].ts {
			to++
		}
		for i := from; i < to; i++ {
			r := &rows[i]
			p := part(r.key)
			if err := p.add(r.ts, r.vals, aggs); err != nil {
				return nil, err
			}
			for a := range aggs {
				ag := &aggs[a]
				if !ag.Rows {
					continue
				}
				var err error
				if ag.Unbounded {
					res[a][i], err = p.run[a].result(ag)
				} else {
					p.slide(ag, a, max(0, len(p.ts)-1-int(min(ag.N, int64(len(p.ts))))))
					res[a][i], err = p.winResult(ag, a)
				}
				if err != nil {
					return nil, err
				}
			}
		}
		done := map[uint32]int{} // partition -> a row whose RANGE results are computed
		for i := from; i < to; i++ {
			r := &rows[i]
			p := part(r.key)
			j, ok := done[r.key]
			for a := range aggs {
				ag := &aggs[a]
				var err error
				switch {
				case ag.Rows:
				case ok:
					res[a][i] = res[a][j]
				case ag.Unbounded:
					res[a][i], err = p.run[a].result(ag)
				default:
					lo := p.win[a].lo
					for lo < len(p.ts) && p.ts[lo] < satSub(r.ts, ag.N) {
						lo++
					}
					p.slide(ag, a, lo)
					res[a][i], err = p.winResult(ag, a)
				}
				if err != nil {
					return nil, err
				}
			}
			if !ok {
				done[r.key] = i
			}
		}
		for k := range done {
			evict(aggs, part(k))
		}
		from = to
	}
	return res, nil
}

// orderValues are the values of an order column: µs for times (and the event time), else
// the integers; MinInt64 for null.
func orderValues(c arrow.Array, timed bool) ([]int64, error) {
	if timed || expr.IsTemporal(c.DataType()) {
		return expr.EventTimes(c, nil), nil
	}
	iv, err := expr.AsInt64(c)
	if err != nil {
		return nil, err
	}
	ts := append([]int64(nil), iv...)
	for i := range ts {
		if c.IsNull(i) {
			ts[i] = math.MinInt64
		}
	}
	return ts, nil
}

// cellsOf reads an aggregation's argument column.
func cellsOf(ag *FrameAgg, c arrow.Array) ([]cell, error) {
	vs := make([]cell, c.Len())
	switch {
	case ag.Fn == "count":
	case ag.Float:
		fv, err := expr.AsFloat64(c)
		if err != nil {
			return nil, err
		}
		for i := range vs {
			vs[i].f = fv[i]
		}
	default:
		iv, err := expr.AsInt64(c)
		if err != nil {
			return nil, err
		}
		for i := range vs {
			vs[i].i = iv[i]
		}
	}
	for i := range vs {
		vs[i].ok = c.IsValid(i)
	}
	return vs, nil
}

func (o *FrameOp) column(a *FrameAgg, res []cell) (arrow.Array, error) {
	return frameColumn(o.tc.Eval, a, res)
}

// frameColumn makes an aggregation's output column of results.
func frameColumn(ec *expr.EvalCtx, a *FrameAgg, res []cell) (arrow.Array, error) {
	mem := ec.Mem
	valid := make([]bool, len(res))
	var c arrow.Array
	if a.Float || a.Fn == "mean" {
		v := make([]float64, len(res))
		for i, r := range res {
			v[i], valid[i] = r.f, r.ok
		}
		c = expr.Float64Array(mem, v, valid)
	} else {
		v := make([]int64, len(res))
		for i, r := range res {
			v[i], valid[i] = r.i, r.ok
		}
		c = expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, v, valid)
	}
	if arrow.TypeEqual(c.DataType(), a.OutType) {
		return c, nil
	}
	defer c.Release()
	return compute.CastToType(compute.WithAllocator(ec.Ctx, mem), c, a.OutType)
}
