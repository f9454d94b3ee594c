package dedup

import (
	"sort"
	"strings"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// RankOp is Flink's streaming top-N over an append-only, unbounded input (and, with n = 1
// and KeepLast, its deduplication keeping the last row): per partition (Keys) it holds the
// n best rows by the ordering expressions (each ascending or descending, nulls last or
// first) and
// emits, as each row arrives, the changes that take the partition's top n before it to
// the top n after it, as a changelog (the op column last; see agg.OpColumn):
//
//   - with the row number (RankCol; the column before the op column): the new row's
//     rank and every rank below it change: -U of the row that held the rank and +U of the
//     row that holds it now, or +I where the partition had fewer than n rows. The result
//     is keyed by (partition, row number), as Flink's;
//   - without it and n = 1: +I of a partition's first row, then -U of the old row and +U
//     of the new one when a row replaces it (keyed by the partition);
//   - without it and n > 1 (Flink's "no ranking number"): -D of the row that leaves the
//     top n, if one does, and +I of the new row.
//
// Ties (rows equal in every ordering value) rank in input order: the earlier row first,
// or, with KeepLast, the later row first (a later row with the same value replaces the
// kept one, as Flink's keep-last deduplication); without ordering expressions every row
// ties, so the rows rank in input order (Flink's ORDER BY PROCTIME()). Input order is the
// rows' place in their source (runtime.Seq, then the row), not their arrival: batches of
// splits read by several subtasks may arrive out of it, and a row that arrives after a
// later one it ties with then ranks before it. Rows without an input order (made by an
// operator) rank in arrival order. A row that does not reach the top n changes nothing
// and is not kept: the input being append-only, a row that left the top n never comes
// back.
//
// With Retract the input is updating (a changelog, its op column at OpCol; Flink's
// RetractableTopNFunction): a partition holds all its rows, sorted, since a row below the
// top n enters it when one above leaves. A +I/+U row is inserted as above (and kept even
// below the top n). A -U/-D row takes back the first row of its partition (in rank order)
// equal to it in every column — its ordering values find the tied rows, the store compares
// the whole rows — and emits the changes that take the top n before to the top n after:
// with the row number, -U/+U of every rank from the removed one down whose row changes, and
// -D of the last rank if the partition had no more rows; without it and n = 1, -U/+U of the
// partition's row (-D if the partition is left empty); without it and n > 1, -D of the row
// and +I of the row that moves up into the top n. A retraction that matches no row held is
// ignored, as Flink's.
type RankOp struct {
	runtime.BaseOp
	Name       string
	Keys       []expr.Expr
	KeyTypes   []arrow.DataType
	OrderBy    []expr.Expr
	Descending []bool // per ordering expression
	NullsFirst []bool // per ordering expression (nil: nulls last)
	N          int
	KeepLast   bool
	RankCol    bool
	Retract    bool          // the input is updating: its op column is OpCol
	OpCol      int           // with Retract
	InSchema   *arrow.Schema // the input's columns (but its op column, with Retract)
	Schema     *arrow.Schema // the input's columns, the rank (RankCol), the op column
	BatchSize  int

	tc     *runtime.TaskCtx
	groups *keyed.Grouper
	store  keyed.RowStore
	parts  []*rankPart // per partition id; nil: no row yet
	held   int         // rows held in every partition
	// strBytes: of the string ordering values of the rows held (the index counts them)
	strBytes int64
	added    int // rows kept since the store was last checked for compaction
	// the changes of the batch being processed
	outRefs  []keyed.RowRef
	outRanks []int64
	outOps   []string
	drops    []keyed.RowRef
}

// rankPart is one partition's top rows, best first (at most n; with Retract, all its rows).
type rankPart struct {
	rows []rankRow
}

type rankRow struct {
	ref  keyed.RowRef
	vals []topnRow   // the ordering values (topnRow's value fields)
	seq  runtime.Seq // input order: the row's batch's, then its row in the batch
	row  int32
}

// tiesBefore reports whether row r, tied with row x, ranks before it: by input order
// (the earlier first, or with KeepLast the later), or, where either has none, as if r
// came last.
func (o *RankOp) tiesBefore(r, x *rankRow) bool {
	if r.seq == runtime.SeqUnordered || x.seq == runtime.SeqUnordered {
		return o.KeepLast
	}
	earlier := r.seq.Less(x.seq) || (r.seq == x.seq && r.row < x.row)
	return earlier != o.KeepLast
}

func (o *RankOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.groups = keyed.NewGrouper(o.KeyTypes)
	sp := keyed.NewSpill(tc, o.Name)
	sp.SetIndex(o.indexBytes)
	o.store.Init(o.InSchema, sp)
	return nil
}

// indexBytes estimates the memory of the operator's index of its rows (counted against the
// memory cap with spilling): the partition keys and the ordering values of the rows held.
func (o *RankOp) indexBytes() int64 {
	per := int64(unsafe.Sizeof(rankRow{})) + int64(len(o.OrderBy))*int64(unsafe.Sizeof(topnRow{}))
	return o.groups.MemBytes() + int64(cap(o.parts))*8 + int64(o.held)*per + o.strBytes
}

// strBytes is the memory of the string ordering values of a row.
func strBytes(vals []topnRow) int64 {
	n := 0
	for _, v := range vals {
		n += len(v.s)
	}
	return int64(n)
}

func (o *RankOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

// cmpRows orders two rows by their ordering values: negative if a ranks before b.
func (o *RankOp) cmpRows(a, b []topnRow) int {
	for k := range a {
		x, y := a[k], b[k]
		if x.null != y.null {
			if x.null == (o.NullsFirst != nil && o.NullsFirst[k]) {
				return -1
			}
			return 1
		}
		if x.null {
			continue
		}
		c := 0
		switch {
		case x.f != y.f:
			c = compareFloat(x.f, y.f)
		case x.i != y.i:
			c = compareInt(x.i, y.i)
		case x.s != y.s:
			c = strings.Compare(x.s, y.s)
		}
		if c != 0 {
			if o.Descending[k] {
				c = -c
			}
			return c
		}
	}
	return 0
}

func compareFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	case a == b:
		return 0
	case a != a: // NaN: above every number, as the sort's
		if b != b {
			return 0
		}
		return 1
	}
	return -1
}

func compareInt(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}

func (o *RankOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	var retract []bool // with Retract: the rows taken back
	if o.Retract {
		rows, r, err := agg.SplitChanges(o.Name, rec, o.OpCol, o.InSchema)
		if err != nil {
			return err
		}
		defer rows.Release()
		rec, retract = rows, r
	}
	ec := o.tc.Eval
	ids, err := groupIDs(ec, o.groups, o.Keys, rec)
	if err != nil {
		return err
	}
	vals, release, err := o.orderValues(rec)
	if err != nil {
		return err
	}
	defer release()
	chunk, err := o.store.Add(rec)
	if err != nil {
		return err
	}
	kept := 0
	for i := 0; i < n; i++ {
		id := int(ids[i])
		for len(o.parts) <= id {
			o.parts = append(o.parts, nil)
		}
		p := o.parts[id]
		if p == nil {
			p = &rankPart{}
			o.parts[id] = p
		}
		r := rankRow{ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}, vals: make([]topnRow, len(vals)), seq: m.Seq, row: int32(i)}
		for k, v := range vals {
			r.vals[k] = v(i)
			// the values may live in a computed array released after this batch
			r.vals[k].s = strings.Clone(r.vals[k].s)
		}
		if retract != nil && retract[i] {
			o.takeBack(p, r)
		} else if o.insert(p, r) {
			kept++
		}
	}
	o.store.Live[chunk] += kept - n
	o.store.Settle(chunk)
	err = o.flush(out)
	if err == nil {
		err = o.store.Err()
	}
	if err != nil {
		return err
	}
	o.added += kept
	return o.maybeCompact()
}

// rankCompactAt is the least number of rows the store must hold before it is compacted.
var rankCompactAt = 4096

// maybeCompact copies the rows held into new chunks once the store's chunks hold more than
// twice as many rows (a row that stays in the top n keeps its whole batch alive
// otherwise). The store is looked at once per as many rows kept as it holds.
func (o *RankOp) maybeCompact() error {
	if o.added < max(rankCompactAt, o.held) {
		return nil
	}
	o.added = 0
	if held := o.store.HeldRows(); held < rankCompactAt || held <= 2*o.held {
		return nil
	}
	var refs []keyed.RowRef
	for _, p := range o.parts {
		if p != nil {
			for _, r := range p.rows {
				refs = append(refs, r.ref)
			}
		}
	}
	moved, err := o.store.Compact(o.tc.Eval.Ctx, refs)
	if err != nil {
		return err
	}
	i := 0
	for _, p := range o.parts {
		if p != nil {
			for j := range p.rows {
				p.rows[j].ref = moved[i]
				i++
			}
		}
	}
	return nil
}

// orderValues evaluates the ordering expressions on rec.
func (o *RankOp) orderValues(rec arrow.RecordBatch) ([]func(int) topnRow, func(), error) {
	ec := o.tc.Eval
	n := int(rec.NumRows())
	var arrs []arrow.Array
	release := func() { runtime.ReleaseAll(arrs) }
	vals := make([]func(int) topnRow, len(o.OrderBy))
	for k, e := range o.OrderBy {
		d, err := e.Eval(ec, rec)
		if err != nil {
			release()
			return nil, nil, err
		}
		a, err := expr.DatumToArray(ec, d, n)
		if err != nil {
			release()
			return nil, nil, err
		}
		arrs = append(arrs, a)
		vals[k] = sortValues(a)
	}
	return vals, release, nil
}

// insert places row r in partition p if it reaches the top n, queues the changes that
// makes, and reports whether the row is kept.
func (o *RankOp) insert(p *rankPart, r rankRow) bool {
	rows := p.rows
	// the first row r ranks before: ties rank by input order (tiesBefore)
	at := sort.Search(len(rows), func(j int) bool {
		c := o.cmpRows(r.vals, rows[j].vals)
		return c < 0 || (c == 0 && o.tiesBefore(&r, &rows[j]))
	})
	if at >= o.N && !o.Retract {
		return false
	}
	old := len(rows)
	rows = append(rows, rankRow{})
	copy(rows[at+1:], rows[at:])
	rows[at] = r
	o.held++
	o.strBytes += strBytes(r.vals)
	p.rows = rows
	if at >= o.N {
		return true // held below the top n (Retract)
	}
	full := rows // before the cut: full[j+1] held rank j+1 before, for j >= at
	var evicted *rankRow
	if len(rows) > o.N {
		evicted = &full[o.N]
		if !o.Retract {
			rows = rows[:o.N]
			p.rows = rows
			o.held--
			o.strBytes -= strBytes(evicted.vals)
		}
	}
	switch {
	case o.RankCol:
		for j := at; j < min(len(rows), o.N); j++ {
			if j < old {
				o.change(full[j+1].ref, int64(j+1), agg.OpUpdateBefore)
				o.change(full[j].ref, int64(j+1), agg.OpUpdateAfter)
			} else {
				o.change(full[j].ref, int64(j+1), agg.OpInsert)
			}
		}
	case o.N == 1:
		if evicted != nil {
			o.change(evicted.ref, 0, agg.OpUpdateBefore)
			o.change(r.ref, 0, agg.OpUpdateAfter)
		} else {
			o.change(r.ref, 0, agg.OpInsert)
		}
	default:
		if evicted != nil {
			o.change(evicted.ref, 0, agg.OpDelete)
		}
		o.change(r.ref, 0, agg.OpInsert)
	}
	if evicted != nil && !o.Retract {
		o.drops = append(o.drops, evicted.ref) // once its change is out
	}
	return true
}

// takeBack applies a retraction r of partition p (Retract): the first row of p in rank
// order equal to r in every column leaves it, with the changes that makes queued. The
// retraction itself is not kept.
func (o *RankOp) takeBack(p *rankPart, r rankRow) {
	before := p.rows
	at := -1
	for j := sort.Search(len(before), func(j int) bool { return o.cmpRows(before[j].vals, r.vals) >= 0 }); j < len(before) && o.cmpRows(before[j].vals, r.vals) == 0; j++ {
		if o.store.CompareRows(before[j].ref, r.ref) == 0 {
			at = j
			break
		}
	}
	if at < 0 {
		return // not held: nothing to take back, as Flink's
	}
	gone := before[at]
	// the rank j+1 is held by before[j+1] after the change, for j >= at; left is the number
	// of rows the partition holds after it
	left := len(before) - 1
	if at < o.N {
		switch {
		case o.RankCol:
			for j := at; j < min(len(before), o.N); j++ {
				if j < left {
					o.change(before[j].ref, int64(j+1), agg.OpUpdateBefore)
					o.change(before[j+1].ref, int64(j+1), agg.OpUpdateAfter)
				} else {
					o.change(before[j].ref, int64(j+1), agg.OpDelete) // the rank is empty now
				}
			}
		case o.N == 1:
			if left > 0 {
				o.change(gone.ref, 0, agg.OpUpdateBefore)
				o.change(before[1].ref, 0, agg.OpUpdateAfter)
			} else {
				o.change(gone.ref, 0, agg.OpDelete)
			}
		default:
			o.change(gone.ref, 0, agg.OpDelete)
			if left >= o.N {
				o.change(before[o.N].ref, 0, agg.OpInsert)
			}
		}
	}
	copy(before[at:], before[at+1:])
	before[left] = rankRow{}
	p.rows = before[:left]
	o.held--
	o.strBytes -= strBytes(gone.vals)
	o.drops = append(o.drops, gone.ref) // once its change is out
}

// change queues one output row.
func (o *RankOp) change(ref keyed.RowRef, rank int64, op string) {
	o.outRefs = append(o.outRefs, ref)
	o.outRanks = append(o.outRanks, rank)
	o.outOps = append(o.outOps, op)
}

// flush emits the queued changes, in order, and forgets the rows that left.
func (o *RankOp) flush(out runtime.Emitter) error {
	defer func() {
		for _, r := range o.drops {
			o.store.Drop(r)
		}
		o.outRefs, o.outRanks, o.outOps, o.drops = o.outRefs[:0], o.outRanks[:0], o.outOps[:0], o.drops[:0]
	}()
	if len(o.outRefs) == 0 {
		return nil
	}
	mem := o.tc.Eval.Mem
	return o.store.GatherEach(o.tc.Eval.Ctx, o.outRefs, true, func(at []int32, cols []arrow.Array) error {
		ranks, ops := o.outRanks, o.outOps
		if at != nil {
			ranks, ops = make([]int64, len(at)), make([]string, len(at))
			for i, j := range at {
				ranks[i], ops[i] = o.outRanks[j], o.outOps[j]
			}
		}
		cols = append([]arrow.Array{}, cols...)
		var extra []arrow.Array
		if o.RankCol {
			extra = append(extra, expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, ranks, nil))
		}
		b := array.NewStringBuilder(mem)
		b.Reserve(len(ops))
		for _, op := range ops {
			b.Append(op)
		}
		extra = append(extra, b.NewArray())
		b.Release()
		defer runtime.ReleaseAll(extra)
		rec := array.NewRecordBatch(o.Schema, append(cols, extra...), int64(len(ops)))
		return runtime.EmitSliced(rec, o.BatchSize, out)
	})
}

func (o *RankOp) Close() {
	o.store.Release()
	if o.groups != nil {
		o.groups.Free()
	}
}

// groupIDs is the group id of each row of rec by keys (all 0 without keys).
func groupIDs(ec *expr.EvalCtx, groups *keyed.Grouper, keys []expr.Expr, rec arrow.RecordBatch) ([]uint32, error) {
	ids := make([]uint32, rec.NumRows())
	if len(keys) == 0 {
		return ids, nil
	}
	cols, err := runtime.EvalColumns(ec, keys, rec)
	if err != nil {
		return nil, err
	}
	defer runtime.ReleaseAll(cols)
	if err := groups.Consume(ec.Ctx, cols, ids); err != nil {
		return nil, err
	}
	return ids, nil
}
