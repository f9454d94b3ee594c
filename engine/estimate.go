package engine

// Row estimates for the planner's choice of a join's distribution: an upper bound where
// one is cheap to know (Parquet footers, a table's length, a generator's count, a
// limit), a rough one for text files (bytes / 16), none for operators that may multiply
// rows (joins, explode) or inputs of unknown length (streams).

// rowEstimator is implemented by the operators whose rows can be estimated.
type rowEstimator interface {
	// estimateRows returns an estimate of the rows n produces, and false when there is none.
	estimateRows(n *lnode) (int64, bool)
}

// estimateRows returns an estimate of the rows n produces, and false when there is none.
func estimateRows(n *lnode) (int64, bool) {
	if e, ok := n.impl.(rowEstimator); ok {
		return e.estimateRows(n)
	}
	return 0, false
}

// inputRows is the estimate of an operator that emits at most as many rows as its one
// input.
func inputRows(n *lnode) (int64, bool) {
	if len(n.inputs) != 1 {
		return 0, false
	}
	return estimateRows(n.inputs[0])
}

// sizeHint is a rough size of n's output for choosing a join's build side, where a wrong
// guess costs time, not memory or answers: estimateRows, or the hint of the input of an
// operator that emits at most its input's rows where that is smaller; for a filter, a
// fifth of its input's hint (DuckDB's planner assumes as much without statistics: a
// filtered large input may well be the smaller one); for an equi-join, the larger
// input's (the many side of a key/foreign-key join).
func sizeHint(n *lnode) (int64, bool) {
	if _, ok := n.impl.(*filterOp); ok {
		h, ok := sizeHint(n.inputs[0])
		return max(h/filterSelectivity, 1), ok
	}
	est, ok := estimateRows(n)
	if _, one := n.impl.(rowEstimator); one && len(n.inputs) == 1 {
		if h, hok := sizeHint(n.inputs[0]); hok && (!ok || h < est) {
			return h, true
		}
	}
	if ok {
		return est, true
	}
	if j, ok := n.impl.(*joinOp); ok {
		if j.spec == nil || !regularJoin(j.spec.How) || j.spec.How == "cross" {
			return 0, false
		}
		l, lok := sizeHint(n.inputs[0])
		r, rok := sizeHint(n.inputs[1])
		return max(l, r), lok && rok
	}
	return 0, false
}

// filterSelectivity: sizeHint takes a filter to keep 1/filterSelectivity of its input.
const filterSelectivity = 5

// buildSide is the input of a bounded relational join to read whole first and build on
// (the smaller by sizeHint; the right on a tie), or -1 when a size is unknown.
func buildSide(n *lnode) int {
	l, lok := sizeHint(n.inputs[0])
	r, rok := sizeHint(n.inputs[1])
	switch {
	case !lok || !rok:
		return -1
	case l < r:
		return 0
	}
	return 1
}

// independent reports whether two inputs share no operator upstream, so that holding one
// back cannot stall the other (a join reading its build side first).
func independent(a, b *lnode) bool {
	ofA, ofB := map[*lnode]bool{}, map[*lnode]bool{}
	var mark func(n *lnode, seen map[*lnode]bool)
	mark = func(n *lnode, seen map[*lnode]bool) {
		if !seen[n] {
			seen[n] = true
			for _, in := range n.inputs {
				mark(in, seen)
			}
		}
	}
	mark(a, ofA)
	mark(b, ofB)
	for n := range ofB {
		if ofA[n] {
			return false
		}
	}
	return true
}
