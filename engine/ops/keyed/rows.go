package keyed

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// SaveRows gathers the referenced rows of s, appends the extra columns (one value per
// ref, fields extra) and writes them to batch table name, each row in the key group of
// its keys (evaluated on the row, as the hash exchange does; no keys: hash 0). It takes
// ownership of extra.
func (s *RowStore) SaveRows(b state.Backend, ec *expr.EvalCtx, op, name string, keys []expr.Expr, maxPar int, refs []RowRef, extra []arrow.Array, fields []arrow.Field) error {
	defer runtime.ReleaseAll(extra)
	schema := RowFields(s.Schema, fields...)
	w := NewStateWriter(ec, op, name, schema)
	defer w.Release()
	if len(refs) > 0 {
		cols, err := s.Gather(ec.Ctx, refs)
		if err != nil {
			return err
		}
		defer runtime.ReleaseAll(cols)
		rows := array.NewRecordBatch(s.Schema, cols, int64(len(refs)))
		defer rows.Release()
		kcols, err := runtime.EvalColumns(ec, keys, rows)
		if err != nil {
			return err
		}
		kgs := KeyGroups(kcols, len(refs), maxPar)
		runtime.ReleaseAll(kcols)
		if err := w.AddColumns(append(append([]arrow.Array{}, cols...), extra...), len(refs), kgs); err != nil {
			return err
		}
	}
	return w.Write(b)
}

// LoadRows reads batch table name (saved by SaveRows with fields extra), adds each
// batch's rows to s as a chunk (every row referenced once), and calls fn with the chunk
// number, the rows, and the whole batch (rows then extra columns).
func (s *RowStore) LoadRows(b state.Backend, ec *expr.EvalCtx, op, name string, fields []arrow.Field, fn func(chunk int32, rows, rec arrow.RecordBatch) error) error {
	return ReadState(b, ec.Mem, op, name, RowFields(s.Schema, fields...), func(_ int, rec arrow.RecordBatch) error {
		rows := Project(rec, s.Schema)
		defer rows.Release()
		chunk := s.Add(rows)
		return fn(chunk, rows, rec)
	})
}
