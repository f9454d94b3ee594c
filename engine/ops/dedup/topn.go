package dedup

import (
	"cmp"
	"math"
	"sort"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// TopNOp ranks rows per partition (keys, and window) by an expression and emits the top
// n of each partition, with their rank, when the watermark passes the window's end. The
// window is either assigned from event time (win set) or read from the window_start and
// window_end columns of a window result.
//
// Rows are ordered by the ranking value (nulls last), then — so that ties are broken the
// same way at any parallelism and batch size — by the row's columns in schema order
// (ascending, nulls last), then by input order. Without ties the rank is the row number
// (1..n); with ties every row whose value equals the n-th row's is kept too, and the rank
// is SQL's RANK() (tied rows share the rank of the first of them).
type TopNOp struct {
	runtime.BaseOp
	Name       string
	Keys       []expr.Expr
	KeyTypes   []arrow.DataType
	OrderBy    expr.Expr
	Descending bool
	WithTies   bool
	N          int
	Win        *window.Windower
	TimeIdx    int // event time (win set)
	StartIdx   int // window_start / window_end columns (win nil)
	EndIdx     int
	TimeType   arrow.DataType
	Schema     *arrow.Schema
	InSchema   *arrow.Schema
	BatchSize  int

	tc     *runtime.TaskCtx
	wm     int64
	store  keyed.RowStore
	panes  map[[2]int64]*topnPane
	groups *keyed.Grouper
	ts     []int64
	wbuf   [][2]int64
	// What the index of candidates takes (counted against the memory cap with spilling):
	// the capacity of every partition's candidate list, the partitions and windows, and
	// the bytes of the string ranking values kept.
	rowCap, nParts, strBytes int64
	// The partition part last returned, and its window and id: rows come window by
	// window, so most rows find it here without two map lookups.
	lastW    [2]int64
	lastID   uint32
	lastPart *topnPart
}

type topnPane struct {
	parts map[uint32]*topnPart
}

// topnPart is one partition's candidates. Once trimmed, cut is the n-th best: later rows
// that do not beat it (with ties: whose value is worse than its value) are rejected at
// once. The candidates are trimmed again when they exceed limit.
type topnPart struct {
	rows  []topnRow
	full  bool
	cut   topnRow
	limit int
}

type topnRow struct {
	ref  keyed.RowRef
	f    float64
	i    int64
	s    string
	null bool
	seq  runtime.Seq // input position (batch, row), the last tie-breaker
	row  int32
}

func (o *TopNOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.wm = math.MinInt64
	sp := keyed.NewSpill(tc, o.Name)
	sp.SetIndex(o.indexBytes)
	o.store.Init(o.InSchema, sp)
	o.panes = map[[2]int64]*topnPane{}
	o.lastPart = nil
	o.groups = keyed.NewGrouper(o.KeyTypes)
	return nil
}

// Estimates of Go's memory for a window's pane (its entry in the map of panes, the pane
// and its map of partitions) and for a partition (its entry there and its struct).
const (
	topnPaneBytes = 48 + 8 + 48
	topnPartBytes = 24 + int64(unsafe.Sizeof(topnPart{}))
)

// indexBytes estimates the memory of the operator's index of its rows (counted against the
// memory cap with spilling): the partition keys, the windows and partitions, and the
// candidates' ranking values.
func (o *TopNOp) indexBytes() int64 {
	return o.groups.MemBytes() + int64(len(o.panes))*topnPaneBytes + o.nParts*topnPartBytes +
		o.rowCap*int64(unsafe.Sizeof(topnRow{})) + o.strBytes + int64(cap(o.ts))*8
}

// part returns the candidates of partition id in window w, adding them if new (added
// reports that).
func (o *TopNOp) part(w [2]int64, id uint32) (part *topnPart, added bool) {
	if o.lastPart != nil && w == o.lastW && id == o.lastID {
		return o.lastPart, false
	}
	defer func() { o.lastW, o.lastID, o.lastPart = w, id, part }()
	p := o.panes[w]
	if p == nil {
		p = &topnPane{parts: map[uint32]*topnPart{}}
		o.panes[w] = p
	}
	if part = p.parts[id]; part == nil {
		part = &topnPart{limit: 4*o.N + 64}
		p.parts[id] = part
		o.nParts++
		added = true
	}
	return part, added
}

// add keeps r among the candidates of part, with a copy of its string value (the ranking
// values may live in a computed array, a decoded dictionary or a function's result, that
// is released after the batch).
func (o *TopNOp) add(part *topnPart, r topnRow) {
	r.s = strings.Clone(r.s)
	old := cap(part.rows)
	part.rows = append(part.rows, r)
	o.rowCap += int64(cap(part.rows) - old)
	o.strBytes += int64(len(r.s))
}

// forget uncounts the candidates of a window's partitions once the window is emitted.
func (o *TopNOp) forget(p *topnPane) {
	for _, part := range p.parts {
		o.rowCap -= int64(cap(part.rows))
		for _, r := range part.rows {
			o.strBytes -= int64(len(r.s))
		}
	}
	o.nParts -= int64(len(p.parts))
}

func (o *TopNOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *TopNOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	ids := make([]uint32, n)
	if len(o.Keys) > 0 {
		cols, err := runtime.EvalColumns(o.tc.Eval, o.Keys, rec)
		if err != nil {
			return err
		}
		err = o.groups.Consume(o.tc.Eval.Ctx, cols, ids)
		runtime.ReleaseAll(cols)
		if err != nil {
			return err
		}
	}
	d, err := o.OrderBy.Eval(o.tc.Eval, rec)
	if err != nil {
		return err
	}
	ob, err := expr.DatumToArray(o.tc.Eval, d, n)
	if err != nil {
		return err
	}
	defer ob.Release()
	vals := sortValues(ob)
	var starts, ends []int64
	if o.Win == nil {
		starts = expr.EventTimes(rec.Column(o.StartIdx), nil)
		ends = expr.EventTimes(rec.Column(o.EndIdx), nil)
	} else {
		o.ts = expr.EventTimes(rec.Column(o.TimeIdx), o.ts)
	}
	chunk, err := o.store.Add(rec)
	if err != nil {
		return err
	}
	lateWM := runtime.LateWatermark(o.wm, m)
	placed := 0
	var late int64
	for i := 0; i < n; i++ {
		o.wbuf = o.wbuf[:0]
		if o.Win == nil {
			o.wbuf = append(o.wbuf, [2]int64{starts[i], ends[i]})
		} else if o.ts[i] != math.MinInt64 {
			o.wbuf = o.Win.Assign(o.ts[i], o.wbuf)
		}
		accepted := false
		for _, w := range o.wbuf {
			if o.Win != nil && w[1]-1 <= lateWM {
				continue
			}
			accepted = true
			part, _ := o.part(w, ids[i])
			r := vals(i)
			r.ref, r.seq, r.row = keyed.RowRef{Chunk: chunk, Row: int32(i)}, m.Seq, int32(i)
			if part.full && !o.admits(r, part.cut) {
				continue
			}
			o.add(part, r)
			placed++
			if len(part.rows) > part.limit {
				o.trim(part)
			}
		}
		if !accepted { // a null event time, or late for every window
			late++
		}
	}
	if late > 0 {
		o.tc.Metrics.Late.Add(late)
	}
	o.store.Live[chunk] += placed - n
	o.store.Settle(chunk)
	return o.store.Err() // a row compared could not be read back
}

// sortValues reads the ordering column as comparable values.
func sortValues(a arrow.Array) func(int) topnRow {
	switch {
	case expr.IsFloat(a.DataType()):
		f, _ := expr.AsFloat64(a)
		return func(i int) topnRow { return topnRow{f: f[i], null: a.IsNull(i)} }
	case expr.IsString(a.DataType()):
		s := expr.StringAt(a)
		return func(i int) topnRow { return topnRow{s: s(i), null: a.IsNull(i)} }
	}
	ints, err := expr.AsInt64(a)
	if err != nil {
		return func(i int) topnRow { return topnRow{null: true} }
	}
	return func(i int) topnRow { return topnRow{i: ints[i], null: a.IsNull(i)} }
}

// cmpValue orders two rows by the ranking value alone: negative if a ranks before b.
// Non-null values come first.
func (o *TopNOp) cmpValue(a, b topnRow) int {
	if a.null != b.null {
		if a.null {
			return 1
		}
		return -1
	}
	if a.null {
		return 0
	}
	c := 0
	switch {
	case a.f != b.f:
		c = cmp.Compare(a.f, b.f)
	case a.i != b.i:
		c = cmp.Compare(a.i, b.i)
	case a.s != b.s:
		c = strings.Compare(a.s, b.s)
	}
	if o.Descending {
		c = -c
	}
	return c
}

// better orders rows: by value, then by the columns of the row, then input position.
func (o *TopNOp) better(a, b topnRow) bool {
	if c := o.cmpValue(a, b); c != 0 {
		return c < 0
	}
	if c := o.store.CompareRows(a.ref, b.ref); c != 0 {
		return c < 0
	}
	if a.seq != b.seq {
		return a.seq.Less(b.seq)
	}
	return a.row < b.row
}

// admits reports whether a new row can still be among the top n of a trimmed partition
// whose n-th row is cut.
func (o *TopNOp) admits(r, cut topnRow) bool {
	if o.WithTies {
		return o.cmpValue(r, cut) <= 0
	}
	return o.better(r, cut)
}

// trim keeps only the best n rows of a partition (and, with ties, the rows tied with the
// n-th).
func (o *TopNOp) trim(part *topnPart) {
	rows := part.rows
	sort.Slice(rows, func(a, b int) bool { return o.better(rows[a], rows[b]) })
	if len(rows) >= o.N {
		keep := o.N
		if o.WithTies {
			for keep < len(rows) && o.cmpValue(rows[keep], rows[o.N-1]) == 0 {
				keep++
			}
		}
		for _, r := range rows[keep:] {
			o.store.Drop(r.ref)
			o.strBytes -= int64(len(r.s))
		}
		rows = rows[:keep]
		part.full, part.cut = true, rows[o.N-1]
	}
	part.rows = rows
	part.limit = max(part.limit, 2*len(rows)+64)
}

func (o *TopNOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	if wm <= o.wm {
		return nil
	}
	o.wm = wm
	// The top rows of all closed windows (in end order) are gathered together, a batch at
	// a time: one take per stored chunk, not one per window.
	var refs []keyed.RowRef
	var ranks, starts, ends []int64
	flush := func() error {
		defer func() {
			for _, r := range refs {
				o.store.Drop(r)
			}
			refs, ranks, starts, ends = refs[:0], ranks[:0], starts[:0], ends[:0]
		}()
		if len(refs) == 0 {
			return nil
		}
		cols, err := o.store.Gather(o.tc.Eval.Ctx, refs)
		if err != nil {
			return err
		}
		if o.Win != nil {
			wcols, err := expr.BoundColumns(o.tc.Eval, o.TimeType, starts, ends)
			if err != nil {
				runtime.ReleaseAll(cols)
				return err
			}
			cols = append(cols, wcols...)
		}
		cols = append(cols, expr.Int64Array(o.tc.Eval.Mem, arrow.PrimitiveTypes.Int64, ranks, nil))
		rec := array.NewRecordBatch(o.Schema, cols, int64(len(refs)))
		runtime.ReleaseAll(cols)
		return runtime.EmitSliced(rec, o.BatchSize, out)
	}
	for _, w := range window.ClosedWindows(o.panes, wm) {
		p := o.panes[w]
		delete(o.panes, w)
		o.lastPart = nil
		defer o.forget(p) // its rows are gathered (flush) before they are forgotten
		keys := make([]uint32, 0, len(p.parts))
		for k := range p.parts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
		for _, k := range keys {
			o.trim(p.parts[k])
			if err := o.store.Err(); err != nil { // a row compared could not be read back
				return err
			}
			rows := p.parts[k].rows
			for r, row := range rows {
				refs = append(refs, row.ref)
				rank := int64(r + 1)
				if o.WithTies && r > 0 && o.cmpValue(row, rows[r-1]) == 0 {
					rank = ranks[len(ranks)-1]
				}
				ranks = append(ranks, rank)
				starts, ends = append(starts, w[0]), append(ends, w[1])
			}
		}
		if len(refs) >= o.BatchSize {
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

func (o *TopNOp) Close() {
	o.store.Release()
	if o.groups != nil {
		o.groups.Free()
	}
}
