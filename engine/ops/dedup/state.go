package dedup

import (
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/ops/window"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// Checkpointed dedup and top-N state. The operators' watermarks are not saved (they are
// not keyed); they come back with the first watermark after a restore.

// Table names.
const (
	// KeptTable (dedup): one row per key that has kept a row: the key columns and kept_ts,
	// the event time (µs) of the row kept last. A row of the key is dropped while its time
	// is less than kept_ts + within.
	KeptTable = "kept.v1"
	// PendingTable (dedup): rows waiting for the watermark: the input row, its event time
	// (__rb_time) and input position (__rb_seq_*, __rb_row), which order ties.
	PendingTable = "pending.v1"
	// CandidatesTable (top-N): the candidate rows of every open window and partition: the
	// input row, its window (__rb_window_start/end) and input position.
	CandidatesTable = "candidates.v1"
	// RankedTable (streaming top-N, RankOp): the rows each partition holds, the input row,
	// its place in the partition (__rb_place, 0 = best) and its input order (which ranks
	// tied rows).
	RankedTable = "ranked.v2"
)

func keyFields(types []arrow.DataType) []arrow.Field {
	fs := make([]arrow.Field, len(types))
	for i, t := range types {
		fs[i] = arrow.Field{Name: "key_" + strconv.Itoa(i), Type: t, Nullable: true}
	}
	return fs
}

func (o *DedupOp) keptSchema() *arrow.Schema {
	return arrow.NewSchema(append(keyFields(o.KeyTypes), arrow.Field{Name: "kept_ts", Type: arrow.PrimitiveTypes.Int64}), nil)
}

var pendingFields = append([]arrow.Field{{Name: keyed.ColTime, Type: arrow.PrimitiveTypes.Int64}}, keyed.SeqFields()...)

// StateTables implements runtime.KeyedState.
func (o *DedupOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(KeptTable), keyed.BatchTable(PendingTable)}
}

// SaveState implements runtime.KeyedState.
func (o *DedupOp) SaveState(b state.Backend) error {
	ec, maxPar := o.tc.Eval, o.tc.MaxParallelism()
	var gids []uint32
	var ts []int64
	for g, t := range o.kept {
		if t != math.MinInt64 {
			gids, ts = append(gids, uint32(g)), append(ts, t)
		}
	}
	w := keyed.NewStateWriter(ec, o.Name, KeptTable, o.keptSchema())
	defer w.Release()
	if len(gids) > 0 {
		keys, err := o.groups.KeysFor(ec.Ctx, o.KeyTypes, gids)
		if err != nil {
			return err
		}
		cols := append(append([]arrow.Array{}, keys...), keyed.Int64Column(ec.Mem, ts))
		err = w.AddColumns(cols, len(gids), keyed.KeyGroups(keys, len(gids), maxPar))
		runtime.ReleaseAll(cols)
		if err != nil {
			return err
		}
	}
	if err := w.Write(b); err != nil {
		return err
	}
	n := len(o.pending)
	refs, times := make([]keyed.RowRef, n), make([]int64, n)
	seqs, rows := make([]runtime.Seq, n), make([]int32, n)
	for i, r := range o.pending {
		refs[i], times[i], seqs[i], rows[i] = r.ref, r.ts, r.seq, r.ref.Row
	}
	extra := append([]arrow.Array{keyed.Int64Column(ec.Mem, times)}, keyed.SeqColumns(ec.Mem, seqs, rows)...)
	return o.store.SaveRows(b, ec, o.Name, PendingTable, o.Keys, maxPar, refs, extra, pendingFields)
}

// LoadState implements runtime.KeyedState.
func (o *DedupOp) LoadState(b state.Backend) error {
	ec := o.tc.Eval
	nk := len(o.KeyTypes)
	err := keyed.ReadState(b, ec.Mem, o.Name, KeptTable, o.keptSchema(), func(_ int, rec arrow.RecordBatch) error {
		ids := make([]uint32, rec.NumRows())
		if err := o.groups.Consume(ec.Ctx, rec.Columns()[:nk], ids); err != nil {
			return err
		}
		for len(o.kept) < o.groups.NumGroups() {
			o.kept = append(o.kept, math.MinInt64)
		}
		for i, t := range keyed.Int64s(rec.Column(nk)) {
			o.kept[ids[i]] = t
		}
		return nil
	})
	if err != nil {
		return err
	}
	nf := o.InSchema.NumFields()
	return o.store.LoadRows(b, ec, o.Name, PendingTable, pendingFields, func(chunk int32, rows, rec arrow.RecordBatch) error {
		cols, err := runtime.EvalColumns(ec, o.Keys, rows)
		if err != nil {
			return err
		}
		ids := make([]uint32, rows.NumRows())
		err = o.groups.Consume(ec.Ctx, cols, ids)
		runtime.ReleaseAll(cols)
		if err != nil {
			return err
		}
		for i, t := range keyed.Int64s(rec.Column(nf)) {
			seq, _ := keyed.SeqAt(rec, nf+1, i)
			o.pending = append(o.pending, dedupRow{ts: t, seq: seq, key: ids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}})
		}
		return nil
	})
}

var candidateFields = append([]arrow.Field{
	{Name: keyed.ColWindowStart, Type: arrow.PrimitiveTypes.Int64},
	{Name: keyed.ColWindowEnd, Type: arrow.PrimitiveTypes.Int64},
}, keyed.SeqFields()...)

// StateTables implements runtime.KeyedState.
func (o *TopNOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(CandidatesTable)}
}

// SaveState implements runtime.KeyedState.
func (o *TopNOp) SaveState(b state.Backend) error {
	ec := o.tc.Eval
	var refs []keyed.RowRef
	var starts, ends []int64
	var seqs []runtime.Seq
	var rows []int32
	for _, w := range window.ClosedWindows(o.panes, math.MaxInt64) {
		p := o.panes[w]
		keys := make([]uint32, 0, len(p.parts))
		for k := range p.parts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
		for _, k := range keys {
			for _, r := range p.parts[k].rows {
				refs, starts, ends = append(refs, r.ref), append(starts, w[0]), append(ends, w[1])
				seqs, rows = append(seqs, r.seq), append(rows, r.row)
			}
		}
	}
	extra := append([]arrow.Array{keyed.Int64Column(ec.Mem, starts), keyed.Int64Column(ec.Mem, ends)}, keyed.SeqColumns(ec.Mem, seqs, rows)...)
	return o.store.SaveRows(b, ec, o.Name, CandidatesTable, o.Keys, o.tc.MaxParallelism(), refs, extra, candidateFields)
}

// LoadState implements runtime.KeyedState.
func (o *TopNOp) LoadState(b state.Backend) error {
	ec := o.tc.Eval
	nf := o.InSchema.NumFields()
	var touched []*topnPart
	err := o.store.LoadRows(b, ec, o.Name, CandidatesTable, candidateFields, func(chunk int32, rows, rec arrow.RecordBatch) error {
		n := int(rows.NumRows())
		ids, err := groupIDs(ec, o.groups, o.Keys, rows)
		if err != nil {
			return err
		}
		d, err := o.OrderBy.Eval(ec, rows)
		if err != nil {
			return err
		}
		ob, err := expr.DatumToArray(ec, d, n)
		if err != nil {
			return err
		}
		defer ob.Release()
		vals := sortValues(ob)
		starts, ends := keyed.Int64s(rec.Column(nf)), keyed.Int64s(rec.Column(nf+1))
		for i := 0; i < n; i++ {
			part, isNew := o.part([2]int64{starts[i], ends[i]}, ids[i])
			if isNew {
				touched = append(touched, part)
			}
			r := vals(i)
			r.ref = keyed.RowRef{Chunk: chunk, Row: int32(i)}
			r.seq, r.row = keyed.SeqAt(rec, nf+2, i)
			o.add(part, r)
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Trimming restores each partition's cut-off (rows it drops could never be in the
	// top n).
	for _, part := range touched {
		o.trim(part)
	}
	return nil
}

var rankedFields = append([]arrow.Field{{Name: "__rb_place", Type: arrow.PrimitiveTypes.Int64}}, keyed.SeqFields()...)

// StateTables implements runtime.KeyedState.
func (o *RankOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(RankedTable)}
}

// SaveState implements runtime.KeyedState.
func (o *RankOp) SaveState(b state.Backend) error {
	ec := o.tc.Eval
	refs := make([]keyed.RowRef, 0, o.held)
	places := make([]int64, 0, o.held)
	seqs, rows := make([]runtime.Seq, 0, o.held), make([]int32, 0, o.held)
	for _, p := range o.parts {
		if p == nil {
			continue
		}
		for j, r := range p.rows {
			refs, places = append(refs, r.ref), append(places, int64(j))
			seqs, rows = append(seqs, r.seq), append(rows, r.row)
		}
	}
	extra := append([]arrow.Array{keyed.Int64Column(ec.Mem, places)}, keyed.SeqColumns(ec.Mem, seqs, rows)...)
	return o.store.SaveRows(b, ec, o.Name, RankedTable, o.Keys, o.tc.MaxParallelism(), refs, extra, rankedFields)
}

// LoadState implements runtime.KeyedState.
func (o *RankOp) LoadState(b state.Backend) error {
	ec := o.tc.Eval
	nf := o.InSchema.NumFields()
	type placed struct {
		place int64
		row   rankRow
	}
	loaded := map[uint32][]placed{}
	err := o.store.LoadRows(b, ec, o.Name, RankedTable, rankedFields, func(chunk int32, rows, rec arrow.RecordBatch) error {
		n := int(rows.NumRows())
		ids, err := groupIDs(ec, o.groups, o.Keys, rows)
		if err != nil {
			return err
		}
		vals, release, err := o.orderValues(rows)
		if err != nil {
			return err
		}
		defer release()
		places := keyed.Int64s(rec.Column(nf))
		for i := 0; i < n; i++ {
			r := rankRow{ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}, vals: make([]topnRow, len(vals))}
			r.seq, r.row = keyed.SeqAt(rec, nf+1, i)
			for k, v := range vals {
				r.vals[k] = v(i)
				r.vals[k].s = strings.Clone(r.vals[k].s)
			}
			loaded[ids[i]] = append(loaded[ids[i]], placed{places[i], r})
		}
		return nil
	})
	if err != nil {
		return err
	}
	// Each partition lies in one key group, so its rows come back whole: in their places.
	for id, rows := range loaded {
		sort.Slice(rows, func(a, b int) bool { return rows[a].place < rows[b].place })
		for len(o.parts) <= int(id) {
			o.parts = append(o.parts, nil)
		}
		p := &rankPart{rows: make([]rankRow, len(rows))}
		for j, r := range rows {
			p.rows[j] = r.row
			o.strBytes += strBytes(r.row.vals)
		}
		o.parts[id] = p
		o.held += len(rows)
	}
	return nil
}

var (
	_ runtime.KeyedState = (*DedupOp)(nil)
	_ runtime.KeyedState = (*TopNOp)(nil)
	_ runtime.KeyedState = (*RankOp)(nil)
)
