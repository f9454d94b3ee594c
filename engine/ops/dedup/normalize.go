package dedup

import (
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// NormalizeOp turns an upsert stream into a retract changelog, as Flink's
// ChangelogNormalize does behind its upsert-kafka source. Its input rows end with the op
// column (agg.OpColumn): "+U" (or "+I") upserts the row's key (Keys) with the row, "-D"
// deletes the key (only the key columns of such a row matter). It keeps the last row of
// every key and emits, per input row:
//
//   - an upsert of a key it does not hold: +I of the row;
//   - an upsert of a key it holds: -U of the row held and +U of the new one, or nothing
//     when the two are equal in every column (as Flink's, without state TTL);
//   - a delete of a key it holds: -D of the row held (all its values); of a key it does
//     not hold: nothing.
//
// The output is keyed by Keys (at most one row per key in the table it makes). The state
// is the row held per key, checkpointed by key group (NormalizedTable).
type NormalizeOp struct {
	runtime.BaseOp
	Name      string
	Keys      []expr.Expr
	KeyTypes  []arrow.DataType
	InSchema  *arrow.Schema // the input's columns, the op column last; also the output's
	BatchSize int

	tc      *runtime.TaskCtx
	rows    *arrow.Schema // InSchema without the op column: the rows held
	groups  *keyed.Grouper
	store   keyed.RowStore
	held    []keyed.RowRef // per key id; Chunk < 0: none
	nheld   int
	added   int
	outRefs []keyed.RowRef
	outOps  []string
	drops   []keyed.RowRef
}

// NormalizedTable is the state table of NormalizeOp: the row held per key.
const NormalizedTable = "normalized.v1"

var noRef = keyed.RowRef{Chunk: -1}

func (o *NormalizeOp) Open(tc *runtime.TaskCtx) error {
	o.tc = tc
	n := o.InSchema.NumFields()
	if n < 2 || o.InSchema.Field(n-1).Name != agg.OpColumn {
		return rberr.New(rberr.Internal, "%s: the input does not end with the op column", o.Name)
	}
	o.rows = arrow.NewSchema(o.InSchema.Fields()[:n-1], nil)
	o.groups = keyed.NewGrouper(o.KeyTypes)
	sp := keyed.NewSpill(tc, o.Name)
	sp.SetIndex(o.indexBytes)
	o.store.Init(o.rows, sp)
	return nil
}

// indexBytes estimates the memory of the operator's index of its rows (counted against the
// memory cap with spilling): the keys and a reference per key.
func (o *NormalizeOp) indexBytes() int64 {
	return o.groups.MemBytes() + int64(cap(o.held))*int64(unsafe.Sizeof(keyed.RowRef{}))
}

func (o *NormalizeOp) ProcessMarker(runtime.Message, runtime.Emitter) error { return nil }

func (o *NormalizeOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	ops, ok := rec.Column(int(rec.NumCols()) - 1).(*array.String)
	if !ok {
		return rberr.New(rberr.Internal, "%s: the op column is %s", o.Name, rec.Column(int(rec.NumCols())-1).DataType())
	}
	ids, err := groupIDs(o.tc.Eval, o.groups, o.Keys, rec)
	if err != nil {
		return err
	}
	rows := keyed.Project(rec, o.rows)
	chunk, err := o.store.Add(rows)
	rows.Release()
	if err != nil {
		return err
	}
	kept := 0
	for i := 0; i < n; i++ {
		id := int(ids[i])
		for len(o.held) <= id {
			o.held = append(o.held, noRef)
		}
		old := o.held[id]
		has := old.Chunk >= 0
		ref := keyed.RowRef{Chunk: chunk, Row: int32(i)}
		switch op := ops.Value(i); op {
		case agg.OpDelete:
			if has {
				o.change(old, agg.OpDelete)
				o.drops = append(o.drops, old)
				o.held[id] = noRef
				o.nheld--
			}
		case agg.OpUpdateAfter, agg.OpInsert:
			switch {
			case !has:
				o.change(ref, agg.OpInsert)
				o.nheld++
			case o.store.CompareRows(old, ref) == 0:
				continue // the key's value again: no change
			default:
				o.change(old, agg.OpUpdateBefore)
				o.change(ref, agg.OpUpdateAfter)
				o.drops = append(o.drops, old)
			}
			o.held[id] = ref
			kept++
		default:
			return rberr.New(rberr.Data, "%s: an upsert stream takes %s and %s changes, not %q", o.Name, agg.OpUpdateAfter, agg.OpDelete, op)
		}
	}
	o.store.Live[chunk] += kept - n
	o.store.Settle(chunk)
	if err := o.flush(out); err != nil {
		return err
	}
	if err := o.store.Err(); err != nil {
		return err
	}
	o.added += kept
	return o.maybeCompact()
}

// change queues one output row.
func (o *NormalizeOp) change(ref keyed.RowRef, op string) {
	o.outRefs = append(o.outRefs, ref)
	o.outOps = append(o.outOps, op)
}

// flush emits the queued changes, in order, and forgets the rows replaced or deleted.
func (o *NormalizeOp) flush(out runtime.Emitter) error {
	defer func() {
		for _, r := range o.drops {
			o.store.Drop(r)
		}
		o.outRefs, o.outOps, o.drops = o.outRefs[:0], o.outOps[:0], o.drops[:0]
	}()
	if len(o.outRefs) == 0 {
		return nil
	}
	mem := o.tc.Eval.Mem
	return o.store.GatherEach(o.tc.Eval.Ctx, o.outRefs, true, func(at []int32, cols []arrow.Array) error {
		ops := o.outOps
		if at != nil {
			ops = make([]string, len(at))
			for i, j := range at {
				ops[i] = o.outOps[j]
			}
		}
		b := array.NewStringBuilder(mem)
		b.Reserve(len(ops))
		for _, op := range ops {
			b.Append(op)
		}
		opArr := b.NewArray()
		b.Release()
		defer opArr.Release()
		rec := array.NewRecordBatch(o.InSchema, append(append([]arrow.Array{}, cols...), opArr), int64(len(ops)))
		return runtime.EmitSliced(rec, o.BatchSize, out)
	})
}

// maybeCompact copies the rows held into new chunks once the store's chunks hold more than
// twice as many rows (a held row keeps its whole batch alive otherwise), as RankOp's.
func (o *NormalizeOp) maybeCompact() error {
	if o.added < max(rankCompactAt, o.nheld) {
		return nil
	}
	o.added = 0
	if held := o.store.HeldRows(); held < rankCompactAt || held <= 2*o.nheld {
		return nil
	}
	refs, ids := o.heldRefs()
	moved, err := o.store.Compact(o.tc.Eval.Ctx, refs)
	if err != nil {
		return err
	}
	for i, id := range ids {
		o.held[id] = moved[i]
	}
	return nil
}

// heldRefs lists the rows held and their key ids.
func (o *NormalizeOp) heldRefs() ([]keyed.RowRef, []int) {
	refs := make([]keyed.RowRef, 0, o.nheld)
	ids := make([]int, 0, o.nheld)
	for id, r := range o.held {
		if r.Chunk >= 0 {
			refs, ids = append(refs, r), append(ids, id)
		}
	}
	return refs, ids
}

func (o *NormalizeOp) Close() {
	o.store.Release()
	if o.groups != nil {
		o.groups.Free()
	}
}

// StateTables implements runtime.KeyedState.
func (o *NormalizeOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(NormalizedTable)}
}

// SaveState implements runtime.KeyedState.
func (o *NormalizeOp) SaveState(b state.Backend) error {
	refs, _ := o.heldRefs()
	return o.store.SaveRows(b, o.tc.Eval, o.Name, NormalizedTable, o.Keys, o.tc.MaxParallelism(), refs, nil, nil)
}

// LoadState implements runtime.KeyedState.
func (o *NormalizeOp) LoadState(b state.Backend) error {
	ec := o.tc.Eval
	return o.store.LoadRows(b, ec, o.Name, NormalizedTable, nil, func(chunk int32, rows, _ arrow.RecordBatch) error {
		ids, err := groupIDs(ec, o.groups, o.Keys, rows)
		if err != nil {
			return err
		}
		for i, id := range ids {
			for len(o.held) <= int(id) {
				o.held = append(o.held, noRef)
			}
			if o.held[id].Chunk >= 0 {
				return rberr.New(rberr.Internal, "%s: the checkpoint holds two rows of one key", o.Name)
			}
			o.held[id] = keyed.RowRef{Chunk: chunk, Row: int32(i)}
			o.nheld++
		}
		return nil
	})
}

var _ runtime.KeyedState = (*NormalizeOp)(nil)
