package over

import (
	"container/heap"
	"math"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// Checkpointed frame state. The operator's watermark is not saved (it is not keyed); it
// comes back with the first watermark after a restore.

// Table names of FrameOp's state.
const (
	// FramePendingTable: rows waiting for the watermark: the input row, its order value
	// (__rb_time) and input position (__rb_seq_*, __rb_row), which order ties.
	FramePendingTable = "frame_pending.v1"
	// FrameRowsTable: per partition, the rows its bounded frames may still reach, in
	// order: the partition's key columns (key_<i>), the order value (__rb_time) and each
	// aggregation's value (v_<i>, int64 or float64).
	FrameRowsTable = "frame_rows.v1"
	// FrameRunTable: per partition that has had a row, the running aggregates of its
	// unbounded frames: key columns, then per aggregation its count (n_<i>), integer and
	// float sums (si_<i>, sf_<i>) and min / max (mi_<i>, mf_<i>).
	FrameRunTable = "frame_run.v1"
)

func (o *FrameOp) keyFields() []arrow.Field {
	fs := make([]arrow.Field, len(o.KeyTypes))
	for i, t := range o.KeyTypes {
		fs[i] = arrow.Field{Name: "key_" + strconv.Itoa(i), Type: t, Nullable: true}
	}
	return fs
}

func (o *FrameOp) rowsSchema() *arrow.Schema {
	fs := append(o.keyFields(), arrow.Field{Name: keyed.ColTime, Type: arrow.PrimitiveTypes.Int64})
	for a, ag := range o.Aggs {
		t := arrow.DataType(arrow.PrimitiveTypes.Int64)
		if ag.Float {
			t = arrow.PrimitiveTypes.Float64
		}
		fs = append(fs, arrow.Field{Name: "v_" + strconv.Itoa(a), Type: t, Nullable: true})
	}
	return arrow.NewSchema(fs, nil)
}

func (o *FrameOp) runSchema() *arrow.Schema {
	fs := o.keyFields()
	i64, f64 := arrow.PrimitiveTypes.Int64, arrow.PrimitiveTypes.Float64
	for a := range o.Aggs {
		s := strconv.Itoa(a)
		fs = append(fs, arrow.Field{Name: "n_" + s, Type: i64}, arrow.Field{Name: "si_" + s, Type: i64},
			arrow.Field{Name: "sf_" + s, Type: f64}, arrow.Field{Name: "mi_" + s, Type: i64}, arrow.Field{Name: "mf_" + s, Type: f64})
	}
	return arrow.NewSchema(fs, nil)
}

var framePendingFields = append([]arrow.Field{{Name: keyed.ColTime, Type: arrow.PrimitiveTypes.Int64}}, keyed.SeqFields()...)

// StateTables implements runtime.KeyedState.
func (o *FrameOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(FramePendingTable), keyed.BatchTable(FrameRowsTable), keyed.BatchTable(FrameRunTable)}
}

// SaveState implements runtime.KeyedState.
func (o *FrameOp) SaveState(b state.Backend) error {
	ec, maxPar := o.tc.Eval, o.tc.MaxParallelism()
	// The rows frames may reach, and the running aggregates, per partition: those in
	// memory, then those in the store.
	var gids []uint32
	var parts []*framePart
	for g, p := range o.parts {
		if p != nil && p.seen {
			gids, parts = append(gids, uint32(g)), append(parts, p)
		}
	}
	var keys []arrow.Array
	if len(gids) > 0 {
		var err error
		if keys, err = o.groups.KeysFor(ec.Ctx, o.KeyTypes, gids); err != nil {
			return err
		}
	}
	err := o.saveParts(b, keys, parts)
	runtime.ReleaseAll(keys)
	if err != nil {
		return err
	}
	if err := o.saveColdParts(func(keys []arrow.Array, parts []*framePart) error { return o.saveParts(b, keys, parts) }); err != nil {
		return err
	}
	n := len(o.pending)
	refs, times := make([]keyed.RowRef, n), make([]int64, n)
	seqs, rows := make([]runtime.Seq, n), make([]int32, n)
	for i, r := range o.pending {
		refs[i], times[i], seqs[i], rows[i] = r.ref, r.ts, r.seq, r.row
	}
	extra := append([]arrow.Array{keyed.Int64Column(ec.Mem, times)}, keyed.SeqColumns(ec.Mem, seqs, rows)...)
	return o.store.SaveRows(b, ec, o.Name, FramePendingTable, o.Keys, maxPar, refs, extra, framePendingFields)
}

// saveParts writes partitions parts (their key columns keys, one row each; none when
// there are no parts) to FrameRowsTable and FrameRunTable.
func (o *FrameOp) saveParts(b state.Backend, keys []arrow.Array, parts []*framePart) error {
	ec, maxPar := o.tc.Eval, o.tc.MaxParallelism()
	if len(parts) == 0 {
		for _, t := range []struct {
			name   string
			schema *arrow.Schema
		}{{FrameRowsTable, o.rowsSchema()}, {FrameRunTable, o.runSchema()}} {
			w := keyed.NewStateWriter(ec, o.Name, t.name, t.schema)
			err := w.Write(b)
			w.Release()
			if err != nil {
				return err
			}
		}
		return nil
	}
	var at []int32 // per row of FrameRowsTable, its partition
	var ts []int64
	vals := make([][]cell, len(o.Aggs))
	for i, p := range parts {
		for j := p.head; j < len(p.ts); j++ {
			at, ts = append(at, int32(i)), append(ts, p.ts[j])
			for a := range o.Aggs {
				vals[a] = append(vals[a], p.vals[a][j])
			}
		}
	}
	write := func(table string, schema *arrow.Schema, keys []arrow.Array, extra []arrow.Array) error {
		w := keyed.NewStateWriter(ec, o.Name, table, schema)
		defer w.Release()
		defer runtime.ReleaseAll(extra)
		if n := extra[0].Len(); n > 0 {
			cols := append(append([]arrow.Array{}, keys...), extra...)
			if err := w.AddColumns(cols, n, keyed.KeyGroups(keys, n, maxPar)); err != nil {
				return err
			}
		}
		return w.Write(b)
	}
	rowCols := []arrow.Array{keyed.Int64Column(ec.Mem, ts)}
	for a, ag := range o.Aggs {
		valid := make([]bool, len(ts))
		if ag.Float {
			v := make([]float64, len(ts))
			for i, c := range vals[a] {
				v[i], valid[i] = c.f, c.ok
			}
			rowCols = append(rowCols, float64Column(ec, v, valid))
			continue
		}
		v := make([]int64, len(ts))
		for i, c := range vals[a] {
			v[i], valid[i] = c.i, c.ok
		}
		rowCols = append(rowCols, int64Column(ec, v, valid))
	}
	keyRec := array.NewRecordBatch(arrow.NewSchema(o.keyFields(), nil), keys, int64(len(parts)))
	rowKeys, err := runtime.TakeColumns(ec, keyRec, at)
	keyRec.Release()
	if err != nil {
		runtime.ReleaseAll(rowCols)
		return err
	}
	err = write(FrameRowsTable, o.rowsSchema(), rowKeys, rowCols)
	runtime.ReleaseAll(rowKeys)
	if err != nil {
		return err
	}
	var runCols []arrow.Array
	for a := range o.Aggs {
		n, si, mi := make([]int64, len(parts)), make([]int64, len(parts)), make([]int64, len(parts))
		sf, mf := make([]float64, len(parts)), make([]float64, len(parts))
		for i, p := range parts {
			r := p.run[a]
			n[i], si[i], mi[i], sf[i], mf[i] = r.n, r.si, r.mi, r.sfOrHi(&o.Aggs[a]), r.mf
		}
		runCols = append(runCols, int64Column(ec, n, nil), int64Column(ec, si, nil), float64Column(ec, sf, nil),
			int64Column(ec, mi, nil), float64Column(ec, mf, nil))
	}
	return write(FrameRunTable, o.runSchema(), keys, runCols)
}

// LoadState implements runtime.KeyedState. Rows of a partition come back in the order
// they were saved in (a key group's streams are read in order).
func (o *FrameOp) LoadState(b state.Backend) error {
	ec := o.tc.Eval
	nk := len(o.KeyTypes)
	na := len(o.Aggs)
	ids := func(rec arrow.RecordBatch) ([]uint32, error) {
		ids := make([]uint32, rec.NumRows())
		if nk == 0 {
			return ids, nil
		}
		return ids, o.groups.Consume(ec.Ctx, rec.Columns()[:nk], ids)
	}
	err := keyed.ReadState(b, ec.Mem, o.Name, FrameRunTable, o.runSchema(), func(_ int, rec arrow.RecordBatch) error {
		gids, err := ids(rec)
		if err != nil {
			return err
		}
		for a := 0; a < na; a++ {
			at := nk + 5*a
			n, si, sf := keyed.Int64s(rec.Column(at)), keyed.Int64s(rec.Column(at+1)), rec.Column(at+2).(*array.Float64).Float64Values()
			mi, mf := keyed.Int64s(rec.Column(at+3)), rec.Column(at+4).(*array.Float64).Float64Values()
			for i, g := range gids {
				p := o.part(g)
				p.seen = true
				p.run[a] = runAcc{n: n[i], si: si[i], mi: mi[i], mf: mf[i]}
				p.run[a].setSfOrHi(&o.Aggs[a], sf[i])
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = keyed.ReadState(b, ec.Mem, o.Name, FrameRowsTable, o.rowsSchema(), func(_ int, rec arrow.RecordBatch) error {
		gids, err := ids(rec)
		if err != nil {
			return err
		}
		ts := keyed.Int64s(rec.Column(nk))
		for i, g := range gids {
			p := o.part(g)
			p.seen = true
			p.ts = append(p.ts, ts[i])
		}
		for a, ag := range o.Aggs {
			col := rec.Column(nk + 1 + a)
			for i, g := range gids {
				c := cell{ok: col.IsValid(i)}
				if ag.Float {
					c.f = col.(*array.Float64).Value(i)
				} else {
					c.i = col.(*array.Int64).Value(i)
				}
				p := o.parts[g]
				p.vals[a] = append(p.vals[a], c)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range o.parts {
		if p != nil {
			if err := p.rebuildWindows(o.Aggs); err != nil {
				return err
			}
		}
	}
	nf := o.InSchema.NumFields()
	err = o.store.LoadRows(b, ec, o.Name, FramePendingTable, framePendingFields, func(chunk int32, rows, rec arrow.RecordBatch) error {
		gids, _, vals, err := o.rowsOf(rows)
		if err != nil {
			return err
		}
		for i, t := range keyed.Int64s(rec.Column(nf)) {
			seq, row := keyed.SeqAt(rec, nf+1, i)
			r := frameRow{ts: t, seq: seq, row: row, key: gids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}, vals: make([]cell, na)}
			for a := range o.Aggs {
				r.vals[a] = vals[a][i]
			}
			o.pending = append(o.pending, r)
		}
		return nil
	})
	heap.Init(pendingHeap{o})
	if err != nil {
		return err
	}
	if o.cold != nil {
		o.cold.since = math.MaxInt32 // measure now
	}
	return o.checkParts(0)
}

// rebuildWindows sets each bounded frame's window to that of the partition's last row
// (its rows restored or read back from the store).
func (p *framePart) rebuildWindows(aggs []FrameAgg) error {
	if len(p.ts) == 0 {
		return nil
	}
	last := len(p.ts) - 1
	for a := range aggs {
		ag := &aggs[a]
		if ag.Unbounded {
			continue
		}
		lo := 0
		if ag.Rows {
			lo = last - int(min(ag.N, int64(last)))
		} else {
			for p.ts[lo] < satSub(p.ts[last], ag.N) {
				lo++
			}
		}
		p.win[a] = winAcc{lo: lo}
		for j := lo; j <= last; j++ {
			if err := p.enter(ag, a, j); err != nil {
				return err
			}
		}
	}
	return nil
}

func int64Column(ec *expr.EvalCtx, v []int64, valid []bool) arrow.Array {
	return expr.Int64Array(ec.Mem, arrow.PrimitiveTypes.Int64, v, valid)
}

func float64Column(ec *expr.EvalCtx, v []float64, valid []bool) arrow.Array {
	return expr.Float64Array(ec.Mem, v, valid)
}

var _ runtime.KeyedState = (*FrameOp)(nil)
