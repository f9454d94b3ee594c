package join

import (
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// SpillStats returns the counters of the join's Spill (zero without spilling).
func (j *JoinBase) SpillStats() keyed.SpillStats { return j.spill.Stats() }

// HeldRows is the number of rows side keeps in its store.
func (j *JoinBase) HeldRows(side int) int { return j.sides[side].store.HeldRows() }

// SpillUse returns what the memory cap of a join accounts for.
func SpillUse(op runtime.Operator) opstest.CapUse {
	st := op.(interface{ SpillStats() keyed.SpillStats }).SpillStats()
	return opstest.CapUse{Resident: st.Resident, Index: st.Index, Store: st.Store, Spilled: st.SpilledBytes}
}
