package agg

import (
	"unsafe"

	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Memory estimates of accumulators, for the spilling aggregation (spill.go) to hold a
// table within its memory cap. Each counts the capacity of its per-group slices and, for
// the values it keeps out of line (strings, sets of distinct values, the values of a
// median, sketches), their bytes plus a fixed overhead per value: an estimate of what
// the Go heap holds, not an exact figure. A fixed-width accumulator's is O(1); the others
// walk their groups (variable reports which, so that a table walks them only now and
// then).

const (
	stringOverhead = 16 // a string header
	mapEntry       = 48 // a map entry's share of its buckets, besides its key's bytes
	sliceOverhead  = 24
	seqBytes       = int64(unsafe.Sizeof(runtime.Seq{}))
)

// memSizer is an accumulator's memory estimate. variable: the estimate walks the groups.
type memSizer interface {
	memBytes() int64
	variable() bool
}

func capBytes[T any](s []T) int64 {
	var z T
	return int64(cap(s)) * int64(unsafe.Sizeof(z))
}

func stringsBytes(s []string) int64 {
	n := capBytes(s)
	for _, v := range s {
		n += int64(len(v))
	}
	return n
}

func (a *countAcc) memBytes() int64 { return capBytes(a.n) }
func (a *countAcc) variable() bool  { return false }

func (a *sumAcc) memBytes() int64 {
	n := capBytes(a.i) + capBytes(a.u) + capBytes(a.f) + capBytes(a.d) + capBytes(a.cnt)
	if a.rf != nil {
		n += a.rf.memBytes()
	}
	return n
}
func (a *sumAcc) variable() bool { return false }

func (a *pickAcc) memBytes() int64 {
	return capBytes(a.set) + capBytes(a.seq) + capBytes(a.row) + capBytes(a.i) + capBytes(a.u) + capBytes(a.f) + stringsBytes(a.s)
}
func (a *pickAcc) variable() bool { return a.s != nil }

func (a *varAcc) memBytes() int64 { return capBytes(a.n) + capBytes(a.mean) + capBytes(a.m2) }
func (a *varAcc) variable() bool  { return false }

func (a *quantAcc) memBytes() int64 {
	n := capBytes(a.vals)
	for _, v := range a.vals {
		n += capBytes(v)
	}
	return n
}
func (a *quantAcc) variable() bool { return true }

// hllSketch is what a HyperLogLog sketch of precision 14 takes at most (its registers,
// once dense): sparse ones take less, so this overstates small groups.
const hllSketch = 1<<14 + 256

func (a *hllAcc) memBytes() int64 {
	n := capBytes(a.sk)
	for _, s := range a.sk {
		if s != nil {
			n += hllSketch
		}
	}
	return n
}
func (a *hllAcc) variable() bool { return true }

func (a *boolAcc) memBytes() int64 { return capBytes(a.seen) }
func (a *boolAcc) variable() bool  { return false }

func (v *valStore) memBytes() int64 {
	return capBytes(v.valid) + capBytes(v.i) + capBytes(v.u) + capBytes(v.f) + stringsBytes(v.s)
}

func (a *byAcc) memBytes() int64 {
	return a.key.memBytes() + a.val.memBytes() + capBytes(a.seq) + capBytes(a.row)
}
func (a *byAcc) variable() bool { return a.key.s != nil || a.val.s != nil }

func (a *argAcc) memBytes() int64 {
	n := a.key.memBytes() + capBytes(a.seq) + capBytes(a.row) + capBytes(a.rank) + capBytes(a.counts) + capBytes(a.cur)
	for _, m := range a.counts {
		n += int64(len(m)) * (mapEntry + seqBytes)
	}
	return n
}
func (a *argAcc) variable() bool { return true }

func (a *retractPickAcc) memBytes() int64 {
	n := capBytes(a.groups)
	for _, b := range a.groups {
		if b == nil {
			continue
		}
		n += sliceOverhead + int64(len(b.best))
		for v := range b.vals {
			n += mapEntry + int64(len(v)) + 32
		}
	}
	return n
}
func (a *retractPickAcc) variable() bool { return true }

var (
	_ memSizer = (*countAcc)(nil)
	_ memSizer = (*sumAcc)(nil)
	_ memSizer = (*pickAcc)(nil)
	_ memSizer = (*distinctAcc)(nil)
	_ memSizer = (*varAcc)(nil)
	_ memSizer = (*quantAcc)(nil)
	_ memSizer = (*hllAcc)(nil)
	_ memSizer = (*boolAcc)(nil)
	_ memSizer = (*byAcc)(nil)
	_ memSizer = (*argAcc)(nil)
	_ memSizer = (*retractPickAcc)(nil)
)

// MemBytes estimates the memory of the table: its key hash table and keys
// (keyed.Grouper.MemBytes) and its accumulators. With variable-size accumulators it
// walks every group; see VariableSize.
func (h *Table) MemBytes() int64 {
	n := h.groups.MemBytes() + capBytes(h.ids)
	if h.slab != nil {
		n += h.slab.memBytes()
	}
	for _, a := range h.accs { // in the row layout, their arrays are empty
		if s, ok := a.(memSizer); ok {
			n += s.memBytes()
		} else {
			n += 16 * int64(h.NumGroups())
		}
	}
	return n
}

// VariableSize reports whether MemBytes walks the groups (some accumulator keeps values
// out of line): then it is for now and then, not for every batch.
func (h *Table) VariableSize() bool {
	for _, a := range h.accs {
		if s, ok := a.(memSizer); !ok || s.variable() {
			return true
		}
	}
	return false
}
