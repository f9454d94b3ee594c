package expr

import (
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
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
