package keyed

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// SaveRows gathers the referenced rows of s, appends the extra columns (one value per
// ref, fields extra) and writes them to batch table name, each row in the key group of
// its keys (evaluated on the row, as the hash exchange does; no keys: hash 0). It takes
// ownership of extra.
//
// With spilling, the rows are gathered and written a part at a time (GatherEach, in the
// order of their chunks), so a spilled state is saved within the memory cap; each part
// adds one Arrow stream per key group, and rows of one key group keep their order only
// within a chunk.
func (s *RowStore) SaveRows(b state.Backend, ec *expr.EvalCtx, op, name string, keys []expr.Expr, maxPar int, refs []RowRef, extra []arrow.Array, fields []arrow.Field) error {
	defer runtime.ReleaseAll(extra)
	schema := RowFields(s.Schema, fields...)
	w := NewStateWriter(ec, op, name, schema)
	defer w.Release()
	err := s.GatherEach(ec.Ctx, refs, false, func(at []int32, cols []arrow.Array) error {
		n := len(refs)
		ex := extra
		if at != nil {
			n = len(at)
			var err error
			if ex, err = takeAt(ec, extra, at); err != nil {
				return err
			}
			defer runtime.ReleaseAll(ex)
		}
		rows := array.NewRecordBatch(s.Schema, cols, int64(n))
		defer rows.Release()
		kcols, err := runtime.EvalColumns(ec, keys, rows)
		if err != nil {
			return err
		}
		kgs := KeyGroups(kcols, n, maxPar)
		runtime.ReleaseAll(kcols)
		if err := w.AddColumns(append(append([]arrow.Array{}, cols...), ex...), n, kgs); err != nil {
			return err
		}
		if at == nil {
			return nil
		}
		return w.Write(b)
	})
	if err != nil {
		return err
	}
	return w.Write(b)
}

// takeAt takes rows at of each column.
func takeAt(ec *expr.EvalCtx, cols []arrow.Array, at []int32) ([]arrow.Array, error) {
	if len(cols) == 0 {
		return nil, nil
	}
	idx := int32Array(ec.Mem, at)
	defer idx.Release()
	out := make([]arrow.Array, 0, len(cols))
	for _, c := range cols {
		t, err := compute.TakeArray(ec.Ctx, c, idx)
		if err != nil {
			runtime.ReleaseAll(out)
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// LoadRows reads batch table name (saved by SaveRows with fields extra), adds each
// batch's rows to s as a chunk (every row referenced once), and calls fn with the chunk
// number, the rows, and the whole batch (rows then extra columns). With spilling, the
// chunks added beyond the memory cap are spilled as they come.
func (s *RowStore) LoadRows(b state.Backend, ec *expr.EvalCtx, op, name string, fields []arrow.Field, fn func(chunk int32, rows, rec arrow.RecordBatch) error) error {
	return ReadState(b, ec.Mem, op, name, RowFields(s.Schema, fields...), func(_ int, rec arrow.RecordBatch) error {
		rows := Project(rec, s.Schema)
		defer rows.Release()
		chunk, err := s.Add(rows)
		if err != nil {
			return err
		}
		return fn(chunk, rows, rec)
	})
}
