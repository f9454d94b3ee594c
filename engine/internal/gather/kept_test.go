package gather

import (
	"math/rand"
	"slices"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Kept reads a filter's mask 64 bits at a time: against a row-by-row reading, for
// masks with and without nulls, of lengths around the word size, whole and sliced at
// offsets in and out of step with the words.
func TestKeptAgainstRowByRow(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	r := rand.New(rand.NewSource(1))
	for _, n := range []int{0, 1, 63, 64, 65, 200, 1000} {
		for _, nulls := range []bool{false, true} {
			b := array.NewBooleanBuilder(mem)
			for range n + 130 {
				if nulls && r.Intn(5) == 0 {
					b.AppendNull()
				} else {
					b.Append(r.Intn(3) > 0)
				}
			}
			whole := b.NewArray().(*array.Boolean)
			b.Release()
			for _, off := range []int{0, 3, 64, 128} {
				mask := array.NewSlice(whole, int64(off), int64(off+n)).(*array.Boolean)
				var want []int32
				for i := range n {
					if mask.IsValid(i) && mask.Value(i) {
						want = append(want, int32(i))
					}
				}
				if got := Kept(mask, nil); !slices.Equal(got, want) {
					t.Fatalf("n=%d nulls=%v offset %d: got %v, want %v", n, nulls, off, got, want)
				}
				mask.Release()
			}
			whole.Release()
		}
	}
}

// An all-null mask may come without a values buffer (a null literal's broadcast): no row
// is kept, and nothing reads the missing buffer.
func TestKeptOfAnAllNullMaskWithoutValues(t *testing.T) {
	valid := memory.NewResizableBuffer(memory.DefaultAllocator)
	valid.Resize(2)
	defer valid.Release()
	d := array.NewData(arrow.FixedWidthTypes.Boolean, 10, []*memory.Buffer{valid, nil}, nil, 10, 0)
	defer d.Release()
	mask := array.NewBooleanData(d)
	defer mask.Release()
	if got := Kept(mask, nil); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}
