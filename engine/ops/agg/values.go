package agg

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/compute"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/engine/expr"
)

// colVals is one batch's column read into its storage, for accumulators that keep the
// value of a chosen row (max_by, min_by, arg_max, arg_min).
type colVals struct {
	col  arrow.Array
	stor storage
	i    []int64
	u    []uint64
	f    []float64
	s    []string
}

func readCol(ec *expr.EvalCtx, col arrow.Array, stor storage) (colVals, error) {
	c := colVals{col: col, stor: stor}
	var err error
	switch stor {
	case storNull:
	case storDec:
		c.s = make([]string, col.Len())
		for i, v := range col.(*array.Decimal128).Values() {
			c.s[i] = expr.DecKey(v)
		}
	case storFloat:
		c.f, err = expr.AsFloat64(col)
	case storUint:
		var u arrow.Array
		if u, err = compute.CastToType(ec.Ctx, col, arrow.PrimitiveTypes.Uint64); err == nil {
			c.u = append([]uint64(nil), u.(*array.Uint64).Uint64Values()...)
			u.Release()
		}
	case storStr:
		value := expr.StringAt(col)
		if b, ok := col.(*array.Binary); ok {
			value = b.ValueString
		}
		c.s = make([]string, col.Len())
		for i := range c.s {
			c.s[i] = value(i)
		}
	default:
		c.i, err = expr.AsInt64(col)
	}
	return c, err
}

func (c *colVals) isNaN(r int) bool { return c.stor == storFloat && math.IsNaN(c.f[r]) }

func (v *valStore) isNaN(g uint32) bool { return v.stor == storFloat && math.IsNaN(v.f[g]) }

// cmpOrdered compares with NaN after every other value (as less does).
func cmpOrdered[T int64 | uint64 | float64 | string](a, b T) int {
	switch {
	case less(a, b):
		return -1
	case less(b, a):
		return 1
	}
	return 0
}

// valStore keeps one value (or null) per group, in a storage.
type valStore struct {
	stor  storage
	valid []bool
	i     []int64
	u     []uint64
	f     []float64
	s     []string
}

func (v *valStore) grow(n int) {
	v.valid = expr.Grow(v.valid, n)
	switch v.stor {
	case storInt:
		v.i = expr.Grow(v.i, n)
	case storUint:
		v.u = expr.Grow(v.u, n)
	case storFloat:
		v.f = expr.Grow(v.f, n)
	case storStr, storDec:
		v.s = expr.Grow(v.s, n)
	}
}

// put sets group g to row r of c (copying strings out of the batch).
func (v *valStore) put(g uint32, c *colVals, r int) {
	if v.stor == storNull || c.col.IsNull(r) {
		v.valid[g] = false
		return
	}
	v.valid[g] = true
	switch v.stor {
	case storInt:
		v.i[g] = c.i[r]
	case storUint:
		v.u[g] = c.u[r]
	case storFloat:
		v.f[g] = c.f[r]
	case storStr, storDec:
		v.s[g] = string([]byte(c.s[r]))
	}
}

// move sets group dst to the value of group src.
func (v *valStore) move(dst, src uint32) {
	v.valid[dst] = v.valid[src]
	switch v.stor {
	case storInt:
		v.i[dst] = v.i[src]
	case storUint:
		v.u[dst] = v.u[src]
	case storFloat:
		v.f[dst] = v.f[src]
	case storStr, storDec:
		v.s[dst] = v.s[src]
	}
}

// cmpRow compares row r of c with the value of group g (both non-null).
func (v *valStore) cmpRow(c *colVals, r int, g uint32) int {
	switch v.stor {
	case storInt:
		return cmpOrdered(c.i[r], v.i[g])
	case storUint:
		return cmpOrdered(c.u[r], v.u[g])
	case storFloat:
		return cmpOrdered(c.f[r], v.f[g])
	case storStr, storDec:
		return cmpOrdered(c.s[r], v.s[g])
	}
	return 0
}

// cmpGroups compares the values of groups a and b (both non-null).
func (v *valStore) cmpGroups(a, b uint32) int {
	switch v.stor {
	case storInt:
		return cmpOrdered(v.i[a], v.i[b])
	case storUint:
		return cmpOrdered(v.u[a], v.u[b])
	case storFloat:
		return cmpOrdered(v.f[a], v.f[b])
	case storStr, storDec:
		return cmpOrdered(v.s[a], v.s[b])
	}
	return 0
}

func (v *valStore) reset(g uint32) {
	if int(g) < len(v.valid) {
		v.valid[g] = false
	}
	if int(g) < len(v.s) {
		v.s[g] = ""
	}
}

// result builds the values of groups gids as a column of type out.
func (v *valStore) result(mem memory.Allocator, out arrow.DataType, gids []uint32) (arrow.Array, error) {
	v.grow(maxGid(gids))
	p := &pickAcc{stor: v.stor, out: out, set: v.valid, i: v.i, u: v.u, f: v.f, s: v.s}
	return p.result(mem, gids)
}

// save appends group g's value: a valid byte, then 8 bytes, or a string's uvarint
// length and bytes.
func (v *valStore) save(dst []byte, g uint32) []byte {
	if v.stor == storNull || !at(v.valid, g) {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	switch v.stor {
	case storUint:
		return binary.LittleEndian.AppendUint64(dst, v.u[g])
	case storFloat:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(v.f[g]))
	case storStr, storDec:
		dst = binary.AppendUvarint(dst, uint64(len(v.s[g])))
		return append(dst, v.s[g]...)
	}
	return binary.LittleEndian.AppendUint64(dst, uint64(v.i[g]))
}

// load sets group g from src as save wrote it and returns the rest.
func (v *valStore) load(src []byte, g uint32, ng int) ([]byte, error) {
	v.grow(ng)
	if len(src) < 1 {
		return nil, errShort
	}
	valid := src[0] == 1
	src = src[1:]
	v.valid[g] = valid
	if !valid {
		return src, nil
	}
	if v.stor == storStr || v.stor == storDec {
		l, k := binary.Uvarint(src)
		if k <= 0 || uint64(len(src)-k) < l {
			return nil, errShort
		}
		v.s[g] = string(src[k : k+int(l)])
		return src[k+int(l):], nil
	}
	x, src, err := getU64(src)
	if err != nil {
		return nil, err
	}
	switch v.stor {
	case storUint:
		v.u[g] = x
	case storFloat:
		v.f[g] = math.Float64frombits(x)
	default:
		v.i[g] = int64(x)
	}
	return src, nil
}
