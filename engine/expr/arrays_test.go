package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// AsInt64 reads every 64-bit temporal type, sliced at an offset, as the integers its
// getter gives row by row.
func TestAsInt64OfTemporalSlices(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	ib := array.NewInt64Builder(mem)
	for i := 0; i < 100; i++ {
		if i%7 == 0 {
			ib.AppendNull()
		} else {
			ib.Append(int64(i*1000 - 30000))
		}
	}
	ints := ib.NewArray()
	ib.Release()
	defer ints.Release()
	for _, ty := range []arrow.DataType{
		&arrow.TimestampType{Unit: arrow.Microsecond}, arrow.FixedWidthTypes.Date64,
		arrow.FixedWidthTypes.Time64us, arrow.FixedWidthTypes.Duration_ns,
	} {
		data := array.NewData(ty, ints.Len(), ints.Data().Buffers(), nil, ints.NullN(), 0)
		full := array.MakeFromData(data)
		data.Release()
		for _, off := range []int64{0, 13} {
			sl := array.NewSlice(full, off, off+50)
			got, err := AsInt64(sl)
			if err != nil {
				t.Fatal(err)
			}
			get := Int64Getter(sl)
			if len(got) != sl.Len() {
				t.Fatalf("%s at %d: %d values for %d rows", ty, off, len(got), sl.Len())
			}
			for i := range got {
				if sl.IsValid(i) && got[i] != get(i) {
					t.Fatalf("%s at %d: row %d is %d, want %d", ty, off, i, got[i], get(i))
				}
			}
			sl.Release()
		}
		full.Release()
	}
}
