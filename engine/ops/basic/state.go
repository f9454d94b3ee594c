package basic

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// Checkpointed state of the operators that see their whole input on one subtask (sort,
// tail, unique). They run at parallelism 1 at any job parallelism, so their rows go to one
// key group (that of hash 0, where the exchange sends rows without keys) and come back,
// in order, to the one subtask that owns every key group.

const (
	rowsTable = "rows.v1"
	keysTable = "keys.v1"
	colCount  = "__rb_count"
)

// saveBatches writes batches (of schema) in order, with optional extra columns per batch.
func saveBatches(b state.Backend, tc *runtime.TaskCtx, op, table string, schema *arrow.Schema, batches []arrow.RecordBatch) error {
	w := keyed.NewStateWriter(tc.Eval, op, table, schema)
	defer w.Release()
	for _, rec := range batches {
		if err := w.Add(rec, keyed.KeyGroups(nil, int(rec.NumRows()), tc.MaxParallelism())); err != nil {
			return err
		}
	}
	return w.Write(b)
}

// StateTables implements runtime.KeyedState.
func (o *SortOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(rowsTable)}
}

// SaveState implements runtime.KeyedState: the rows read so far, in input order, or,
// once runs were written to disk, the runs in order and then the rows held. Either way
// rows with equal keys are in input order (a run is sorted stably, and holds rows before
// those of the next run), which is all a stable sort of the restored rows needs.
func (o *SortOp) SaveState(b state.Backend) error {
	if o.runs.Count() == 0 {
		return saveBatches(b, o.tc, "sort", rowsTable, o.Schema, o.batches)
	}
	w := keyed.NewStateWriter(o.tc.Eval, "sort", rowsTable, o.Schema)
	defer w.Release()
	add := func(rec arrow.RecordBatch) error {
		return w.Add(rec, keyed.KeyGroups(nil, int(rec.NumRows()), o.tc.MaxParallelism()))
	}
	srcs, err := o.runs.Open()
	defer o.runs.CloseFiles()
	if err != nil {
		return err
	}
	for _, src := range srcs {
		for {
			rec, err := src()
			if err != nil {
				return err
			}
			if rec == nil {
				break
			}
			err = add(rec)
			rec.Release()
			if err != nil {
				return err
			}
		}
	}
	for _, rec := range o.batches {
		if err := add(rec); err != nil {
			return err
		}
	}
	return w.Write(b)
}

// LoadState implements runtime.KeyedState.
func (o *SortOp) LoadState(b state.Backend) error {
	return keyed.ReadState(b, o.tc.Eval.Mem, "sort", rowsTable, o.Schema, func(_ int, rec arrow.RecordBatch) error {
		rec.Retain()
		return o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: rec}, nil)
	})
}

// StateTables implements runtime.KeyedState.
func (o *TailOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(rowsTable)}
}

// SaveState implements runtime.KeyedState: the batches that hold the last n rows.
func (o *TailOp) SaveState(b state.Backend) error {
	return saveBatches(b, o.tc, "tail", rowsTable, o.Schema, o.kept)
}

// LoadState implements runtime.KeyedState.
func (o *TailOp) LoadState(b state.Backend) error {
	return keyed.ReadState(b, o.tc.Eval.Mem, "tail", rowsTable, o.Schema, func(_ int, rec arrow.RecordBatch) error {
		rec.Retain()
		return o.ProcessBatch(runtime.Message{Kind: runtime.MsgBatch, Rec: rec}, nil)
	})
}

// StateTables implements runtime.KeyedState.
func (o *UniqueOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(keysTable), keyed.BatchTable(rowsTable)}
}

// SaveState implements runtime.KeyedState: for keep first/any, the keys seen (the rows
// were emitted); for last/none, the row kept for each key; each with its count.
func (o *UniqueOp) SaveState(b state.Backend) error {
	n := len(o.count)
	keySchema := o.keySchema()
	rowSchema := keyed.RowFields(o.Schema, arrow.Field{Name: colCount, Type: arrow.PrimitiveTypes.Int64})
	kw := keyed.NewStateWriter(o.tc.Eval, "unique", keysTable, keySchema)
	defer kw.Release()
	if o.Keep == "first" || o.Keep == "any" {
		if n > 0 {
			gids := make([]uint32, n)
			for i := range gids {
				gids[i] = uint32(i)
			}
			cols, err := o.grouper.KeysFor(o.tc.Eval.Ctx, o.KeyTypes, gids)
			if err != nil {
				return err
			}
			cnt := keyed.Int64Column(o.tc.Eval.Mem, o.count)
			all := append(cols, cnt)
			err = kw.AddColumns(all, n, keyed.KeyGroups(nil, n, o.tc.MaxParallelism()))
			runtime.ReleaseAll(all)
			if err != nil {
				return err
			}
		}
		if err := kw.Write(b); err != nil {
			return err
		}
		return saveBatches(b, o.tc, "unique", rowsTable, rowSchema, nil)
	}
	if err := kw.Write(b); err != nil {
		return err
	}
	var refs []keyed.RowRef
	var counts []int64
	for id, r := range o.pick {
		if r.Chunk >= 0 {
			refs, counts = append(refs, r), append(counts, o.count[id])
		}
	}
	extra := []arrow.Array{keyed.Int64Column(o.tc.Eval.Mem, counts)}
	return o.store.SaveRows(b, o.tc.Eval, "unique", rowsTable, nil, o.tc.MaxParallelism(), refs, extra,
		[]arrow.Field{{Name: colCount, Type: arrow.PrimitiveTypes.Int64}})
}

func (o *UniqueOp) keySchema() *arrow.Schema {
	fields := make([]arrow.Field, 0, len(o.KeyTypes)+1)
	for i, t := range o.KeyTypes {
		fields = append(fields, arrow.Field{Name: fmt.Sprintf("key_%d", i), Type: t, Nullable: true})
	}
	return arrow.NewSchema(append(fields, arrow.Field{Name: colCount, Type: arrow.PrimitiveTypes.Int64}), nil)
}

// LoadState implements runtime.KeyedState.
func (o *UniqueOp) LoadState(b state.Backend) error {
	mem, ctx := o.tc.Eval.Mem, o.tc.Eval.Ctx
	nk := len(o.KeyTypes)
	setCount := func(ids []uint32, counts []int64, refs func(i int) keyed.RowRef) {
		for i, id := range ids {
			for int(id) >= len(o.count) {
				o.count = append(o.count, 0)
				o.pick = append(o.pick, keyed.RowRef{Chunk: -1})
			}
			o.count[id] = counts[i]
			if refs != nil {
				o.pick[id] = refs(i)
			}
		}
	}
	err := keyed.ReadState(b, mem, "unique", keysTable, o.keySchema(), func(_ int, rec arrow.RecordBatch) error {
		ids := make([]uint32, rec.NumRows())
		if err := o.grouper.Consume(ctx, rec.Columns()[:nk], ids); err != nil {
			return err
		}
		setCount(ids, keyed.Int64s(rec.Column(nk)), nil)
		return nil
	})
	if err != nil {
		return err
	}
	return o.store.LoadRows(b, o.tc.Eval, "unique", rowsTable, []arrow.Field{{Name: colCount, Type: arrow.PrimitiveTypes.Int64}},
		func(chunk int32, rows, rec arrow.RecordBatch) error {
			cols, err := runtime.EvalColumns(o.tc.Eval, o.Keys, rows)
			if err != nil {
				return err
			}
			defer runtime.ReleaseAll(cols)
			ids := make([]uint32, rows.NumRows())
			if err := o.grouper.Consume(ctx, cols, ids); err != nil {
				return err
			}
			setCount(ids, keyed.Int64s(rec.Column(int(rec.NumCols())-1)), func(i int) keyed.RowRef {
				return keyed.RowRef{Chunk: chunk, Row: int32(i)}
			})
			return nil
		})
}
