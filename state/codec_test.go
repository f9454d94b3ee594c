package state

import (
	"bytes"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/float16"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// rowColumns is one column of each kind EncodeRow sees in practice: integers, floats,
// strings (one longer than a one-byte length), binaries, timestamps, booleans, decimals,
// float16s, fixed-size binaries, nulls.
func rowColumns(mem memory.Allocator) []arrow.Array {
	ib := array.NewInt64Builder(mem)
	ib.AppendValues([]int64{-1, 0, 1 << 60}, []bool{true, false, true})
	fb := array.NewFloat64Builder(mem)
	fb.AppendValues([]float64{2.5, -0.0, 1e300}, nil)
	sb := array.NewStringBuilder(mem)
	sb.AppendValues([]string{"", strings.Repeat("long", 100), "x"}, []bool{true, true, false})
	bb := array.NewBinaryBuilder(mem, arrow.BinaryTypes.Binary)
	bb.AppendValues([][]byte{{0, 1}, nil, bytes.Repeat([]byte{7}, 20000)}, []bool{true, false, true})
	tb := array.NewTimestampBuilder(mem, &arrow.TimestampType{Unit: arrow.Microsecond})
	tb.AppendValues([]arrow.Timestamp{5, 6, 7}, nil)
	ob := array.NewBooleanBuilder(mem)
	ob.AppendValues([]bool{true, false, true}, []bool{true, true, false})
	db := array.NewDecimal128Builder(mem, &arrow.Decimal128Type{Precision: 38, Scale: 2})
	db.AppendValues([]decimal128.Num{decimal128.FromI64(-12345), decimal128.New(1<<40, 7), decimal128.FromI64(0)}, []bool{true, true, false})
	hb := array.NewFloat16Builder(mem)
	hb.AppendValues([]float16.Num{float16.New(-1.5), float16.New(65504), float16.New(0)}, []bool{true, true, false})
	xb := array.NewFixedSizeBinaryBuilder(mem, &arrow.FixedSizeBinaryType{ByteWidth: 3})
	xb.AppendValues([][]byte{{0, 0, 0}, {1, 2, 3}, nil}, []bool{true, true, false})
	var cols []arrow.Array
	for _, b := range []array.Builder{ib, fb, sb, bb, tb, ob, db, hb, xb} {
		cols = append(cols, b.NewArray())
		b.Release()
	}
	return cols
}

// Rows encoded one after another decode back to the same columns, nulls and lengths
// over one byte included; equal rows encode equally and different ones differently.
func TestEncodeRowRoundTrip(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	cols := rowColumns(mem)
	defer func() {
		for _, c := range cols {
			c.Release()
		}
	}()
	var enc []byte
	var rows [][]byte
	for i := 0; i < cols[0].Len(); i++ {
		at := len(enc)
		var err error
		if enc, err = EncodeRow(enc, cols, i); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, enc[at:])
	}
	if bytes.Equal(rows[0], rows[1]) || bytes.Equal(rows[1], rows[2]) {
		t.Fatal("different rows encode equally")
	}
	again, _ := EncodeRow(nil, cols, 1)
	if !bytes.Equal(again, rows[1]) {
		t.Fatal("a row encodes differently twice")
	}
	bs := make([]array.Builder, len(cols))
	for i, c := range cols {
		bs[i] = array.NewBuilder(mem, c.DataType())
	}
	for at := 0; at < len(enc); {
		n, err := DecodeRow(enc[at:], bs)
		if err != nil {
			t.Fatal(err)
		}
		at += n
	}
	for i, b := range bs {
		got := b.NewArray()
		b.Release()
		if !array.Equal(got, cols[i]) {
			t.Errorf("column %d: decoded %v, want %v", i, got, cols[i])
		}
		got.Release()
	}
}

// A truncated or damaged row is an error, never a panic or a short row taken as whole.
func TestDecodeRowRefusesDamage(t *testing.T) {
	mem := memory.NewGoAllocator()
	cols := rowColumns(mem)
	enc, err := EncodeRow(nil, cols, 0)
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(enc); cut++ {
		bs := make([]array.Builder, len(cols))
		for i, c := range cols {
			bs[i] = array.NewBuilder(mem, c.DataType())
		}
		if _, err := DecodeRow(enc[:cut], bs); err == nil {
			t.Fatalf("a row cut at byte %d of %d decoded", cut, len(enc))
		}
	}
	bad := append([]byte{}, enc...)
	bad[0] = 2 // neither null nor value
	bs := make([]array.Builder, len(cols))
	for i, c := range cols {
		bs[i] = array.NewBuilder(mem, c.DataType())
	}
	if _, err := DecodeRow(bad, bs); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("a bad null flag: %v", err)
	}
}

// Decoding any bytes as a row of every kind of column errs or succeeds, never panics.
func FuzzDecodeRow(f *testing.F) {
	mem := memory.NewGoAllocator()
	cols := rowColumns(mem)
	for i := 0; i < cols[0].Len(); i++ {
		enc, _ := EncodeRow(nil, cols, i)
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		bs := make([]array.Builder, len(cols))
		for i, c := range cols {
			bs[i] = array.NewBuilder(mem, c.DataType())
		}
		n, err := DecodeRow(data, bs)
		if err == nil && (n > len(data) || bs[0].Len() != 1) {
			t.Fatalf("read %d of %d bytes, %d rows", n, len(data), bs[0].Len())
		}
		for _, b := range bs {
			b.Release()
		}
	})
}
