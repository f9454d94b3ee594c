package sink

import (
	"fmt"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// SnapshotOp is write_parquet_snapshot: it materializes its input, a changelog (or an
// append-only stream), into the table the changes make, and writes that whole table as a
// new Parquet snapshot at each checkpoint (snapshot_commit.go), or once at the end of a
// job without checkpoints.
//
// The table is a multiset of rows: +I and +U add their row, -U and -D remove one row
// equal to theirs in every column (an append-only input only adds). So any retract
// changelog is taken without knowing its key, and the changes of one batch may come in
// any order. A -U or -D of a row the table does not hold is an error naming the sink.
//
// Rows are held in a keyed.RowStore (which spills with state_backend="pebble") and
// indexed by the hash of the whole row; the subtask's rows are those of its key groups
// (the hash exchange routes each change by Keys: the changelog's key columns when they
// are known, else every column), so the table is checkpointed, restored and rescaled by
// key group as every keyed operator's state.
type SnapshotOp struct {
	runtime.BaseOp
	Name   string        // for messages: "write_parquet_snapshot"
	Dir    string        // the output directory
	Schema *arrow.Schema // the table's columns: the input's without the op column
	OpCol  int           // the input's op column; -1: an append-only input
	Keys   []expr.Expr   // the partitioning keys, over Schema's columns
	Keep   int           // committed snapshots kept (the newest), at least 1
	// Gate is shared by the subtasks of one job's sink (NewSnapshotGate): after a restore,
	// the others wait for subtask 0 to have restored the directory.
	Gate *SnapshotGate

	Subtask int
	tc      *runtime.TaskCtx
	store   keyed.RowStore
	idx     rowIndex
	hs      []uint64

	// offset numbers the snapshots: the one of checkpoint id is snapshot-<id+offset>. It is
	// 0 unless a restore made the checkpoint ids start again at or below a committed
	// snapshot's number (a restored savepoint's do), so that numbers always increase.
	offset uint64

	mu        sync.Mutex
	prepared  []prepared // snapshots this subtask pre-committed, not yet known committed
	committed uint64     // the newest snapshot committed (subtask 0)
	hasCommit bool
}

// prepared is a snapshot pre-committed at checkpoint id, numbered n.
type prepared struct{ id, n uint64 }

// RowsTable is the state table of the held rows (the table's columns, no op column).
const RowsTable = "snapshot_rows.v1"

// SnapshotGate is what the subtasks of the sink share: subtask 0 restores the output
// directory for all, and the others wait for it before they write into it.
type SnapshotGate struct {
	restored chan struct{}
	once     sync.Once
	offset   uint64 // set by subtask 0 before restored is closed
}

// NewSnapshotGate returns the gate of one job's sink.
func NewSnapshotGate() *SnapshotGate { return &SnapshotGate{restored: make(chan struct{})} }

func (o *SnapshotOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	o.store.Init(o.Schema, keyed.NewSpill(tc, o.Name))
	o.idx.init()
	if o.Gate == nil {
		o.Gate = NewSnapshotGate()
	}
	if o.Subtask == 0 && !tc.Job.Checkpointing() {
		// Without checkpoints the table is written once, when the job has succeeded.
		tc.Job.AddCommitter(&endCommitter{o: o})
	}
	return nil
}

func (o *SnapshotOp) Close() { o.store.Release() }

func (o *SnapshotOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }
func (o *SnapshotOp) ProcessWatermark(int64, runtime.Emitter) error        { return nil }

// ProcessBatch applies a batch of changes: first every row it adds, then every row it
// removes (so a batch that inserts and deletes a row, in either order, is taken).
func (o *SnapshotOp) ProcessBatch(m runtime.Message, _ runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	data := rec
	var adds, removes []int32
	if o.OpCol >= 0 {
		ops, ok := rec.Column(o.OpCol).(*array.String)
		if !ok {
			return rberr.New(rberr.Internal, "%s: the op column is %s", o.Name, rec.Column(o.OpCol).DataType())
		}
		for i := 0; i < n; i++ {
			if ops.IsNull(i) {
				return rberr.New(rberr.Data, "%s into %q: a change has a null %s", o.Name, o.Dir, OpColumnName)
			}
			switch ops.Value(i) {
			case "+I", "+U":
				adds = append(adds, int32(i))
			case "-U", "-D":
				removes = append(removes, int32(i))
			default:
				return rberr.New(rberr.Data, "%s into %q: unknown change %q in the %s column (expected +I, -U, +U or -D)", o.Name, o.Dir, ops.Value(i), OpColumnName)
			}
		}
		cols := make([]arrow.Array, 0, rec.NumCols()-1)
		for c, col := range rec.Columns() {
			if c != o.OpCol {
				cols = append(cols, col)
			}
		}
		data = array.NewRecordBatch(o.Schema, cols, int64(n))
		defer data.Release()
	}
	if cap(o.hs) < n {
		o.hs = make([]uint64, n)
	}
	hs := o.hs[:n]
	expr.HashColumns(data.Columns(), hs)
	if o.OpCol < 0 || len(adds) == n {
		if err := o.add(data, hs, nil); err != nil {
			return err
		}
	} else if len(adds) > 0 {
		kept, err := runtime.TakeRows(o.tc.Eval, data, adds)
		if err != nil {
			return err
		}
		err = o.add(kept, hs, adds)
		kept.Release()
		if err != nil {
			return err
		}
	}
	for _, r := range removes {
		if err := o.remove(data, int(r), hs[r]); err != nil {
			return err
		}
	}
	if len(removes) > 0 {
		return o.maybeCompact()
	}
	return nil
}

// OpColumnName is the op column of a changelog (agg.OpColumn, named here for messages).
const OpColumnName = "__op"

// add keeps the rows of rec; hs are the hashes of the input rows, at the positions at
// (nil: row i of rec is input row i).
func (o *SnapshotOp) add(rec arrow.RecordBatch, hs []uint64, at []int32) error {
	chunk, err := o.store.Add(rec)
	if err != nil {
		return err
	}
	for i := 0; i < int(rec.NumRows()); i++ {
		h := hs[i]
		if at != nil {
			h = hs[at[i]]
		}
		o.idx.add(h, keyed.RowRef{Chunk: chunk, Row: int32(i)})
	}
	return nil
}

// remove takes one row equal to row r of rec out of the table.
func (o *SnapshotOp) remove(rec arrow.RecordBatch, r int, h uint64) error {
	prev := int32(-1)
	for e := o.idx.first(h); e >= 0; prev, e = e, o.idx.next[e] {
		held, i, err := o.store.Row(o.idx.refs[e])
		if err != nil {
			return err
		}
		if expr.CompareRows(held, i, rec, r) == 0 {
			o.store.Drop(o.idx.refs[e])
			o.idx.remove(h, e, prev)
			return nil
		}
	}
	return rberr.New(rberr.Data, "%s into %q: a change retracts the row %s, which the table does not hold (was a row retracted twice, or its insert lost?)", o.Name, o.Dir, describeRow(rec, r))
}

// describeRow writes row r of rec as name=value pairs, for messages.
func describeRow(rec arrow.RecordBatch, r int) string {
	var b strings.Builder
	b.WriteByte('{')
	for c, col := range rec.Columns() {
		if c > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s=%s", rec.Schema().Field(c).Name, col.ValueStr(r))
	}
	b.WriteByte('}')
	return b.String()
}

// maybeCompact copies the held rows into new chunks once the chunks hold more than twice
// the rows still in the table (retracted rows keep their chunk alive otherwise).
func (o *SnapshotOp) maybeCompact() error {
	held := o.store.HeldRows()
	if held < 4096 || held <= 2*o.idx.live {
		return nil
	}
	es, refs := o.idx.all()
	moved, err := o.store.Compact(o.tc.Eval.Ctx, refs)
	if err != nil {
		return err
	}
	for k, e := range es {
		o.idx.refs[e] = moved[k]
	}
	return nil
}

// Finish writes the table, without checkpoints, for the commit at the end of the job
// (endCommitter), and emits the subtask's summary row (the directory, the rows held).
func (o *SnapshotOp) Finish(out runtime.Emitter) error {
	if !o.tc.Job.Checkpointing() {
		if _, err := o.writePart(o.offset); err != nil { // snapshot 0, numbered as checkpoint 0 would be
			return err
		}
	}
	mem := o.tc.Eval.Mem
	p := array.NewStringBuilder(mem)
	p.Append(o.Dir)
	r := array.NewInt64Builder(mem)
	r.Append(int64(o.idx.live))
	cols := []arrow.Array{p.NewArray(), r.NewArray()}
	p.Release()
	r.Release()
	rec := array.NewRecordBatch(runtime.WriteSummarySchema, cols, 1)
	runtime.ReleaseAll(cols)
	return out.Emit(runtime.Message{Kind: runtime.MsgBatch, Rec: rec, Seq: runtime.SeqUnordered})
}

// StateTables implements runtime.KeyedState.
func (o *SnapshotOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(RowsTable)}
}

// SaveState implements runtime.KeyedState: every held row, in the key group of its keys.
func (o *SnapshotOp) SaveState(b state.Backend) error {
	_, refs := o.idx.all()
	return o.store.SaveRows(b, o.tc.Eval, o.Name, RowsTable, o.Keys, o.tc.MaxParallelism(), refs, nil, nil)
}

// LoadState implements runtime.KeyedState.
func (o *SnapshotOp) LoadState(b state.Backend) error {
	return o.store.LoadRows(b, o.tc.Eval, o.Name, RowsTable, nil, func(chunk int32, rows, _ arrow.RecordBatch) error {
		n := int(rows.NumRows())
		hs := make([]uint64, n)
		expr.HashColumns(rows.Columns(), hs)
		for i, h := range hs {
			o.idx.add(h, keyed.RowRef{Chunk: chunk, Row: int32(i)})
		}
		return nil
	})
}

// rowIndex finds the held rows by hash: a chained hash table of entries (a row's
// reference), with a free list. A few dozen bytes per held row stay in memory whatever
// the backend.
type rowIndex struct {
	heads map[uint64]int32 // hash -> first entry
	refs  []keyed.RowRef   // per entry; Chunk -1: a free entry
	next  []int32          // per entry: the next of its chain, or -1
	free  []int32
	live  int
}

func (x *rowIndex) init() { x.heads = map[uint64]int32{} }

func (x *rowIndex) first(h uint64) int32 {
	if e, ok := x.heads[h]; ok {
		return e
	}
	return -1
}

func (x *rowIndex) add(h uint64, r keyed.RowRef) {
	var e int32
	if n := len(x.free); n > 0 {
		e = x.free[n-1]
		x.free = x.free[:n-1]
	} else {
		e = int32(len(x.refs))
		x.refs = append(x.refs, keyed.RowRef{})
		x.next = append(x.next, -1)
	}
	x.refs[e] = r
	x.next[e] = x.first(h)
	x.heads[h] = e
	x.live++
}

// remove unlinks entry e of chain h, whose previous entry is prev (-1: e is the first).
func (x *rowIndex) remove(h uint64, e, prev int32) {
	if prev < 0 {
		if x.next[e] < 0 {
			delete(x.heads, h)
		} else {
			x.heads[h] = x.next[e]
		}
	} else {
		x.next[prev] = x.next[e]
	}
	x.refs[e] = keyed.RowRef{Chunk: -1}
	x.next[e] = -1
	x.free = append(x.free, e)
	x.live--
}

// all returns the live entries and their references.
func (x *rowIndex) all() ([]int32, []keyed.RowRef) {
	es := make([]int32, 0, x.live)
	refs := make([]keyed.RowRef, 0, x.live)
	for e, r := range x.refs {
		if r.Chunk >= 0 {
			es = append(es, int32(e))
			refs = append(refs, r)
		}
	}
	return es, refs
}
