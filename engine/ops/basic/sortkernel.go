package basic

import (
	"cmp"
	"encoding/binary"
	"math"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// The sort's own kernel for the permutation that sorts rows stably by several keys.
// arrow-go's SortIndicesRecordBatch sorts with a generic comparator per row pair over
// every key (slices.SortStableFunc), which made a sort of 20M rows by one integer 15x
// DuckDB's. Here each key gets a comparator specialised to its type; when the first key is
// an integer or temporal column its order is found by an LSD radix sort (stable, a pass
// per byte that differs), and only the runs of rows equal on it are sorted further by the
// other keys (the local sorts' input-order columns, or the user's later keys); a string
// or binary first key is radix sorted by its first 8 bytes the same way, and the runs of
// rows equal on those sorted by every key (prefixable). Ties on every key keep their
// input order: each comparison ends with the rows' positions.

// posCmp compares rows a and b of one key column in the key's order (nulls placed as
// asked).
type posCmp func(a, b int) int

// sortPermutation returns the indices that sort the rows [0, n) of cols stably by keys,
// or false when a key's type has no comparator here or there are 2^32 rows or more (the
// caller falls back on arrow's kernel).
func sortPermutation(mem memory.Allocator, cols []arrow.Array, keys []compute.SortKey, n int) (arrow.Array, bool) {
	if int64(n) > math.MaxUint32 { // the permutation is of 32-bit row numbers
		return nil, false
	}
	cmps := make([]posCmp, len(keys))
	for i, k := range keys {
		c, ok := keyCmp(cols[k.ColumnIndex], k.Order == compute.SortOrderDescending, k.NullPlacement == compute.SortNullsAtEnd)
		if !ok {
			return nil, false
		}
		cmps[i] = c
	}
	perm := make([]uint32, n)
	for i := range perm {
		perm[i] = uint32(i)
	}
	if n > 1 {
		rest := cmps
		if first := cols[keys[0].ColumnIndex]; radixable(first) || prefixable(first) {
			k := keys[0]
			sorted, nullsAt := radixSortBy(perm, first, k.Order == compute.SortOrderDescending, k.NullPlacement == compute.SortNullsAtEnd)
			if radixable(first) {
				rest = cmps[1:] // equal radix keys are equal values
			}
			if len(rest) > 0 {
				// the rows with a null first key tie, and so do equal values (or prefixes:
				// the whole first key sorts them further)
				nulls := n - len(sorted)
				sortRows(perm[nullsAt:nullsAt+nulls], cmps[1:])
				vals := perm[:len(sorted)]
				if nullsAt == 0 {
					vals = perm[nulls:]
				}
				for lo := 0; lo < len(sorted); {
					hi := lo + 1
					for hi < len(sorted) && sorted[hi] == sorted[lo] {
						hi++
					}
					// The radix sort is stable: a run is in position order, often the later
					// keys' already (a local sort's input-order columns).
					if hi-lo > 1 && !inOrder(vals[lo:hi], rest) {
						sortRows(vals[lo:hi], rest)
					}
					lo = hi
				}
			}
		} else {
			sortRows(perm, rest)
		}
	}
	b := array.NewUint64Builder(mem)
	defer b.Release()
	b.Reserve(n)
	for _, p := range perm {
		b.UnsafeAppend(uint64(p))
	}
	return b.NewArray(), true
}

// inOrder reports whether rows perm are in the order of the comparators in turn
// (comparing neighbours).
func inOrder(perm []uint32, cmps []posCmp) bool {
	for i := 1; i < len(perm); i++ {
		for _, c := range cmps {
			r := c(int(perm[i-1]), int(perm[i]))
			if r > 0 {
				return false
			}
			if r < 0 {
				break
			}
		}
	}
	return true
}

// sortRows sorts perm by the comparators in turn, then by position (so stably).
func sortRows(perm []uint32, cmps []posCmp) {
	slices.SortFunc(perm, func(a, b uint32) int {
		for _, c := range cmps {
			if r := c(int(a), int(b)); r != 0 {
				return r
			}
		}
		return cmp.Compare(a, b)
	})
}

// keyCmp is the comparator of a key column (the merge's value order, valueCmpOf, in the
// key's direction, nulls placed as asked), or false for a type without one.
func keyCmp(col arrow.Array, desc, nullsLast bool) (posCmp, bool) {
	vc := valueCmpOf(col.DataType())
	if vc == nil {
		return nil, false
	}
	vals := func(a, b int) int { return vc(col, a, col, b) }
	if desc {
		vals = func(a, b int) int { return vc(col, b, col, a) }
	}
	if col.NullN() == 0 {
		return vals, true
	}
	nullFirst := -1
	if nullsLast {
		nullFirst = 1
	}
	return func(a, b int) int {
		an, bn := col.IsNull(a), col.IsNull(b)
		switch {
		case an && bn:
			return 0
		case an:
			return nullFirst
		case bn:
			return -nullFirst
		}
		return vals(a, b)
	}, true
}

// prefixable reports whether the radix sort takes a column's first 8 bytes as the first
// key (strings and binaries): the rows are radix sorted by those bytes (big-endian,
// zero-padded: the order of the values' bytes), and only the rows with equal prefixes
// compared in full, so that a sort by a string mostly compares integers in one array
// instead of strings through their offsets.
func prefixable(col arrow.Array) bool {
	switch col.(type) {
	case *array.String, *array.LargeString, *array.Binary, *array.LargeBinary:
		return true
	}
	return false
}

// prefix8 is the first 8 bytes of v, big-endian, zero-padded.
func prefix8[T string | []byte](v T) uint64 {
	var b [8]byte
	copy(b[:], v)
	return binary.BigEndian.Uint64(b[:])
}

// radixable reports whether the radix sort takes a column as the first key: integers and
// the temporal types stored as integers.
func radixable(col arrow.Array) bool {
	switch col.(type) {
	case *array.Int8, *array.Int16, *array.Int32, *array.Int64, *array.Uint8, *array.Uint16, *array.Uint32,
		*array.Uint64, *array.Date32, *array.Date64, *array.Timestamp, *array.Time32, *array.Time64, *array.Duration:
		return true
	}
	return false
}

// radixSortBy sorts perm (the identity) stably by col: the rows with a null first or last
// in input order, the others by an LSD radix sort of their values mapped to unsigned
// integers of the same order (descending: complemented). It returns those values sorted
// and where in perm the rows with a null start.
func radixSortBy(perm []uint32, col arrow.Array, desc, nullsLast bool) (sorted []uint64, nullsAt int) {
	n := len(perm)
	keys := make([]uint64, 0, n)
	idx := make([]uint32, 0, n)
	var nulls []uint32
	at := orderedBits(col)
	for i := 0; i < n; i++ {
		if col.NullN() > 0 && col.IsNull(i) {
			nulls = append(nulls, uint32(i))
			continue
		}
		k := at(i)
		if desc {
			k = ^k
		}
		keys = append(keys, k)
		idx = append(idx, uint32(i))
	}
	radixSort(keys, idx)
	out := perm[:0]
	if !nullsLast {
		out = append(out, nulls...)
	}
	out = append(out, idx...)
	if nullsLast {
		nullsAt = len(out)
		out = append(out, nulls...)
	}
	return keys, nullsAt
}

// orderedBits maps row i of an integer column to a uint64 of the same order, of a string
// or binary column to its prefix8 (of the same order where prefixes differ).
func orderedBits(col arrow.Array) func(i int) uint64 {
	signed := func(v int64) uint64 { return uint64(v) ^ (1 << 63) }
	switch c := col.(type) {
	case *array.Int8:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.Int16:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.Int32:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.Int64:
		v := c.Int64Values()
		return func(i int) uint64 { return signed(v[i]) }
	case *array.Uint8:
		return func(i int) uint64 { return uint64(c.Value(i)) }
	case *array.Uint16:
		return func(i int) uint64 { return uint64(c.Value(i)) }
	case *array.Uint32:
		return func(i int) uint64 { return uint64(c.Value(i)) }
	case *array.Uint64:
		return func(i int) uint64 { return c.Value(i) }
	case *array.Date32:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.Date64:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.Timestamp:
		v := c.TimestampValues()
		return func(i int) uint64 { return signed(int64(v[i])) }
	case *array.Time32:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.Time64:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.Duration:
		return func(i int) uint64 { return signed(int64(c.Value(i))) }
	case *array.String:
		return func(i int) uint64 { return prefix8(c.Value(i)) }
	case *array.LargeString:
		return func(i int) uint64 { return prefix8(c.Value(i)) }
	case *array.Binary:
		return func(i int) uint64 { return prefix8(c.Value(i)) }
	case *array.LargeBinary:
		return func(i int) uint64 { return prefix8(c.Value(i)) }
	}
	panic("orderedBits: not an integer or string column")
}

// radixSort sorts keys ascending, stably, moving idx along: a counting pass per byte, the
// bytes in which every key agrees skipped.
func radixSort(keys []uint64, idx []uint32) {
	n := len(keys)
	if n < 2 {
		return
	}
	var counts [8][256]int
	for _, k := range keys {
		for b := 0; b < 8; b++ {
			counts[b][byte(k>>(8*b))]++
		}
	}
	k2 := make([]uint64, n)
	i2 := make([]uint32, n)
	src, dst, isrc, idst := keys, k2, idx, i2
	for b := 0; b < 8; b++ {
		c := &counts[b]
		if c[byte(keys[0]>>(8*b))] == n {
			continue // every key has this byte
		}
		var offs [256]int
		sum := 0
		for v := 0; v < 256; v++ {
			offs[v] = sum
			sum += c[v]
		}
		shift := uint(8 * b)
		for i, k := range src {
			d := byte(k >> shift)
			p := offs[d]
			offs[d]++
			dst[p] = k
			idst[p] = isrc[i]
		}
		src, dst, isrc, idst = dst, src, idst, isrc
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
		copy(idx, isrc)
	}
}
