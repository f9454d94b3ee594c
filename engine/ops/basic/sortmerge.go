package basic

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// A parallel sort: each subtask of the input sorts its own rows (SortOp with Local), and
// one subtask merges the sorted runs as they arrive (SortMergeOp), as DuckDB and Polars
// sort. A stable sort breaks ties by input order, which the local sorts no longer see
// whole: each row carries its place in it — its batch's Seq (source ordinal, split,
// chunk) and its arrival on its subtask (the rows of one split arrive on one subtask, in
// order) — as the last keys, ascending. Rows of batches an operator made (SeqUnordered)
// come after the others, as in the reorder before a gather.

// seqFields are the columns a local sort adds to its rows: their place in the input.
var seqFields = []arrow.Field{
	{Name: "__rb_sort_source", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "__rb_sort_split", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "__rb_sort_chunk", Type: arrow.PrimitiveTypes.Uint64},
	{Name: "__rb_sort_row", Type: arrow.PrimitiveTypes.Uint64},
}

// SortRunEnd is the Ctl of the control message a local sort sends after its last row.
type SortRunEnd struct{}

// withSeq is rec (consumed) with the seq columns: seq, and the rows' arrival from first.
func withSeq(mem memory.Allocator, schema *arrow.Schema, rec arrow.RecordBatch, seq runtime.Seq, first uint64) arrow.RecordBatch {
	defer rec.Release()
	n := int(rec.NumRows())
	cols := append([]arrow.Array(nil), rec.Columns()...)
	b := array.NewUint64Builder(mem)
	defer b.Release()
	for _, v := range []uint64{seq.Source, seq.Split, seq.Chunk} {
		b.Reserve(n)
		for range n {
			b.UnsafeAppend(v)
		}
		cols = append(cols, b.NewArray())
	}
	b.Reserve(n)
	for i := range n {
		b.UnsafeAppend(first + uint64(i))
	}
	cols = append(cols, b.NewArray())
	out := array.NewRecordBatch(schema, cols, int64(n))
	runtime.ReleaseAll(cols[rec.NumCols():])
	return out
}

// SortMergeOp merges the sorted runs of the local sorts of a parallel sort, one per input
// channel, into batches of EmitSz rows of Schema (the seq columns dropped), emitting rows
// as soon as every run that has not ended has rows queued. It reads a channel only while
// it has no batch of it queued beyond the one it merges (TaskCtx.BlockInput), so it holds
// about two batches per run. A job that takes checkpoints sorts on one subtask instead
// (SortOp): the merge has no state to checkpoint, and blocking inputs would interfere
// with barrier alignment.
type SortMergeOp struct {
	runtime.BaseOp
	Keys       []expr.Expr
	Descending []bool
	NullsLast  []bool
	Schema     *arrow.Schema // of the output
	EmitSz     int
	// Inputs is the number of runs, for a test outside a job (0: the subtask's input
	// channels).
	Inputs int
	tc     *runtime.TaskCtx
	queues [][]arrow.RecordBatch // per channel, the batches not yet merged
	ended  []bool                // per channel, its SortRunEnd arrived
	block  bool                  // TaskCtx.BlockInput is available
	mg     *merger
	out    runtime.Emitter // of the call being processed
}

func (o *SortMergeOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	n := o.Inputs
	if n == 0 {
		n, o.block = tc.NumInputs(), true
	}
	o.queues, o.ended = make([][]arrow.RecordBatch, n), make([]bool, n)
	k := len(o.Keys) + len(seqFields)
	desc, nullsLast := make([]bool, k), make([]bool, k)
	copy(desc, o.Descending)
	copy(nullsLast, o.NullsLast)
	o.mg = &merger{ec: tc.Eval, desc: desc, nullsLast: nullsLast, out: o.Schema, size: o.EmitSz,
		keysOf: func(rec arrow.RecordBatch) ([]arrow.Array, error) {
			cols, err := runtime.EvalColumns(tc.Eval, o.Keys, rec)
			if err != nil {
				return nil, err
			}
			for c := o.Schema.NumFields(); c < int(rec.NumCols()); c++ {
				rec.Column(c).Retain()
				cols = append(cols, rec.Column(c))
			}
			return cols, nil
		},
		emit: func(rec arrow.RecordBatch) error {
			return o.out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Seq: runtime.SeqUnordered})
		}}
	for ch := range o.queues {
		o.mg.add(func() (arrow.RecordBatch, srcState, error) {
			q := o.queues[ch]
			if len(q) == 0 {
				if o.ended[ch] {
					return nil, srcEnd, nil
				}
				return nil, srcWait, nil
			}
			rec := q[0]
			q[0] = nil
			o.queues[ch] = q[1:]
			if len(q) == 1 && o.block {
				o.tc.UnblockInput(ch)
			}
			return rec, srcGot, nil
		})
	}
	return nil
}

func (o *SortMergeOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	return o.add(m.Input(), m.Rec, out)
}

// add queues a batch of the run of channel ch.
func (o *SortMergeOp) add(ch int, rec arrow.RecordBatch, out runtime.Emitter) error {
	o.queues[ch] = append(o.queues[ch], rec)
	if o.block {
		o.tc.BlockInput(ch)
	}
	return o.merge(out)
}

func (o *SortMergeOp) merge(out runtime.Emitter) error {
	o.out = out
	return o.mg.run()
}

// ProcessControl takes a run's end; other control messages pass.
func (o *SortMergeOp) ProcessControl(m runtime.Message, out runtime.Emitter) error {
	if _, ok := m.Ctl.(SortRunEnd); !ok {
		return out.Emit(m)
	}
	return o.end(m.Input(), out)
}

// end ends the run of channel ch.
func (o *SortMergeOp) end(ch int, out runtime.Emitter) error {
	o.ended[ch] = true
	return o.merge(out)
}

func (o *SortMergeOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

// Finish merges what is left: every input has ended.
func (o *SortMergeOp) Finish(out runtime.Emitter) error {
	for ch := range o.ended {
		o.ended[ch] = true
	}
	return o.merge(out)
}

func (o *SortMergeOp) Close() {
	if o.mg != nil {
		o.mg.release()
	}
	for _, q := range o.queues {
		for _, rec := range q {
			rec.Release()
		}
	}
	o.queues = nil
}
