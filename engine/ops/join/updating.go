package join

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Updating regular joins over unbounded inputs (HashJoinOp with Changelog). An outer or
// anti join cannot wait for the end of its input to know that a row has no match: it emits
// the row as it stands and retracts it when that changes, as Flink's regular joins do. Its
// output is a changelog whose last column is the op (the values of agg.OpColumn):
//
//   - left join: a left row with no right row of its key yet is inserted padded with nulls
//     (+I); when the first right row of its key arrives, that row is deleted (-D) and the
//     pairs inserted (+I). Right joins mirror it; full joins do both.
//   - anti join: a left row with no right row of its key is inserted (+I) and deleted (-D)
//     when the first right row of its key arrives.
//
// Inputs are append-only, so a key that has a right (left) row keeps one: whether a row is
// in the result padded with nulls follows from the rows kept, and the checkpointed state is
// that of an inner join (each side's rows with a key). Rows with a null key never match:
// they are emitted padded (or, for anti, as they are) and not kept. Semi joins need no
// retraction (a left row is emitted once, when it first has a match) and stay append-only.

// Change kinds, as agg's.
const (
	opInsert = "+I"
	opDelete = "-D"
)

// changes reports whether this join's output carries an op column: every kind but semi
// (whose output only grows).
func (o *HashJoinOp) changes() bool {
	return o.Unbounded && o.Spec.How != "semi" && o.Spec.How != "inner"
}

// processUnbounded joins a batch of one side against the rows of the other kept so far.
//
// waiting[side][key] counts the last rows of a key on a side that have had no match since
// they came (the other side held no row of the key): those a left/right/full join shows
// padded with nulls, an anti join shows, a semi join holds back. Without a state TTL they
// are all the key's rows while the other side has none; with one, the other side's rows
// may expire, and the rows that came after stand alone again (ttl.go).
func (o *HashJoinOp) processUnbounded(side int, chunk int32, ids []uint32, n int, out runtime.Emitter) error {
	how := o.Spec.How
	// padded reports whether an unmatched row of side s stands in the result (padded with
	// nulls).
	padded := func(s int) bool {
		switch how {
		case "full":
			return true
		case "left", "anti":
			return s == 0
		case "right":
			return s == 1
		}
		return false
	}
	now := o.ttlNow()
	for i := 0; i < n; i++ {
		k := ids[i]
		r := keyed.RowRef{Chunk: chunk, Row: int32(i)}
		if k == nullKey {
			if padded(side) {
				o.emitOne(side, r, noRow, opInsert)
			}
			continue
		}
		others := o.rows[1-side].m[k]
		w := o.waiting[1-side][k]
		switch how {
		case "semi", "anti":
			switch {
			case side == 0 && (len(others) > 0) == (how == "semi"):
				o.emitOne(0, r, noRow, opInsert)
			case side == 1 && w > 0:
				// The left rows of this key that had no match now have one.
				op := opInsert
				if how == "anti" {
					op = opDelete
				}
				for _, m := range others[len(others)-w:] {
					o.emitOne(0, m, noRow, op)
				}
			}
		default:
			if len(others) == 0 {
				if padded(side) {
					o.emitOne(side, r, noRow, opInsert)
				}
				break
			}
			if w > 0 && padded(1-side) {
				// The other side's rows that stood alone, padded with nulls, have a match
				// now: retract them.
				for _, m := range others[len(others)-w:] {
					o.emitOne(1-side, m, noRow, opDelete)
				}
			}
			for _, m := range others {
				o.emitOne(side, r, m, opInsert)
			}
		}
		if len(others) > 0 {
			delete(o.waiting[1-side], k)
			o.touch(1-side, k, now) // matched: their TTL starts again
		} else if how != "inner" {
			o.waiting[side][k]++
		}
		o.rows[side].add(k, r)
		o.kept(side, k, now)
		if len(o.pending[0]) >= o.emitRows() {
			if err := o.flush(out); err != nil {
				return err
			}
		}
	}
	return o.flush(out)
}

// emitOne queues an output row: row a of side with row b of the other side (noRow: nulls).
func (o *HashJoinOp) emitOne(side int, a, b keyed.RowRef, op string) {
	if side == 0 {
		o.pair(a, b)
	} else {
		o.pair(b, a)
	}
	if o.changes() {
		o.ops = append(o.ops, op)
	}
}

// opColumn builds the op column of the pending rows and clears them.
func (o *HashJoinOp) opColumn(n int) arrow.Array {
	b := array.NewStringBuilder(o.tc.Eval.Mem)
	defer b.Release()
	b.Reserve(n)
	for _, op := range o.ops[:n] {
		b.Append(op)
	}
	o.ops = o.ops[:0]
	return b.NewArray()
}
