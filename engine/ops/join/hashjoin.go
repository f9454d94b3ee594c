package join

import (
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/vec"
)

// HashJoinOp is the regular (relational) join of two inputs on equal keys, with Polars'
// kinds: inner, left, right, full, semi, anti, and cross (no keys, one subtask).
//
// An inner join is symmetric: each arriving row is matched against the rows of the other
// side that have arrived so far and is then kept, so pairs flow while the inputs do, and
// an unbounded inner join works (its state grows with both inputs). Every other kind needs
// to know a row will never match, so it keeps both inputs and joins them when both have
// ended (Finish). Null keys match nothing, as in Polars and SQL.
//
// Over unbounded inputs (Unbounded) the other kinds but cross work as the inner join does,
// and emit updates where a row's match arrives after it (updating.go).
type HashJoinOp struct {
	JoinBase
	LeftKeep  []int // left columns in the output, in order (nil: all)
	Unbounded bool  // the inputs may never end: emit as rows arrive (updating.go)
	// Broadcast: every subtask gets the whole of one input (the other is spread over
	// them), so state is not by key group and cannot be checkpointed.
	Broadcast bool
	// TTL (over unbounded inputs) drops a kept row not matched for that long (processing
	// time; 0: never), as Flink's table.exec.state.ttl (ttl.go). Now is the clock (nil:
	// time.Now).
	TTL time.Duration
	Now func() time.Time
	// Updating[side]: that input is a changelog whose op column is OpCol[side] (its -U
	// and -D rows take back the equal row kept before; updating.go). The store, the key
	// expressions and the checkpointed state hold that side's rows without the op column.
	Updating [2]bool
	OpCol    [2]int
	rows     [2]refIndex   // per side, the kept rows by key id
	all      [2][]keyedRef // every row in arrival order (kinds other than inner)
	pending  [2][]keyed.RowRef
	ops      []string // the op of each pending row (Unbounded, but semi)
	// Unbounded: per side and key, how many of the last rows have had no match
	// (updating.go).
	waiting [2]map[uint32]int
	ttl     ttlState
	// drop: rows to forget once the pending output (which may gather them) is flushed —
	// the retraction rows, the kept rows they took back, the rows with a null key.
	drop [2][]keyed.RowRef
	// MarkBuild: a semi or anti join without a condition may also build on its left input
	// (a mark join, as DuckDB's): each right row marks its key matched, a semi join emits
	// a key's left rows at its first match, an anti join the unmarked ones at the end. The
	// marks are not checkpointed: the planner sets it only where no checkpoint is taken.
	MarkBuild bool
	marked    []bool // by key id, the left keys a right row has matched (MarkBuild)
	// KeysOnly: a semi or anti join without a condition whose right rows are never
	// emitted, kept for a checkpoint or streamed (bounded inputs, no checkpoints) keeps
	// only which keys its right input has (present, by key id), not the rows.
	KeysOnly bool
	present  []bool
	// Build is the input the join would rather see whole first (by the planner's estimate,
	// the smaller one; -1: none): the task reads it first whenever it has rows queued
	// (runtime.InputPreferrer). Whichever input ends first, if it can, becomes the built
	// side and the other is streamed past it (probe.go).
	Build int
	// BuildFirst: the inputs share no upstream, so the other input may be held back
	// until Build has ended (nothing of it is kept before).
	BuildFirst bool
	probe      int // the side streamed past the built one, or -1
	// Cond (nil: none) is a condition a pair of rows with equal keys must meet to match,
	// over CondSchema: the left input's columns, then the right input's (cond.go).
	Cond       expr.Expr
	CondSchema *arrow.Schema
	// what the condition reads (set at its first use): per side, the columns to gather,
	// and the schema of its record, in which the others are null-typed placeholders
	condWant   [2][]bool
	outWant    [2][]bool // the columns of each side's rows in the output
	condNarrow *arrow.Schema
	cand       [2][]keyed.RowRef // candidate pairs of the rows waiting for decide
	undecided  []undecided
	mask       []bool
	matched    map[keyed.RowRef]bool // a full join's right rows with a match (Finish)
}

type keyedRef struct {
	key uint32
	ref keyed.RowRef
}

func (o *HashJoinOp) Open(tc *runtime.TaskCtx) error {
	o.openBase(tc)
	o.rows = [2]refIndex{newRefIndex(), newRefIndex()}
	o.waiting = [2]map[uint32]int{{}, {}}
	o.ttl.init()
	o.spill.SetIndex(o.indexBytes)
	o.probe = -1
	return nil
}

// rightHas reports whether the right input has a row of key k, whose right rows are ms
// (KeysOnly: whether k is present).
func (o *HashJoinOp) rightHas(k uint32, ms []keyed.RowRef) bool {
	if o.KeysOnly {
		return k != nullKey && int(k) < len(o.present) && o.present[k]
	}
	return len(ms) > 0
}

// indexBytes estimates the memory of the join's index of its rows (counted against the
// memory cap with spilling): the key ids, the rows by key, every row in arrival order
// (kinds other than inner), the keys whose rows wait for a match (updating.go) and, with
// a TTL, each row's last touch and the expiry queue (ttl.go).
func (o *HashJoinOp) indexBytes() int64 {
	n := o.keys.MemBytes() + int64(cap(o.pending[0])+cap(o.pending[1]))*refBytes
	for s := 0; s < 2; s++ {
		n += o.rows[s].bytes() + int64(cap(o.all[s]))*12 + int64(len(o.waiting[s]))*smallEntryBytes
		if o.TTL > 0 {
			n += int64(len(o.ttl.at[s]))*sliceEntryBytes + o.rows[s].refs*8 + int64(len(o.ttl.pushed[s]))*smallEntryBytes
		}
	}
	return n + int64(cap(o.ttl.queue))*16 + int64(cap(o.present))
}

func (o *HashJoinOp) ProcessBatch(m runtime.Message, out runtime.Emitter) error {
	rec := m.Rec
	defer rec.Release()
	if rec.NumRows() == 0 {
		return nil
	}
	side := m.Side
	if side == o.probe {
		return o.probeBatch(rec, out)
	}
	var retract []bool
	if o.Updating[side] {
		var err error
		if rec, retract, err = o.splitOps(side, rec); err != nil {
			return err
		}
		defer rec.Release()
	}
	var ids []uint32
	if o.Spec.How != "cross" {
		var err error
		if ids, err = o.keyIDs(side, rec); err != nil {
			return err
		}
	}
	if side == 1 && o.KeysOnly {
		for _, k := range ids {
			if k != nullKey {
				if int(k) >= len(o.present) {
					o.present = append(o.present, make([]bool, int(k)+1-len(o.present))...)
				}
				o.present[k] = true
			}
		}
		return nil
	}
	chunk, err := o.sides[side].store.Add(rec)
	if err != nil {
		return err
	}
	n := int(rec.NumRows())
	if o.TTL > 0 {
		o.expire(o.ttlNow()) // rows whose TTL has passed match nothing more
	}
	if (o.Unbounded && (o.Spec.How != "inner" || o.Updating[0] || o.Updating[1])) || (o.TTL > 0 && o.Spec.How == "inner") {
		return o.processUnbounded(side, chunk, ids, retract, n, out)
	}
	if o.Spec.How != "inner" {
		for i := 0; i < n; i++ {
			k := uint32(0)
			if ids != nil {
				k = ids[i]
			}
			r := keyed.RowRef{Chunk: chunk, Row: int32(i)}
			o.all[side] = vec.Append(o.all[side], keyedRef{key: k, ref: r})
			if k != nullKey {
				o.rows[side].add(k, r)
			}
		}
		return nil
	}
	other := &o.rows[1-side]
	for i := 0; i < n; i++ {
		k := ids[i]
		if k == nullKey {
			continue
		}
		r := keyed.RowRef{Chunk: chunk, Row: int32(i)}
		for _, m := range other.get(k) {
			if side == 0 {
				o.pair(r, m)
			} else {
				o.pair(m, r)
			}
		}
		o.rows[side].add(k, r)
		if len(o.pending[0]) >= o.emitRows() {
			if err := o.flush(out); err != nil {
				return err
			}
		}
	}
	return o.flush(out)
}

func (o *HashJoinOp) pair(l, r keyed.RowRef) {
	o.pending[0] = append(o.pending[0], l)
	o.pending[1] = append(o.pending[1], r)
}

var noRow = keyed.RowRef{Chunk: -1}

// Finish joins what the blocking kinds kept, once both inputs have ended.
func (o *HashJoinOp) Finish(out runtime.Emitter) error {
	if o.Unbounded {
		return o.flush(out) // every row was emitted as it came
	}
	emit := func() error { return o.step(out) }
	if o.probe == 1 && (o.Spec.How == "semi" || o.Spec.How == "anti") {
		// built on the left (a mark join): semi rows went out at their first match
		if o.Spec.How == "anti" {
			for _, l := range o.all[0] {
				if !o.isMarked(l.key) {
					o.pair(l.ref, noRow)
					if err := emit(); err != nil {
						return err
					}
				}
			}
		}
		return o.drain(out)
	}
	switch o.Spec.How {
	case "left", "semi", "anti", "full":
		if o.Spec.How == "full" {
			o.matched = map[keyed.RowRef]bool{}
		}
		for _, l := range o.all[0] {
			ms := o.rows[1].get(l.key)
			switch {
			case o.Cond != nil:
				o.decideLater(0, l.ref, ms)
			case o.Spec.How == "semi":
				if o.rightHas(l.key, ms) {
					o.pair(l.ref, noRow)
				}
			case o.Spec.How == "anti":
				if !o.rightHas(l.key, ms) {
					o.pair(l.ref, noRow)
				}
			default:
				if len(ms) == 0 {
					o.pair(l.ref, noRow)
				}
				for _, r := range ms {
					o.pair(l.ref, r)
					if o.matched != nil {
						o.matched[r] = true
					}
				}
			}
			if err := emit(); err != nil {
				return err
			}
		}
		if err := o.decide(); err != nil {
			return err
		}
		if o.matched != nil {
			for _, r := range o.all[1] {
				if !o.matched[r.ref] {
					o.pair(noRow, r.ref)
					if err := emit(); err != nil {
						return err
					}
				}
			}
		}
	case "right":
		for _, r := range o.all[1] {
			var ms []keyed.RowRef
			if r.key != nullKey {
				ms = o.rows[0].get(r.key)
			}
			switch {
			case o.Cond != nil:
				o.decideLater(1, r.ref, ms)
			case len(ms) == 0:
				o.pair(noRow, r.ref)
			default:
				for _, l := range ms {
					o.pair(l, r.ref)
				}
			}
			if err := emit(); err != nil {
				return err
			}
		}
	case "cross":
		for _, l := range o.all[0] {
			for _, r := range o.all[1] {
				o.pair(l.ref, r.ref)
				if err := emit(); err != nil {
					return err
				}
			}
		}
	}
	return o.drain(out)
}

// flush emits the pending pairs: the kept left columns, then the kept right columns.
func (o *HashJoinOp) flush(out runtime.Emitter) error {
	if o.Cond != nil && (o.Spec.How == "inner" || o.Spec.How == "cross") {
		if err := o.filterPending(); err != nil {
			return err
		}
	}
	left, right := o.pending[0], o.pending[1]
	if len(left) == 0 {
		return nil
	}
	o.pending[0], o.pending[1] = left[:0], right[:0]
	ctx := o.tc.Eval.Ctx
	o.outColumns()
	var cols []arrow.Array
	if o.LeftKeep == nil || len(o.LeftKeep) > 0 {
		lcols, err := o.sides[0].store.GatherSome(ctx, left, o.outWant[0])
		if err != nil {
			return err
		}
		defer runtime.ReleaseAll(lcols)
		if o.LeftKeep == nil {
			cols = append(cols, lcols...)
		} else {
			for _, i := range o.LeftKeep {
				cols = append(cols, lcols[i])
			}
		}
	}
	if len(o.Spec.RightKeep) > 0 {
		rcols, err := o.sides[1].store.GatherSome(ctx, right, o.outWant[1])
		if err != nil {
			return err
		}
		defer runtime.ReleaseAll(rcols)
		for _, i := range o.Spec.RightKeep {
			cols = append(cols, rcols[i])
		}
	}
	if o.changes() {
		op := o.opColumn(len(left))
		defer op.Release()
		cols = append(cols, op)
	}
	rec := array.NewRecordBatch(o.Spec.Schema, cols, int64(len(left)))
	return runtime.EmitSliced(rec, o.emitRows(), out)
}

// outColumns works out, once, which columns of each side's rows the output holds.
func (o *HashJoinOp) outColumns() {
	if o.outWant[0] != nil {
		return
	}
	for side, keep := range [2][]int{o.LeftKeep, o.Spec.RightKeep} {
		o.outWant[side] = make([]bool, o.sides[side].store.Schema.NumFields())
		if side == 0 && keep == nil {
			for i := range o.outWant[side] {
				o.outWant[side][i] = true
			}
		}
		for _, i := range keep {
			o.outWant[side][i] = true
		}
	}
}

// ProcessWatermark passes watermarks on: a regular join's rows carry no event time of
// their own, but downstream operators still learn how far the inputs have come.
func (o *HashJoinOp) ProcessWatermark(wm int64, out runtime.Emitter) error {
	return out.Emit(runtime.Message{Kind: runtime.MsgWatermark, N: wm})
}
