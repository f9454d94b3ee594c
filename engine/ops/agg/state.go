package agg

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
	"github.com/riverbed-engine/riverbed/engine/runtime"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Checkpointed accumulators. Each aggregation's per-group state is saved as one value
// per group, in a column named "acc:<output name>" of the operator's state batches:
// count and count(col) as an int64 column (the count); the others as one binary value
// per group, little-endian:
//
//	sum, mean:           cnt int64, then by input storage: integers i int64 (mean: + spill
//	                     d decimal128 as lo uint64, hi int64); unsigned u uint64 (mean: + d);
//	                     floats f float64; decimals d; the null type nothing
//	min, max, first, last: set byte; if set: seq (source, split, chunk uint64), row uint32,
//	                     then the value: int64 / uint64 / float64 bits, or the raw bytes of
//	                     a string, binary or order-preserving decimal encoding (the rest)
//	n_unique:            uvarint count, then per distinct value (sorted) uvarint length and
//	                     its key encoding (expr.AppendKey)
//	over an updating input, min, max, first, last, n_unique (retractpick.go): uvarint
//	                     count, then per distinct key (sorted) uvarint length, the key,
//	                     varint count and (first, last) uvarint number of occurrences and
//	                     each one's arrival number as a uvarint
//	std, var:            n int64, mean float64, m2 float64 (Welford's sums)
//	median, quantile:    uvarint count, then each value as float64 bits
//	approx_n_unique:     nothing for an empty group, else the HyperLogLog sketch's own
//	                     binary form (axiomhq/hyperloglog MarshalBinary)
//	any, all:            one byte: bit 0 a true seen, bit 1 a false, bit 2 a null
//	max_by, min_by:      the ordering value (below); if it is set, the value, then its
//	                     position: seq (source, split, chunk uint64), row uint32
//	arg_max, arg_min:    the best value (below); if set, its position (seq, row) and its
//	                     rank among its group's rows of that batch uint64; then uvarint
//	                     count and per batch (sorted) seq, row 0, uvarint rows of the group
//
// A value of max_by, min_by, arg_max, arg_min is a set byte, then (if set) int64 /
// uint64 / float64 bits, or a uvarint length and the bytes of a string, binary or
// order-preserving decimal encoding.

// AccFields returns the state columns of aggregations aggs.
func AccFields(aggs []Spec) []arrow.Field {
	fs := make([]arrow.Field, len(aggs))
	for i, a := range aggs {
		var t arrow.DataType = arrow.BinaryTypes.Binary
		if a.Fn == "count" {
			t = arrow.PrimitiveTypes.Int64
		}
		fs[i] = arrow.Field{Name: "acc:" + a.Name, Type: t}
	}
	return fs
}

// columnState is an accumulator whose state is a typed column rather than bytes.
type columnState interface {
	saveColumn(mem memory.Allocator, gids []uint32) arrow.Array
	loadColumn(col arrow.Array, ids []uint32, ng int) error
}

func (a *countAcc) saveColumn(mem memory.Allocator, gids []uint32) arrow.Array {
	b := array.NewInt64Builder(mem)
	defer b.Release()
	b.Reserve(len(gids))
	for _, g := range gids {
		b.UnsafeAppend(at(a.n, g))
	}
	return b.NewArray()
}

func (a *countAcc) loadColumn(col arrow.Array, ids []uint32, ng int) error {
	c, ok := col.(*array.Int64)
	if !ok {
		return fmt.Errorf("count state is %s, not int64", col.DataType())
	}
	a.n = expr.Grow(a.n, ng)
	for r, g := range ids {
		a.n[g] = c.Value(r)
	}
	return nil
}

// KeyFields returns the key columns of the table's groups, named as in out (whose first
// fields are the keys).
func KeyFields(out *arrow.Schema, keyTypes []arrow.DataType) []arrow.Field {
	fs := make([]arrow.Field, len(keyTypes))
	for i, t := range keyTypes {
		fs[i] = arrow.Field{Name: out.Field(i).Name, Type: t, Nullable: true}
	}
	return fs
}

// SaveGroups returns the key columns and the accumulator state columns (AccFields) of
// groups gids (nil: all groups), in that order.
func (h *Table) SaveGroups(mem memory.Allocator, gids []uint32) (keys, accs []arrow.Array, err error) {
	if gids == nil {
		gids = allGroups(h.NumGroups())
	}
	if len(h.keys) > 0 {
		if keys, err = h.KeyColumns(mem, gids); err != nil {
			return nil, nil, err
		}
	}
	var buf []byte
	all, done := h.readAccs()
	defer done()
	for _, a := range all {
		if cs, ok := a.(columnState); ok {
			accs = append(accs, cs.saveColumn(mem, gids))
			continue
		}
		b := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
		for _, g := range gids {
			if buf, err = a.save(buf[:0], g); err != nil {
				b.Release()
				runtime.ReleaseAll(keys)
				runtime.ReleaseAll(accs)
				return nil, nil, rberr.Wrap(rberr.KindOf(err), err, "%s: saving state", h.name)
			}
			b.Append(buf)
		}
		accs = append(accs, b.NewArray())
		b.Release()
	}
	return keys, accs, nil
}

// LoadGroups adds groups with the given key values (no key columns for a global
// aggregation: one group) and accumulator states, as SaveGroups returned them, and
// returns their group ids. Keys must be new to the table.
func (h *Table) LoadGroups(ctx context.Context, keys, accs []arrow.Array) ([]uint32, error) {
	if len(accs) != len(h.Accs()) {
		return nil, rberr.New(rberr.Internal, "%s: %d accumulator states for %d aggregations", h.name, len(accs), len(h.Accs()))
	}
	var ids []uint32
	if len(h.keys) == 0 {
		if h.groups.NumGroups() == 0 {
			h.groups.Hash = append(h.groups.Hash, 0)
		}
		n := 0
		if len(accs) > 0 {
			n = accs[0].Len()
		}
		ids = make([]uint32, n)
	} else {
		var err error
		if ids, err = h.ConsumeKeys(ctx, keys, keys[0].Len()); err != nil {
			return nil, err
		}
	}
	if err := h.LoadAccs(ids, accs); err != nil {
		return nil, err
	}
	return ids, nil
}

// LoadAccs sets the accumulators of groups ids from state columns (AccFields).
func (h *Table) LoadAccs(ids []uint32, accs []arrow.Array) error {
	ng := max(h.NumGroups(), maxGid(ids))
	for i, a := range h.Accs() {
		if cs, ok := a.(columnState); ok {
			if err := cs.loadColumn(accs[i], ids, ng); err != nil {
				return rberr.Wrap(rberr.Data, err, "%s: loading the state of %s", h.name, h.aggs[i].Name)
			}
			continue
		}
		col := accs[i].(*array.Binary)
		for r, g := range ids {
			if err := a.load(col.Value(r), g, ng); err != nil {
				return rberr.Wrap(rberr.Data, err, "%s: loading the state of %s", h.name, h.aggs[i].Name)
			}
		}
	}
	return nil
}

// ConsumeKeys returns the group id of every row of key columns keys (the values of the
// key expressions; n rows), adding new groups. Without key expressions every row is in
// the one group of a global aggregation.
func (h *Table) ConsumeKeys(ctx context.Context, keys []arrow.Array, n int) ([]uint32, error) {
	ids := make([]uint32, n)
	if n == 0 {
		return ids, nil
	}
	if len(h.keys) == 0 {
		if h.groups.NumGroups() == 0 {
			h.groups.Hash = append(h.groups.Hash, 0)
		}
		return ids, nil
	}
	if err := h.groups.Consume(ctx, keys, ids); err != nil {
		return nil, err
	}
	return ids, nil
}

var errShort = fmt.Errorf("accumulator state too short")

func getU64(src []byte) (uint64, []byte, error) {
	if len(src) < 8 {
		return 0, nil, errShort
	}
	return binary.LittleEndian.Uint64(src), src[8:], nil
}

func appendDec(dst []byte, d decimal128.Num) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, d.LowBits())
	return binary.LittleEndian.AppendUint64(dst, uint64(d.HighBits()))
}

func getDec(src []byte) (decimal128.Num, []byte, error) {
	lo, src, err := getU64(src)
	if err != nil {
		return decimal128.Num{}, nil, err
	}
	hi, src, err := getU64(src)
	return decimal128.New(int64(hi), lo), src, err
}

func at[T any](s []T, g uint32) T {
	var zero T
	if int(g) < len(s) {
		return s[g]
	}
	return zero
}

func (a *countAcc) save(dst []byte, g uint32) ([]byte, error) {
	return binary.LittleEndian.AppendUint64(dst, uint64(at(a.n, g))), nil
}

func (a *countAcc) load(src []byte, g uint32, ng int) error {
	v, _, err := getU64(src)
	if err != nil {
		return err
	}
	a.n = expr.Grow(a.n, ng)
	a.n[g] = int64(v)
	return nil
}

func (a *sumAcc) save(dst []byte, g uint32) ([]byte, error) {
	if a.err != nil {
		return nil, a.err
	}
	dst = binary.LittleEndian.AppendUint64(dst, uint64(at(a.cnt, g)))
	switch {
	case a.stor == storNull:
	case a.exact():
		dst = appendDec(dst, at(a.d, g))
	case a.stor == storFloat:
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(at(a.f, g)))
		if r := a.rf; r != nil {
			// An updating input's compensation and NaN/inf counts, when it has any (the
			// state is then as before they were kept).
			comp, nan, pinf, ninf := at(r.comp, g), at(r.nan, g), at(r.pinf, g), at(r.ninf, g)
			if comp != 0 || nan != 0 || pinf != 0 || ninf != 0 {
				dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(comp))
				for _, c := range []int64{nan, pinf, ninf} {
					dst = binary.LittleEndian.AppendUint64(dst, uint64(c))
				}
			}
		}
	case a.stor == storUint:
		dst = binary.LittleEndian.AppendUint64(dst, at(a.u, g))
	default:
		dst = binary.LittleEndian.AppendUint64(dst, uint64(at(a.i, g)))
	}
	// The spilled part of an integer sum: always for a mean, for a sum only when it has
	// one (a sum's state is then as before sums spilled).
	if d := at(a.d, g); a.wide() && (a.mean || d != decimal128.Num{}) {
		dst = appendDec(dst, d)
	}
	return dst, nil
}

func (a *sumAcc) load(src []byte, g uint32, ng int) error {
	cnt, src, err := getU64(src)
	if err != nil {
		return err
	}
	a.cnt = expr.Grow(a.cnt, ng)
	a.cnt[g] = int64(cnt)
	var v uint64
	switch {
	case a.stor == storNull:
		return nil
	case a.exact():
		a.d = expr.Grow(a.d, ng)
		a.d[g], _, err = getDec(src)
		return err
	}
	if v, src, err = getU64(src); err != nil {
		return err
	}
	switch a.stor {
	case storFloat:
		a.f = expr.Grow(a.f, ng)
		a.f[g] = math.Float64frombits(v)
		return a.loadFloatParts(src, g, ng)
	case storUint:
		a.u = expr.Grow(a.u, ng)
		a.u[g] = v
	default:
		a.i = expr.Grow(a.i, ng)
		a.i[g] = int64(v)
	}
	if a.mean || len(src) > 0 {
		a.d = expr.Grow(a.d, ng)
		a.d[g], _, err = getDec(src)
	} else if int(g) < len(a.d) {
		a.d[g] = decimal128.Num{}
	}
	return err
}

func (a *pickAcc) save(dst []byte, g uint32) ([]byte, error) {
	if a.stor == storNull || !at(a.set, g) {
		return append(dst, 0), nil
	}
	dst = append(dst, 1)
	s, row := a.pos(g)
	dst = binary.LittleEndian.AppendUint64(dst, s.Source)
	dst = binary.LittleEndian.AppendUint64(dst, s.Split)
	dst = binary.LittleEndian.AppendUint64(dst, s.Chunk)
	dst = binary.LittleEndian.AppendUint32(dst, row)
	switch a.stor {
	case storFloat:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.f[g])), nil
	case storUint:
		return binary.LittleEndian.AppendUint64(dst, a.u[g]), nil
	case storStr, storDec:
		return append(dst, a.s[g]...), nil
	}
	return binary.LittleEndian.AppendUint64(dst, uint64(a.i[g])), nil
}

func (a *pickAcc) load(src []byte, g uint32, ng int) error {
	if len(src) < 1 {
		return errShort
	}
	a.grow(ng)
	if src[0] == 0 {
		a.set[g] = false
		return nil
	}
	if len(src) < 1+24+4 {
		return errShort
	}
	a.set[g] = true
	if a.ordered() {
		a.seq[g] = runtime.Seq{Source: binary.LittleEndian.Uint64(src[1:]), Split: binary.LittleEndian.Uint64(src[9:]), Chunk: binary.LittleEndian.Uint64(src[17:])}
		a.row[g] = binary.LittleEndian.Uint32(src[25:])
	}
	val := src[29:]
	if a.stor == storStr || a.stor == storDec {
		a.s = expr.Grow(a.s, ng)
		a.s[g] = string(val)
		return nil
	}
	v, _, err := getU64(val)
	if err != nil {
		return err
	}
	switch a.stor {
	case storFloat:
		a.f = expr.Grow(a.f, ng)
		a.f[g] = math.Float64frombits(v)
	case storUint:
		a.u = expr.Grow(a.u, ng)
		a.u[g] = v
	default:
		a.i = expr.Grow(a.i, ng)
		a.i[g] = int64(v)
	}
	return nil
}

// loadFloatParts reads what save wrote after an updating input's float sum (nothing when
// it had no compensation or NaN/inf), into group g.
func (a *sumAcc) loadFloatParts(src []byte, g uint32, ng int) error {
	r := a.rf
	if r == nil {
		return nil
	}
	var vals [4]uint64
	if len(src) > 0 {
		for i := range vals {
			var err error
			if vals[i], src, err = getU64(src); err != nil {
				return err
			}
		}
	}
	r.comp = expr.Grow(r.comp, ng)
	r.comp[g] = math.Float64frombits(vals[0])
	for i, s := range []*[]int64{&r.nan, &r.pinf, &r.ninf} {
		*s = expr.Grow(*s, ng)
		(*s)[g] = int64(vals[i+1])
	}
	return nil
}
