package agg

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// distinctAcc counts distinct non-null values per group (n_unique). Values of an
// integer-like column (expr.IsIntKeyed: integers, dates, times, timestamps, durations)
// are kept as int64s in intSets, with no allocation per group and nothing for the
// collector to scan; values of other types by their key encodings (expr.AppendKey) in
// a slice per group, searched linearly (most groups of a group_by have few distinct
// values, and a map per group costs more than the values), in a map past smallDistinct.
// Either way a group's saved state (state.go) is its values' key encodings, sorted.
type distinctAcc struct {
	ints  bool
	iset  intSets
	small [][]string
	sets  []map[string]struct{} // a group's values once it has more than smallDistinct
	buf   []byte
	vals  []int64
	added int64 // values ever added to a group that did not hold them (see valueHolder)
}

const smallDistinct = 8

func newDistinctAcc(in arrow.DataType) *distinctAcc {
	return &distinctAcc{ints: expr.IsIntKeyed(in)}
}

func (a *distinctAcc) grow(ng int) {
	if a.ints {
		a.iset.grow(ng)
		return
	}
	a.small = expr.Grow(a.small, ng)
	a.sets = expr.Grow(a.sets, ng)
}

// add adds value v (a key encoding) to group g's values.
func (a *distinctAcc) add(g uint32, v []byte) { addDistinct(a, g, v) }

func addDistinct[T string | []byte](a *distinctAcc, g uint32, v T) {
	if set := a.sets[g]; set != nil {
		if _, ok := set[string(v)]; !ok {
			set[string(v)] = struct{}{}
			a.added++
		}
		return
	}
	vals := a.small[g]
	for _, x := range vals {
		if x == string(v) {
			return
		}
	}
	a.added++
	if len(vals) < smallDistinct {
		if vals == nil {
			vals = make([]string, 0, 2)
		}
		a.small[g] = append(vals, string(v))
		return
	}
	set := make(map[string]struct{}, 2*smallDistinct)
	for _, x := range vals {
		set[x] = struct{}{}
	}
	set[string(v)] = struct{}{}
	a.sets[g], a.small[g] = set, nil
}

// count is the number of group g's distinct values.
func (a *distinctAcc) count(g uint32) int {
	if a.ints {
		return a.iset.count(g)
	}
	if int(g) >= len(a.small) {
		return 0
	}
	if set := a.sets[g]; set != nil {
		return len(set)
	}
	return len(a.small[g])
}

// values are group g's distinct values (key encodings), in no order.
func (a *distinctAcc) values(g uint32) []string {
	if int(g) >= len(a.small) {
		return nil
	}
	set := a.sets[g]
	if set == nil {
		return a.small[g]
	}
	vals := make([]string, 0, len(set))
	for v := range set {
		vals = append(vals, v)
	}
	return vals
}

func (a *distinctAcc) update(_ *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	a.grow(ng)
	if col.DataType().ID() == arrow.NULL {
		return nil
	}
	nulls := col.NullN() > 0
	if a.ints {
		if c, ok := col.(*array.Int64); ok && !nulls {
			for i, v := range c.Int64Values()[:len(ids)] {
				a.iset.add(ids[i], v)
			}
			return nil
		}
		get := expr.Int64Getter(col)
		for i, g := range ids {
			if !nulls || col.IsValid(i) {
				a.iset.add(g, get(i))
			}
		}
		return nil
	}
	for i, g := range ids {
		if nulls && col.IsNull(i) {
			continue
		}
		a.buf = expr.AppendKey(a.buf[:0], col, i)
		a.add(g, a.buf)
	}
	return nil
}

func (a *distinctAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	out := make([]int64, len(gids))
	for i, g := range gids {
		out[i] = int64(a.count(g))
	}
	return expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, out, nil), nil
}

func (a *distinctAcc) Merge(dst, src uint32) {
	a.grow(int(max(dst, src)) + 1)
	if a.ints {
		a.iset.merge(dst, src)
		return
	}
	for _, v := range a.values(src) {
		addDistinct(a, dst, v)
	}
}

func (a *distinctAcc) Reset(g uint32) {
	if a.ints {
		a.iset.reset(g)
		return
	}
	if int(g) < len(a.small) {
		a.small[g], a.sets[g] = nil, nil
	}
}

// The saved state of an integer-like value is its key encoding: a 1 (not null), then
// the value's 8 bytes, little-endian.
const intKeyLen = 9

func (a *distinctAcc) save(dst []byte, g uint32) ([]byte, error) {
	if a.ints {
		// Sorted as their encodings are: by their bytes in little-endian order.
		a.vals = a.iset.appendValues(a.vals[:0], g)
		slices.SortFunc(a.vals, func(x, y int64) int {
			return cmp.Compare(bits.ReverseBytes64(uint64(x)), bits.ReverseBytes64(uint64(y)))
		})
		dst = binary.AppendUvarint(dst, uint64(len(a.vals)))
		for _, v := range a.vals {
			dst = append(dst, intKeyLen, 1)
			dst = binary.LittleEndian.AppendUint64(dst, uint64(v))
		}
		return dst, nil
	}
	vals := slices.Clone(a.values(g))
	sort.Strings(vals)
	dst = binary.AppendUvarint(dst, uint64(len(vals)))
	for _, v := range vals {
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst, nil
}

func (a *distinctAcc) load(src []byte, g uint32, ng int) error {
	a.grow(ng)
	a.Reset(g)
	return a.addSaved(src, g)
}

// mergeSaved folds a saved state (save) into group g (growing the state to ng groups),
// as load into a spare group, Merge and Reset would, without the spare.
func (a *distinctAcc) mergeSaved(src []byte, g uint32, ng int) error {
	a.grow(ng)
	return a.addSaved(src, g)
}

func (a *distinctAcc) addSaved(src []byte, g uint32) error {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(len(src)) {
		return errShort
	}
	src = src[k:]
	for ; n > 0; n-- {
		l, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < l {
			return errShort
		}
		v := src[k : k+int(l)]
		src = src[k+int(l):]
		if !a.ints {
			a.add(g, v)
			continue
		}
		if len(v) != intKeyLen || v[0] != 1 {
			return fmt.Errorf("n_unique state: a value of %d bytes where an integer's %d were expected", len(v), intKeyLen)
		}
		a.iset.add(g, int64(binary.LittleEndian.Uint64(v[1:])))
	}
	return nil
}

func (a *distinctAcc) memBytes() int64 {
	if a.ints {
		return a.iset.memBytes()
	}
	n := capBytes(a.small) + capBytes(a.sets)
	for _, vals := range a.small {
		n += stringsBytes(vals)
	}
	for _, set := range a.sets {
		for v := range set {
			n += mapEntry + int64(len(v))
		}
	}
	return n
}

func (a *distinctAcc) variable() bool { return !a.ints }

func (a *distinctAcc) valuesAdded() int64 { return a.added + a.iset.added }

// intSets holds each group's distinct int64 values in a block of a shared slab,
// searched linearly: blocks of 4, 8, ... maxBlock values. A group that outgrows its
// block moves to one twice the size at the slab's end, leaving a hole; when the holes
// are most of the slab it is compacted. A group with more than maxBlock values moves to
// a map of its own. The slab is pages (of 256 entries, doubling up to pageCap), so
// that it grows without copying; a block's offset is its page<<pageBits | its index.
type intSets struct {
	off   []uint32 // per group: its block's offset in the slab
	n     []uint32 // per group: its number of values, or inMap
	size  []uint8  // per group: its block's size (0: none)
	pages [][]int64
	slab  int                           // entries in pages (their capacities)
	holes int                           // of them, entries in no group's block
	big   map[uint32]map[int64]struct{} // the groups marked inMap
	inBig int                           // values in big
	added int64                         // values ever added to a group without them
}

const (
	maxBlock  = 64
	firstPage = 256
	pageBits  = 16
	pageCap   = 1 << pageBits
	inMap     = math.MaxUint32
)

func (s *intSets) grow(ng int) {
	s.off = expr.Grow(s.off, ng)
	s.n = expr.Grow(s.n, ng)
	s.size = expr.Grow(s.size, ng)
}

func (s *intSets) count(g uint32) int {
	if int(g) >= len(s.n) {
		return 0
	}
	if s.n[g] == inMap {
		return len(s.big[g])
	}
	return int(s.n[g])
}

// block is group g's block, its n values then room for more.
func (s *intSets) block(g uint32) []int64 {
	off := s.off[g]
	return s.pages[off>>pageBits][off&(pageCap-1):][:s.size[g]]
}

// add adds v to group g's values (a no-op if it is there).
func (s *intSets) add(g uint32, v int64) {
	n := s.n[g]
	if n == inMap {
		s.addBig(g, v)
		return
	}
	if n == 0 && s.size[g] == 0 {
		s.enlarge(g)
	}
	b := s.block(g)
	for _, x := range b[:n] {
		if x == v {
			return
		}
	}
	if n == uint32(len(b)) {
		if !s.enlarge(g) {
			s.addBig(g, v)
			return
		}
		b = s.block(g)
	}
	b[n] = v
	s.n[g] = n + 1
	s.added++
}

func (s *intSets) addBig(g uint32, v int64) {
	m := s.big[g]
	if _, ok := m[v]; !ok {
		m[v] = struct{}{}
		s.inBig++
		s.added++
	}
}

// enlarge gives group g (full, or without a block) a block twice the size, or, past
// maxBlock, a map (and reports false).
func (s *intSets) enlarge(g uint32) bool {
	size := int(s.size[g])
	if size >= maxBlock || len(s.pages) >= 1<<(32-pageBits)-1 {
		m := make(map[int64]struct{}, 2*size)
		for _, x := range s.block(g)[:s.n[g]] {
			m[x] = struct{}{}
		}
		if s.big == nil {
			s.big = map[uint32]map[int64]struct{}{}
		}
		s.big[g], s.n[g], s.size[g] = m, inMap, 0
		s.holes += size
		s.inBig += len(m)
		return false
	}
	if s.holes > s.slab/2 && s.holes >= pageCap {
		s.compact()
	}
	next := max(4, 2*size)
	off := s.alloc(next)
	if size > 0 {
		copy(s.pages[off>>pageBits][off&(pageCap-1):], s.block(g)[:s.n[g]])
	}
	s.off[g], s.size[g] = off, uint8(next)
	s.holes += size
	return true
}

// alloc returns the offset of size free entries at the slab's end.
func (s *intSets) alloc(size int) uint32 {
	last := len(s.pages) - 1
	if last < 0 || len(s.pages[last])+size > cap(s.pages[last]) {
		c := firstPage
		if last >= 0 {
			s.holes += cap(s.pages[last]) - len(s.pages[last])
			c = min(2*cap(s.pages[last]), pageCap)
		}
		s.pages = append(s.pages, make([]int64, 0, c))
		s.slab += c
		last++
	}
	p := s.pages[last]
	s.pages[last] = p[:len(p)+size]
	return uint32(last)<<pageBits | uint32(len(p))
}

// compact moves every block to a new slab with no holes.
func (s *intSets) compact() {
	old := *s
	s.pages, s.slab, s.holes = nil, 0, 0
	for g, size := range s.size {
		if size == 0 {
			continue
		}
		off := s.alloc(int(size))
		copy(s.pages[off>>pageBits][off&(pageCap-1):], old.block(uint32(g))[:s.n[g]])
		s.off[g] = off
	}
}

// appendValues appends group g's values to dst, in no order.
func (s *intSets) appendValues(dst []int64, g uint32) []int64 {
	if int(g) >= len(s.n) {
		return dst
	}
	switch n := s.n[g]; {
	case n == inMap:
		for v := range s.big[g] {
			dst = append(dst, v)
		}
		return dst
	case n > 0:
		dst = append(dst, s.block(g)[:n]...)
	}
	return dst
}

// merge adds group src's values to group dst's.
func (s *intSets) merge(dst, src uint32) {
	switch n := s.n[src]; {
	case n == inMap:
		for v := range s.big[src] {
			s.add(dst, v)
		}
	case n > 0:
		// By index: adding to dst may move src's block (compaction).
		for i := range n {
			s.add(dst, s.block(src)[i])
		}
	}
}

// reset empties group g (its block stays, for its next values).
func (s *intSets) reset(g uint32) {
	if int(g) >= len(s.n) {
		return
	}
	if s.n[g] == inMap {
		s.inBig -= len(s.big[g])
		delete(s.big, g)
	}
	s.n[g] = 0
}

func (s *intSets) memBytes() int64 {
	return capBytes(s.off) + capBytes(s.n) + capBytes(s.size) + int64(s.slab)*8 + capBytes(s.pages) +
		int64(s.inBig)*(mapEntry+8) + int64(len(s.big))*sliceOverhead
}
