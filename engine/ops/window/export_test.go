package window

import "github.com/riverbed-engine/riverbed/engine/runtime"

// SpillUse reports a window aggregation's spilling: the memory its tables hold by its
// estimate and how many tables it wrote out.
func SpillUse(o runtime.Operator) (resident int64, spills int) {
	w := o.(*WindowAggOp)
	if w.spiller == nil {
		return 0, 0
	}
	return w.spiller.Resident(), w.spiller.Spills()
}
