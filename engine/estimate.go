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
