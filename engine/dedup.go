package engine

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// dedupOp keeps the first row of each key in event-time order, and drops rows of that key
// whose event time is less than `within` after the kept one; the next row after that is
// kept again. Rows wait until the watermark reaches their time, then are taken in (event
// time, input order), so the result does not depend on how parallel inputs interleave.
// Rows behind the watermark on arrival are late: dropped and counted.
type dedupOp struct {
	baseOp
	name     string
	keys     []cexpr
	keyTypes []arrow.DataType
	within   int64
	timeIdx  int
	inSchema *arrow.Schema
	tc       *taskCtx
	groups   *grouper
	kept     []int64 // per key id: event time of the kept row; MinInt64: none
	store    rowStore
	pending  []dedupRow
	ts       []int64
	wm       int64
	batch    int
}

type dedupRow struct {
	ts  int64
	seq uint64 // input position: batch, then row (ref.row)
	key uint32
	ref rowRef
}

func (o *dedupOp) open(tc *taskCtx) error {
	o.tc = tc
	o.groups = newGrouper(o.keyTypes)
	o.store.schema = o.inSchema
	o.wm = math.MinInt64
	return nil
}

func (o *dedupOp) processMarker(message, emitter) error { return nil }

func (o *dedupOp) processBatch(m message, out emitter) error {
	rec := m.rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	cols, err := evalColumns(o.tc.ec, o.keys, rec)
	if err != nil {
		return err
	}
	ids := make([]uint32, n)
	err = o.groups.consume(o.tc.ec.ctx, cols, ids)
	releaseAll(cols)
	if err != nil {
		return err
	}
	o.ts = eventTimes(rec.Column(o.timeIdx), o.ts)
	chunk := o.store.add(rec)
	lateWM := lateWatermark(o.wm, m)
	kept := 0
	for i, t := range o.ts {
		if t == math.MinInt64 || t <= lateWM {
			o.tc.metrics.late.Add(1)
			continue
		}
		o.pending = append(o.pending, dedupRow{ts: t, seq: m.seq, key: ids[i], ref: rowRef{chunk, int32(i)}})
		kept++
	}
	o.store.live[chunk] = kept
	if kept == 0 {
		o.store.live[chunk] = 1
		o.store.drop(rowRef{chunk: chunk})
	}
	return nil
}

func (o *dedupOp) processWatermark(wm int64, out emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	sort.Slice(o.pending, func(a, b int) bool {
		x, y := o.pending[a], o.pending[b]
		if x.ts != y.ts {
			return x.ts < y.ts
		}
		if x.seq != y.seq {
			return x.seq < y.seq
		}
		return x.ref.row < y.ref.row
	})
	n := sort.Search(len(o.pending), func(i int) bool { return o.pending[i].ts > wm })
	for len(o.kept) < o.groups.numGroups() {
		o.kept = append(o.kept, math.MinInt64)
	}
	var keep []rowRef
	for _, r := range o.pending[:n] {
		if k := o.kept[r.key]; k == math.MinInt64 || r.ts-k >= o.within {
			o.kept[r.key] = r.ts
			keep = append(keep, r.ref)
		}
	}
	var err error
	if len(keep) > 0 {
		var cols []arrow.Array
		if cols, err = o.store.gather(o.tc.ec.ctx, keep); err == nil {
			rec := array.NewRecordBatch(o.inSchema, cols, int64(len(keep)))
			releaseAll(cols)
			err = emitSliced(rec, o.batch, out)
		}
	}
	for _, r := range o.pending[:n] {
		o.store.drop(r.ref)
	}
	o.pending = append(o.pending[:0], o.pending[n:]...)
	if err != nil {
		return err
	}
	return out.emit(message{kind: msgWatermark, n: wm})
}

func (o *dedupOp) close() {
	o.store.release()
	if o.groups != nil {
		o.groups.release()
	}
}

// topnOp ranks rows per partition (keys, and window) by an expression and emits the top
// n of each partition, with their rank, when the watermark passes the window's end. The
// window is either assigned from event time (win set) or read from the window_start and
// window_end columns of a window result.
type topnOp struct {
	baseOp
	name       string
	keys       []cexpr
	keyTypes   []arrow.DataType
	orderBy    cexpr
	descending bool
	n          int
	win        *windower
	timeIdx    int // event time (win set)
	startIdx   int // window_start / window_end columns (win nil)
	endIdx     int
	timeType   arrow.DataType
	schema     *arrow.Schema
	inSchema   *arrow.Schema
	batchSize  int

	tc     *taskCtx
	wm     int64
	store  rowStore
	panes  map[[2]int64]*topnPane
	groups *grouper
	ts     []int64
	wbuf   [][2]int64
}

type topnPane struct {
	parts map[uint32]*topnPart
}

// topnPart is one partition's candidates. Once trimmed to n rows, cut is the n-th best:
// later rows that do not beat it are rejected at once.
type topnPart struct {
	rows []topnRow
	full bool
	cut  topnRow
}

type topnRow struct {
	ref  rowRef
	f    float64
	i    int64
	s    string
	null bool
	seq  uint64 // input position (batch, row), to break ties deterministically
	row  int32
}

func (o *topnOp) open(tc *taskCtx) error {
	o.tc = tc
	o.wm = math.MinInt64
	o.store.schema = o.inSchema
	o.panes = map[[2]int64]*topnPane{}
	o.groups = newGrouper(o.keyTypes)
	return nil
}

func (o *topnOp) processMarker(message, emitter) error { return nil }

func (o *topnOp) processBatch(m message, out emitter) error {
	rec := m.rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	ids := make([]uint32, n)
	if len(o.keys) > 0 {
		cols, err := evalColumns(o.tc.ec, o.keys, rec)
		if err != nil {
			return err
		}
		err = o.groups.consume(o.tc.ec.ctx, cols, ids)
		releaseAll(cols)
		if err != nil {
			return err
		}
	}
	d, err := o.orderBy.Eval(o.tc.ec, rec)
	if err != nil {
		return err
	}
	ob, err := datumToArray(o.tc.ec, d, n)
	if err != nil {
		return err
	}
	defer ob.Release()
	vals := sortValues(ob)
	var starts, ends []int64
	if o.win == nil {
		starts = eventTimes(rec.Column(o.startIdx), nil)
		ends = eventTimes(rec.Column(o.endIdx), nil)
	} else {
		o.ts = eventTimes(rec.Column(o.timeIdx), o.ts)
	}
	chunk := o.store.add(rec)
	lateWM := lateWatermark(o.wm, m)
	placed := 0
	for i := 0; i < n; i++ {
		o.wbuf = o.wbuf[:0]
		if o.win == nil {
			o.wbuf = append(o.wbuf, [2]int64{starts[i], ends[i]})
		} else if o.ts[i] != math.MinInt64 {
			o.wbuf = o.win.assign(o.ts[i], o.wbuf)
		}
		for _, w := range o.wbuf {
			if o.win != nil && w[1]-1 <= lateWM {
				o.tc.metrics.late.Add(1)
				continue
			}
			p := o.panes[w]
			if p == nil {
				p = &topnPane{parts: map[uint32]*topnPart{}}
				o.panes[w] = p
			}
			part := p.parts[ids[i]]
			if part == nil {
				part = &topnPart{}
				p.parts[ids[i]] = part
			}
			r := vals(i)
			r.ref, r.seq, r.row = rowRef{chunk, int32(i)}, m.seq, int32(i)
			if part.full && !o.better(r, part.cut) {
				continue
			}
			part.rows = append(part.rows, r)
			placed++
			if len(part.rows) > 4*o.n+64 {
				o.trim(part)
			}
		}
	}
	o.store.live[chunk] += placed - n
	if o.store.live[chunk] == 0 {
		o.store.live[chunk] = 1
		o.store.drop(rowRef{chunk: chunk})
	}
	return nil
}

// sortValues reads the ordering column as comparable values.
func sortValues(a arrow.Array) func(int) topnRow {
	switch {
	case isFloat(a.DataType()):
		f, _ := asFloat64(a)
		return func(i int) topnRow { return topnRow{f: f[i], null: a.IsNull(i)} }
	case isString(a.DataType()):
		s := stringAt(a)
		return func(i int) topnRow { return topnRow{s: s(i), null: a.IsNull(i)} }
	}
	ints, err := asInt64(a)
	if err != nil {
		return func(i int) topnRow { return topnRow{null: true} }
	}
	return func(i int) topnRow { return topnRow{i: ints[i], null: a.IsNull(i)} }
}

// better orders rows: non-null first, then by value (descending or not), then input
// position.
func (o *topnOp) better(a, b topnRow) bool {
	if a.null != b.null {
		return !a.null
	}
	if !a.null {
		var lt, gt bool // a's value below / above b's
		switch {
		case a.f != b.f:
			lt, gt = less(a.f, b.f), less(b.f, a.f)
		case a.i != b.i:
			lt, gt = a.i < b.i, a.i > b.i
		case a.s != b.s:
			lt, gt = a.s < b.s, a.s > b.s
		}
		if lt || gt {
			return gt == o.descending
		}
	}
	if a.seq != b.seq {
		return a.seq < b.seq
	}
	return a.row < b.row
}

// trim keeps only the best n rows of a partition.
func (o *topnOp) trim(part *topnPart) {
	rows := part.rows
	sort.SliceStable(rows, func(a, b int) bool { return o.better(rows[a], rows[b]) })
	if len(rows) >= o.n {
		for _, r := range rows[o.n:] {
			o.store.drop(r.ref)
		}
		rows = rows[:o.n]
		part.full, part.cut = true, rows[o.n-1]
	}
	part.rows = rows
}

func (o *topnOp) processWatermark(wm int64, out emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	return fireClosed(o.panes, wm, out, o.fire)
}

func (o *topnOp) fire(w [2]int64, p *topnPane, out emitter) error {
	keys := make([]uint32, 0, len(p.parts))
	for k := range p.parts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
	var refs []rowRef
	var ranks []int64
	for _, k := range keys {
		o.trim(p.parts[k])
		for r, row := range p.parts[k].rows {
			refs = append(refs, row.ref)
			ranks = append(ranks, int64(r+1))
		}
	}
	defer func() {
		for _, r := range refs {
			o.store.drop(r)
		}
	}()
	if len(refs) == 0 {
		return nil
	}
	cols, err := o.store.gather(o.tc.ec.ctx, refs)
	if err != nil {
		return err
	}
	if o.win != nil {
		wcols, err := windowColumns(o.tc.ec, o.timeType, w, len(refs))
		if err != nil {
			releaseAll(cols)
			return err
		}
		cols = append(cols, wcols...)
	}
	cols = append(cols, int64Array(o.tc.ec.mem, arrow.PrimitiveTypes.Int64, ranks, nil))
	rec := array.NewRecordBatch(o.schema, cols, int64(len(refs)))
	releaseAll(cols)
	return emitSliced(rec, o.batchSize, out)
}

func (o *topnOp) close() {
	o.store.release()
	if o.groups != nil {
		o.groups.release()
	}
}
