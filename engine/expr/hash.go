package expr

import (
	"encoding/binary"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/zeebo/xxh3"
)

// Key hashing. The hash of a key decides its key group, so it must be stable across
// processes and versions (savepoints depend on it): it uses fixed functions (xxh3 for
// bytes, a 64-bit mixer for numbers), never a per-process seed.

const NullHash = 0x9e3779b97f4a7c15

// Mix64 is the finalizer of SplitMix64: a fast bijective mixer for integer keys.
func Mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// HashColumns computes one hash per row over the key columns into out (len = rows).
func HashColumns(cols []arrow.Array, out []uint64) {
	for i := range out {
		out[i] = 0
	}
	for c, col := range cols {
		hashColumn(col, out, c > 0)
	}
}

func combine(h, v uint64) uint64 { return Mix64(h*31 + v) }

func hashColumn(col arrow.Array, out []uint64, combineWith bool) {
	n := col.Len()
	set := func(i int, v uint64) {
		if combineWith {
			out[i] = combine(out[i], v)
		} else {
			out[i] = v
		}
	}
	nulls := col.NullN() > 0
	switch a := col.(type) {
	case *array.String:
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, xxh3.HashString(a.Value(i)))
		}
	case *array.LargeString:
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, xxh3.HashString(a.Value(i)))
		}
	case *array.Binary:
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, xxh3.Hash(a.Value(i)))
		}
	case *array.Boolean:
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			v := uint64(0)
			if a.Value(i) {
				v = 1
			}
			set(i, Mix64(v))
		}
	case *array.Null:
		for i := 0; i < n; i++ {
			set(i, NullHash)
		}
	case *array.LargeBinary:
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, xxh3.Hash(a.Value(i)))
		}
	case *array.FixedSizeBinary:
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, xxh3.Hash(a.Value(i)))
		}
	case *array.Decimal128:
		vals := a.Values()
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, combine(Mix64(uint64(vals[i].HighBits())), vals[i].LowBits()))
		}
	case *array.Float16:
		vals := a.Values()
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, Mix64(floatBits(float64(vals[i].Float32()))))
		}
	case *array.Float32:
		vals := a.Float32Values()
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, Mix64(floatBits(float64(vals[i]))))
		}
	case *array.Float64:
		vals := a.Float64Values()
		for i := 0; i < n; i++ {
			if nulls && a.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, Mix64(floatBits(vals[i])))
		}
	default:
		get := Int64Getter(col)
		for i := 0; i < n; i++ {
			if nulls && col.IsNull(i) {
				set(i, NullHash)
				continue
			}
			set(i, Mix64(uint64(get(i))))
		}
	}
}

// floatBits normalizes -0.0 to 0.0 and every NaN to one NaN so that equal keys hash equally.
func floatBits(f float64) uint64 {
	if f == 0 {
		return 0
	}
	if math.IsNaN(f) {
		return 0x7ff8000000000001
	}
	return math.Float64bits(f)
}

// Int64Getter reads any integer-backed fixed-width column (ints, dates, timestamps,
// durations) as int64.
func Int64Getter(col arrow.Array) func(int) int64 {
	switch a := col.(type) {
	case *array.Int64:
		v := a.Int64Values()
		return func(i int) int64 { return v[i] }
	case *array.Int32:
		v := a.Int32Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Int16:
		v := a.Int16Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Int8:
		v := a.Int8Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Uint64:
		v := a.Uint64Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Uint32:
		v := a.Uint32Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Uint16:
		v := a.Uint16Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Uint8:
		v := a.Uint8Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Timestamp:
		v := a.TimestampValues()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Date32:
		v := a.Date32Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Date64:
		v := a.Date64Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Duration:
		v := a.DurationValues()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Time32:
		v := a.Time32Values()
		return func(i int) int64 { return int64(v[i]) }
	case *array.Time64:
		v := a.Time64Values()
		return func(i int) int64 { return int64(v[i]) }
	}
	return nil
}

// HashableType reports whether hashColumn and appendKey take columns of type dt (dictionary
// columns are decoded before they get here).
func HashableType(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.NULL, arrow.BOOL, arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.FIXED_SIZE_BINARY, arrow.DECIMAL128, arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64,
		arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME32, arrow.TIME64:
		return true
	}
	return IsInteger(dt)
}

// IsIntKeyed reports whether int64Getter reads columns of type dt.
func IsIntKeyed(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.DATE32, arrow.DATE64, arrow.TIMESTAMP, arrow.DURATION, arrow.TIME32, arrow.TIME64:
		return true
	}
	return IsInteger(dt)
}

// AppendKey appends row i of col to a byte encoding of a composite key: a null flag, then
// the value (8 bytes for numbers, length-prefixed bytes for strings).
func AppendKey(dst []byte, col arrow.Array, i int) []byte {
	if col.IsNull(i) {
		return append(dst, 0)
	}
	dst = append(dst, 1)
	switch a := col.(type) {
	case *array.String:
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(a.Value(i))))
		return append(dst, a.Value(i)...)
	case *array.LargeString:
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(a.Value(i))))
		return append(dst, a.Value(i)...)
	case *array.Binary:
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(a.Value(i))))
		return append(dst, a.Value(i)...)
	case *array.Boolean:
		if a.Value(i) {
			return append(dst, 1)
		}
		return append(dst, 0)
	case *array.Float32:
		return binary.LittleEndian.AppendUint64(dst, floatBits(float64(a.Value(i))))
	case *array.Float64:
		return binary.LittleEndian.AppendUint64(dst, floatBits(a.Value(i)))
	case *array.Null:
		return dst
	case *array.LargeBinary:
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(a.Value(i))))
		return append(dst, a.Value(i)...)
	case *array.FixedSizeBinary:
		return append(dst, a.Value(i)...)
	case *array.Decimal128:
		v := a.Value(i)
		dst = binary.LittleEndian.AppendUint64(dst, v.LowBits())
		return binary.LittleEndian.AppendUint64(dst, uint64(v.HighBits()))
	case *array.Float16:
		return binary.LittleEndian.AppendUint64(dst, floatBits(float64(a.Value(i).Float32())))
	}
	return binary.LittleEndian.AppendUint64(dst, uint64(Int64Getter(col)(i)))
}
