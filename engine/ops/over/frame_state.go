package over

import (
	"container/heap"
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
	// The rows frames may reach, and the running aggregates, per partition.
	var rowGids, runGids []uint32
	var ts []int64
	vals := make([][]cell, len(o.Aggs))
	for g, p := range o.parts {
		if p == nil || !p.seen {
			continue
		}
		runGids = append(runGids, uint32(g))
		for j := p.head; j < len(p.ts); j++ {
			rowGids, ts = append(rowGids, uint32(g)), append(ts, p.ts[j])
			for a := range o.Aggs {
				vals[a] = append(vals[a], p.vals[a][j])
			}
		}
	}
	write := func(table string, schema *arrow.Schema, gids []uint32, extra func() []arrow.Array) error {
		w := keyed.NewStateWriter(ec, o.Name, table, schema)
		defer w.Release()
		if len(gids) > 0 {
			keys, err := o.groups.KeysFor(ec.Ctx, o.KeyTypes, gids)
			if err != nil {
				return err
			}
			cols := append(append([]arrow.Array{}, keys...), extra()...)
			err = w.AddColumns(cols, len(gids), keyed.KeyGroups(keys, len(gids), maxPar))
			runtime.ReleaseAll(cols)
			if err != nil {
				return err
			}
		}
		return w.Write(b)
	}
	err := write(FrameRowsTable, o.rowsSchema(), rowGids, func() []arrow.Array {
		cols := []arrow.Array{keyed.Int64Column(ec.Mem, ts)}
		for a, ag := range o.Aggs {
			valid := make([]bool, len(ts))
			if ag.Float {
				v := make([]float64, len(ts))
				for i, c := range vals[a] {
					v[i], valid[i] = c.f, c.ok
				}
				cols = append(cols, float64Column(ec, v, valid))
				continue
			}
			v := make([]int64, len(ts))
			for i, c := range vals[a] {
				v[i], valid[i] = c.i, c.ok
			}
			cols = append(cols, int64Column(ec, v, valid))
		}
		return cols
	})
	if err != nil {
		return err
	}
	err = write(FrameRunTable, o.runSchema(), runGids, func() []arrow.Array {
		var cols []arrow.Array
		for a := range o.Aggs {
			n, si, mi := make([]int64, len(runGids)), make([]int64, len(runGids)), make([]int64, len(runGids))
			sf, mf := make([]float64, len(runGids)), make([]float64, len(runGids))
			for i, g := range runGids {
				r := o.parts[g].run[a]
				n[i], si[i], mi[i], sf[i], mf[i] = r.n, r.si, r.mi, r.sf, r.mf
			}
			cols = append(cols, int64Column(ec, n, nil), int64Column(ec, si, nil), float64Column(ec, sf, nil),
				int64Column(ec, mi, nil), float64Column(ec, mf, nil))
		}
		return cols
	})
	if err != nil {
		return err
	}
	n := len(o.pending)
	refs, times := make([]keyed.RowRef, n), make([]int64, n)
	seqs, rows := make([]runtime.Seq, n), make([]int32, n)
	for i, r := range o.pending {
		refs[i], times[i], seqs[i], rows[i] = r.ref, r.ts, r.seq, r.ref.Row
	}
	extra := append([]arrow.Array{keyed.Int64Column(ec.Mem, times)}, keyed.SeqColumns(ec.Mem, seqs, rows)...)
	return o.store.SaveRows(b, ec, o.Name, FramePendingTable, o.Keys, maxPar, refs, extra, framePendingFields)
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
				p.run[a] = runAcc{n: n[i], si: si[i], sf: sf[i], mi: mi[i], mf: mf[i]}
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
	// Each bounded frame's window: that of the partition's last row.
	for _, p := range o.parts {
		if p == nil || len(p.ts) == 0 {
			continue
		}
		last := len(p.ts) - 1
		for a := range o.Aggs {
			ag := &o.Aggs[a]
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
	}
	nf := o.InSchema.NumFields()
	err = o.store.LoadRows(b, ec, o.Name, FramePendingTable, framePendingFields, func(chunk int32, rows, rec arrow.RecordBatch) error {
		gids, _, vals, err := o.rowsOf(rows)
		if err != nil {
			return err
		}
		for i, t := range keyed.Int64s(rec.Column(nf)) {
			seq, _ := keyed.SeqAt(rec, nf+1, i)
			r := frameRow{ts: t, seq: seq, key: gids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}, vals: make([]cell, na)}
			for a := range o.Aggs {
				r.vals[a] = vals[a][i]
			}
			o.pending = append(o.pending, r)
		}
		return nil
	})
	heap.Init(pendingHeap{o})
	return err
}

func int64Column(ec *expr.EvalCtx, v []int64, valid []bool) arrow.Array {
	return expr.Int64Array(ec.Mem, arrow.PrimitiveTypes.Int64, v, valid)
}

func float64Column(ec *expr.EvalCtx, v []float64, valid []bool) arrow.Array {
	return expr.Float64Array(ec.Mem, v, valid)
}

var _ runtime.KeyedState = (*FrameOp)(nil)
