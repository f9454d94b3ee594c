package join

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// A join condition (HashJoinOp.Cond: SQL's ON k = k AND l.a <> r.b, an EXISTS correlated
// by an inequality) is a predicate over a pair of rows with equal keys: the pair matches
// only when it is true (NULL is false). Inner and cross joins drop the pairs for which it
// does not hold before they are emitted (flush). The other kinds decide each row of the
// side that may stand alone (the left for left, semi, anti and full joins, the right for
// right joins, the streamed side of a build/probe join) from its candidate pairs: the
// rows are queued with their candidates (decideLater), and the condition is evaluated
// over many candidates at once (decide), in the rows' order.

// pending decision of one row: its side, its ref and how many candidate pairs follow it
// in cand.
type undecided struct {
	side int
	ref  keyed.RowRef
	n    int
}

// decideLater queues row r of side (which may stand alone) with the rows ms of the other
// side that have its key.
func (o *HashJoinOp) decideLater(side int, r keyed.RowRef, ms []keyed.RowRef) {
	for _, m := range ms {
		if side == 0 {
			o.cand[0], o.cand[1] = append(o.cand[0], r), append(o.cand[1], m)
		} else {
			o.cand[0], o.cand[1] = append(o.cand[0], m), append(o.cand[1], r)
		}
	}
	o.undecided = append(o.undecided, undecided{side: side, ref: r, n: len(ms)})
}

// decide evaluates the condition over the queued candidate pairs and pairs each queued
// row as its kind says: semi joins keep a row with a match, anti joins one without,
// outer joins pair it with its matches or, without one, with nulls (a full join marks
// the right rows matched).
func (o *HashJoinOp) decide() error {
	if len(o.undecided) == 0 {
		return nil
	}
	ok, err := o.holds(o.cand[0], o.cand[1])
	if err != nil {
		return err
	}
	at := 0
	for _, u := range o.undecided {
		found := false
		for i := at; i < at+u.n; i++ {
			if !ok[i] {
				continue
			}
			found = true
			switch o.Spec.How {
			case "semi", "anti":
			default:
				o.pair(o.cand[0][i], o.cand[1][i])
				if o.matched != nil {
					o.matched[o.cand[1][i]] = true
				}
			}
		}
		at += u.n
		switch o.Spec.How {
		case "semi":
			if found {
				o.pair(u.ref, noRow)
			}
		case "anti":
			if !found {
				o.pair(u.ref, noRow)
			}
		default:
			if !found {
				if u.side == 0 {
					o.pair(u.ref, noRow)
				} else {
					o.pair(noRow, u.ref)
				}
			}
		}
	}
	o.undecided, o.cand[0], o.cand[1] = o.undecided[:0], o.cand[0][:0], o.cand[1][:0]
	return nil
}

// holds evaluates the condition over the pairs (l[i], r[i]).
func (o *HashJoinOp) holds(l, r []keyed.RowRef) ([]bool, error) {
	n := len(l)
	o.mask = o.mask[:0]
	if n == 0 {
		return o.mask, nil
	}
	ctx := o.tc.Eval.Ctx
	o.condColumns()
	lcols, err := o.sides[0].store.GatherSome(ctx, l, o.condWant[0])
	if err != nil {
		return nil, err
	}
	defer runtime.ReleaseAll(lcols)
	rcols, err := o.sides[1].store.GatherSome(ctx, r, o.condWant[1])
	if err != nil {
		return nil, err
	}
	defer runtime.ReleaseAll(rcols)
	cols := append(append(make([]arrow.Array, 0, len(lcols)+len(rcols)), lcols...), rcols...)
	for i, c := range cols {
		if c == nil { // a column the condition does not read
			cols[i] = array.NewNull(n)
			defer cols[i].Release()
		}
	}
	rec := array.NewRecordBatch(o.condNarrow, cols, int64(n))
	defer rec.Release()
	d, err := o.Cond.Eval(o.tc.Eval, rec)
	if err != nil {
		return nil, rberr.Wrap(rberr.KindOf(err), err, "%s: evaluating the join condition %s", o.Spec.Name, o.Cond)
	}
	a, err := expr.DatumToArray(o.tc.Eval, d, n)
	if err != nil {
		return nil, err
	}
	defer a.Release()
	b := a.(*array.Boolean)
	for i := 0; i < n; i++ {
		o.mask = append(o.mask, b.IsValid(i) && b.Value(i))
	}
	return o.mask, nil
}

// condColumns works out, once, which columns of each side the condition reads.
func (o *HashJoinOp) condColumns() {
	if o.condNarrow != nil {
		return
	}
	reads, ok := expr.Reads(o.Cond)
	nl := o.sides[0].store.Schema.NumFields()
	fields := append([]arrow.Field(nil), o.CondSchema.Fields()...)
	for side := range o.condWant {
		o.condWant[side] = make([]bool, o.sides[side].store.Schema.NumFields())
	}
	for i := range fields {
		side, k := 0, i
		if i >= nl {
			side, k = 1, i-nl
		}
		if !ok || reads[i] {
			o.condWant[side][k] = true
		} else {
			fields[i] = arrow.Field{Name: fields[i].Name, Type: arrow.Null, Nullable: true}
		}
	}
	o.condNarrow = arrow.NewSchema(fields, nil)
}

// filterPending drops the pending pairs of an inner or cross join for which the
// condition does not hold.
func (o *HashJoinOp) filterPending() error {
	ok, err := o.holds(o.pending[0], o.pending[1])
	if err != nil {
		return err
	}
	k := 0
	for i, keep := range ok {
		if keep {
			o.pending[0][k], o.pending[1][k] = o.pending[0][i], o.pending[1][i]
			k++
		}
	}
	o.pending[0], o.pending[1] = o.pending[0][:k], o.pending[1][:k]
	return nil
}

// step decides the queued rows once there are a batch's worth of candidates, and emits
// the pending pairs once there are a batch's worth.
func (o *HashJoinOp) step(out runtime.Emitter) error {
	if len(o.cand[0]) >= o.emitRows() || len(o.undecided) >= o.emitRows() {
		if err := o.decide(); err != nil {
			return err
		}
	}
	if len(o.pending[0]) >= o.emitRows() {
		return o.flush(out)
	}
	return nil
}

// drain decides every queued row and emits every pending pair.
func (o *HashJoinOp) drain(out runtime.Emitter) error {
	if err := o.decide(); err != nil {
		return err
	}
	return o.flush(out)
}
