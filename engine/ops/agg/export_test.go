package agg

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// SpillUse reports a group_by's spilling: the memory its table holds by its estimate,
// the bytes it wrote to disk, and how many times it spilled.
func SpillUse(o runtime.Operator) (resident, written int64, spills int) {
	g := o.(*GroupByOp)
	if g.cold != nil {
		return g.cold.Shown(), g.cold.Written, int(g.cold.evicted)
	}
	if g.spill == nil {
		return 0, 0, 0
	}
	return g.spill.shown, g.spill.runs.Written, g.spill.Spills
}

// ColdUse reports an updating group_by's groups beyond its cap: how many it moved to its
// spill store and how many it read back, in all.
func ColdUse(o runtime.Operator) (evicted, thawed int64) {
	g := o.(*GroupByOp)
	if g.cold == nil {
		return 0, 0
	}
	return g.cold.evicted, g.cold.thawed
}

// SpillAnyTable makes an updating group_by spill however small its table (every group,
// or with half the groups updated longest ago), until restore is called.
func SpillAnyTable(half bool) (restore func()) {
	was, rows := minColdBytes, coldMeasureRows
	minColdBytes, coldMeasureRows, coldEvictHalf = 0, 0, half
	return func() { minColdBytes, coldMeasureRows, coldEvictHalf = was, rows, false }
}

// ChangelogStateSchema is the schema of an updating group_by's ChangelogTable rows.
func ChangelogStateSchema(o runtime.Operator) *arrow.Schema {
	return o.(*GroupByOp).changelogStateSchema()
}

// ParkWithin makes an updating group_by with groups in its spill store fold its parked
// rows in once they take n bytes, until restore is called.
func ParkWithin(n int64) (restore func()) {
	was := parkBytes
	parkBytes = n
	return func() { parkBytes = was }
}

// TableWithin makes an updating group_by keep at most n bytes of groups in memory (with
// a spill store), until restore is called.
func TableWithin(n int64) (restore func()) {
	was := tableBytes
	tableBytes = n
	return func() { tableBytes = was }
}

// ParkUse reports how many rows an updating group_by parked and how many times it folded
// parked rows in, in all.
func ParkUse(o runtime.Operator) (rows, unparks int64) {
	g := o.(*GroupByOp)
	if g.cold == nil {
		return 0, 0
	}
	return g.cold.parkedRows, g.cold.unparks
}

// Parked is the number of rows an updating group_by holds parked now.
func Parked(o runtime.Operator) int {
	g := o.(*GroupByOp)
	if g.cold == nil {
		return 0
	}
	return len(g.cold.parked.ends)
}
