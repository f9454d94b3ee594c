package basic

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// ReorderOp restores source order (source ordinal, split, chunk) after parallel reading,
// so that an unshuffled pipeline returns rows in the order of its inputs, as a DataFrame
// library would, and the operators that depend on input order (unique's first and last,
// a stable sort's ties, tail, limit, window functions) see it. It buffers at most the
// splits that are in flight ahead of the oldest one.
//
// Order holds across checkpoints and restores. A barrier passes the operator without
// releasing what it buffers: the buffered batches are its checkpointed state (table
// "buffer.v1": the rows with their sequence numbers and split watermarks, in the key
// group of hash 0, as the operator runs on one subtask), emitted after a restore when
// their turn comes. A restored source does not read again the splits the checkpoint had
// read completely; each of its subtasks first sends which they are (runtime.SkippedSplits),
// and the operator passes them as done.
type ReorderOp struct {
	runtime.BaseOp
	ordinals []int       // source ordinals feeding this operator, ascending
	counts   map[int]int // splits per ordinal; absent until a MsgSourceDone tells
	schema   *arrow.Schema
	pos      int // index into ordinals
	split    int
	buffered map[runtime.Seq][]runtime.Message
	done     map[runtime.Seq]bool
	skipped  map[uint64]runtime.SkippedSplits // by source ordinal, after a restore
	pending  int64                            // a watermark held back until the batches before it are emitted
	tc       *runtime.TaskCtx
}

// NewReorderOp returns a reorder of the batches (of schema) of the given source
// ordinals, whose split counts are known in counts (the others announce theirs).
func NewReorderOp(ordinals []int, counts map[int]int, schema *arrow.Schema) *ReorderOp {
	c := map[int]int{}
	for k, v := range counts {
		c[k] = v
	}
	ords := append([]int(nil), ordinals...)
	sort.Ints(ords)
	return &ReorderOp{ordinals: ords, counts: c, schema: schema, buffered: map[runtime.Seq][]runtime.Message{},
		done: map[runtime.Seq]bool{}, skipped: map[uint64]runtime.SkippedSplits{}, pending: math.MinInt64}
}

func (o *ReorderOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

// ProcessWatermark holds a watermark back while batches that arrived before it are still
// buffered: emitting it first would make them late downstream.
func (o *ReorderOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	o.pending = max(o.pending, wm)
	return o.releaseWatermark(out)
}

func (o *ReorderOp) releaseWatermark(out runtime.Emitter) error {
	if len(o.buffered) > 0 || o.pending == math.MinInt64 {
		return nil
	}
	wm := o.pending
	o.pending = math.MinInt64
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}

func (o *ReorderOp) current() (runtime.Seq, bool) {
	if o.pos >= len(o.ordinals) {
		return runtime.Seq{}, false
	}
	return runtime.MakeSeq(o.ordinals[o.pos], int64(o.split), 0), true
}

func (o *ReorderOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	if cur, ok := o.current(); ok && runtime.SplitOf(m.Seq) == cur {
		return out.Emit(m)
	}
	s := runtime.SplitOf(m.Seq)
	o.buffered[s] = append(o.buffered[s], m)
	return nil
}

func (o *ReorderOp) ProcessMarker(m runtime.Message, out runtime.Emitter) error {
	switch m.Kind {
	case runtime.MsgSplitDone:
		o.done[runtime.SplitOf(m.Seq)] = true
	case runtime.MsgSourceDone:
		o.counts[int(m.Seq.Source)] = int(m.N)
	}
	if err := o.advance(out); err != nil {
		return err
	}
	return o.releaseWatermark(out)
}

// isDone reports whether every batch of split cur has arrived: its split marker came, or
// a restored source skips it.
func (o *ReorderOp) isDone(cur runtime.Seq) bool {
	if o.done[cur] {
		delete(o.done, cur)
		return true
	}
	sk, ok := o.skipped[cur.Source]
	return ok && sk.Has(int64(cur.Split))
}

// advance moves past every completed split, flushing the batches buffered for the next.
func (o *ReorderOp) advance(out runtime.Emitter) error {
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
		if !ok || !o.isDone(cur) {
			return nil
		}
		if err := out.Emit(runtime.Message{Kind: runtime.MsgSplitDone, Seq: cur}); err != nil {
			return err
		}
		o.split++
		if err := o.flushCurrent(out); err != nil {
			return err
		}
	}
}

func (o *ReorderOp) flushCurrent(out runtime.Emitter) error {
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

// ProcessControl passes a checkpoint barrier on without emitting what the operator
// buffers (its state holds it), and takes note of the splits a restored source skips
// (passing the word on, for a reorder further down).
func (o *ReorderOp) ProcessControl(m runtime.Message, out runtime.Emitter) error {
	if sk, ok := m.Ctl.(runtime.SkippedSplits); ok {
		o.skipped[sk.Source] = sk
		if err := out.Emit(m); err != nil {
			return err
		}
		if err := o.advance(out); err != nil {
			return err
		}
		return o.releaseWatermark(out)
	}
	return out.Emit(m)
}

func (o *ReorderOp) Finish(out runtime.Emitter) error {
	// Everything has arrived; emit what is left in order (only after a source stopped early).
	for _, k := range o.keys() {
		for _, m := range o.buffered[k] {
			if err := out.Emit(m); err != nil {
				return err
			}
		}
		delete(o.buffered, k)
	}
	return o.releaseWatermark(out)
}

// keys are the splits buffered, in order.
func (o *ReorderOp) keys() []runtime.Seq {
	keys := make([]runtime.Seq, 0, len(o.buffered))
	for k := range o.buffered {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Less(keys[j]) })
	return keys
}

func (o *ReorderOp) Close() {
	for _, ms := range o.buffered {
		for _, m := range ms {
			m.Rec.Release()
		}
	}
	o.buffered = nil
}

// The reorder's checkpointed state: the buffered rows, each with its batch's sequence
// number, its row in the batch (row 0 starts a batch) and its split watermark (null: none).
const (
	bufferTable = "buffer.v1"
	colSplitWM  = "__rb_split_wm"
)

func (o *ReorderOp) stateSchema() *arrow.Schema {
	return keyed.RowFields(o.schema, append(keyed.SeqFields(), arrow.Field{Name: colSplitWM, Type: arrow.PrimitiveTypes.Int64, Nullable: true})...)
}

// StateTables implements runtime.KeyedState.
func (o *ReorderOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(bufferTable)}
}

// SaveState implements runtime.KeyedState: the batches buffered for order, in order.
func (o *ReorderOp) SaveState(b state.Backend) error {
	schema := o.stateSchema()
	mem := o.tc.Eval.Mem
	w := keyed.NewStateWriter(o.tc.Eval, "reorder", bufferTable, schema)
	defer w.Release()
	for _, k := range o.keys() {
		for _, m := range o.buffered[k] {
			n := int(m.Rec.NumRows())
			if n == 0 {
				continue
			}
			if int(m.Rec.NumCols()) != o.schema.NumFields() {
				return rberr.New(rberr.Internal, "reorder: a batch of %d columns where %d were expected", m.Rec.NumCols(), o.schema.NumFields())
			}
			seqs := make([]runtime.Seq, n)
			rows := make([]int32, n)
			for i := range seqs {
				seqs[i], rows[i] = m.Seq, int32(i)
			}
			wb := array.NewInt64Builder(mem)
			for range n {
				if m.HasWM {
					wb.Append(m.WM)
				} else {
					wb.AppendNull()
				}
			}
			extra := append(keyed.SeqColumns(mem, seqs, rows), wb.NewArray())
			wb.Release()
			cols := append(append([]arrow.Array(nil), m.Rec.Columns()...), extra...)
			err := w.AddColumns(cols, n, keyed.KeyGroups(nil, n, o.tc.MaxParallelism()))
			runtime.ReleaseAll(extra)
			if err != nil {
				return err
			}
		}
	}
	return w.Write(b)
}

// LoadState implements runtime.KeyedState: the buffered batches come back, each split's
// in the order they arrived.
func (o *ReorderOp) LoadState(b state.Backend) error {
	nc := o.schema.NumFields()
	return keyed.ReadState(b, o.tc.Eval.Mem, "reorder", bufferTable, o.stateSchema(), func(_ int, rec arrow.RecordBatch) error {
		n := int(rec.NumRows())
		wms := rec.Column(nc + 4).(*array.Int64)
		data := keyed.Project(rec, o.schema)
		defer data.Release()
		for at := 0; at < n; {
			seq, _ := keyed.SeqAt(rec, nc, at)
			end := at + 1
			for end < n {
				s, row := keyed.SeqAt(rec, nc, end)
				if row == 0 || s != seq {
					break
				}
				end++
			}
			m := runtime.Message{Kind: runtime.MsgBatch, Rec: data.NewSlice(int64(at), int64(end)), Seq: seq}
			if wms.IsValid(at) {
				m.WM, m.HasWM = wms.Value(at), true
			}
			s := runtime.SplitOf(seq)
			o.buffered[s] = append(o.buffered[s], m)
			at = end
		}
		return nil
	})
}
