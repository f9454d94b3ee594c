package engine

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// filterOp keeps the rows where the predicate is true (null counts as false).
type filterOp struct {
	runtime.BaseOp
	name string
	pred expr.Expr
	tc   *runtime.TaskCtx
}

func (o *filterOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *filterOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	d, err := o.pred.Eval(o.tc.Ec, rec)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.name)
	}
	mask, err := expr.DatumToArray(o.tc.Ec, d, int(rec.NumRows()))
	if err != nil {
		return err
	}
	defer mask.Release()
	b := mask.(*array.Boolean)
	if b.NullN() == 0 {
		if trues := countTrue(b); trues == b.Len() {
			rec.Retain()
			return out.Emit(m.With(rec))
		} else if trues == 0 {
			return nil
		}
	}
	res, err := compute.FilterRecordBatch(o.tc.Ec.Ctx, rec, mask, compute.DefaultFilterOptions())
	if err != nil {
		return rberr.Wrap(rberr.Internal, err, "%s", o.name)
	}
	if res.NumRows() == 0 {
		res.Release()
		return nil
	}
	return out.Emit(m.With(res))
}

func countTrue(b *array.Boolean) int {
	n := 0
	for i := 0; i < b.Len(); i++ {
		if b.Value(i) {
			n++
		}
	}
	return n
}

// projectOp computes the output columns of select and with_columns.
type projectOp struct {
	runtime.BaseOp
	name   string
	exprs  []expr.Expr
	schema *arrow.Schema
	tc     *runtime.TaskCtx
}

func (o *projectOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *projectOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	cols, err := runtime.EvalColumns(o.tc.Ec, o.exprs, rec)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.name)
	}
	defer runtime.ReleaseAll(cols)
	res := array.NewRecordBatch(o.schema, cols, rec.NumRows())
	return out.Emit(m.With(res))
}

// limitOp passes the first n rows of an ordered stream and then asks the sources to stop.
type limitOp struct {
	runtime.BaseOp
	n        int64
	seen     int64
	stopSrcs bool
	tc       *runtime.TaskCtx
}

func (o *limitOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *limitOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	left := o.n - o.seen
	if left <= 0 {
		return nil
	}
	rows := rec.NumRows()
	if rows > left {
		rows = left
	}
	o.seen += rows
	if o.seen >= o.n && o.stopSrcs {
		o.tc.Job.StopReading()
	}
	if rows == rec.NumRows() {
		rec.Retain()
		return out.Emit(m.With(rec))
	}
	return out.Emit(m.With(rec.NewSlice(0, rows)))
}

// reorderOp restores source order (source ordinal, split, chunk) after parallel reading,
// so that an unshuffled pipeline returns rows in the order of its inputs, as a DataFrame
// library would. It buffers at most the splits that are in flight ahead of the oldest one.
type reorderOp struct {
	runtime.BaseOp
	ordinals []int       // source ordinals feeding this operator, ascending
	counts   map[int]int // splits per ordinal; -1 until a msgSourceDone tells
	pos      int         // index into ordinals
	split    int
	buffered map[uint64][]runtime.Message
	done     map[uint64]bool
	pending  int64 // a watermark held back until the batches before it are emitted
}

func newReorderOp(ordinals []int, counts map[int]int) *reorderOp {
	c := map[int]int{}
	for k, v := range counts {
		c[k] = v
	}
	sort.Ints(ordinals)
	return &reorderOp{ordinals: ordinals, counts: c, buffered: map[uint64][]runtime.Message{}, done: map[uint64]bool{}, pending: math.MinInt64}
}

// ProcessWatermark holds a watermark back while batches that arrived before it are still
// buffered: emitting it first would make them late downstream.
func (o *reorderOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	o.pending = max(o.pending, wm)
	return o.releaseWatermark(out)
}

func (o *reorderOp) releaseWatermark(out runtime.Emitter) error {
	if len(o.buffered) > 0 || o.pending == math.MinInt64 {
		return nil
	}
	wm := o.pending
	o.pending = math.MinInt64
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

func (o *reorderOp) current() (uint64, bool) {
	if o.pos >= len(o.ordinals) {
		return 0, false
	}
	return runtime.MakeSeq(o.ordinals[o.pos], o.split, 0), true
}

func (o *reorderOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	if cur, ok := o.current(); ok && runtime.SplitOf(m.Seq) == cur {
		return out.Emit(m)
	}
	s := runtime.SplitOf(m.Seq)
	o.buffered[s] = append(o.buffered[s], m)
	return nil
}

func (o *reorderOp) ProcessMarker(m runtime.Message, out runtime.Emitter) error {
	switch m.Kind {
	case runtime.MsgSplitDone:
		o.done[runtime.SplitOf(m.Seq)] = true
	case runtime.MsgSourceDone:
		o.counts[int(m.Seq>>48)] = int(m.N)
	}
	if err := o.advance(out); err != nil {
		return err
	}
	return o.releaseWatermark(out)
}

// advance moves past every completed split, flushing the batches buffered for the next.
func (o *reorderOp) advance(out runtime.Emitter) error {
	for {
		if o.pos < len(o.ordinals) {
			if c, ok := o.counts[o.ordinals[o.pos]]; ok && c >= 0 && o.split >= c {
				o.pos++
				o.split = 0
				if err := o.flushCurrent(out); err != nil {
					return err
				}
				continue
			}
		}
		cur, ok := o.current()
		if !ok || !o.done[cur] {
			return nil
		}
		delete(o.done, cur)
		if err := out.Emit(runtime.Message{Kind: runtime.MsgSplitDone, Seq: cur}); err != nil {
			return err
		}
		o.split++
		if err := o.flushCurrent(out); err != nil {
			return err
		}
	}
}

func (o *reorderOp) flushCurrent(out runtime.Emitter) error {
	cur, ok := o.current()
	if !ok {
		return nil
	}
	ms := o.buffered[cur]
	delete(o.buffered, cur)
	for i, m := range ms {
		if err := out.Emit(m); err != nil {
			for _, rest := range ms[i+1:] {
				rest.Rec.Release()
			}
			return err
		}
	}
	return nil
}

func (o *reorderOp) Finish(out runtime.Emitter) error {
	// Everything has arrived; emit what is left in order (only after a source stopped early).
	keys := make([]uint64, 0, len(o.buffered))
	for k := range o.buffered {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		for _, m := range o.buffered[k] {
			if err := out.Emit(m); err != nil {
				return err
			}
		}
		delete(o.buffered, k)
	}
	return o.releaseWatermark(out)
}

func (o *reorderOp) Close() {
	for _, ms := range o.buffered {
		for _, m := range ms {
			m.Rec.Release()
		}
	}
	o.buffered = nil
}

// aggregateOp is a hash aggregation over the key groups its subtask owns. On a bounded
// input it emits every group when the final watermark arrives (at finish).
type aggregateOp struct {
	runtime.BaseOp
	name      string
	keys      []expr.Expr
	keyTypes  []arrow.DataType
	aggs      []aggSpec
	schema    *arrow.Schema
	batchSize int
	tc        *runtime.TaskCtx
	agg       *hashAgg
}

func (o *aggregateOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.agg = newHashAgg(o.name, o.keys, o.keyTypes, o.aggs)
	return nil
}

func (o *aggregateOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *aggregateOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	defer m.Rec.Release()
	_, err := o.agg.consume(o.tc.Ec, m.Rec, m.Seq)
	return err
}

func (o *aggregateOp) Finish(out runtime.Emitter) error {
	n := o.agg.numGroups()
	if n == 0 && len(o.keys) == 0 {
		// A global aggregation over no rows still has one row (count 0, sums null), as SQL.
		o.agg.groups.hash = append(o.agg.groups.hash, 0)
		n = 1
	}
	if n == 0 {
		return nil
	}
	mem := o.tc.Ec.Mem
	cols, err := o.agg.keyColumns(mem, nil)
	if err != nil {
		return err
	}
	aggs, err := o.agg.aggColumns(mem, nil)
	if err != nil {
		runtime.ReleaseAll(cols)
		return err
	}
	cols = append(cols, aggs...)
	rec := array.NewRecordBatch(o.schema, cols, int64(n))
	runtime.ReleaseAll(cols)
	return emitSliced(rec, o.batchSize, out)
}

// emitSliced emits rec in slices of at most batchSize rows; it consumes rec.
func emitSliced(rec arrow.RecordBatch, batchSize int, out runtime.Emitter) error {
	defer rec.Release()
	n := rec.NumRows()
	for off := int64(0); off < n; off += int64(batchSize) {
		end := min(off+int64(batchSize), n)
		if err := out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: rec.NewSlice(off, end), Seq: runtime.SeqUnordered}); err != nil {
			return err
		}
	}
	return nil
}

func (o *aggregateOp) Close() {
	if o.agg != nil {
		o.agg.release()
	}
}
