package state

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/riverbed-engine/riverbed/internal/rberr"
)

// encodable reports whether values of type t have a state encoding.
func encodable(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BOOL, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64,
		arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.TIMESTAMP, arrow.DATE32, arrow.DATE64, arrow.DURATION, arrow.TIME32, arrow.TIME64,
		arrow.DECIMAL128, arrow.FLOAT16, arrow.FIXED_SIZE_BINARY:
		return true
	}
	return false
}

// EncodeValue appends the state encoding of arr[i] to dst: little-endian fixed width for
// booleans (1 byte), integers, floats (float16 as its 16 bits), temporal types and 128-bit
// decimals (low, then high 64 bits); the raw bytes for strings and binaries (fixed-size
// ones included). Nulls are not encodable (operators
// keep nullness in their own values).
func EncodeValue(dst []byte, arr arrow.Array, i int) ([]byte, error) {
	if arr.IsNull(i) {
		return dst, rberr.New(rberr.InvalidArgument, "state encoding: null %s value at row %d", arr.DataType(), i)
	}
	switch a := arr.(type) {
	case *array.Boolean:
		if a.Value(i) {
			return append(dst, 1), nil
		}
		return append(dst, 0), nil
	case *array.Int8:
		return append(dst, byte(a.Value(i))), nil
	case *array.Uint8:
		return append(dst, a.Value(i)), nil
	case *array.Int16:
		return binary.LittleEndian.AppendUint16(dst, uint16(a.Value(i))), nil
	case *array.Uint16:
		return binary.LittleEndian.AppendUint16(dst, a.Value(i)), nil
	case *array.Int32:
		return binary.LittleEndian.AppendUint32(dst, uint32(a.Value(i))), nil
	case *array.Uint32:
		return binary.LittleEndian.AppendUint32(dst, a.Value(i)), nil
	case *array.Date32:
		return binary.LittleEndian.AppendUint32(dst, uint32(a.Value(i))), nil
	case *array.Time32:
		return binary.LittleEndian.AppendUint32(dst, uint32(a.Value(i))), nil
	case *array.Int64:
		return binary.LittleEndian.AppendUint64(dst, uint64(a.Value(i))), nil
	case *array.Uint64:
		return binary.LittleEndian.AppendUint64(dst, a.Value(i)), nil
	case *array.Timestamp:
		return binary.LittleEndian.AppendUint64(dst, uint64(a.Value(i))), nil
	case *array.Date64:
		return binary.LittleEndian.AppendUint64(dst, uint64(a.Value(i))), nil
	case *array.Time64:
		return binary.LittleEndian.AppendUint64(dst, uint64(a.Value(i))), nil
	case *array.Duration:
		return binary.LittleEndian.AppendUint64(dst, uint64(a.Value(i))), nil
	case *array.Float16:
		return binary.LittleEndian.AppendUint16(dst, a.Value(i).Uint16()), nil
	case *array.Float32:
		return binary.LittleEndian.AppendUint32(dst, math.Float32bits(a.Value(i))), nil
	case *array.Float64:
		return binary.LittleEndian.AppendUint64(dst, math.Float64bits(a.Value(i))), nil
	case *array.Decimal128:
		v := a.Value(i)
		dst = binary.LittleEndian.AppendUint64(dst, v.LowBits())
		return binary.LittleEndian.AppendUint64(dst, uint64(v.HighBits())), nil
	case *array.String:
		return append(dst, a.Value(i)...), nil
	case *array.LargeString:
		return append(dst, a.Value(i)...), nil
	case *array.Binary:
		return append(dst, a.Value(i)...), nil
	case *array.LargeBinary:
		return append(dst, a.Value(i)...), nil
	case *array.FixedSizeBinary:
		return append(dst, a.Value(i)...), nil
	}
	return dst, rberr.New(rberr.InvalidArgument, "state encoding: unsupported Arrow type %s", arr.DataType())
}

// EncodeColumn encodes every row of arr (one key or value per row), for the batch calls
// of a Backend. The returned slices share one buffer.
func EncodeColumn(arr arrow.Array) ([][]byte, error) {
	n := arr.Len()
	offs := make([]int, n+1)
	var buf []byte
	var err error
	for i := 0; i < n; i++ {
		if buf, err = EncodeValue(buf, arr, i); err != nil {
			return nil, err
		}
		offs[i+1] = len(buf)
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = buf[offs[i]:offs[i+1]:offs[i+1]]
	}
	return out, nil
}

// fixedWidth is the encoded size of fixed-width types.
var fixedWidth = map[arrow.Type]int{arrow.BOOL: 1, arrow.INT8: 1, arrow.UINT8: 1, arrow.INT16: 2, arrow.UINT16: 2,
	arrow.INT32: 4, arrow.UINT32: 4, arrow.DATE32: 4, arrow.TIME32: 4, arrow.FLOAT32: 4, arrow.FLOAT16: 2,
	arrow.INT64: 8, arrow.UINT64: 8, arrow.TIMESTAMP: 8, arrow.DATE64: 8, arrow.TIME64: 8, arrow.DURATION: 8, arrow.FLOAT64: 8,
	arrow.DECIMAL128: 16}

// appendDecoded appends the value encoded in data to b, whose type is the encoding's.
func appendDecoded(b array.Builder, data []byte) error {
	t := b.Type()
	w, fixed := fixedWidth[t.ID()]
	if fsb, ok := t.(*arrow.FixedSizeBinaryType); ok {
		w, fixed = fsb.ByteWidth, true
	}
	if fixed && len(data) != w {
		return fmt.Errorf("a %s value must be %d bytes, got %d", t, w, len(data))
	}
	switch b := b.(type) {
	case *array.BooleanBuilder:
		b.Append(data[0] != 0)
	case *array.Int8Builder:
		b.Append(int8(data[0]))
	case *array.Uint8Builder:
		b.Append(data[0])
	case *array.Int16Builder:
		b.Append(int16(binary.LittleEndian.Uint16(data)))
	case *array.Uint16Builder:
		b.Append(binary.LittleEndian.Uint16(data))
	case *array.Int32Builder:
		b.Append(int32(binary.LittleEndian.Uint32(data)))
	case *array.Uint32Builder:
		b.Append(binary.LittleEndian.Uint32(data))
	case *array.Date32Builder:
		b.Append(arrow.Date32(binary.LittleEndian.Uint32(data)))
	case *array.Time32Builder:
		b.Append(arrow.Time32(binary.LittleEndian.Uint32(data)))
	case *array.Int64Builder:
		b.Append(int64(binary.LittleEndian.Uint64(data)))
	case *array.Uint64Builder:
		b.Append(binary.LittleEndian.Uint64(data))
	case *array.TimestampBuilder:
		b.Append(arrow.Timestamp(binary.LittleEndian.Uint64(data)))
	case *array.Date64Builder:
		b.Append(arrow.Date64(binary.LittleEndian.Uint64(data)))
	case *array.Time64Builder:
		b.Append(arrow.Time64(binary.LittleEndian.Uint64(data)))
	case *array.DurationBuilder:
		b.Append(arrow.Duration(binary.LittleEndian.Uint64(data)))
	case *array.Float16Builder:
		b.Append(float16.FromBits(binary.LittleEndian.Uint16(data)))
	case *array.Float32Builder:
		b.Append(math.Float32frombits(binary.LittleEndian.Uint32(data)))
	case *array.Float64Builder:
		b.Append(math.Float64frombits(binary.LittleEndian.Uint64(data)))
	case *array.Decimal128Builder:
		b.Append(decimal128.New(int64(binary.LittleEndian.Uint64(data[8:])), binary.LittleEndian.Uint64(data)))
	case *array.StringBuilder:
		b.Append(string(data))
	case *array.LargeStringBuilder:
		b.Append(string(data))
	case *array.BinaryBuilder: // also LargeBinary
		b.Append(data)
	case *array.FixedSizeBinaryBuilder:
		b.Append(data)
	default:
		return fmt.Errorf("unsupported Arrow type %s", t)
	}
	return nil
}

// Encodable reports whether values of type t have a state encoding (EncodeValue,
// EncodeRow).
func Encodable(t arrow.DataType) bool { return encodable(t) }

// EncodeRow appends row i of cols to dst, nulls included: for each column a byte (0 for
// null, 1 for a value), then for a value its length (uvarint) and its EncodeValue bytes.
// Equal rows of the same types have equal encodings, so an encoding serves as a key.
func EncodeRow(dst []byte, cols []arrow.Array, i int) ([]byte, error) {
	for _, c := range cols {
		if c.IsNull(i) {
			dst = append(dst, 0)
			continue
		}
		dst = append(dst, 1)
		at := len(dst)
		dst = append(dst, 0) // one length byte: most values are shorter than 128 bytes
		var err error
		if dst, err = EncodeValue(dst, c, i); err != nil {
			return dst, err
		}
		if n := len(dst) - at - 1; n >= 0x80 {
			var lb [binary.MaxVarintLen64]byte
			w := binary.PutUvarint(lb[:], uint64(n))
			dst = append(dst, lb[1:w]...) // room for the longer length
			copy(dst[at+w:], dst[at+1:at+1+n])
			copy(dst[at:], lb[:w])
		} else {
			dst[at] = byte(n)
		}
	}
	return dst, nil
}

// DecodeRow appends the row encoded (by EncodeRow) at the start of data to bs, one
// builder per column of the encoding's types, and returns the number of bytes it read.
// A truncated or malformed encoding is an error of kind Data.
func DecodeRow(data []byte, bs []array.Builder) (int, error) {
	at := 0
	for _, b := range bs {
		if at >= len(data) {
			return at, rberr.New(rberr.Data, "state encoding: row ends before its %s column", b.Type())
		}
		flag := data[at]
		at++
		if flag == 0 {
			b.AppendNull()
			continue
		}
		n, w := binary.Uvarint(data[at:])
		if flag != 1 || w <= 0 || uint64(len(data)-at-w) < n {
			return at, rberr.New(rberr.Data, "state encoding: malformed %s value", b.Type())
		}
		at += w
		if err := appendDecoded(b, data[at:at+int(n)]); err != nil {
			return at, rberr.Wrap(rberr.Data, err, "state encoding")
		}
		at += int(n)
	}
	return at, nil
}
