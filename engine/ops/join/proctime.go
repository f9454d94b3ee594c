package join

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/agg"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// ProctimeJoinOp is Flink's processing-time temporal join (FOR SYSTEM_TIME AS OF
// PROCTIME()): each left row is joined, when it arrives, with the current version of its
// key in the right table — the latest right row of the key seen so far — and never again:
// later right rows do not change earlier results, and the output is append-only. Without
// a version, an inner join drops the left row, a left join (Left) emits it padded with
// nulls. No watermark is waited for.
//
// The right input is append-only (each row the new version of its key) or a changelog
// (RightOpCol >= 0, the index of its op column): +I and +U rows are new versions, -D rows
// delete their key, -U rows are skipped (the +U that follows replaces the version). The
// state is the current version per key (the right side's table, by key group); left rows
// are not kept.
//
// PreferRight reads the right input first (runtime.InputPreferrer); HoldLeft holds the
// left input back until the right one has ended (a bounded right table, read whole
// before any left row is joined: the result does not depend on arrival order).
type ProctimeJoinOp struct {
	JoinBase
	Left       bool
	RightOpCol int
	HoldLeft   bool

	current map[uint32]keyed.RowRef // the version per key id
}

func (o *ProctimeJoinOp) Open(tc *runtime.TaskCtx) error {
	o.openBase(tc)
	o.current = map[uint32]keyed.RowRef{}
	return nil
}

// PreferredInput implements runtime.InputPreferrer.
func (o *ProctimeJoinOp) PreferredInput() (int, bool) { return 1, o.HoldLeft }

func (o *ProctimeJoinOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	n := int(rec.NumRows())
	if n == 0 {
		return nil
	}
	if m.Side == 1 {
		return o.version(rec)
	}
	ids, err := o.keyIDs(0, rec)
	if err != nil {
		return err
	}
	store := &o.sides[0].store
	chunk, err := store.Add(rec)
	if err != nil {
		return err
	}
	var left, right []keyed.RowRef
	for i, id := range ids {
		r, ok := o.current[id]
		if !ok && !o.Left {
			continue
		}
		if !ok {
			r = keyed.RowRef{Chunk: -1}
		}
		left, right = append(left, keyed.RowRef{Chunk: chunk, Row: int32(i)}), append(right, r)
	}
	err = o.emitPairs(left, right, nil, out)
	store.Live[chunk] = 0 // left rows are not kept
	store.Settle(chunk)
	return err
}

// version takes a batch of the right input: each row the new version of its key, or with
// a changelog's -D its deletion.
func (o *ProctimeJoinOp) version(rec arrow.RecordBatch) error {
	n := int(rec.NumRows())
	var ops *array.String
	if o.RightOpCol >= 0 {
		var ok bool
		if ops, ok = rec.Column(o.RightOpCol).(*array.String); !ok {
			return rberr.New(rberr.Internal, "%s: the right op column is %s", o.Spec.Name, rec.Column(o.RightOpCol).DataType())
		}
		cols := make([]arrow.Array, 0, rec.NumCols()-1)
		for c, col := range rec.Columns() {
			if c != o.RightOpCol {
				cols = append(cols, col)
			}
		}
		rec = array.NewRecordBatch(o.Spec.RightSchema, cols, int64(n))
		defer rec.Release()
	}
	ids, err := o.keyIDs(1, rec)
	if err != nil {
		return err
	}
	store := &o.sides[1].store
	chunk, err := store.Add(rec)
	if err != nil {
		return err
	}
	kept := 0
	for i, id := range ids {
		if id == nullKey {
			continue // a null key matches nothing
		}
		old, had := o.current[id]
		if ops != nil {
			switch op := ops.Value(i); op {
			case agg.OpInsert, agg.OpUpdateAfter:
			case agg.OpUpdateBefore:
				continue
			case agg.OpDelete:
				if had {
					store.Drop(old)
					delete(o.current, id)
				}
				continue
			default:
				return rberr.New(rberr.Data, "%s: unknown change %q in the right input's %s column", o.Spec.Name, op, agg.OpColumn)
			}
		}
		if had {
			store.Drop(old)
		}
		o.current[id] = keyed.RowRef{Chunk: chunk, Row: int32(i)}
		kept++
	}
	store.Live[chunk] += kept - n
	store.Settle(chunk)
	return store.Err()
}

// StateTables implements runtime.KeyedState.
func (o *ProctimeJoinOp) StateTables() []state.TableSpec { return joinTables() }

// SaveState implements runtime.KeyedState: the current version of every key.
func (o *ProctimeJoinOp) SaveState(b state.Backend) error {
	refs := make([]keyed.RowRef, 0, len(o.current))
	for _, r := range o.current {
		refs = append(refs, r)
	}
	return o.saveSide(b, 1, refs, nil, nil)
}

// LoadState implements runtime.KeyedState.
func (o *ProctimeJoinOp) LoadState(b state.Backend) error {
	return o.loadSide(b, 1, nil, func(chunk int32, ids []uint32, _ arrow.RecordBatch) error {
		for i, id := range ids {
			if _, dup := o.current[id]; dup {
				return rberr.New(rberr.Internal, "%s: the checkpoint holds two versions of one key", o.Spec.Name)
			}
			o.current[id] = keyed.RowRef{Chunk: chunk, Row: int32(i)}
		}
		return nil
	})
}

var _ runtime.KeyedState = (*ProctimeJoinOp)(nil)
