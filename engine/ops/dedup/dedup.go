package dedup

import (
	"math"
	"sort"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// DedupOp keeps the first row of each key in event-time order, and drops rows of that key
// whose event time is less than `within` after the kept one; the next row after that is
// kept again. Rows wait until the watermark reaches their time, then are taken in (event
// time, input order), so the result does not depend on how parallel inputs interleave;
// rows an operator made (window results, join pairs), which have no input order, are
// taken in (event time, columns in schema order).
// Rows behind the watermark on arrival are late: dropped and counted.
type DedupOp struct {
	runtime.BaseOp
	Name     string
	Keys     []expr.Expr
	KeyTypes []arrow.DataType
	Within   int64
	TimeIdx  int
	InSchema *arrow.Schema
	tc       *runtime.TaskCtx
	groups   *keyed.Grouper
	kept     []int64 // per key id: event time of the kept row; MinInt64: none
	store    keyed.RowStore
	pending  []dedupRow
	ts       []int64
	wm       int64
	Batch    int
}

type dedupRow struct {
	ts  int64
	seq runtime.Seq // input position: batch, then row (ref.row)
	key uint32
	ref keyed.RowRef
}

func (o *DedupOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.groups = keyed.NewGrouper(o.KeyTypes)
	sp := keyed.NewSpill(tc, o.Name)
	sp.SetIndex(o.indexBytes)
	o.store.Init(o.InSchema, sp)
	o.wm = math.MinInt64
	return nil
}

// indexBytes estimates the memory of the dedup's index of its rows (counted against the
// memory cap with spilling): its keys, each key's kept time, and the rows waiting for the
// watermark.
func (o *DedupOp) indexBytes() int64 {
	return o.groups.MemBytes() + int64(cap(o.kept))*8 + int64(cap(o.pending))*int64(unsafe.Sizeof(dedupRow{})) + int64(cap(o.ts))*8
}

func (o *DedupOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *DedupOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	cols, err := runtime.EvalColumns(o.tc.Eval, o.Keys, rec)
	if err != nil {
		return err
	}
	ids := make([]uint32, n)
	err = o.groups.Consume(o.tc.Eval.Ctx, cols, ids)
	runtime.ReleaseAll(cols)
	if err != nil {
		return err
	}
	o.ts = expr.EventTimes(rec.Column(o.TimeIdx), o.ts)
	chunk, err := o.store.Add(rec)
	if err != nil {
		return err
	}
	lateWM := runtime.LateWatermark(o.wm, m)
	kept := 0
	for i, t := range o.ts {
		if t == math.MinInt64 || t <= lateWM {
			o.tc.Metrics.Late.Add(1)
			continue
		}
		o.pending = append(o.pending, dedupRow{ts: t, seq: m.Seq, key: ids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}})
		kept++
	}
	o.store.Live[chunk] = kept
	o.store.Settle(chunk)
	return nil
}

func (o *DedupOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
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
			return x.seq.Less(y.seq)
		}
		if x.seq == runtime.SeqUnordered { // rows without input order: by their columns
			if c := o.store.CompareRows(x.ref, y.ref); c != 0 {
				return c < 0
			}
		}
		return x.ref.Row < y.ref.Row
	})
	if err := o.store.Err(); err != nil { // a row compared could not be read back
		return err
	}
	n := sort.Search(len(o.pending), func(i int) bool { return o.pending[i].ts > wm })
	for len(o.kept) < o.groups.NumGroups() {
		o.kept = append(o.kept, math.MinInt64)
	}
	var keep []keyed.RowRef
	for _, r := range o.pending[:n] {
		if k := o.kept[r.key]; k == math.MinInt64 || r.ts-k >= o.Within {
			o.kept[r.key] = r.ts
			keep = append(keep, r.ref)
		}
	}
	// In (event time, input order); with spilling, a part at a time.
	err := o.store.GatherEach(o.tc.Eval.Ctx, keep, true, func(at []int32, cols []arrow.Array) error {
		n := len(keep)
		if at != nil {
			n = len(at)
		}
		return runtime.EmitSliced(array.NewRecordBatch(o.InSchema, cols, int64(n)), o.Batch, out)
	})
	for _, r := range o.pending[:n] {
		o.store.Drop(r.ref)
	}
	o.pending = append(o.pending[:0], o.pending[n:]...)
	if err != nil {
		return err
	}
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

func (o *DedupOp) Close() {
	o.store.Release()
	if o.groups != nil {
		o.groups.Free()
	}
}
