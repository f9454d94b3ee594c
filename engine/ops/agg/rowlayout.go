package agg

import (
	"fmt"
	"math"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
)

// The row layout of the common accumulators. While every aggregation of a table is a
// count, a sum or mean of floats, a sum of integers, or a min or max of numbers, their
// states of one group sit side by side in one slab of 64-bit words (a group's words
// together, as DuckDB's row layout keeps them), so that folding a row into its group
// touches one or two cache lines instead of one per state array: over millions of
// groups, where every group's state is out of cache, those misses are most of an
// aggregation's time. Rows are folded a chunk at a time, each aggregation in turn over
// the chunk, so that the lines the first brings in are still in cache for the others.
//
// Partial states merged from a pre-aggregation fold straight into the slab, and results
// of 64-bit types are built straight from it (results). Everything else a table is asked
// (results of narrower types, partial states, checkpoints, the merging of sessions,
// spilling) first moves the states into the accumulators' own arrays (unpack), and the
// table goes on without the slab until it is Reset.

// rowChunk is how many rows are folded before the next aggregation's turn: its groups'
// lines (a few hundred, 64 bytes each) stay in the first levels of cache meanwhile.
const rowChunk = 512

// maxRowWords bounds a group's words: past it a group no longer fits one or two lines.
const maxRowWords = 16

type slotKind uint8

const (
	slotCount slotKind = iota // count(*), count(col): one word, the count
	slotSum                   // sum, mean: the sum (float64 bits, int64, uint64), then the count of values
	slotPick                  // min, max: the value (float64 bits, int64, uint64); its flag in word 0
)

// slot is one aggregation's place in a group's words.
type slot struct {
	kind slotKind
	stor storage
	max  bool   // slotPick: max (else min)
	off  int    // its first word
	bit  uint64 // slotPick: its flag in word 0 (a value kept)
	acc  accumulator
}

// slab holds the states of a table's groups in the row layout.
type slab struct {
	slots  []slot
	stride int      // words per group
	w      []uint64 // group g's words: w[g*stride : (g+1)*stride]
	ng     int      // groups w has room for
}

// newSlab returns the row layout of accs, or nil when some accumulator has no place in
// it (or their states would not fit maxRowWords). accs must hold no group yet.
func newSlab(accs []accumulator) *slab {
	s := &slab{}
	picks := 0
	for _, a := range accs {
		if p, ok := a.(*pickAcc); ok && rowPick(p) {
			picks++
		}
	}
	words := 0
	if picks > 0 {
		words = 1 // the flags
	}
	pick := 0
	for _, a := range accs {
		sl := slot{acc: a, off: words}
		switch a := a.(type) {
		case *countAcc:
			sl.kind = slotCount
			words++
		case *sumAcc:
			if a.stor != storFloat && (a.mean || (a.stor != storInt && a.stor != storUint)) {
				return nil
			}
			sl.kind, sl.stor = slotSum, a.stor
			words += 2
		case *pickAcc:
			if !rowPick(a) {
				return nil
			}
			sl.kind, sl.stor, sl.max, sl.bit = slotPick, a.stor, a.fn == "max", 1<<pick
			pick++
			words++
		default:
			return nil
		}
		s.slots = append(s.slots, sl)
	}
	if words == 0 || words > maxRowWords {
		return nil
	}
	// A power of two up to a cache line (the slab's start is aligned: Go allocates large
	// arrays whole pages), so that no group straddles two lines.
	s.stride = words
	for _, p := range []int{1, 2, 4, 8} {
		if words <= p {
			s.stride = p
			break
		}
	}
	return s
}

// rowPick reports whether a pick has a place in the row layout: min or max of numbers.
func rowPick(a *pickAcc) bool {
	return (a.fn == "min" || a.fn == "max") && (a.stor == storInt || a.stor == storUint || a.stor == storFloat)
}

// grow makes room for n groups (new groups' words zero).
func (s *slab) grow(n int) {
	if n <= s.ng {
		return
	}
	s.w = expr.Grow(s.w, n*s.stride)
	s.ng = n
}

// reset forgets every group, keeping the memory.
func (s *slab) reset() {
	clear(s.w)
	s.w = s.w[:0]
	s.ng = 0
}

func (s *slab) memBytes() int64 { return capBytes(s.w) }

// slabCol is one aggregation's input over a batch, as the words its slot folds.
type slabCol struct {
	col   arrow.Array // nil: count(*)
	nulls bool
	none  bool // count of a null-typed column: no value counts
	i     []int64
	u     []uint64
	f     []float64
}

// column reads col as slot sl folds it (count reads only its validity).
func (sl *slot) column(ec *expr.EvalCtx, col arrow.Array) (c slabCol, release func(), err error) {
	c.col, release = col, func() {}
	if col == nil {
		return c, release, nil
	}
	c.nulls = col.NullN() > 0
	if sl.kind == slotCount {
		c.none = col.DataType().ID() == arrow.NULL
		return c, release, nil
	}
	switch sl.stor {
	case storFloat:
		c.f, err = expr.AsFloat64(col)
	case storUint:
		var u arrow.Array
		if u, err = compute.CastToType(ec.Ctx, col, arrow.PrimitiveTypes.Uint64); err == nil {
			c.u, release = u.(*array.Uint64).Uint64Values(), u.Release
		}
	default:
		c.i, err = expr.AsInt64(col)
	}
	return c, release, err
}

// fold folds rows [lo, hi) of c into groups ids[lo:hi], every one of which is below
// s.ng (Update checks the ids it is given; the grouper's are below its group count):
// the loops without nulls, the hot ones, address the group's words unchecked.
func (s *slab) fold(sl *slot, c *slabCol, ids []uint32, lo, hi int) error {
	w, st, off := s.w, s.stride, sl.off
	base := unsafe.Pointer(unsafe.SliceData(w))
	switch sl.kind {
	case slotCount:
		if c.none {
			return nil
		}
		if !c.nulls {
			for _, g := range ids[lo:hi] {
				*wordAt(base, int(g)*st+off) += 1
			}
			return nil
		}
		for r := lo; r < hi; r++ {
			if c.col.IsValid(r) {
				w[int(ids[r])*st+off]++
			}
		}
	case slotSum:
		switch sl.stor {
		case storFloat:
			vals := c.f[lo:hi]
			if !c.nulls {
				for j, g := range ids[lo:hi] {
					p := wordAt(base, int(g)*st+off)
					*p = math.Float64bits(math.Float64frombits(*p) + vals[j])
					*wordAt(unsafe.Pointer(p), 1) += 1
				}
				return nil
			}
			for j, g := range ids[lo:hi] {
				if !c.col.IsValid(lo + j) {
					continue
				}
				p := int(g)*st + off
				w[p] = math.Float64bits(math.Float64frombits(w[p]) + vals[j])
				w[p+1]++
			}
		case storUint:
			vals := c.u[lo:hi]
			for j, g := range ids[lo:hi] {
				if c.nulls && !c.col.IsValid(lo+j) {
					continue
				}
				p := int(g)*st + off
				v := vals[j]
				sum := w[p] + v
				if sum < v { // the running total leaves uint64: spilled (sumAcc.update)
					sl.acc.(*sumAcc).spill(g, decimal128.FromU64(w[p]))
					sum = v
				}
				w[p] = sum
				w[p+1]++
			}
		default:
			vals := c.i[lo:hi]
			for j, g := range ids[lo:hi] {
				if c.nulls && !c.col.IsValid(lo+j) {
					continue
				}
				p := int(g)*st + off
				v, x := vals[j], int64(w[p])
				sum := x + v
				if (sum^x)&(sum^v) < 0 { // the running total leaves int64: spilled
					sl.acc.(*sumAcc).spill(g, decimal128.FromI64(x))
					sum = v
				}
				w[p] = uint64(sum)
				w[p+1]++
			}
		}
	case slotPick:
		switch sl.stor {
		case storFloat:
			foldPick(w, st, off, sl.bit, sl.max, ids[lo:hi], c.f[lo:hi], c, lo)
		case storUint:
			if c.nulls {
				foldPick(w, st, off, sl.bit, sl.max, ids[lo:hi], c.u[lo:hi], c, lo)
			} else {
				ident := uint64(math.MaxUint64)
				if sl.max {
					ident = 0
				}
				foldExtreme(base, st, off, sl.bit, sl.max, ids[lo:hi], c.u[lo:hi], ident)
			}
		default:
			if c.nulls {
				foldPick(w, st, off, sl.bit, sl.max, ids[lo:hi], c.i[lo:hi], c, lo)
			} else {
				ident := int64(math.MaxInt64)
				if sl.max {
					ident = math.MinInt64
				}
				foldExtreme(base, st, off, sl.bit, sl.max, ids[lo:hi], c.i[lo:hi], ident)
			}
		}
	}
	return nil
}

// wordAt is word i of the slab words starting at base, unchecked (fold's ids are below
// the slab's groups).
func wordAt(base unsafe.Pointer, i int) *uint64 {
	return (*uint64)(unsafe.Add(base, i*8))
}

// word is the value of type T kept in word p of w (int64, uint64 or float64 bits).
func word[T int64 | uint64 | float64](w []uint64, p int) *T {
	return (*T)(unsafe.Pointer(&w[p]))
}

// foldPick folds values into the min or max of their groups (nulls skipped; NaN above
// every number, as less orders it).
func foldPick[T int64 | uint64 | float64](w []uint64, st, off int, bit uint64, isMax bool, ids []uint32, vals []T, c *slabCol, lo int) {
	for j, g := range ids {
		if c.nulls && !c.col.IsValid(lo+j) {
			continue
		}
		b := int(g) * st
		v := vals[j]
		kept := word[T](w, b+off)
		if w[b]&bit == 0 || (isMax && less(*kept, v)) || (!isMax && less(v, *kept)) {
			*kept = v
			w[b] |= bit
		}
	}
}

// foldExtreme is foldPick's min or max of integers without nulls, without branches on
// the values (a group's first value is as likely to be replaced as not, too often to
// predict): ident is the least value of T for max, the greatest for min, the result of a
// group without one. base is the slab's words, ids below its groups (fold).
func foldExtreme[T int64 | uint64](base unsafe.Pointer, st, off int, bit uint64, isMax bool, ids []uint32, vals []T, ident T) {
	vals = vals[:len(ids)]
	if isMax {
		for j, g := range ids {
			flags := wordAt(base, int(g)*st)
			p := (*T)(unsafe.Pointer(wordAt(unsafe.Pointer(flags), off)))
			kept := *p
			if *flags&bit == 0 {
				kept = ident
			}
			*p = max(kept, vals[j])
			*flags |= bit
		}
		return
	}
	for j, g := range ids {
		flags := wordAt(base, int(g)*st)
		p := (*T)(unsafe.Pointer(wordAt(unsafe.Pointer(flags), off)))
		kept := *p
		if *flags&bit == 0 {
			kept = ident
		}
		*p = min(kept, vals[j])
		*flags |= bit
	}
}

// update folds a batch's aggregation inputs cols (nil for count(*)) into groups ids; on
// an error, i is the aggregation's.
func (s *slab) update(ec *expr.EvalCtx, ids []uint32, ng int, cols []arrow.Array) (i int, err error) {
	s.grow(ng)
	in := make([]slabCol, len(s.slots))
	for i := range s.slots {
		c, release, err := s.slots[i].column(ec, cols[i])
		if err != nil {
			return i, err
		}
		defer release()
		in[i] = c
	}
	for lo := 0; lo < len(ids); lo += rowChunk {
		hi := min(lo+rowChunk, len(ids))
		for i := range s.slots {
			if err := s.fold(&s.slots[i], &in[i], ids, lo, hi); err != nil {
				return i, err
			}
		}
	}
	return 0, nil
}

// mergePartial folds slot sl's partial state columns (typedPartial's layout) into groups
// ids, as its accumulator's mergePartial does into its arrays.
func (s *slab) mergePartial(sl *slot, cols []arrow.Array, ids []uint32, ng int) error {
	s.grow(ng)
	switch sl.kind {
	case slotCount:
		c, err := partialValues(storInt, cols[0])
		if err != nil {
			return err
		}
		for r, v := range c.i[:len(ids)] {
			s.w[int(ids[r])*s.stride+sl.off] += uint64(v)
		}
		return nil
	case slotSum:
		cnt, err := partialValues(storInt, cols[0])
		if err != nil {
			return err
		}
		for r, v := range cnt.i[:len(ids)] {
			s.w[int(ids[r])*s.stride+sl.off+1] += uint64(v)
		}
		if sl.stor != storFloat {
			return s.addWide(sl, cols[1], ids)
		}
		// The sums fold as values do (a partial sum is never null), their counts aside.
		c, err := partialValues(sl.stor, cols[1])
		if err != nil {
			return err
		}
		return s.addSums(sl, &c, ids)
	}
	c, err := partialValues(sl.stor, cols[0])
	if err != nil {
		return err
	}
	return s.fold(sl, &c, ids, 0, len(ids))
}

// partialValues reads a column of partial sums or picks of storage stor.
func partialValues(stor storage, col arrow.Array) (slabCol, error) {
	c := slabCol{col: col, nulls: col.NullN() > 0}
	var ok bool
	var want arrow.DataType
	switch stor {
	case storFloat:
		want = arrow.PrimitiveTypes.Float64
		var f *array.Float64
		if f, ok = col.(*array.Float64); ok {
			c.f = f.Float64Values()
		}
	case storUint:
		want = arrow.PrimitiveTypes.Uint64
		var u *array.Uint64
		if u, ok = col.(*array.Uint64); ok {
			c.u = u.Uint64Values()
		}
	default:
		want = arrow.PrimitiveTypes.Int64
		var i *array.Int64
		if i, ok = col.(*array.Int64); ok {
			c.i = i.Int64Values()
		}
	}
	if !ok {
		return c, fmt.Errorf("a partial state column is %s, not %s", col.DataType(), want)
	}
	return c, nil
}

// addSums adds partial sums of floats (no counts: mergePartial added those) into their
// groups.
func (s *slab) addSums(sl *slot, c *slabCol, ids []uint32) error {
	w, st, off := s.w, s.stride, sl.off
	for r, g := range ids {
		p := int(g)*st + off
		w[p] = math.Float64bits(math.Float64frombits(w[p]) + c.f[r])
	}
	return nil
}

// addWide adds partial sums of integers (whole sums, decimal128(38, 0)) into their
// groups: into the group's word while the sum fits its type, the rest spilled.
func (s *slab) addWide(sl *slot, col arrow.Array, ids []uint32) error {
	d, ok := col.(*array.Decimal128)
	if !ok {
		return fmt.Errorf("a partial sum column is %s, not decimal128(38, 0)", col.DataType())
	}
	w, st, off := s.w, s.stride, sl.off
	for r, v := range d.Values()[:len(ids)] {
		g := ids[r]
		p := int(g)*st + off
		lo, hi := v.LowBits(), v.HighBits()
		if sl.stor == storUint {
			if sum := w[p] + lo; hi == 0 && sum >= lo {
				w[p] = sum
				continue
			}
		} else {
			x, y := int64(w[p]), int64(lo)
			if sum := x + y; hi == y>>63 && (sum^x)&(sum^y) >= 0 {
				w[p] = uint64(sum)
				continue
			}
		}
		sl.acc.(*sumAcc).spill(g, v)
	}
	return nil
}

// unpackBlock is how many groups unpack moves at a time, every aggregation in turn: the
// block's words (a few hundred KB) stay in cache for all of them, so the slab is read
// from memory once.
const unpackBlock = 4096

// unpack moves every group's states into the accumulators' own arrays (empty until
// now).
func (s *slab) unpack() {
	n, st := s.ng, s.stride
	for i := range s.slots {
		switch a := s.slots[i].acc.(type) {
		case *countAcc:
			a.n = expr.Grow(a.n, n)
		case *sumAcc:
			a.cnt = expr.Grow(a.cnt, n)
			growValues(a.stor, &a.i, &a.u, &a.f, n)
		case *pickAcc:
			a.grow(n)
			growValues(a.stor, &a.i, &a.u, &a.f, n)
		}
	}
	for lo := 0; lo < n; lo += unpackBlock {
		hi := min(lo+unpackBlock, n)
		for i := range s.slots {
			sl := &s.slots[i]
			w := s.w[lo*st : hi*st]
			switch a := sl.acc.(type) {
			case *countAcc:
				unpackWords(a.n[lo:hi], w, st, sl.off, func(v uint64) int64 { return int64(v) })
			case *sumAcc:
				unpackWords(a.cnt[lo:hi], w, st, sl.off+1, func(v uint64) int64 { return int64(v) })
				unpackValues(sl.stor, a.i, a.u, a.f, lo, hi, w, st, sl.off)
			case *pickAcc:
				set := a.set[lo:hi]
				for g := range set {
					set[g] = w[g*st]&sl.bit != 0
				}
				unpackValues(sl.stor, a.i, a.u, a.f, lo, hi, w, st, sl.off)
			}
		}
	}
}

// dropUnpacked lets go of the arrays unpack filled, for a table that stays in the row
// layout (Table.readAccs): the accumulators are back as newSlab found them.
func (s *slab) dropUnpacked() {
	for i := range s.slots {
		switch a := s.slots[i].acc.(type) {
		case *countAcc:
			a.n = nil
		case *sumAcc:
			a.cnt, a.i, a.u, a.f = nil, nil, nil, nil
		case *pickAcc:
			a.set, a.i, a.u, a.f = nil, nil, nil, nil
		}
	}
}

// growValues grows the value array of storage stor to n groups.
func growValues(stor storage, i *[]int64, u *[]uint64, f *[]float64, n int) {
	switch stor {
	case storFloat:
		*f = expr.Grow(*f, n)
	case storUint:
		*u = expr.Grow(*u, n)
	default:
		*i = expr.Grow(*i, n)
	}
}

// unpackValues moves the value words of groups [lo, hi) (words w, from group lo) to
// the array of their storage.
func unpackValues(stor storage, i []int64, u []uint64, f []float64, lo, hi int, w []uint64, st, off int) {
	switch stor {
	case storFloat:
		unpackWords(f[lo:hi], w, st, off, math.Float64frombits)
	case storUint:
		unpackWords(u[lo:hi], w, st, off, func(v uint64) uint64 { return v })
	default:
		unpackWords(i[lo:hi], w, st, off, func(v uint64) int64 { return int64(v) })
	}
}

func unpackWords[T any](dst []T, w []uint64, st, off int, conv func(uint64) T) {
	for g := range dst {
		dst[g] = conv(w[g*st+off])
	}
}

// direct reports whether slot sl's output is built straight from the slab (results):
// an output of 64-bit values; out is its type, mean whether it divides by the count.
func (sl *slot) direct() (out arrow.DataType, mean, ok bool) {
	out = arrow.PrimitiveTypes.Int64
	switch a := sl.acc.(type) {
	case *sumAcc:
		out, mean = a.out, a.mean
		if a.spilled() { // the whole sums are the words and the spilled parts
			return out, mean, false
		}
	case *pickAcc:
		out = a.out
	}
	fw, isFixed := out.(arrow.FixedWidthDataType)
	ok = isFixed && fw.BitWidth() == 64 && out.ID() != arrow.DECIMAL64 &&
		(out.ID() == arrow.FLOAT64) == (sl.stor == storFloat || mean)
	return out, mean, ok
}

// resultCol is one output column results builds.
type resultCol struct {
	out          arrow.DataType
	mean         bool
	data, bitmap *memory.Buffer
	vals         []uint64
	bits         []byte
	nulls        int
}

// results builds the output columns of slots for groups gids straight from the slab,
// with no copy into the accumulators' arrays first; every slot's direct() must hold. It
// goes a block of groups at a time, every column in turn, so that the slab is read from
// memory once.
func (s *slab) results(mem memory.Allocator, slots []int, gids []uint32) []arrow.Array {
	s.grow(maxGid(gids)) // a group without rows yet: a global aggregation over no rows
	n := len(gids)
	cols := make([]resultCol, len(slots))
	for i, si := range slots {
		c := &cols[i]
		c.out, c.mean, _ = s.slots[si].direct()
		c.data = memory.NewResizableBuffer(mem)
		c.data.Resize(n * 8)
		c.vals = arrow.Uint64Traits.CastFromBytes(c.data.Bytes())
		if s.slots[si].kind != slotCount {
			c.bitmap = memory.NewResizableBuffer(mem)
			c.bitmap.Resize(int(bitutil.BytesForBits(int64(n))))
			c.bits = c.bitmap.Bytes()
			clear(c.bits)
		}
	}
	for lo := 0; lo < n; lo += unpackBlock {
		hi := min(lo+unpackBlock, n)
		for i, si := range slots {
			s.fill(&s.slots[si], &cols[i], gids[lo:hi], lo)
		}
	}
	out := make([]arrow.Array, len(cols))
	for i := range cols {
		c := &cols[i]
		if c.nulls == 0 && c.bitmap != nil {
			c.bitmap.Release()
			c.bitmap = nil
		}
		d := array.NewData(c.out, n, []*memory.Buffer{c.bitmap, c.data}, nil, c.nulls, 0)
		c.data.Release()
		if c.bitmap != nil {
			c.bitmap.Release()
		}
		out[i] = array.MakeFromData(d)
		d.Release()
	}
	return out
}

// fill writes the values of groups gids (rows from lo of the output) of slot sl to c.
func (s *slab) fill(sl *slot, c *resultCol, gids []uint32, lo int) {
	st, off, w := s.stride, sl.off, s.w
	vals := c.vals[lo : lo+len(gids)]
	switch sl.kind {
	case slotCount:
		for i, g := range gids {
			vals[i] = w[int(g)*st+off]
		}
	case slotSum:
		for i, g := range gids {
			p := int(g)*st + off
			cnt := w[p+1]
			if cnt == 0 {
				vals[i] = 0
				c.nulls++
				continue
			}
			v := w[p]
			if c.mean {
				v = math.Float64bits(math.Float64frombits(v) / float64(cnt))
			}
			vals[i] = v
			bitutil.SetBit(c.bits, lo+i)
		}
	default:
		for i, g := range gids {
			b := int(g) * st
			if w[b]&sl.bit == 0 {
				vals[i] = 0
				c.nulls++
				continue
			}
			vals[i] = w[b+off]
			bitutil.SetBit(c.bits, lo+i)
		}
	}
}
