package engine

import (
	"os"
)

// Row estimates for the planner's choice of a join's distribution: an upper bound where
// one is cheap to know (Parquet footers, a table's length, a generator's count, a
// limit), a rough one for text files (bytes / 16), none for operators that may multiply
// rows (joins, explode) or inputs of unknown length (streams).

// textBytesPerRow is the size of a CSV or NDJSON row assumed when estimating rows from
// file sizes: small enough that a file of wide rows is not taken for a small one.
const textBytesPerRow = 16

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
	switch n.op {
	case "scan_parquet":
		var rows int64
		for _, sp := range n.dataset.Splits {
			rows += sp.NumRows
		}
		return rows, true
	case "scan_csv", "scan_ndjson":
		var bytes int64
		for _, f := range n.text.Files {
			st, err := os.Stat(f)
			if err != nil {
				return 0, false
			}
			bytes += st.Size()
		}
		return bytes/textBytesPerRow + 1, true
	case "scan_arrow":
		if n.table && n.rows >= 0 {
			return n.rows, true
		}
		return 0, false
	case "datagen", "nexmark":
		if n.count >= 0 {
			return n.count, true
		}
		return 0, false
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
