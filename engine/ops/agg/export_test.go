package agg

import "github.com/riverbed-engine/riverbed/engine/runtime"

// SpillUse reports a group_by's spilling: the memory its table holds by its estimate,
// the bytes it wrote to disk, and how many times it spilled.
func SpillUse(o runtime.Operator) (resident, written int64, spills int) {
	g := o.(*GroupByOp)
	if g.spill == nil {
		return 0, 0, 0
	}
	return g.spill.shown, g.spill.runs.Written, g.spill.Spills
}
