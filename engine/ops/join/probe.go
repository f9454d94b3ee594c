package join

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// A bounded regular join is symmetric until one input ends: both inputs' rows are kept
// (an inner join pairing each arriving row with the other side's rows so far). When an
// input has ended whole, the join is a build/probe hash join: that input is the built
// side, and each later row of the other (probe) side is joined against it and emitted at
// once, never kept. The probe rows kept before are joined then, and forgotten. So a join
// of a large input with a small one keeps the small one (and what of the large one
// arrived before it ended: the task reads the planner's smaller input first, see Build),
// not both.
//
// Which side may be built depends on the kind: a row of the streamed side must be
// decided on its own, so its unmatched rows may be emitted but the built side's may not
// (they would need a match flag until the end): any side for inner and cross joins, the
// right for left, semi and anti joins, the left for right joins, neither for full joins.
// Joins over unbounded or updating inputs, or with a state TTL, stay symmetric.

// canBuild reports whether the join may stream its other input past side once side has
// ended.
func (o *HashJoinOp) canBuild(side int) bool {
	if o.Unbounded || o.TTL > 0 || o.Updating[0] || o.Updating[1] {
		return false
	}
	return OneSided(o.Spec.How, side) || (side == 0 && o.markJoin())
}

// markJoin reports whether the join may build on its left input as a mark join
// (MarkBuild).
func (o *HashJoinOp) markJoin() bool {
	return o.MarkBuild && o.Cond == nil && !o.Broadcast && (o.Spec.How == "semi" || o.Spec.How == "anti")
}

// mark marks key k of the left input matched; it reports whether k was not yet.
func (o *HashJoinOp) mark(k uint32) bool {
	if int(k) >= len(o.marked) {
		o.marked = append(o.marked, make([]bool, int(k)+1-len(o.marked))...)
	}
	if o.marked[k] {
		return false
	}
	o.marked[k] = true
	return true
}

// isMarked reports whether a right row has matched left key k (a null key never does).
func (o *HashJoinOp) isMarked(k uint32) bool {
	return k != nullKey && int(k) < len(o.marked) && o.marked[k]
}

// OneSided reports whether a join of kind how can take one input's rows (side) as a
// whole and decide each row of the other on its own: every row of the other input must
// be emitted or dropped alone, so its unmatched rows may be kept but not those of side.
// Any side of inner and cross joins, the right of left, semi and anti joins, the left of
// right joins, neither for full joins. It is what a join may build on while streaming the
// other input (probe.go) and what it may broadcast to every subtask.
func OneSided(how string, side int) bool {
	switch how {
	case "inner", "cross":
		return true
	case "left", "semi", "anti":
		return side == 1
	case "right":
		return side == 0
	}
	return false
}

// PreferredInput implements runtime.InputPreferrer: the planner's build side, if it may
// be built, read alone first if the planner found the inputs independent (BuildFirst).
func (o *HashJoinOp) PreferredInput() (int, bool) {
	if o.Build >= 0 && o.canBuild(o.Build) {
		return o.Build, o.BuildFirst
	}
	return -1, false
}

// EndInput implements runtime.InputEnder: once side has ended, the other is streamed
// past it (if the kind allows), starting with its rows kept so far.
func (o *HashJoinOp) EndInput(side int, out runtime.Emitter) error {
	if o.probe >= 0 || !o.canBuild(side) {
		return nil
	}
	p := 1 - side
	o.probe = p
	if p == 1 && o.KeysOnly { // a mark join: the right keys kept mark theirs
		for k, ok := range o.present {
			if ok {
				o.markKey(uint32(k))
				if err := o.step(out); err != nil {
					return err
				}
			}
		}
		o.present = nil
	}
	if o.Spec.How != "inner" { // an inner join has paired its kept rows already
		for _, r := range o.all[p] {
			o.probeRow(p, r.key, r.ref)
			if err := o.step(out); err != nil {
				return err
			}
		}
	}
	if err := o.drain(out); err != nil {
		return err
	}
	// Forget the probe side's rows: they match nothing more.
	o.rows[p] = newRefIndex()
	o.all[p] = nil
	o.sides[p].store.DropAll()
	return nil
}

// probeBatch joins a batch of the probe side against the built side and emits the result.
func (o *HashJoinOp) probeBatch(rec arrow.RecordBatch, out runtime.Emitter) error {
	p := o.probe
	var ids []uint32
	if o.Spec.How != "cross" {
		var err error
		if ids, err = o.lookupIDs(p, rec); err != nil {
			return err
		}
	}
	st := &o.sides[p].store
	chunk, err := st.Add(rec)
	if err != nil {
		return err
	}
	if o.Spec.How == "inner" && o.Cond == nil && ids != nil {
		err = o.probeInner(p, chunk, ids, out)
	} else {
		err = o.probeRows(p, chunk, ids, int(rec.NumRows()), out)
	}
	if err == nil {
		err = o.drain(out)
	}
	st.Live[chunk] = 0
	st.Settle(chunk)
	return err
}

// probeInner is probeRows for an inner join without a further condition: each row's
// matches are pending pairs, with no call per row.
func (o *HashJoinOp) probeInner(p int, chunk int32, ids []uint32, out runtime.Emitter) error {
	built := &o.rows[1-p]
	limit := o.emitRows()
	mine, theirs := &o.pending[p], &o.pending[1-p]
	for i, k := range ids {
		ms := built.get(k)
		if len(ms) == 0 {
			continue
		}
		r := keyed.RowRef{Chunk: chunk, Row: int32(i)}
		for _, m := range ms {
			*mine = append(*mine, r)
			*theirs = append(*theirs, m)
		}
		if len(o.pending[0]) >= limit {
			if err := o.flush(out); err != nil {
				return err
			}
		}
	}
	return nil
}

// probeRows joins the n rows of a probe batch (in chunk, with key ids ids; nil for a
// cross join) against the built side.
func (o *HashJoinOp) probeRows(p int, chunk int32, ids []uint32, n int, out runtime.Emitter) error {
	for i := 0; i < n; i++ {
		k := uint32(0)
		if ids != nil {
			k = ids[i]
		}
		o.probeRow(p, k, keyed.RowRef{Chunk: chunk, Row: int32(i)})
		if err := o.step(out); err != nil {
			return err
		}
	}
	return nil
}

// probeRow joins one row r of the probe side p (key id k) against the built side.
func (o *HashJoinOp) probeRow(p int, k uint32, r keyed.RowRef) {
	b := 1 - p
	pair := func(m keyed.RowRef) {
		if p == 0 {
			o.pair(r, m)
		} else {
			o.pair(m, r)
		}
	}
	if o.Spec.How == "cross" {
		for _, m := range o.all[b] {
			pair(m.ref)
		}
		return
	}
	if p == 1 && (o.Spec.How == "semi" || o.Spec.How == "anti") {
		o.markKey(k)
		return
	}
	ms := o.rows[b].get(k)
	if o.Cond != nil && o.Spec.How != "inner" {
		o.decideLater(p, r, ms)
		return
	}
	switch o.Spec.How {
	case "inner":
		for _, m := range ms {
			pair(m)
		}
	case "semi":
		if o.rightHas(k, ms) {
			o.pair(r, noRow)
		}
	case "anti":
		if !o.rightHas(k, ms) {
			o.pair(r, noRow)
		}
	default: // left (p = 0) and right (p = 1): unmatched rows padded with nulls
		if len(ms) == 0 {
			pair(noRow)
		}
		for _, m := range ms {
			pair(m)
		}
	}
}

// markKey is a mark join's probe of a right row of key k: the key is marked, and a semi
// join emits its left rows at its first match.
func (o *HashJoinOp) markKey(k uint32) {
	if k != nullKey {
		if ms := o.rows[0].get(k); len(ms) > 0 && o.mark(k) && o.Spec.How == "semi" {
			for _, m := range ms {
				o.pair(m, noRow)
			}
		}
	}
}

// lookupIDs is keyIDs for the probe side: the key id the built side gave each row's key,
// adding none (nullKey: no row of the built side has it, or it is null).
func (o *HashJoinOp) lookupIDs(side int, rec arrow.RecordBatch) ([]uint32, error) {
	exprs := o.Spec.LeftKeys
	if side == 1 {
		exprs = o.Spec.RightKeys
	}
	cols, err := runtime.EvalColumns(o.tc.Eval, exprs, rec)
	if err != nil {
		return nil, err
	}
	defer runtime.ReleaseAll(cols)
	ids := make([]uint32, rec.NumRows())
	o.keys.Lookup(cols, ids)
	if !o.Spec.NullsEqual {
		markNullKeys(cols, ids)
	}
	return ids, nil
}

var (
	_ runtime.InputEnder     = (*HashJoinOp)(nil)
	_ runtime.InputPreferrer = (*HashJoinOp)(nil)
)
