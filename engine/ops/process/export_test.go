package process

import (
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// StateRows is the number of state rows the operator's batches hold (live or not).
func (o *ProcessOp) StateRows() int { return o.states.HeldRows() }

// SpillUse returns what the memory cap of a process operator accounts for.
func SpillUse(op runtime.Operator) opstest.CapUse {
	st := op.(*ProcessOp).rows.SpillStats()
	return opstest.CapUse{Resident: st.Resident, Index: st.Index, Store: st.Store, Spilled: st.SpilledBytes}
}
