package join

import (
	"github.com/riverbed-engine/riverbed/engine/ops/keyed"
	"github.com/riverbed-engine/riverbed/internal/vec"
)

// refIndex is one side's kept rows by key id, with an estimate of the memory it takes:
// with spilling (state_backend="pebble") it counts against the subtask's memory cap, so
// the rows kept in memory get what the index leaves (keyed.Spill.SetIndex). Key ids are
// the dense ids of the join's grouper (shared by both sides), so the index is a slice
// by key id, of one RowRef per key: the key's row when it has one (as the keys of a
// build side keyed by a unique key do: a probe then reads one small entry, not a slice
// header and the slice), noRow when it has none, or, when it has several, a mark
// (Chunk < -1) naming their slice in many.
type refIndex struct {
	one  []keyed.RowRef
	many [][]keyed.RowRef // the rows of keys with several, by their marks
	free []int32          // indexes of many no key marks
	refs int64            // RowRefs of capacity in many
}

// Estimates of Go's memory for the per-key structures: a slot of the index, a slice of
// many, a map entry with a uint32 key and a slice value (its slot, control byte and the
// room a map keeps free as it grows), a map entry with a small value, and a RowRef.
const (
	indexSlotBytes  = refBytes
	manyBytes       = 24
	sliceEntryBytes = 56
	smallEntryBytes = 24
	refBytes        = 8
)

func newRefIndex() refIndex { return refIndex{} }

// manyOf is the index into many that a mark names, or -1 for a row or noRow.
func manyOf(r keyed.RowRef) int {
	if r.Chunk >= -1 {
		return -1
	}
	return int(-2 - r.Chunk)
}

func markOf(i int) keyed.RowRef { return keyed.RowRef{Chunk: int32(-2 - i)} }

// get returns the rows of key k (none for nullKey or a key never added). The slice is
// the index's, valid until the key's rows change: callers read it, or pass it (or a
// part of it) back to set.
func (ix *refIndex) get(k uint32) []keyed.RowRef {
	if int64(k) >= int64(len(ix.one)) {
		return nil
	}
	switch r := ix.one[k]; {
	case r.Chunk >= 0:
		return ix.one[k : k+1 : k+1]
	case r.Chunk == -1:
		return nil
	default:
		return ix.many[manyOf(r)]
	}
}

// add appends r to the rows of key k (not nullKey).
func (ix *refIndex) add(k uint32, r keyed.RowRef) {
	if int(k) >= len(ix.one) {
		ix.grow(k)
	}
	switch cur := ix.one[k]; {
	case cur.Chunk == -1:
		ix.one[k] = r
	case cur.Chunk >= 0:
		ix.setMany(k, []keyed.RowRef{cur, r})
	default:
		i := manyOf(cur)
		old := ix.many[i]
		rows := append(old, r)
		ix.refs += int64(cap(rows) - cap(old))
		ix.many[i] = rows
	}
}

// setMany gives key k (without a slice in many) the rows, two or more.
func (ix *refIndex) setMany(k uint32, rows []keyed.RowRef) {
	i := len(ix.many)
	if n := len(ix.free); n > 0 {
		i, ix.free = int(ix.free[n-1]), ix.free[:n-1]
		ix.many[i] = rows
	} else {
		ix.many = vec.Append(ix.many, rows)
	}
	ix.refs += int64(cap(rows))
	ix.one[k] = markOf(i)
}

func (ix *refIndex) grow(k uint32) {
	n := max(int(k)+1, 2*len(ix.one), 64)
	old := len(ix.one)
	if n <= cap(ix.one) {
		ix.one = ix.one[:n]
	} else {
		one := make([]keyed.RowRef, n)
		copy(one, ix.one)
		ix.one = one
	}
	for i := old; i < n; i++ {
		ix.one[i] = noRow
	}
}

// set replaces the rows of key k (none: forgets the key's rows).
func (ix *refIndex) set(k uint32, rows []keyed.RowRef) {
	if len(rows) > 0 && int(k) >= len(ix.one) {
		ix.grow(k)
	}
	if int(k) >= len(ix.one) {
		return
	}
	if i := manyOf(ix.one[k]); i >= 0 {
		if len(rows) > 1 {
			ix.refs += int64(cap(rows) - cap(ix.many[i]))
			ix.many[i] = rows
			return
		}
		ix.refs -= int64(cap(ix.many[i]))
		ix.many[i] = nil
		ix.free = append(ix.free, int32(i))
	}
	switch len(rows) {
	case 0:
		ix.one[k] = noRow
	case 1:
		ix.one[k] = rows[0]
	default:
		ix.setMany(k, rows)
	}
}

// each calls fn for every key with rows, in the order of key ids.
func (ix *refIndex) each(fn func(k uint32, rows []keyed.RowRef)) {
	for k := range ix.one {
		if rows := ix.get(uint32(k)); len(rows) > 0 {
			fn(uint32(k), rows)
		}
	}
}

// bytes estimates the memory of the index.
func (ix *refIndex) bytes() int64 {
	return int64(cap(ix.one))*indexSlotBytes + int64(cap(ix.many))*manyBytes + ix.refs*refBytes
}
