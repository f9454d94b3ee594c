package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

func TestCompareCellsOrdersNullsLast(t *testing.T) {
	mem := memory.NewGoAllocator()
	b := array.NewStringBuilder(mem)
	b.AppendValues([]string{"b", "a"}, nil)
	b.AppendNull()
	s := b.NewArray()
	defer s.Release()
	if compareCells(s, 1, s, 0) >= 0 || compareCells(s, 0, s, 2) >= 0 || compareCells(s, 2, s, 0) <= 0 ||
		compareCells(s, 2, s, 2) != 0 {
		t.Fatal("strings: want a < b < null")
	}
	fb := array.NewFloat64Builder(mem)
	fb.AppendValues([]float64{2.5, -1}, nil)
	f := fb.NewArray()
	defer f.Release()
	if compareCells(f, 1, f, 0) >= 0 {
		t.Fatal("floats: want -1 < 2.5")
	}
}

// Decimals compare by value, not by their text ("-1.00" < "-5.00" < "10.00" < "2.00"
// ordered the windows of OVER (ORDER BY d)).
func TestCompareCellsOrdersDecimalsByValue(t *testing.T) {
	b := array.NewDecimal128Builder(memory.NewGoAllocator(), &arrow.Decimal128Type{Precision: 10, Scale: 2})
	vals := []int64{200, 1000, -500, -100} // 2.00, 10.00, -5.00, -1.00
	for _, v := range vals {
		b.Append(decimal128.FromI64(v))
	}
	d := b.NewArray()
	defer d.Release()
	for i := range vals {
		for j := range vals {
			want := 0
			if vals[i] < vals[j] {
				want = -1
			} else if vals[i] > vals[j] {
				want = 1
			}
			if got := compareCells(d, i, d, j); got != want {
				t.Fatalf("%d vs %d: %d, want %d", vals[i], vals[j], got, want)
			}
		}
	}
}
