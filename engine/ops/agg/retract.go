package agg

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Retraction: a group_by over an updating input (a changelog) takes back the rows that
// leave its input (-U, -D). count, sum and mean subtract; min, max, first, last and
// n_unique keep every value of their groups with its count (retractpick.go).

// Retractable lists the aggregations a group_by over an updating input can compute.
var Retractable = map[string]bool{"count": true, "sum": true, "mean": true,
	"min": true, "max": true, "first": true, "last": true, "n_unique": true}

// retractPicks are the aggregations that keep their groups' values when retracting.
var retractPicks = map[string]bool{"min": true, "max": true, "first": true, "last": true, "n_unique": true}

// retracter is an accumulator that can take values back out of its groups.
type retracter interface {
	// retract takes the rows of col (nil for count()) out of groups ids.
	retract(ec *expr.EvalCtx, ids []uint32, ngroups int, col arrow.Array) error
}

// Retract takes rows out of the given groups (ids), which must exist.
func (h *Table) Retract(ec *expr.EvalCtx, rec arrow.RecordBatch, ids []uint32) error {
	ng := max(h.groups.NumGroups(), maxGid(ids))
	if ec.StartSharing() {
		defer ec.EndSharing()
	}
	h.setRows(rec)
	for i, a := range h.aggs {
		r, ok := h.Accs()[i].(retracter)
		if !ok {
			return rberr.New(rberr.Plan, "%s: %s cannot take back retracted rows", h.name, a.Name)
		}
		var col arrow.Array
		if a.Arg != nil {
			d, err := a.Arg.Eval(ec, rec)
			if err != nil {
				return rberr.Wrap(rberr.KindOf(err), err, "%s", h.name)
			}
			if col, err = expr.DatumToArray(ec, d, int(rec.NumRows())); err != nil {
				return err
			}
		}
		err := r.retract(ec, ids, ng, col)
		if col != nil {
			col.Release()
		}
		if err != nil {
			return rberr.Wrap(rberr.KindOf(err), err, "%s: %s", h.name, a.Name)
		}
	}
	return nil
}

// ResetGroup clears every accumulator of group g (a group whose rows were all retracted).
func (h *Table) ResetGroup(g uint32) {
	for _, a := range h.Accs() {
		a.Reset(g)
	}
}

func (a *countAcc) retract(_ *expr.EvalCtx, ids []uint32, ng int, col arrow.Array) error {
	a.n = expr.Grow(a.n, ng)
	if !a.star && col.DataType().ID() == arrow.NULL {
		return nil
	}
	for i, g := range ids {
		if a.star || col.IsValid(i) {
			a.n[g]--
		}
	}
	return nil
}

// retract subtracts the values; the part of an integer sum that leaves its type is
// spilled, as in update.
func (a *sumAcc) retract(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array) error {
	a.cnt = expr.Grow(a.cnt, ng)
	valid := func(i int) bool { return col.NullN() == 0 || col.IsValid(i) }
	if a.stor == storNull {
		return nil
	}
	switch {
	case a.exact():
		vals, _, err := expr.DecimalsOf(ec, col)
		if err != nil {
			return err
		}
		a.d = expr.Grow(a.d, ng)
		for i, g := range ids {
			if valid(i) {
				s, ok := expr.DecAdd(a.d[g], vals[i].Negate())
				if !ok {
					return a.overflow()
				}
				a.d[g] = s
				a.cnt[g]--
			}
		}
	case a.stor == storFloat:
		vals, err := expr.AsFloat64(col)
		if err != nil {
			return err
		}
		a.f = expr.Grow(a.f, ng)
		for i, g := range ids {
			if valid(i) {
				if a.rf != nil {
					a.addFloat(g, ng, vals[i], -1)
				} else {
					a.f[g] -= vals[i]
				}
				a.cnt[g]--
			}
		}
	case a.stor == storUint:
		c, err := compute.CastToType(ec.Ctx, col, arrow.PrimitiveTypes.Uint64)
		if err != nil {
			return err
		}
		defer c.Release()
		vals := c.(*array.Uint64).Uint64Values()
		a.u = expr.Grow(a.u, ng)
		for i, g := range ids {
			if !valid(i) {
				continue
			}
			v := vals[i]
			switch {
			case v <= a.u[g]:
				a.u[g] -= v
			default: // the rest of the sum is in the spill
				a.spill(g, decimal128.FromU64(v).Negate())
			}
			a.cnt[g]--
		}
	default:
		vals, err := expr.AsInt64(col)
		if err != nil {
			return err
		}
		a.i = expr.Grow(a.i, ng)
		for i, g := range ids {
			if !valid(i) {
				continue
			}
			v, x := vals[i], a.i[g]
			s := x - v
			if (x^v)&(x^s) < 0 { // signed overflow
				a.spill(g, decimal128.FromI64(x))
				a.spill(g, decimal128.FromI64(v).Negate())
				s = 0
			}
			a.i[g] = s
			a.cnt[g]--
		}
	}
	return nil
}
