package join

import "github.com/riverbed-engine/riverbed/engine/ops/keyed"

// refIndex is one side's kept rows by key id, with an estimate of the memory it takes:
// with spilling (state_backend="pebble") it counts against the subtask's memory cap, so
// the rows kept in memory get what the index leaves (keyed.Spill.SetIndex). Key ids are
// the dense ids of the join's grouper (shared by both sides), so the index is a slice
// by key id.
type refIndex struct {
	m    [][]keyed.RowRef
	refs int64 // RowRefs of capacity over all keys
}

// Estimates of Go's memory for the per-key structures: a slot of the index (a slice
// header), a map entry with a uint32 key and a slice value (its slot, control byte and
// the room a map keeps free as it grows), a map entry with a small value, and a RowRef.
const (
	indexSlotBytes  = 24
	sliceEntryBytes = 56
	smallEntryBytes = 24
	refBytes        = 8
)

func newRefIndex() refIndex { return refIndex{} }

// get returns the rows of key k (none for nullKey or a key never added).
func (ix *refIndex) get(k uint32) []keyed.RowRef {
	if int64(k) >= int64(len(ix.m)) {
		return nil
	}
	return ix.m[k]
}

// add appends r to the rows of key k (not nullKey).
func (ix *refIndex) add(k uint32, r keyed.RowRef) {
	if int(k) >= len(ix.m) {
		ix.grow(k)
	}
	old := ix.m[k]
	rows := append(old, r)
	ix.refs += int64(cap(rows) - cap(old))
	ix.m[k] = rows
}

func (ix *refIndex) grow(k uint32) {
	n := max(int(k)+1, 2*len(ix.m), 64)
	if n <= cap(ix.m) {
		ix.m = ix.m[:n]
		return
	}
	m := make([][]keyed.RowRef, n, n)
	copy(m, ix.m)
	ix.m = m
}

// set replaces the rows of key k (none: forgets the key's rows).
func (ix *refIndex) set(k uint32, rows []keyed.RowRef) {
	if len(rows) > 0 && int(k) >= len(ix.m) {
		ix.grow(k)
	}
	if int(k) >= len(ix.m) {
		return
	}
	ix.refs -= int64(cap(ix.m[k]))
	if len(rows) == 0 {
		ix.m[k] = nil
		return
	}
	ix.refs += int64(cap(rows))
	ix.m[k] = rows
}

// each calls fn for every key with rows, in the order of key ids.
func (ix *refIndex) each(fn func(k uint32, rows []keyed.RowRef)) {
	for k, rows := range ix.m {
		if len(rows) > 0 {
			fn(uint32(k), rows)
		}
	}
}

// bytes estimates the memory of the index.
func (ix *refIndex) bytes() int64 {
	return int64(cap(ix.m))*indexSlotBytes + ix.refs*refBytes
}
