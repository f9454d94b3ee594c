package join

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
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
// Over append-only inputs a key that has a right (left) row keeps one: whether a row is
// in the result padded with nulls follows from the rows kept, and the checkpointed state is
// that of an inner join (each side's rows with a key). Rows with a null key never match:
// they are emitted padded (or, for anti, as they are) and not kept. Semi joins need no
// retraction (a left row is emitted once, when it first has a match) and stay append-only.

// Updating inputs (Updating[side]: the changelog of a group_by, or of another updating
// operator, with +I/-U/+U/-D rows), as Flink's regular joins with retraction: +I and +U
// rows are joined and kept as above; a -U or -D row takes back the earliest kept row of
// its side equal to it in every column, and retracts what that row was part of — its
// pairs (-D), or the row itself where it stood alone (padded with nulls, or in an anti
// join's result); when it was the last row of its key on its side, the other side's rows
// of the key stand alone again (+I padded with nulls; an anti join inserts its left rows,
// a semi join deletes them). The output of every kind is then a changelog of +I and -D
// rows (as Flink's joins, which emit INSERT and DELETE whatever their input's kinds). A
// retraction that finds no equal kept row (its row expired by state_ttl) is ignored.
// Without a state TTL, every pair of kept rows of a key is in the result and a
// key's rows stand alone exactly while the other side has none, so the result is at every
// point the bounded join of the rows that remain.

// Change kinds, as agg's.
const (
	opInsert = "+I"
	opDelete = "-D"
)

// changes reports whether this join's output carries an op column: every kind but inner
// and semi (whose output only grows), and every kind over an updating input.
func (o *HashJoinOp) changes() bool {
	return o.Unbounded && (o.Updating[0] || o.Updating[1] || (o.Spec.How != "semi" && o.Spec.How != "inner"))
}

// splitOps reads the op column of an updating input's batch: it returns the batch without
// it and which rows are taken back (-U, -D).
func (o *HashJoinOp) splitOps(side int, rec arrow.RecordBatch) (arrow.RecordBatch, []bool, error) {
	col := o.OpCol[side]
	ops, ok := rec.Column(col).(*array.String)
	if !ok {
		return nil, nil, rberr.New(rberr.Internal, "%s: the op column of the %s input is %s", o.Spec.Name, sideName[side], rec.Column(col).DataType())
	}
	retract := make([]bool, rec.NumRows())
	for i := range retract {
		switch ops.Value(i) {
		case "-U", opDelete:
			retract[i] = true
		case opInsert, "+U":
		default:
			return nil, nil, rberr.New(rberr.Data, "%s: unknown change %q in the %s column of the %s input", o.Spec.Name, ops.Value(i), rec.Schema().Field(col).Name, sideName[side])
		}
	}
	cols := make([]arrow.Array, 0, rec.NumCols()-1)
	for i, c := range rec.Columns() {
		if i != col {
			cols = append(cols, c)
		}
	}
	return array.NewRecordBatch(o.sides[side].store.Schema, cols, rec.NumRows()), retract, nil
}

var sideName = [2]string{"left", "right"}

// alone reports whether a row of side s with no match stands in the result (padded with
// nulls; an anti join's left rows as they are).
func (o *HashJoinOp) alone(s int) bool {
	switch o.Spec.How {
	case "full":
		return true
	case "left", "anti":
		return s == 0
	case "right":
		return s == 1
	}
	return false
}

// processUnbounded joins a batch of one side against the rows of the other kept so far
// (retract: which rows of an updating input are taken back; nil: none).
//
// waiting[side][key] counts the last rows of a key on a side that have had no match since
// they came (the other side held no row of the key): those a left/right/full join shows
// padded with nulls, an anti join shows, a semi join holds back. Without a state TTL they
// are all the key's rows while the other side has none; with one, the other side's rows
// may expire, and the rows that came after stand alone again (ttl.go).
func (o *HashJoinOp) processUnbounded(side int, chunk int32, ids []uint32, retract []bool, n int, out runtime.Emitter) error {
	padded := o.alone
	now := o.ttlNow()
	for i := 0; i < n; i++ {
		k := ids[i]
		r := keyed.RowRef{Chunk: chunk, Row: int32(i)}
		if retract != nil && retract[i] {
			if err := o.takeBack(side, k, r); err != nil {
				return err
			}
		} else if k == nullKey {
			if padded(side) {
				o.emitOne(side, r, noRow, opInsert)
			}
			o.drop[side] = append(o.drop[side], r)
		} else {
			o.join(side, k, r, now)
		}
		if len(o.pending[0]) >= o.emitRows() {
			if err := o.flushDrop(out); err != nil {
				return err
			}
		}
	}
	return o.flushDrop(out)
}

// join matches a new row r (key k) of side with the kept rows of the other and keeps it.
func (o *HashJoinOp) join(side int, k uint32, r keyed.RowRef, now int64) {
	how := o.Spec.How
	padded := o.alone
	others := o.rows[1-side].get(k)
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
}

// takeBack applies a retraction r (key k) of an updating input's side: the earliest kept
// row equal to it leaves the state, and what it was part of leaves the result.
func (o *HashJoinOp) takeBack(side int, k uint32, r keyed.RowRef) error {
	o.drop[side] = append(o.drop[side], r) // the retraction itself is not kept
	if k == nullKey {
		// Rows with a null key are not kept: one that stood alone leaves the result.
		if o.alone(side) {
			o.emitOne(side, r, noRow, opDelete)
		}
		return nil
	}
	store := &o.sides[side].store
	rows := o.rows[side].get(k)
	j := -1
	for at, m := range rows {
		if store.CompareRows(m, r) == 0 {
			j = at
			break
		}
	}
	if err := store.Err(); err != nil {
		return err
	}
	if j < 0 {
		return nil // not kept (expired by the state TTL): nothing to take back, as in Flink
	}
	kept := rows[j]
	w := o.waiting[side][k]
	wasAlone := j >= len(rows)-w // had no match since it came
	rows = append(rows[:j], rows[j+1:]...)
	if o.TTL > 0 {
		at := o.ttl.at[side][k]
		o.ttl.at[side][k] = append(at[:j], at[j+1:]...)
	}
	if wasAlone {
		w--
	}
	if len(rows) == 0 {
		o.rows[side].set(k, nil)
		delete(o.ttl.at[side], k)
		delete(o.waiting[side], k)
	} else {
		o.rows[side].set(k, rows)
		if w > 0 {
			o.waiting[side][k] = w
		} else {
			delete(o.waiting[side], k)
		}
	}
	o.drop[side] = append(o.drop[side], kept)
	others := o.rows[1-side].get(k)
	last := len(rows) == 0 && len(others) > 0 // the other side's rows lose their last match
	switch how := o.Spec.How; how {
	case "semi", "anti":
		switch {
		case side == 0 && how == "semi" && !wasAlone, // it had a match: it is in the result
			side == 0 && how == "anti" && wasAlone:
			o.emitOne(0, kept, noRow, opDelete)
		case side == 1 && last:
			op := opDelete // semi: the left rows had a match, and have none now
			if how == "anti" {
				op = opInsert
			}
			for _, m := range others {
				o.emitOne(0, m, noRow, op)
			}
			o.waiting[0][k] = len(others)
		}
	default:
		if len(others) == 0 {
			if wasAlone && o.alone(side) {
				o.emitOne(side, kept, noRow, opDelete)
			}
			break
		}
		for _, m := range others {
			o.emitOne(side, kept, m, opDelete)
		}
		if last && how != "inner" {
			if o.alone(1 - side) {
				for _, m := range others {
					o.emitOne(1-side, m, noRow, opInsert)
				}
			}
			o.waiting[1-side][k] = len(others)
		}
	}
	return nil
}

// flushDrop emits the pending rows, then forgets the rows no longer kept.
func (o *HashJoinOp) flushDrop(out runtime.Emitter) error {
	err := o.flush(out)
	for s := range o.drop {
		for _, r := range o.drop[s] {
			o.sides[s].store.Drop(r)
		}
		o.drop[s] = o.drop[s][:0]
	}
	return err
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
