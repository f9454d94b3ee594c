package basic

import (
	"encoding/binary"
	"math"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// FilterOp keeps the rows where the predicate is true (null counts as false).
type FilterOp struct {
	runtime.BaseOp
	Name string
	Pred expr.Expr
	// Keep are the columns of the input passed on (nil: all), in order: the predicate
	// reads the whole input.
	Keep []int
	tc   *runtime.TaskCtx
	out  *arrow.Schema // of the batches passed on, when Keep is set
	rows []int32       // the kept rows of the current batch
}

func (o *FilterOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *FilterOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	var err error
	if o.rows, err = runtime.KeptRows(o.tc.Eval, o.Pred, rec, o.rows[:0]); err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
	}
	if len(o.rows) == 0 {
		return nil
	}
	if o.Keep != nil {
		if o.out == nil {
			fields := make([]arrow.Field, len(o.Keep))
			for j, i := range o.Keep {
				fields[j] = rec.Schema().Field(i)
			}
			md := rec.Schema().Metadata()
			o.out = arrow.NewSchema(fields, &md)
		}
		cols := make([]arrow.Array, len(o.Keep))
		for j, i := range o.Keep {
			cols[j] = rec.Column(i)
		}
		rec = array.NewRecordBatch(o.out, cols, rec.NumRows())
		defer rec.Release()
	}
	if len(o.rows) == int(rec.NumRows()) {
		rec.Retain()
		return out.Emit(m.With(rec))
	}
	cols, err := runtime.TakeColumns(o.tc.Eval, rec, o.rows)
	if err != nil {
		return rberr.Wrap(rberr.Internal, err, "%s", o.Name)
	}
	res := array.NewRecordBatch(rec.Schema(), cols, int64(len(o.rows)))
	runtime.ReleaseAll(cols)
	return out.Emit(m.With(res))
}

// ProjectOp computes the output columns of select and with_columns.
type ProjectOp struct {
	runtime.BaseOp
	Name   string
	Exprs  []expr.Expr
	Schema *arrow.Schema
	tc     *runtime.TaskCtx
}

func (o *ProjectOp) Open(tc *runtime.TaskCtx) error { o.tc = tc; return nil }

func (o *ProjectOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	cols, err := runtime.EvalColumns(o.tc.Eval, o.Exprs, rec)
	if err != nil {
		return rberr.Wrap(rberr.KindOf(err), err, "%s", o.Name)
	}
	defer runtime.ReleaseAll(cols)
	res := array.NewRecordBatch(o.Schema, cols, rec.NumRows())
	return out.Emit(m.With(res))
}

// LimitOp passes the first n rows (of an ordered stream: in order) and then asks the
// sources to stop.
// In a plan with several outputs, the limits that end them share a Quorum: the sources stop
// once every one of them has its rows.
type LimitOp struct {
	runtime.BaseOp
	N        int64
	Offset   int64 // rows skipped before the N taken
	seen     int64 // rows passed so far, skipped ones included
	StopSrcs bool
	// Sources (plan ordinals) are the sources only this limit reads, which it stops once it
	// has its rows; nil: every source of the job, once the Quorum of limits have theirs.
	Sources []int
	Quorum  *atomic.Int32
	tc      *runtime.TaskCtx
	done    bool
}

func (o *LimitOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	if o.N <= 0 {
		o.reached()
	}
	return nil
}

func (o *LimitOp) reached() {
	if o.done || !o.StopSrcs {
		return
	}
	o.done = true
	switch {
	case o.Sources != nil:
		o.tc.Job.StopReadingSources(o.Sources)
	case o.Quorum == nil || o.Quorum.Add(-1) == 0:
		o.tc.Job.StopReading()
	}
}

func (o *LimitOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	end := o.Offset + o.N // the first row not taken (counting from the first row passed)
	if o.N > math.MaxInt64-o.Offset {
		end = math.MaxInt64
	}
	if o.seen >= end {
		return nil
	}
	n := rec.NumRows()
	from := min(max(o.Offset-o.seen, 0), n)
	to := min(end-o.seen, n)
	o.seen += n
	if o.seen >= end {
		o.reached()
	}
	if from >= to {
		return nil
	}
	if from == 0 && to == n {
		rec.Retain()
		return out.Emit(m.With(rec))
	}
	return out.Emit(m.With(rec.NewSlice(from, to)))
}

// The limit's count is state that is not keyed (a limit runs gathered, at parallelism 1):
// it is checkpointed through runtime.CheckpointHook as the count of rows passed so far,
// 8 bytes little-endian.
var _ runtime.CheckpointHook = (*LimitOp)(nil)

// PrepareCheckpoint implements runtime.CheckpointHook: the rows passed so far.
func (o *LimitOp) PrepareCheckpoint(runtime.Barrier) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(nil, uint64(o.seen)), nil
}

// CheckpointComplete implements runtime.CheckpointHook (nothing to commit).
func (o *LimitOp) CheckpointComplete(uint64) error { return nil }

// RestoreCheckpoint implements runtime.CheckpointHook: the rows passed before the
// restore count towards the limit.
func (o *LimitOp) RestoreCheckpoint(parts [][]byte) error {
	for _, p := range parts {
		if p == nil {
			continue
		}
		if len(p) != 8 {
			return rberr.New(rberr.Data, "limit(%d): checkpointed state of %d bytes, expected 8", o.N, len(p))
		}
		o.seen += int64(binary.LittleEndian.Uint64(p))
	}
	if o.seen >= o.Offset && o.seen-o.Offset >= o.N {
		o.reached()
	}
	return nil
}
