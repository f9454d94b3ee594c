package join

import "github.com/riverbed-engine/riverbed/engine/ops/keyed"

// SpillStats returns the counters of the join's Spill (zero without spilling).
func (j *JoinBase) SpillStats() keyed.SpillStats { return j.spill.Stats() }

// HeldRows is the number of rows side keeps in its store.
func (j *JoinBase) HeldRows(side int) int { return j.sides[side].store.HeldRows() }
