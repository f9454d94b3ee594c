package join

import "github.com/riverbed-engine/riverbed/engine/ops/keyed"

// refIndex is one side's kept rows by key id, with an estimate of the memory it takes:
// with spilling (state_backend="pebble") it counts against the subtask's memory cap, so
// the rows kept in memory get what the index leaves (keyed.Spill.SetIndex).
type refIndex struct {
	m    map[uint32][]keyed.RowRef
	refs int64 // RowRefs of capacity over all keys
}

// Estimates of Go's memory for the per-key structures: a map entry with a uint32 key and
// a slice value (its slot, control byte and the room a map keeps free as it grows), a
// map entry with a small value, and a RowRef.
const (
	sliceEntryBytes = 56
	smallEntryBytes = 24
	refBytes        = 8
)

func newRefIndex() refIndex { return refIndex{m: map[uint32][]keyed.RowRef{}} }

// add appends r to the rows of key k.
func (ix *refIndex) add(k uint32, r keyed.RowRef) {
	old := ix.m[k]
	rows := append(old, r)
	ix.refs += int64(cap(rows) - cap(old))
	ix.m[k] = rows
}

// set replaces the rows of key k (none: deletes the key).
func (ix *refIndex) set(k uint32, rows []keyed.RowRef) {
	ix.refs -= int64(cap(ix.m[k]))
	if len(rows) == 0 {
		delete(ix.m, k)
		return
	}
	ix.refs += int64(cap(rows))
	ix.m[k] = rows
}

// bytes estimates the memory of the index.
func (ix *refIndex) bytes() int64 {
	return int64(len(ix.m))*sliceEntryBytes + ix.refs*refBytes
}
