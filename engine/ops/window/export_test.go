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

// SpillAllSessions makes session windows with a spill store move every key to it after
// each batch and watermark, however small their state; it returns the undo.
func SpillAllSessions() (undo func()) {
	sessionSpillAll = true
	return func() { sessionSpillAll = false }
}

// SessionUse reports a session aggregation's spilling and its key table: the memory of
// its tables by its estimate, its evictions, the keys in its key table and in its store.
func SessionUse(o runtime.Operator) (resident int64, spills, keys, stored int) {
	s := o.(*SessionAggOp)
	keys = s.keyAgg.NumGroups()
	if s.cold == nil {
		return 0, 0, keys, 0
	}
	return s.cold.Shown(), s.cold.spills, keys, s.cold.N
}

// SetSessionChunk sets the number of keys a watermark brings back from the store at a
// time, and sizes the first filter of stored keys for filterKeys (it is rebuilt as they
// outgrow it); it returns the undo.
func SetSessionChunk(n, filterKeys int) (undo func()) {
	was, wasKeys := sessionChunk, sessionFilterKeys
	sessionChunk, sessionFilterKeys = n, filterKeys
	return func() { sessionChunk, sessionFilterKeys = was, wasKeys }
}
