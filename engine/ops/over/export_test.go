package over

import "github.com/riverbed-engine/riverbed/engine/runtime"

// SmallPartFilter sizes the first filter of stored partitions for 100 keys (it is rebuilt
// as they outgrow it); it returns the undo.
func SmallPartFilter() (undo func()) {
	was := partFilterKeys
	partFilterKeys = 100
	return func() { partFilterKeys = was }
}

// SpillAllParts makes frame operators with a keyed store move every partition to it
// after each release, however small; it returns the undo.
func SpillAllParts() (undo func()) {
	spillAllParts = true
	return func() { spillAllParts = false }
}

// PartUse reports a frame operator's partitions: the bytes of those in memory at the
// last measure, how many are in memory and in the store, and the keys in its key table.
func PartUse(o runtime.Operator) (bytes int64, inMemory, stored, keys int) {
	f := o.(*FrameOp)
	for _, p := range f.parts {
		if p != nil {
			inMemory++
		}
	}
	keys = f.groups.NumGroups()
	if f.cold == nil {
		return 0, inMemory, 0, keys
	}
	return f.cold.bytes, inMemory, f.cold.N, keys
}
