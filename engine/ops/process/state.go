package process

import (
	"sort"
	"strconv"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/state"
)

// Checkpointed state of a process function: the user's per-key state, its timers and the
// elements waiting for the watermark, each in a batch table by key group. The watermark
// is not saved; it comes back with the first watermark after a restore.

// Table names.
const (
	// StateTable: one row per key with state: key_<i>…, the state columns (named as the
	// descriptors), then __rb_expires_<name> per state (ms; null: never).
	StateTable = "state.v1"
	// TimersTable: one row per timer: key_<i>…, __rb_timer_domain (0 event time, 1
	// processing time), __rb_timer_ts (ms).
	TimersTable = "timers.v1"
	// PendingTable: elements waiting for the watermark: the input row, its event time
	// (__rb_time, µs) and input position (__rb_seq_*, __rb_row).
	PendingTable = "pending.v1"
)

func (o *ProcessOp) keyFields() []arrow.Field {
	fs := make([]arrow.Field, len(o.KeyTypes))
	for i, t := range o.KeyTypes {
		fs[i] = arrow.Field{Name: "key_" + strconv.Itoa(i), Type: t, Nullable: true}
	}
	return fs
}

func (o *ProcessOp) savedStateSchema() *arrow.Schema {
	return arrow.NewSchema(append(o.keyFields(), o.stateSchema().Fields()...), nil)
}

func (o *ProcessOp) savedTimerSchema() *arrow.Schema {
	return arrow.NewSchema(append(o.keyFields(),
		arrow.Field{Name: "__rb_timer_domain", Type: arrow.PrimitiveTypes.Int8},
		arrow.Field{Name: "__rb_timer_ts", Type: arrow.PrimitiveTypes.Int64}), nil)
}

var pendingFields = append([]arrow.Field{{Name: keyed.ColTime, Type: arrow.PrimitiveTypes.Int64}}, keyed.SeqFields()...)

// StateTables implements runtime.KeyedState.
func (o *ProcessOp) StateTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(StateTable), keyed.BatchTable(TimersTable), keyed.BatchTable(PendingTable)}
}

// SaveState implements runtime.KeyedState.
func (o *ProcessOp) SaveState(b state.Backend) error {
	ec, maxPar := o.tc.Eval, o.tc.MaxParallelism()
	// State rows.
	var gids []uint32
	var refs []keyed.RowRef
	for g, r := range o.stateRefs {
		if r.Chunk >= 0 {
			gids, refs = append(gids, uint32(g)), append(refs, r)
		}
	}
	w := keyed.NewStateWriter(ec, o.Name, StateTable, o.savedStateSchema())
	defer w.Release()
	// With spilling, a part at a time (each written before the next is read back).
	err := o.states.GatherEach(ec.Ctx, refs, false, func(at []int32, vals []arrow.Array) error {
		g := gids
		if at != nil {
			g = make([]uint32, len(at))
			for i, j := range at {
				g[i] = gids[j]
			}
		}
		keys, err := o.groups.KeysFor(ec.Ctx, o.KeyTypes, g)
		if err != nil {
			return err
		}
		err = w.AddColumns(append(append([]arrow.Array{}, keys...), vals...), len(g), o.kgsOf(g))
		runtime.ReleaseAll(keys)
		if err != nil || at == nil {
			return err
		}
		return w.Write(b)
	})
	if err != nil {
		return err
	}
	if err := w.Write(b); err != nil {
		return err
	}
	// Timers: every pending timer of both domains.
	var tg []uint32
	var doms []int8
	var tts []int64
	for _, d := range []state.TimeDomain{state.EventTime, state.ProcessingTime} {
		o.timers.Each(d, func(t state.Timer) {
			tg = append(tg, keyOf(t))
			doms = append(doms, int8(d))
			tts = append(tts, t.Timestamp)
		})
	}
	tw := keyed.NewStateWriter(ec, o.Name, TimersTable, o.savedTimerSchema())
	defer tw.Release()
	if len(tg) > 0 {
		keys, err := o.groups.KeysFor(ec.Ctx, o.KeyTypes, tg)
		if err != nil {
			return err
		}
		db := array.NewInt8Builder(ec.Mem)
		db.AppendValues(doms, nil)
		cols := append(append([]arrow.Array{}, keys...), db.NewArray(), keyed.Int64Column(ec.Mem, tts))
		db.Release()
		err = tw.AddColumns(cols, len(tg), o.kgsOf(tg))
		runtime.ReleaseAll(cols)
		if err != nil {
			return err
		}
	}
	if err := tw.Write(b); err != nil {
		return err
	}
	// Waiting elements.
	n := len(o.pending)
	prefs, times := make([]keyed.RowRef, n), make([]int64, n)
	seqs, rows := make([]runtime.Seq, n), make([]int32, n)
	for i, r := range o.pending {
		prefs[i], times[i], seqs[i], rows[i] = r.ref, r.ts, r.seq, r.ref.Row
	}
	extra := append([]arrow.Array{keyed.Int64Column(ec.Mem, times)}, keyed.SeqColumns(ec.Mem, seqs, rows)...)
	return o.rows.SaveRows(b, ec, o.Name, PendingTable, o.Keys, maxPar, prefs, extra, pendingFields)
}

func keyOf(t state.Timer) uint32 {
	return uint32(t.Key[0])<<24 | uint32(t.Key[1])<<16 | uint32(t.Key[2])<<8 | uint32(t.Key[3])
}

func (o *ProcessOp) kgsOf(gids []uint32) []int {
	kgs := make([]int, len(gids))
	for i, g := range gids {
		kgs[i] = o.groupKG[g]
	}
	return kgs
}

// LoadState implements runtime.KeyedState.
func (o *ProcessOp) LoadState(b state.Backend) error {
	ec := o.tc.Eval
	nk := len(o.KeyTypes)
	err := keyed.ReadState(b, ec.Mem, o.Name, StateTable, o.savedStateSchema(), func(_ int, rec arrow.RecordBatch) error {
		n := int(rec.NumRows())
		ids, err := o.consumeKeys(rec.Columns()[:nk], n)
		if err != nil {
			return err
		}
		vals := array.NewRecordBatch(o.states.Schema, rec.Columns()[nk:], rec.NumRows())
		defer vals.Release()
		chunk, err := o.states.Add(vals)
		if err != nil {
			return err
		}
		for i, id := range ids {
			o.stateRefs[id] = keyed.RowRef{Chunk: chunk, Row: int32(i)}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = keyed.ReadState(b, ec.Mem, o.Name, TimersTable, o.savedTimerSchema(), func(_ int, rec arrow.RecordBatch) error {
		ids, err := o.consumeKeys(rec.Columns()[:nk], int(rec.NumRows()))
		if err != nil {
			return err
		}
		doms := rec.Column(nk).(*array.Int8)
		tss := keyed.Int64s(rec.Column(nk + 1))
		for i, id := range ids {
			if err := o.timers.Register(state.TimeDomain(doms.Value(i)), o.timerOf(id, tss[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	nf := o.InSchema.NumFields()
	err = o.rows.LoadRows(b, ec, o.Name, PendingTable, pendingFields, func(chunk int32, rows, rec arrow.RecordBatch) error {
		ids, err := o.consume(rows)
		if err != nil {
			return err
		}
		for i, t := range keyed.Int64s(rec.Column(nf)) {
			seq, _ := keyed.SeqAt(rec, nf+1, i)
			o.pending = append(o.pending, pendingRow{ts: t, seq: seq, key: ids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.SliceStable(o.pending, func(a, b int) bool { return o.pending[a].ts < o.pending[b].ts })
	return nil
}
