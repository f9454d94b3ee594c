package agg

import (
	"math"

	"github.com/riverbed-engine/riverbed/engine/expr"
)

// retractFloats is the state a float sum or mean of an updating input keeps beside its
// running sum (sumAcc.f), so that taking rows back gives the sum of the rows left, not
// the remains of a subtraction: NaN - NaN and inf - inf are NaN, and 1e20 + 1 - 1e20 is
// 0 in float64. Infinities and NaN are counted instead of added; finite values are added
// with Neumaier's compensation, which keeps what each addition rounds off (1e20 + 1 -
// 1e20 is 1).
type retractFloats struct {
	comp            []float64 // per group: the compensation
	nan, pinf, ninf []int64   // per group: the NaN, +inf and -inf values in it
}

// addFloat adds v (sign 1) or takes it back (sign -1) in group g of an updating input's
// float sum.
func (a *sumAcc) addFloat(g uint32, ng int, v float64, sign int64) {
	r := a.rf
	switch {
	case math.IsNaN(v):
		r.nan = expr.Grow(r.nan, ng)
		r.nan[g] += sign
	case math.IsInf(v, 1):
		r.pinf = expr.Grow(r.pinf, ng)
		r.pinf[g] += sign
	case math.IsInf(v, -1):
		r.ninf = expr.Grow(r.ninf, ng)
		r.ninf[g] += sign
	default:
		if sign < 0 {
			v = -v
		}
		r.comp = expr.Grow(r.comp, ng)
		s := a.f[g]
		t := s + v
		if math.Abs(s) >= math.Abs(v) {
			r.comp[g] += (s - t) + v
		} else {
			r.comp[g] += (v - t) + s
		}
		a.f[g] = t
	}
}

// floatSum is group g's float sum: its running sum with the compensation, or NaN or an
// infinity when the group holds one.
func (a *sumAcc) floatSum(g uint32) float64 {
	s := at(a.f, g)
	r := a.rf
	if r == nil {
		return s
	}
	nan, pinf, ninf := at(r.nan, g), at(r.pinf, g), at(r.ninf, g)
	switch {
	case nan > 0 || pinf > 0 && ninf > 0:
		return math.NaN()
	case pinf > 0:
		return math.Inf(1)
	case ninf > 0:
		return math.Inf(-1)
	}
	return s + at(r.comp, g)
}

// merge adds group src's counts and compensation into dst (their sums are added by
// Merge).
func (r *retractFloats) merge(dst, src uint32, n int) {
	for _, s := range []*[]int64{&r.nan, &r.pinf, &r.ninf} {
		*s = expr.Grow(*s, n)
		(*s)[dst] += (*s)[src]
	}
	r.comp = expr.Grow(r.comp, n)
	r.comp[dst] += r.comp[src]
}

// reset forgets group g.
func (r *retractFloats) reset(g uint32) {
	for _, s := range [][]int64{r.nan, r.pinf, r.ninf} {
		if int(g) < len(s) {
			s[g] = 0
		}
	}
	if int(g) < len(r.comp) {
		r.comp[g] = 0
	}
}

func (r *retractFloats) memBytes() int64 {
	return capBytes(r.comp) + capBytes(r.nan) + capBytes(r.pinf) + capBytes(r.ninf)
}
