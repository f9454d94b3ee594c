package join

import (
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
	"github.com/riverbed-engine/riverbed/state"
)

// Checkpointed join state: the buffered rows of each side, as Arrow batches of the side's
// input columns plus what the join knows about each row, per key group (each row's key
// group is that of its side's join keys, as the hash exchange routes it).
//
// Not saved, as they are not keyed: the operator's watermark and what it derives from it
// (the interval join's held-back output watermark, wm - upper). They are recomputed from
// the first watermark after a restore (ProcessWatermark), as Flink does.

// Table names.
const (
	// LeftTable and RightTable hold each side's buffered rows: window joins add the
	// window (__rb_window_start/end), interval joins the event time (__rb_time), as-of
	// joins the event time and, on the left, the arrival order (__rb_order), on the right
	// the input position (__rb_seq_*, __rb_row).
	LeftTable  = "left.v1"
	RightTable = "right.v1"
)

var sideTables = [2]string{LeftTable, RightTable}

func joinTables() []state.TableSpec {
	return []state.TableSpec{keyed.BatchTable(LeftTable), keyed.BatchTable(RightTable)}
}

// sideKeys are the keys a side's saved rows are grouped by: its join keys, or none for a
// null-aware anti join, which runs on one subtask (its input is gathered, not hashed by
// the keys), so that every row is restored there whatever the parallelism.
func (j *JoinBase) sideKeys(side int) []expr.Expr {
	if j.Spec.NullAware {
		return nil
	}
	if side == 1 {
		return j.Spec.RightKeys
	}
	return j.Spec.LeftKeys
}

// saveSide writes the referenced rows of one side with extra columns.
func (j *JoinBase) saveSide(b state.Backend, side int, refs []keyed.RowRef, extra []arrow.Array, fields []arrow.Field) error {
	return j.sides[side].store.SaveRows(b, j.tc.Eval, j.Spec.Name, sideTables[side], j.sideKeys(side), j.tc.MaxParallelism(), refs, extra, fields)
}

// loadSide reads one side's rows back into its store and calls fn with each batch, its
// chunk and the key id of each row.
func (j *JoinBase) loadSide(b state.Backend, side int, fields []arrow.Field, fn func(chunk int32, ids []uint32, rec arrow.RecordBatch) error) error {
	return j.sides[side].store.LoadRows(b, j.tc.Eval, j.Spec.Name, sideTables[side], fields, func(chunk int32, rows, rec arrow.RecordBatch) error {
		ids, err := j.keyIDs(side, rows)
		if err != nil {
			return err
		}
		return fn(chunk, ids, rec)
	})
}

var windowFields = []arrow.Field{
	{Name: keyed.ColWindowStart, Type: arrow.PrimitiveTypes.Int64},
	{Name: keyed.ColWindowEnd, Type: arrow.PrimitiveTypes.Int64},
}

var timeFields = []arrow.Field{{Name: keyed.ColTime, Type: arrow.PrimitiveTypes.Int64}}

// StateTables implements runtime.KeyedState.
func (o *WindowJoinOp) StateTables() []state.TableSpec { return joinTables() }

// SaveState implements runtime.KeyedState: every row of every open window (a row in
// several windows once per window).
func (o *WindowJoinOp) SaveState(b state.Backend) error {
	wins := make([][2]int64, 0, len(o.panes))
	for w := range o.panes {
		wins = append(wins, w)
	}
	sort.Slice(wins, func(a, b int) bool {
		return wins[a][1] < wins[b][1] || (wins[a][1] == wins[b][1] && wins[a][0] < wins[b][0])
	})
	for side := 0; side < 2; side++ {
		var refs []keyed.RowRef
		var starts, ends []int64
		for _, w := range wins {
			for _, rs := range o.panes[w].rows[side] {
				for _, r := range rs {
					refs, starts, ends = append(refs, r), append(starts, w[0]), append(ends, w[1])
				}
			}
		}
		mem := o.tc.Eval.Mem
		extra := []arrow.Array{keyed.Int64Column(mem, starts), keyed.Int64Column(mem, ends)}
		if err := o.saveSide(b, side, refs, extra, windowFields); err != nil {
			return err
		}
	}
	return nil
}

// LoadState implements runtime.KeyedState.
func (o *WindowJoinOp) LoadState(b state.Backend) error {
	for side := 0; side < 2; side++ {
		nf := o.sides[side].store.Schema.NumFields()
		err := o.loadSide(b, side, windowFields, func(chunk int32, ids []uint32, rec arrow.RecordBatch) error {
			starts, ends := keyed.Int64s(rec.Column(nf)), keyed.Int64s(rec.Column(nf+1))
			for i, id := range ids {
				o.place([2]int64{starts[i], ends[i]}, side, id, keyed.RowRef{Chunk: chunk, Row: int32(i)})
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// StateTables implements runtime.KeyedState.
func (o *IntervalJoinOp) StateTables() []state.TableSpec { return joinTables() }

// SaveState implements runtime.KeyedState: the rows each side keeps for future matches.
func (o *IntervalJoinOp) SaveState(b state.Backend) error {
	for side := 0; side < 2; side++ {
		var refs []keyed.RowRef
		var times []int64
		for _, x := range o.kept[side] {
			x.each(math.MinInt64, math.MaxInt64, func(c timedRef) {
				refs, times = append(refs, c.ref), append(times, c.ts)
			})
		}
		extra := []arrow.Array{keyed.Int64Column(o.tc.Eval.Mem, times)}
		if err := o.saveSide(b, side, refs, extra, timeFields); err != nil {
			return err
		}
	}
	return nil
}

// LoadState implements runtime.KeyedState.
func (o *IntervalJoinOp) LoadState(b state.Backend) error {
	for side := 0; side < 2; side++ {
		nf := o.sides[side].store.Schema.NumFields()
		err := o.loadSide(b, side, timeFields, func(chunk int32, ids []uint32, rec arrow.RecordBatch) error {
			add := map[uint32][]timedRef{}
			for i, t := range keyed.Int64s(rec.Column(nf)) {
				add[ids[i]] = append(add[ids[i]], timedRef{ts: t, ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}})
			}
			for k, rows := range add {
				x := o.kept[side][k]
				if x == nil {
					x = &timeIndex{}
					o.kept[side][k] = x
				}
				x.add(rows)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

var asofLeftFields = []arrow.Field{
	{Name: keyed.ColTime, Type: arrow.PrimitiveTypes.Int64},
	{Name: "__rb_order", Type: arrow.PrimitiveTypes.Uint64},
}

var asofRightFields = append([]arrow.Field{{Name: keyed.ColTime, Type: arrow.PrimitiveTypes.Int64}}, keyed.SeqFields()...)

// StateTables implements runtime.KeyedState.
func (o *AsofJoinOp) StateTables() []state.TableSpec { return joinTables() }

// SaveState implements runtime.KeyedState: left rows waiting for the watermark, and the
// right rows that can still match.
func (o *AsofJoinOp) SaveState(b state.Backend) error {
	mem := o.tc.Eval.Mem
	n := len(o.pending)
	refs, times, ords := make([]keyed.RowRef, n), make([]int64, n), make([]uint64, n)
	for i, l := range o.pending {
		refs[i], times[i], ords[i] = l.ref, l.ts, l.ord
	}
	ob := array.NewUint64Builder(mem)
	ob.AppendValues(ords, nil)
	extra := []arrow.Array{keyed.Int64Column(mem, times), ob.NewArray()}
	ob.Release()
	if err := o.saveSide(b, 0, refs, extra, asofLeftFields); err != nil {
		return err
	}
	refs, times = refs[:0], times[:0]
	var seqs []runtime.Seq
	var rows []int32
	for _, list := range o.right {
		for _, c := range list {
			refs, times, seqs, rows = append(refs, c.ref), append(times, c.ts), append(seqs, c.seq), append(rows, c.ref.Row)
		}
	}
	extra = append([]arrow.Array{keyed.Int64Column(mem, times)}, keyed.SeqColumns(mem, seqs, rows)...)
	return o.saveSide(b, 1, refs, extra, asofRightFields)
}

// LoadState implements runtime.KeyedState.
func (o *AsofJoinOp) LoadState(b state.Backend) error {
	nf := o.sides[0].store.Schema.NumFields()
	err := o.loadSide(b, 0, asofLeftFields, func(chunk int32, ids []uint32, rec arrow.RecordBatch) error {
		ords := rec.Column(nf + 1).(*array.Uint64).Uint64Values()
		for i, t := range keyed.Int64s(rec.Column(nf)) {
			o.pending = append(o.pending, asofLeft{ts: t, ord: ords[i], key: ids[i], ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}})
			o.arrived = max(o.arrived, ords[i]+1)
		}
		return nil
	})
	if err != nil {
		return err
	}
	nf = o.sides[1].store.Schema.NumFields()
	return o.loadSide(b, 1, asofRightFields, func(chunk int32, ids []uint32, rec arrow.RecordBatch) error {
		for i, t := range keyed.Int64s(rec.Column(nf)) {
			seq, _ := keyed.SeqAt(rec, nf+1, i)
			k := ids[i]
			if _, ok := o.unsorted[k]; !ok {
				o.unsorted[k] = len(o.right[k])
			}
			o.right[k] = append(o.right[k], timedRef{ts: t, ref: keyed.RowRef{Chunk: chunk, Row: int32(i)}, seq: seq})
		}
		return nil
	})
}

var (
	_ runtime.KeyedState = (*WindowJoinOp)(nil)
	_ runtime.KeyedState = (*IntervalJoinOp)(nil)
	_ runtime.KeyedState = (*AsofJoinOp)(nil)
)

// StateTables implements runtime.KeyedState.
func (o *HashJoinOp) StateTables() []state.TableSpec { return joinTables() }

// SaveState implements runtime.KeyedState: the rows each side keeps — for an inner join
// the rows with a key, for the other kinds every row in arrival order (null keys too:
// outer and anti joins emit them at the end).
func (o *HashJoinOp) SaveState(b state.Backend) error {
	if o.Broadcast {
		return rberr.New(rberr.InvalidArgument, "%s: a broadcast join cannot be checkpointed (every subtask holds the broadcast input whole); join with strategy=\"hash\" to checkpoint or savepoint this job", o.Spec.Name)
	}
	for side := 0; side < 2; side++ {
		var refs []keyed.RowRef
		var times []int64 // with a TTL, each row's last touch
		if o.Spec.How == "inner" || o.Unbounded {
			o.rows[side].each(func(k uint32, rows []keyed.RowRef) {
				refs = append(refs, rows...)
				if o.TTL > 0 {
					times = append(times, o.ttl.at[side][k]...)
				}
			})
		} else {
			for _, r := range o.all[side] {
				refs = append(refs, r.ref)
			}
		}
		var extra []arrow.Array
		var fields []arrow.Field
		if o.TTL > 0 {
			extra, fields = []arrow.Array{keyed.Int64Column(o.tc.Eval.Mem, times)}, ttlFields
		}
		if err := o.saveSide(b, side, refs, extra, fields); err != nil {
			return err
		}
	}
	return nil
}

// ttlFields is the extra column of a join's rows with a state TTL: each row's last touch
// (unix ms of its arrival or last match).
var ttlFields = []arrow.Field{{Name: "__rb_touched_ms", Type: arrow.PrimitiveTypes.Int64}}

// LoadState implements runtime.KeyedState.
func (o *HashJoinOp) LoadState(b state.Backend) error {
	var fields []arrow.Field
	if o.TTL > 0 {
		fields = ttlFields
	}
	for side := 0; side < 2; side++ {
		nf := o.sides[side].store.Schema.NumFields()
		err := o.loadSide(b, side, fields, func(chunk int32, ids []uint32, rec arrow.RecordBatch) error {
			var times []int64
			if o.TTL > 0 {
				times = keyed.Int64s(rec.Column(nf))
			}
			for i, id := range ids {
				if o.Spec.How == "cross" {
					id = 0
				}
				r := keyed.RowRef{Chunk: chunk, Row: int32(i)}
				if o.Spec.How != "inner" && !o.Unbounded {
					o.all[side] = append(o.all[side], keyedRef{key: id, ref: r})
				}
				if id != nullKey {
					o.rows[side].add(id, r)
					if times != nil {
						o.ttl.at[side][id] = append(o.ttl.at[side][id], times[i])
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if o.Unbounded {
		// The rows of a key with no row on the other side have had no match since they
		// came: with a TTL too, as a key's matched rows expire no later than the other
		// side's (ttl.go).
		for side := 0; side < 2; side++ {
			o.rows[side].each(func(k uint32, rows []keyed.RowRef) {
				if len(o.rows[1-side].get(k)) == 0 {
					o.waiting[side][k] = len(rows)
				}
			})
		}
	}
	if o.TTL > 0 {
		o.restoreTTL()
	}
	return nil
}

var _ runtime.KeyedState = (*HashJoinOp)(nil)
