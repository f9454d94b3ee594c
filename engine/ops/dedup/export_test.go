package dedup

import (
	"github.com/riverbed-engine/riverbed/engine/ops/internal/opstest"
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// SetRankCompactAt sets the least number of rows a streaming top-N's store holds before it
// is compacted (tests compact small stores), and returns a function that restores it.
func SetRankCompactAt(n int) func() {
	old := rankCompactAt
	rankCompactAt = n
	return func() { rankCompactAt = old }
}

// capUse is what the memory cap of an operator's Spill accounts for.
func capUse(st keyed.SpillStats) opstest.CapUse {
	return opstest.CapUse{Resident: st.Resident, Index: st.Index, Store: st.Store, Spilled: st.SpilledBytes}
}

// SpillUse returns what the memory cap of a top-N, rank or dedup operator accounts for.
func SpillUse(op runtime.Operator) opstest.CapUse {
	switch o := op.(type) {
	case *TopNOp:
		return capUse(o.store.SpillStats())
	case *RankOp:
		return capUse(o.store.SpillStats())
	case *DedupOp:
		return capUse(o.store.SpillStats())
	}
	panic("SpillUse: not an operator of this package")
}
