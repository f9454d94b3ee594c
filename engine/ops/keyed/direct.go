package keyed

import (
	"math"
	"unsafe"

	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/internal/vec"
)

// Direct grouping of one integer key (modeInt), as DuckDB's perfect hash aggregation:
// when a batch's keys lie within a span no longer than maxDirect and than twice the hash
// table's slots, a key's group is found at direct[key - dbase], one load of 4 bytes where
// hashing costs a multiply, a probe into the table (16-byte slots, twice as many as the
// groups, so four to eight times the memory, mostly out of cache for a million groups)
// and a comparison or more: a thousand customer ids, dates of a few years, a million
// user ids. Groups it adds are put in the hash table only when something needs the table
// (Grouper.index: a batch hashed, Lookup of a key outside the span), so that a grouping
// that stays direct never builds it: the span may then be up to four times the table's
// slots, the direct array taking the memory the table would have. A batch whose keys fall
// outside the span either widens it (rebuilt from the groups' keys, to at least twice its
// length, so that keys that grow batch by batch rebuild it a logarithmic number of
// times; the span needed is that of the groups' keys and the batch's, not of the room
// the span had, which would make keys that widen it downward then upward look wider
// than maxDirect) or is hashed.

// maxDirect is the longest span of keys grouped directly (entries of 4 bytes).
const maxDirect = 1 << 24

// directRoom is the longest span grouped directly for a table of slots slots: the direct
// array then takes the memory of the table (16-byte slots) it spares.
func directRoom(slots int) int64 { return min(4*int64(slots), maxDirect) }

// directFor reports whether the batch's keys vals (no nulls) can be grouped directly,
// making or widening g.direct to span them if need be.
func (g *Grouper) directFor(vals []int64) bool {
	if g.noDirect || len(vals) == 0 {
		return false
	}
	lo, hi := vec.MinMaxInt64(vals)
	n := int64(len(g.direct))
	if n > 0 {
		if uint64(lo-g.dbase) < uint64(n) && uint64(hi-g.dbase) < uint64(n) {
			return true
		}
	}
	if lo < -1<<62 || hi > 1<<62 {
		g.noDirect, g.direct = true, nil // keys this far apart will not fit later either
		return false
	}
	// The span to cover: the batch's keys and the groups' (not the span so far, which may
	// reach past them on the side it last grew).
	base, end := lo, hi+1
	if n > 0 {
		klo, khi := g.keyRange()
		base, end = min(base, klo), max(end, khi+1)
		// Groups of hashed batches (with nulls) were not held to the bounds above: keys
		// this far apart will not fit, and end - base would overflow.
		if base <= -1<<62 || end >= 1<<62 {
			g.noDirect, g.direct = true, nil
			return false
		}
	}
	need := end - base
	if need > maxDirect {
		g.noDirect, g.direct = true, nil
		return false
	}
	room := directRoom(max(len(g.islots), tableSize(len(g.Hash))))
	if need > room {
		return false // not yet: the table grows with the groups
	}
	// A first span gets a fourth more than its batch's keys: a batch of random keys
	// spans nearly all of them, and the next batch would else widen it at once, each
	// rebuild writing every group again.
	want := 2 * n
	if n == 0 {
		want = need + need/4
	}
	if span := min(max(need, want), room); span > need {
		// Room to grow on the side the keys grew: downward when only the lowest key is
		// new, upward when only the highest is, else half on each side.
		switch extra := span - need; {
		case n > 0 && lo < g.dbase && hi < g.dbase+n:
			base -= extra
		case n > 0 && lo >= g.dbase && hi >= g.dbase+n:
		default:
			base -= extra / 2
		}
		need = span
	}
	d := g.direct
	if int64(cap(d)) >= need {
		d = d[:need]
		clear(d)
	} else {
		d = make([]uint32, need)
	}
	hiKey := base + need - 1
	for gid, v := range g.ints {
		if int32(gid) != g.null && v >= base && v <= hiKey {
			d[v-base] = uint32(gid) + 1
		}
	}
	g.direct, g.dbase = d, base
	return true
}

// keyRange returns the lowest and highest key of the groups (the null group's aside),
// scanning only the groups added since it last did; with no group, an empty range.
func (g *Grouper) keyRange() (lo, hi int64) {
	if g.kupto == 0 {
		g.klo, g.khi = math.MaxInt64, math.MinInt64
	}
	for gid := g.kupto; gid < len(g.ints); gid++ {
		if v := g.ints[gid]; int32(gid) != g.null {
			g.klo, g.khi = min(g.klo, v), max(g.khi, v)
		}
	}
	g.kupto = len(g.ints)
	return g.klo, g.khi
}

// directChunk is how many rows consumeDirect looks up before it adds their new groups.
const directChunk = 256

// consumeDirect is consumeInt for keys vals (no nulls) within g.direct's span. It looks
// up a chunk of rows first, loads without branches that the processor overlaps (over
// millions of keys each is a cache miss, and whether a key is new is too random to
// predict), then adds the chunk's new keys, their entries now in cache.
func (g *Grouper) consumeDirect(vals []int64, ids []uint32) {
	d, base := g.direct, g.dbase
	for lo := 0; lo < len(vals); lo += directChunk {
		hi := min(lo+directChunk, len(vals))
		chunk, out := vals[lo:hi], ids[lo:hi]
		// directFor checked every key against the span: no bounds check per row.
		dp := unsafe.Pointer(unsafe.SliceData(d))
		for j, v := range chunk {
			out[j] = *(*uint32)(unsafe.Add(dp, (v-base)*4))
		}
		for j, s := range out {
			if s == 0 {
				// New before this chunk; an earlier row of the chunk may have added it.
				i := chunk[j] - base
				if s = d[i]; s == 0 {
					s = g.addInt(chunk[j], lo+j) + 1
					d[i] = s
				}
			}
			out[j] = s - 1
		}
	}
}

// addInt adds a group for key v (in direct's span, without a group), first seen at row;
// index puts it in the hash table when the table is needed.
func (g *Grouper) addInt(v int64, row int) uint32 {
	gid := g.add(expr.Mix64(uint64(v)), row)
	g.ints = vec.Append(g.ints, v)
	return gid
}
