package expr

import (
	"encoding/binary"
	"math/big"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/bitutil"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// Typed views and builders of Arrow arrays that the kernels and operators share.

func AsInt64(col arrow.Array) ([]int64, error) {
	if a, ok := col.(*array.Int64); ok {
		return a.Int64Values(), nil
	}
	switch col.DataType().ID() {
	case arrow.TIMESTAMP, arrow.DATE64, arrow.TIME64, arrow.DURATION:
		// 64-bit integers underneath: the values themselves, as Int64Values gives them.
		d := col.Data()
		if bufs := d.Buffers(); len(bufs) > 1 && bufs[1] != nil {
			return arrow.Int64Traits.CastFromBytes(bufs[1].Bytes())[d.Offset() : d.Offset()+d.Len()], nil
		}
	}
	if get := Int64Getter(col); get != nil {
		out := make([]int64, col.Len())
		for i := range out {
			out[i] = get(i)
		}
		return out, nil
	}
	if b, ok := col.(*array.Boolean); ok {
		out := make([]int64, col.Len())
		for i := range out {
			if b.Value(i) {
				out[i] = 1
			}
		}
		return out, nil
	}
	return nil, rberr.New(rberr.Internal, "cannot read %s as integers", col.DataType())
}

func AsFloat64(col arrow.Array) ([]float64, error) {
	switch a := col.(type) {
	case *array.Float64:
		return a.Float64Values(), nil
	case *array.Float32:
		out := make([]float64, a.Len())
		for i, v := range a.Float32Values() {
			out[i] = float64(v)
		}
		return out, nil
	case *array.Uint64:
		out := make([]float64, a.Len())
		for i, v := range a.Uint64Values() {
			out[i] = float64(v)
		}
		return out, nil
	}
	ints, err := AsInt64(col)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(ints))
	for i, v := range ints {
		out[i] = float64(v)
	}
	return out, nil
}

// Int64Array builds an array of type dt (any integer-backed type) from int64 values;
// valid == nil means all valid.
func Int64Array(mem memory.Allocator, dt arrow.DataType, vals []int64, valid []bool) arrow.Array {
	n := len(vals)
	width := dt.(arrow.FixedWidthDataType).BitWidth() / 8
	data := memory.NewResizableBuffer(mem)
	data.Resize(n * width)
	b := data.Bytes()
	switch width {
	case 8:
		copy(b, unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), n*8))
	case 4:
		for i, v := range vals {
			binary.LittleEndian.PutUint32(b[i*4:], uint32(v))
		}
	case 2:
		for i, v := range vals {
			binary.LittleEndian.PutUint16(b[i*2:], uint16(v))
		}
	case 1:
		for i, v := range vals {
			b[i] = byte(v)
		}
	}
	return fixedArray(mem, dt, n, data, valid)
}

func Float64Array(mem memory.Allocator, vals []float64, valid []bool) arrow.Array {
	n := len(vals)
	data := memory.NewResizableBuffer(mem)
	data.Resize(n * 8)
	copy(data.Bytes(), unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(vals))), n*8))
	return fixedArray(mem, arrow.PrimitiveTypes.Float64, n, data, valid)
}

func fixedArray(mem memory.Allocator, dt arrow.DataType, n int, data *memory.Buffer, valid []bool) arrow.Array {
	var bitmap *memory.Buffer
	nulls := 0
	if valid != nil {
		bitmap = memory.NewResizableBuffer(mem)
		bitmap.Resize(int(bitutil.BytesForBits(int64(n))))
		bm := bitmap.Bytes()
		for i := range bm {
			bm[i] = 0
		}
		for i, v := range valid[:n] {
			if v {
				bitutil.SetBit(bm, i)
			} else {
				nulls++
			}
		}
	}
	d := array.NewData(dt, n, []*memory.Buffer{bitmap, data}, nil, nulls, 0)
	data.Release()
	if bitmap != nil {
		bitmap.Release()
	}
	defer d.Release()
	return array.MakeFromData(d)
}

// DecKey encodes a decimal128 as 16 bytes whose byte order is the numeric order.
func DecKey(v decimal128.Num) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(v.HighBits())^(1<<63))
	binary.BigEndian.PutUint64(b[8:], v.LowBits())
	return string(b[:])
}

func DecFromKey(s string) decimal128.Num {
	hi := binary.BigEndian.Uint64([]byte(s[:8])) ^ (1 << 63)
	return decimal128.New(int64(hi), binary.BigEndian.Uint64([]byte(s[8:])))
}

// DecMeanFloat is sum / count as float64, computed from the exact sum.
func DecMeanFloat(sum decimal128.Num, scale int32, count int64) float64 {
	f := new(big.Float).SetPrec(128).SetInt(sum.BigInt())
	f.Quo(f, new(big.Float).SetPrec(128).SetInt(pow10Big(scale)))
	f.Quo(f, new(big.Float).SetPrec(128).SetInt64(count))
	r, _ := f.Float64()
	return r
}

// DecodeDictionary turns a dictionary-encoded expression into one of its value type:
// keys, aggregations and kernels work on the values.
func DecodeDictionary(c Expr) Expr {
	if d, ok := c.Type().(*arrow.DictionaryType); ok {
		return &CastExpr{Arg: c, To: d.ValueType}
	}
	return c
}

func Grow[T any](s []T, n int) []T {
	if len(s) >= n {
		return s
	}
	if cap(s) >= n {
		return s[:n]
	}
	c := 2 * cap(s)
	if c < n {
		c = n
	}
	out := make([]T, n, c)
	copy(out, s)
	return out
}
