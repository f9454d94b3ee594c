package agg

import (
	"bytes"
	"encoding/binary"
	"math"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
)

// Retractable min, max, first, last and n_unique (over an updating input). As Flink's
// MinWithRetract / MaxWithRetract / FirstValueWithRetract / LastValueWithRetract, each
// group keeps every distinct value of its remaining rows with its count (a "bag"), so a
// retracted value can be taken out exactly:
//
//   - min / max: the least / greatest value whose count is positive (floats order NaN
//     above every number, as in a bounded group_by);
//   - n_unique: the number of values whose count is positive;
//   - first / last: the value of the earliest / latest remaining row of the group, in
//     the order rows reached the operator (their arrival numbers). Occurrences are kept
//     by value and row (a hash of all the input's columns but the op column), so a
//     retraction takes out the earliest remaining row equal to it in every column, and
//     the answer is that of first / last over the remaining rows. (Flink's FIRST_VALUE /
//     LAST_VALUE with retraction take out the earliest occurrence of the value, whatever
//     its row.)
//
// Nulls are skipped, as in a bounded group_by. A retraction of a value the group does not
// hold leaves a negative count, which a later row of that value cancels (changes reaching
// the operator out of order commute, as Flink's counts do). The extreme of a group is
// cached and recomputed from its bag only when a retraction removes it.

// bagEntry is one distinct value of a group: its count and, for first/last, the arrival
// numbers of its remaining occurrences, ascending.
type bagEntry struct {
	n  int64
	at []uint64
}

// bag is the state of one group.
type bag struct {
	vals  map[string]*bagEntry
	live  int    // values with a positive count
	best  string // the cached result value (min, max, first, last), if ok
	ok    bool
	stale bool // best must be recomputed from vals
}

// retractPickAcc computes min, max, first, last or n_unique over rows that may be
// retracted. Values are kept by key: for n_unique expr.AppendKey's encoding; for the
// others an order-preserving encoding of the value that decodes back to it (big-endian
// int64 with the sign bit flipped, uint64, floatOrder; the bytes of a string; DecKey),
// followed for first and last by the row's hash (8 bytes, big-endian).
type retractPickAcc struct {
	fn     string
	stor   storage
	out    arrow.DataType
	groups []*bag
	next   uint64   // the next arrival number
	rows   []uint64 // first, last: the row hashes of the batch at hand (Table.setRows)
	buf    []byte
}

func newRetractPick(spec Spec) *retractPickAcc {
	return &retractPickAcc{fn: spec.Fn, stor: storageOf(spec.Arg.Type()), out: spec.OutType}
}

func (a *retractPickAcc) ordered() bool { return a.fn == "first" || a.fn == "last" }

// keys returns the key of each row of col (ok false for a null; the key is valid until
// the next call) and a function to call when done with them.
func (a *retractPickAcc) keys(ec *expr.EvalCtx, col arrow.Array) (func(i int) ([]byte, bool), func(), error) {
	done := func() {}
	if col.DataType().ID() == arrow.NULL {
		return func(int) ([]byte, bool) { return nil, false }, done, nil
	}
	valid := func(i int) bool { return col.NullN() == 0 || col.IsValid(i) }
	if a.fn == "n_unique" {
		return func(i int) ([]byte, bool) {
			if !valid(i) {
				return nil, false
			}
			a.buf = expr.AppendKey(a.buf[:0], col, i)
			return a.buf, true
		}, done, nil
	}
	var enc func(i int) []byte
	switch a.stor {
	case storDec:
		vals := col.(*array.Decimal128).Values()
		enc = func(i int) []byte { return append(a.buf[:0], expr.DecKey(vals[i])...) }
	case storFloat:
		vals, err := expr.AsFloat64(col)
		if err != nil {
			return nil, nil, err
		}
		enc = func(i int) []byte { return binary.BigEndian.AppendUint64(a.buf[:0], floatOrder(vals[i])) }
	case storUint:
		c, err := compute.CastToType(ec.Ctx, col, arrow.PrimitiveTypes.Uint64)
		if err != nil {
			return nil, nil, err
		}
		vals := c.(*array.Uint64).Uint64Values()
		done = c.Release
		enc = func(i int) []byte { return binary.BigEndian.AppendUint64(a.buf[:0], vals[i]) }
	case storStr:
		value := expr.StringAt(col)
		if b, ok := col.(*array.Binary); ok {
			value = b.ValueString
		}
		enc = func(i int) []byte { return append(a.buf[:0], value(i)...) }
	default:
		vals, err := expr.AsInt64(col)
		if err != nil {
			return nil, nil, err
		}
		enc = func(i int) []byte { return binary.BigEndian.AppendUint64(a.buf[:0], uint64(vals[i])^(1<<63)) }
	}
	return func(i int) ([]byte, bool) {
		if !valid(i) {
			return nil, false
		}
		a.buf = enc(i)
		if a.ordered() {
			a.buf = binary.BigEndian.AppendUint64(a.buf, a.rows[i])
		}
		return a.buf, true
	}, done, nil
}

// floatOrder maps a float64 to a uint64 whose unsigned order is the float order, with
// every NaN one value above +Inf.
func floatOrder(f float64) uint64 {
	b := math.Float64bits(f)
	if f != f {
		b = 0x7ff8000000000000
	}
	if b>>63 == 0 {
		return b | 1<<63
	}
	return ^b
}

func floatFromOrder(u uint64) float64 {
	if u>>63 == 1 {
		return math.Float64frombits(u &^ (1 << 63))
	}
	return math.Float64frombits(^u)
}

func (a *retractPickAcc) bag(g uint32, ng int) *bag {
	a.groups = expr.Grow(a.groups, max(ng, int(g)+1))
	b := a.groups[g]
	if b == nil {
		b = &bag{vals: map[string]*bagEntry{}}
		a.groups[g] = b
	}
	return b
}

func (a *retractPickAcc) update(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, _ runtime.Seq) error {
	return a.each(ec, ids, ng, col, func(b *bag, e *bagEntry, k []byte) {
		e.n++
		if e.n <= 0 { // cancels an earlier retraction
			if e.n == 0 {
				delete(b.vals, string(k))
			}
			return
		}
		if e.n == 1 {
			b.live++
		}
		if a.ordered() {
			e.at = append(e.at, a.next)
			a.next++
		}
		a.offer(b, k)
	})
}

// each calls fn with the bag of each row's group, the entry of the row's value in it
// (created with count 0 when new) and the value's key, skipping the rows whose value is
// not counted (nulls).
func (a *retractPickAcc) each(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array, fn func(b *bag, e *bagEntry, k []byte)) error {
	a.groups = expr.Grow(a.groups, ng)
	if a.stor == storNull && a.fn != "n_unique" {
		return nil
	}
	key, done, err := a.keys(ec, col)
	if err != nil {
		return err
	}
	defer done()
	for i, g := range ids {
		k, ok := key(i)
		if !ok {
			continue
		}
		b := a.bag(g, ng)
		e := b.vals[string(k)]
		if e == nil {
			e = &bagEntry{}
			b.vals[string(k)] = e
		}
		fn(b, e, k)
	}
	return nil
}

// offer updates the cached result of b for an added occurrence of value k.
func (a *retractPickAcc) offer(b *bag, k []byte) {
	if b.stale {
		return
	}
	switch a.fn {
	case "min":
		if !b.ok || bytes.Compare(k, []byte(b.best)) < 0 {
			b.best, b.ok = string(k), true
		}
	case "max":
		if !b.ok || bytes.Compare(k, []byte(b.best)) > 0 {
			b.best, b.ok = string(k), true
		}
	case "first":
		if !b.ok {
			b.best, b.ok = string(k), true
		}
	case "last":
		b.best, b.ok = string(k), true
	}
}

func (a *retractPickAcc) retract(ec *expr.EvalCtx, ids []uint32, ng int, col arrow.Array) error {
	return a.each(ec, ids, ng, col, func(b *bag, e *bagEntry, k []byte) {
		e.n--
		if e.n >= 0 {
			b.live -= boolInt(e.n == 0)
			if len(e.at) > 0 {
				e.at = e.at[1:] // the earliest remaining occurrence leaves
			}
			if b.ok && b.best == string(k) && (e.n == 0 || a.fn == "first") {
				b.stale = true
			}
		}
		if e.n == 0 {
			delete(b.vals, string(k))
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// resolve recomputes the cached result of a stale group from its bag.
func (a *retractPickAcc) resolve(b *bag) {
	if !b.stale {
		return
	}
	b.stale, b.ok, b.best = false, false, ""
	var pos uint64
	for k, e := range b.vals {
		if e.n <= 0 {
			continue
		}
		var better bool
		switch a.fn {
		case "min":
			better = k < b.best
		case "max":
			better = k > b.best
		case "first":
			better = e.at[0] < pos
		case "last":
			better = e.at[len(e.at)-1] > pos
		}
		if !b.ok || better {
			b.best, b.ok = k, true
			if a.fn == "first" {
				pos = e.at[0]
			} else if a.fn == "last" {
				pos = e.at[len(e.at)-1]
			}
		}
	}
}

func (a *retractPickAcc) result(mem memory.Allocator, gids []uint32) (arrow.Array, error) {
	a.groups = expr.Grow(a.groups, maxGid(gids))
	if a.fn == "n_unique" {
		out := make([]int64, len(gids))
		for i, g := range gids {
			if b := a.groups[g]; b != nil {
				out[i] = int64(b.live)
			}
		}
		return expr.Int64Array(mem, arrow.PrimitiveTypes.Int64, out, nil), nil
	}
	// Decode the result values into a pickAcc holding group i at index i, and let it
	// build the column.
	n := len(gids)
	v := &pickAcc{fn: a.fn, stor: a.stor, out: a.out, set: make([]bool, n)}
	switch a.stor {
	case storFloat:
		v.f = make([]float64, n)
	case storUint:
		v.u = make([]uint64, n)
	case storStr, storDec:
		v.s = make([]string, n)
	default:
		v.i = make([]int64, n)
	}
	for i, g := range gids {
		b := a.groups[g]
		if b == nil || a.stor == storNull {
			continue
		}
		a.resolve(b)
		if !b.ok {
			continue
		}
		v.set[i] = true
		best := b.best
		if a.ordered() {
			best = best[:len(best)-8] // the row hash
		}
		switch a.stor {
		case storFloat:
			v.f[i] = floatFromOrder(binary.BigEndian.Uint64([]byte(best)))
		case storUint:
			v.u[i] = binary.BigEndian.Uint64([]byte(best))
		case storStr, storDec:
			v.s[i] = best
		default:
			v.i[i] = int64(binary.BigEndian.Uint64([]byte(best)) ^ (1 << 63))
		}
	}
	return v.result(mem, allGroups(n))
}

// Merge folds group src into group dst (only session windows merge groups, and they do
// not take updating inputs; kept for the interface).
func (a *retractPickAcc) Merge(dst, src uint32) {
	a.groups = expr.Grow(a.groups, int(max(dst, src))+1)
	s := a.groups[src]
	if s == nil {
		return
	}
	d := a.bag(dst, len(a.groups))
	for k, e := range s.vals {
		de := d.vals[k]
		if de == nil {
			de = &bagEntry{}
			d.vals[k] = de
		}
		was := de.n > 0
		de.n += e.n
		de.at = append(de.at, e.at...)
		sort.Slice(de.at, func(i, j int) bool { return de.at[i] < de.at[j] })
		d.live += boolInt(de.n > 0) - boolInt(was)
	}
	d.stale = true
}

func (a *retractPickAcc) Reset(g uint32) {
	if int(g) < len(a.groups) {
		a.groups[g] = nil
	}
}

// save writes the group's bag (its layout is in state.go's list too): uvarint count of values, then per value (sorted by key)
// uvarint key length, the key, varint count and, for first/last, uvarint number of
// occurrences and each arrival number as a uvarint.
func (a *retractPickAcc) save(dst []byte, g uint32) ([]byte, error) {
	b := at(a.groups, g)
	if b == nil {
		return binary.AppendUvarint(dst, 0), nil
	}
	keys := make([]string, 0, len(b.vals))
	for k := range b.vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	dst = binary.AppendUvarint(dst, uint64(len(keys)))
	for _, k := range keys {
		e := b.vals[k]
		dst = binary.AppendUvarint(dst, uint64(len(k)))
		dst = append(dst, k...)
		dst = binary.AppendVarint(dst, e.n)
		if a.ordered() {
			dst = binary.AppendUvarint(dst, uint64(len(e.at)))
			for _, p := range e.at {
				dst = binary.AppendUvarint(dst, p)
			}
		}
	}
	return dst, nil
}

func (a *retractPickAcc) load(src []byte, g uint32, ng int) error {
	a.groups = expr.Grow(a.groups, ng)
	uv := func() (uint64, error) {
		v, k := binary.Uvarint(src)
		if k <= 0 {
			return 0, errShort
		}
		src = src[k:]
		return v, nil
	}
	n, err := uv()
	if err != nil {
		return err
	}
	if n == 0 {
		a.groups[g] = nil
		return nil
	}
	if n > uint64(len(src)) {
		return errShort
	}
	b := &bag{vals: make(map[string]*bagEntry, n), stale: true}
	for ; n > 0; n-- {
		l, err := uv()
		if err != nil {
			return err
		}
		if l > uint64(len(src)) {
			return errShort
		}
		k := string(src[:l])
		src = src[l:]
		c, w := binary.Varint(src)
		if w <= 0 {
			return errShort
		}
		src = src[w:]
		e := &bagEntry{n: c}
		if a.ordered() {
			m, err := uv()
			if err != nil {
				return err
			}
			if m > uint64(len(src)) {
				return errShort
			}
			e.at = make([]uint64, m)
			for i := range e.at {
				if e.at[i], err = uv(); err != nil {
					return err
				}
				a.next = max(a.next, e.at[i]+1)
			}
		}
		b.vals[k] = e
		b.live += boolInt(c > 0)
	}
	a.groups[g] = b
	return nil
}
